#!/usr/bin/env python3
"""Client capacity benchmark: how fast can aiperf-rs drive the built-in mock server?

For each concurrency it runs `aiperf-rs profile` (release build, in-process mode)
against `aiperf-rs mock-server --fast` (zero TTFT/ITL, separate process) and reports:
  - requests/s and streamed tokens/s achieved (from profile_export_aiperf.json),
  - CPU seconds the client used per 1000 requests (user+sys of the profile process,
    all services included).

Usage: scripts/bench/client_throughput.py [--requests N] [--osl T] [--concurrency 1,64,1024]
Build first: cargo build --release
"""
import argparse, json, os, resource, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("AIPERF_RS_BIN", os.path.join(ROOT, "target", "release", "aiperf-rs"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"mock server did not start on port {port}")


def run_one(url, concurrency, requests, osl, isl):
    out = tempfile.mkdtemp(prefix=f"aiperf-bench-c{concurrency}-")
    args = [BIN, "profile", "-m", "mock-model", "--url", url, "--streaming",
            "--concurrency", str(concurrency), "--request-count", str(requests),
            "--isl", str(isl), "--osl", str(osl), "--artifact-dir", out, "--ui", "none",
            "--export-level", "summary"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"profile failed at concurrency {concurrency}:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    s = json.load(open(os.path.join(out, "profile_export_aiperf.json")))
    return {
        "concurrency": concurrency,
        "requests": requests,
        "req_per_s": s["request_throughput"]["avg"],
        "tokens_per_s": s["output_token_throughput"]["avg"],
        "ttft_p50_ms": s.get("time_to_first_token", {}).get("p50"),
        "client_cpu_s": cpu,
        "cpu_s_per_1000_req": cpu / requests * 1000,
        "wall_s": wall,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--osl", type=int, default=32)
    ap.add_argument("--isl", type=int, default=64)
    ap.add_argument("--concurrency", default="1,64,1024")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release")
    port = free_port()
    mock = subprocess.Popen([BIN, "mock-server", "--port", str(port), "--fast"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}"
        rows = []
        for c in [int(x) for x in a.concurrency.split(",")]:
            n = a.requests if c > 1 else max(1000, a.requests // 10)
            rows.append(run_one(url, c, n, a.osl, a.isl))
            r = rows[-1]
            print(f"concurrency {c:>5}: {r['req_per_s']:>9.1f} req/s  {r['tokens_per_s']:>11.1f} tok/s  "
                  f"client CPU {r['cpu_s_per_1000_req']:.3f} s/1000 req  (TTFT p50 {r['ttft_p50_ms']:.3f} ms, {r['requests']} requests)", flush=True)
        json.dump(rows, sys.stdout if False else open(os.path.join(tempfile.gettempdir(), "aiperf-client-bench.json"), "w"), indent=2)
    finally:
        mock.terminate()
        mock.wait()


if __name__ == "__main__":
    main()
