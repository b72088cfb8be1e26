#!/usr/bin/env bash
# watchpost grep against grep(1) over the same generated lines.
#   bench/grep-side-by-side.sh [LINES]      (default 10,000,000; needs hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
dir=${BENCH_DIR:-/tmp/watchpost-bench-$n}
go build -o /tmp/watchpost-bench-bin ./cmd/watchpost
if [ ! -f "$dir/watchpost.db" ]; then
  go run ./bench/benchdata -n "$n" -dir "$dir"
fi
db=$(stat -c %s "$dir/watchpost.db"); raw=$(stat -c %s "$dir/raw.log")
echo "store file: $db bytes; raw log: $raw bytes; ratio $(awk "BEGIN{print $db/$raw}")"
wp="/tmp/watchpost-bench-bin grep -data $dir"
# --output=pipe: GNU grep writing to /dev/null stops at the first match,
# even with -c, which would make the baseline meaningless.
# warm the page cache for both
cat "$dir/raw.log" "$dir/watchpost.db" >/dev/null
hyperfine --warmup 2 --runs 10 --output=pipe --export-markdown /tmp/watchpost-grep-bench.md \
  "grep -c -i -F quokka $dir/raw.log" \
  "$wp quokka" \
  "grep -c -E 'web1 sshd\[' $dir/raw.log" \
  "$wp -since '2026-11-06 00:00' -until '2026-11-06 01:00' host=web1 program=sshd" \
  "grep -c -E 'Killed process 4242[0-9] ' $dir/raw.log" \
  "$wp message~'Killed process 4242[0-9] '"
cat /tmp/watchpost-grep-bench.md
