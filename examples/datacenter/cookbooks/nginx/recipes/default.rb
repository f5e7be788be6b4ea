#
# Cookbook:: nginx
# Recipe:: default
#
# A load balancer: nginx proxying to the application servers. The whole configuration is one
# template, checked with `nginx -t` before it replaces the running one.

package 'nginx'

backends = node['nginx']['backends'].to_a
if backends.empty?
  role = node['nginx']['backend_role']
  port = node['nginx']['backend_port']
  backends = search(:node, "role:#{role} AND chef_environment:#{node.chef_environment}")
             .map { |peer| "#{peer['ipaddress']}:#{port}" }
             .sort
end

# Debian's default site would answer on port 80 beside the balancer.
link '/etc/nginx/sites-enabled/default' do
  action :delete
  notifies :reload, 'service[nginx]', :immediately
end

template '/etc/nginx/nginx.conf' do
  source 'nginx.conf.erb'
  mode '0644'
  variables(
    backends: backends,
    listen: node['nginx']['listen'],
    worker_processes: node['nginx']['worker_processes'],
    worker_connections: node['nginx']['worker_connections']
  )
  verify 'nginx -t -q -c %{path}'
  notifies :reload, 'service[nginx]', :immediately
end

service 'nginx' do
  supports status: true, restart: true, reload: true
  action [:enable, :start]
end
