//! End-to-end: a run whose statistics are forced to spill to disk after 10 KB
//! (`AIPERF_SUMMARY_MEMORY_MB`) still reports exact statistics and leaves no
//! spill file behind. The real `aiperf-rs` binary runs against the mock server on
//! 127.0.0.1; the expectations are recomputed from the run's own per-request
//! export (`profile_export.jsonl`). Bit-identity of spilled and in-memory
//! statistics on one record stream is tested in `aiperf-metrics` (tests/spill.rs)
//! and in the records manager.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// numpy's linear percentile of ascending `x`.
fn percentile(x: &[f64], p: f64) -> f64 {
    let idx = (x.len() - 1) as f64 * p / 100.0;
    let lo = idx.floor() as usize;
    let hi = (lo + 1).min(x.len() - 1);
    x[lo] + (idx - lo as f64) * (x[hi] - x[lo])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

/// Every file name under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(all_files(&e.path()));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_spills_its_statistics_reports_them_exactly() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("spill");
    let requests = 400;
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "8",
            "--request-count",
            &requests.to_string(),
            "--isl",
            "16",
            "--osl",
            "12",
            "--slice-duration",
            "0.05",
        ],
    );
    let out = run_with_env(
        &args,
        &[("AIPERF_SUMMARY_MEMORY_MB", Some(Path::new("0.01")))],
        Duration::from_secs(180),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let log = std::fs::read_to_string(dir.path().join("logs/aiperf.log")).unwrap();
    assert!(
        log.contains("spilled to disk"),
        "the records manager spilled: {log}"
    );
    let files = all_files(dir.path());
    assert!(
        files.iter().all(|f| !f.starts_with(".tmp")),
        "no spill file is left: {files:?}"
    );

    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let lines: Vec<Value> = read_jsonl(dir.path().join("profile_export.jsonl"))
        .into_iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .collect();
    assert_eq!(lines.len(), requests);
    assert_eq!(stat(&summary, "request_count", "avg"), requests as f64);
    for tag in [
        "request_latency",
        "time_to_first_token",
        "inter_chunk_latency",
        "output_sequence_length",
    ] {
        // The per-request values in display units (lists flattened), as the
        // summary's distribution sees them.
        let mut x: Vec<f64> = Vec::new();
        for l in &lines {
            match &l["metrics"][tag]["value"] {
                Value::Array(a) => x.extend(a.iter().map(|v| v.as_f64().unwrap())),
                v => x.push(v.as_f64().unwrap()),
            }
        }
        x.sort_by(f64::total_cmp);
        assert!(x.len() >= requests, "{tag}: {} values", x.len());
        assert_eq!(stat(&summary, tag, "count"), x.len() as f64, "{tag}");
        let checks = [
            ("min", x[0]),
            ("max", x[x.len() - 1]),
            ("avg", x.iter().sum::<f64>() / x.len() as f64),
            ("p1", percentile(&x, 1.0)),
            ("p25", percentile(&x, 25.0)),
            ("p50", percentile(&x, 50.0)),
            ("p90", percentile(&x, 90.0)),
            ("p99", percentile(&x, 99.0)),
        ];
        for (name, want) in checks {
            let got = stat(&summary, tag, name);
            assert!(close(got, want), "{tag}.{name}: {got} vs {want}");
        }
    }
    // Timeslices: every request in exactly one slice.
    let ts = read_json(dir.path().join("profile_export_aiperf_timeslices.json"));
    let slices = ts["timeslices"].as_array().unwrap();
    assert!(slices.len() >= 2, "several slices: {}", slices.len());
    let in_slices: f64 = slices
        .iter()
        .map(|s| s["request_count"]["avg"].as_f64().unwrap_or(0.0))
        .sum();
    assert_eq!(in_slices, requests as f64);
}
