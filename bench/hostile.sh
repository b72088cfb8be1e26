#!/usr/bin/env bash
# The loghost under hostile clients and failing neighbours, on loopback:
# while a collector ships 5,000 lines/s and the status page is polled,
# each attack runs for PHASE (slow bodies, idle syslog connections, login
# lockout, the shared token claiming others' names, gzip bombs, a
# hanging webhook, silent websockets, a full disk), and the driver
# (bench/hostile) prints the ingest rate, /healthz latency, status page,
# loghost memory and what each attack met, then checks that every line
# given to the collector was stored.
#   bench/hostile.sh [PHASE]                        (default 20s)
#   ONLY=gzip-bombs,slow-bodies bench/hostile.sh     (some attacks only)
# Run as root for the disk-full phase (the store goes on a tmpfs it
# fills) and a raised open-file limit; smtp-sink (postfix) for the
# hanging-webhook phase.
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-20s}
dir=$(mktemp -d /tmp/watchpost-hostile.XXXXXX)
mounted=""
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "$mounted" ] && umount "$dir/data" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
go build -o "$dir/hostile" ./bench/hostile
source bench/lib.sh
mkdir -p "$dir/data" "$dir/mail"
chmod 711 "$dir"  # smtp-sink writes the mail folder as nobody
if [ "$(id -u)" = 0 ]; then
  mount -t tmpfs -o size=1g tmpfs "$dir/data" && mounted=1
  ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
http=$(freeport); syslog=$(freeport); hook=$(freeport); smtp=$(freeport)
mailcfg=""
if command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ]; then
  chmod 777 "$dir/mail"
  PATH=$PATH:/usr/sbin smtp-sink -u nobody -d "$dir/mail/%M." -c "127.0.0.1:$smtp" 100 >/dev/null 2>&1 &
  waittcp "$smtp"
  mailcfg="  email: {smtp: \"127.0.0.1:$smtp\", tls: none, from: watchpost@bench.test, to: [admins@bench.test]}"
fi
hash=$(echo 'bench-alice-password' | "$dir/watchpost" user hash)
ping=5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42
cat >"$dir/lh.yml" <<YML
server:
  listen: "127.0.0.1:$http"
  syslog_listen: "127.0.0.1:$syslog"
  admin_token: bench-admin-token-0123
  users:
    - {name: alice, password_hash: '$hash'}
storage: {path: $dir/data/watchpost.db}
hosts:
  bench: {token: bench-token-0123456}
  attacker: {token: attacker-token-0123}
heartbeats:
  - {name: nightly-backup, id: $ping, period: 24h, grace: 1h}
self: {enabled: false}
alerting:
$mailcfg
  webhook: {url: "http://127.0.0.1:$hook/hook", secret: bench-webhook-secret-0123}
YML
"$dir/watchpost" serve -config "$dir/lh.yml" >"$dir/lh.log" 2>&1 &
lh=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
echo bench-token-0123456 >"$dir/token"
: >"$dir/lines.log"
"$dir/watchpost" collect -metrics=false -munin-plugins=none -journal=false -server "http://127.0.0.1:$http" \
  -token-file "$dir/token" -state "$dir/collector" -file "$dir/lines.log" >"$dir/collector.log" 2>&1 &
filler=""
[ -n "$mounted" ] && filler="$dir/data/filler"
echo "loghost pid $lh, $(nproc) CPUs, open files $(ulimit -n), phase $phase, $(date -u +%FT%TZ)"
"$dir/hostile" -base "http://127.0.0.1:$http" -syslog "127.0.0.1:$syslog" -admin bench-admin-token-0123 \
  -host-token attacker-token-0123 -shared "$(cat "$dir/data/collector.token")" -loghost-name "$(hostname)" \
  -data "$dir/data" -bin "$dir/watchpost" -lines "$dir/lines.log" -smtp-dir "$dir/mail" -filler "$filler" \
  -hook "127.0.0.1:$hook" -ping "$ping" -pid "$lh" -phase "$phase" -only "${ONLY:-}"
echo
echo "loghost log, warnings and errors by message:"
grep -oE 'level=(WARN|ERROR) msg="[^"]*"' "$dir/lh.log" | sort | uniq -c | sort -rn | head -20
