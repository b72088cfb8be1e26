#!/usr/bin/env bash
# The SQLite store and VictoriaLogs side by side on the same generated
# lines: shipping rate into VictoriaLogs, bytes on disk per line, and the
# grep benchmark queries against both (docs/BENCHMARKS.md).
#   bench/vlogs-side-by-side.sh [LINES]      (default 10,000,000)
#   SKIP_SHIP=1 bench/vlogs-side-by-side.sh  (queries only, on what an earlier run shipped)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
dir=${BENCH_DIR:-/tmp/watchpost-vlbench-$n}
vlbin=$(bench/victorialogs.sh)
if [ ! -f "$dir/watchpost.db" ]; then
  go run ./bench/benchdata -n "$n" -dir "$dir"
fi
ship=true
if [ "${SKIP_SHIP:-}" = 1 ] && [ -d "$dir/vl" ]; then ship=false; else rm -rf "$dir/vl"; fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$vlbin" -httpListenAddr=127.0.0.1:$port -storageDataPath="$dir/vl" -retentionPeriod=100y -loggerLevel=WARN &
vlpid=$!
trap 'kill $vlpid; wait $vlpid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
go run ./bench/vlbench -dir "$dir" -vl "http://127.0.0.1:$port" -vl-data "$dir/vl" -ship=$ship -runs "${RUNS:-10}"
