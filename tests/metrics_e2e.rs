//! End-to-end tests of the metric flags and exports: goodput, time slices,
//! reasoning and server token counts, the raw export level and the export
//! prefix. The real `aiperf-rs` binary runs against the mock server on
//! 127.0.0.1; expectations come from the mock's deterministic schedule.

mod common;

use aiperf_mock_server::{MockConfig, ttft_spread_fraction};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);

/// Profiling lines of `profile_export.jsonl`.
fn profiling_lines(dir: &Path, name: &str) -> Vec<Value> {
    read_jsonl(dir.join(name))
        .into_iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .collect()
}

/// `line.metrics[tag].value` as f64.
fn value(line: &Value, tag: &str) -> Option<f64> {
    line["metrics"][tag]["value"].as_f64()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-12)
}

/// Goodput against a mock whose TTFT is `20 ms + 100 ms × f(X-Request-ID)`: with
/// an SLO of TTFT ≤ 70 ms about half the requests pass, and exactly the ones the
/// mock's schedule predicts (away from the boundary) do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodput_counts_exactly_the_requests_that_meet_every_slo() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        ttft_spread_ms: 100.0,
        ..MockConfig::default().with_latency(20.0, 2.0)
    })
    .await;
    let dir = temp_dir("goodput");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "8",
            "--request-count",
            "60",
            "--isl",
            "32",
            "--osl",
            "10",
            "--goodput",
            "time_to_first_token:70 request_latency:1000",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let lines = profiling_lines(dir.path(), "profile_export.jsonl");
    assert_eq!(lines.len(), 60);

    let mut good = 0u64;
    let (mut predicted_good, mut predicted_bad, mut on_time_good) = (0u32, 0u32, 0u32);
    for l in &lines {
        let ttft = value(l, "time_to_first_token").unwrap();
        let latency = value(l, "request_latency").unwrap();
        let flag =
            value(l, "good_request_count").expect("every valid record has its 0/1 contribution");
        // The per-record contribution is exactly the SLO test on the record's own values.
        let expected = if ttft <= 70.0 && latency <= 1000.0 {
            1.0
        } else {
            0.0
        };
        assert_eq!(flag, expected, "ttft {ttft} ms, latency {latency} ms");
        good += flag as u64;
        // And the mock's schedule predicts it. A response is never early; it can be
        // late when the machine is busy, so only "late enough to fail" is strict.
        let id = l["metadata"]["x_request_id"].as_str().unwrap();
        let scheduled = 20.0 + 100.0 * ttft_spread_fraction(id);
        assert!(
            ttft > scheduled - 0.5,
            "TTFT {ttft} ms before the mock's schedule {scheduled} ms"
        );
        if scheduled < 60.0 {
            predicted_good += 1;
            on_time_good += flag as u32;
        } else if scheduled > 70.0 {
            predicted_bad += 1;
            assert_eq!(flag, 0.0, "scheduled TTFT {scheduled} ms is beyond the SLO");
        }
    }
    assert!(
        predicted_good >= 12 && predicted_bad >= 12,
        "spread over both sides: {predicted_good} / {predicted_bad}"
    );
    assert!(
        on_time_good * 10 >= predicted_good * 9,
        "{on_time_good} of {predicted_good} requests scheduled well within the SLO met it"
    );

    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(stat(&s, "good_request_count", "avg"), good as f64);
    // goodput = good / benchmark_duration, like request_throughput = count / benchmark_duration
    let duration = stat(&s, "benchmark_duration", "avg");
    assert!(close(
        stat(&s, "goodput", "avg"),
        good as f64 / duration,
        1e-9
    ));
    assert!(close(
        stat(&s, "request_throughput", "avg"),
        60.0 / duration,
        1e-9
    ));
    assert!(close(
        stat(&s, "good_request_fraction", "avg"),
        good as f64 / 60.0,
        1e-12
    ));
    assert_eq!(s["goodput"]["unit"], "requests/sec");
    assert_eq!(
        s["input_config"]["slos"],
        serde_json::json!({"time_to_first_token": 70.0, "request_latency": 1000.0})
    );

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Goodput (requests/sec)"), "{stdout}");
    assert!(
        stdout.contains(&format!("Goodput: {good} of 60 requests")),
        "console summarises the goodput:\n{stdout}"
    );
}

