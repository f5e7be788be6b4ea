#!/bin/bash
# nginx's configuration passes `nginx -t`, and a request to the balancer reaches the app.
set -euo pipefail
nginx -t -q
page=$(curl -sf --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1/)
grep -q 'served by .* (staging)' <<<"$page" || { echo "unexpected page: $page" >&2; exit 1; }
echo "lb: $(tail -1 <<<"$page")"
