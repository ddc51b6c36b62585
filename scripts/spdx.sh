#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# spdx.sh --check: lists the source files (.go, .sh, .tf) that lack the license
#   header, and fails when there is any.
# spdx.sh --add: adds it to each of them; running it again changes nothing.
#
# The header is the two lines HashiCorp's providers carry, with this project's
# holder and the LICENSE file's licence:
#   // Copyright (c) ecrlabs
#   // SPDX-License-Identifier: MPL-2.0
# (with # for shell and Terraform files). It goes first in the file, after a
# shell script's #! line, and is followed by a blank line so that it never joins
# a Go package comment or a build constraint.
#
# Files are those git tracks plus new ones it does not ignore. The examples that
# tfplugindocs renders into docs/ are left out (as terraform-provider-random's
# .copywrite.hcl leaves out examples/**): users copy them from the docs, and a
# header there would land in every copied snippet.
set -euo pipefail
cd "$(dirname "$0")/.."

holder="ecrlabs"
spdx="SPDX-License-Identifier: MPL-2.0"

mode="${1:-}"
case "$mode" in
  --check | --add) ;;
  *) echo "usage: $0 --check | --add" >&2; exit 2 ;;
esac

files() {
  git ls-files --cached --others --exclude-standard -- '*.go' '*.sh' '*.tf' \
    | grep -Ev '^examples/(provider|resources|data-sources|ephemeral-resources|functions|actions|list-resources|guides)/' \
    | sort -u
}

# has_header FILE: the SPDX line is among the first five lines.
has_header() { head -n 5 "$1" | grep -q "$spdx"; }

add_header() {
  local file="$1" prefix tmp
  case "$file" in
    *.go) prefix="//" ;;
    *) prefix="#" ;;
  esac
  tmp="$(mktemp)"
  {
    if [ "$(head -c 2 "$file")" = "#!" ]; then
      head -n 1 "$file"
      printf '%s Copyright (c) %s\n%s %s\n\n' "$prefix" "$holder" "$prefix" "$spdx"
      tail -n +2 "$file"
    else
      printf '%s Copyright (c) %s\n%s %s\n\n' "$prefix" "$holder" "$prefix" "$spdx"
      cat "$file"
    fi
  } > "$tmp"
  # Keep the file's mode (scripts stay executable).
  cat "$tmp" > "$file"
  rm -f "$tmp"
}

missing=0
while IFS= read -r file; do
  [ -f "$file" ] || continue # tracked but deleted in the work tree
  has_header "$file" && continue
  if [ "$mode" = --add ]; then
    add_header "$file"
    echo "added the header to $file"
  else
    echo "no license header: $file"
    missing=$((missing + 1))
  fi
done < <(files)

if [ "$mode" = --check ] && [ "$missing" -gt 0 ]; then
  echo "$missing files lack the license header ('// Copyright (c) $holder' and '// $spdx'): run 'make spdx'" >&2
  exit 1
fi
