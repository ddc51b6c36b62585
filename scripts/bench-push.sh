#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# The push benchmarks of issues 9 (ecr_layer) and 10 (ecr_image), side by
# side in one run, against the local ECR endpoint on loopback. It reports
# medians and ratios; it asserts nothing about times.
#
#  a) one BENCH_SIZE_MIB file of random bytes: `apply` of one ecr_layer (with
#     a fresh digest cache, and with the digest cached by an earlier plan),
#     next to sha256sum of the file (the hashing floor; openssl's SHA-NI
#     sha256 as well), a loop of `aws ecr upload-layer-part` calls
#     (BENCH_CLI_MIB of 10 MiB parts, scaled to the file's size) and
#     `crane push` of the same bytes as a one-layer image to
#     go-containerregistry's registry on loopback;
#  b) the provider process's peak RSS pushing BENCH_RSS_SIZES MiB;
#  c) re-plan of an unchanged ecr_layer of the big file next to one of 1 KiB;
#  d) a BENCH_IMAGE_LAYERS-layer image of BENCH_IMAGE_MIB as an OCI layout:
#     `apply` of one ecr_image next to `crane push` of the layout; re-apply
#     (parts sent: must be 0); plan next to the plan of a 1-layer tiny image;
#     peak RSS;
#  e) a for_each of BENCH_EACH_IMAGES images of 4 layers of
#     BENCH_EACH_LAYER_MIB MiB, the first layer shared by all: one apply per
#     -parallelism in BENCH_EACH_PARALLELISM, each to a fresh endpoint: the
#     provider's peak RSS, and uploads and parts sent against the distinct
#     blobs and parts (each blob sent once: 1.00x);
#  f) the wire floor: what ECR's API makes any client spend per GiB (base64
#     of the bytes, sha256 of the base64 text, in Go, on this machine), next
#     to the provider's CPU per GiB in a).
# Every push goes to a fresh endpoint (or registry), so it sends every byte.
# The table goes to stdout and to bin/bench-push.txt.
#
# Quick run: BENCH_SIZE_MIB=64 BENCH_RSS_SIZES="16 64" BENCH_IMAGE_MIB=64 \
#   BENCH_RUNS=1 BENCH_PLAN_RUNS=3 BENCH_CLI_MIB=20 scripts/bench-push.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tf="${TF:-terraform}"
[ "$tf" = tofu ] && ! command -v tofu >/dev/null && tf="$("$root/scripts/install-tofu.sh")"
size_mib="${BENCH_SIZE_MIB:-1024}"
rss_sizes="${BENCH_RSS_SIZES:-100 1024 4096}"
image_mib="${BENCH_IMAGE_MIB:-1024}"
image_layers="${BENCH_IMAGE_LAYERS:-10}"
runs="${BENCH_RUNS:-3}"
plan_runs="${BENCH_PLAN_RUNS:-9}"
cli_mib="${BENCH_CLI_MIB:-100}"
each_images="${BENCH_EACH_IMAGES:-20}"
each_layer_mib="${BENCH_EACH_LAYER_MIB:-12}"
each_parallelism="${BENCH_EACH_PARALLELISM:-10 30}"
part_mib=10    # the endpoint's part size (ECR's today)
parallel=4     # ecrpush.DefaultParallelism: the blobs an ecr_image sends at once
# Memory per blob in flight: two part buffers of base64 text (2 x 13.3 MiB
# at 10 MiB parts) and the request being written: 32 MiB, rounded up.
blob_mib=32
repo=bench/app
region=eu-west-1

. "$root/scripts/lib.sh"
. "$root/scripts/lib-push.sh"

