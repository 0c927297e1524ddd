//! End-to-end: the real `aiperf-rs` binary against the real mock server in its
//! fault-injecting mode (`--fault`, `docs/mock-server.md`) and closing every
//! connection after its response (`--close-after-response`), as
//! `docs/reliability.md` ("Hostile servers and connections") describes. Every
//! case checks that the records are conserved (every request sent is one
//! record, valid or error), what the records and the summary say, and that the
//! error records carry a clear message. No timing assertions.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(240);

/// A finished run: its artifacts, output, summary and records.
struct Run {
    dir: tempfile::TempDir,
    out: std::process::Output,
    summary: Value,
    records: Vec<Value>,
}

impl Run {
    fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("profile_export_console.txt")).unwrap()
    }

    /// Profiling records with an error, and without.
    fn split(&self) -> (Vec<&Value>, Vec<&Value>) {
        self.records.iter().partition(|r| !r["error"].is_null())
    }

    fn resilience(&self, key: &str) -> u64 {
        self.summary["resilience"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("resilience.{key} in {}", self.summary["resilience"]))
    }
}

/// Runs a streamed profile of `n` requests at concurrency `c` against `config`,
/// with `extra` flags; asserts the records are conserved.
async fn profile(config: MockConfig, n: usize, c: usize, extra: &[&str]) -> Run {
    let server = mock(config).await;
    let dir = temp_dir("hostile");
    let (n_s, c_s) = (n.to_string(), c.to_string());
    let mut a: Vec<&str> = vec![
        "--streaming",
        "--concurrency",
        &c_s,
        "--request-count",
        &n_s,
        "--isl",
        "16",
        "--osl",
        "12",
        "--extra-inputs",
        "ignore_eos:true",
    ];
    a.extend_from_slice(extra);
    let out = run(&profile_args(&server.url(), dir.path(), &a), LONG).await;
    server.shutdown().await;
    assert!(
        dir.path().join("profile_export_aiperf.json").exists(),
        "{}",
        text(&out)
    );
    assert_sent_equals_completed_plus_errors(dir.path(), n as u64);
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let records = read_jsonl(dir.path().join("profile_export.jsonl"));
    Run {
        dir,
        out,
        summary,
        records,
    }
}

fn metric(line: &Value, tag: &str) -> Option<f64> {
    line["metrics"][tag]["value"].as_f64()
}

fn assert_all_measured(run: &Run, case: &str) {
    assert!(run.out.status.success(), "{case}: {}", text(&run.out));
    let (errors, ok) = run.split();
    assert!(errors.is_empty(), "{case}: {errors:?}");
    for r in ok {
        assert_eq!(
            metric(r, "output_sequence_length"),
            Some(12.0),
            "{case}: {r}"
        );
        assert!(
            metric(r, "inter_token_latency").is_some(),
            "{case}: streamed: {r}"
        );
    }
}

/// CRLF line endings, odd TCP splits (inside `data:` and inside a UTF-8
/// character: the model name has one), garbage lines, a 1 MiB chunk and a slow
/// drip: every stream is measured whole, nothing is an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_but_readable_streams_are_measured_whole() {
    let _serial = SERIAL.lock().await;
    for case in [
        "crlf",
        "split",
        "garbage-lines",
        "big-chunk",
        "slow-drip=0.2",
    ] {
        let run = profile(
            MockConfig::fast().with_fault(case),
            6,
            2,
            &["-m", "mock-€-model"],
        )
        .await;
        assert_all_measured(&run, case);
        assert_eq!(run.resilience("invalid_sse_messages"), 0, "{case}");
    }
}

