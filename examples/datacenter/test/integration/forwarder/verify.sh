#!/bin/bash
# rinetd forwards port 8000 to the node exporter on 9100.
set -euo pipefail
metrics=$(curl -sf --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:8000/metrics)
grep -q '^node_exporter_build_info' <<<"$metrics"
echo "forwarder: port 8000 reaches the node exporter"
