//! Golden tests: a fixed, hand-built run goes in, every export must come out
//! byte-identical to the files under `tests/golden/`.
//!
//! After an intended format change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p aiperf-export --test golden`, inspect the diff
//! against `docs/outputs.md`, and commit the new files.

use aiperf_config::{
    ArrivalPattern, Context, CustomDatasetType, ProfileArgs, ProfileConfig, resolve,
};
use aiperf_export::artifacts::{ArtifactPaths, DEFAULT_PREFIX};
use aiperf_export::console::{ConsoleContext, render_console};
use aiperf_export::input_config::input_config_value;
use aiperf_export::records_jsonl::{DisplayValue, record_line};
use aiperf_export::summary_csv::render_summary_csv;
use aiperf_export::summary_json::{CLASSIC_METRIC_ORDER, SummaryContext, render_summary_json};
use aiperf_export::timeslices::{Timeslice, render_timeslices_csv, render_timeslices_json};
use aiperf_protocol::record::RecordMetadata;
use aiperf_protocol::results::{ErrorSummaryEntry, MetricResult, PhaseResults, ProfileResults};
use aiperf_protocol::{ErrorDetails, Phase};
use chrono::FixedOffset;
use std::path::PathBuf;

const BENCHMARK_ID: &str = "c7c44836b89f";
const CLI: &str = "aiperf-rs profile --model mock-model --url http://127.0.0.1:8000 --streaming \
                   --api-key sk-secret --concurrency 4 --request-count 40 --random-seed 42 \
                   --warmup-request-count 5 --artifact-dir run1";

fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    panic!(
        "{name} differs from its golden file at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
         (lengths {} vs {}; run with UPDATE_GOLDEN=1 to accept the new output)",
        line + 1,
        expected.lines().nth(line),
        actual.lines().nth(line),
        expected.len(),
        actual.len()
    );
}

fn config() -> ProfileConfig {
    let args = ProfileArgs {
        models: Some(vec!["mock-model".into()]),
        url: Some("http://127.0.0.1:8000".into()),
        streaming: Some(true),
        api_key: Some("sk-secret".into()),
        header: Some(vec![
            "Authorization:Bearer sk-secret".into(),
            "X-Team:llm".into(),
        ]),
        random_seed: Some(42),
        concurrency: Some(vec![4]),
        request_count: Some(40),
        warmup_request_count: Some(5),
        output_artifact_dir: Some("run1".into()),
        zmq_ipc_path: Some("/tmp/aiperf-rs-golden".into()),
        workers_max: Some(2),
        ..Default::default()
    };
    let ctx = Context {
        cpus: 4,
        stdout_is_tty: false,
        cli_command: CLI.into(),
    };
    resolve(&args, &ctx).expect("fixture config resolves")
}

fn pct(values: [f64; 9]) -> Vec<(u8, f64)> {
    [1, 5, 10, 25, 50, 75, 90, 95, 99]
        .into_iter()
        .zip(values)
        .collect()
}

/// A distribution metric: `[avg, min, max, std, sum]`, count, percentiles p1..p99.
#[allow(clippy::too_many_arguments)]
fn dist(
    tag: &str,
    header: &str,
    unit: &str,
    order: u32,
    console: bool,
    s: [f64; 5],
    count: u64,
    p: [f64; 9],
) -> MetricResult {
    MetricResult {
        tag: tag.into(),
        header: header.into(),
        unit: unit.into(),
        avg: Some(s[0]),
        min: Some(s[1]),
        max: Some(s[2]),
        std: Some(s[3]),
        sum: Some(s[4]),
        count: Some(count),
        percentiles: pct(p),
        scalar: false,
        display_order: order,
        console,
    }
}

fn scalar(tag: &str, header: &str, unit: &str, order: u32, console: bool, v: f64) -> MetricResult {
    MetricResult {
        tag: tag.into(),
        header: header.into(),
        unit: unit.into(),
        avg: Some(v),
        scalar: true,
        display_order: order,
        console,
        ..Default::default()
    }
}

