# Each forward: the address and port to listen on, and where to send connections.
default['rinetd']['forwards'] = [
  { 'bind_address' => '0.0.0.0', 'bind_port' => 80, 'connect_address' => '127.0.0.1', 'connect_port' => 8080 },
]
# Who may connect (rinetd's allow rules); empty: everyone.
default['rinetd']['allow'] = []
