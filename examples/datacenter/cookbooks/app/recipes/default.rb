#
# Cookbook:: app
# Recipe:: default
#
# The application: static pages served by lighttpd on `app.port`. Each page names the host
# that served it, so a request through the balancer shows which one answered.

package 'lighttpd'

root = node['app']['document_root']

directory root do
  owner 'root'
  group 'root'
  mode '0755'
end

template "#{root}/index.html" do
  source 'index.html.erb'
  mode '0644'
  variables(title: node['app']['title'], host: node['hostname'], environment: node.chef_environment)
end

template '/etc/lighttpd/lighttpd.conf' do
  source 'lighttpd.conf.erb'
  mode '0644'
  variables(port: node['app']['port'], root: root)
  verify 'lighttpd -tt -f %{path}'
  notifies :restart, 'service[lighttpd]', :immediately
end

service 'lighttpd' do
  supports status: true, restart: true
  action [:enable, :start]
end