/// Errors count against the good fraction, and error-adjusted (`adj_*`) rows
/// appear in the JSON and on the console only when errors exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_count_against_goodput_and_add_error_adjusted_rows() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        error_rate: 25.0,
        random_seed: 5,
        ..MockConfig::default().with_latency(5.0, 1.0)
    })
    .await;
    let dir = temp_dir("goodput-errors");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "40",
            "--isl",
            "16",
            "--osl",
            "5",
            "--goodput",
            "request_latency:5000",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    let valid = stat(&s, "request_count", "avg");
    let errors = stat(&s, "error_request_count", "avg");
    assert_eq!(valid + errors, 40.0);
    assert!(
        errors >= 3.0,
        "the mock answers about 25% with HTTP 500: {errors}"
    );
    // Every valid request meets a 5 s latency SLO; the errors are not good.
    assert_eq!(stat(&s, "good_request_count", "avg"), valid);
    assert!(close(
        stat(&s, "good_request_fraction", "avg"),
        valid / 40.0,
        1e-12
    ));
    assert_eq!(stat(&s, "request_error_rate", "avg"), 100.0 * errors / 40.0);
    // adj_*: successes plus one +inf per error, nearest rank; infinite stats dropped.
    for tag in [
        "adj_time_to_first_token",
        "adj_request_latency",
        "adj_inter_token_latency",
        "adj_decode_duration",
    ] {
        let adj = &s[tag];
        assert_eq!(adj["count"], 40, "{tag}: {adj}");
        assert!(
            adj.get("avg").is_none() && adj.get("max").is_none() && adj.get("std").is_none(),
            "{tag}: {adj}"
        );
        assert!(
            adj.get("p99").is_none(),
            "p99 falls on a failed request: {adj}"
        );
        let parent = tag.strip_prefix("adj_").unwrap();
        assert_eq!(adj["min"], s[parent]["min"], "{tag}");
    }
    assert_eq!(s["error_summary"][0]["error_details"]["code"], 500);
    assert_eq!(s["error_summary"][0]["count"].as_f64().unwrap(), errors);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Request Latency (error-adjusted)"),
        "{stdout}"
    );
    assert!(stdout.contains("Error Summary"), "{stdout}");

    // A clean run has no adj_* rows at all.
    let clean = mock(MockConfig::fast()).await;
    let dir = temp_dir("clean");
    let out = run(
        &profile_args(
            &clean.url(),
            dir.path(),
            &["--streaming", "--request-count", "8", "--osl", "4"],
        ),
        LONG,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert!(
        s.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("adj_")),
        "{s}"
    );
    assert!(s.get("goodput").is_none() && s.get("good_request_count").is_none());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("error-adjusted"));
}

