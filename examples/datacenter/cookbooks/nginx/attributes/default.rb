default['nginx']['worker_processes'] = 'auto'
default['nginx']['worker_connections'] = 768
default['nginx']['listen'] = 80

# The application servers behind the balancer, as host:port. When empty, they are found by
# searching for nodes with `backend_role` in this node's environment.
default['nginx']['backends'] = []
default['nginx']['backend_role'] = 'app'
default['nginx']['backend_port'] = 8080
