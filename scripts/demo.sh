#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make demo: builds the provider and the local ECR endpoint (and crane and
# registry, from the Go module proxy into the cache: a client to read back
# what was pushed, and a registry to copy from), starts
# the endpoint with a repository, and runs init/apply of examples/demo with
# the chosen binary (terraform when present, else tofu; TF=... picks one):
#  1. ecr_layer_upload opens an upload; a provisioner prints its upload ID and
#     part size, and the state is checked to hold neither;
#  2. ecr_layer pushes a small layer through that very upload; its digest is
#     shown next to sha256sum of the file, what the endpoint stored, and the
#     blob crane reads back;
#  3. ecr_image pushes a three-layer image from an OCI layout made here; its
#     image_uri is printed, and crane reads it back by tag from the
#     endpoint's registry API: its digest must be the layout's;
#  4. ecr_image copies an image from go-containerregistry's registry on
#     loopback (source_image); crane reads it back from the endpoint, and its
#     digest must be the one the source registry gives.
# Any digest that does not match fails the demo.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tf="${TF:-}"
if [ -z "$tf" ]; then
  if command -v terraform >/dev/null; then tf=terraform
  elif command -v tofu >/dev/null; then tf=tofu
  else
    tf="$("$root/scripts/install-tofu.sh")"
  fi
elif [ "$tf" = tofu ] && ! command -v tofu >/dev/null; then
  tf="$("$root/scripts/install-tofu.sh")"
fi

. "$root/scripts/lib.sh"
. "$root/scripts/lib-push.sh"

