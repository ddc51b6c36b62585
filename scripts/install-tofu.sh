#!/usr/bin/env bash
# Prints the path of an OpenTofu binary for the tests and the demo: the `tofu`
# on PATH when it is 1.11 or later (the first with ephemeral resources), else
# the pinned release, built from the Go module proxy.
#
# OpenTofu publishes no module-proxy binary, and this machine reaches no release
# downloads, so the release is built from source in a throwaway module. The build
# takes about nine minutes on two cores, so the binary is cached outside the work
# tree (in $ECR_TOOLS_CACHE, default ~/.cache/terraform-provider-ecr) and reused.
set -euo pipefail

version="${TOFU_VERSION:?set TOFU_VERSION, e.g. 1.11.5}"

if installed="$(command -v tofu)"; then
  if "$installed" version 2>/dev/null | head -1 | grep -Eq 'OpenTofu v(1\.(1[1-9]|[2-9][0-9])|[2-9])\.'; then
    echo "$installed"
    exit 0
  fi
  echo "ignoring $installed: it is older than OpenTofu 1.11" >&2
fi
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
