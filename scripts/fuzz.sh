#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make fuzz: runs every fuzz target (go test -fuzz) for FUZZTIME each
# (default 20s) and prints the executions each ran. A failing input is
# written to the package's testdata/fuzz and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-20s}"
summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
for pkg in $(go list ./internal/...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "==> $pkg $target ($fuzztime)"
    out="$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)" || { echo "$out"; exit 1; }
    execs="$(echo "$out" | sed -n 's/.*execs: \([0-9]*\).*/\1/p' | tail -1)"
    printf '%-32s %12s executions, no failure\n' "$target" "$execs" | tee -a "$summary"
  done
done
echo "== summary ($fuzztime per target)"
cat "$summary"
