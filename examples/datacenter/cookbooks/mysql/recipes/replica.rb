#
# Cookbook:: mysql
# Recipe:: replica
#
# A read-only copy of `mysql.replication.master`.

node.default['mysql']['read_only'] = true
node.default['mysql']['log_slave_updates'] = false

include_recipe 'mysql::server'
include_recipe 'mysql::replica_of'
