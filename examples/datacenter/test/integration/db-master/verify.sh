#!/bin/bash
# The master runs with the configured server variables, and the application user can write.
set -euo pipefail

variable() { mysql -uroot -NBe "SELECT @@$1"; }
expect() {
  local got
  got=$(variable "$1")
  [ "$got" = "$2" ] || { echo "@@$1 is $got, expected $2" >&2; exit 1; }
}

expect server_id 7
expect auto_increment_increment 2
expect auto_increment_offset 1
expect log_bin 1
expect log_slave_updates 1
expect read_only 0
expect bind_address 0.0.0.0

mysql -uapp -pchange-me-app -h 127.0.0.1 app -e "INSERT INTO events (origin) VALUES ('verify')"
count=$(mysql -uroot -NBe "SELECT COUNT(*) FROM app.events WHERE origin = 'verify'")
[ "$count" -ge 1 ] || { echo "the insert did not land" >&2; exit 1; }
# Odd keys only: offset 1 of increment 2.
even=$(mysql -uroot -NBe "SELECT COUNT(*) FROM app.events WHERE id % 2 = 0")
[ "$even" = 0 ] || { echo "$even rows have even keys" >&2; exit 1; }
echo "mariadb: server variables as configured, application writes accepted"
