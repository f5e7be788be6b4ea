name 'db_replica'
description 'A read-only MariaDB replica'
run_list 'role[base]', 'recipe[mysql::replica]'
