#!/bin/bash
# nginx's configuration passes `nginx -t`, and a request to the balancer reaches the app.
set -euo pipefail
nginx -t -q
python3 - <<'PY'
import time, urllib.request
for attempt in range(50):
    try:
        body = urllib.request.urlopen("http://127.0.0.1/", timeout=2).read().decode()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("the balancer does not answer on 80")
assert "served by" in body and "(staging)" in body, body
print("lb: " + body.strip().splitlines()[-1])
PY
