#!/usr/bin/env bash
# Regenerates the PHP message classes from ../../proto (and the google.rpc error subset) with
# Debian's protoc. The output is committed; .ci/run checks that it is up to date.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-generated}"
rm -rf "$out" && mkdir -p "$out"
protoc -I ../../proto -I proto -I /usr/include \
  --php_out="$out" \
  ../../proto/mcsync/v1/*.proto proto/google/rpc/status.proto