/// `--slice-duration`: the profiling records are cut into windows from the first
/// request start; each record counts in the window of its start; the last window
/// is clipped at the last request end and flagged incomplete; warmup records are
/// summarised apart and never sliced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_slices_partition_the_profiling_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 5.0)).await;
    let dir = temp_dir("slices");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "30",
            "--warmup-request-count",
            "4",
            "--isl",
            "32",
            "--osl",
            "10",
            "--slice-duration",
            "0.2",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));

    // Expected grid from the per-request records.
    let all = read_jsonl(dir.path().join("profile_export.jsonl"));
    let lines: Vec<&Value> = all
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .collect();
    assert_eq!(lines.len(), 30);
    let s_ns: u64 = 200_000_000;
    let first = lines
        .iter()
        .map(|l| u64_of(&l["metadata"]["request_start_ns"]))
        .min()
        .unwrap();
    let last = lines
        .iter()
        .map(|l| u64_of(&l["metadata"]["request_end_ns"]))
        .max()
        .unwrap();
    let mut per_slice: BTreeMap<u64, u64> = BTreeMap::new();
    for l in &lines {
        *per_slice
            .entry((u64_of(&l["metadata"]["request_start_ns"]) - first) / s_ns)
            .or_default() += 1;
    }
    let n_grid = (last - first) / s_ns + 1;
    assert!(n_grid >= 3, "the run spans several slices: {n_grid}");

    let ts = read_json(dir.path().join("profile_export_aiperf_timeslices.json"));
    let slices = ts["timeslices"].as_array().unwrap();
    assert_eq!(
        slices.len(),
        per_slice.len(),
        "one entry per non-empty slice"
    );
    for (slice, (k, count)) in slices.iter().zip(&per_slice) {
        let start = first + k * s_ns;
        let is_last = *k == n_grid - 1;
        let end = if is_last { last } else { start + s_ns };
        assert_eq!(u64_of(&slice["start_ns"]), start, "slice {k}");
        assert_eq!(u64_of(&slice["end_ns"]), end, "slice {k}");
        assert_eq!(
            slice["request_count"]["avg"].as_f64().unwrap(),
            *count as f64,
            "slice {k}"
        );
        assert_eq!(slice["time_to_first_token"]["count"], *count, "slice {k}");
        // Throughput inside a slice divides by the slice window.
        let rps = slice["request_throughput"]["avg"].as_f64().unwrap();
        assert!(
            close(rps, *count as f64 / ((end - start) as f64 / 1e9), 1e-9),
            "slice {k}: {rps}"
        );
        if is_last && end < start + s_ns {
            assert_eq!(
                slice["is_complete"], false,
                "the clipped last slice is incomplete"
            );
        } else {
            assert!(slice.get("is_complete").is_none(), "slice {k}");
        }
    }
    assert!(ts["input_config"]["artifacts"]["slice_duration"].as_f64() == Some(0.2));

    // CSV: tidy rows, Timeslice = position, bounds as in the JSON.
    let csv =
        std::fs::read_to_string(dir.path().join("profile_export_aiperf_timeslices.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value")
    );
    let mut rps_rows = 0;
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        let i: usize = f[0].parse().unwrap();
        assert_eq!(f[1], slices[i]["start_ns"].to_string());
        assert_eq!(f[2], slices[i]["end_ns"].to_string());
        if f[3] == "Request Throughput" {
            rps_rows += 1;
            assert_eq!(
                f[6],
                format!(
                    "{:.2}",
                    slices[i]["request_throughput"]["avg"].as_f64().unwrap()
                )
            );
        }
    }
    assert_eq!(rps_rows, slices.len());

    // Warmup: in the JSONL with its own phase metadata, summarised apart.
    let warm: Vec<&Value> = all
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "warmup")
        .collect();
    assert_eq!(warm.len(), 4);
    for l in &warm {
        let m = &l["metadata"];
        assert_eq!(
            (
                m["phase_index"].as_u64(),
                m["phase_name"].as_str(),
                m["phase_kind"].as_str()
            ),
            (Some(0), Some("warmup"), Some("warmup"))
        );
        assert!(m.get("profiling_index").is_none());
    }
    for l in &lines {
        let m = &l["metadata"];
        assert_eq!(
            (
                m["phase_index"].as_u64(),
                m["profiling_index"].as_u64(),
                m["phase_name"].as_str()
            ),
            (Some(1), Some(0), Some("profiling"))
        );
        assert_eq!(m["root_correlation_id"], m["x_correlation_id"]);
        assert_eq!(
            (
                m["context_overflow_skip"].as_bool(),
                m["agent_depth"].as_u64()
            ),
            (Some(false), Some(0))
        );
    }
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(stat(&s, "request_count", "avg"), 30.0);
    assert_eq!(s["warmup_metrics"]["request_count"]["avg"], 4.0);
    assert_eq!(s["warmup_metrics"]["time_to_first_token"]["count"], 4);

    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Timeslice CSV Export:",
        "Timeslice JSON Export:",
        "profile_export_aiperf_timeslices.csv",
    ] {
        assert!(stdout.contains(line), "console lacks {line}:\n{stdout}");
    }
}

