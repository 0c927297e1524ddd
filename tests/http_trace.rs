//! End-to-end tests of the HTTP trace metrics (`http_req_*`) and the sweep-line
//! metrics (`effective_*`, `tokens_in_flight`): the real `aiperf-rs` binary
//! against the mock server on 127.0.0.1, whose delays are known (TTFT 20 ms after
//! the request arrives, then one token every 2 ms), so the bounds below follow
//! from the mock's schedule, not from measured timings.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);
const TTFT_MS: f64 = 20.0;
const ITL_MS: f64 = 2.0;
const OSL: u32 = 8;
/// Rounding of ns → ms in the exports, nothing more.
const EPS_MS: f64 = 1e-9;

/// Profiling lines of `profile_export.jsonl`.
fn profiling_lines(dir: &Path) -> Vec<Value> {
    read_jsonl(dir.join("profile_export.jsonl"))
        .into_iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .collect()
}

/// `line.metrics[tag].value` (display unit).
fn value(line: &Value, tag: &str) -> f64 {
    line["metrics"][tag]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{tag} missing in {line}"))
}

fn args(url: &str, dir: &Path, concurrency: u32, requests: u32, extra: &[&str]) -> Vec<String> {
    let (c, n, osl) = (
        concurrency.to_string(),
        requests.to_string(),
        OSL.to_string(),
    );
    let mut a: Vec<&str> = vec![
        "--streaming",
        "--concurrency",
        &c,
        "--request-count",
        &n,
        "--isl",
        "32",
        "--osl",
        &osl,
    ];
    a.extend_from_slice(extra);
    profile_args(url, dir, &a)
}

/// Sequential requests over pooled connections: every request has the whole
/// trace; waiting covers the mock's TTFT, duration covers waiting and the token
/// stream; the request body size is exactly what the server was told
/// (`Content-Length`); connection set-up is paid at most once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_trace_metrics_follow_the_mock_schedule() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(TTFT_MS, ITL_MS)).await;
    let dir = temp_dir("http-trace");
    let out = run(&args(&server.url(), dir.path(), 1, 6, &[]), LONG).await;
    assert!(out.status.success(), "{}", text(&out));

    let body_len: HashMap<String, f64> = server
        .received()
        .into_iter()
        .map(|r| {
            let id = r.header("x-request-id").expect("request id").to_string();
            let len: f64 = r.header("content-length").expect("length").parse().unwrap();
            (id, len)
        })
        .collect();
    let lines = profiling_lines(dir.path());
    assert_eq!(lines.len(), 6);
    let mut new_connections = 0;
    for l in &lines {
        let waiting = value(l, "http_req_waiting");
        let sending = value(l, "http_req_sending");
        let duration = value(l, "http_req_duration");
        // The mock's first body byte leaves TTFT after the request arrived, and the
        // request cannot arrive before the client started sending it: from send
        // start to first byte (sending + waiting) is at least the TTFT. (The
        // "fully sent" stamp itself may trail the server's arrival, so waiting
        // alone is only bounded by 0.)
        assert!(
            sending + waiting >= TTFT_MS - EPS_MS,
            "sending {sending} + waiting {waiting} ms < TTFT: {l}"
        );
        assert!(waiting > 0.0, "{l}");
        assert!(
            duration >= waiting,
            "duration {duration} < waiting {waiting}: {l}"
        );
        // OSL tokens 2 ms apart after the first: the response ends ≥ TTFT + 7 · 2 ms
        // after the request arrived, so after the client started sending it.
        let stream_ms = f64::from(OSL - 1) * ITL_MS;
        assert!(
            duration >= TTFT_MS + stream_ms - EPS_MS,
            "duration {duration} ms shorter than the mock's stream: {l}"
        );
        let parts = [
            "blocked",
            "dns_lookup",
            "connecting",
            "sending",
            "waiting",
            "receiving",
        ];
        let sum: f64 = parts
            .iter()
            .map(|p| value(l, &format!("http_req_{p}")))
            .sum();
        assert!(
            (value(l, "http_req_total") - sum).abs() < 1e-6,
            "total = Σ parts: {l}"
        );
        let overhead: f64 = parts[..3]
            .iter()
            .map(|p| value(l, &format!("http_req_{p}")))
            .sum();
        assert!((value(l, "http_req_connection_overhead") - overhead).abs() < 1e-6);

        // Exactly the body the server received, in KB of 1024 bytes.
        let id = l["metadata"]["x_request_id"].as_str().unwrap();
        assert_eq!(value(l, "http_req_data_sent"), body_len[id] / 1024.0, "{l}");
        assert_eq!(l["metrics"]["http_req_data_sent"]["unit"], "KB");
        assert!(value(l, "http_req_data_received") > 0.0);
        assert!(value(l, "http_req_chunks_received") >= 1.0);

        let reused = value(l, "http_req_connection_reused");
        assert!(reused == 0.0 || reused == 1.0, "{l}");
        if reused == 0.0 {
            new_connections += 1;
        } else {
            assert_eq!(
                value(l, "http_req_connecting"),
                0.0,
                "reused: no connect: {l}"
            );
        }
    }
    // One worker slot, pooled connections: at most the first request dials (none
    // when the pool opened its connection before the phase).
    assert!(new_connections <= 1, "{new_connections} requests dialled");
    // Every dial is a connection the mock accepted.
    assert!(new_connections <= server.stats().connections);

    // In the summary as distributions, not on the console.
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    assert!(
        stat(&summary, "http_req_duration", "min")
            >= TTFT_MS + f64::from(OSL - 1) * ITL_MS - EPS_MS
    );
    assert_eq!(summary["http_req_waiting"]["unit"], "ms");
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(!console.contains("HTTP Waiting"), "{console}");
}

/// `--connection-reuse-strategy never`: every request dials its own connection,
/// so none is reused and every one pays a connect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_reuse_every_request_connects() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(TTFT_MS, ITL_MS)).await;
    let dir = temp_dir("http-trace-never");
    let extra = ["--connection-reuse-strategy", "never"];
    let out = run(&args(&server.url(), dir.path(), 1, 4, &extra), LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let lines = profiling_lines(dir.path());
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_eq!(value(l, "http_req_connection_reused"), 0.0, "{l}");
        assert!(value(l, "http_req_connecting") > 0.0, "{l}");
        assert!(value(l, "http_req_connection_overhead") >= value(l, "http_req_connecting"));
    }
}

/// A closed loop at concurrency C keeps about C requests in flight: the
/// time-weighted effective concurrency is at most C, and well above C/2 (the only
/// idle time is between a response and the next request of the same slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effective_concurrency_of_a_closed_loop() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(TTFT_MS, ITL_MS)).await;
    let dir = temp_dir("sweep-line");
    const C: f64 = 4.0;
    let out = run(&args(&server.url(), dir.path(), 4, 40, &[]), LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let avg = stat(&summary, "effective_concurrency", "avg");
    assert!(
        avg <= C + 1e-9 && avg > 0.5 * C,
        "effective concurrency {avg}"
    );
    assert!(stat(&summary, "effective_concurrency", "max") <= C + 1e-9);
    assert_eq!(summary["effective_concurrency"]["unit"], "requests");
    // Decode throughput exists and the generation phase is part of every request.
    assert!(stat(&summary, "effective_throughput", "avg") > 0.0);
    assert!(
        stat(&summary, "effective_generation_concurrency", "avg") <= avg + 1e-9,
        "decoding requests are a subset of those in flight"
    );
    assert!(stat(&summary, "tokens_in_flight", "max") > 0.0);
}
