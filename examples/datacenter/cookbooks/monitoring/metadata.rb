name 'monitoring'
maintainer 'Site Operations'
license 'Apache-2.0'
description "Prometheus' node exporter from Debian on every host"
version '1.0.0'
supports 'debian', '>= 12.0'
