#!/usr/bin/env bash
# TTFT error of aiperf-rs: the TTFT it reports minus the TTFT the server itself
# measured (request fully received -> first token handed to the connection), per
# request, first wave included. The built-in mock serves TTFT 50 ms / ITL 10 ms
# pinned to one CPU (`taskset`), the client runs pinned to the other; streamed chat,
# ISL 100 / OSL 100, no warmup. The mock's `--timing-log` gives its measurement;
# scripts/bench/ttft_join.py joins the two on X-Request-ID.
#
# For each concurrency it prints, per repeat and as the median over repeats, the
# error's mean / p50 / p99 / max over all requests and over the first wave (the first
# `concurrency` requests, which open nothing: connections are opened before the
# phase starts). Targets (issue 13): mean < 0.5 ms, p99 < 2 ms.
#
#   scripts/bench/ttft_error.sh
#   CONCURRENCIES="16" REPEAT=1 WAVES=4 scripts/bench/ttft_error.sh
#
# Environment: BIN (default: the release build, via scripts/release-bin.sh), PORT
# (18556), CONCURRENCIES ("16 512"), WAVES (16: requests = WAVES x concurrency),
# REPEAT (3), CLIENT_CPU (0), SERVER_CPU (1), PRIO (-20: the nice value of client
# and mock, so that a machine shared with builds disturbs them less; needs root or
# CAP_SYS_NICE), OUT (a temp dir), EXTRA (extra profile flags).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18556}
CONCURRENCIES=${CONCURRENCIES:-"16 512"}
WAVES=${WAVES:-16}
REPEAT=${REPEAT:-3}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PRIO=${PRIO:--20}
OUT=${OUT:-$(mktemp -d -t aiperf-ttft-error-XXXXXX)}
mkdir -p "$OUT"
EXTRA=${EXTRA:-}
JOIN=scripts/bench/ttft_join.py
MOCK=
trap '[ -n "$MOCK" ] && kill "$MOCK" 2>/dev/null || true' EXIT

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: the mock server did not listen on port $PORT (see $1)" >&2
    exit 1
}

echo "aiperf-rs TTFT error: mock TTFT 50 ms / ITL 10 ms on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, $(nproc) CPUs"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
for c in $CONCURRENCIES; do
    n=$((WAVES * c))
    results=()
    for r in $(seq "$REPEAT"); do
        dir="$OUT/c${c}_r$r"
        mkdir -p "$dir"
        nice -n "$PRIO" taskset -c "$SERVER_CPU" "$BIN" mock-server --port "$PORT" --ttft-ms 50 --itl-ms 10 \
            --tokenizer approx --timing-log "$dir/server_timing.jsonl" >"$dir/mock.log" 2>&1 &
        MOCK=$!
        wait_port "$dir/mock.log"
        # shellcheck disable=SC2086
        if ! nice -n "$PRIO" taskset -c "$CLIENT_CPU" "$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" \
            --endpoint-type chat --streaming --concurrency "$c" --request-count "$n" \
            --isl 100 --isl-stddev 0 --osl 100 --random-seed "$r" --export-level records \
            --ui none --artifact-dir "$dir" $EXTRA >"$dir/profile.log" 2>&1; then
            echo "error: the profile run failed, see $dir/profile.log" >&2
            exit 1
        fi
        kill -TERM "$MOCK"
        wait "$MOCK" || true
        MOCK=
        res=$(python3 "$JOIN" "$dir/profile_export.jsonl" "$dir/server_timing.jsonl" --first-wave "$c")
        echo "$res" >"$dir/ttft_error.json"
        results+=("$res")
    done
    python3 - "$c" "$n" "${results[@]}" <<'PY'
import json, statistics, sys
c, n = sys.argv[1], sys.argv[2]
runs = [json.loads(a) for a in sys.argv[3:]]
f = lambda v: f"{v:8.3f}"
server = ", ".join(f"{r['server_ttft_mean_ms']:.2f}" for r in runs)
print(f"\nconcurrency {c}, {n} requests per run; error = reported - server-measured TTFT, ms; server TTFT mean per run: {server} ms")
print(f"{'run':>8} {'set':>10} {'n':>6} {'mean':>8} {'p50':>8} {'p99':>8} {'max':>8}")
for i, r in enumerate(runs, 1):
    for key in ("all", "first_wave"):
        s = r[key]
        print(f"{i:>8} {key:>10} {s['n']:>6} {f(s['mean'])} {f(s['p50'])} {f(s['p99'])} {f(s['max'])}")
for key in ("all", "first_wave"):
    med = {k: statistics.median(r[key][k] for r in runs) for k in ("mean", "p50", "p99", "max")}
    print(f"{'median':>8} {key:>10} {runs[0][key]['n']:>6} {f(med['mean'])} {f(med['p50'])} {f(med['p99'])} {f(med['max'])}")
PY
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
