#!/usr/bin/env bash
# Schedule precision of open-loop load: Poisson arrivals at 100, 1,000 and 5,000
# req/s against the built-in mock server with zero latency (`--fast`), measured by
# aiperf-rs itself (release build). For each rate it prints the requests sent,
# the achieved rate, the schedule lag (actual send - intended send) p50/p99/max,
# the client CPU and whether the client was the bottleneck (the `load_report`
# section of profile_export_aiperf.json).
#
#   scripts/bench/schedule_lag.sh                  # 10 s per rate
#   DURATION=5 RATES="100 1000" scripts/bench/schedule_lag.sh
#
# Environment: BIN (default: the release build, built or updated by scripts/release-bin.sh), PORT
# (18555), DURATION (10 s), RATES ("100 1000 5000"), OUT (a temp dir), EXTRA
# (extra profile flags, e.g. "--workers-max 2").
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18555}
DURATION=${DURATION:-10}
RATES=${RATES:-"100 1000 5000"}
OUT=${OUT:-$(mktemp -d -t aiperf-schedule-lag-XXXXXX)}
EXTRA=${EXTRA:-}
"$BIN" mock-server --port "$PORT" --fast >"$OUT/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
echo "aiperf-rs schedule lag: Poisson, mock --fast, ${DURATION} s per rate, $(nproc) CPUs, results in $OUT"
printf '%10s %8s %12s %12s %12s %12s %10s %7s\n' "rate" "sent" "achieved/s" "lag p50 ms" "lag p99 ms" "lag max ms" "CPU peak" "bound"
for r in $RATES; do
    dir="$OUT/rate_$r"
    # shellcheck disable=SC2086
    "$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming \
        --request-rate "$r" --arrival-pattern poisson --benchmark-duration "$DURATION" \
        --isl 32 --osl 8 --random-seed 1 --export-level summary --ui none \
        --artifact-dir "$dir" $EXTRA >"$dir.log" 2>&1 || true
    python3 - "$dir/profile_export_aiperf.json" "$r" <<'PY'
import json, sys
path, rate = sys.argv[1], sys.argv[2]
try:
    r = json.load(open(path))["load_report"]
except Exception as e:
    print(f"{rate:>10} run failed: {e}")
    sys.exit()
lag = r.get("schedule_lag_ms") or {}
cpu = r.get("client_cpu") or {}
f = lambda v: "n/a" if v is None else f"{v:.3f}"
peak = f"{cpu['peak_cores']:.2f}/{cpu['cpus']}" if cpu else "n/a"
print(f"{rate:>10} {r['requests_sent']:>8} {r['achieved_rate']:>12.1f} {f(lag.get('p50')):>12} {f(lag.get('p99')):>12} {f(lag.get('max')):>12} {peak:>10} {str(r['client_bound']).lower():>7}")
for reason in r.get("client_bound_reasons", []):
    print(f"{'':>10}   ! {reason}")
PY
done
