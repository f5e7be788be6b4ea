name 'app'
description 'An application host'
run_list 'role[base]', 'recipe[app]'
