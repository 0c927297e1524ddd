#!/usr/bin/env bash
# Replays the first MINUTES (default 5) of the real Mooncake conversation trace at
# SPEEDUP× (default 5) against the mock server and prints the schedule lag (actual
# send − scheduled send) and the achieved rate from each run's load report.
#
# Usage: scripts/bench/mooncake_replay.sh [MINUTES] [SPEEDUP] [extra profile flags...]
#   REPEAT=N     runs N times and ends with the spread of p99 and max (default 1)
#   MOCK_ARGS=…  mock latency (default `--fast`: every token at once, the hardest case
#                for a client that shares its CPUs with the mock)
#   TRACE=FILE   the trace to replay (absolute, or relative to the repository). Default: the excerpt in tests/fixtures (the first
#                1,000 rows, every request of the first 330 s), enough for MINUTES ≤ 5.
#                Longer replays need the full conversation_trace.jsonl (12,031 rows,
#                1 h; where to get it: tests/fixtures/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${1:-5}; SPEEDUP=${2:-5}; shift $(( $# > 2 ? 2 : $# )) || true
EXCERPT=tests/fixtures/mooncake/conversation_trace.head1000.jsonl
TRACE=${TRACE:-$EXCERPT}
TOK=tests/fixtures/tokenizers/qwen3-0.6b
if [ "$TRACE" = "$EXCERPT" ]; then
  # The excerpt ends inside the batch sent at its last timestamp.
  LAST_MS=$(tail -n 1 "$EXCERPT" | sed -E 's/.*"timestamp": *([0-9]+).*/\1/')
  if (( MINUTES * 60000 >= LAST_MS )); then
    echo "error: the trace excerpt in tests/fixtures covers only the first $((LAST_MS / 1000)) s;" \
      "for $MINUTES minutes set TRACE to the full Mooncake conversation_trace.jsonl" \
      "(source: tests/fixtures/README.md)" >&2
    exit 2
  fi
fi
[ -f "$TRACE" ] || { echo "error: trace $TRACE not found" >&2; exit 2; }
BIN=${AIPERF_RS_BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18731}
OUT=$(mktemp -d)
# shellcheck disable=SC2086
"$BIN" mock-server --port "$PORT" ${MOCK_ARGS:---fast} --tokenizer approx >/dev/null 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
for run in $(seq "${REPEAT:-1}"); do
  "$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" --streaming \
    --input-file "$TRACE" --custom-dataset-type mooncake_trace \
    --fixed-schedule-end-offset $((MINUTES * 60000)) --synthesis-speedup-ratio "$SPEEDUP" \
    --tokenizer "$TOK" --artifact-dir "$OUT/run$run" --ui none "$@" >/dev/null
done
python3 - "$OUT" "${REPEAT:-1}" <<'PY'
import json, sys
out, runs = sys.argv[1], int(sys.argv[2])
p99s, maxes = [], []
for run in range(1, runs + 1):
    r = json.load(open(f"{out}/run{run}/profile_export_aiperf.json"))["load_report"]
    lag = r["schedule_lag_ms"]
    p99s.append(lag["p99"]); maxes.append(lag["max"])
    print(f"run {run}: requests {r['requests_sent']}  requested {r['requested_rate']:.2f} req/s  achieved {r['achieved_rate']:.2f} req/s")
    print(f"  schedule lag ms: p50 {lag['p50']:.3f}  p90 {lag['p90']:.3f}  p99 {lag['p99']:.3f}  max {lag['max']:.3f}")
    print(f"  client CPU: avg {r['client_cpu']['avg_cores']:.2f} cores, peak {r['client_cpu']['peak_cores']:.2f}; client_bound={r['client_bound']}")
if runs > 1:
    s = sorted(p99s)
    print(f"{runs} runs: lag p99 min {s[0]:.2f}  median {s[len(s)//2]:.2f}  max {s[-1]:.2f} ms; "
          f"{sum(p < 5 for p in p99s)}/{runs} under 5 ms; worst single request {max(maxes):.2f} ms")
PY
