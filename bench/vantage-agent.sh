#!/usr/bin/env bash
# The agent build as a vantage: its memory while it ships logs (5,000
# lines/s for 20 s, then a trickle) and probes 50 checks every 60 s
# (25 http, 25 tcp, against the loghost on loopback), with a canary round
# every 30 s. Target: at most 15 MB RSS.
#   bench/vantage-agent.sh [SECONDS]     (default 180: three rounds of probes)
# Environment: PROBES=false (or off: a build without them) for the same
# without probing; BURST=0 skips the 5,000 lines/s; RATE=N lines a second
# otherwise (1); AGENT=BINARY measures another build; AGENT_ENV="env GOGC=25".
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-180}
dir=$(mktemp -d /tmp/watchpost-vantage-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
if [ -n "${AGENT:-}" ]; then cp "$AGENT" "$dir/watchpost-agent"; else
  CGO_ENABLED=0 go build -tags agent -o "$dir/watchpost-agent" ./cmd/watchpost; fi
ls -l "$dir/watchpost-agent" | awk '{print "agent binary:", $5, "bytes"}'
source bench/lib.sh
port=$(freeport)
{
  echo "server: {listen: \"127.0.0.1:$port\", syslog_listen: \"\", admin_token: bench-admin-token-0123}"
  echo "storage: {path: $dir/data/watchpost.db}"
  echo "hosts: {bench: {token: bench-token-123}}"
  echo "self: {enabled: false}"
  echo "vantages: {canaries: [\"tcp://127.0.0.1:$port\"]}"
  echo "checks:"
  for i in $(seq 25); do
    echo "  - {name: http$i, type: http, target: \"http://127.0.0.1:$port/healthz\", interval: 60s, vantages: [bench]}"
    echo "  - {name: tcp$i, type: tcp, target: \"127.0.0.1:$port\", interval: 60s, vantages: [bench]}"
  done
} >"$dir/lh.yml"
"$dir/watchpost" serve -config "$dir/lh.yml" >"$dir/lh.log" 2>&1 &
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
: >"$dir/live.log"
cat >"$dir/c.yml" <<YML
server: http://127.0.0.1:$port
token: bench-token-123
host: bench
journal: false
munin_plugins: none
interval: 10s
$( [ "${PROBES:-true}" = off ] || echo "probes: ${PROBES:-true}" )
files: [{path: $dir/live.log}]
YML
mport=$(freeport)
${AGENT_ENV:-} "$dir/watchpost-agent" collect -config "$dir/c.yml" -state "$dir/state" -metrics-listen "127.0.0.1:$mport" >"$dir/c.log" 2>&1 &
cpid=$!
mem() { awk '/VmRSS|RssAnon|RssFile/{printf "%s %s kB  ", $1, $2}' /proc/$cpid/status; }
rss() { awk '/VmRSS/{print $2}' /proc/$cpid/status; }
cpu() { awk '{print $14+$15}' /proc/$cpid/stat; }
sleep 20
echo "probing (20 s in): $(mem)"
t0=$(cpu)
max=0
sample() { r=$(rss); [ "$r" -gt "$max" ] && max=$r; true; }
if [ "${BURST:-1}" != 0 ]; then
python3 - "$dir/live.log" <<'PY' &
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
gen=$!
for _ in $(seq 20); do sleep 1; sample; done
wait $gen
fi
[ "${BURST:-1}" = 0 ] || echo "shipping 5,000 lines/s and probing: $(mem)"
end=$(( $(date +%s) + secs - 40 ))
rate=${RATE:-1}  # lines a second after the burst
while [ "$(date +%s)" -lt "$end" ]; do
  for _ in $(seq "$rate"); do echo "Nov 25 10:00:00 web1 app[42]: request handled in 12ms status=200"; done >>"$dir/live.log"
  sleep 1
  sample
done
t1=$(cpu)
hz=$(getconf CLK_TCK)
echo "after ${secs} s: $(mem)(peak VmHWM $(awk '/VmHWM/{print $2}' /proc/$cpid/status) kB, max sampled VmRSS $max kB)"
awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" 'BEGIN{printf "CPU: %.2f%% of one core over the run\n", (b-a)/hz/(s-20)*100}'
results=$(curl -sf -H 'Authorization: Bearer bench-admin-token-0123' "http://127.0.0.1:$port/api/v1/vantages" | python3 -c 'import json,sys; v=[x for x in json.load(sys.stdin)["vantages"] if x["location"]=="bench"][0]; print(v["checks"], "checks assigned; canaries", "pass" if v["canary_ok"] else "FAIL", "; queued", v["queued"], "; dropped", v["dropped"])' || true)
echo "vantage: $results"
curl -sf -H 'Authorization: Bearer bench-admin-token-0123' "http://127.0.0.1:$port/metrics" | grep -E '^watchpost_vantage_results_stored_total|^watchpost_ingest_lines_total' || true
curl -sf "http://127.0.0.1:$mport/metrics" | grep -E '^go_memstats_(heap_inuse|heap_idle|heap_released|stack_inuse|sys|next_gc)_bytes|^go_goroutines' | awk '{printf "%s %.0f kB\n", $1, $2/1024}' || true
kill $cpid
wait $cpid 2>/dev/null || true
