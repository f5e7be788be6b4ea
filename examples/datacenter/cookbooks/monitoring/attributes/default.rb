default['monitoring']['listen_address'] = '0.0.0.0'
default['monitoring']['port'] = 9100
# Collectors turned off (the exporter's `--no-collector.<name>` flags).
default['monitoring']['disabled_collectors'] = %w(wifi hwmon)
