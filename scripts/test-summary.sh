#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# test-summary.sh LABEL < go-test-v-output
#   Reads `go test -v` output: passes through package results, failures and
#   skips, keeps the full output in $TEST_LOG, and ends with the run's wall
#   time and one line "<label>: N passed, N failed, N skipped" counting every
#   test and subtest.
# test-summary.sh --total LOG...
#   Adds up the runs kept in those logs: "total: N passed, N failed, N skipped".
set -uo pipefail

count='
  /^[[:space:]]*--- PASS/ { passed++ ; next }
  /^[[:space:]]*--- FAIL/ { failed++ ; if (!quiet) print ; next }
  /^[[:space:]]*--- SKIP/ { skipped++ ; if (!quiet) print ; next }
  !quiet && (/^(ok|FAIL|panic:)/ || /^[[:space:]]+[a-z_]+_test\.go:[0-9]+:/) { print }
  END {
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
