#!/usr/bin/env bash
# watchpost rules against the real logsurfer 1.8 (built from
# internal/peers/logsurfer), side by side in one run, whole process:
#   1. two rules with echo actions over 1,000,000 sshd lines;
#   2. one context per failing client address over 60,000 lines.
# Both outputs must be identical before anything is timed.
#   bench/rules-vs-logsurfer.sh [RUNS]      (default 3; hyperfine when installed)
# WATCHPOST=path/to/binary skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dir=${BENCH_DIR:-/tmp/watchpost-rules-vs-logsurfer}
mkdir -p "$dir"
wp=${WATCHPOST:-}
if [ -z "$wp" ]; then
  CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
  wp="$dir/watchpost"
fi
# The plain build: with no children it exits at once.
ls=$(internal/peers/logsurfer/build.sh)

gen() { # gen LINES ADDRESSES: sshd lines as an sshd under a steady brute force logs them
  awk -v n="$1" -v addrs="$2" 'BEGIN {
    srand(7)
    split("root admin alice bob oracle test ubuntu git", users, " ")
    for (i = 0; i < n; i++) {
      ts = sprintf("Nov 22 %02d:%02d:%02d", int(i/3600)%24, int(i/60)%60, i%60)
      k = int(rand()*addrs); ip = sprintf("10.%d.%d.%d", int(k/65536)%256, int(k/256)%256, k%256)
      pid = 1000 + int(rand()*30000); user = users[1+int(rand()*8)]; port = 1024+int(rand()*60000); r = int(rand()*10)
      if (r < 3) printf "%s web1 sshd[%d]: Failed password for %s%s from %s port %d ssh2\n", ts, pid, (r == 0 ? "invalid user " : ""), user, ip, port
      else if (r == 3) printf "%s web1 sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:Zk3\n", ts, pid, user, ip, port
      else if (r < 7) printf "%s web1 sshd[%d]: Connection closed by %s port %d [preauth]\n", ts, pid, ip, port
      else printf "%s web1 sshd[%d]: pam_unix(sshd:session): session closed for user %s\n", ts, pid, user
    }
  }'
}
[ -f "$dir/auth-1m.log" ] || gen 1000000 50000 >"$dir/auth-1m.log"
[ -f "$dir/auth-60k.log" ] || gen 60000 60000 >"$dir/auth-60k.log"

cat >"$dir/two-rules.conf" <<'RULES'
'sshd\[[0-9]+\]: Failed password for (invalid user )?[^ ]+ from [0-9.]+ port' - - - 0 echo "failed password"
'sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)' - - - 0 echo "login $3 from $4"
RULES
cat >"$dir/contexts.conf" <<'RULES'
'sshd\[[0-9]+\]: Failed password for .* from ([0-9.]+) port' - - - 0
	open "from $2 port" - 5 0 3600 echo "$lines failures from $2"
'.*' - - - 0 ignore
RULES

for w in two-rules:auth-1m contexts:auth-60k; do
  conf=$dir/${w%%:*}.conf log=$dir/${w##*:}.log
  (cd "$dir" && "$ls" -c "$conf" "$log" 2>/dev/null) >"$dir/${w%%:*}.logsurfer.out"
  "$wp" rules test -exec -rules "$conf" "$log" >"$dir/${w%%:*}.watchpost.out"
  if ! cmp -s "$dir/${w%%:*}.logsurfer.out" "$dir/${w%%:*}.watchpost.out"; then
    echo "outputs differ: diff $dir/${w%%:*}.logsurfer.out $dir/${w%%:*}.watchpost.out" >&2
    exit 1
  fi
  echo "${w%%:*}: same output, $(wc -l <"$dir/${w%%:*}.watchpost.out") lines"
done

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for w in two-rules:auth-1m contexts:auth-60k; do
  conf=$dir/${w%%:*}.conf log=$dir/${w##*:}.log
  if command -v hyperfine >/dev/null; then
    # logsurfer takes minutes over the contexts: once is enough there.
    lsruns=$runs warm=1
    [ "${w%%:*}" = contexts ] && lsruns=1 warm=0
    hyperfine --warmup "$warm" --runs "$lsruns" --export-markdown "$dir/${w%%:*}-logsurfer.md" \
      "cd $dir && $ls -c $conf $log >/dev/null 2>&1"
    hyperfine --warmup 1 --runs "$runs" --export-markdown "$dir/${w%%:*}-watchpost.md" \
      "$wp rules test -exec -rules $conf $log >/dev/null"
  else
    for i in $(seq "$runs"); do
      s=$(date +%s.%N); (cd "$dir" && "$ls" -c "$conf" "$log" >/dev/null 2>&1); m=$(date +%s.%N)
      "$wp" rules test -exec -rules "$conf" "$log" >/dev/null; e=$(date +%s.%N)
      awk -v w="${w%%:*}" -v a="$(echo "$m - $s" | bc)" -v b="$(echo "$e - $m" | bc)" \
        'BEGIN { printf "%s: logsurfer %.3f s, watchpost %.3f s: %.1fx\n", w, a, b, a/b }'
    done
  fi
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