/// Reasoning tokens are counted apart from output tokens (`docs/metrics.md` §3):
/// the mock's `mock-reasoning` model sends 8 reasoning tokens, then content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_tokens_are_counted_apart_from_output_tokens() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        reasoning_tokens: 8,
        ..MockConfig::default().with_latency(20.0, 5.0)
    })
    .await;
    let dir = temp_dir("reasoning");
    let tok = qwen_tokenizer();
    let mut args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "16",
            "--isl",
            "40",
            "--osl",
            "20",
            "--tokenizer",
            &tok,
        ],
    );
    args[2] = "mock-reasoning".into();
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    for l in profiling_lines(dir.path(), "profile_export.jsonl") {
        assert_eq!(value(&l, "reasoning_token_count"), Some(8.0), "{l}");
        assert_eq!(value(&l, "output_token_count"), Some(12.0), "{l}");
        assert_eq!(
            value(&l, "output_sequence_length"),
            Some(20.0),
            "OSL = output + reasoning"
        );
        assert_eq!(value(&l, "usage_reasoning_tokens"), Some(8.0));
        assert_eq!(value(&l, "usage_reasoning_tokens_diff_pct"), Some(0.0));
        assert_eq!(value(&l, "usage_completion_tokens_diff_pct"), Some(0.0));
        // TTFT is the first (reasoning) chunk; TTFO the first content chunk, which
        // is the 9th chunk: exactly 8 chunk gaps later.
        let ttft = value(&l, "time_to_first_token").unwrap();
        let ttfo = value(&l, "time_to_first_output_token").unwrap();
        let gaps: Vec<f64> = l["metrics"]["inter_chunk_latency"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(gaps.len(), 19, "20 single-token chunks");
        assert!(
            (ttfo - ttft - gaps[..8].iter().sum::<f64>()).abs() < 1e-3,
            "{l}"
        );
        // The first content token is due 20 ms + 8 × 5 ms after the mock got the request.
        assert!(
            ttfo > 60.0 - 0.5,
            "never earlier than the mock's schedule: {l}"
        );
        // ITL = (latency − TTFT) / (OSL − 1), OSL counting the reasoning tokens.
        let latency = value(&l, "request_latency").unwrap();
        let itl = value(&l, "inter_token_latency").unwrap();
        assert!((itl - (latency - ttft) / 19.0).abs() < 1e-6, "{l}");
    }
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    // Medians are robust to a chunk delayed by a busy machine.
    let ttfo_minus_ttft =
        stat(&s, "time_to_first_output_token", "p50") - stat(&s, "time_to_first_token", "p50");
    assert!((ttfo_minus_ttft - 40.0).abs() < 5.0, "{ttfo_minus_ttft}");
    assert!((stat(&s, "inter_token_latency", "p50") - 5.0).abs() < 0.5);
    assert_eq!(stat(&s, "total_reasoning_tokens", "avg"), 16.0 * 8.0);
    assert_eq!(stat(&s, "total_output_tokens", "avg"), 16.0 * 12.0);
    assert_eq!(stat(&s, "total_osl", "avg"), 16.0 * 20.0);
    assert!(close(
        stat(&s, "output_token_throughput", "avg"),
        320.0 / stat(&s, "benchmark_duration", "avg"),
        1e-9
    ));
    // The mock approximates prompt tokens (characters / 4): the usage check warns.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("server's usage token counts differ"),
        "{stdout}"
    );
    assert!(stdout.contains("--use-server-token-count"), "{stdout}");
}

