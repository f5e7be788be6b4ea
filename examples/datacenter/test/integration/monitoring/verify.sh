#!/bin/bash
# The node exporter answers with metrics, without the collectors turned off.
set -euo pipefail
metrics=$(curl -sf --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:9100/metrics)
grep -q '^node_exporter_build_info' <<<"$metrics"
! grep -q '^node_wifi' <<<"$metrics"
echo "node exporter: answering on 9100"
