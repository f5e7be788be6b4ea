#!/bin/bash
# rinetd forwards port 8000 to the node exporter on 9100.
set -euo pipefail
python3 - <<'PY'
import time, urllib.request
for attempt in range(50):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8000/metrics", timeout=2).read().decode()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("nothing answers on the forwarded port 8000")
assert "node_exporter_build_info" in body, body[:200]
print("forwarder: port 8000 reaches the node exporter")
PY
