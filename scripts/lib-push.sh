# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# Shared by demo.sh and bench-push.sh (with lib.sh). Source it; it defines
# functions only.

# The peers the demo and the benchmark compare with or read back through:
# go-containerregistry's crane and its registry, built from the Go module
# proxy once into a cache outside the repository.
GGCR_VERSION=v0.22.1
peer_dir="${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-ecr/bin"

# peer_bin NAME: prints the path of go-containerregistry's cmd/NAME at
# GGCR_VERSION (crane, registry), building it first if need be. Run from /
# so that no go.mod or go.work around changes what is built.
peer_bin() {
  local name="$1" out tmp
  out="$peer_dir/$name-$GGCR_VERSION"
  if [ ! -x "$out" ]; then
    mkdir -p "$peer_dir"
    tmp="$(mktemp -d "$peer_dir/.build.XXXXXX")"
    (cd / && GOBIN="$tmp" GOFLAGS= GOWORK=off CGO_ENABLED=0 \
      go install "github.com/google/go-containerregistry/cmd/$name@$GGCR_VERSION") >&2 || { rm -rf "$tmp"; return 1; }
    mv "$tmp/$name" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

# stop_endpoint: stops the endpoint start_endpoint started (its temporary
# blob directory goes with it).
stop_endpoint() {
  if [ -n "${endpoint_pid:-}" ]; then
    kill "$endpoint_pid" 2>/dev/null || true
    wait "$endpoint_pid" 2>/dev/null || true
  fi
  endpoint_pid=""
}

sha256_of() { sha256sum < "$1" | cut -d' ' -f1; }

# layout_blob DIR FILE: puts FILE into the OCI layout DIR's blobs (a hard
# link where it can) and prints its descriptor's digest and size fields.
layout_blob() {
  local dir="$1" file="$2" hex
  hex="$(sha256_of "$file")"
  mkdir -p "$dir/blobs/sha256"
  ln -f "$file" "$dir/blobs/sha256/$hex" 2>/dev/null || cp "$file" "$dir/blobs/sha256/$hex"
  printf '"digest":"sha256:%s","size":%s' "$hex" "$(stat -c %s "$file")"
}

# write_layout DIR LAYER_MEDIA_TYPE LAYER_FILE...: writes an OCI image layout
# at DIR holding one linux/amd64 image of these layers, in order, and prints
# the image manifest's digest (what index.json lists). For a gzip media type
# each layer's diff_id is the digest of its decompressed bytes; otherwise the
# layer is taken as uncompressed, and its diff_id is its digest.
write_layout() {
  local dir="$1" media="$2" f layers="" diff_ids="" diff_id desc
  shift 2
  mkdir -p "$dir/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  for f in "$@"; do
    desc="$(layout_blob "$dir" "$f")"
    case "$media" in
      *gzip) diff_id="sha256:$(gzip -dc < "$f" | sha256sum | cut -d' ' -f1)" ;;
      *) diff_id="${desc#\"digest\":\"}"; diff_id="${diff_id%%\"*}" ;;
    esac
    layers="$layers${layers:+,}{\"mediaType\":\"$media\",$desc}"
    diff_ids="$diff_ids${diff_ids:+,}\"$diff_id\""
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diff_ids" > "$dir/config.json"
  desc="$(layout_blob "$dir" "$dir/config.json")"
  rm "$dir/config.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[%s]}' \
    "$desc" "$layers" > "$dir/manifest.json"
  desc="$(layout_blob "$dir" "$dir/manifest.json")"
  rm "$dir/manifest.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
    "$desc" > "$dir/index.json"
  desc="${desc#\"digest\":\"}"
  echo "${desc%%\"*}"
}

# ecr_registry_login CRANE ENDPOINT_URL REGION: gets a registry password
# from the endpoint's GetAuthorizationToken (SigV4-signed by curl with the
# credentials in the environment) and logs crane in to the endpoint's host
# with it, in a Docker config of its own (DOCKER_CONFIG must be set).
ecr_registry_login() {
  local crane="$1" url="$2" region="$3" answer token
  answer="$(curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:ecr" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken' \
    -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "$url/")"
  token="$(printf '%s' "$answer" | grep -o '"authorizationToken":"[^"]*"' | head -1 | cut -d'"' -f4)"
  [ -n "$token" ] || { echo "GetAuthorizationToken gave no token: $answer" >&2; return 1; }
  printf '%s' "$token" | base64 -d | cut -d: -f2- |
    "$crane" auth login "${url#*://}" -u AWS --password-stdin >/dev/null
}
