#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, real-socket service tests and
# end-to-end runs of the `aiperf-rs` binary against the built-in mock server on
# 127.0.0.1. Everything the tests read (real tokenizers, trace excerpts) is in
# tests/fixtures; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked "$@"