work="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-push.XXXXXX")"
endpoint_pid=""
registry_pid=""
stop_registry() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  registry_pid=""
}
cleanup() {
  stop_endpoint
  stop_registry
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
t0=$SECONDS

echo "==> building a release-like provider (-trimpath -s -w), the local endpoint, crane and registry $GGCR_VERSION"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=0.1.0" -o "$work/real/terraform-provider-ecr" . \
  && go build -o "$work/ecr-local" ./internal/cmd/ecr-local)
crane="$(peer_bin crane)"
registry="$(peer_bin registry)"
have_aws=""; command -v aws >/dev/null && have_aws=1
have_openssl=""; command -v openssl >/dev/null && have_openssl=1

use_local_credentials
export DOCKER_CONFIG="$work/docker"
# The installed "provider" runs the real binary under GNU time, which appends
# the process's peak RSS (KiB), user and system CPU seconds to $BENCH_RSS_FILE.
write_wrapper() {
  cat > "$1" <<WRAP
#!/bin/sh
exec /usr/bin/time -f "%M %U %S" -a -o "\${BENCH_RSS_FILE:-$work/rss.other}" "$work/real/terraform-provider-ecr" "\$@"
WRAP
  chmod +x "$1"
}
install_in_mirror "$work" 0.1.0 write_wrapper

# Configurations: one ecr_layer, one ecr_image; each directory has its state.
provider_block='provider "ecr" {
  region = "'$region'"
  endpoints {
    ecr = var.endpoint
    sts = var.endpoint
  }
}
variable "endpoint" { type = string }
variable "source_path" { type = string }
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}'
mkdir -p "$work/each"
echo "$provider_block" > "$work/each/main.tf"
cat >> "$work/each/main.tf" <<TF
variable "sources" { type = map(string) }
resource "ecr_image" "each" {
  for_each        = var.sources
  repository_name = "$repo"
  source          = each.value
  tags            = [each.key]
}
TF
(cd "$work/each" && "$tf" init -no-color >/dev/null)
for dir in layer c-big c-small image d-tiny; do
  mkdir -p "$work/$dir"
  echo "$provider_block" > "$work/$dir/main.tf"
  case "$dir" in
    image | d-tiny) kind=ecr_image ;;
    *) kind=ecr_layer ;;
  esac
  cat >> "$work/$dir/main.tf" <<TF
resource "$kind" "bench" {
  repository_name = "$repo"
  source          = var.source_path
}
TF
  (cd "$work/$dir" && "$tf" init -no-color >/dev/null)
done