/// `--use-server-token-count`: ISL, output and reasoning tokens come from the
/// server's `usage`; the client/server discrepancy metrics and warning are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_token_counts_replace_client_counts() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        reasoning_tokens: 6,
        ..MockConfig::default().with_latency(5.0, 1.0)
    })
    .await;
    let dir = temp_dir("server-tokens");
    let mut args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "12",
            "--isl",
            "64",
            "--osl",
            "15",
            "--use-server-token-count",
        ],
    );
    args[2] = "mock-reasoning".into();
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let lines = profiling_lines(dir.path(), "profile_export.jsonl");
    assert_eq!(lines.len(), 12);
    for l in &lines {
        let usage_prompt = value(l, "usage_prompt_tokens").unwrap();
        assert_eq!(
            value(l, "input_sequence_length"),
            Some(usage_prompt),
            "ISL = usage.prompt_tokens"
        );
        assert_eq!(value(l, "reasoning_token_count"), Some(6.0));
        assert_eq!(
            value(l, "output_token_count"),
            Some(9.0),
            "completion 15 − reasoning 6"
        );
        assert_eq!(value(l, "output_sequence_length"), Some(15.0));
        for tag in [
            "usage_prompt_tokens_diff_pct",
            "usage_completion_tokens_diff_pct",
            "usage_reasoning_tokens_diff_pct",
        ] {
            assert!(l["metrics"].get(tag).is_none(), "{tag} is disabled: {l}");
        }
    }
    // ISL from the server: ceil(characters / 4) of the prompt the mock received.
    let received: HashMap<String, Value> = server
        .received()
        .into_iter()
        .map(|r| (r.header("x-request-id").unwrap().to_string(), r.body_json))
        .collect();
    for l in &lines {
        let body = &received[l["metadata"]["x_request_id"].as_str().unwrap()];
        let chars: usize = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().chars().count())
            .sum();
        assert_eq!(
            value(l, "input_sequence_length"),
            Some(chars.div_ceil(4) as f64)
        );
    }
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert!(
        s.get("usage_discrepancy_count").is_none()
            && s.get("usage_prompt_tokens_diff_pct").is_none()
    );
    assert_eq!(
        s["input_config"]["endpoint"]["use_server_token_count"],
        true
    );
    assert_eq!(stat(&s, "total_reasoning_tokens", "avg"), 72.0);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("usage token counts differ"));
}

