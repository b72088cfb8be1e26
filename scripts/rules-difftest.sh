#!/usr/bin/env bash
# The rule engine's differential tests, run longer than the test suite
# does: generated rule files and random regexes through the real logsurfer
# 1.8 (built from internal/peers/logsurfer) and through `rules test -exec`.
# A difference is shrunk to a minimal case, printed, and written to KEEP
# (default /tmp/rules-difftest) as NAME.conf, NAME.log and NAME.out (what
# logsurfer printed): copy one to rules/testdata/oracles/ once understood.
#   scripts/rules-difftest.sh [RULE_CASES] [REGEX_CASES] [SEED]
# (defaults 5,000, 20,000 and the date). Known differences (the README's
# table) are counted, not reported.
set -euo pipefail
cd "$(dirname "$0")/.."
rules=${1:-5000}
regexes=${2:-20000}
seed=${3:-$(date +%Y%m%d)}
keep=${KEEP:-/tmp/rules-difftest}
export CGO_ENABLED=1
exec go test -count=1 -timeout 0 -v -run 'TestDifferential' ./rules -args \
  -rules.diff "$rules" -rules.diffre "$regexes" -rules.seed "$seed" -rules.keep "$keep" -rules.show 20
