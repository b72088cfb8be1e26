#!/usr/bin/env bash
# The public status page under a crowd: a loghost with 50 public HTTP
# checks (every 10 s, against bench/checkload on loopback), once all are
# up, takes wrk on / (server-rendered HTML) and on /api/v1/status (JSON).
#   bench/statuspage-wrk.sh [DURATION] [CHECKS] [SETTLE]   (default 20s, 50, 0)
#   SEED_HOURS=24 bench/statuspage-wrk.sh                   (a day of samples first)
# SETTLE seconds of probing after all checks are up, before wrk (the page
# carries each check's last 24 h of samples, so it grows as the loghost runs).
# Prints requests/s and latency percentiles per path as a markdown table,
# with the load average before and after (wrk shares the machine's cores
# with the loghost, and other load shows in p99 first).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-20s}
n=${2:-50}
settle=${3:-0}
dir=$(mktemp -d /tmp/watchpost-statuspage-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

# WATCHPOST_BIN=path measures a binary built elsewhere (e.g. from a clean
# `git archive HEAD` while the working tree is mid-edit).
if [[ -n ${WATCHPOST_BIN:-} ]]; then cp "$WATCHPOST_BIN" "$dir/watchpost"; else go build -o "$dir/watchpost" ./cmd/watchpost; fi
go build -o "$dir/checkload" ./bench/checkload
source bench/lib.sh

"$dir/checkload" -listen 127.0.0.1:0 -addr-file "$dir/target.addr" >"$dir/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/target.addr ]] && break; sleep 0.1; done
target=$(cat "$dir/target.addr")

port=$(freeport)
{
  cat <<YAML
server:
  listen: 127.0.0.1:$port
  syslog_listen: ""
  admin_token: bench-admin-token-0123
storage:
  path: $dir/watchpost.db
self:
  enabled: false
status_page: {title: "Bench status", groups: [Web, Mail, Backups, Infra, Misc]}
checks:
YAML
  groups=(Web Mail Backups Infra Misc)
  for i in $(seq "$n"); do
    printf '  - {name: svc-%d, type: http, target: "http://%s/svc/%d", interval: 10s, conditions: ["status == 200", "response_time < 1s"], public: true, group: %s}\n' \
      "$i" "$target" "$i" "${groups[$((i % 5))]}"
  done
} >"$dir/watchpost.yml"
"$dir/watchpost" serve -config "$dir/watchpost.yml" >"$dir/watchpost.log" 2>&1 &
wpid=$!; pids+=($wpid)
waittcp "$port"
base=http://127.0.0.1:$port

up=0
for _ in $(seq 120); do
  up=$(curl -fsS "$base/api/v1/status" | grep -o '"status":"up"' | wc -l || true)
  ((up >= n)) && break
  sleep 0.5
done
((up >= n)) || { echo "only $up of $n checks up after 60 s" >&2; tail -20 "$dir/watchpost.log" >&2; exit 1; }
echo "all $n checks up; settling ${settle}s" >&2
sleep "$settle"
# SEED_HOURS=24 fills check_samples with that many hours of 10 s probes per
# check (what a loghost that has run for a day shows; the page draws the last
# 24 h), written through Debian's sqlite3 while the loghost runs.
if ((${SEED_HOURS:-0} > 0)); then
  steps=$((SEED_HOURS * 360))
  now_ns=$(date +%s%N)
  sqlite3 "$dir/watchpost.db" ".timeout 30000" "WITH RECURSIVE
      c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $n),
      s(k) AS (SELECT 12 UNION ALL SELECT k+1 FROM s WHERE k < $steps)
    INSERT OR IGNORE INTO check_samples(check_name, time, ok, degraded, duration_us)
    SELECT 'svc-'||i, $now_ns - k*10000000000 - i*1000, 1, 0, 500 + (k*37 + i*11) % 900 FROM c, s;"
  echo "seeded $((n * (steps - 11))) samples (${SEED_HOURS} h per check)" >&2
fi
html=$(curl -fsS "$base/" | wc -c); json=$(curl -fsS "$base/api/v1/status" | wc -c)

load0=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
# As curl and wrk do by default, then as browsers do (gzip, served
# pre-compressed from the page cache).
for enc in identity gzip; do
for path in / /api/v1/status; do
  echo "== wrk -t2 -c50 -d$dur --latency -H 'Accept-Encoding: $enc' $base$path" >&2
  wrk -t2 -c50 -d"$dur" --latency -H "Accept-Encoding: $enc" "$base$path" | tee "$dir/wrk.out" >&2
  rps=$(awk '/^Requests\/sec:/{print $2}' "$dir/wrk.out")
  p50=$(awk '$1=="50%"{print $2}' "$dir/wrk.out")
  p99=$(awk '$1=="99%"{print $2}' "$dir/wrk.out")
  non2xx=$(awk '/Non-2xx/{print $NF}' "$dir/wrk.out")
  tmo=$(awk '/Socket errors/{print $NF}' "$dir/wrk.out")
  size=$(curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $enc" "$base$path")
  rows+=("| \`$path\` ($enc) | $size B | $rps | $p50 | $p99 | ${non2xx:-0} | ${tmo:-0} |")
done
done
# Latency at the target rate rather than at saturation: wrk drives both
# cores flat out, so its p99 measures the run queue it creates. hey (Debian)
# holds 50 connections to 200 requests/s each, 10,000 requests/s in all.
hrows=()
if command -v hey >/dev/null; then
  for enc in identity gzip; do
    echo "== hey -z $dur -c 50 -q 200 -H 'Accept-Encoding: $enc' $base/" >&2
    hey -z "$dur" -c 50 -q 200 -H "Accept-Encoding: $enc" "$base/" | tee "$dir/hey.out" >&2
    rps=$(awk '/Requests\/sec:/{printf "%.0f", $2}' "$dir/hey.out")
    pct() { awk -v p="$1%" '$1==p && $2=="in" {printf "%.2fms", $3*1000}' "$dir/hey.out"; }
    codes=$(awk '/^[ \t]*\[[0-9]+\]/{printf "%s%s %s", sep, $1, $2; sep=", "}' "$dir/hey.out")
    hrows+=("| \`/\` ($enc) | $rps | $(pct 50) | $(pct 99) | $codes |")
  done
fi
ticks=$(awk '{print $14+$15}' "/proc/$wpid/stat")

echo
echo "$n public HTTP checks (10 s) on $(nproc) cores, wrk -t2 -c50 -d$dur on the same machine, $(go env GOVERSION); load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo
echo "| path | body | requests/s | p50 | p99 | non-2xx | wrk timeouts (> 2 s) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if ((${#hrows[@]})); then
  echo
  echo "At a fixed 10,000 requests/s (hey -z $dur -c 50 -q 200, on the same machine):"
  echo
  echo "| path | requests/s | p50 | p99 | responses |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${hrows[@]}"
fi
echo
echo "loghost RSS after the run: $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/$wpid/status), HWM $(awk '/VmHWM/{printf "%.1f MB", $2/1024}' /proc/$wpid/status), CPU $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f s", t/hz}')"
