#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make interop: clients nobody here wrote read back what the provider pushes.
# Interop check: oras discover/pull and cosign verify --key read back, from the
# local ECR endpoint's registry API, an image plus its referrers (an SPDX SBOM
# attached with oras, a cosign v3 bundle signature made offline) that
# terraform-provider-ecr pushed (a) from an OCI layout and (b) by copying from
# a registry. Plus the legacy cosign `.sig` tag scheme, pushed as a tagged
# manifest from a `cosign save` layout.
#
# Needs: Go (module proxy), curl, terraform (or tofu: TF=tofu), python3.
# oras and cosign are built from the Go module proxy into the cache the first
# time (cosign: about 6 minutes on 2 cores with a cold module cache).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TF="${TF:-terraform}"
BIN="${BIN:-$HOME/.cache/terraform-provider-ecr/interop-bin}"
ORAS_VERSION=v1.3.6
COSIGN_VERSION=v3.1.3
GGCR_VERSION=v0.22.1
mkdir -p "$BIN"
export PATH="$BIN:$PATH"

gobuild() { # gobuild NAME PKG@VERSION: go install into $BIN unless there
  [ -x "$BIN/$1" ] && return 0
  echo "==> building $2" >&2
  local t0=$SECONDS
  (cd / && GOBIN="$BIN" GOFLAGS= GOWORK=off CGO_ENABLED=0 go install "$2")
  echo "    $1 built in $((SECONDS - t0))s" >&2
}
gobuild oras "oras.land/oras/cmd/oras@$ORAS_VERSION"              # ~15 s warm, 1-2 min cold
gobuild cosign "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" # ~6 min cold on 2 cores
gobuild crane "github.com/google/go-containerregistry/cmd/crane@$GGCR_VERSION"
gobuild registry "github.com/google/go-containerregistry/cmd/registry@$GGCR_VERSION"
(cd "$ROOT" && go build -o "$BIN/" . ./internal/cmd/ecr-local) # provider + endpoint

. "$ROOT/scripts/lib.sh"
. "$ROOT/scripts/lib-push.sh" # write_layout, stop_endpoint

work="$(mktemp -d)"
endpoint_pid="" registry_pid=""
cleanup() {
  stop_endpoint
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
}
trap 'cleanup; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
cd "$work"
export DOCKER_CONFIG="$work/docker" # oras login and cosign read credentials here
mkdir -p "$DOCKER_CONFIG"

echo "==> 1. a source registry on loopback (go-containerregistry's: no referrers API, so oras and cosign use the sha256-<hex> tag)"
registry -port 0 2> registry.log &
registry_pid=$!
for _ in $(seq 100); do grep -q 'serving on port' registry.log 2>/dev/null && break; sleep 0.1; done
SRC="127.0.0.1:$(grep -o 'serving on port [0-9]*' registry.log | awk '{print $4}')"

mkdir -p src/app && echo hello > src/app/hello.txt
tar -C src --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n > app.tar.gz
write_layout img application/vnd.oci.image.layer.v1.tar+gzip app.tar.gz > /dev/null
crane push img "$SRC/demo/app:v1" > /dev/null 2>&1
DIGEST="$(crane digest "$SRC/demo/app:v1")"
echo "image $SRC/demo/app:v1 = $DIGEST"

echo "==> 2. SBOM referrer (oras attach) and offline cosign signature (v3 bundle, OCI 1.1 referrer)"
printf '{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"demo-app","documentNamespace":"https://example.com/demo-app","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: hand"]},"packages":[]}\n' > sbom.json
oras attach --plain-http --artifact-type application/spdx+json "$SRC/demo/app:v1" sbom.json > attach.log
SBOM="$(sed -n 's/^Digest: //p' attach.log)"
COSIGN_PASSWORD= cosign generate-key-pair > /dev/null 2>&1 # cosign.key (empty password), cosign.pub
COSIGN_PASSWORD= cosign sign --key cosign.key -y --use-signing-config=false --tlog-upload=false \
  "$SRC/demo/app@$DIGEST" 2>&1 | grep -v deprecated
