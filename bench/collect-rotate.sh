#!/usr/bin/env bash
# The collector through log rotation, with the real binaries and Debian's
# logrotate: numbered lines written in 200-line bursts every 10 ms
# (20,000 lines/s), rotated every 2.5 s (1.5 s for the mixed and rename
# runs) for SECONDS, then the loghost's store is counted: lines lost,
# lines stored twice, and what the collector counted lost. Then the agent
# build's memory following 1,000 files in 50 folders.
#   bench/collect-rotate.sh [SECONDS]      (default 30 per run)
#   bench/collect-rotate.sh memory         (the memory part alone)
#   ROWS='copytruncate app.log\*' bench/collect-rotate.sh   (the rows whose "name glob" matches)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
only_memory=false
[[ $secs == memory ]] && only_memory=true
command -v logrotate >/dev/null || PATH=$PATH:/usr/sbin
command -v logrotate >/dev/null || { echo "logrotate is needed (apt-get install logrotate)" >&2; exit 1; }
dir=$(mktemp -d /tmp/watchpost-rotate-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
CGO_ENABLED=0 go build -tags agent -o "$dir/watchpost-agent" ./cmd/watchpost
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
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

# writer PATH SECONDS RATE MODE: numbered lines; MODE reopen follows the
# path after a rename (WatchedFileHandler), keep keeps its descriptor.
writer() {
  python3 - "$@" <<'PY'
import os, sys, time
path, secs, rate, mode, tag = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
burst = rate // 100
f = open(path, "a", buffering=1 << 20)
n, start = 0, time.time()
while time.time() - start < secs:
    f.write("".join(f"{tag} {n+i:08d} the quick brown fox jumps over the lazy dog\n" for i in range(burst)))
    f.flush()
    n += burst
    if mode == "reopen":
        try:
            if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                f.close(); f = open(path, "a", buffering=1 << 20)
        except FileNotFoundError:
            f.close(); f = open(path, "a", buffering=1 << 20)
    time.sleep(max(0, start + n / rate - time.time()))
print(n)
PY
}

# run NAME GLOB EVERY RATE MODE DIRECTIVES...: one measured run.
run=0
rotation() {
  local name=$1 glob=$2 every=$3 rate=$4 mode=$5
  shift 5
  [[ -z ${ROWS:-} || "$name $glob" =~ $ROWS ]] || return 0
  run=$((run + 1))
  local tag="rot${run}x" logs="$dir/logs$run"
  mkdir -p "$logs"
  : >"$logs/app.log"
  "$dir/watchpost-agent" collect -metrics=false -munin-plugins=none -journal=false -server "http://127.0.0.1:$port" \
    -token-file "$dir/token" -state "$dir/state$run" -metrics-listen "127.0.0.1:$((port + run))" -file "$logs/$glob" >"$dir/c$run.log" 2>&1 &
  local cpid=$!
  sleep 0.5
  writer "$logs/app.log" "$secs" "$rate" "$mode" "$tag" >"$dir/w$run.out" &
  local wpid=$! i=0 end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    sleep "$every"
    local d=${@:$((i % $# + 1)):1}
    printf '%s {\n rotate 4\n missingok\n%b\n}\n' "$logs/app.log" "$d" >"$dir/lr.conf"
    logrotate -f -s "$dir/lr.state" "$dir/lr.conf" 2>>"$dir/logrotate.err" || true
    i=$((i + 1))
  done
  wait $wpid
  local written
  written=$(cat "$dir/w$run.out")
  # Wait until the loghost holds every line, or its count stood still
  # for 10 s (an older generation's end may arrive after the newest
  # line), at most 2 minutes.
  local n prev=-1 still=0
  for _ in $(seq 120); do
    n=$("$dir/watchpost" grep -data "$dir/data" -c "$tag" 2>/dev/null || echo -1)
    [ "$n" = "$written" ] && break
    if [ "$n" = "$prev" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 10 ] && break
    prev=$n
    sleep 1
  done
  local lostc
  lostc=$(curl -s "http://127.0.0.1:$((port + run))/metrics" | awk '/^watchpost_collector_lost_lines_total/{s+=$2} END{print s+0}')
  kill $cpid; wait $cpid 2>/dev/null || true
  # grep reads the live store; a block being compacted can make one
  # search fail: try again.
  for _ in 1 2 3 4 5; do
    "$dir/watchpost" grep -data "$dir/data" "$tag" >"$dir/raw$run" 2>"$dir/grep$run.err" && break
    sleep 1
  done
  grep -o "$tag [0-9]*" "$dir/raw$run" | sort >"$dir/got$run" || true
  local stored dups missing
  stored=$(uniq "$dir/got$run" | wc -l)
  dups=$(($(wc -l <"$dir/got$run") - stored))
  missing=$((written - stored))
  printf "| %s | %s | %s s | %d | %d | %d | %d |\n" "$name" "$glob" "$every" "$written" "$missing" "$dups" "$lostc"
}

$only_memory || {
echo "| rotation | glob | every | written | missing | duplicated | counted lost by the collector |"
echo "|---|---|---|---|---|---|---|"
C='\tcreate'; CT='\tcopytruncate'; Z='\tcompress'; DZ='\tcompress\n\tdelaycompress'
for g in 'app.log' 'app.log*'; do
  rotation "rename, copytruncate, rename + gzip" "$g" 2.5 20000 reopen "$C" "$CT" "$C\n$Z"
  rotation "copytruncate" "$g" 2.5 20000 reopen "$CT"
  rotation "mixed" "$g" 1.5 20000 reopen "$C" "$CT" "$C\n$Z" "$CT\n$Z" "$C\n$DZ"
  rotation "renames (rename, rename + gzip)" "$g" 1.5 20000 reopen "$C" "$C\n$Z"
  rotation "renames at 100,000 lines/s" "$g" 1.5 100000 reopen "$C" "$C\n$Z"
done
}

echo
echo "== the agent build following 1,000 files in 50 folders"
mkdir -p "$dir/many"
for d in $(seq -w 1 50); do
  mkdir -p "$dir/many/d$d"
  for f in $(seq -w 1 20); do echo "many d$d f$f first line" >"$dir/many/d$d/app$f.log"; done
done
env ${MEMENV:-} "$dir/watchpost-agent" collect -munin-plugins=none -interval 10s -journal=false -server "http://127.0.0.1:$port" \
  -token-file "$dir/token" -state "$dir/statemany" -file "$dir/many/d*/app*.log" >"$dir/many.log" 2>&1 &
cpid=$!
sleep 5
mem() { awk '/VmRSS|RssAnon|RssFile|VmHWM/{printf "%s %s kB  ", $1, $2}' /proc/$cpid/status; }
cpu() { awk '{print $14+$15}' /proc/$cpid/stat; }
echo "idle, 1,000 files open: $(mem) fds $(ls /proc/$cpid/fd | wc -l)"
t0=$(cpu)
for s in $(seq 10); do
  for d in $(seq -w 1 50); do for f in $(seq -w 1 20); do echo "many d$d f$f second $s" >>"$dir/many/d$d/app$f.log"; done; done
  sleep 1
done
echo "after 10 s of a line a second to every file: $(mem)"
awk -v a="$t0" -v b="$(cpu)" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "CPU: %.0f ms in those 10 s (10,000 lines from 1,000 files)\n", (b-a)/hz*1000}'
grep -c "inotify\|polling" "$dir/many.log" || true
kill $cpid
