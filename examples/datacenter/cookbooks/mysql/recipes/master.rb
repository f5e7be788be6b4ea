#
# Cookbook:: mysql
# Recipe:: master
#
# A server others replicate from, replicating itself from `mysql.replication.master` when
# set (two masters pointing at each other make a master-master pair).

include_recipe 'mysql::server'
include_recipe 'mysql::replication_user'
include_recipe 'mysql::replica_of'
