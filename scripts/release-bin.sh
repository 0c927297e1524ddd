#!/usr/bin/env bash
# Builds the release `aiperf-rs` (unless it is up to date) and prints its path,
# wherever cargo puts it (CARGO_TARGET_DIR, .cargo/config.toml, ...).
# Used by scripts/demo.sh and the benchmark scripts: BIN=$(scripts/release-bin.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked >&2
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -E 's/.*"target_directory":"([^"]*)".*/\1/')
bin=$target_dir/release/aiperf-rs
[ -x "$bin" ] || { echo "error: $bin was not built" >&2; exit 1; }
echo "$bin"
