#!/usr/bin/env bash
# Builds aiperf-rs and runs a real profile against the built-in mock LLM server.
# No GPU, no network, no downloads. Results go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
BIN=target/release/aiperf-rs
PORT=${PORT:-8000}
TOKENIZER=../shared/data/tokenizers/qwen3-0.6b
[ -d "$TOKENIZER" ] || TOKENIZER=builtin
"$BIN" mock-server --port "$PORT" --ttft-ms 20 --itl-ms 5 --tokenizer "$TOKENIZER" &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
"$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming \
    --concurrency 32 --request-count 1000 \
    --synthetic-input-tokens-mean 200 --synthetic-input-tokens-stddev 20 \
    --output-tokens-mean 100 --tokenizer "$TOKENIZER" \
    --artifact-dir out/ "$@"
