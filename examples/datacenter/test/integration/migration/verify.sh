#!/bin/bash
# The migration, verified from the lab network like a client would see it:
# - rows written at the same time on both masters reach all three databases, no key collides;
# - the replica refuses writes;
# - a request to the old site's host reaches an application host through the balancer.
set -euo pipefail

inside() { $KITCHEN_EXEC "$@"; }
root_sql() { local host=$1; shift; inside "$host" mysql -uroot -NBe "$*"; }
app_sql() { local host=$1; shift; inside "$host" mysql -uapp -pchange-me-app -h 127.0.0.1 app -NBe "$*"; }

wait_for() {
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $what" >&2
  return 1
}

replicating() {
  local status
  status=$(inside "$1" mysql -uroot -e 'SHOW SLAVE STATUS\G')
  grep -q 'Slave_IO_Running: Yes' <<<"$status" && grep -q 'Slave_SQL_Running: Yes' <<<"$status"
}
for db in db1 db2 db3; do
  wait_for "$db to replicate" replicating "$db"
done

before=$(root_sql db1 "SELECT COUNT(*) FROM app.events")
rows=40
write() {
  local host=$1
  for i in $(seq 1 "$rows"); do
    app_sql "$host" "INSERT INTO events (origin) VALUES ('$host-$i')"
  done
}
write db1 & first=$!
write db2 & second=$!
wait "$first" "$second"
expected=$((before + 2 * rows))

caught_up() {
  [ "$(root_sql "$1" "SELECT COUNT(*) FROM app.events")" = "$expected" ]
}
for db in db1 db2 db3; do
  wait_for "$db to hold $expected rows" caught_up "$db"
  distinct=$(root_sql "$db" "SELECT COUNT(DISTINCT id) FROM app.events")
  [ "$distinct" = "$expected" ] || { echo "$db: $distinct distinct keys for $expected rows" >&2; exit 1; }
done
# Each master hands out its own keys: odd on db1 (offset 1), even on db2 (offset 2).
odd_from_db2=$(root_sql db3 "SELECT COUNT(*) FROM app.events WHERE origin LIKE 'db2-%' AND id % 2 = 1")
[ "$odd_from_db2" = 0 ] || { echo "db2 wrote $odd_from_db2 odd keys" >&2; exit 1; }
echo "replication: $expected rows on db1, db2 and db3, no key collision"

if refused=$(app_sql db3 "INSERT INTO events (origin) VALUES ('db3')" 2>&1); then
  echo "db3 accepted a write" >&2
  exit 1
fi
grep -q -- '--read-only' <<<"$refused" || { echo "db3 refused a write for another reason: $refused" >&2; exit 1; }
echo "replica: db3 refuses writes ($(grep -m1 ERROR <<<"$refused"))"

# Round robin over two backends: a few requests see both.
served=""
for _ in $(seq 1 20); do
  page=$(curl -sf --retry 20 --retry-connrefused --retry-delay 1 "http://$KITCHEN_HOST_OLD1/")
  served+=$(grep -o 'served by app[12]' <<<"$page")$'\n'
  if grep -q app1 <<<"$served" && grep -q app2 <<<"$served"; then break; fi
done
grep -q app1 <<<"$served" && grep -q app2 <<<"$served" || { echo "old1 reached only: $served" >&2; exit 1; }
echo "cut-over: http://$KITCHEN_HOST_OLD1/ reached app1 and app2 through lb1"