/// `--export-level raw` writes one `profile_export_raw.jsonl` line per request:
/// the metadata, the request headers (secrets redacted), the status, every SSE
/// message with its timestamp and the exact body sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_export_level_writes_every_exchange() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("raw");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "10",
            "--isl",
            "16",
            "--osl",
            "5",
            "--export-level",
            "raw",
            "--api-key",
            "sk-very-secret",
            "-H",
            "X-Team:llm",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let records = read_jsonl(dir.path().join("profile_export.jsonl"));
    let raw_text = std::fs::read_to_string(dir.path().join("profile_export_raw.jsonl")).unwrap();
    assert!(
        !raw_text.contains("sk-very-secret"),
        "the API key is never written"
    );
    let raw = read_jsonl(dir.path().join("profile_export_raw.jsonl"));
    assert_eq!(raw.len(), 10);
    let received: HashMap<String, Value> = server
        .received()
        .into_iter()
        .map(|r| (r.header("x-request-id").unwrap().to_string(), r.body_json))
        .collect();
    for r in &raw {
        let id = r["metadata"]["x_request_id"].as_str().unwrap();
        let record = records
            .iter()
            .find(|l| l["metadata"]["x_request_id"] == id)
            .expect("same request in profile_export.jsonl");
        assert_eq!(r["metadata"], record["metadata"]);
        let h = &r["request_headers"];
        assert_eq!(h["X-Request-ID"], id);
        assert_eq!(h["X-Correlation-ID"], r["metadata"]["x_correlation_id"]);
        assert_eq!(h["Authorization"], "<redacted>");
        assert_eq!(h["X-Team"], "llm");
        assert_eq!(h["Accept"], "text/event-stream");
        assert_eq!(r["status"], 200);
        assert_eq!(
            r["payload"], received[id],
            "the exact body the server received"
        );
        // 5 token chunks, the usage chunk, [DONE]; timestamps increase.
        let responses = r["responses"].as_array().unwrap();
        assert_eq!(responses.len(), 7, "{r}");
        assert_eq!(
            responses[6]["packets"][0],
            serde_json::json!({"name": "data", "value": "[DONE]"})
        );
        let usage: Value =
            serde_json::from_str(responses[5]["packets"][0]["value"].as_str().unwrap()).unwrap();
        assert_eq!(usage["usage"]["completion_tokens"], 5);
        let perf: Vec<u64> = responses.iter().map(|x| u64_of(&x["perf_ns"])).collect();
        assert!(perf.windows(2).all(|w| w[0] <= w[1]) && u64_of(&r["start_perf_ns"]) <= perf[0]);
    }
}

/// `--profile-export-prefix foo` renames every export (`docs/outputs.md`);
/// `--export-level summary` writes no per-request file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_prefix_renames_every_file_and_summary_level_writes_no_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("prefix");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--request-count",
            "6",
            "--osl",
            "4",
            "--profile-export-prefix",
            "run7",
            "--export-level",
            "raw",
            "--slice-duration",
            "0.5",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".aiperf_results_ready.json",
            "inputs.json",
            "logs",
            "run7.csv",
            "run7.json",
            "run7.jsonl",
            "run7_console.txt",
            "run7_raw.jsonl",
            "run7_server_metrics.csv",
            "run7_server_metrics.json",
            "run7_timeslices.csv",
            "run7_timeslices.json",
        ]
    );
    assert_eq!(read_jsonl(dir.path().join("run7.jsonl")).len(), 6);
    assert_eq!(read_jsonl(dir.path().join("run7_raw.jsonl")).len(), 6);
    assert_eq!(
        stat(
            &read_json(dir.path().join("run7.json")),
            "request_count",
            "avg"
        ),
        6.0
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for f in [
        "run7.csv",
        "run7.json",
        "run7_timeslices.csv",
        "run7_timeslices.json",
    ] {
        assert!(
            stdout.contains(&dir.path().join(f).display().to_string()),
            "console names {f}:\n{stdout}"
        );
    }
    let console = std::fs::read_to_string(dir.path().join("run7_console.txt")).unwrap();
    assert!(
        stdout.ends_with(&console),
        "run7_console.txt is the printed console:\n{console}"
    );

    let dir = temp_dir("summary-level");
    let out = run(
        &profile_args(
            &server.url(),
            dir.path(),
            &["--request-count", "4", "--export-level", "summary"],
        ),
        LONG,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("profile_export_aiperf.json").exists());
    assert!(
        !dir.path().join("profile_export.jsonl").exists()
            && !dir.path().join("profile_export_raw.jsonl").exists()
    );
}

