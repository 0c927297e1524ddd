#!/usr/bin/env bash
# Property-based fuzzing, longer than the test suite runs it: the SSE parser,
# the response parsers and every dataset loader (proptest; see
# docs/reliability.md, "Fuzzing"). The normal `cargo test` run uses a few dozen
# cases per target; this runs many more.
#
#   scripts/fuzz.sh                 # 20,000 cases per parser target, 500 per loader target
#   CASES=200000 scripts/fuzz.sh    # longer
#   LOADER_CASES=5000 scripts/fuzz.sh
#   FUZZ_RELEASE= scripts/fuzz.sh   # the debug build (no release build to wait for)
#
# A failure prints the smallest input proptest found and the seed to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES="${CASES:-20000}"
LOADER_CASES="${LOADER_CASES:-500}"
# Optimised code with debug assertions: many more cases per second.
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
run() {
    local cases="$1"
    shift
    echo "== $* (PROPTEST_CASES=$cases)"
    # shellcheck disable=SC2086
    PROPTEST_CASES="$cases" cargo test --locked ${FUZZ_RELEASE---release} "$@" -- --nocapture
}
run "$CASES" -p aiperf-worker --test fuzz_sse
run "$CASES" -p aiperf-endpoint --test fuzz_response
run "$LOADER_CASES" -p aiperf-dataset-manager --test fuzz_loaders
echo "fuzzing: no failure"
