#!/usr/bin/env bash
# The loghost's cost of uptime checking: 1,000 HTTP checks every 30 s
# against a loopback server (bench/checkload, keep-alive), first in
# Watchpost, then the same 1,000 endpoints in Gatus v5.36, one after the
# other so they never share the 2 cores. For each: CPU of the monitor's
# process (utime+stime from /proc/PID/stat over the window, as % of one
# core) and memory (VmRSS sampled every 5 s: mean and last; VmHWM), and the
# probes the target actually served in the window (expected 1000/30 per s).
#   bench/checks-vs-gatus.sh [SECONDS] [CHECKS]     (default 180, 1000)
# Gatus is built once from its pinned module into ${XDG_CACHE_HOME:-/tmp}
# (about 1.5 min), outside our go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-180}
n=${2:-1000}
warmup=${WARMUP:-45} # one 30 s interval plus the 15 s start spread
cache=${XDG_CACHE_HOME:-/tmp}/watchpost-bench
gatus=$cache/gatus-v5.36.0
dir=$(mktemp -d /tmp/watchpost-checks-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

mkdir -p "$cache"
if [[ ! -x $gatus ]]; then
  echo "building Gatus v5.36.0 into $gatus ..." >&2
  mkdir -p "$dir/gatus-mod"
  (cd "$dir/gatus-mod" && go mod init example.test/peer >/dev/null 2>&1 &&
    go mod edit -require=github.com/TwiN/gatus/v5@v5.36.0 &&
    GOFLAGS=-mod=mod go build -o "$gatus" github.com/TwiN/gatus/v5)
fi
# WATCHPOST_BIN=path measures a binary built elsewhere (e.g. from a clean
# `git archive HEAD` while the working tree is mid-edit).
if [[ -n ${WATCHPOST_BIN:-} ]]; then cp "$WATCHPOST_BIN" "$dir/watchpost"; else go build -o "$dir/watchpost" ./cmd/watchpost; fi
go build -o "$dir/checkload" ./bench/checkload

source bench/lib.sh

"$dir/checkload" -listen 127.0.0.1:0 -addr-file "$dir/target.addr" >"$dir/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/target.addr ]] && break; sleep 0.1; done
target=$(cat "$dir/target.addr")
served() { curl -fsS "http://$target/__count"; }

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }

# measure NAME PID: one markdown row over $window seconds after $warmup.
measure() {
  local name=$1 pid=$2
  sleep "$warmup"
  kill -0 "$pid" || { echo "$name died during warm-up" >&2; return 1; }
  local c0 s0 t0 rss_sum=0 rss_n=0 rss_last=0 c1 s1 t1 hwm
  c0=$(ticks "$pid"); s0=$(served); t0=$(date +%s.%N)
  local end=$((SECONDS + window))
  while ((SECONDS < end)); do
    rss_last=$(kb "$pid" VmRSS); rss_sum=$((rss_sum + rss_last)); rss_n=$((rss_n + 1))
    sleep 5
  done
  c1=$(ticks "$pid"); s1=$(served); t1=$(date +%s.%N); hwm=$(kb "$pid" VmHWM)
  rss_last=$(kb "$pid" VmRSS)
  awk -v n="$name" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
    -v rs="$rss_sum" -v rn="$rss_n" -v rl="$rss_last" -v hw="$hwm" -v s0="$s0" -v s1="$s1" -v nc="$n" 'BEGIN{
      el=t1-t0
      p=s1-s0; if (p<1) p=1
      printf "| %s | %.2f %% | %.1f s | %.2f ms | %.1f MB | %.1f MB | %.1f MB | %d (%.1f/s, expected %.1f/s) |\n",
        n, (c1-c0)/hz/el*100, (c1-c0)/hz, (c1-c0)/hz*1000/p, rs/rn/1024, rl/1024, hw/1024, s1-s0, (s1-s0)/el, nc/30
    }' >>"$dir/rows.md"
}

# --- Watchpost
wport=$(freeport)
{
  cat <<YAML
server:
  listen: 127.0.0.1:$wport
  syslog_listen: ""
  admin_token: bench-admin-token-0123
storage:
  path: $dir/watchpost.db
self:
  enabled: false
checks:
YAML
  for i in $(seq "$n"); do
    printf '  - {name: svc-%d, type: http, target: "http://%s/svc/%d", interval: 30s, conditions: ["status == 200", "response_time < 1s"], public: true, group: Bench}\n' "$i" "$target" "$i"
  done
} >"$dir/watchpost.yml"
"$dir/watchpost" config check "$dir/watchpost.yml" >&2
"$dir/watchpost" serve -config "$dir/watchpost.yml" >"$dir/watchpost.log" 2>&1 &
wpid=$!; pids+=($wpid)
waittcp "$wport"
echo "measuring Watchpost (pid $wpid): ${warmup}s warm-up, ${window}s window ..." >&2
if [[ -n ${WATCHPOST_BIN:-} ]]; then label=$(basename "$WATCHPOST_BIN"); else label="Watchpost $(git describe --always --dirty 2>/dev/null || echo dev)"; fi
measure "$label" "$wpid"
up=$(curl -fsS "http://127.0.0.1:$wport/api/v1/status" | grep -o '"status":"up"' | wc -l || true)
echo "Watchpost: $up of $n components up on /api/v1/status" >&2
kill "$wpid"; wait "$wpid" 2>/dev/null || true

# --- Gatus, same endpoints; SQLite like Watchpost's store.
gport=$(freeport)
{
  cat <<YAML
storage:
  type: sqlite
  path: $dir/gatus.db
web:
  address: 127.0.0.1
  port: $gport
metrics: false
concurrency: 8 # Watchpost's bound; Gatus's default 3 falls behind 1,000 endpoints here
endpoints:
YAML
  for i in $(seq "$n"); do
    printf '  - {name: svc-%d, group: Bench, url: "http://%s/svc/%d", interval: 30s, conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 1000"]}\n' "$i" "$target" "$i"
  done
} >"$dir/gatus.yaml"
GATUS_CONFIG_PATH=$dir/gatus.yaml GATUS_LOG_LEVEL=WARN "$gatus" >"$dir/gatus.log" 2>&1 &
gpid=$!; pids+=($gpid)
waittcp "$gport"
echo "measuring Gatus (pid $gpid): ${warmup}s warm-up, ${window}s window ..." >&2
measure "Gatus v5.36.0 (SQLite)" "$gpid"
kill "$gpid"; wait "$gpid" 2>/dev/null || true

echo
echo "$n HTTP checks every 30 s against a loopback server; ${window} s window after ${warmup} s warm-up; $(nproc) cores, $(go env GOVERSION)"
echo
echo "| monitor | CPU (% of one core, mean) | CPU time in window | CPU per probe | RSS mean | RSS at end | VmHWM | probes served in window |"
echo "|---|---|---|---|---|---|---|---|"
cat "$dir/rows.md"
