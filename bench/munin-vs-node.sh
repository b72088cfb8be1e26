#!/usr/bin/env bash
# One fetch round of the host's stock munin plugins (/etc/munin/plugins,
# /etc/munin/plugin-conf.d) through Debian's munin-node and through
# Watchpost's munin Runner, side by side. Needs munin-node, hyperfine, root
# (as munin-node runs plugins as their plugin-conf.d users).
#   bench/munin-vs-node.sh [RUNS]      (default 10)
#
# Rows:
#   munin-node           a master's round over TCP: cap, list, fetch each service in turn
#   watchpost node       the same round against our Node backed by our Runner
#   watchpost runner -p4 our Runner fetching every plugin directly, 4 at a time
#   watchpost runner -p1 the same, one at a time
# Then the server-side CPU of one round (process + reaped children, from
# /proc/PID/stat), which is what a node costs the host it watches.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
dir=$(mktemp -d /tmp/watchpost-munin-bench.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
go build -o "$dir/watchpost" ./cmd/watchpost
# The node runs from the agent build (make agent), what a host would run.
CGO_ENABLED=0 go build -tags agent -o "$dir/watchpost-agent" ./cmd/watchpost
source bench/lib.sh
p1=$(freeport); p2=$(freeport)
cat >"$dir/node.conf" <<CONF
log_level 4
log_file $dir/node.log
pid_file $dir/node.pid
background 0
setsid 0
user root
group root
ignore_file [\#~]$
ignore_file DEADJOE$
ignore_file \.bak$
ignore_file %$
ignore_file \.dpkg-(tmp|new|old|dist)$
ignore_file \.rpm(save|new)$
ignore_file \.pod$
allow ^127\.0\.0\.1$
host 127.0.0.1
port $p1
CONF
munin-node --config "$dir/node.conf" >"$dir/node.out" 2>&1 &
pids+=($!); mpid=$!
mkdir -p "$dir/state" && chmod 755 "$dir/state"
"$dir/watchpost-agent" munin -state "$dir/state" -timeout 30s -listen "127.0.0.1:$p2" node >"$dir/wp.out" 2>&1 &
pids+=($!); wpid=$!
for p in $p1 $p2; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
# A first round each, so stateful plugins (diskstats) have history.
"$dir/watchpost" munin -timeout 60s fetch-round "127.0.0.1:$p1"; "$dir/watchpost" munin -timeout 60s fetch-round "127.0.0.1:$p2"

echo "== wall time of one round ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$dir/h.md" \
  -n munin-node "$dir/watchpost munin -timeout 60s fetch-round 127.0.0.1:$p1" \
  -n "watchpost node" "$dir/watchpost munin -timeout 60s fetch-round 127.0.0.1:$p2" \
  -n "watchpost runner -p4" "$dir/watchpost munin -state $dir/state -parallel 4 fetch-all" \
  -n "watchpost runner -p1" "$dir/watchpost munin -state $dir/state -parallel 1 fetch-all"
cat "$dir/h.md"

# utime+stime+cutime+cstime of a server pid, in clock ticks.
ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "== server CPU per round (average of $runs rounds; plugins included)"
for row in "munin-node $mpid $p1" "watchpost-node $wpid $p2"; do
  set -- $row
  a=$(ticks "$2")
  for _ in $(seq "$runs"); do "$dir/watchpost" munin -timeout 60s fetch-round "127.0.0.1:$3" >/dev/null; done
  b=$(ticks "$2")
  awk -v n="$1" -v a="$a" -v b="$b" -v r="$runs" -v hz="$hz" 'BEGIN{printf "%-15s %.0f ms CPU per round\n", n, (b-a)*1000/hz/r}'
done
mem() { awk '/VmRSS|RssAnon|RssFile/{printf "%s %s kB  ", $1, $2}' "/proc/$1/status"; }
echo "== memory after the rounds: own (RssAnon) and mapped program files (RssFile)"
echo "munin-node:                $(mem "$mpid")"
echo "watchpost node (agent):    $(mem "$wpid")"
