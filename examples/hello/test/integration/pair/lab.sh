#!/bin/sh
# Runs on the machine in the lab network: every host by address, commands inside each.
set -eu
for host in $KITCHEN_HOSTS; do
  $KITCHEN_EXEC "$host" grep -q "^greeting = \"Hello from $host\"$" /tmp/skillet-example/etc/app.conf
done
test -n "$KITCHEN_HOST_APP1" && test -n "$KITCHEN_HOST_APP2"
echo "pair: verified from the lab ($KITCHEN_HOST_APP1, $KITCHEN_HOST_APP2)"
