#!/usr/bin/env bash
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

# Demo credentials: the local endpoint accepts exactly these, and checks the
# SigV4 signature made with them.
export AWS_ACCESS_KEY_ID=AKIAECRLOCALDEMO0001
export AWS_SECRET_ACCESS_KEY=ecrlocal-demo-secret-key
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR AWS_ENDPOINT_URL_STS
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

echo "==> starting the local ECR endpoint with repository demo/app"
"$bin/ecr-local" -url-file "$work/url" -repository demo/app &
endpoint_pid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
[ -s "$work/url" ] || { echo "the local endpoint did not start" >&2; exit 1; }
url="$(cat "$work/url")"

# Install the binary just built as version $demo_version in a filesystem mirror, for
# both registry addresses, so that init installs it as it would a release.
demo_version=0.1.0 # any released-looking version: init skips 0.0.0 and pre-releases
os_arch="$(go env GOOS)_$(go env GOARCH)"
for host in registry.terraform.io registry.opentofu.org; do
  dir="$work/mirror/$host/ecrlabs/ecr/$demo_version/$os_arch"
  mkdir -p "$dir"
  cp "$bin/terraform-provider-ecr" "$dir/terraform-provider-ecr_v$demo_version"
done
cat > "$work/cli.tfrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.terraform.io/ecrlabs/ecr", "registry.opentofu.org/ecrlabs/ecr"]
  }
  direct {
    exclude = ["registry.terraform.io/ecrlabs/ecr", "registry.opentofu.org/ecrlabs/ecr"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
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
