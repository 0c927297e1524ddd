#!/usr/bin/env python3
"""TTFT error of a client: its reported TTFT minus the server's own measurement.

Joins a client's `profile_export.jsonl` (aiperf-rs or AIPerf 0.13: per request
`metadata.x_request_id`, `metadata.request_start_ns` and
`metrics.time_to_first_token`) with the built-in mock server's `--timing-log`
(`{"request":N,"x_request_id":…,"ttft_ns":T}` per streamed request) on the
`X-Request-ID`, and prints one JSON object:

  {"matched": n, "unmatched": k, "server_ttft_mean_ms": m,
   "all":        {"n", "mean", "p50", "p99", "max", "min"},   # error in ms
   "first_wave": {...}}                                         # the first N requests

The first wave is the first `--first-wave` requests by start time (in a closed
loop: the concurrency), the ones whose connections and bodies are made at once.

Usage: ttft_join.py CLIENT_JSONL SERVER_TIMING_LOG --first-wave N
"""
import argparse
import json
import math
import sys


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(values):
    if not values:
        return {"n": 0}
    s = sorted(values)
    return {
        "n": len(s),
        "mean": sum(s) / len(s),
        "p50": percentile(s, 50),
        "p99": percentile(s, 99),
        "max": s[-1],
        "min": s[0],
    }


def ttft_ms(metric):
    """A `{value, unit}` TTFT in ms (AIPerf writes ms; accept ns/us/s too)."""
    scale = {"ms": 1.0, "ns": 1e-6, "us": 1e-3, "s": 1e3}[metric.get("unit", "ms")]
    return float(metric["value"]) * scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("client_jsonl")
    ap.add_argument("server_log")
    ap.add_argument("--first-wave", type=int, required=True)
    a = ap.parse_args()

    server = {}
    with open(a.server_log) as f:
        for line in f:
            row = json.loads(line)
            if row.get("x_request_id") is not None:
                server[row["x_request_id"]] = row["ttft_ns"] / 1e6

    rows, unmatched = [], 0
    with open(a.client_jsonl) as f:
        for line in f:
            rec = json.loads(line)
            meta, metrics = rec.get("metadata", {}), rec.get("metrics", {})
            ttft = metrics.get("time_to_first_token")
            if ttft is None or rec.get("error"):
                continue
            server_ms = server.get(meta.get("x_request_id"))
            if server_ms is None:
                unmatched += 1
                continue
            rows.append((meta.get("request_start_ns", 0), ttft_ms(ttft) - server_ms, server_ms))
    if not rows:
        sys.exit(f"no request of {a.client_jsonl} matched {a.server_log} by X-Request-ID")
    rows.sort()
    errors = [e for _, e, _ in rows]
    print(json.dumps({
        "matched": len(rows),
        "unmatched": unmatched,
        "server_ttft_mean_ms": sum(s for _, _, s in rows) / len(rows),
        "all": summary(errors),
        "first_wave": summary(errors[: a.first_wave]),
    }))


if __name__ == "__main__":
    main()
