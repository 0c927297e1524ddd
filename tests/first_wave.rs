//! End-to-end: the first wave of requests goes over connections opened before the
//! phase started (`docs/load-modes.md`, "Connections opened ahead"). The real
//! `aiperf-rs` binary against the real mock server, which counts the connections
//! it accepts and how many it had accepted when the first inference request
//! arrived. Structural assertions only: connection counts and the trace of every
//! record, no timings.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);

/// The controller checks that the server is reachable before the run: one TCP
/// connection, opened and closed without a request (`services/system-controller/src/run.rs`).
const PROBE: u64 = 1;

/// `--concurrency C --request-count N` over `workers` workers, streamed.
fn args(url: &str, dir: &Path, c: usize, n: usize, workers: usize, extra: &[&str]) -> Vec<String> {
    let (c, n, w) = (c.to_string(), n.to_string(), workers.to_string());
    let mut a: Vec<&str> = vec![
        "--streaming",
        "--concurrency",
        &c,
        "--request-count",
        &n,
        "--workers-max",
        &w,
        "--isl",
        "16",
        "--osl",
        "4",
        // The server metrics scrapes of /metrics would add connections of their own.
        "--no-server-metrics",
    ];
    a.extend_from_slice(extra);
    profile_args(url, dir, &a)
}

fn records(dir: &Path) -> Vec<Value> {
    read_jsonl(dir.join("profile_export.jsonl"))
}

/// `metrics[tag].value` of one JSONL line.
fn metric(line: &Value, tag: &str) -> f64 {
    line["metrics"][tag]["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("{tag} missing in {line}"))
}

/// Concurrency 8 over 2 workers (4 connections each), 8 requests: the mock had
/// accepted all 8 connections (and the probe's) before the first request
/// arrived, and no other one during the run; every record says its connection was reused and spent no
/// time connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_wave_uses_connections_opened_before_the_phase() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 2.0)).await;
    let dir = temp_dir("first-wave");
    let out = run(&args(&server.url(), dir.path(), 8, 8, 2, &[]), LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let stats = server.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(
        stats.connections_at_first_request,
        Some(8 + PROBE),
        "all connections open before the first request: {stats:?}"
    );
    assert_eq!(
        stats.connections,
        8 + PROBE,
        "no connection opened during the phase"
    );
    let lines = records(dir.path());
    assert_eq!(lines.len(), 8);
    for line in &lines {
        assert_eq!(metric(line, "http_req_connection_reused"), 1.0, "{line}");
        assert_eq!(metric(line, "http_req_connecting"), 0.0, "{line}");
        assert_eq!(metric(line, "http_req_dns_lookup"), 0.0, "{line}");
    }
    server.shutdown().await;
}

/// A concurrency that does not split evenly: 5 over 2 workers. The least-loaded
/// dispatch gives 3 and 2 first credits, each worker opened ceil(5 / 2) = 3, so
/// the mock saw 6 connections (and the probe's) before the first request and
/// none after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_opens_its_share_rounded_up() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 2.0)).await;
    let dir = temp_dir("first-wave-uneven");
    let out = run(&args(&server.url(), dir.path(), 5, 10, 2, &[]), LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let stats = server.stats();
    assert_eq!(stats.requests, 10);
    assert_eq!(stats.connections_at_first_request, Some(6 + PROBE));
    assert_eq!(stats.connections, 6 + PROBE);
    for line in &records(dir.path()) {
        assert_eq!(metric(line, "http_req_connection_reused"), 1.0, "{line}");
    }
    server.shutdown().await;
}

/// `--connection-reuse-strategy never`: nothing is opened ahead (it would be
/// closed unused), every request dials its own connection and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_reuse_opens_nothing_ahead() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 2.0)).await;
    let dir = temp_dir("first-wave-never");
    let extra = ["--connection-reuse-strategy", "never"];
    let out = run(&args(&server.url(), dir.path(), 4, 8, 2, &extra), LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let stats = server.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(
        stats.connections,
        8 + PROBE,
        "one connection per request, none ahead"
    );
    for line in &records(dir.path()) {
        assert_eq!(metric(line, "http_req_connection_reused"), 0.0, "{line}");
    }
    server.shutdown().await;
}
