#!/usr/bin/env bash
# Side by side: NVIDIA AIPerf 0.13 (from PyPI, in a throwaway virtualenv) and
# aiperf-rs (release build) run the same workload against the built-in mock server,
# and a table compares them: requests/s, client CPU per 1,000 requests, peak memory
# (RSS summed over the client's process tree), TTFT error (reported minus the mock's
# own measurement, `--timing-log`) and start-up time (command start to the first
# request's start).
#
# Workloads (streamed chat, ISL 100 / OSL 100, the Qwen3-0.6B tokenizer of
# tests/fixtures, no warmup):
#   capacity  mock --fast (zero latency), concurrency $CONCURRENCY, $REQUESTS requests
#   paced     mock TTFT 50 ms / ITL 10 ms, concurrency $CONCURRENCY, $PACED_REQUESTS requests
# The mock runs pinned to CPU $SERVER_CPU and each client pinned to CPU $CLIENT_CPU
# (PIN=0: neither is pinned). Nothing is downloaded at run time except AIPerf itself:
# HF_HUB_OFFLINE=1, and the tokenizer sits in a private Hugging Face cache ($OUT/hf).
#
#   scripts/bench/compare_aiperf.sh
#   REPEAT=1 REQUESTS=1000 scripts/bench/compare_aiperf.sh
#   AIPERF_VENV=/path/to/venv scripts/bench/compare_aiperf.sh   # reuse an installed AIPerf
#
# Environment: BIN (default: the release build, via scripts/release-bin.sh), PORT
# (18558), AIPERF_SPEC (aiperf==0.13.*), AIPERF_VENV (a virtualenv that already has
# AIPerf; default: a new one in the temp dir), CONCURRENCY (64), REQUESTS (2000),
# PACED_REQUESTS (640), REPEAT (3, the table shows medians), WORKLOADS
# ("capacity paced"), PIN (1), CLIENT_CPU (0), SERVER_CPU (1), PRIO (-20: the nice
# value of both clients and the mock, against a machine shared with builds), OUT
# (a temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$(scripts/release-bin.sh)}
PORT=${PORT:-18558}
AIPERF_SPEC=${AIPERF_SPEC:-"aiperf==0.13.*"}
CONCURRENCY=${CONCURRENCY:-64}
REQUESTS=${REQUESTS:-2000}
PACED_REQUESTS=${PACED_REQUESTS:-640}
REPEAT=${REPEAT:-3}
WORKLOADS=${WORKLOADS:-"capacity paced"}
PIN=${PIN:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PRIO=${PRIO:--20}
OUT=${OUT:-$(mktemp -d -t aiperf-compare-XXXXXX)}
mkdir -p "$OUT"
MOCK=
trap '[ -n "$MOCK" ] && kill "$MOCK" 2>/dev/null || true' EXIT

client_pin=(nice -n "$PRIO")
server_pin=(nice -n "$PRIO")
if [ "$PIN" = 1 ]; then
    client_pin+=(taskset -c "$CLIENT_CPU")
    server_pin+=(taskset -c "$SERVER_CPU")
fi

# AIPerf into a throwaway virtualenv.
if [ -z "${AIPERF_VENV:-}" ]; then
    AIPERF_VENV=$OUT/venv
    echo "installing $AIPERF_SPEC into $AIPERF_VENV ..."
    python3 -m venv "$AIPERF_VENV"
    "$AIPERF_VENV/bin/pip" install -q --disable-pip-version-check "$AIPERF_SPEC" \
        >"$OUT/pip.log" 2>&1 || { echo "error: pip install $AIPERF_SPEC failed, see $OUT/pip.log" >&2; exit 1; }
fi
AIPERF=$AIPERF_VENV/bin/aiperf
[ -x "$AIPERF" ] || { echo "error: $AIPERF not found (is AIPerf installed in $AIPERF_VENV?)" >&2; exit 1; }
AIPERF_VERSION=$("$AIPERF_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aiperf"))')

# The tokenizer, for both clients, as a model in a private Hugging Face cache: AIPerf
# 0.13 with HF_HUB_OFFLINE=1 loads tokenizers only from the cache (a local directory
# path fails its repo-id validation), and aiperf-rs reads the same cache layout.
export HF_HOME=$OUT/hf
snapshot=$HF_HOME/hub/models--Qwen--Qwen3-0.6B/snapshots/0000000000000000000000000000000000000000
mkdir -p "$snapshot" "$HF_HOME/hub/models--Qwen--Qwen3-0.6B/refs"
gunzip -c tests/fixtures/tokenizers/qwen3-0.6b/tokenizer.json.gz >"$snapshot/tokenizer.json"
cp tests/fixtures/tokenizers/qwen3-0.6b/tokenizer_config.json "$snapshot/"
printf '%s' 0000000000000000000000000000000000000000 >"$HF_HOME/hub/models--Qwen--Qwen3-0.6B/refs/main"
TOK=Qwen/Qwen3-0.6B
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: the mock server did not listen on port $PORT (see $1)" >&2
    exit 1
}

