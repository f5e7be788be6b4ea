default['app']['port'] = 8080
default['app']['document_root'] = '/srv/app'
default['app']['title'] = 'The site'