now_ms() { date +%s%3N; }
# run_logged CMD...: runs CMD with its output in a log, shown if it fails.
run_logged() {
  local log
  "$@" > "$work/last.log" 2>&1 && return 0
  echo "failed: $*" >&2
  tail -40 "$work/last.log" >&2
  for log in "$work/ep/log" "$work/registry.log"; do
    if [ -f "$log" ]; then echo "--- the end of $log:" >&2; tail -5 "$log" >&2; fi
  done
  [ -n "$registry_pid" ] && ! kill -0 "$registry_pid" 2>/dev/null && echo "(the registry, pid $registry_pid, is gone)" >&2
  return 1
}
# child_cpu: user+system CPU seconds of this shell's waited-for children
# (a terraform's includes its provider processes').
# (The builtin runs in this shell, not in a command substitution's fork.)
child_cpu() {
  times > "$work/times"
  awk 'NR == 2 {split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$work/times"
}
# pid_cpu PID: user+system CPU seconds of a running process (a server's).
pid_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$1/stat"; }
# timed NAME CMD...: runs CMD and appends its wall time (ms) to NAME and the
# CPU seconds it and its children used to NAME.cpu.
timed() {
  local name="$1" start cpu
  shift
  child_cpu > "$work/cpu0"
  start=$(now_ms)
  run_logged "$@"
  echo $(($(now_ms) - start)) >> "$work/$name"
  child_cpu > "$work/cpu1"
  cpu="$(cat "$work/cpu0")"
  awk -v a="$cpu" -v b="$(cat "$work/cpu1")" 'BEGIN {printf "%.2f\n", b - a}' >> "$work/$name.cpu"
}
tf_in() { local dir="$1"; shift; (cd "$work/$dir" && "$tf" "$@" -no-color -var "endpoint=$endpoint_url"); }
# fresh_endpoint: a new endpoint (nothing pushed yet), logging to $work/ep/log.
fresh_endpoint() {
  stop_endpoint
  rm -rf "$work/ep"
  mkdir -p "$work/ep"
  start_endpoint "$work/ecr-local" "$work/ep" -dir "$work/ep" -region "$region" -repository "$repo" 2> "$work/ep/log"
}
# fresh_registry: a new go-containerregistry registry (it keeps blobs in
# memory), answering on registry_host.
fresh_registry() {
  local attempt
  for attempt in 1 2 3; do
    stop_registry
    "$registry" -port 0 2> "$work/registry.log" &
    registry_pid=$!
    for _ in $(seq 100); do grep -q 'serving on port' "$work/registry.log" 2>/dev/null && break; sleep 0.1; done
    registry_host="localhost:$(grep -o 'serving on port [0-9]*' "$work/registry.log" | awk '{print $4}')"
    curl -sf -o /dev/null "http://$registry_host/v2/" && return 0
    echo "the registry did not answer (attempt $attempt): $(tail -3 "$work/registry.log")" >&2
  done
  return 1
}
parts_sent() { grep -c 'UploadLayerPart .*: ok' "$work/ep/log" || true; }
median() { sort -n "$work/$1" | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# rss_max FILE: the largest peak RSS (MiB) of the provider processes in FILE.
rss_max() { sort -n "$work/$1" | tail -1 | awk '{printf "%.1f", $1 / 1024}'; }
# cpu_sum FILE: user+system CPU seconds of the provider processes in FILE.
cpu_sum() { awk '{s += $2 + $3} END {printf "%.1f\n", s}' "$work/$1"; }
random_file() { head -c "$(($2 * 1048576))" /dev/urandom > "$1"; }

echo "==> making the files: ${size_mib} MiB, 1 KiB, and a ${image_layers}-layer image of ${image_mib} MiB"
big="$work/big.bin"
random_file "$big" "$size_mib"
layout_big="$work/layout-big"
write_layout "$layout_big" application/vnd.oci.image.layer.v1.tar "$big" >/dev/null
head -c 1024 /dev/urandom > "$work/small.bin"
layer_files=()
for i in $(seq "$image_layers"); do
  random_file "$work/image-layer-$i" $((image_mib / image_layers))
  layer_files+=("$work/image-layer-$i")
done
write_layout "$work/layout-image" application/vnd.oci.image.layer.v1.tar "${layer_files[@]}" >/dev/null
rm -f "${layer_files[@]}" # the layout holds the only links now
write_layout "$work/layout-tiny" application/vnd.oci.image.layer.v1.tar "$work/small.bin" >/dev/null
random_file "$work/each-base" "$each_layer_mib"
echo '{"sources": {' > "$work/each.tfvars.json"
for i in $(seq "$each_images"); do
  own=()
  for l in 1 2 3; do random_file "$work/each-$i-$l" "$each_layer_mib"; own+=("$work/each-$i-$l"); done
  write_layout "$work/layout-each-$i" application/vnd.oci.image.layer.v1.tar "$work/each-base" "${own[@]}" >/dev/null
  rm -f "${own[@]}"
  printf '%s"img%02d": "%s"\n' "$([ "$i" -gt 1 ] && echo ,)" "$i" "$work/layout-each-$i" >> "$work/each.tfvars.json"
done
echo '}}' >> "$work/each.tfvars.json"
rm -f "$work/each-base"
# Digests are recorded only for files older than the racy-git window (2 s).
sleep 3
if [ -n "$have_aws" ]; then
  mkdir -p "$work/parts"
  head -c "$((cli_mib * 1048576))" "$big" | split -b "$((part_mib * 1048576))" -d -a 4 - "$work/parts/part."
fi

# --- a) one file ----------------------------------------------------------
echo "==> a) ${size_mib} MiB: $runs rounds of sha256sum, apply (fresh cache), apply (digest cached), apply of 1 KiB, crane push, CLI loop"
export TF_ECR_CACHE_DIR="$work/cache-warm"
fresh_endpoint
run_logged tf_in layer plan -var "source_path=$big" # records the digest the warm runs use
cli_loop() {
  local upload first=0 size part
  upload="$(aws ecr initiate-layer-upload --endpoint-url "$endpoint_url" --region "$region" \
    --repository-name "$repo" --query uploadId --output text)"
  for part in "$work"/parts/part.*; do
    size="$(stat -c %s "$part")"
    aws ecr upload-layer-part --endpoint-url "$endpoint_url" --region "$region" --repository-name "$repo" \
      --upload-id "$upload" --part-first-byte "$first" --part-last-byte "$((first + size - 1))" \
      --layer-part-blob "fileb://$part" >/dev/null
    first=$((first + size))
  done
}
for i in $(seq "$runs"); do
  timed a.sha256sum sha256sum "$big"
  [ -n "$have_openssl" ] && timed a.openssl openssl dgst -sha256 "$big"

  fresh_endpoint
  rm -f "$work/layer/terraform.tfstate"*
  TF_ECR_CACHE_DIR="$work/cache-cold-$i" BENCH_RSS_FILE="$work/a.cold.rss.$i" \
    timed a.cold tf_in layer apply -auto-approve -var "source_path=$big"
  pid_cpu "$endpoint_pid" >> "$work/a.cold.srv"
  cpu_sum "a.cold.rss.$i" >> "$work/a.cold.provider"
  rm -rf "$work/cache-cold-$i"

  fresh_endpoint
  rm -f "$work/layer/terraform.tfstate"*
  BENCH_RSS_FILE="$work/a.warm.rss.$i" timed a.warm tf_in layer apply -auto-approve -var "source_path=$big"
  pid_cpu "$endpoint_pid" >> "$work/a.warm.srv"
  cpu_sum "a.warm.rss.$i" >> "$work/a.warm.provider"
  [ "$(parts_sent)" -gt 0 ] || { echo "the apply sent no part" >&2; exit 1; }

  # Terraform's own share: the same apply of a 1 KiB file.
  fresh_endpoint
  rm -f "$work/c-small/terraform.tfstate"*
  BENCH_RSS_FILE="$work/a.tiny.rss.$i" timed a.tiny tf_in c-small apply -auto-approve -var "source_path=$work/small.bin"
  cpu_sum "a.tiny.rss.$i" >> "$work/a.tiny.provider"

  fresh_registry
  timed a.crane "$crane" push "$layout_big" "$registry_host/$repo:v1"
  pid_cpu "$registry_pid" >> "$work/a.crane.srv"
  stop_registry

  if [ -n "$have_aws" ]; then
    fresh_endpoint
    timed a.cli cli_loop
    pid_cpu "$endpoint_pid" >> "$work/a.cli.srv"
  fi
done
stop_endpoint
rm -rf "$work/parts"

# --- c) re-plan of the big layer vs a 1 KiB one ------------------------------
echo "==> c) re-plan of an unchanged ecr_layer: ${size_mib} MiB next to 1 KiB, $plan_runs each, alternating"
export TF_ECR_CACHE_DIR="$work/cache-c"
fresh_endpoint
run_logged tf_in c-big apply -auto-approve -var "source_path=$big"
run_logged tf_in c-small apply -auto-approve -var "source_path=$work/small.bin"
run_logged tf_in c-big plan -var "source_path=$big"
run_logged tf_in c-small plan -var "source_path=$work/small.bin"
for _ in $(seq "$plan_runs"); do
  timed c.big tf_in c-big plan -detailed-exitcode -var "source_path=$big"
  timed c.small tf_in c-small plan -detailed-exitcode -var "source_path=$work/small.bin"
done
stop_endpoint
rm -rf "$big" "$layout_big" # the layout's link too

# --- b) peak RSS by size ----------------------------------------------------
echo "==> b) peak RSS of the provider pushing ${rss_sizes// / and } MiB"
for s in $rss_sizes; do
  random_file "$work/rss.bin" "$s"
  fresh_endpoint
  rm -f "$work/layer/terraform.tfstate"*
  rm -rf "$work/cache-b"
  TF_ECR_CACHE_DIR="$work/cache-b" BENCH_RSS_FILE="$work/b.rss.$s" \
    timed "b.ms.$s" tf_in layer apply -auto-approve -var "source_path=$work/rss.bin"
  stop_endpoint
  rm -f "$work/rss.bin"
done

# --- d) an image from an OCI layout ------------------------------------------
echo "==> d) ${image_layers}-layer image of ${image_mib} MiB: $runs rounds of apply (ecr_image) and crane push"
export TF_ECR_CACHE_DIR="$work/cache-d"
for i in $(seq "$runs"); do
  fresh_endpoint
  rm -f "$work/image/terraform.tfstate"*
  BENCH_RSS_FILE="$work/d.rss" timed d.apply tf_in image apply -auto-approve -var "source_path=$work/layout-image"
  pid_cpu "$endpoint_pid" >> "$work/d.apply.srv"
  [ "$(parts_sent)" -gt 0 ] || { echo "the apply sent no part" >&2; exit 1; }
  fresh_registry
  timed d.crane "$crane" push "$work/layout-image" "$registry_host/$repo:v1"
  pid_cpu "$registry_pid" >> "$work/d.crane.srv"
  stop_registry
done
echo "==> d) re-apply of the unchanged image, then plans: it next to a 1-layer tiny image, $plan_runs each"
before="$(parts_sent)"
timed d.reapply tf_in image apply -auto-approve -var "source_path=$work/layout-image"
reapply_parts=$(($(parts_sent) - before))
rm -f "$work/image/terraform.tfstate"* # the image is in ECR, the state forgets it
before="$(parts_sent)"
timed d.repush tf_in image apply -auto-approve -var "source_path=$work/layout-image"
repush_parts=$(($(parts_sent) - before))
run_logged tf_in d-tiny apply -auto-approve -var "source_path=$work/layout-tiny"
run_logged tf_in image plan -var "source_path=$work/layout-image"
run_logged tf_in d-tiny plan -var "source_path=$work/layout-tiny"
for _ in $(seq "$plan_runs"); do
  timed d.plan.big tf_in image plan -detailed-exitcode -var "source_path=$work/layout-image"
  timed d.plan.tiny tf_in d-tiny plan -detailed-exitcode -var "source_path=$work/layout-tiny"
done
stop_endpoint

# --- e) a for_each of images sharing a base layer ----------------------------
echo "==> e) for_each of $each_images images (4 layers of $each_layer_mib MiB, the first shared) at -parallelism ${each_parallelism// / and }"
export TF_ECR_CACHE_DIR="$work/cache-e"
completions() { grep -c 'CompleteLayerUpload .*: ok' "$work/ep/log" || true; }
for p in $each_parallelism; do
  fresh_endpoint
  rm -f "$work/each/terraform.tfstate"*
  BENCH_RSS_FILE="$work/e.rss.$p" timed "e.ms.$p" tf_in each apply -auto-approve -parallelism="$p" -var source_path=unused -var-file="$work/each.tfvars.json"
  echo "$(completions)" > "$work/e.uploads.$p"
  echo "$(parts_sent)" > "$work/e.parts.$p"
  stop_endpoint
done

# --- f) the wire floor --------------------------------------------------------
echo "==> f) the wire floor: base64 + sha256 of the base64, in Go, per GiB"
(cd "$root" && go test ./internal/ecrpush -run '^$' -bench '^BenchmarkWireFloor$' -benchtime 3x) \
  | awk '/cpu-s\/GiB/ { for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-s/GiB") print $i }' | tail -1 > "$work/f.floor"

# --- the table -------------------------------------------------------------
# Every median goes into one file of name=value lines that awk reads.
figures="$work/figures"
: > "$figures"
for f in "$work"/a.* "$work"/c.* "$work"/d.* "$work"/b.ms.* "$work"/e.ms.*; do
  case "$f" in *.rss*) continue ;; esac
  if [ -f "$f" ]; then echo "$(basename "$f")=$(median "$(basename "$f")")" >> "$figures"; fi
