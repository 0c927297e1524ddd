//! End-to-end: raw records in flight stay bounded when record processing falls
//! behind. The record processor is slowed by its test hook
//! (`AIPERF_TEST_RECORD_DELAY_MS`, see `aiperf_record_processor::service`), one
//! worker runs 64 requests at a time against the fast mock: the worker's record
//! queue fills, credit returns wait for room (backpressure to the credit loop),
//! and the load report says so. No record is lost.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use std::path::Path;
use std::time::Duration;

/// Capacity of a worker's record queue: `aiperf_worker::handoff::RECORD_QUEUE_CAPACITY`
/// (documented there; the worker crate is not a dependency of these tests).
const QUEUE_CAPACITY: u64 = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_record_stage_holds_credits_back_and_loses_no_record() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("backpressure");
    let requests: u64 = 1000;
    let count = requests.to_string();
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "64",
            "--request-count",
            &count,
            "--isl",
            "16",
            "--osl",
            "4",
            "--workers-max",
            "1",
            "--record-processors",
            "1",
        ],
    );
    // 10 ms per record on the processor's threads: far slower than the fast mock.
    let out = run_with_env(
        &args,
        &[("AIPERF_TEST_RECORD_DELAY_MS", Some(Path::new("10")))],
        Duration::from_secs(240),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    // Nothing lost: every request the mock answered is a record.
    assert_eq!(server.stats().requests, requests);
    assert_sent_equals_completed_plus_errors(dir.path(), requests);
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let b = &summary["load_report"]["record_backlog"];
    assert_eq!(b["queue_capacity"].as_u64(), Some(QUEUE_CAPACITY), "{b}");
    let peak = b["peak_queued"].as_u64().expect("peak_queued");
    assert!(
        (1..=QUEUE_CAPACITY).contains(&peak),
        "the queue never exceeds its capacity: peak {peak}"
    );
    // 1000 records at 10 ms each on two threads need seconds; the mock answers
    // them far faster, and only the queue and socket buffers lie between: the
    // queue filled and returns waited.
    assert_eq!(peak, QUEUE_CAPACITY, "{b}");
    let held = b["held_back_credits"].as_u64().expect("held_back_credits");
    assert!(held > 0, "{b}");
    assert!(b["held_back_ms"].as_f64().unwrap() > 0.0, "{b}");
    assert_eq!(summary["load_report"]["client_bound"], true);
    let console = text(&out);
    assert!(
        console.contains("record processing fell behind"),
        "the console says so: {console}"
    );
}