fn profiling_metrics() -> Vec<MetricResult> {
    vec![
        dist(
            "time_to_first_token",
            "Time to First Token",
            "ms",
            100,
            true,
            [40.8986, 22.5723, 101.7582, 19.5935, 1513.2482],
            37,
            [
                22.95, 23.63, 24.74, 27.62, 33.5523, 48.56, 64.1955, 82.84, 100.111,
            ],
        ),
        dist(
            "time_to_second_token",
            "Time to Second Token",
            "ms",
            200,
            true,
            [7.557852, 2.1, 14.25, 3.3, 279.640524],
            37,
            [2.2, 2.5, 3.0, 5.1, 7.2, 9.9, 12.0, 13.0, 14.0],
        ),
        dist(
            "request_latency",
            "Request Latency",
            "ms",
            300,
            true,
            [107.7128, 74.2518, 170.0651, 34.248, 3985.3747],
            37,
            [
                74.7497, 76.7654, 78.1807, 81.8645, 89.2329, 140.5507, 167.6513, 168.9334, 169.8908,
            ],
        ),
        MetricResult {
            tag: "adj_request_latency".into(),
            header: "Request Latency (error-adjusted)".into(),
            unit: "ms".into(),
            min: Some(74.2518),
            count: Some(41),
            percentiles: pct([
                74.7497,
                76.7654,
                78.1807,
                81.8645,
                89.9,
                150.2,
                169.5,
                f64::INFINITY,
                f64::INFINITY,
            ]),
            display_order: 301,
            console: true,
            ..Default::default()
        },
        dist(
            "decode_duration",
            "Decode Duration",
            "ms",
            350,
            true,
            [66.8142, 40.0, 115.462657, 20.5, 2472.1254],
            37,
            [40.5, 41.0, 45.0, 50.0, 60.0, 80.0, 100.0, 110.0, 115.0],
        ),
        dist(
            "inter_token_latency",
            "Inter Token Latency",
            "ms",
            400,
            true,
            [2.3620, 1.2903, 4.6417, 0.8412, 87.3940],
            37,
            [
                1.3012, 1.3421, 1.5634, 1.7201, 2.1299, 2.7133, 3.5947, 4.1087, 4.5175,
            ],
        ),
        dist(
            "inter_chunk_latency",
            "Inter Chunk Latency",
            "ms",
            450,
            false,
            [3.9814709310344822, 0.5, 12.101472, 2.4, 4270.2],
            1073,
            [0.6, 0.8, 1.0, 2.0, 3.5, 5.0, 7.5, 9.0, 12.0],
        ),
        dist(
            "output_token_throughput_per_user",
            "Output Token Throughput Per User",
            "tokens/sec/user",
            500,
            true,
            [451.2093, 215.4365, 775.0106, 142.7013, 16694.7441],
            37,
            [
                221.3, 243.4, 278.1, 369.2, 469.5, 581.3, 639.6, 746.9, 768.4,
            ],
        ),
        dist(
            "prefill_throughput_per_user",
            "Prefill Throughput Per User",
            "tokens/sec/user",
            520,
            false,
            [1392.4515535470584, 982.7, 4430.2, 801.33, 51520.71],
            37,
            [
                990.1, 1001.2, 1050.0, 1100.0, 1300.0, 1500.0, 2500.0, 3900.0, 4400.0,
            ],
        ),
        dist(
            "output_sequence_length",
            "Output Sequence Length",
            "tokens",
            600,
            true,
            [30.0, 30.0, 30.0, 0.0, 1110.0],
            37,
            [30.0; 9],
        ),
        dist(
            "input_sequence_length",
            "Input Sequence Length",
            "tokens",
            700,
            true,
            [550.0, 550.0, 550.0, 0.0, 20350.0],
            37,
            [550.0; 9],
        ),
        scalar(
            "output_token_throughput",
            "Output Token Throughput",
            "tokens/sec",
            800,
            true,
            12345.678,
        ),
        scalar(
            "request_throughput",
            "Request Throughput",
            "requests/sec",
            900,
            true,
            27.786424362317405,
        ),
        scalar(
            "request_error_rate",
            "Error Rate",
            "%",
            1080,
            true,
            9.75609756097561,
        ),
        scalar(
            "request_count",
            "Request Count",
            "requests",
            1100,
            true,
            37.0,
        ),
        scalar(
            "error_request_count",
            "Error Request Count",
            "requests",
            1110,
            false,
            4.0,
        ),
        dist(
            "error_isl",
            "Error Input Sequence Length",
            "tokens",
            1120,
            false,
            [550.0, 550.0, 550.0, 0.0, 2200.0],
            4,
            [550.0; 9],
        ),
        scalar(
            "total_osl",
            "Total Output Sequence Length",
            "tokens",
            1200,
            false,
            1110.0,
        ),
        scalar(
            "benchmark_duration",
            "Benchmark Duration",
            "sec",
            1300,
            false,
            1.309346048,
        ),
    ]
}

