#!/usr/bin/env bash
# Reads `go test -v` output: passes through package results, failures and
# skips, keeps the full output in $TEST_LOG, and ends with one line
# "<label>: N passed, N failed, N skipped" counting every test and subtest.
set -uo pipefail
label="$1"
log="${TEST_LOG:-/dev/null}"
tee "$log" | awk -v label="$label" '
  /^[[:space:]]*--- PASS/ { passed++ ; next }
  /^[[:space:]]*--- FAIL/ { failed++ ; print ; next }
  /^[[:space:]]*--- SKIP/ { skipped++ ; print ; next }
  /^(ok|FAIL|panic:)/ || /^[[:space:]]+[a-z_]+_test\.go:[0-9]+:/ { print }
  END { printf "%s: %d passed, %d failed, %d skipped\n", label, passed, failed, skipped }'
