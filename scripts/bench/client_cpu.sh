#!/usr/bin/env bash
# Client CPU per 1,000 streamed 100-token requests (issue 13 target: <= 0.3 s).
# The zero-delay mock (`--fast`) runs pinned to one CPU, the client (`aiperf-rs
# profile`, in-process services) pinned to the other; the client's user + system CPU
# is measured by getrusage of its process alone (scripts/bench/proc_tree.py), start-up
# (tokenizer, dataset) and shutdown (exports) included. Streamed chat, ISL 100, OSL 100.
#
#   scripts/bench/client_cpu.sh
#   REQUESTS=2000 REPEAT=1 scripts/bench/client_cpu.sh
#
# Environment: BIN (default: the release build, via scripts/release-bin.sh), PORT
# (18557), REQUESTS (10000), CONCURRENCY (64), REPEAT (3), CLIENT_CPU (0),
# SERVER_CPU (1), PRIO (-20: the nice value of client and mock, so that a machine
# shared with builds disturbs them less; needs root or CAP_SYS_NICE), OUT (a temp dir), EXTRA (extra profile flags).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18557}
REQUESTS=${REQUESTS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
REPEAT=${REPEAT:-3}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PRIO=${PRIO:--20}
OUT=${OUT:-$(mktemp -d -t aiperf-client-cpu-XXXXXX)}
mkdir -p "$OUT"
EXTRA=${EXTRA:-}
nice -n "$PRIO" taskset -c "$SERVER_CPU" "$BIN" mock-server --port "$PORT" --fast --tokenizer approx \
    >"$OUT/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
echo "aiperf-rs client CPU: $REQUESTS streamed requests (ISL 100, OSL 100) at concurrency $CONCURRENCY,"
echo "mock --fast on CPU $SERVER_CPU, client on CPU $CLIENT_CPU; load before: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
printf '%6s %10s %10s %10s %12s %10s %12s\n' "run" "wall s" "user s" "sys s" "CPU-s/1000" "req/s" "peak RSS MB"
rows=()
for r in $(seq "$REPEAT"); do
    dir="$OUT/run_$r"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    m=$(python3 scripts/bench/proc_tree.py --interval 0.2 --stderr "$dir/profile.log" -- \
        nice -n "$PRIO" taskset -c "$CLIENT_CPU" "$BIN" profile -m mock-model --url "http://127.0.0.1:$PORT" \
        --endpoint-type chat --streaming --concurrency "$CONCURRENCY" --request-count "$REQUESTS" \
        --isl 100 --isl-stddev 0 --osl 100 --random-seed "$r" --export-level summary \
        --ui none --artifact-dir "$dir" $EXTRA)
    row=$(python3 - "$m" "$dir/profile_export_aiperf.json" "$REQUESTS" "$r" <<'PY'
import json, sys
m, n, r = json.loads(sys.argv[1]), int(sys.argv[3]), sys.argv[4]
if m["rc"] != 0:
    sys.exit(f"run {r}: the profile failed (exit {m['rc']})")
rps = json.load(open(sys.argv[2]))["request_throughput"]["avg"]
per = m["cpu_s"] / n * 1000
print(f"{r:>6} {m['wall_s']:>10.2f} {m['cpu_user_s']:>10.2f} {m['cpu_sys_s']:>10.2f} {per:>12.3f} {rps:>10.1f} {m['peak_rss_mb']:>12.1f}")
PY
    ) || { echo "see $dir/profile.log" >&2; exit 1; }
    echo "$row"
    rows+=("$row")
done
printf '%s\n' "${rows[@]}" | awk '{print $5}' | sort -g | awk '{v[NR]=$1} END {printf "median CPU-s per 1000 requests: %.3f\n", v[int((NR+1)/2)]}'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
