#
# Cookbook:: rinetd
# Recipe:: default
#
# Port forwarding: at cut-over, the old site's hosts send every connection to the new site.

package 'rinetd'

template '/etc/rinetd.conf' do
  source 'rinetd.conf.erb'
  mode '0644'
  variables(forwards: node['rinetd']['forwards'], allow: node['rinetd']['allow'])
  notifies :restart, 'service[rinetd]', :immediately
end

service 'rinetd' do
  supports status: true, restart: true, reload: true
  action [:enable, :start]
end
