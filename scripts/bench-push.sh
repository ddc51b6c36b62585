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
#  g) copying from a registry (issue 15): d)'s image, put with `crane push`
#     into go-containerregistry's registry on loopback: `apply` of one
#     ecr_image with source_image next to the two-step it must beat (`crane
#     pull --format=oci`, then `apply` of the layout) and next to `crane
#     copy` to a second registry; the provider's peak RSS copying images of
#     BENCH_COPY_RSS_SIZES MiB (flat: bounded by the blobs in flight); a
#     re-apply (blobs fetched from the source: must be 0). Every copy's
#     digest is read back from the endpoint's registry API with `crane
#     digest`: one that differs from the source's fails the run.
# Every push goes to a fresh endpoint (or registry), so it sends every byte.
# BENCH_ONLY runs some sections only (letters, such as BENCH_ONLY=dg).
# The table goes to stdout and to bin/bench-push.txt.
#
# Quick run: BENCH_SIZE_MIB=64 BENCH_RSS_SIZES="16 64" BENCH_IMAGE_MIB=64 \
#   BENCH_COPY_RSS_SIZES="16 64" BENCH_RUNS=1 BENCH_PLAN_RUNS=3 BENCH_CLI_MIB=20 \
#   scripts/bench-push.sh
# Section g alone, quick: BENCH_ONLY=g BENCH_IMAGE_MIB=64 \
#   BENCH_COPY_RSS_SIZES="16 64" BENCH_RUNS=1 scripts/bench-push.sh
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
copy_rss_sizes="${BENCH_COPY_RSS_SIZES:-100 1024}"
only="${BENCH_ONLY:-abcdefg}"
case "$only" in *[!a-g]* | "") echo "BENCH_ONLY takes letters a to g, such as dg; not '$only'" >&2; exit 2 ;; esac
# want SECTION: whether BENCH_ONLY runs the section.
want() { case "$only" in *"$1"*) return 0 ;; esac; return 1; }
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
source_pid="" # g)'s source registry
stop_pid() {
  if [ -n "$1" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
stop_registry() { stop_pid "$registry_pid"; registry_pid=""; }
stop_source() { stop_pid "$source_pid"; source_pid=""; }
cleanup() {
  stop_endpoint
  stop_registry
  stop_source
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
# g) copies source_image, or pushes the layout crane pulled from it; both tag
# what they push, for crane to read it back by tag.
if want g; then
  for dir in g-copy g-layout; do
    mkdir -p "$work/$dir"
    echo "$provider_block" > "$work/$dir/main.tf"
    if [ "$dir" = g-copy ]; then
      from='source_image    = var.source_image'
      echo 'variable "source_image" { type = string }' >> "$work/$dir/main.tf"
    else
      from='source          = var.source_path'
    fi
    cat >> "$work/$dir/main.tf" <<TF
resource "ecr_image" "bench" {
  repository_name = "$repo"
  $from
  tags            = ["v1"]
}
TF
    (cd "$work/$dir" && "$tf" init -no-color >/dev/null)
  done
fi

now_ms() { date +%s%3N; }
# run_logged CMD...: runs CMD with its output in a log, shown if it fails.
run_logged() {
  local log
  "$@" > "$work/last.log" 2>&1 && return 0
  echo "failed: $*" >&2
  tail -40 "$work/last.log" >&2
  for log in "$work/ep/log" "$work/registry.log" ${source_log:+"$source_log"}; do
    if [ -f "$log" ]; then echo "--- the end of $log:" >&2; tail -5 "$log" >&2; fi
  done
  [ -n "$registry_pid" ] && ! kill -0 "$registry_pid" 2>/dev/null && echo "(the registry, pid $registry_pid, is gone)" >&2
  [ -n "$source_pid" ] && ! kill -0 "$source_pid" 2>/dev/null && echo "(the source registry, pid $source_pid, is gone)" >&2
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
# serve_registry LOG: starts a go-containerregistry registry (it keeps blobs
# in memory, and logs every request to LOG), and sets served_pid and
# served_port once it answers.
serve_registry() {
  local log="$1" attempt
  for attempt in 1 2 3; do
    "$registry" -port 0 2> "$log" &
    served_pid=$!
    for _ in $(seq 100); do grep -q 'serving on port' "$log" 2>/dev/null && break; sleep 0.1; done
    served_port="$(grep -o 'serving on port [0-9]*' "$log" | awk '{print $4}' || true)"
    curl -sf -o /dev/null "http://localhost:$served_port/v2/" && return 0
    echo "the registry did not answer (attempt $attempt): $(tail -3 "$log")" >&2
    stop_pid "$served_pid"
  done
  return 1
}
# fresh_registry: a new registry, answering on registry_host.
fresh_registry() {
  stop_registry
  serve_registry "$work/registry.log"
  registry_pid="$served_pid"
  registry_host="localhost:$served_port"
}
# fresh_source NAME: a new registry for g) to copy from, answering on
# source_host (127.0.0.1: plain HTTP, as the provider allows on loopback
# only), logging to source_log.
source_log=""
fresh_source() {
  stop_source
  source_log="$work/g-source-$1.log"
  serve_registry "$source_log"
  source_pid="$served_pid"
  source_host="127.0.0.1:$served_port"
}
parts_sent() { grep -c 'UploadLayerPart .*: ok' "$work/ep/log" || true; }
median() { sort -n "$work/$1" | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# rss_max FILE: the largest peak RSS (MiB) of the provider processes in FILE.
rss_max() { sort -n "$work/$1" | tail -1 | awk '{printf "%.1f", $1 / 1024}'; }
# cpu_sum FILE: user+system CPU seconds of the provider processes in FILE.
cpu_sum() { awk '{s += $2 + $3} END {printf "%.1f\n", s}' "$work/$1"; }
random_file() { head -c "$(($2 * 1048576))" /dev/urandom > "$1"; }

# image_layout DIR MIB LAYERS: writes an OCI layout at DIR of one image of
# LAYERS layers of random bytes, MIB/LAYERS MiB each, and prints its digest.
image_layout() {
  local dir="$1" mib="$2" n="$3" i files=()
  for i in $(seq "$n"); do
    random_file "$work/image-layer-$i" $((mib / n))
    files+=("$work/image-layer-$i")
  done
  write_layout "$dir" application/vnd.oci.image.layer.v1.tar "${files[@]}"
  rm -f "${files[@]}" # the layout holds the only links now
}

echo "==> making the files of sections $only: ${size_mib} MiB (a, c), 1 KiB, a ${image_layers}-layer image of ${image_mib} MiB (d, g), the for_each images (e)"
big="$work/big.bin"
layout_big="$work/layout-big"
if want a || want c; then
  random_file "$big" "$size_mib"
  write_layout "$layout_big" application/vnd.oci.image.layer.v1.tar "$big" >/dev/null
fi
head -c 1024 /dev/urandom > "$work/small.bin"
if want d || want g; then
  image_digest="$(image_layout "$work/layout-image" "$image_mib" "$image_layers")"
fi
write_layout "$work/layout-tiny" application/vnd.oci.image.layer.v1.tar "$work/small.bin" >/dev/null
if want e; then
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
fi
# Digests are recorded only for files older than the racy-git window (2 s).
sleep 3
if [ -n "$have_aws" ] && want a; then
  mkdir -p "$work/parts"
  head -c "$((cli_mib * 1048576))" "$big" | split -b "$((part_mib * 1048576))" -d -a 4 - "$work/parts/part."
fi

# --- a) one file ----------------------------------------------------------
if want a; then
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
fi

# --- c) re-plan of the big layer vs a 1 KiB one ------------------------------
if want c; then
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
fi
rm -rf "$big" "$layout_big" # the layout's link too

# --- b) peak RSS by size ----------------------------------------------------
if want b; then
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
fi

# --- d) an image from an OCI layout ------------------------------------------
if want d; then
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
fi

# --- e) a for_each of images sharing a base layer ----------------------------
if want e; then
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
fi

# --- f) the wire floor --------------------------------------------------------
if want f; then
  echo "==> f) the wire floor: base64 + sha256 of the base64, in Go, per GiB"
  (cd "$root" && go test ./internal/ecrpush -run '^$' -bench '^BenchmarkWireFloor$' -benchtime 3x) \
    | awk '/cpu-s\/GiB/ { for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-s/GiB") print $i }' | tail -1 > "$work/f.floor"
fi

# --- g) copying from a registry -----------------------------------------------
if want g; then
  echo "==> g) ${image_layers}-layer image of ${image_mib} MiB in a registry on loopback: $runs rounds of crane copy, crane pull + apply of the layout, apply of source_image"
  export TF_ECR_CACHE_DIR="$work/cache-g"
  fresh_source image
  src_ref="$source_host/$repo:1"
  run_logged "$crane" push "$work/layout-image" "$src_ref"
  src_digest="$("$crane" digest "$src_ref")"
  if [ "$src_digest" != "$image_digest" ]; then
    echo "g) crane push of the layout gave $src_digest, its index.json lists $image_digest" >&2
    exit 1
  fi
  src_config="$("$crane" manifest "$src_ref" | grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]*')"
  rm -rf "$work/layout-image" # the source registry holds it now
  # blob_gets [DIGEST]: the blob GETs (of DIGEST) the source registry has
  # logged (HEADs not).
  blob_gets() { grep -c "GET /v2/[^ ]*/blobs/${1:-sha256:}" "$source_log" || true; }
  # since CPU0 PID: the CPU seconds process PID spent since it had spent CPU0.
  since() { awk -v a="$1" -v b="$(pid_cpu "$2")" 'BEGIN {printf "%.2f\n", b - a}'; }
  # check_copied WHAT: fails the run unless the endpoint's registry API
  # answers the source's digest for $repo:v1.
  check_copied() {
    local got
    ecr_registry_login "$crane" "$endpoint_url" "$region" > "$work/login.log" 2>&1 || { cat "$work/login.log" >&2; return 1; }
    got="$("$crane" digest "${endpoint_url#*://}/$repo:v1")"
    if [ "$got" != "$src_digest" ]; then
      echo "g) $1: the endpoint's $repo:v1 is $got, the source's $src_digest" >&2
      return 1
    fi
  }
  for i in $(seq "$runs"); do
    # crane copy to a second registry.
    fresh_registry
    src0="$(pid_cpu "$source_pid")"
    timed g.crane "$crane" copy "$src_ref" "$registry_host/$repo:1"
    awk -v a="$(since "$src0" "$source_pid")" -v b="$(pid_cpu "$registry_pid")" 'BEGIN {printf "%.2f\n", a + b}' >> "$work/g.crane.srv"
    got="$("$crane" digest "$registry_host/$repo:1")"
    [ "$got" = "$src_digest" ] || { echo "g) crane copy gave $got, the source is $src_digest" >&2; exit 1; }
    stop_registry

    # The two-step: crane pull to a layout, then apply of it (a fresh
    # digest cache, as a CI job that pulled it would have).
    rm -rf "$work/g-pulled"
    src0="$(pid_cpu "$source_pid")"
    timed g.pull "$crane" pull --format=oci "$src_ref" "$work/g-pulled"
    since "$src0" "$source_pid" >> "$work/g.pull.srv"
    fresh_endpoint
    rm -f "$work/g-layout/terraform.tfstate"*
    TF_ECR_CACHE_DIR="$work/cache-g-$i" BENCH_RSS_FILE="$work/g.push.rss.$i" \
      timed g.push tf_in g-layout apply -auto-approve -var "source_path=$work/g-pulled"
    pid_cpu "$endpoint_pid" >> "$work/g.push.srv"
    cpu_sum "g.push.rss.$i" >> "$work/g.push.provider"
    check_copied "crane pull, then apply of the layout"
    rm -rf "$work/g-pulled" "$work/cache-g-$i"
    for x in "" .cpu .srv; do
      echo "$(tail -1 "$work/g.pull$x") $(tail -1 "$work/g.push$x")" | awk '{print $1 + $2}' >> "$work/g.twostep$x"
    done

    # The copy: apply of source_image.
    fresh_endpoint
    rm -f "$work/g-copy/terraform.tfstate"*
    src0="$(pid_cpu "$source_pid")"
    gets0="$(blob_gets)"
    BENCH_RSS_FILE="$work/g.copy.rss.$i" \
      timed g.copy tf_in g-copy apply -auto-approve -var source_path=unused -var "source_image=$src_ref"
    awk -v a="$(since "$src0" "$source_pid")" -v b="$(pid_cpu "$endpoint_pid")" 'BEGIN {printf "%.2f\n", a + b}' >> "$work/g.copy.srv"
    cpu_sum "g.copy.rss.$i" >> "$work/g.copy.provider"
    echo $(($(blob_gets) - gets0)) >> "$work/g.gets.copy"
    [ "$(parts_sent)" -gt 0 ] || { echo "g) the apply sent no part" >&2; exit 1; }
    check_copied "apply of source_image"
  done

  echo "==> g) re-apply of the copy, unchanged; then with the state removed (the image in ECR)"
  gets0="$(blob_gets)"
  config0="$(blob_gets "$src_config")"
  before="$(parts_sent)"
  timed g.reapply tf_in g-copy apply -auto-approve -var source_path=unused -var "source_image=$src_ref"
  echo $(($(blob_gets) - gets0)) > "$work/g.gets.reapply"
  echo $(($(blob_gets "$src_config") - config0)) > "$work/g.gets.reapply.config"
  echo $(($(parts_sent) - before)) > "$work/g.parts.reapply"
  rm -f "$work/g-copy/terraform.tfstate"*
  gets0="$(blob_gets)"
  config0="$(blob_gets "$src_config")"
  before="$(parts_sent)"
  timed g.repush tf_in g-copy apply -auto-approve -var source_path=unused -var "source_image=$src_ref"
  echo $(($(blob_gets) - gets0)) > "$work/g.gets.repush"
  echo $(($(blob_gets "$src_config") - config0)) > "$work/g.gets.repush.config"
  echo $(($(parts_sent) - before)) > "$work/g.parts.repush"
  check_copied "apply of source_image, state removed"
  stop_endpoint

  echo "==> g) peak RSS of the provider copying ${copy_rss_sizes// / and } MiB (${image_layers} layers, fewer if smaller)"
  for s in $copy_rss_sizes; do
    n="$image_layers"
    [ "$s" -lt "$n" ] && n="$s"
    image_digest="$(image_layout "$work/layout-rss" "$s" "$n")"
    fresh_source "$s" # one image in memory at a time
    src_ref="$source_host/$repo:1"
    run_logged "$crane" push "$work/layout-rss" "$src_ref"
    rm -rf "$work/layout-rss"
    src_digest="$image_digest"
    fresh_endpoint
    rm -f "$work/g-copy/terraform.tfstate"*
    BENCH_RSS_FILE="$work/g.rss.$s" \
      timed "g.ms.$s" tf_in g-copy apply -auto-approve -var source_path=unused -var "source_image=$src_ref"
    check_copied "apply of source_image ($s MiB)"
    stop_endpoint
  done
  stop_source
fi

# --- the table -------------------------------------------------------------
# Every median goes into one file of name=value lines that awk reads.
figures="$work/figures"
: > "$figures"
for f in "$work"/a.* "$work"/c.* "$work"/d.* "$work"/b.ms.* "$work"/e.ms.* "$work"/g.*; do
  case "$f" in *.rss*) continue ;; esac
  if [ -f "$f" ]; then echo "$(basename "$f")=$(median "$(basename "$f")")" >> "$figures"; fi
done
{
  if want b; then
    for s in $rss_sizes; do echo "rss.$s=$(rss_max "b.rss.$s")"; done
  fi
  if want a; then
    echo "rss.a=$(cat "$work"/a.cold.rss.* "$work"/a.warm.rss.* | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')"
  fi
  if want d; then
    echo "rss.d=$(rss_max d.rss)"
    echo "parts.reapply=$reapply_parts"
    echo "parts.repush=$repush_parts"
  fi
  if want f; then echo "floor=$(cat "$work/f.floor")"; fi
  if want e; then
    for p in $each_parallelism; do
      echo "e.rss.$p=$(rss_max "e.rss.$p")"
      echo "e.uploads.$p=$(cat "$work/e.uploads.$p")"
      echo "e.parts.$p=$(cat "$work/e.parts.$p")"
    done
  fi
  if want g; then
    echo "rss.g.copy=$(cat "$work"/g.copy.rss.* | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')"
    echo "rss.g.push=$(cat "$work"/g.push.rss.* | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')"
    for s in $copy_rss_sizes; do echo "rss.g.$s=$(rss_max "g.rss.$s")"; done
  fi
} >> "$figures"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
table="$work/table.txt"
{
  echo "bench-push, $started: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $load_start at start, $load_end at end; $(((SECONDS - t0) / 60)) min in all"
  echo "command: BENCH_ONLY=$only BENCH_SIZE_MIB=$size_mib BENCH_RSS_SIZES=\"$rss_sizes\" BENCH_IMAGE_MIB=$image_mib BENCH_IMAGE_LAYERS=$image_layers BENCH_COPY_RSS_SIZES=\"$copy_rss_sizes\" BENCH_RUNS=$runs BENCH_PLAN_RUNS=$plan_runs BENCH_CLI_MIB=$cli_mib TF=$tf scripts/bench-push.sh"
  echo "with $("$tf" version | head -1), crane and registry $GGCR_VERSION${have_aws:+, $(aws --version 2>&1 | cut -d' ' -f1)}; each figure the median of $runs runs (plans: $plan_runs)"
  echo "wall: elapsed time; client CPU: the command and its children (terraform with its provider processes); server CPU: the endpoint's or registry's"
  echo
  awk -F= -v size="$size_mib" -v climib="$cli_mib" -v isize="$image_mib" -v layers="$image_layers" \
    -v rsssizes="$rss_sizes" -v bound="$((blob_mib + 40))" -v dbound="$((blob_mib * parallel + 40))" \
    -v par="$parallel" -v repo="$repo" -v eimages="$each_images" -v emib="$each_layer_mib" -v epar="$each_parallelism" \
    -v partmib="$part_mib" -v inflight=6 -v only="$only" -v copysizes="$copy_rss_sizes" '
  { f[$1] = $2 }
  function want(x) { return index(only, x) > 0 }
  function s(ms) { return (ms == "" || ms == "nan") ? "n/a" : sprintf("%.2f s", ms / 1000) }
  function c(x) { return (x == "" || x == "nan") ? "n/a" : sprintf("%.1f s", x) }
  function r(a, b) { return (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) ? "n/a" : sprintf("%.2fx", a / b) }
  function met(ok) { return ok ? "met" : "NOT met" }
  function row(what, wall, cpu, srv, how) { printf "%-40s %9s %11s %11s  %s\n", what, wall, cpu, srv, how }
  function fig(what, k, how) { row(what, s(f[k]), c(f[k ".cpu"]), c(f[k ".srv"]), how) }
  function goal(what, a, b, text, ok) { row(what, r(a, b), "", "", text ": " ((a == "" || b == "" || a == "nan" || b == "nan") ? "n/a" : met(ok))) }
  END {
    row("", "wall", "client CPU", "server CPU", "")
    if (want("a")) {
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
    }
    if (want("b")) {
      row("b) provider peak RSS by size pushed", "", "", "", "apply of one ecr_layer, fresh endpoint and digest cache")
      n = split(rsssizes, sz, " "); lo = 1e18; hi = 0
      for (i = 1; i <= n; i++) {
        v = f["rss." sz[i]] + 0; if (v < lo) lo = v; if (v > hi) hi = v
        row("  " sz[i] " MiB", sprintf("%.1f MiB", v), "", "", "push took " s(f["b.ms." sz[i]]) " (client CPU " c(f["b.ms." sz[i] ".cpu"]) ")")
      }
      row("  bound 32 MiB x 1 + 40 MiB", bound " MiB", "", "", "all within: " met(hi <= bound) "; flat (largest/smallest " sprintf("%.2f", hi / lo) ", goal at most 1.15): " met(hi <= 1.15 * lo))
    }
    if (want("c")) {
      row("c) re-plan, unchanged", "", "", "", "plan -detailed-exitcode, no changes, alternating")
      fig("  " size " MiB layer", "c.big", "digest cached by the apply")
      fig("  1 KiB layer", "c.small", "")
      goal("  ratio", f["c.big"], f["c.small"], "goal at most 1.2x", f["c.big"] <= 1.2 * f["c.small"])
    }
    if (want("d")) {
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
    }
    if (want("a")) {
      row("  provider peak RSS in a)", f["rss.a"] " MiB", "", "", "bound " bound " MiB: " met(f["rss.a"] <= bound))
    }
    if (want("e")) {
      # Distinct blobs: the shared layer, 3 own layers and a config per image.
      dblobs = 1 + 4 * eimages; dparts = (1 + 3 * eimages) * int((emib + partmib - 1) / partmib) + eimages
      row("e) for_each of " eimages " images", "", "", "", "4 layers of " emib " MiB each, the first shared by all; " dblobs " distinct blobs, " dparts " distinct parts; bound 32 MiB x " inflight " + 40 = " (32 * inflight + 40) " MiB")
      n = split(epar, ps, " ")
      for (i = 1; i <= n; i++) {
        p = ps[i]
        row("  -parallelism=" p, s(f["e.ms." p]), c(f["e.ms." p ".cpu"]), "", "peak RSS " f["e.rss." p] " MiB (" met(f["e.rss." p] <= 32 * inflight + 40) "); uploads " f["e.uploads." p] " (" r(f["e.uploads." p], dblobs) " the distinct blobs), parts " f["e.parts." p] " (" r(f["e.parts." p], dparts) ")")
      }
    }
    if (want("f")) {
      row("f) wire floor", c(f["floor"]) "/GiB", "", "", "base64 + sha256 of the base64 (Go, this machine): what any client of the ECR API spends")
      gib = size / 1024
      # The provider processes CPU in a), less that of the same apply of a
      # 1 KiB file (starting the processes, the plan, the state): the push alone.
      pc = (f["a.warm.provider"] == "" || f["a.warm.provider"] == "nan") ? "" : (f["a.warm.provider"] - f["a.tiny.provider"]) / gib
      row("  provider CPU per GiB (digest known)", c(pc) "/GiB", "", "", "a) digest cached, less the 1 KiB apply: " r(pc, f["floor"]) " the floor (goal at most 1.25x: " met(pc != "" && pc <= 1.25 * f["floor"]) ")")
      pf = (f["a.cold.provider"] == "" || f["a.cold.provider"] == "nan") ? "" : (f["a.cold.provider"] - f["a.tiny.provider"]) / gib
      row("  provider CPU per GiB (digest hashed)", c(pf) "/GiB", "", "", "a) fresh cache (the plan hashes the file), less the 1 KiB apply: " r(pf, f["floor"]) " the floor (goal at most 1.25x floor + one sha256)")
    }
    if (want("g")) {
      row("g) copying the image of d) from SRC", "", "", "", layers " layers of " isize " MiB; SRC: a go-containerregistry registry on 127.0.0.1 (crane push of the layout)")
      fig("  provider, source_image", "g.copy", "apply of one ecr_image, source_image = SRC/" repo ":1, fresh endpoint; provider CPU " c(f["g.copy.provider"]) "; blobs fetched " f["g.gets.copy"] "; server CPU: endpoint + SRC")
      fig("  crane pull --format=oci", "g.pull", "crane pull --format=oci SRC/" repo ":1 DIR; server CPU: SRC")
      fig("  provider, source = that layout", "g.push", "apply of one ecr_image, source = DIR, fresh endpoint and digest cache; provider CPU " c(f["g.push.provider"]))
      fig("  the two-step, pull + apply", "g.twostep", "the sum in each run")
      fig("  crane copy", "g.crane", "crane copy SRC/" repo ":1 to a second registry on loopback; server CPU: both registries")
      goal("  copy / (pull + apply)", f["g.copy"], f["g.twostep"], "goal below 1 (the copy faster than the two-step)", f["g.copy"] < f["g.twostep"])
      row("  copy / crane copy", r(f["g.copy"], f["g.crane"]), "", "", "no goal: the copy goes through the layer API (base64 in JSON), crane copy through the registry API")
      fig("  re-apply, unchanged", "g.reapply", "blobs fetched on re-apply: " f["g.gets.reapply"] " (the config " f["g.gets.reapply.config"] "; goal 0: " met(f["g.gets.reapply"] == 0) "); UploadLayerPart requests: " f["g.parts.reapply"])
      fig("  apply, state removed, image in ECR", "g.repush", "blobs fetched: " f["g.gets.repush"] " (the config " f["g.gets.repush.config"] "; goal 0: " met(f["g.gets.repush"] == 0) "); UploadLayerPart requests: " f["g.parts.repush"] " (goal 0: " met(f["g.parts.repush"] == 0) ")")
      row("  provider peak RSS copying it", f["rss.g.copy"] " MiB", "", "", "bound 32 MiB x " par " + 40 = " dbound " MiB: " met(f["rss.g.copy"] <= dbound) "; pushing the pulled layout: " f["rss.g.push"] " MiB")
      row("  provider peak RSS by image size", "", "", "", "apply of one ecr_image copying " layers " layers (fewer if smaller), fresh endpoint")
      n = split(copysizes, sz, " "); lo = 1e18; hi = 0
      for (i = 1; i <= n; i++) {
        v = f["rss.g." sz[i]] + 0; if (v < lo) lo = v; if (v > hi) hi = v
        row("    " sz[i] " MiB", sprintf("%.1f MiB", v), "", "", "copy took " s(f["g.ms." sz[i]]) " (client CPU " c(f["g.ms." sz[i] ".cpu"]) ")")
      }
      row("    bound 32 MiB x " par " + 40 MiB", dbound " MiB", "", "", "all within: " met(hi <= dbound) "; largest/smallest " sprintf("%.2f", hi / lo) " (flat: bounded by the blobs in flight, not by the size)")
    }
  }' "$figures"
} > "$table"
mkdir -p "$root/bin"
cp "$table" "$root/bin/bench-push.txt"
echo
cat "$table"
echo "(written to bin/bench-push.txt)"
