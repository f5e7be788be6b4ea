name 'staging'
description 'The staging site: small servers'
cookbook_versions 'base' => '~> 1.0', 'mysql' => '~> 1.0'
default_attributes(
  'mysql' => { 'innodb_buffer_pool_size' => '128M', 'max_connections' => 100 },
  'nginx' => { 'worker_connections' => 512 },
  'app' => { 'title' => 'Staging' }
)