echo "fallback tag index on the source: $(crane manifest "$SRC/demo/app:sha256-${DIGEST#sha256:}")"

echo "==> 3. the OCI layout the provider pushes: image + referrers, written by oras cp -r"
oras cp -r --from-plain-http "$SRC/demo/app:v1" --to-oci-layout "layout:v1" > /dev/null
python3 - layout/index.json <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["manifests"]:
    print(" ", m["digest"], m.get("artifactType", "-"), m.get("annotations", {}).get("org.opencontainers.image.ref.name", ""))
PY

echo "==> 4. legacy cosign signature (sha256-<hex>.sig tag, no subject) of a second image, saved with cosign save"
mkdir -p src2/app && echo legacy > src2/app/x.txt
tar -C src2 --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n > app2.tar.gz
write_layout img2 application/vnd.oci.image.layer.v1.tar+gzip app2.tar.gz > /dev/null
crane push img2 "$SRC/demo/legacy:v1" > /dev/null 2>&1
DIGEST2="$(crane digest "$SRC/demo/legacy:v1")"
COSIGN_PASSWORD= cosign sign --key cosign.key -y --use-signing-config=false --tlog-upload=false \
  --new-bundle-format=false "$SRC/demo/legacy@$DIGEST2" 2>&1 | grep -v deprecated
cosign save --dir legacy-layout "$SRC/demo/legacy@$DIGEST2"
SIG2="$(crane digest "$SRC/demo/legacy:sha256-${DIGEST2#sha256:}.sig")"

echo "==> 5. the local ECR endpoint, and terraform-provider-ecr pushing into it"
use_local_credentials
start_endpoint "$BIN/ecr-local" "$work" -repository demo/app -repository demo/copy \
  -repository demo/legacy -repository demo/bare 2> endpoint.log
HOST="${endpoint_url#*://}"
cat > dev.tfrc <<EOF
provider_installation {
  dev_overrides { "ecrlabs/ecr" = "$BIN" }
  direct {}
}
EOF
cat > main.tf <<'EOF'
terraform {
  required_providers {
    ecr = { source = "ecrlabs/ecr" }
  }
}
variable "endpoint" { type = string }
variable "layout" { type = string }
variable "source_image" { type = string }
variable "legacy_layout" { type = string }
variable "legacy_digest" { type = string }
variable "legacy_sig" { type = string }
provider "ecr" {
  region = "eu-west-1"
  endpoints {
    ecr = var.endpoint
    sts = var.endpoint
  }
}
resource "ecr_image" "layout" { # image + SBOM + cosign bundle from the layout
  repository_name = "demo/app"
  source          = var.layout
  ref             = "v1"
  tags            = ["v1"]
}
resource "ecr_image" "copy" { # the same, copied from the registry (its sha256-<hex> tag lists the referrers)
  repository_name = "demo/copy"
  source_image    = var.source_image
  tags            = ["v1"]
}
resource "ecr_image" "bare" { # no referrers: cosign verify must fail
  repository_name = "demo/bare"
  source          = var.layout
  ref             = "v1"
  referrers       = []
  tags            = ["v1"]
}
resource "ecr_image" "legacy" {
  repository_name = "demo/legacy"
  source          = var.legacy_layout
  ref             = var.legacy_digest
  tags            = ["v1"]
}
resource "ecr_image" "legacy_sig" { # the .sig manifest has no subject: push it as a tagged image
  repository_name = "demo/legacy"
  source          = var.legacy_layout
  ref             = var.legacy_sig
  tags            = ["sha256-${trimprefix(var.legacy_digest, "sha256:")}.sig"]
  depends_on      = [ecr_image.legacy]
}
output "layout_referrers" { value = ecr_image.layout.referrer_digests }
output "copy_referrers" { value = ecr_image.copy.referrer_digests }
EOF
TF_CLI_CONFIG_FILE="$work/dev.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 "$TF" apply -auto-approve -no-color \
  -var "endpoint=$endpoint_url" -var "layout=$work/layout" -var "source_image=$SRC/demo/app:v1" \
  -var "legacy_layout=$work/legacy-layout" -var "legacy_digest=$DIGEST2" -var "legacy_sig=$SIG2" \
  > apply.log 2>&1 || { cat apply.log >&2; exit 1; }
sed -n '/^Outputs:/,$p' apply.log

echo "==> 6. registry password from GetAuthorizationToken (user AWS), oras login into \$DOCKER_CONFIG"
answer="$(curl -sS --fail-with-body --aws-sigv4 "aws:amz:eu-west-1:ecr" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' \
  -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "$endpoint_url/")"
PASSWORD="$(printf '%s' "$answer" | grep -o '"authorizationToken":"[^"]*"' | head -1 | cut -d'"' -f4 | base64 -d | cut -d: -f2-)"
# (or: PASSWORD="$(aws ecr get-login-password --endpoint-url "$endpoint_url" --region eu-west-1)")
printf '%s' "$PASSWORD" | oras login --plain-http -u AWS --password-stdin "$HOST" # cosign reads this login too

failed=""
checks=0
check() { # check WHAT COMMAND...: runs it (output in check-N.out), marks the run failed on error
  local what="$1"; shift
  checks=$((checks + 1))
  if "$@" > "check-$checks.out" 2>&1; then echo "ok: $what"; else echo "FAILED: $what" >&2; sed 's/^/  /' "check-$checks.out" >&2; failed=1; fi
}
echo "==> 7. read-back from the endpoint's registry API"
for repo in app copy; do
  check "oras discover $HOST/demo/$repo:v1 lists the SBOM and the cosign bundle" bash -c "
    oras discover --plain-http --format json '$HOST/demo/$repo:v1' > discover-$repo.json &&
    grep -q '\"artifactType\": \"application/spdx+json\"' discover-$repo.json &&
    grep -q '\"artifactType\": \"application/vnd.dev.sigstore.bundle.v0.3+json\"' discover-$repo.json"
  check "oras discover --artifact-type application/spdx+json (server-side filter) gives $SBOM" bash -c "
    oras discover --plain-http --artifact-type application/spdx+json --format go-template \
      --template '{{range .referrers}}{{.digest}}{{\"\\n\"}}{{end}}' '$HOST/demo/$repo:v1' | grep -qx '$SBOM'"
  check "oras pull $HOST/demo/$repo@$SBOM gives sbom.json byte for byte" bash -c "
    rm -rf pull-$repo && oras pull --plain-http -o pull-$repo '$HOST/demo/$repo@$SBOM' && cmp pull-$repo/sbom.json sbom.json"
  check "cosign verify --key cosign.pub $HOST/demo/$repo@$DIGEST" \
    cosign verify --key cosign.pub --insecure-ignore-tlog=true "$HOST/demo/$repo@$DIGEST"
done
check "cosign verify --key (legacy .sig tag) $HOST/demo/legacy:v1" \
  cosign verify --key cosign.pub --insecure-ignore-tlog=true "$HOST/demo/legacy:v1"
check "cosign verify --registry-username/--registry-password (no docker config)" env DOCKER_CONFIG="$work/none" \
  cosign verify --key cosign.pub --insecure-ignore-tlog=true --registry-username AWS --registry-password "$PASSWORD" "$HOST/demo/app:v1"
check "the endpoint answered every registry read (no 4xx but the first 401 challenges)" bash -c "
  ! grep 'ecr-local: registry:' endpoint.log | grep -v -e ': ok\$' -e ': UNAUTHORIZED\$'"
COSIGN_PASSWORD= cosign generate-key-pair --output-key-prefix other > /dev/null 2>&1
check "cosign verify with another key fails" bash -c "! cosign verify --key other.pub --insecure-ignore-tlog=true '$HOST/demo/app:v1'"
check "cosign verify of the image pushed with referrers = [] fails" bash -c "! cosign verify --key cosign.pub --insecure-ignore-tlog=true '$HOST/demo/bare:v1'"

echo "work directory: $work (kept with KEEP_WORK=1)"
[ -z "$failed" ] || { echo "interop: some checks failed" >&2; exit 1; }
echo "interop: every check passed"
