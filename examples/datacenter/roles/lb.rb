name 'lb'
description 'The nginx load balancer in front of the application hosts'
run_list 'role[base]', 'recipe[nginx]'
