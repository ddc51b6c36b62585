#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make demo: builds the provider and the local ECR endpoint, starts the
# endpoint with a repository, and runs init/apply of examples/demo with the
# chosen binary (terraform when present, else tofu; TF=... picks one).
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

bin="$root/bin"
mkdir -p "$bin"
echo "==> building the provider and the local endpoint"
(cd "$root" && go build -o "$bin/" . ./internal/cmd/ecr-local)

work="$(mktemp -d)"
endpoint_pid=""
cleanup() {
  [ -n "$endpoint_pid" ] && kill "$endpoint_pid" 2>/dev/null && wait "$endpoint_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

. "$root/scripts/lib.sh"
use_local_credentials

echo "==> starting the local ECR endpoint with repository demo/app"
start_endpoint "$bin/ecr-local" "$work" -repository demo/app
url="$endpoint_url"

copy_provider() { cp "$bin/terraform-provider-ecr" "$1"; }
# Any released-looking version: init skips 0.0.0 and pre-releases.
install_in_mirror "$work" 0.1.0 copy_provider
mkdir -p "$work/config"
cp "$root/examples/demo/main.tf" "$work/config/"
cd "$work/config"

echo "==> $tf init"
"$tf" init -no-color >/dev/null
echo "==> $tf apply (the provisioner prints what ecr_layer_upload got)"
"$tf" apply -auto-approve -no-color -var "ecr_endpoint=$url" -var "report_file=$work/upload.txt" | grep -v "^$"
echo "==> what the provisioner received (compare with the endpoint's last InitiateLayerUpload above)"
cat "$work/upload.txt"

echo "==> checking that the state holds no upload ID"
if "$tf" show -json | grep -q '"upload_id"'; then
  echo "the state holds an upload ID: this is a bug" >&2
  exit 1
fi
echo "the state holds no upload_id: ok"