# run TOOL WORKLOAD REPEAT_INDEX: one measured run; writes $dir/result.json.
run() {
    local tool=$1 workload=$2 r=$3 n mock_flags dir cmd
    case $workload in
        capacity) n=$REQUESTS; mock_flags=(--fast) ;;
        paced) n=$PACED_REQUESTS; mock_flags=(--ttft-ms 50 --itl-ms 10) ;;
        *) echo "error: unknown workload $workload (capacity or paced)" >&2; exit 1 ;;
    esac
    dir=$OUT/$workload/$tool/run_$r
    mkdir -p "$dir/artifacts"
    "${server_pin[@]}" "$BIN" mock-server --port "$PORT" "${mock_flags[@]}" --tokenizer approx \
        --timing-log "$dir/server_timing.jsonl" >"$dir/mock.log" 2>&1 &
    MOCK=$!
    wait_port "$dir/mock.log"
    local common=(-m mock-model --url "http://127.0.0.1:$PORT" --endpoint-type chat --streaming
        --concurrency "$CONCURRENCY" --request-count "$n" --isl 100 --isl-stddev 0 --osl 100
        --tokenizer "$TOK" --random-seed "$r" --artifact-dir "$dir/artifacts")
    case $tool in
        aiperf) cmd=("$AIPERF" profile "${common[@]}" --ui-type none) ;;
        aiperf-rs) cmd=("$BIN" profile "${common[@]}" --ui none --export-level records) ;;
    esac
    python3 scripts/bench/proc_tree.py --stdout "$dir/stdout.log" --stderr "$dir/stderr.log" -- \
        "${client_pin[@]}" "${cmd[@]}" >"$dir/proc.json"
    kill -TERM "$MOCK"
    wait "$MOCK" || true
    MOCK=
    python3 - "$dir" "$n" "$CONCURRENCY" <<'PY' || true
import glob, json, subprocess, sys
d, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
proc = json.load(open(f"{d}/proc.json"))
res = {"rc": proc["rc"], "cpu_per_1000": proc["cpu_s"] / n * 1000, "peak_rss_mb": proc["peak_rss_mb"],
       "wall_s": proc["wall_s"]}
summary = glob.glob(f"{d}/artifacts/**/profile_export_aiperf.json", recursive=True)
records = glob.glob(f"{d}/artifacts/**/profile_export.jsonl", recursive=True)
if proc["rc"] != 0 or not summary or not records:
    res["failed"] = f"exit {proc['rc']}, see {d}/stderr.log and {d}/stdout.log"
else:
    s = json.load(open(summary[0]))
    res["req_per_s"] = s["request_throughput"]["avg"]
    starts = [json.loads(l)["metadata"]["request_start_ns"] for l in open(records[0]) if l.strip()]
    res["startup_s"] = (min(starts) - proc["start_unix_ns"]) / 1e9
    joined = subprocess.run([sys.executable, "scripts/bench/ttft_join.py", records[0],
                             f"{d}/server_timing.jsonl", "--first-wave", str(c)],
                            capture_output=True, text=True)
    if joined.returncode == 0:
        j = json.loads(joined.stdout)
        res["ttft_err_mean_ms"] = j["all"]["mean"]
        res["ttft_err_p99_ms"] = j["all"]["p99"]
        res["ttft_err_first_wave_mean_ms"] = j["first_wave"]["mean"]
    else:
        res["ttft_failed"] = joined.stderr.strip()
json.dump(res, open(f"{d}/result.json", "w"))
PY
    echo "  $workload $tool run $r: $(cat "$dir/result.json" 2>/dev/null || echo '(no result)')"
}

echo "AIPerf $AIPERF_VERSION vs aiperf-rs ($("$BIN" --version 2>/dev/null || echo "$BIN")), $(nproc) CPUs, pinned: $PIN"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
for workload in $WORKLOADS; do
    for r in $(seq "$REPEAT"); do
        for tool in aiperf-rs aiperf; do
            run "$tool" "$workload" "$r"
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT" "$WORKLOADS" "$AIPERF_VERSION" <<'PY'
import glob, json, statistics, sys
out, workloads, version = sys.argv[1], sys.argv[2].split(), sys.argv[3]
rows = [("requests/s", "req_per_s", "{:.1f}"),
        ("client CPU-s per 1,000 requests", "cpu_per_1000", "{:.3f}"),
        ("peak RSS of the client tree, MB", "peak_rss_mb", "{:.0f}"),
        ("TTFT error mean, ms", "ttft_err_mean_ms", "{:.3f}"),
        ("TTFT error p99, ms", "ttft_err_p99_ms", "{:.3f}"),
        ("TTFT error mean, first wave, ms", "ttft_err_first_wave_mean_ms", "{:.3f}"),
        ("start-up (command to first request), s", "startup_s", "{:.2f}")]
for w in workloads:
    res = {}
    for tool in ("aiperf-rs", "aiperf"):
        runs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{w}/{tool}/run_*/result.json"))]
        res[tool] = runs
    print(f"\n### {w} (median of {max(len(v) for v in res.values())} runs)\n")
    print(f"| metric | aiperf-rs | AIPerf {version} |")
    print("|---|---|---|")
    for label, key, fmt in rows:
        cells = []
        for tool in ("aiperf-rs", "aiperf"):
            vals = [r[key] for r in res[tool] if key in r]
            cells.append(fmt.format(statistics.median(vals)) if vals else "n/a")
        print(f"| {label} | {cells[0]} | {cells[1]} |")
    for tool in ("aiperf-rs", "aiperf"):
        for r in res[tool]:
            for k in ("failed", "ttft_failed"):
                if k in r:
                    print(f"\n{tool}: {r[k]}")
PY
