#!/bin/bash
# The node exporter answers with metrics.
set -euo pipefail
python3 - <<'PY'
import time, urllib.request
for attempt in range(50):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=2).read().decode()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("the node exporter does not answer on 9100")
assert "node_exporter_build_info" in body, body[:200]
assert "node_wifi" not in body
print("node exporter: answering on 9100")
PY
