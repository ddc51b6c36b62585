#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# test-summary.sh LABEL < go-test-v-output
#   Reads `go test -v` output: passes through package results, failures and
#   skips (below), keeps the full output in $TEST_LOG, and ends with the run's wall
#   time and one line "<label>: N passed, N failed, N skipped" counting every
#   test and subtest.
# test-summary.sh --total LOG...
#   Adds up the runs kept in those logs: "total: N passed, N failed, N skipped".
set -uo pipefail

# Console: package results, failures, the first 10 skips, and test log lines
# (file_test.go:N: ...), each message once: 126 acceptance tests skipped
# without TF_ACC print one line, not 252. All of it is in the log.
count='
  function msg(line) { sub(/^[[:space:]]+[A-Za-z0-9_]+_test\.go:[0-9]+: /, "", line); return line }
  /^[[:space:]]*--- PASS/ { passed++ ; next }
  /^[[:space:]]*--- FAIL/ { failed++ ; if (!quiet) print ; next }
  /^[[:space:]]*--- SKIP/ { skipped++ ; if (!quiet && skipped <= 10) print ; next }
  quiet { next }
  /^[[:space:]]+[A-Za-z0-9_]+_test\.go:[0-9]+:/ { m = msg($0); if (seen[m]++) { repeated++ ; next } ; print ; next }
  /^(ok|FAIL|panic:)/ { print }
  END {
    if (!quiet && skipped > 10) printf "... and %d more skipped\n", skipped - 10
    if (repeated) printf "(%d repeated test log lines not shown)\n", repeated
    if (start) { "date +%s" | getline now ; printf "%s ran %d s\n", label, now - start }
    printf "%s: %d passed, %d failed, %d skipped\n", label, passed, failed, skipped }'

if [ "${1:-}" = --total ]; then
  shift
  cat "$@" | awk -v label=total -v quiet=1 -v start=0 "$count"
  exit
fi

label="$1"
log="${TEST_LOG:-/dev/null}"
start="$(date +%s)"
tee "$log" | awk -v label="$label" -v quiet=0 -v start="$start" "$count"
