name 'db_master'
description 'A MariaDB master; two of them replicating from each other make a master-master pair'
run_list 'role[base]', 'recipe[mysql::master]'
default_attributes(
  'mysql' => {
    'auto_increment_increment' => 2,
    'log_slave_updates' => true
  }
)
