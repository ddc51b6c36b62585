#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# Prints the path of OpenTofu $TOFU_VERSION (exactly that release) for the
# tests, the demo and the benchmark: the `tofu` on PATH when it is that very
# release, else a build of it from the Go module proxy. A `tofu` on PATH of any
# other version is never used in its place, so that each `make test` run
# tests the release it names.
#
# OpenTofu publishes no module-proxy binary, and this machine reaches no release
# downloads, so the release is built from source in a throwaway module. The build
# takes about nine minutes on two cores, so the binary is cached outside the work
# tree (in $ECR_TOOLS_CACHE, default ~/.cache/terraform-provider-ecr, one
# directory per version) and reused.
set -euo pipefail

version="${TOFU_VERSION:?set TOFU_VERSION, e.g. 1.12.6}"
want="OpenTofu v$version"

# version_line BINARY: the "OpenTofu vX.Y.Z" line of `BINARY version`. Not
# simply the first line: OpenTofu 1.12 prints CLI configuration warnings (for
# example, TF_CLI_CONFIG_FILE naming a missing file) on stdout before it.
version_line() { "$1" version 2>/dev/null | grep -m1 '^OpenTofu v' || true; }

if installed="$(command -v tofu)"; then
  have="$(version_line "$installed")"
  if [ "$have" = "$want" ]; then
    echo "$installed"
    exit 0
  fi
  echo "not using $installed (${have:-no version}): the pinned release is $version" >&2
fi
cache="${ECR_TOOLS_CACHE:-$HOME/.cache/terraform-provider-ecr}"
bin="$cache/tofu-$version/tofu"

if [ -x "$bin" ] && [ "$(version_line "$bin")" = "$want" ]; then
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
