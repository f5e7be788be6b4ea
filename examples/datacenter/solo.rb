# `skillet solo -c solo.rb -j nodes/<host>.json` converges one host from this repository.
repo = File.dirname(__FILE__)
cookbook_path File.join(repo, 'cookbooks')
role_path File.join(repo, 'roles')
environment_path File.join(repo, 'environments')
data_bag_path File.join(repo, 'data_bags')
node_path File.join(repo, 'nodes')
file_cache_path '/var/cache/skillet'
