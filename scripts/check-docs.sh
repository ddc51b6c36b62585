#!/usr/bin/env bash
# Copyright (c) ecrlabs
# SPDX-License-Identifier: MPL-2.0

# make docs-check runs this after `make generate`: every generated type page
# (resource, data source, ephemeral resource) must have
#   - a description in its front matter (it comes from the schema),
#   - an example (examples/<kind>/<name>/...),
#   - a "What to know before you use it" section (the type's own template),
#   - for a resource, an "Import" section, or a sentence saying it "cannot be
#     imported".
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
fail() { echo "$1: $2" >&2; failed=1; }

for page in docs/resources/*.md docs/data-sources/*.md docs/ephemeral-resources/*.md; do
  [ -f "$page" ] || continue
  kind="$(basename "$(dirname "$page")")"
  name="ecr_$(basename "$page" .md)"
  desc="$(awk '/^description: \|-$/ { on = 1; next } on && /^  [^ ]/ { print; exit } on { exit }' "$page")"
  [ -n "$desc" ] || fail "$page" "no description: give $name a MarkdownDescription in its schema"
  grep -q '^## Example Usage$' "$page" ||
    fail "$page" "no example: add one under examples/$kind/$name/"
  grep -q '^## What to know before you use it$' "$page" ||
    fail "$page" "no 'What to know before you use it' section: copy templates/$kind.md.tmpl to templates/$kind/${name#ecr_}.md.tmpl and write it"
  if [ "$kind" = resources ]; then
    grep -q '^## Import$' "$page" || grep -q 'cannot be imported' "$page" ||
      fail "$page" "no import example: add examples/resources/$name/import.sh (or import-by-string-id.tf), or say in the page that it cannot be imported"
  fi
done
exit "$failed"
