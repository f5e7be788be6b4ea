name 'production'
description 'The production site'
cookbook_versions 'base' => '~> 1.0', 'mysql' => '~> 1.0'
default_attributes(
  'mysql' => { 'innodb_buffer_pool_size' => '1G', 'max_connections' => 500 },
  'nginx' => { 'worker_connections' => 4096 },
  'app' => { 'title' => 'The site' }
)
override_attributes(
  'base' => { 'limits' => { 'nofile' => 1_048_576 } }
)
