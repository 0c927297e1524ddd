#!/usr/bin/env bash
# Soak benchmark: N streamed requests (concurrency 64, 100 input / 100 output
# tokens) against the built-in mock at zero delay (`--fast`), printing the
# client's resident memory every second and its peak at the end.
#
# Usage: scripts/bench/soak.sh [N]            (default N = 1000000)
# Environment:
#   AIPERF_BIN   binary to run (default: the release build, built or updated
#                by scripts/release-bin.sh)
#   CONCURRENCY  (default 64)
#   MOCK_PORT    port of the mock server (default 18931)
#   OUT          artifact directory (default: a temporary directory, removed)
#
# Output: one line per second, `t_s=<s> rss_mb=<MB> records=<lines written>`,
# then `rss_at_100k_mb=<MB>` (first sample with at least 100,000 records, or
# MARK records), `rss_last_mb=<MB>` (the last sample of the run, before its
# final summary), `peak_rss_mb=<MB>` (maximum RSS, from /usr/bin/time, the
# final summary included) and the run's request throughput.
#   MARK         record count of the first reference point (default 100000)
set -euo pipefail

N="${1:-1000000}"
CONCURRENCY="${CONCURRENCY:-64}"
MARK="${MARK:-100000}"
MOCK_PORT="${MOCK_PORT:-18931}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${AIPERF_BIN:-$("$ROOT/scripts/release-bin.sh")}"
OUT="${OUT:-}"
CLEAN_OUT=0
if [[ -z "$OUT" ]]; then
    OUT="$(mktemp -d)"
    CLEAN_OUT=1
fi
mkdir -p "$OUT"

"$BIN" mock-server --port "$MOCK_PORT" --fast >/dev/null 2>&1 &
MOCK_PID=$!
cleanup() {
    kill "$MOCK_PID" 2>/dev/null || true
    [[ "$CLEAN_OUT" == 1 ]] && rm -rf "$OUT"
}
trap cleanup EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$MOCK_PORT") 2>/dev/null && break
    sleep 0.1
done

/usr/bin/time -f '%M' -o "$OUT/peak_kb.txt" "$BIN" profile -m mock-model --url "http://127.0.0.1:$MOCK_PORT" \
    --streaming --concurrency "$CONCURRENCY" --request-count "$N" \
    --isl 100 --osl 100 --ui none --artifact-dir "$OUT" >"$OUT/console.txt" 2>&1 &
TIME_PID=$!
# The profiling process is /usr/bin/time's child.
PID=""
for _ in $(seq 50); do
    PID="$(cat "/proc/$TIME_PID/task/$TIME_PID/children" 2>/dev/null | awk '{print $1}')"
    [[ -n "$PID" ]] && break
    sleep 0.1
done
START=$(date +%s.%N)
# Lines are counted incrementally (the file grows to gigabytes).
RECORDS=0
COUNTED_BYTES=0
RSS_AT_MARK=""
RSS_LAST=""
JSONL="$OUT/profile_export.jsonl"
while [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; do
    STATUS="$(cat "/proc/$PID/status" 2>/dev/null || true)"
    RSS_KB="$(awk '/^VmRSS:/ {print $2}' <<<"$STATUS")"
    if [[ -n "$RSS_KB" ]]; then
        if [[ -f "$JSONL" ]]; then
            SIZE=$(stat -c %s "$JSONL")
            if ((SIZE > COUNTED_BYTES)); then
                # (tail gets SIGPIPE when head is done: not a failure)
                NEW=$(tail -c +$((COUNTED_BYTES + 1)) "$JSONL" | head -c $((SIZE - COUNTED_BYTES)) | wc -l || true)
                RECORDS=$((RECORDS + NEW))
                COUNTED_BYTES=$SIZE
            fi
        fi
        RSS_MB="$(echo "$RSS_KB / 1024" | bc -l)"
        RSS_LAST="$RSS_MB"
        if [[ -z "$RSS_AT_MARK" ]] && ((RECORDS >= MARK)); then
            RSS_AT_MARK="$RSS_MB"
        fi
        printf 't_s=%.0f rss_mb=%.1f records=%s\n' \
            "$(echo "$(date +%s.%N) - $START" | bc)" "$RSS_MB" "$RECORDS"
    fi
    sleep 1
done
wait "$TIME_PID" || { echo "aiperf-rs failed:"; cat "$OUT/console.txt"; exit 1; }
PEAK_KB="$(tail -1 "$OUT/peak_kb.txt")"
[[ -n "$RSS_AT_MARK" ]] && printf 'rss_at_%s_records_mb=%.1f\n' "$MARK" "$RSS_AT_MARK"
[[ -n "$RSS_LAST" ]] && printf 'rss_last_mb=%.1f records=%s\n' "$RSS_LAST" "$RECORDS"
printf 'peak_rss_mb=%.1f\n' "$(echo "$PEAK_KB / 1024" | bc -l)"
grep -iE "request throughput|record processing fell behind" "$OUT/console.txt" || true
