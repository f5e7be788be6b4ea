#!/bin/sh
# Runs inside app1: its own settings, and app2 by name.
set -eu
grep -q '^greeting = "Hello from app1"$' /tmp/skillet-example/etc/app.conf
getent hosts app2 >/dev/null
echo "app1: verified"
