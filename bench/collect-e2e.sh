#!/usr/bin/env bash
# End-to-end collector → loghost → store throughput, and the collector's
# memory and CPU idle and while shipping a steady 5,000 lines/s.
#   bench/collect-e2e.sh [LINES]        (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
dir=$(mktemp -d /tmp/watchpost-collect-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
# The agent build (-tags agent): the host commands alone, for hosts where
# the agent's memory matters. Same code, static (no cgo), a third of the size.
CGO_ENABLED=0 go build -tags agent -o "$dir/watchpost-agent" ./cmd/watchpost
ls -l "$dir/watchpost" "$dir/watchpost-agent" | awk '{print $5, $9}'
source bench/lib.sh
port=$(freeport)
cat >"$dir/lh.yml" <<YML
server: {listen: "127.0.0.1:$port", syslog_listen: "", admin_token: bench-admin-token-0123}
storage: {path: $dir/data/watchpost.db}
hosts: {bench: {token: bench-token-123}}
self: {enabled: false}
YML
echo bench-token-123 >"$dir/token"
"$dir/watchpost" serve -config "$dir/lh.yml" >"$dir/lh.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
mkdir -p "$dir/gen"
awk -v n="$n" 'BEGIN{for(i=0;i<n;i++) printf "Nov 25 10:%02d:%02d web1 sshd[%d]: Failed password for invalid user u%d from 192.0.2.%d port %d ssh2\n", (i/60)%60, i%60, 1000+i%5000, i, i%250, 1024+i%60000}' >"$dir/gen/raw.log"
bytes=$(stat -c %s "$dir/gen/raw.log")
echo "== 1. collect -once of $n lines ($bytes bytes) into the loghost, gzip over HTTP, durable on ack"
start=$(date +%s.%N)
/usr/bin/time -f "collector: %e s wall, %U s user, %S s sys, max RSS %M kB" \
  "$dir/watchpost" collect -once -metrics=false -munin-plugins=none -server "http://127.0.0.1:$port" -token-file "$dir/token" -state "$dir/c1" -journal=false -file "$dir/gen/raw.log" 2>&1 | grep -v level=
end=$(date +%s.%N)
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN{printf "end to end: %.0f lines/s (%.2f s)\n", n/(e-s), e-s}'

# live BINARY STATE: the collector with its built-in host metrics every 10 s,
# idle, then shipping 5,000 lines/s for 20 s. RSS is split into the
# process's own memory (RssAnon) and the binary's pages the kernel has
# mapped (RssFile: shared with the page cache, clean, reclaimable; a 6.x
# kernel maps the executable's large folios whole, so this tracks the
# binary's size more than what the collector executes).
live() {
  local bin=$1 state=$2
  : >"$dir/live.log"
  "$bin" collect -munin-plugins=none -interval 10s -server "http://127.0.0.1:$port" -token-file "$dir/token" -state "$dir/$state" -journal=false -file "$dir/live.log" >"$dir/$state.log" 2>&1 &
  cpid=$!
  sleep 5
  mem() { awk '/VmRSS|RssAnon|RssFile/{printf "%s %s kB  ", $1, $2}' /proc/$cpid/status; }
  cpu() { awk '{print $14+$15}' /proc/$cpid/stat; }  # clock ticks
  echo "idle: $(mem)"
  t0=$(cpu)
  python3 - "$dir/live.log" <<'PY'
import sys, time
f = open(sys.argv[1], "a", buffering=1 << 16)
start = time.time()
for sec in range(20):
    for k in range(50):
        for j in range(100):
            i = sec * 5000 + k * 100 + j
            f.write(f"Nov 25 10:00:00 web1 app[42]: request {i} handled in 12ms status=200\n")
        f.flush()
        time.sleep(max(0, start + sec + (k + 1) / 50 - time.time()))
PY
  sleep 2
  t1=$(cpu)
  hz=$(getconf CLK_TCK)
  echo "shipping 5,000 lines/s: $(mem)(peak VmHWM $(awk '/VmHWM/{print $2}' /proc/$cpid/status) kB)"
  awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN{printf "CPU: %.1f ms per 1,000 lines shipped (%.1f%% of one core at 5,000 lines/s)\n", (b-a)/hz*1000/100, (b-a)/hz/20*100}'
  kill $cpid
  wait $cpid 2>/dev/null || true
}
echo "== 2. the full binary's collector, built-in host metrics every 10 s"
live "$dir/watchpost" c2
echo "== 3. the agent build's collector, the same"
live "$dir/watchpost-agent" c3
