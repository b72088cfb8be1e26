#!/usr/bin/env bash
# The logs page's live tail in a real Chromium receiving 5,000 lines/s for
# a minute while the reader scrolls up (paused; the test prints the
# waiting-line counts, the page's JavaScript heap and DOM size).
#   bench/explorer-tail.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
WATCHPOST_TAIL_SECONDS=${1:-60} CGO_ENABLED=1 go test -count=1 -run 'TestLogsLiveTail$' -v -timeout 20m ./e2e/ 2>&1 |
  grep -E 'lines sent|^(---|ok|FAIL|PASS)'
