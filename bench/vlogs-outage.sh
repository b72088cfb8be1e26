#!/usr/bin/env bash
# 200,000 lines shipped to VictoriaLogs while it is stopped for a minute,
# killed once and the shipper restarted: every line must end up there once.
#   bench/vlogs-outage.sh [OUTAGE]      (default 60s)
set -euo pipefail
cd "$(dirname "$0")/.."
WATCHPOST_VL_OUTAGE=${1:-60s} CGO_ENABLED=1 go test -count=1 -v -timeout 30m -run 'TestOutage$' ./vlogs
