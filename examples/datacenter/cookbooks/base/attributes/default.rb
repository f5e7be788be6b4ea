# Packages every host gets.
default['base']['packages'] = %w(less procps)

# The group whose members run the site, and the data bag its users come from.
default['base']['ops_group'] = 'ops'
default['base']['users_data_bag'] = 'users'

# Kernel settings (sysctl), by key. Only per-network-namespace keys here, so a test host
# never changes the machine it runs on.
default['base']['sysctl']['net.core.somaxconn'] = 1024
default['base']['sysctl']['net.ipv4.ip_local_port_range'] = '10000 65000'

# /etc/security/limits.d/ops.conf: open files for the ops group and for daemons.
default['base']['limits']['nofile'] = 65_536

# /etc/hosts: when managed, localhost, this host, and these entries (address => names).
default['base']['manage_etc_hosts'] = true
default['base']['hosts'] = {}