work="$(mktemp -d)"
endpoint_pid=""
registry_pid=""
cleanup() {
  stop_endpoint
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bin="$root/bin"
mkdir -p "$bin"
echo "==> building the provider and the local endpoint (and crane and registry $GGCR_VERSION: a registry to copy from, and a client to read back what is pushed)"
(peer_bin crane > "$work/crane.path" && peer_bin registry > "$work/registry.path") 2> "$work/crane.log" &
crane_build=$!
(cd "$root" && go build -o "$bin/" . ./internal/cmd/ecr-local)
wait "$crane_build" || { cat "$work/crane.log" >&2; echo "building crane or registry failed" >&2; exit 1; }
crane="$(cat "$work/crane.path")"
registry="$(cat "$work/registry.path")"

use_local_credentials
export DOCKER_CONFIG="$work/docker" # crane's login stays in here

echo "==> starting the local ECR endpoint with repository demo/app"
start_endpoint "$bin/ecr-local" "$work" -repository demo/app 2> "$work/endpoint.log"
url="$endpoint_url"
host="${url#*://}" # the registry API is served on the endpoint's host
head -1 "$work/endpoint.log"

echo "==> making a small layer and a three-layer OCI image layout"
# Reproducible gzipped tars: same names, owners, modes and times every run,
# so the digests below are the same from run to run.
tar_gz() {
  local dir="$1" out="$2"
  find "$dir" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
  tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n > "$out"
}
mkdir -p "$work/src/layer" "$work/src/base/etc" "$work/src/app/app" "$work/src/conf/app"
echo "a layer pushed by terraform-provider-ecr's make demo" > "$work/src/layer/hello.txt"
tar_gz "$work/src/layer" "$work/layer.tar.gz"
printf 'NAME="demo"\nID=demo\n' > "$work/src/base/etc/os-release"
printf '#!/bin/sh\necho "hello from an image pushed with no Docker daemon"\n' > "$work/src/app/app/hello.sh"
printf '{"greeting": "hello"}\n' > "$work/src/conf/app/config.json"
for l in base app conf; do tar_gz "$work/src/$l" "$work/$l.tar.gz"; done
layout_digest="$(write_layout "$work/image" application/vnd.oci.image.layer.v1.tar+gzip \
  "$work/base.tar.gz" "$work/app.tar.gz" "$work/conf.tar.gz")"
echo "layer: $(stat -c %s "$work/layer.tar.gz") bytes; image: $work/image (index.json lists $layout_digest)"

echo "==> starting go-containerregistry's registry on loopback, with an image to copy: upstream/tool:1.0"
mkdir -p "$work/src/tool/usr/bin"
printf '#!/bin/sh\necho "a tool copied from another registry"\n' > "$work/src/tool/usr/bin/tool"
tar_gz "$work/src/tool" "$work/tool.tar.gz"
write_layout "$work/upstream" application/vnd.oci.image.layer.v1.tar+gzip "$work/base.tar.gz" "$work/tool.tar.gz" > /dev/null
"$registry" -port 0 2> "$work/registry.log" &
registry_pid=$!
for _ in $(seq 100); do grep -q 'serving on port' "$work/registry.log" 2>/dev/null && break; sleep 0.1; done
upstream_host="127.0.0.1:$(grep -o 'serving on port [0-9]*' "$work/registry.log" | awk '{print $4}')"
"$crane" push "$work/upstream" "$upstream_host/upstream/tool:1.0" > /dev/null 2> "$work/crane-push.log" ||
  { cat "$work/crane-push.log" "$work/registry.log" >&2; exit 1; }
upstream_digest="$("$crane" digest "$upstream_host/upstream/tool:1.0")"
echo "$upstream_host/upstream/tool:1.0 is $upstream_digest"

copy_provider() { cp "$bin/terraform-provider-ecr" "$1"; }
# Any released-looking version: init skips 0.0.0 and pre-releases.
install_in_mirror "$work" 0.1.0 copy_provider
mkdir -p "$work/config"
cp "$root/examples/demo/main.tf" "$work/config/"
cd "$work/config"

echo "==> $tf init"
"$tf" init -no-color >/dev/null
echo "==> $tf apply"
"$tf" apply -auto-approve -no-color -var "ecr_endpoint=$url" -var "report_file=$work/upload.txt" \
  -var "layer_file=$work/layer.tar.gz" -var "image_source=$work/image" \
  -var "source_image=$upstream_host/upstream/tool:1.0" | grep -v "^$"

echo "==> the endpoint's log of uploads and images"
grep -E 'InitiateLayerUpload|CompleteLayerUpload|PutImage' "$work/endpoint.log" | sed 's/^/  /'

failed=""
# same WHAT VALUE...: prints the values, and marks the demo failed unless
# they are all equal and not empty.
same() {
  local what="$1" first="$3" v
  shift
  echo "$what"
  while [ $# -gt 0 ]; do
    printf '  %-58s %s\n' "$1" "${2:-(none)}"
    if [ -z "$2" ] || [ "$2" != "$first" ]; then v=1; fi
    shift 2
  done
  if [ -n "${v:-}" ]; then
    echo "  MISMATCH" >&2
    failed=1
  else
    echo "  all equal: ok"
  fi
}

echo "==> 1. what the provisioner received from ecr_layer_upload"
cat "$work/upload.txt"
upload_id="$(sed -n 's/^upload_id=\([^ ]*\) .*/\1/p' "$work/upload.txt")"
[ -n "$upload_id" ] || { echo "the provisioner got no upload ID" >&2; exit 1; }
echo "checking that the state holds no upload ID"
"$tf" show -json > "$work/state.json"
if grep -q -e '"upload_id"' -e "$upload_id" "$work/state.json" terraform.tfstate; then
  echo "the state holds an upload ID: this is a bug" >&2
  exit 1
fi
echo "the state holds no upload ID: ok"

echo "==> 2. the layer, pushed through that upload ($upload_id)"
ecr_registry_login "$crane" "$url" eu-west-1 2> "$work/login.log" || { cat "$work/login.log" >&2; exit 1; }
echo "crane logged in to $host with the password GetAuthorizationToken gave"
file_digest="sha256:$(sha256_of "$work/layer.tar.gz")"
stored="$(grep "CompleteLayerUpload .*uploadId=$upload_id " "$work/endpoint.log" | grep -o 'layerDigest=sha256:[0-9a-f]*' | cut -d= -f2 || true)"
readback="$("$crane" blob "$host/demo/app@$file_digest" | sha256sum | cut -d' ' -f1)"
same "the layer's digest:" \
  "sha256sum $(basename "$work/layer.tar.gz")" "$file_digest" \
  "ecr_layer.demo.digest" "$("$tf" output -raw layer_digest)" \
  "the endpoint's CompleteLayerUpload of that upload" "$stored" \
  "crane blob $host/demo/app@... | sha256sum" "sha256:$readback"

echo "==> 3. the image"
image_uri="$("$tf" output -raw image_uri)"
echo "image_uri = $image_uri"
remote_digest="$("$crane" digest "$host/demo/app:demo")"
manifest_digest="sha256:$("$crane" manifest "$host/demo/app@${image_uri##*@}" | sha256sum | cut -d' ' -f1)"
same "the image's digest:" \
  "the layout's index.json" "$layout_digest" \
  "ecr_image.demo.image_digest" "$("$tf" output -raw image_digest)" \
  "digest in image_uri" "${image_uri##*@}" \
  "crane digest $host/demo/app:demo" "$remote_digest" \
  "crane manifest $host/demo/app@... | sha256sum" "$manifest_digest"
echo "crane validate --remote $host/demo/app:demo (every layer read back against its digest and diff_id)"
"$crane" validate --remote "$host/demo/app:demo" | sed 's/^/  /'

echo "==> 4. the image copied from $upstream_host/upstream/tool:1.0 (no Docker daemon, no temporary file)"
same "the copy's digest:" \
  "crane digest $upstream_host/upstream/tool:1.0" "$upstream_digest" \
  "ecr_image.mirror.image_digest" "$("$tf" output -raw mirror_digest)" \
  "crane digest $host/demo/app:tool-1.0" "$("$crane" digest "$host/demo/app:tool-1.0")"
echo "crane validate --remote $host/demo/app:tool-1.0"
"$crane" validate --remote "$host/demo/app:tool-1.0" | sed 's/^/  /'

if [ -n "$failed" ]; then
  echo "make demo: a digest did not match" >&2
  exit 1
fi
echo "make demo: every digest matches"
