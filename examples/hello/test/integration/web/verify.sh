#!/bin/sh
# Runs inside the converged host.
set -eu
grep -q '^greeting = "Hello from kitchen.yml"$' /tmp/skillet-example/etc/app.conf
grep -q '^listen = 8080$' /tmp/skillet-example/etc/app.conf
test "$(readlink /tmp/skillet-example/current)" = /tmp/skillet-example/etc
test -f /tmp/skillet-example/reloaded
echo "web: verified"