/// One `data:` line of invalid JSON per stream: skipped and counted (per
/// record and in the summary), the rest of the stream measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_lines_are_skipped_counted_and_the_rest_measured() {
    let _serial = SERIAL.lock().await;
    let run = profile(MockConfig::fast().with_fault("invalid-json"), 8, 2, &[]).await;
    assert_all_measured(&run, "invalid-json");
    for r in &run.records {
        assert_eq!(r["metadata"]["invalid_sse_messages"], 1, "{r}");
    }
    assert_eq!(run.resilience("invalid_sse_messages"), 8);
    assert!(
        run.console()
            .contains("8 SSE messages were not valid JSON and were skipped"),
        "{}",
        run.console()
    );
}

/// A plain JSON body answering every second streaming request is measured as a
/// non-streaming response (flagged, counted, no time to first token nor
/// inter-token latency), not thrown away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_json_reply_to_a_streaming_request_is_measured() {
    let _serial = SERIAL.lock().await;
    let run = profile(MockConfig::fast().with_fault("non-sse@1/2"), 8, 1, &[]).await;
    assert!(run.out.status.success(), "{}", text(&run.out));
    let (errors, ok) = run.split();
    assert!(errors.is_empty(), "{errors:?}");
    let plain: Vec<_> = ok
        .iter()
        .filter(|r| r["metadata"]["non_sse_response"] == true)
        .collect();
    assert_eq!(plain.len(), 4);
    for r in &plain {
        assert_eq!(metric(r, "output_sequence_length"), Some(12.0), "{r}");
        assert!(metric(r, "request_latency").is_some(), "{r}");
        for streaming_only in ["time_to_first_token", "inter_token_latency"] {
            assert!(metric(r, streaming_only).is_none(), "{streaming_only}: {r}");
        }
    }
    assert_eq!(run.resilience("non_sse_responses"), 4);
    assert!(
        run.console()
            .contains("4 streaming requests were answered with a plain (non-SSE) body"),
        "{}",
        run.console()
    );
}

/// HTTP 503 and 429 with bodies and connections reset mid-stream, selected by
/// arrival number: each is an error record with a clear message, the others
/// are measured. In-process and multi-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_and_resets_are_error_records_with_clear_messages() {
    let _serial = SERIAL.lock().await;
    for mode in ["in-process", "multi-process"] {
        let config = MockConfig::fast()
            .with_fault("status=503@1/4")
            .with_fault("status=429@1/3")
            .with_fault("reset-after=3@1/5");
        let run = profile(config, 24, 2, &["--service-mode", mode]).await;
        assert!(run.out.status.success(), "{mode}: {}", text(&run.out));
        // Arrival numbers 1..=24: 4, 8, ... (6) answer 503; 3, 6, 9, 15, 18, 21
        // (6) answer 429; 5, 10 (2) are reset.
        let (errors, ok) = run.split();
        assert_eq!(
            (errors.len(), ok.len()),
            (14, 10),
            "{mode}: {}",
            run.summary["error_summary"]
        );
        let count =
            |pred: &dyn Fn(&Value) -> bool| errors.iter().filter(|r| pred(&r["error"])).count();
        assert_eq!(
            count(&|e| e["code"] == 503
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("Simulated fault: HTTP 503")),
            6,
            "{mode}: {errors:?}"
        );
        assert_eq!(count(&|e| e["code"] == 429), 6, "{mode}");
        assert_eq!(
            count(&|e| e["type"] == "StreamError"
                && e["message"]
                    .as_str()
                    .unwrap()
                    .contains("the response stream broke after 3 messages")),
            2,
            "{mode}: {errors:?}"
        );
        assert_eq!(run.summary["error_request_count"]["avg"], 14.0);
    }
}

