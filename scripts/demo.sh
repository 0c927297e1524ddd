#!/usr/bin/env bash
# Builds aiperf-rs (release) and runs a real profile against the built-in mock LLM
# server on 127.0.0.1. No GPU, no network, no downloads. Results go to out/.
#
# Environment (all optional):
#   PORT=8000        the mock server's port
#   REQUESTS=1000    requests to send
#   TOKENIZER=...    default: the Qwen3-0.6B tokenizer vendored in tests/fixtures;
#                    `builtin` (tiktoken o200k_base) works too
# Extra arguments go to `aiperf-rs profile`.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
REQUESTS=${REQUESTS:-1000}
TOKENIZER=${TOKENIZER:-tests/fixtures/tokenizers/qwen3-0.6b}
OUT=out
MOCK_LOG=$OUT/mock-server.log

BIN=$(scripts/release-bin.sh)

mkdir -p "$OUT"
"$BIN" mock-server --port "$PORT" --ttft-ms 20 --itl-ms 5 --tokenizer "$TOKENIZER" \
  >"$MOCK_LOG" 2>&1 &
MOCK=$!
trap 'kill "$MOCK" 2>/dev/null || true' EXIT

# The mock prints "listening" once it is bound and has loaded its tokenizer.
mock_failed() {
  echo "error: the mock server $1; its output ($MOCK_LOG):" >&2
  sed 's/^/  | /' "$MOCK_LOG" >&2
  exit 1
}
for _ in $(seq 300); do
  grep -q "listening on" "$MOCK_LOG" && break
  kill -0 "$MOCK" 2>/dev/null || mock_failed "exited before listening on 127.0.0.1:$PORT"
  sleep 0.1
done
grep -q "listening on" "$MOCK_LOG" || mock_failed "is not listening on 127.0.0.1:$PORT after 30 s"

"$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming \
  --concurrency 32 --request-count "$REQUESTS" \
  --synthetic-input-tokens-mean 200 --synthetic-input-tokens-stddev 20 \
  --output-tokens-mean 100 --tokenizer "$TOKENIZER" \
  --artifact-dir "$OUT/" "$@"
