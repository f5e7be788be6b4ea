name 'forwarder'
description 'Forwards the old site to the new one at cut-over'
run_list 'role[base]', 'recipe[rinetd]'
