#!/usr/bin/env bash
# Prints the path of a VictoriaLogs v1.24.0 binary, building it first when
# needed: VictoriaLogs lived in the VictoriaMetrics module until v1.121.0,
# which is built in a throwaway module (never Watchpost's go.mod), into the
# same cache the tests use (internal/peers).
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/watchpost-peers/github.com_VictoriaMetrics_VictoriaMetrics_v1.121.0
bin=$cache/bin/victoria-logs
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/src"
  printf 'module example.test/peer\n\ngo 1.24\n\nrequire github.com/VictoriaMetrics/VictoriaMetrics v1.121.0\n' >"$cache/src/go.mod"
  (cd "$cache/src" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 go build -o "$cache/bin/" \
    github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs) >&2
  touch "$cache/built"
fi
echo "$bin"
