//! End-to-end tests of the HTTP trace metrics (`http_req_*`) and the sweep-line
//! metrics (`effective_*`, `tokens_in_flight`): the real `aiperf-rs` binary
//! against the mock server on 127.0.0.1, whose delays are known (TTFT 20 ms after
//! the request arrives, then one token every 2 ms), so the bounds below follow
//! from the mock's schedule, not from measured timings.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);
const TTFT_MS: f64 = 20.0;
const ITL_MS: f64 = 2.0;
const OSL: u32 = 8;

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
