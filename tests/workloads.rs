//! End-to-end: real workloads — multi-turn history as the server receives it,
//! sticky routing of a session's turns, Mooncake trace replay (ISL, output
//! lengths, shared prefixes, schedule lag) and Azure trace replay.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(240);

fn messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Each turn carries the earlier user turns and the replies the server actually
/// sent; all turns of a session go to the same worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_turn_history_and_sticky_routing() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("multiturn");
    let file = dir.path().join("sessions.jsonl");
    let mut lines = Vec::new();
    for s in 0..6 {
        lines.push(format!(
            r#"{{"session_id": "s{s}", "turns": [{{"text": "first question {s}", "output_length": 3}}, {{"text": "second question {s}", "output_length": 4, "delay": 20}}, {{"text": "third question {s}", "output_length": 5}}]}}"#
        ));
    }
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let f = file.display().to_string();
    let args = profile_args(
        &server.url(),
        &out,
        &[
            "--streaming",
            "--input-file",
            &f,
            "--custom-dataset-type",
            "multi_turn",
            "--concurrency",
            "3",
            "--num-sessions",
            "6",
            "--workers-max",
            "2",
        ],
    );
    let res = run(&args, LONG).await;
    assert!(res.status.success(), "{}", text(&res));
    let received = server.received();
    assert_eq!(received.len(), 18, "6 sessions × 3 turns");
    // Group what the server received by session (X-Correlation-ID), in arrival order.
    let mut by_session: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &received {
        by_session
            .entry(r.header("x-correlation-id").unwrap().to_string())
            .or_default()
            .push(&r.body_json);
    }
    assert_eq!(by_session.len(), 6);
    for turns in by_session.values() {
        assert_eq!(turns.len(), 3);
        let m0 = messages(turns[0]);
        let m1 = messages(turns[1]);
        let m2 = messages(turns[2]);
        assert_eq!(m0.len(), 1);
        let n = m0[0].1.rsplit(' ').next().unwrap().to_string();
        assert_eq!(m0[0], ("user".into(), format!("first question {n}")));
        // Turn 1: user 0, the live reply to turn 0 (3 words), user 1.
        assert_eq!(m1.len(), 3);
        assert_eq!(m1[0], m0[0]);
        assert_eq!(m1[1].0, "assistant");
        assert_eq!(
            m1[1].1.split_whitespace().count(),
            3,
            "the reply actually received: {:?}",
            m1[1]
        );
        assert_eq!(m1[2], ("user".into(), format!("second question {n}")));
        // Turn 2: everything before plus the 4-word reply to turn 1.
        assert_eq!(m2.len(), 5);
        assert_eq!(&m2[..3], &m1[..]);
        assert_eq!(m2[3].0, "assistant");
        assert_eq!(m2[3].1.split_whitespace().count(), 4);
        assert_eq!(m2[4], ("user".into(), format!("third question {n}")));
        assert_eq!(turns[2]["max_completion_tokens"], 5);
    }
    // Sticky routing: one worker per session, and both workers used.
    let records = read_jsonl(out.join("profile_export.jsonl"));
    let mut workers_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &records {
        let m = &r["metadata"];
        workers_of
            .entry(m["x_correlation_id"].as_str().unwrap().into())
            .or_default()
            .insert(m["worker_id"].as_str().unwrap().into());
    }
    assert!(
        workers_of.values().all(|w| w.len() == 1),
        "a session's turns went to several workers: {workers_of:?}"
    );
    let all: BTreeSet<_> = workers_of.values().flatten().collect();
    assert_eq!(all.len(), 2, "both workers served sessions");
}

