# The server.
default['mysql']['bind_address'] = '0.0.0.0'
default['mysql']['port'] = 3306
default['mysql']['server_id'] = 1
default['mysql']['innodb_buffer_pool_size'] = '128M'
default['mysql']['max_connections'] = 151

# Replication. Masters that write at the same time use the same increment and different
# offsets, so their AUTO_INCREMENT keys never collide.
default['mysql']['auto_increment_increment'] = 1
default['mysql']['auto_increment_offset'] = 1
default['mysql']['log_bin'] = 'mysql-bin'
default['mysql']['log_slave_updates'] = true
default['mysql']['read_only'] = false
# The host this server replicates from (nil: none).
default['mysql']['replication']['master'] = nil
default['mysql']['replication']['user'] = 'repl'
# Where the replication and application passwords live.
default['mysql']['secrets_data_bag'] = 'secrets'
default['mysql']['secrets_item'] = 'mysql'

# The application's schema, created on every server (not replicated, so each server can be
# built alone), and its user.
default['mysql']['database'] = 'app'
default['mysql']['app_user'] = 'app'