done
for s in $rss_sizes; do echo "rss.$s=$(rss_max "b.rss.$s")" >> "$figures"; done
{
  echo "rss.a=$(cat "$work"/a.cold.rss.* "$work"/a.warm.rss.* | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')"
  echo "rss.d=$(rss_max d.rss)"
  echo "parts.reapply=$reapply_parts"
  echo "parts.repush=$repush_parts"
  echo "floor=$(cat "$work/f.floor")"
  for p in $each_parallelism; do
    echo "e.rss.$p=$(rss_max "e.rss.$p")"
    echo "e.uploads.$p=$(cat "$work/e.uploads.$p")"
    echo "e.parts.$p=$(cat "$work/e.parts.$p")"
  done
} >> "$figures"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
table="$work/table.txt"
{
  echo "bench-push, $started: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $load_start at start, $load_end at end; $(((SECONDS - t0) / 60)) min in all"
  echo "command: BENCH_SIZE_MIB=$size_mib BENCH_RSS_SIZES=\"$rss_sizes\" BENCH_IMAGE_MIB=$image_mib BENCH_IMAGE_LAYERS=$image_layers BENCH_RUNS=$runs BENCH_PLAN_RUNS=$plan_runs BENCH_CLI_MIB=$cli_mib TF=$tf scripts/bench-push.sh"
  echo "with $("$tf" version | head -1), crane and registry $GGCR_VERSION${have_aws:+, $(aws --version 2>&1 | cut -d' ' -f1)}; each figure the median of $runs runs (plans: $plan_runs)"
  echo "wall: elapsed time; client CPU: the command and its children (terraform with its provider processes); server CPU: the endpoint's or registry's"
  echo
  awk -F= -v size="$size_mib" -v climib="$cli_mib" -v isize="$image_mib" -v layers="$image_layers" \
    -v rsssizes="$rss_sizes" -v bound="$((blob_mib + 40))" -v dbound="$((blob_mib * parallel + 40))" \
    -v par="$parallel" -v repo="$repo" -v eimages="$each_images" -v emib="$each_layer_mib" -v epar="$each_parallelism" \
    -v partmib="$part_mib" -v inflight=6 '
  { f[$1] = $2 }
  function s(ms) { return (ms == "" || ms == "nan") ? "n/a" : sprintf("%.2f s", ms / 1000) }
  function c(x) { return (x == "" || x == "nan") ? "n/a" : sprintf("%.1f s", x) }
  function r(a, b) { return (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) ? "n/a" : sprintf("%.2fx", a / b) }
  function met(ok) { return ok ? "met" : "NOT met" }
  function row(what, wall, cpu, srv, how) { printf "%-40s %9s %11s %11s  %s\n", what, wall, cpu, srv, how }
  function fig(what, k, how) { row(what, s(f[k]), c(f[k ".cpu"]), c(f[k ".srv"]), how) }
  function goal(what, a, b, text, ok) { row(what, r(a, b), "", "", text ": " ((a == "" || b == "" || a == "nan" || b == "nan") ? "n/a" : met(ok))) }
  END {
    row("", "wall", "client CPU", "server CPU", "")
    row("a) one " size " MiB file of random bytes", "", "", "", "")
    fig("  sha256sum", "a.sha256sum", "sha256sum FILE (the hashing floor)")
    fig("  openssl sha256", "a.openssl", "openssl dgst -sha256 FILE (SHA-NI)")
    fig("  provider, fresh digest cache", "a.cold", "apply of one ecr_layer: plan hashes the file, apply pushes it; provider CPU " c(f["a.cold.provider"]))
    fig("  provider, digest cached", "a.warm", "the same with the digest a plan recorded; provider CPU " c(f["a.warm.provider"]))
    fig("  provider, 1 KiB file", "a.tiny", "the same apply of a 1 KiB file: what Terraform itself takes")
    fig("  crane push", "a.crane", "crane push LAYOUT localhost:PORT/" repo ":v1 (go-containerregistry registry, same bytes)")
    cli = (f["a.cli"] == "" || f["a.cli"] == "nan") ? "nan" : f["a.cli"] * size / climib
    row("  aws ecr upload-layer-part loop", s(cli), c(f["a.cli.cpu"] * size / climib), c(f["a.cli.srv"] * size / climib),
      "10 MiB parts: " climib " MiB took " s(f["a.cli"]) ", scaled to " size " MiB")
    goal("  provider (cached) / sha256sum", f["a.warm"], f["a.sha256sum"], "goal at most 2x", f["a.warm"] <= 2 * f["a.sha256sum"])
    goal("  provider (fresh) / sha256sum", f["a.cold"], f["a.sha256sum"], "goal at most 2x", f["a.cold"] <= 2 * f["a.sha256sum"])
    goal("  CLI loop / provider (cached)", cli, f["a.warm"], "goal at least 10x", cli >= 10 * f["a.warm"])
    goal("  CLI loop / provider (fresh)", cli, f["a.cold"], "goal at least 10x", cli >= 10 * f["a.cold"])
    goal("  crane / provider (cached)", f["a.crane"], f["a.warm"], "goal above 1 (provider faster)", f["a.crane"] > f["a.warm"])
    goal("  crane / provider (fresh)", f["a.crane"], f["a.cold"], "goal above 1 (provider faster)", f["a.crane"] > f["a.cold"])
    row("  provider (cached) less 1 KiB apply", s(f["a.warm"] - f["a.tiny"]), "", "", "the push alone: " r(f["a.warm"] - f["a.tiny"], f["a.sha256sum"]) " sha256sum, " r(f["a.crane"], f["a.warm"] - f["a.tiny"]) " crane/it, " r(cli, f["a.warm"] - f["a.tiny"]) " CLI/it")
    row("b) provider peak RSS by size pushed", "", "", "", "apply of one ecr_layer, fresh endpoint and digest cache")
    n = split(rsssizes, sz, " "); lo = 1e18; hi = 0
    for (i = 1; i <= n; i++) {
      v = f["rss." sz[i]] + 0; if (v < lo) lo = v; if (v > hi) hi = v
      row("  " sz[i] " MiB", sprintf("%.1f MiB", v), "", "", "push took " s(f["b.ms." sz[i]]) " (client CPU " c(f["b.ms." sz[i] ".cpu"]) ")")
    }
    row("  bound 32 MiB x 1 + 40 MiB", bound " MiB", "", "", "all within: " met(hi <= bound) "; flat (largest/smallest " sprintf("%.2f", hi / lo) ", goal at most 1.15): " met(hi <= 1.15 * lo))
    row("c) re-plan, unchanged", "", "", "", "plan -detailed-exitcode, no changes, alternating")
    fig("  " size " MiB layer", "c.big", "digest cached by the apply")
    fig("  1 KiB layer", "c.small", "")
    goal("  ratio", f["c.big"], f["c.small"], "goal at most 1.2x", f["c.big"] <= 1.2 * f["c.small"])
    row("d) " layers "-layer image of " isize " MiB", "", "", "", "an OCI layout")
    fig("  provider", "d.apply", "apply of one ecr_image, fresh endpoint")
    fig("  crane push", "d.crane", "crane push LAYOUT localhost:PORT/" repo ":v1")
    goal("  crane / provider", f["d.crane"], f["d.apply"], "goal above 1 (provider faster)", f["d.crane"] > f["d.apply"])
    fig("  re-apply, unchanged", "d.reapply", "UploadLayerPart requests: " f["parts.reapply"] " (goal 0: " met(f["parts.reapply"] == 0) ")")
    fig("  apply, state removed, image in ECR", "d.repush", "UploadLayerPart requests: " f["parts.repush"] " (goal 0: " met(f["parts.repush"] == 0) ")")
    fig("  plan, this image", "d.plan.big", "plan -detailed-exitcode, no changes, alternating")
    fig("  plan, 1-layer 1 KiB image", "d.plan.tiny", "")
    goal("  ratio", f["d.plan.big"], f["d.plan.tiny"], "goal at most 1.2x", f["d.plan.big"] <= 1.2 * f["d.plan.tiny"])
    row("  provider peak RSS pushing it", f["rss.d"] " MiB", "", "", "bound 32 MiB x " par " + 40 = " dbound " MiB: " met(f["rss.d"] <= dbound))
    row("  provider peak RSS in a)", f["rss.a"] " MiB", "", "", "bound " bound " MiB: " met(f["rss.a"] <= bound))
    # Distinct blobs: the shared layer, 3 own layers and a config per image.
    dblobs = 1 + 4 * eimages; dparts = (1 + 3 * eimages) * int((emib + partmib - 1) / partmib) + eimages
    row("e) for_each of " eimages " images", "", "", "", "4 layers of " emib " MiB each, the first shared by all; " dblobs " distinct blobs, " dparts " distinct parts; bound 32 MiB x " inflight " + 40 = " (32 * inflight + 40) " MiB")
    n = split(epar, ps, " ")
    for (i = 1; i <= n; i++) {
      p = ps[i]
      row("  -parallelism=" p, s(f["e.ms." p]), c(f["e.ms." p ".cpu"]), "", "peak RSS " f["e.rss." p] " MiB (" met(f["e.rss." p] <= 32 * inflight + 40) "); uploads " f["e.uploads." p] " (" r(f["e.uploads." p], dblobs) " the distinct blobs), parts " f["e.parts." p] " (" r(f["e.parts." p], dparts) ")")
    }
    row("f) wire floor", c(f["floor"]) "/GiB", "", "", "base64 + sha256 of the base64 (Go, this machine): what any client of the ECR API spends")
    gib = size / 1024
    # The provider processes CPU in a), less that of the same apply of a
    # 1 KiB file (starting the processes, the plan, the state): the push alone.
    pc = (f["a.warm.provider"] == "" || f["a.warm.provider"] == "nan") ? "" : (f["a.warm.provider"] - f["a.tiny.provider"]) / gib
    row("  provider CPU per GiB (digest known)", c(pc) "/GiB", "", "", "a) digest cached, less the 1 KiB apply: " r(pc, f["floor"]) " the floor (goal at most 1.25x: " met(pc != "" && pc <= 1.25 * f["floor"]) ")")
    pf = (f["a.cold.provider"] == "" || f["a.cold.provider"] == "nan") ? "" : (f["a.cold.provider"] - f["a.tiny.provider"]) / gib
    row("  provider CPU per GiB (digest hashed)", c(pf) "/GiB", "", "", "a) fresh cache (the plan hashes the file), less the 1 KiB apply: " r(pf, f["floor"]) " the floor (goal at most 1.25x floor + one sha256)")
  }' "$figures"
} > "$table"
mkdir -p "$root/bin"
cp "$table" "$root/bin/bench-push.txt"
echo
cat "$table"
echo "(written to bin/bench-push.txt)"
