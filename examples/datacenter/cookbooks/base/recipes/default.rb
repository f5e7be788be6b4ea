#
# Cookbook:: base
# Recipe:: default
#
# What every host gets, whatever its role.

package node['base']['packages']

ops = node['base']['ops_group']
bag = node['base']['users_data_bag']
people = data_bag(bag).map { |id| data_bag_item(bag, id) }

people.each do |person|
  login = person['id']
  home = "/home/#{login}"

  user login do
    uid person['uid'] if person['uid']
    comment person['comment']
    shell person.fetch('shell', '/bin/bash')
    home home
    manage_home true
  end

  directory "#{home}/.ssh" do
    owner login
    group login
    mode '0700'
  end

  file "#{home}/.ssh/authorized_keys" do
    content person.fetch('ssh_keys', []).map { |key| "#{key}\n" }.join
    owner login
    group login
    mode '0600'
  end
end

group ops do
  members people.map { |person| person['id'] }
end

node['base']['sysctl'].each do |key, setting|
  sysctl key do
    value setting.to_s
  end
end

template '/etc/security/limits.d/ops.conf' do
  source 'limits.conf.erb'
  mode '0644'
  variables(group: ops, nofile: node['base']['limits']['nofile'])
end

if node['base']['manage_etc_hosts']
  template '/etc/hosts' do
    source 'hosts.erb'
    mode '0644'
    variables(entries: node['base']['hosts'])
  end
end
