#!/bin/sh
# Builds the real logsurfer 1.8 (a test peer: the rule engine's compatibility oracle) from the
# source tarball beside this script, into DEST (default: a cache folder), and prints the path of
# the binary. Needs gcc and make. The source is logsurfer 1.8 as released by DFN-CERT (see
# DISCLAIMER and README.md here); it is never linked into Watchpost.
#   internal/peers/logsurfer/build.sh [DEST]
# With FAST_EXIT=1 the 5 s that logsurfer sleeps at exit while its children finish becomes 20 ms
# (src/exit.c), which only changes how long it takes to exit: for running many cases.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/watchpost-peers/logsurfer-1.8${FAST_EXIT:+-fastexit}}
if [ -x "$dest/src/logsurfer" ]; then echo "$dest/src/logsurfer"; exit 0; fi
tmp=$(mktemp -d)
tar -xzf "$here/logsurfer-1.8.tar.gz" -C "$tmp"
rm -rf "$dest"; mkdir -p "$(dirname "$dest")"
mv "$tmp/logsurfer-1.8" "$dest"; rmdir "$tmp"
cd "$dest"
[ -n "${FAST_EXIT:-}" ] && sed -i 's/(void) sleep(5);/(void) usleep(20000);/' src/exit.c
chmod +x configure install-sh src/install-sh man/install-sh 2>/dev/null || true
./configure >configure.log 2>&1 || { tail -20 configure.log >&2; exit 1; }
make CFLAGS="-O2 -fcommon -w -std=gnu89" >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
echo "$dest/src/logsurfer"
