#!/usr/bin/env bash
# watchpost stats against GoAccess 1.7 and AWStats 7.8 on one generated
# combined log: lines per second (hyperfine mean) and max RSS (GNU time).
#   bench/webstats-side-by-side.sh [LINES]     (default 200,000)
# The log comes from the fixture generator in bench/webstats; the timed
# command is the real binary's `watchpost stats`.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
dir=${BENCH_DIR:-/tmp/watchpost-webstats-bench-$n}
mkdir -p "$dir/aw"
bin=$dir/webstats
go build -o "$bin" ./bench/webstats
go build -o "$dir/watchpost" ./cmd/watchpost
log=$dir/access.log
[ -f "$log" ] || "$bin" gen -lines "$n" -days 10 -o "$log"
lines=$(wc -l <"$log")
echo "log: $log, $lines lines, $(stat -c %s "$log") bytes"
cat >"$dir/aw/awstats.bench.conf" <<CONF
LogFile="$log"
LogType=W
LogFormat=1
SiteDomain="www.example.com"
HostAliases="localhost"
DirData="$dir/aw/data"
DNSLookup=0
NotPageList="css js class gif jpg jpeg png bmp ico rss xml swf eot woff woff2"
CONF
awstats=/usr/lib/cgi-bin/awstats.pl
wp="$dir/watchpost stats -format json -o $dir/wp.json $log"
ga="goaccess $log --log-format=COMBINED --no-global-config -o $dir/ga.json"
# AWStats skips lines it has already counted: start every run empty.
aw="perl $awstats -configdir=$dir/aw -config=bench -update"
prep="rm -rf $dir/aw/data && mkdir -p $dir/aw/data"
cat "$log" >/dev/null
hyperfine --warmup 1 --runs ${RUNS:-5} --export-json "$dir/times.json" \
  -n "watchpost stats" "$wp" \
  -n "goaccess 1.7" "$ga" \
  -n "awstats 7.8" --prepare "$prep" "$aw" >&2
rss() { eval "$prep"; /usr/bin/time -f %M sh -c "$1 >/dev/null 2>&1" 2>&1 | tail -1; }
echo
echo "| tool | mean time (s) | lines/s | max RSS (MiB) |"
echo "|---|---:|---:|---:|"
i=0
for cmd in "$wp" "$ga" "$aw"; do
  read -r name mean < <(python3 -c "import json,sys; r=json.load(open('$dir/times.json'))['results'][$i]; print(r['command'].replace(' ','_'), r['mean'])")
  kb=$(rss "$cmd")
  printf '| %s | %.3f | %.0f | %.0f |\n' "${name//_/ }" "$mean" "$(python3 -c "print($lines/$mean)")" "$(python3 -c "print($kb/1024)")"
  i=$((i + 1))
done
