#!/usr/bin/env bash
# The logs explorer over the 10-million-line benchmark store: the API's
# own time for a first page with histogram and fields and for day-long
# histograms (bench/explorerbench, in-process), then a regex counted by
# watchpost grep -c against grep -c over the raw file, side by side.
#   bench/explorer-side-by-side.sh [LINES]   (default 10,000,000; needs hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
dir=${BENCH_DIR:-/tmp/watchpost-bench-$n}
go build -o /tmp/watchpost-bench-bin ./cmd/watchpost
go build -o /tmp/watchpost-explorerbench ./bench/explorerbench
if [ ! -f "$dir/watchpost.db" ]; then
  go run ./bench/benchdata -n "$n" -dir "$dir"
else
  # a store built by an older version: migrate it and write its block stats
  # (its blocks keep the signature keys of that version: delete the folder
  # to measure the current ones)
  go run ./bench/benchdata -upgrade -dir "$dir"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
cat "$dir/raw.log" "$dir/watchpost.db" >/dev/null # warm the page cache for both
/tmp/watchpost-explorerbench -dir "$dir" -runs 10
wp="/tmp/watchpost-bench-bin grep -data $dir"
# --output=pipe: GNU grep writing to /dev/null stops at the first match.
hyperfine --warmup 2 --runs 10 --output=pipe --export-markdown /tmp/watchpost-explorer-bench.md \
  "grep -c -E 'Killed process 4242[0-9] ' $dir/raw.log" \
  "$wp -c message~'Killed process 4242[0-9] '" \
  "grep -c -E 'Failed password for .* from 10\.1\.' $dir/raw.log" \
  "$wp -c message~'Failed password for .* from 10\.1\.'" \
  "grep -c -E 'Failed password for .* port 2[0-9]{4} ' $dir/raw.log" \
  "$wp -c message~'Failed password for .* port 2[0-9]{4} '"
cat /tmp/watchpost-explorer-bench.md
