#
# Cookbook:: mysql
# Recipe:: server
#
# MariaDB with the configuration from attributes, running, with the application schema.

package %w(mariadb-server mariadb-client)

template '/etc/mysql/mariadb.conf.d/60-site.cnf' do
  source 'site.cnf.erb'
  mode '0644'
  variables(mysql: node['mysql'])
  notifies :restart, 'service[mariadb]', :immediately
end

service 'mariadb' do
  supports status: true, restart: true, reload: true
  action [:enable, :start]
end

secrets = data_bag_item(node['mysql']['secrets_data_bag'], node['mysql']['secrets_item'])
db = node['mysql']['database']
app = node['mysql']['app_user']

# Statements a server runs for itself only: with sql_log_bin off they stay out of the binary
# log, so peers that replicate from this server never replay them.
local_sql = 'mysql -uroot -e "SET SESSION sql_log_bin = 0; '

execute 'create application schema' do
  command local_sql +
          "CREATE DATABASE IF NOT EXISTS #{db}; " \
          "CREATE TABLE IF NOT EXISTS #{db}.events (id INT AUTO_INCREMENT PRIMARY KEY, " \
          'origin VARCHAR(64) NOT NULL, created TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"'
  not_if "mysql -uroot -NBe 'SHOW TABLES FROM #{db}' 2>/dev/null | grep -qx events"
end

execute 'create application user' do
  command local_sql +
          "CREATE USER IF NOT EXISTS '#{app}'@'%' IDENTIFIED BY '#{secrets['app_password']}'; " \
          "GRANT SELECT, INSERT, UPDATE, DELETE ON #{db}.* TO '#{app}'@'%'\""
  sensitive true
  not_if "mysql -uroot -NBe \"SELECT 1 FROM mysql.user WHERE user = '#{app}'\" | grep -q 1"
end
