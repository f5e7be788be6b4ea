#!/bin/bash
# Every host: the ops users and group, kernel settings, limits and /etc/hosts.
set -euo pipefail

getent passwd alice | grep -q '^alice:x:2001:.*:Alice (ops):/home/alice:/bin/bash$'
getent passwd bob | grep -q '^bob:x:2002:'
members=$(getent group ops | cut -d: -f4)
[ "$members" = "alice,bob" ] || { echo "ops members: $members" >&2; exit 1; }
[ "$(stat -c %a /home/alice/.ssh)" = 700 ]
grep -q '^ssh-ed25519 .* alice@ops$' /home/alice/.ssh/authorized_keys
[ "$(sysctl -n net.core.somaxconn)" = 1024 ]
[ "$(sysctl -n net.ipv4.ip_local_port_range | tr -s '\t ' ' ')" = "10000 65000" ]
grep -q '^@ops  hard  nofile  65536$' /etc/security/limits.d/ops.conf
getent hosts db1.example.internal | grep -q '^10.9.0.10 '
getent hosts "$(hostname)" >/dev/null

# The base role brings the monitoring role with it.
metrics=$(curl -sf --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:9100/metrics)
grep -q '^node_exporter_build_info' <<<"$metrics"
echo "base: users, group, sysctl, limits, /etc/hosts and the node exporter as configured"