fn results() -> ProfileResults {
    let warmup = PhaseResults {
        metrics: vec![
            dist(
                "request_latency",
                "Request Latency",
                "ms",
                300,
                true,
                [179.41, 150.2, 210.5, 20.1, 897.05],
                5,
                [
                    150.5, 151.7, 153.2, 160.0, 178.3, 190.1, 202.0, 206.2, 209.7,
                ],
            ),
            scalar(
                "request_count",
                "Request Count",
                "requests",
                1100,
                true,
                5.0,
            ),
        ],
        error_summary: vec![],
        start_ns: 1_795_898_777_499_972_629,
        end_ns: 1_795_898_777_871_091_325,
        records: 5,
        errors: 0,
        resilience: Default::default(),
    };
    ProfileResults {
        profiling: PhaseResults {
            metrics: profiling_metrics(),
            error_summary: vec![
                ErrorSummaryEntry {
                    error_details: ErrorDetails::new(
                        Some(499),
                        "RequestCancellationError",
                        "Request cancelled 0.010s after being sent",
                    ),
                    count: 3,
                },
                ErrorSummaryEntry {
                    error_details: ErrorDetails::new(
                        Some(500),
                        "Internal Server Error",
                        "{\"error\": \"upstream model crashed while generating, please retry later\",\n\"detail\": \"CUDA out of memory\"}",
                    ),
                    count: 1,
                },
            ],
            start_ns: 1_795_898_777_874_572_000,
            end_ns: 1_795_898_779_206_157_123,
            records: 41,
            errors: 4,
            resilience: Default::default(),
        },
        warmup: Some(warmup),
        was_cancelled: false,
        is_complete: true,
    }
}

fn utc() -> Option<FixedOffset> {
    FixedOffset::east_opt(0)
}

fn summary_json() -> String {
    let config = config();
    let mut ctx = SummaryContext::new(BENCHMARK_ID, &config);
    ctx.utc_offset = utc();
    ctx.extra_sections.push((
        "client_health".into(),
        serde_json::json!({"max_schedule_lag_ms": 1.25, "late_credits": 0}),
    ));
    render_summary_json(&ctx, &results())
}

#[test]
fn golden_summary_json() {
    check_golden("profile_export_aiperf.json", &summary_json());
}

