#
# Cookbook:: mysql
# Recipe:: replica_of
#
# Replicates from `mysql.replication.master`, once: `CHANGE MASTER TO` runs only when this
# server is not already replicating from that master, which the server itself tells.

master = node['mysql']['replication']['master']
return if master.nil? || master.empty?

secrets = data_bag_item(node['mysql']['secrets_data_bag'], node['mysql']['secrets_item'])
repl = node['mysql']['replication']['user']

execute "replicate from #{master}" do
  command "mysql -uroot -e \"STOP SLAVE; CHANGE MASTER TO MASTER_HOST = '#{master}', " \
          "MASTER_PORT = #{node['mysql']['port']}, MASTER_USER = '#{repl}', " \
          "MASTER_PASSWORD = '#{secrets['replication_password']}', " \
          "MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos; START SLAVE\""
  sensitive true
  not_if "mysql -uroot -e 'SHOW SLAVE STATUS\\G' | grep -qx ' *Master_Host: #{master}'"
end
