name 'monitoring'
description "Prometheus' node exporter"
run_list 'recipe[monitoring]'