/// A bad `--goodput` (unknown metric, malformed value, a metric the run does not
/// compute) or `--slice-duration` stops the command with exit code 2 before any
/// request is sent or any file is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_goodput_and_slice_duration_are_rejected_before_the_run() {
    let server = mock(MockConfig::fast()).await;
    let parent = temp_dir("badgoodput");
    for (extra, needles) in [
        (
            vec!["--streaming", "--goodput", "ttft:50"],
            vec![
                "--goodput",
                "unknown goodput metric `ttft`",
                "time_to_first_token",
            ],
        ),
        (
            vec!["--streaming", "--goodput", "time_to_first_token:fast"],
            vec!["--goodput", "`fast`", "time_to_first_token"],
        ),
        (
            vec!["--streaming", "--goodput", "time_to_first_token"],
            vec!["--goodput", "TAG:VALUE"],
        ),
        (
            vec!["--goodput", "time_to_first_token:50"],
            vec!["--goodput", "--streaming"],
        ),
        (vec!["--slice-duration", "0"], vec!["--slice-duration"]),
    ] {
        let dir = parent.path().join("out");
        let out = run(
            &profile_args(&server.url(), &dir, &extra),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(
                stderr.contains(n),
                "{extra:?}: stderr lacks {n:?}: {stderr}"
            );
        }
        assert!(!dir.exists(), "{extra:?}: nothing written");
    }
    assert_eq!(server.stats().requests, 0, "no request was sent");
}

/// Every file of an artifact directory, recursively, as text.
fn all_files_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.push_str(&all_files_text(&p));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// Error records carry AIPerf 0.13's `cause` and `cause_chain` when a Rust error
/// lies behind them. A server that accepts the preflight connection and then stops
/// listening refuses every request: each JSONL error is a `ConnectionError` whose
/// chain runs from that type down to the OS error, with no secret anywhere in the
/// artifacts. An HTTP 500 of the mock (the server answered) has neither field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_records_carry_their_cause_chain() {
    let _serial = SERIAL.lock().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accept the preflight's connection, then close it and the listener: from then
    // on the port refuses connections.
    let closer = std::thread::spawn(move || drop(listener.accept()));
    let dir = temp_dir("refused");
    let out = run(
        &profile_args(
            &url,
            dir.path(),
            &[
                "--streaming",
                "--concurrency",
                "1",
                "--request-count",
                "3",
                "--api-key",
                "sk-e2e-secret",
                "--header",
                "X-Api-Key:hdr-e2e-secret",
            ],
        ),
        LONG,
    )
    .await;
    closer.join().unwrap();
    assert!(!out.status.success(), "every request fails: {}", text(&out));
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), 3, "{}", text(&out));
    for l in &lines {
        let e = &l["error"];
        assert_eq!(e["type"], "ConnectionError", "{l}");
        assert!(e["code"].is_null(), "{l}");
        let chain: Vec<&str> = e["cause_chain"]
            .as_array()
            .unwrap_or_else(|| panic!("no cause_chain: {l}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(chain.first(), Some(&"ConnectionError"), "{l}");
        assert_eq!(chain.last(), Some(&"io::Error(ConnectionRefused)"), "{l}");
        assert!(chain.len() >= 3, "{l}");
        assert!(e["cause"].as_str().is_some_and(|c| !c.is_empty()), "{l}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("Connection refused"),
            "{l}"
        );
        assert!(e.get("details").is_none(), "{l}");
    }
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(s["error_summary"][0]["count"], 3);
    assert_eq!(
        s["error_summary"][0]["error_details"]["cause_chain"],
        lines[0]["error"]["cause_chain"]
    );
    let everything = all_files_text(dir.path()) + &text(&out);
    for secret in ["sk-e2e-secret", "hdr-e2e-secret"] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }

    // The server answered 500: code, type and message only.
    let server = mock(MockConfig {
        error_rate: 100.0,
        ..MockConfig::fast()
    })
    .await;
    let dir = temp_dir("http500");
    let out = run(
        &profile_args(
            &server.url(),
            dir.path(),
            &["--streaming", "--request-count", "2"],
        ),
        LONG,
    )
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    for l in read_jsonl(dir.path().join("profile_export.jsonl")) {
        let keys: Vec<&str> = l["error"]
            .as_object()
            .unwrap_or_else(|| panic!("no error: {l}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["code", "type", "message"], "{l}");
        assert_eq!(l["error"]["code"], 500);
    }
}
