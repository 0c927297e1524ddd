#!/usr/bin/env bash
# `aiperf-rs plot` on 1,000,000 records: a real streaming run of 1,000 requests
# against the built-in mock server (with warmup, 5% HTTP errors, a request rate for
# the schedule lag, time slices), its records repeated with shifted timestamps to
# RECORDS lines (a ~1 GB profile_export.jsonl of real record lines), then the PNGs
# and the dashboard drawn from it, each timed: wall seconds, CPU seconds (user +
# system: the stable figure on a shared machine) and peak RSS.
#
#   scripts/bench/plot_1m.sh
#   RECORDS=200000 scripts/bench/plot_1m.sh
#
# Environment: BIN (default: the release build, built or updated by
# scripts/release-bin.sh), PORT (18556), RECORDS (1000000), OUT (a temp dir; the
# run directory is kept there).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18556}
RECORDS=${RECORDS:-1000000}
OUT=${OUT:-$(mktemp -d -t aiperf-plot-1m-XXXXXX)}
"$BIN" mock-server --port "$PORT" --ttft-ms 5 --itl-ms 1 --error-rate 5 >"$OUT/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
SEED="$OUT/seed"
"$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming \
    --request-rate 500 --request-count 1000 --warmup-request-count 10 --slice-duration 0.5 \
    --isl 32 --osl 16 --random-seed 1 --ui none --artifact-dir "$SEED" >"$OUT/seed.log" 2>&1
kill $MOCK 2>/dev/null || true
RUN="$OUT/run_1m"
mkdir -p "$RUN"
cp "$SEED/profile_export_aiperf.json" "$RUN/"
# Repeat the seed's lines, each copy shifted by the seed's span, to RECORDS lines.
python3 - "$SEED/profile_export.jsonl" "$RUN/profile_export.jsonl" "$RECORDS" <<'PY'
import re, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).read().splitlines()
ts = re.compile(r'"(credit_issued_ns|scheduled_ns|request_start_ns|request_ack_ns|request_end_ns|cancellation_time_ns)":(\d+)')
starts = [int(m.group(2)) for l in lines for m in ts.finditer(l) if m.group(1) == "request_start_ns"]
ends = [int(m.group(2)) for l in lines for m in ts.finditer(l) if m.group(1) == "request_end_ns"]
span = max(ends) - min(starts)
with open(dst, "w") as out:
    written, k = 0, 0
    while written < n:
        shift = k * span
        for l in lines:
            if written >= n:
                break
            if k > 0 and '"benchmark_phase":"warmup"' in l:
                continue
            out.write(ts.sub(lambda m: '"%s":%d' % (m.group(1), int(m.group(2)) + shift), l) + "\n")
            written += 1
        k += 1
PY
SIZE=$(du -h "$RUN/profile_export.jsonl" | cut -f1)
echo "aiperf-rs plot: $RECORDS records ($SIZE profile_export.jsonl), $(nproc) CPUs, in $OUT"
timed() {
    local label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.txt" "$@" >"$OUT/$label.log" 2>&1
    read -r secs user sys rss <"$OUT/time.txt"
    printf '%-20s wall %7s s  CPU %6.2f s  peak RSS %5d MB\n' "$label" "$secs" \
        "$(awk "BEGIN { print $user + $sys }")" "$((rss / 1024))"
}
timed "PNG (single run)" "$BIN" plot "$RUN" --output "$OUT/plots"
timed "dashboard.html" "$BIN" plot "$RUN" --dashboard --output "$OUT/dash"
ls "$OUT/plots"/*.png | wc -l | xargs printf '%s PNG files, '
du -h "$OUT/dash/dashboard.html" | cut -f1 | xargs printf 'dashboard %s\n'
