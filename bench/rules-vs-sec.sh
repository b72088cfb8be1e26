#!/usr/bin/env bash
# watchpost rules against SEC (Debian's sec) with the same SingleWithThreshold
# rule over the same generated sshd log, side by side with hyperfine.
#   bench/rules-vs-sec.sh [LINES]    (default 200,000; needs sec and hyperfine)
# WATCHPOST=path/to/binary skips the build (it must have `rules test`).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
dir=${BENCH_DIR:-/tmp/watchpost-rules-bench-$n}
mkdir -p "$dir"
wp=${WATCHPOST:-}
if [ -z "$wp" ]; then
  CGO_ENABLED=1 go build -o "$dir/watchpost" ./cmd/watchpost
  wp="$dir/watchpost"
fi
log="$dir/auth.log"
if [ ! -f "$log" ]; then
  # 30% failed passwords from 2,000 addresses, the rest other sshd noise.
  awk -v n="$n" 'BEGIN {
    srand(7)
    for (i = 0; i < n; i++) {
      ts = sprintf("Nov 22 %02d:%02d:%02d", int(i/3600)%24, int(i/60)%60, i%60)
      ip = sprintf("10.0.%d.%d", int(rand()*8), int(rand()*250))
      pid = 1000 + int(rand()*30000); r = int(rand()*10)
      if (r < 3)       printf "%s web1 sshd[%d]: Failed password for root from %s port %d ssh2\n", ts, pid, ip, 1024+int(rand()*60000)
      else if (r == 3) printf "%s web1 sshd[%d]: Accepted publickey for alice from %s port %d ssh2\n", ts, pid, ip, 1024+int(rand()*60000)
      else             printf "%s web1 sshd[%d]: Connection closed by %s port %d [preauth]\n", ts, pid, ip, 1024+int(rand()*60000)
    }
  }' >"$log"
fi
cat >"$dir/sec.conf" <<'SEC'
type=SingleWithThreshold
ptype=RegExp
pattern=sshd\[\d+\]: Failed password for (?:invalid user )?\S+ from ([\d.]+) port
desc=brute force from $1
action=write - brute force from $1
window=60
thresh=5
SEC
cat >"$dir/watchpost.rules" <<'RULES'
# the same rule as sec.conf: 5 failures from one address within 60 s
'sshd\[[0-9]+\]: Failed password for (invalid user )?[^ ]+ from ([0-9.]+) port' - - - 0
	threshold 5 60s by $3 echo "brute force from $3"
RULES
# Both run on the wall clock over a file read in well under the window, so
# each address alerts once: the outputs must agree.
sec --conf="$dir/sec.conf" --input="$log" --notail --fromstart --nointevents --log=/dev/null 2>/dev/null | sort >"$dir/sec.out"
"$wp" rules test -exec -rules "$dir/watchpost.rules" "$log" | sort >"$dir/watchpost.out"
if cmp -s "$dir/sec.out" "$dir/watchpost.out"; then
  echo "same output: $(wc -l <"$dir/sec.out") alerts"
else
  echo "outputs differ: diff $dir/sec.out $dir/watchpost.out" >&2
  exit 1
fi
hyperfine --warmup 1 --runs 5 --export-markdown "$dir/bench.md" \
  "sec --conf=$dir/sec.conf --input=$log --notail --fromstart --nointevents --log=/dev/null" \
  "$wp rules test -exec -rules $dir/watchpost.rules $log"
cat "$dir/bench.md"
