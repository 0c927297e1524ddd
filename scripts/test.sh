#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, real-socket service tests and
# end-to-end runs of the `aiperf-rs` binary against the built-in mock server.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d ../shared/data ]; then
  echo "error: ../shared/data (the reference data beside the checkout) is missing; tests read real tokenizers and traces from it" >&2
  exit 1
fi
exec cargo test --workspace --locked "$@"