#[test]
fn summary_json_key_order() {
    let v: serde_json::Value = serde_json::from_str(&summary_json()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let classic: Vec<&str> = CLASSIC_METRIC_ORDER
        .iter()
        .copied()
        .filter(|t| profiling_metrics().iter().any(|m| m.tag == *t))
        .collect();
    let mut expected = vec![
        "schema_version",
        "aiperf_version",
        "aiperf_rs_version",
        "benchmark_id",
    ];
    expected.extend(&classic);
    expected.extend([
        "input_config",
        "run_info",
        "was_cancelled",
        "is_complete",
        "error_summary",
        "resilience",
        "start_time",
        "end_time",
        "warmup_metrics",
        // the rest by display order
        "adj_request_latency",
        "decode_duration",
        "prefill_throughput_per_user",
        "request_error_rate",
        "client_health",
    ]);
    assert_eq!(keys, expected);
    assert_eq!(
        classic,
        [
            "request_throughput",
            "request_latency",
            "request_count",
            "time_to_first_token",
            "time_to_second_token",
            "inter_token_latency",
            "output_token_throughput",
            "output_token_throughput_per_user",
            "output_sequence_length",
            "input_sequence_length",
            "inter_chunk_latency",
            "benchmark_duration",
            "total_osl",
            "error_request_count",
            "error_isl",
        ]
    );
    // entry shapes and secrets
    assert_eq!(
        v["request_count"],
        serde_json::json!({"unit": "requests", "avg": 37.0})
    );
    let ttft: Vec<&str> = v["time_to_first_token"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        ttft,
        [
            "unit", "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "min",
            "max", "std", "count", "sum"
        ]
    );
    assert_eq!(v["time_to_first_token"]["count"], serde_json::json!(37));
    assert!(v["adj_request_latency"].get("p99").is_none());
    assert_eq!(v["input_config"]["endpoint"]["api_key"], "<redacted>");
    assert_eq!(
        v["input_config"]["endpoint"]["headers"],
        serde_json::json!({"Authorization": "<redacted>", "X-Team": "llm"})
    );
    assert_eq!(v["run_info"]["random_seed"], 42);
    assert!(!v.to_string().contains("sk-secret"));
    assert_eq!(v["start_time"], "2026-11-28T20:46:17.874572");
}

/// A representative configuration for `input_config`: warmup and profiling phases,
/// a gamma request rate capped by a concurrency, goodput SLOs, a custom dataset
/// file, a tokenizer, time slices, and secrets in the key, a header and the URL.
fn rich_config() -> ProfileConfig {
    let args = ProfileArgs {
        models: Some(vec!["Qwen/Qwen3-0.6B".into()]),
        url: Some("http://bob:hunter2@127.0.0.1:8000".into()),
        streaming: Some(true),
        api_key: Some("sk-secret".into()),
        header: Some(vec![
            "Authorization:Bearer tok-secret".into(),
            "X-Team:llm".into(),
        ]),
        tokenizer: Some("builtin".into()),
        random_seed: Some(7),
        input_file: Some("data/prompts.jsonl".into()),
        custom_dataset_type: Some(CustomDatasetType::SingleTurn),
        request_rate: Some(vec![12.5]),
        arrival_pattern: Some(ArrivalPattern::Gamma),
        arrival_smoothness: Some(1.5),
        concurrency: Some(vec![16]),
        request_count: Some(200),
        warmup_request_count: Some(10),
        warmup_concurrency: Some(2),
        goodput: Some("time_to_first_token:100 inter_token_latency:10".into()),
        slice_duration: Some(0.5),
        output_artifact_dir: Some("run2".into()),
        zmq_ipc_path: Some("/tmp/aiperf-rs-golden".into()),
        workers_max: Some(2),
        ..Default::default()
    };
    let ctx = Context {
        cpus: 4,
        stdout_is_tty: false,
        cli_command: "aiperf-rs profile (see input_config)".into(),
    };
    resolve(&args, &ctx).expect("rich fixture config resolves")
}

/// `input_config` pinned in AIPerf 0.13's nested shape (the golden file), with its
/// key facts checked by name so a regenerated golden cannot drift unnoticed.
#[test]
fn golden_input_config() {
    let v = input_config_value(&rich_config());
    let text = serde_json::to_string_pretty(&v).unwrap();
    for secret in ["sk-secret", "tok-secret", "hunter2"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        top,
        [
            "models",
            "endpoint",
            "datasets",
            "phases",
            "artifacts",
            "slos",
            "tokenizer",
            "gpu_telemetry",
            "server_metrics",
            "runtime",
            "logging",
            "aiperf_rs"
        ]
    );
    assert_eq!(v["models"]["items"][0]["name"], "Qwen/Qwen3-0.6B");
    let e = &v["endpoint"];
    assert_eq!(
        e["urls"],
        serde_json::json!(["http://<redacted>@127.0.0.1:8000"])
    );
    assert_eq!(
        (e["type"].as_str(), e["streaming"].as_bool()),
        (Some("chat"), Some(true))
    );
    assert_eq!(e["api_key"], "<redacted>");
    assert_eq!(e["headers"]["Authorization"], "<redacted>");
    assert_eq!(e["headers"]["X-Team"], "llm");
    let d = &v["datasets"][0];
    assert_eq!(
        (d["type"].as_str(), d["format"].as_str(), d["path"].as_str()),
        (
            Some("file"),
            Some("single_turn"),
            Some("data/prompts.jsonl")
        )
    );
    assert_eq!(d["random_seed"], 7);
    let phases = v["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    let (w, p) = (&phases[0], &phases[1]);
    assert_eq!(
        (w["name"].as_str(), w["kind"].as_str()),
        (Some("warmup"), Some("warmup"))
    );
    assert_eq!(w["exclude_from_results"], true);
    // The warmup inherits the rate and uses its own concurrency.
    assert_eq!(
        (w["type"].as_str(), w["rate"].as_f64()),
        (Some("gamma"), Some(12.5))
    );
    assert_eq!(
        (w["requests"].as_u64(), w["concurrency"].as_u64()),
        (Some(10), Some(2))
    );
    assert_eq!(
        (p["name"].as_str(), p["type"].as_str()),
        (Some("profiling"), Some("gamma"))
    );
    assert_eq!(p["exclude_from_results"], false);
    assert_eq!(
        (
            p["rate"].as_f64(),
            p["smoothness"].as_f64(),
            p["concurrency"].as_u64()
        ),
        (Some(12.5), Some(1.5), Some(16))
    );
    assert_eq!(p["requests"], 200);
    assert_eq!(
        v["slos"],
        serde_json::json!({"time_to_first_token": 100.0, "inter_token_latency": 10.0})
    );
    assert_eq!(v["tokenizer"], serde_json::json!({"name": "builtin"}));
    assert_eq!(v["artifacts"]["slice_duration"], 0.5);
    assert_eq!(v["artifacts"]["dir"], "run2");
    check_golden("input_config.json", &text);
}

#[test]
fn golden_summary_csv() {
    check_golden("profile_export_aiperf.csv", &render_summary_csv(&results()));
}

#[test]
fn golden_console() {
    let paths = ArtifactPaths::new("run1", DEFAULT_PREFIX);
    let ctx = ConsoleContext::from_paths(CLI, &paths, true);
    let text = render_console(&ctx, &results());
    assert!(text.contains("│ Output Token Throughput (tokens/sec) │ 12,345.68 │"));
    assert!(text.contains("Benchmark Duration: 1.31 sec\n"));
    assert!(!text.contains("sk-secret"));
    check_golden("profile_export_console.txt", &text);
}

fn metadata(n: u64, phase: Phase) -> RecordMetadata {
    let base = 1_795_898_777_514_373_222 + n * 100_000_000;
    RecordMetadata {
        session_num: n,
        x_request_id: format!("02a3564c-f99d-4f47-b879-dc4ba41560{n:02}"),
        x_correlation_id: format!("9b0d2b5e-ca25-449d-98c3-06ccf76c14{n:02}"),
        conversation_id: format!("session_{n:06}"),
        turn_index: 0,
        credit_issued_ns: base,
        scheduled_ns: None,
        request_start_ns: base + 8_976_352,
        request_ack_ns: Some(base + 65_168_970),
        request_end_ns: base + 196_254_793,
        worker_id: "worker_503afa03".into(),
        record_processor_id: "record_processor_c18e90bc".into(),
        benchmark_phase: phase,
        phase_index: Some(if phase == Phase::Warmup { 0 } else { 1 }),
        profiling_index: (phase == Phase::Profiling).then_some(0),
        phase_name: Some(phase.as_str().into()),
        phase_kind: Some(phase.as_str().into()),
        was_cancelled: false,
        cancellation_time_ns: None,
        context_overflow_skip: Some(false),
        agent_depth: Some(0),
        root_correlation_id: Some(format!("9b0d2b5e-ca25-449d-98c3-06ccf76c14{n:02}")),
        connection_retries: 0,
        invalid_sse_messages: 0,
        non_sse_response: false,
    }
}

fn m(tag: &str, v: f64, unit: &str) -> (String, DisplayValue, String) {
    (tag.into(), DisplayValue::number(v, unit), unit.into())
}

fn jsonl() -> String {
    let warm = record_line(
        &metadata(0, Phase::Warmup),
        &[
            m("input_sequence_length", 100.0, "tokens"),
            m("request_latency", 150.5, "ms"),
            m("output_sequence_length", 30.0, "tokens"),
        ],
        None,
    );
    let ok = record_line(
        &metadata(7, Phase::Profiling),
        &[
            m("input_sequence_length", 100.0, "tokens"),
            m("time_to_first_token", 71.815784, "ms"),
            m("time_to_second_token", 7.557852, "ms"),
            m("request_latency", 187.278441, "ms"),
            m("output_sequence_length", 30.0, "tokens"),
            (
                "inter_chunk_latency".into(),
                DisplayValue::List(vec![7.557852, 12.101472, 2.307857, 3.0]),
                "ms".into(),
            ),
            m("inter_token_latency", 3.9814709310344822, "ms"),
            m(
                "output_token_throughput_per_user",
                251.16345625062135,
                "tokens/sec/user",
            ),
            m("good_request_count", 0.0, "requests"),
        ],
        None,
    );
    let http_error = record_line(
        &RecordMetadata {
            request_ack_ns: None,
            ..metadata(8, Phase::Profiling)
        },
        &[m("error_isl", 100.0, "tokens")],
        Some(&ErrorDetails::new(
            Some(500),
            "Internal Server Error",
            "{\"error\": \"boom\"}",
        )),
    );
    let mut cancelled_meta = metadata(12, Phase::Profiling);
    cancelled_meta.request_ack_ns = None;
    cancelled_meta.was_cancelled = true;
    cancelled_meta.cancellation_time_ns = Some(cancelled_meta.request_end_ns);
    let cancelled = record_line(
        &cancelled_meta,
        &[m("error_isl", 100.0, "tokens")],
        Some(&ErrorDetails::new(
            Some(499),
            "RequestCancellationError",
            "Request cancelled 0.010s after being sent",
        )),
    );
    let transport_error = record_line(
        &RecordMetadata {
            request_ack_ns: None,
            ..metadata(13, Phase::Profiling)
        },
        &[],
        Some(&ErrorDetails::new(
            None,
            "ConnectionRefused",
            "connection refused",
        )),
    );
    [warm, ok, http_error, cancelled, transport_error]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn golden_records_jsonl() {
    let text = jsonl();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            keys == ["metadata", "metrics"] || keys == ["metadata", "metrics", "error"],
            "{keys:?}"
        );
    }
    assert!(text.contains(r#""input_sequence_length":{"value":100,"unit":"tokens"}"#));
    assert!(text.contains(
        r#""error":{"code":null,"type":"ConnectionRefused","message":"connection refused"}"#
    ));
    check_golden("profile_export.jsonl", &text);
}

fn slices() -> Vec<Timeslice> {
    let slice = |rps: f64, ttft: [f64; 5], n: u64, p: [f64; 9]| PhaseResults {
        metrics: vec![
            scalar(
                "request_throughput",
                "Request Throughput",
                "requests/sec",
                900,
                true,
                rps,
            ),
            dist(
                "time_to_first_token",
                "Time to First Token",
                "ms",
                100,
                true,
                ttft,
                n,
                p,
            ),
            scalar(
                "request_count",
                "Request Count",
                "requests",
                1100,
                true,
                n as f64,
            ),
        ],
        ..Default::default()
    };
    vec![
        (
            1_795_898_777_890_719_232,
            1_795_898_778_390_719_232,
            true,
            slice(
                24.0,
                [58.508, 40.16, 97.18, 15.87, 702.1],
                12,
                [40.2, 40.4, 41.0, 45.5, 52.18, 66.0, 80.1, 90.0, 96.5],
            ),
        ),
        (
            1_795_898_778_390_719_232,
            1_795_898_778_700_065_280,
            false,
            slice(
                41.2,
                [35.1, 22.57, 60.0, 9.99, 456.3],
                13,
                [22.6, 22.8, 23.5, 27.0, 33.3, 40.0, 50.5, 55.0, 59.0],
            ),
        ),
    ]
}

#[test]
fn golden_timeslices_csv() {
    check_golden(
        "profile_export_aiperf_timeslices.csv",
        &render_timeslices_csv(&slices()),
    );
}

#[test]
fn golden_timeslices_json() {
    let text = render_timeslices_json(&slices(), &config());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["timeslices"][0].get("is_complete").is_none());
    assert_eq!(v["timeslices"][1]["is_complete"], false);
    check_golden("profile_export_aiperf_timeslices.json", &text);
}