/// A server that stops sending in the middle of a stream: with a 1 s idle
/// timeout the request fails with a timeout error naming the flag, the
/// messages received are counted, the other requests are measured. A body
/// that never begins is bounded by --request-timeout-seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_fails_with_a_timeout_record() {
    let _serial = SERIAL.lock().await;
    let run = profile(
        MockConfig::fast().with_fault("stall-after=2@1/2"),
        4,
        2,
        &["--request-idle-timeout-seconds", "1"],
    )
    .await;
    let (errors, ok) = run.split();
    assert_eq!((errors.len(), ok.len()), (2, 2), "{}", text(&run.out));
    for r in errors {
        let e = &r["error"];
        assert_eq!(e["type"], "RequestTimeoutError", "{e}");
        let m = e["message"].as_str().unwrap();
        assert!(
            m.contains("the server stopped sending")
                && m.contains("after 2 messages")
                && m.contains("--request-idle-timeout-seconds"),
            "{m}"
        );
    }
    // Stalled before the first byte: only the whole-request timeout applies.
    let run = profile(
        MockConfig::fast().with_fault("stall-after=0@1/2"),
        4,
        2,
        &["--request-timeout-seconds", "1"],
    )
    .await;
    let (errors, _) = run.split();
    assert_eq!(errors.len(), 2, "{}", text(&run.out));
    for r in errors {
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--request-timeout-seconds"),
            "{r}"
        );
    }
}

/// The default timeouts are shown by --help.
#[tokio::test]
async fn help_shows_the_default_timeouts() {
    let out = run(&["profile".into(), "--help".into()], LONG).await;
    let help = String::from_utf8_lossy(&out.stdout);
    for (flag, default) in [
        ("--request-timeout-seconds", "[default: 600]"),
        ("--request-idle-timeout-seconds", "[default: 60]"),
    ] {
        let at = help.find(flag).unwrap_or_else(|| panic!("{flag}: {help}"));
        let para = &help[at..];
        let end = para[2..].find("\n  -").map_or(para.len(), |i| i + 2);
        assert!(para[..end].contains(default), "{flag}: {}", &para[..end]);
    }
}

fn zero_errors(run: &Run, what: &str) {
    assert!(run.out.status.success(), "{what}: {}", text(&run.out));
    let (errors, ok) = run.split();
    assert!(errors.is_empty(), "{what}: {errors:?}");
    assert_eq!(ok.len(), run.records.len());
}

/// A server that closes every connection after its response while announcing
/// keep-alive (llama.cpp): no error in `pooled`, `never` and
/// `sticky-user-sessions` mode, in-process and multi-process. The retries
/// `pooled` needed are counted, in the records and in the summary alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_after_each_response_costs_no_request() {
    let _serial = SERIAL.lock().await;
    let config = || {
        MockConfig::fast()
            .with_latency(1.0, 0.5)
            .closing_after_response()
    };
    for (strategy, mode) in [
        ("pooled", "in-process"),
        ("never", "in-process"),
        ("sticky-user-sessions", "in-process"),
        ("pooled", "multi-process"),
    ] {
        let what = format!("{strategy} {mode}");
        let run = profile(
            config(),
            60,
            4,
            &[
                "--connection-reuse-strategy",
                strategy,
                "--service-mode",
                mode,
            ],
        )
        .await;
        zero_errors(&run, &what);
        let per_record: u64 = run
            .records
            .iter()
            .map(|r| r["metadata"]["connection_retries"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(run.resilience("connection_retries"), per_record, "{what}");
        if strategy == "never" {
            assert_eq!(per_record, 0, "{what}: nothing is reused");
        }
    }
}

/// Multi-turn conversations with sticky sessions against a well-behaved
/// server: each conversation's later turns reuse its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_sessions_reuse_a_connection_within_a_conversation() {
    let _serial = SERIAL.lock().await;
    let run = profile(
        MockConfig::fast(),
        12,
        2,
        &[
            "--connection-reuse-strategy",
            "sticky-user-sessions",
            "--conversation-turn-mean",
            "3",
        ],
    )
    .await;
    zero_errors(&run, "sticky");
    let later_turns: Vec<_> = run
        .records
        .iter()
        .filter(|r| r["metadata"]["turn_index"].as_u64().unwrap() > 0)
        .collect();
    assert!(!later_turns.is_empty());
    for r in later_turns {
        assert_eq!(metric(r, "http_req_connection_reused"), Some(1.0), "{r}");
    }
}
