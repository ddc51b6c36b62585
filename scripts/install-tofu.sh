#!/usr/bin/env bash
# Builds a pinned OpenTofu release from the Go module proxy and prints the binary's path.
#
# OpenTofu publishes no module-proxy binary, and this machine reaches no release
# downloads, so the release is built from source in a throwaway module. The build
# takes about nine minutes on two cores, so the binary is cached outside the work
# tree (in $ECR_TOOLS_CACHE, default ~/.cache/terraform-provider-ecr) and reused.
set -euo pipefail

version="${TOFU_VERSION:?set TOFU_VERSION, e.g. 1.11.5}"
cache="${ECR_TOOLS_CACHE:-$HOME/.cache/terraform-provider-ecr}"
bin="$cache/tofu-$version/tofu"

if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "OpenTofu v$version"; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building OpenTofu v$version from the Go module proxy (about 9 minutes the first time)" >&2

# OpenTofu's go.mod carries replace directives that only apply in its own main
# module; a module that requires it must repeat them or the build fails.
modfile="$(cd "$work" && go mod download -json "github.com/opentofu/opentofu@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
{
  echo "module tofubuild"
  grep -E '^go [0-9.]+$' "$modfile"
  echo "require github.com/opentofu/opentofu v$version"
  grep -E '^replace ' "$modfile" || true
} > "$work/go.mod"
cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
GO

mkdir -p "$(dirname "$bin")"
(
  cd "$work"
  GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
  GOFLAGS=-mod=mod go get "github.com/opentofu/opentofu@v$version" >&2
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
    -o "$bin.tmp" github.com/opentofu/opentofu/cmd/tofu
)
mv "$bin.tmp" "$bin"
"$bin" version >&2
echo "$bin"
