#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make bench: measures, side by side in one run,
#   A) `plan` of a configuration with one ecr_layer_upload (against the local
#      ECR endpoint) whose results feed a provisioner, and
#   B) `plan` of the same configuration with only the terraform_data,
# alternating A and B so that both see the same machine load. Reports the
# medians and their ratio, the provider process's peak RSS and the release
# binary's size; then runs the Go benchmarks.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${BENCH_RUNS:-15}"
tf="${TF:-terraform}"
[ "$tf" = tofu ] && ! command -v tofu >/dev/null && tf="$("$root/scripts/install-tofu.sh")"

work="$(mktemp -d)"
endpoint_pid=""
cleanup() {
  [ -n "$endpoint_pid" ] && kill "$endpoint_pid" 2>/dev/null && wait "$endpoint_pid" 2>/dev/null
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

echo "==> building a release-like provider binary (-trimpath -s -w)"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=0.1.0" -o "$work/real/terraform-provider-ecr" . \
  && go build -o "$work/ecr-local" ./internal/cmd/ecr-local)
binary_bytes="$(stat -c %s "$work/real/terraform-provider-ecr")"

. "$root/scripts/lib.sh"
use_local_credentials
start_endpoint "$work/ecr-local" "$work" -repository bench/app 2>/dev/null
url="$endpoint_url"

# The installed "provider" is a wrapper that runs the real binary under GNU
# time, which appends the process's peak RSS (KiB) to a file when it exits.
write_wrapper() {
  cat > "$1" <<WRAP
#!/bin/sh
exec /usr/bin/time -f %M -a -o "$work/rss" "$work/real/terraform-provider-ecr" "\$@"
WRAP
  chmod +x "$1"
}
install_in_mirror "$work" 0.1.0 write_wrapper

mkdir -p "$work/a" "$work/b"
cat > "$work/a/main.tf" <<TF
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
provider "ecr" {
  region = "eu-west-1"
  endpoints {
    ecr = "$url"
    sts = "$url"
  }
}
ephemeral "ecr_layer_upload" "bench" {
  repository_name = "bench/app"
}
resource "terraform_data" "consumer" {
  provisioner "local-exec" {
    command     = "true"
    environment = { UPLOAD_ID = ephemeral.ecr_layer_upload.bench.upload_id }
  }
}
TF
cat > "$work/b/main.tf" <<TF
resource "terraform_data" "consumer" {
  provisioner "local-exec" {
    command = "true"
  }
}
TF
for c in a b; do (cd "$work/$c" && "$tf" init -no-color >/dev/null); done
: > "$work/rss"

now_ms() { date +%s%3N; }
plan_ms() {
  local start end
  start=$(now_ms)
  (cd "$work/$1" && "$tf" plan -no-color -lock=false >/dev/null)
  end=$(now_ms)
  echo $((end - start))
}
echo "==> $runs plans of each, alternating (with $("$tf" version | head -1))"
: > "$work/a.ms"; : > "$work/b.ms"
plan_ms a >/dev/null; plan_ms b >/dev/null # warm the page cache
for _ in $(seq "$runs"); do
  plan_ms a >> "$work/a.ms"
  plan_ms b >> "$work/b.ms"
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ma="$(median "$work/a.ms")"; mb="$(median "$work/b.ms")"
rss_kib="$(sort -n "$work/rss" | tail -1)"
awk -v a="$ma" -v b="$mb" -v rss="$rss_kib" -v bin="$binary_bytes" -v n="$runs" 'BEGIN {
  printf "plan with ecr_layer_upload:  median %d ms over %d runs\n", a, n
  printf "plan with terraform_data:    median %d ms over %d runs\n", b, n
  printf "ratio:                       %.2fx (goal: at most 3x)\n", a / b
  printf "provider peak RSS:           %.1f MiB (goal: at most 40 MiB)\n", rss / 1024
  printf "provider binary:             %.1f MiB (release build, -s -w)\n", bin / 1048576
}'

echo "==> Go benchmarks"
cd "$root" && go test -run '^$' -bench . -benchmem ./internal/...