/// The first minute of the real Mooncake conversation trace, 5× faster: every row
/// is sent once at its time, with ISL = input_length, max_completion_tokens =
/// output_length, and shared leading hash ids giving shared prompt prefixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mooncake_trace_replays_on_schedule_with_exact_lengths() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("mooncake");
    let trace: Vec<Value> =
        std::fs::read_to_string(fixture("mooncake/conversation_trace.head1000.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &Value| r["timestamp"].as_u64().unwrap() <= 60_000)
            .collect();
    assert!(trace.len() > 100, "{} rows", trace.len());
    let tok = qwen_tokenizer();
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--input-file",
            &fixture("mooncake/conversation_trace.head1000.jsonl"),
            "--custom-dataset-type",
            "mooncake_trace",
            "--fixed-schedule-end-offset",
            "60000",
            "--synthesis-speedup-ratio",
            "5",
            "--tokenizer",
            &tok,
            "--random-seed",
            "1",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let records = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(records.len(), trace.len(), "one request per trace row");
    let received = server.received();
    assert_eq!(received.len(), trace.len());
    // Requests go out in schedule order; pair them with the trace rows by order.
    let mut by_start: Vec<&Value> = records.iter().collect();
    by_start.sort_by_key(|r| r["metadata"]["scheduled_ns"].as_u64().unwrap());
    let s0 = by_start[0]["metadata"]["scheduled_ns"].as_u64().unwrap();
    let t0 = trace[0]["timestamp"].as_u64().unwrap();
    let mut sorted_rows: Vec<&Value> = trace.iter().collect();
    sorted_rows.sort_by_key(|r| r["timestamp"].as_u64().unwrap());
    for (rec, row) in by_start.iter().zip(&sorted_rows) {
        let want = (row["timestamp"].as_u64().unwrap() / 5 - t0 / 5) * 1_000_000;
        assert_eq!(
            rec["metadata"]["scheduled_ns"].as_u64().unwrap() - s0,
            want,
            "schedule of {row}"
        );
    }
    // ISL equals input_length exactly (block rule, same tokenizer); the multiset of
    // (ISL, requested OSL) pairs equals the trace's.
    let mut want: Vec<(u64, u64)> = trace
        .iter()
        .map(|r| {
            (
                r["input_length"].as_u64().unwrap(),
                r["output_length"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut got: Vec<(u64, u64)> = records
        .iter()
        .map(|r| {
            (
                r["metrics"]["input_sequence_length"]["value"]
                    .as_u64()
                    .unwrap(),
                r["metrics"]["output_sequence_length"]["value"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "ISL and OSL per request equal input_length and output_length"
    );
    let mut sent_osl: Vec<u64> = received
        .iter()
        .map(|r| r.body_json["max_completion_tokens"].as_u64().unwrap())
        .collect();
    let mut trace_osl: Vec<u64> = trace
        .iter()
        .map(|r| r["output_length"].as_u64().unwrap())
        .collect();
    sent_osl.sort();
    trace_osl.sort();
    assert_eq!(sent_osl, trace_osl);
    // Same first hash id ⇔ same first block ⇔ same prompt opening: the number of
    // distinct prompt openings (200 chars, well inside a 512-token block) equals the
    // number of distinct first hash ids, and rows reuse them as often as the trace does.
    let openings: BTreeSet<String> = received
        .iter()
        .map(|r| {
            r.body_json["messages"][0]["content"]
                .as_str()
                .unwrap()
                .chars()
                .take(200)
                .collect()
        })
        .collect();
    let first_ids: BTreeSet<u64> = trace
        .iter()
        .map(|r| r["hash_ids"][0].as_u64().unwrap())
        .collect();
    assert!(
        first_ids.len() < trace.len(),
        "the trace reuses first blocks"
    );
    assert_eq!(
        openings.len(),
        first_ids.len(),
        "distinct prompt openings vs distinct first hash ids"
    );
    // Schedule lag is reported. (Its speed target, p99 under 5 ms, is measured by
    // scripts/bench/mooncake_replay.sh on a release build; this bound only catches a
    // replay that is not open loop, where lag grows to hundreds of ms.)
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    let p99 = s["load_report"]["schedule_lag_ms"]["p99"]
        .as_f64()
        .expect("schedule lag p99 reported");
    assert!(p99 < 100.0, "schedule lag p99 {p99} ms");
}

/// The Azure trace CSV replays too: one request per row with its token counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_trace_replays_with_its_lengths() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("azure");
    // The first 40 rows of the real code trace (header + rows).
    let src =
        std::fs::read_to_string(fixture("azure/AzureLLMInferenceTrace_code.head200.csv")).unwrap();
    let head: Vec<&str> = src.lines().take(41).collect();
    let file = dir.path().join("azure.csv");
    std::fs::write(&file, head.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let f = file.display().to_string();
    let args = profile_args(
        &server.url(),
        &out,
        &[
            "--streaming",
            "--input-file",
            &f,
            "--custom-dataset-type",
            "azure_trace",
            "--synthesis-speedup-ratio",
            "10",
        ],
    );
    let res = run(&args, LONG).await;
    assert!(res.status.success(), "{}", text(&res));
    let records = read_jsonl(out.join("profile_export.jsonl"));
    assert_eq!(records.len(), 40);
    let mut want: Vec<(u64, u64)> = head[1..]
        .iter()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].trim().parse().unwrap(), c[2].trim().parse().unwrap())
        })
        .collect();
    let mut got: Vec<(u64, u64)> = records
        .iter()
        .map(|r| {
            (
                r["metrics"]["input_sequence_length"]["value"]
                    .as_u64()
                    .unwrap(),
                r["metrics"]["output_sequence_length"]["value"]
                    .as_u64()
                    .unwrap(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}
