default['hello']['greeting'] = 'Hello'
default['hello']['port'] = 80
default['hello']['workers'] = 1
default['hello']['upstreams'] = %w(127.0.0.1)
default['hello']['banner'] = "#{node['hello']['greeting']} on #{node['hostname']}"
