# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# Shared by demo.sh and bench.sh. Source it; it defines functions only.

# Demo credentials: the local endpoint accepts exactly these, and checks the
# SigV4 signature made with them.
use_local_credentials() {
  export AWS_ACCESS_KEY_ID=AKIAECRLOCALDEMO0001
  export AWS_SECRET_ACCESS_KEY=ecrlocal-demo-secret-key
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ECR AWS_ENDPOINT_URL_STS
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# start_endpoint ECR_LOCAL_BINARY WORKDIR [ARGS...]: starts the local
# endpoint in the background, sets endpoint_pid and endpoint_url.
start_endpoint() {
  local binary="$1" work="$2"
  shift 2
  "$binary" -url-file "$work/url" "$@" &
  endpoint_pid=$!
  for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
  [ -s "$work/url" ] || { echo "the local endpoint did not start" >&2; return 1; }
  endpoint_url="$(cat "$work/url")"
}

# install_in_mirror WORKDIR VERSION WRITER: calls WRITER PATH for the
# provider's path under both registry hosts in a filesystem mirror, and
# points the CLI at the mirror (TF_CLI_CONFIG_FILE), so that init installs
# the provider as it would a release.
install_in_mirror() {
  local work="$1" version="$2" writer="$3" host dir
  local os_arch
  os_arch="$(go env GOOS)_$(go env GOARCH)"
  for host in registry.terraform.io registry.opentofu.org; do
    dir="$work/mirror/$host/ecrlabs/ecr/$version/$os_arch"
    mkdir -p "$dir"
    "$writer" "$dir/terraform-provider-ecr_v$version"
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
  export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
}
