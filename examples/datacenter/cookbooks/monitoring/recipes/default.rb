#
# Cookbook:: monitoring
# Recipe:: default
#
# The node exporter, listening where the monitoring server scrapes it.

package 'prometheus-node-exporter'

flags = ["--web.listen-address=#{node['monitoring']['listen_address']}:#{node['monitoring']['port']}"]
flags += node['monitoring']['disabled_collectors'].map { |name| "--no-collector.#{name}" }

# Debian's init script makes its pid directory on `start` but not on `restart`, and /run is
# empty after a boot.
directory '/run/prometheus' do
  owner 'prometheus'
  group 'prometheus'
  mode '0755'
end

# The restart is immediate: the init script's start returns before the exporter runs, so a
# restart queued at the end of the run that first started it could miss that process.
template '/etc/default/prometheus-node-exporter' do
  source 'defaults.erb'
  mode '0644'
  variables(args: flags.join(' '))
  notifies :restart, 'service[prometheus-node-exporter]', :immediately
end

service 'prometheus-node-exporter' do
  supports status: true, restart: true
  action [:enable, :start]
end
