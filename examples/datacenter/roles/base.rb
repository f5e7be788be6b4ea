name 'base'
description 'Every host: packages, the ops users, kernel settings, monitoring'
run_list 'recipe[base]', 'role[monitoring]'
