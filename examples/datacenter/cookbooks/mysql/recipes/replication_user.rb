#
# Cookbook:: mysql
# Recipe:: replication_user
#
# The account replicas connect with, created on this server only.

secrets = data_bag_item(node['mysql']['secrets_data_bag'], node['mysql']['secrets_item'])
repl = node['mysql']['replication']['user']

execute 'create replication user' do
  command "mysql -uroot -e \"SET SESSION sql_log_bin = 0; " \
          "CREATE USER IF NOT EXISTS '#{repl}'@'%' IDENTIFIED BY '#{secrets['replication_password']}'; " \
          "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '#{repl}'@'%'\""
  sensitive true
  not_if "mysql -uroot -NBe \"SELECT 1 FROM mysql.user WHERE user = '#{repl}'\" | grep -q 1"
end
