//! Per-record formulas of `docs/metrics.md` §4 with hand-computed expectations.

use aiperf_endpoint::Usage;
use aiperf_metrics::record::{RecordInput, ResponseInfo, compute_record_metrics, invalid_reason};
use aiperf_metrics::{MetricContext, parse_goodput};
use aiperf_protocol::record::MetricValue;

const MS: u64 = 1_000_000;
const T0: u64 = 5_000_000_000; // arbitrary monotonic origin

fn content(perf_ns: u64) -> ResponseInfo {
    ResponseInfo {
        perf_ns,
        has_content: true,
        has_output_content: true,
    }
}
fn reasoning(perf_ns: u64) -> ResponseInfo {
    ResponseInfo {
        perf_ns,
        has_content: true,
        has_output_content: false,
    }
}
fn empty(perf_ns: u64) -> ResponseInfo {
    ResponseInfo {
        perf_ns,
        has_content: false,
        has_output_content: false,
    }
}

fn get(m: &[(String, MetricValue)], tag: &str) -> Option<f64> {
    m.iter().find(|(t, _)| t == tag).map(|(_, v)| match v {
        MetricValue::Scalar(x) => *x,
        MetricValue::List(_) => panic!("{tag} is a list"),
    })
}
fn list(m: &[(String, MetricValue)], tag: &str) -> Option<Vec<f64>> {
    m.iter().find(|(t, _)| t == tag).map(|(_, v)| match v {
        MetricValue::List(x) => x.clone(),
        MetricValue::Scalar(_) => panic!("{tag} is a scalar"),
    })
}
fn tags(m: &[(String, MetricValue)]) -> Vec<&str> {
    m.iter().map(|(t, _)| t.as_str()).collect()
}
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}
macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
    }};
}

/// The worked example of `docs/metrics.md` §12, as one streaming record:
/// TTFT 71.815784 ms, TTST 7.557852 ms, latency 187.278441 ms, OSL 30, ISL 100,
/// with a role-only first chunk and a usage-only final chunk that must be ignored.
fn worked_example() -> RecordInput {
    RecordInput {
        streaming: true,
        start_perf_ns: T0,
        ack_perf_ns: Some(T0 + 40 * MS),
        end_perf_ns: T0 + 190 * MS,
        credit_received_perf_ns: Some(T0 - 2 * MS),
        request_start_ns: 1_700_000_000_000_500_000,
        scheduled_ns: Some(1_700_000_000_000_000_000),
        responses: vec![
            empty(T0 + 60 * MS), // role-only delta: not a content response
            content(T0 + 71_815_784),
            content(T0 + 79_373_636),  // +7.557852 ms
            content(T0 + 91_475_108),  // +12.101472 ms
            content(T0 + 93_782_965),  // +2.307857 ms
            content(T0 + 187_278_441), // +93.495476 ms (last content)
            empty(T0 + 189 * MS),      // usage-only chunk: ignored for latency
            empty(T0 + 190 * MS),      // [DONE]
        ],
        input_tokens: Some(100),
        output_tokens: Some(30),
        reasoning_tokens: None,
        first_chunk_tokens: Some(5),
        usage: None,
        requested_osl: None,
        is_error: false,
        http_trace: None,
    }
}

#[test]
fn worked_example_of_section_9() {
    let m = compute_record_metrics(&worked_example(), &MetricContext::new(true));
    assert_eq!(get(&m, "time_to_first_token"), Some(71_815_784.0));
    assert_eq!(get(&m, "time_to_first_output_token"), Some(71_815_784.0)); // = TTFT without reasoning
    assert_eq!(get(&m, "time_to_second_token"), Some(7_557_852.0));
    // last content response, not the usage chunk (189 ms) nor [DONE] (190 ms)
    assert_eq!(get(&m, "request_latency"), Some(187_278_441.0));
    // decode = 187_278_441 - 71_815_784 = 115_462_657 ns = 115.4627 ms
    assert_eq!(get(&m, "decode_duration"), Some(115_462_657.0));
    // ITL = 115_462_657 / (30 - 1) = 3_981_470.9310344827 ns = 3.98147 ms (JSONL: 3.9814709310344822 ms)
    assert_close!(
        get(&m, "inter_token_latency").unwrap(),
        115_462_657.0 / 29.0
    );
    assert_close!(
        get(&m, "inter_token_latency").unwrap() / 1e6,
        3.9814709310344822
    );
    // TPS/user = 1 / 0.0039814709310 s = 251.16345625 (JSONL: 251.16345625062135)
    assert_close!(
        get(&m, "output_token_throughput_per_user").unwrap(),
        251.16345625062135
    );
    // e2e = 30 / 0.187278441 s = 160.18928735 (JSONL: 160.18928735101974)
    assert_close!(
        get(&m, "e2e_output_token_throughput").unwrap(),
        160.18928735101974
    );
    // prefill = 100 / 0.071815784 s = 1392.45155 (JSONL: 1392.4515535470584)
    assert_close!(
        get(&m, "prefill_throughput_per_user").unwrap(),
        1392.4515535470584
    );
    assert_eq!(get(&m, "input_sequence_length"), Some(100.0));
    assert_eq!(get(&m, "output_token_count"), Some(30.0));
    assert_eq!(get(&m, "output_sequence_length"), Some(30.0));
    assert_eq!(get(&m, "reasoning_token_count"), None); // no reasoning
    // ICL = consecutive content gaps only
    assert_eq!(
        list(&m, "inter_chunk_latency"),
        Some(vec![7_557_852.0, 12_101_472.0, 2_307_857.0, 93_495_476.0])
    );
    assert_eq!(get(&m, "first_chunk_tokens"), Some(5.0));
    // schedule lag = 1_700_000_000_000_500_000 - 1_700_000_000_000_000_000 = 500_000 ns (0.5 ms)
    assert_eq!(get(&m, "schedule_lag"), Some(500_000.0));
    // credit drop latency (internal, still computed) = start - received = 2 ms
    assert_eq!(get(&m, "credit_drop_latency"), Some(2_000_000.0));
    // experimental stream metrics only in dev mode; no goodput without SLOs; no error metrics
    for absent in [
        "stream_setup_latency",
        "stream_prefill_latency",
        "good_request_count",
        "error_isl",
        "usage_prompt_tokens",
    ] {
        assert_eq!(get(&m, absent), None, "{absent}");
    }
}

#[test]
fn dev_mode_adds_experimental_stream_latencies() {
    let ctx = MetricContext {
        dev_mode: true,
        ..MetricContext::new(true)
    };
    let m = compute_record_metrics(&worked_example(), &ctx);
    // setup = ack - start = 40 ms; prefill = TTFT - setup = 71.815784 - 40 = 31.815784 ms
    assert_eq!(get(&m, "stream_setup_latency"), Some(40_000_000.0));
    assert_eq!(get(&m, "stream_prefill_latency"), Some(31_815_784.0));
}

#[test]
fn non_streaming_run_has_no_streaming_metrics() {
    let mut input = worked_example();
    input.streaming = false;
    input.responses = vec![content(T0 + 150 * MS)];
    let m = compute_record_metrics(&input, &MetricContext::new(false));
    assert_eq!(get(&m, "request_latency"), Some(150_000_000.0));
    // e2e works without streaming: 30 / 0.15 s = 200
    assert_close!(get(&m, "e2e_output_token_throughput").unwrap(), 200.0);
    for absent in [
        "time_to_first_token",
        "time_to_second_token",
        "time_to_first_output_token",
        "decode_duration",
        "inter_token_latency",
        "output_token_throughput_per_user",
        "prefill_throughput_per_user",
        "inter_chunk_latency",
        "first_chunk_tokens",
    ] {
        assert!(!tags(&m).contains(&absent), "{absent}");
    }
    // a streaming context but a record that did not stream: same
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "time_to_first_token"), None);
}

#[test]
fn reasoning_stream_ttfo_after_ttft() {
    let input = RecordInput {
        streaming: true,
        start_perf_ns: T0,
        end_perf_ns: T0 + 70 * MS,
        responses: vec![
            empty(T0 + 5 * MS),      // role-only
            reasoning(T0 + 20 * MS), // first content (reasoning) -> TTFT
            reasoning(T0 + 30 * MS), // second content -> TTST
            content(T0 + 50 * MS),   // first output content -> TTFO
            content(T0 + 60 * MS),   // last content -> latency
            empty(T0 + 65 * MS),     // usage-only
        ],
        input_tokens: Some(50),
        output_tokens: Some(5),
        reasoning_tokens: Some(10),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "time_to_first_token"), Some(20.0 * MS as f64));
    assert_eq!(get(&m, "time_to_second_token"), Some(10.0 * MS as f64));
    assert_eq!(
        get(&m, "time_to_first_output_token"),
        Some(50.0 * MS as f64)
    );
    assert_eq!(get(&m, "request_latency"), Some(60.0 * MS as f64));
    assert_eq!(get(&m, "output_token_count"), Some(5.0));
    assert_eq!(get(&m, "reasoning_token_count"), Some(10.0));
    // OSL = 5 + 10 = 15 (reasoning counts)
    assert_eq!(get(&m, "output_sequence_length"), Some(15.0));
    // ITL = (60 - 20) ms / (15 - 1) = 40/14 ms = 2.857142857 ms
    assert_close!(get(&m, "inter_token_latency").unwrap(), 40.0e6 / 14.0);
    // TPS/user = 14 / 0.040 s = 350
    assert_close!(get(&m, "output_token_throughput_per_user").unwrap(), 350.0);
    // e2e = 15 / 0.060 s = 250 ; prefill = 50 / 0.020 s = 2500
    assert_close!(get(&m, "e2e_output_token_throughput").unwrap(), 250.0);
    assert_close!(get(&m, "prefill_throughput_per_user").unwrap(), 2500.0);
    // ICL: 10, 20, 10 ms
    assert_eq!(
        list(&m, "inter_chunk_latency"),
        Some(vec![10e6, 20e6, 10e6])
    );
    // thinking efficiency is experimental
    assert_eq!(get(&m, "thinking_efficiency"), None);
    let dev = MetricContext {
        dev_mode: true,
        ..MetricContext::new(true)
    };
    // 10 reasoning / 5 output = 2
    assert_eq!(
        get(&compute_record_metrics(&input, &dev), "thinking_efficiency"),
        Some(2.0)
    );
}

#[test]
fn reasoning_only_stream_has_no_ttfo() {
    let input = RecordInput {
        streaming: true,
        start_perf_ns: T0,
        end_perf_ns: T0 + 40 * MS,
        responses: vec![reasoning(T0 + 10 * MS), reasoning(T0 + 30 * MS)],
        reasoning_tokens: Some(4),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "time_to_first_token"), Some(10e6));
    assert_eq!(get(&m, "time_to_first_output_token"), None);
    // output None, reasoning 4 -> OSL 4, no output_token_count
    assert_eq!(get(&m, "output_sequence_length"), Some(4.0));
    assert_eq!(get(&m, "output_token_count"), None);
    // ITL = 20 ms / 3
    assert_close!(get(&m, "inter_token_latency").unwrap(), 20e6 / 3.0);
}

#[test]
fn multi_token_chunks_itl_differs_from_mean_icl() {
    let input = RecordInput {
        streaming: true,
        start_perf_ns: T0,
        end_perf_ns: T0 + 41 * MS,
        responses: vec![
            content(T0 + 10 * MS),
            content(T0 + 20 * MS),
            content(T0 + 40 * MS),
        ],
        output_tokens: Some(9), // 3 tokens per chunk
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    // ITL = (40 - 10) ms / (9 - 1) = 3.75 ms, while mean(ICL) = (10 + 20) / 2 = 15 ms
    assert_eq!(get(&m, "inter_token_latency"), Some(3.75e6));
    assert_eq!(list(&m, "inter_chunk_latency"), Some(vec![10e6, 20e6]));
    // TPS/user = 1 / 0.00375 s = 266.666...
    assert_close!(
        get(&m, "output_token_throughput_per_user").unwrap(),
        1.0 / 0.00375
    );
}

#[test]
fn per_chunk_usage_itl_divisor() {
    let ctx = MetricContext {
        per_chunk_usage: true,
        ..MetricContext::new(true)
    };
    let mut input = worked_example();
    // divisor = OSL - first_chunk_tokens = 30 - 5 = 25 -> 115_462_657 / 25 = 4_618_506.28 ns
    assert_close!(
        get(&compute_record_metrics(&input, &ctx), "inter_token_latency").unwrap(),
        4_618_506.28
    );
    // first chunk count >= OSL falls back to OSL - 1 = 29
    input.first_chunk_tokens = Some(30);
    assert_close!(
        get(&compute_record_metrics(&input, &ctx), "inter_token_latency").unwrap(),
        115_462_657.0 / 29.0
    );
    // missing or 0 also falls back
    input.first_chunk_tokens = Some(0);
    assert_close!(
        get(&compute_record_metrics(&input, &ctx), "inter_token_latency").unwrap(),
        115_462_657.0 / 29.0
    );
}

#[test]
fn osl_one_has_no_itl() {
    let input = RecordInput {
        streaming: true,
        start_perf_ns: T0,
        end_perf_ns: T0 + 11 * MS,
        responses: vec![content(T0 + 10 * MS)],
        input_tokens: Some(20),
        output_tokens: Some(1),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "output_sequence_length"), Some(1.0));
    assert_eq!(get(&m, "inter_token_latency"), None);
    assert_eq!(get(&m, "output_token_throughput_per_user"), None);
    assert_eq!(get(&m, "time_to_second_token"), None);
    assert!(list(&m, "inter_chunk_latency").is_none());
    // one chunk: latency = TTFT = 10 ms, decode = 0 (computed, a real zero)
    assert_eq!(get(&m, "decode_duration"), Some(0.0));
    // e2e = 1 / 0.010 s = 100
    assert_close!(get(&m, "e2e_output_token_throughput").unwrap(), 100.0);
}

#[test]
fn zero_itl_has_no_tps_per_user() {
    let input = RecordInput {
        streaming: true,
        start_perf_ns: T0,
        end_perf_ns: T0 + 11 * MS,
        responses: vec![content(T0 + 10 * MS), content(T0 + 10 * MS)],
        output_tokens: Some(2),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    // ITL = (10 - 10) / (2 - 1) = 0
    assert_eq!(get(&m, "inter_token_latency"), Some(0.0));
    assert_eq!(get(&m, "output_token_throughput_per_user"), None);
}

#[test]
fn error_records_only_get_error_isl() {
    let mut input = worked_example();
    input.is_error = true;
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(
        m,
        vec![("error_isl".to_string(), MetricValue::Scalar(100.0))]
    );
    // no ISL known: nothing at all
    input.input_tokens = None;
    assert!(compute_record_metrics(&input, &MetricContext::new(true)).is_empty());
}

#[test]
fn invalid_records_are_treated_as_errors() {
    // 2xx but only a role-only chunk and a usage chunk: no content response
    let mut input = worked_example();
    input.responses = vec![empty(T0 + 10 * MS), empty(T0 + 20 * MS)];
    assert_eq!(
        invalid_reason(&input).as_deref(),
        Some("No responses with actual content were received.")
    );
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(
        m,
        vec![("error_isl".to_string(), MetricValue::Scalar(100.0))]
    );
    // end not after start
    let mut input = worked_example();
    input.end_perf_ns = input.start_perf_ns;
    assert!(invalid_reason(&input).is_some());
    // content stamped before the start
    let mut input = worked_example();
    input.responses.push(content(T0 - 1));
    assert!(invalid_reason(&input).is_some());
    assert!(invalid_reason(&worked_example()).is_none());
}

#[test]
fn usage_metrics_and_diff_pct() {
    let mut input = worked_example();
    input.usage = Some(Usage {
        prompt_tokens: Some(105),
        completion_tokens: Some(27),
        total_tokens: Some(132),
        reasoning_tokens: None,
        cached_tokens: Some(64),
    });
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "usage_prompt_tokens"), Some(105.0));
    assert_eq!(get(&m, "usage_completion_tokens"), Some(27.0));
    assert_eq!(get(&m, "usage_total_tokens"), Some(132.0));
    assert_eq!(get(&m, "usage_reasoning_tokens"), None);
    assert_eq!(get(&m, "usage_prompt_cache_read_tokens"), Some(64.0));
    // prompt diff = |105 - 100| / 100 * 100 = 5 %
    assert_close!(get(&m, "usage_prompt_tokens_diff_pct").unwrap(), 5.0);
    // completion diff vs OSL = |27 - 30| / 30 * 100 = 10 % (not > 10 % -> no discrepancy)
    assert_close!(get(&m, "usage_completion_tokens_diff_pct").unwrap(), 10.0);
    assert_eq!(get(&m, "usage_reasoning_tokens_diff_pct"), None);
    assert_eq!(get(&m, "usage_discrepancy_count"), Some(0.0));
    // completion 26: |26 - 30| / 30 = 13.33 % > 10 % -> counted
    input.usage.as_mut().unwrap().completion_tokens = Some(26);
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_close!(
        get(&m, "usage_completion_tokens_diff_pct").unwrap(),
        40.0 / 3.0
    );
    assert_eq!(get(&m, "usage_discrepancy_count"), Some(1.0));
}

#[test]
fn reasoning_usage_diff() {
    let input = RecordInput {
        streaming: false,
        start_perf_ns: T0,
        end_perf_ns: T0 + 100 * MS,
        responses: vec![content(T0 + 90 * MS)],
        input_tokens: Some(10),
        output_tokens: Some(40),
        reasoning_tokens: Some(50),
        usage: Some(Usage {
            prompt_tokens: Some(10),
            completion_tokens: Some(90),
            reasoning_tokens: Some(52),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &MetricContext::new(false));
    // reasoning diff = |52 - 50| / 50 * 100 = 4 % ; completion |90 - 90| = 0 ; prompt 0
    assert_close!(get(&m, "usage_reasoning_tokens_diff_pct").unwrap(), 4.0);
    assert_eq!(get(&m, "usage_completion_tokens_diff_pct"), Some(0.0));
    assert_eq!(get(&m, "usage_discrepancy_count"), Some(0.0));
}

#[test]
fn server_token_counts() {
    let ctx = MetricContext {
        use_server_token_count: true,
        ..MetricContext::new(true)
    };
    let mut input = worked_example();
    input.usage = Some(Usage {
        prompt_tokens: Some(105),
        completion_tokens: Some(40),
        reasoning_tokens: Some(8),
        ..Default::default()
    });
    let m = compute_record_metrics(&input, &ctx);
    // ISL = prompt 105 ; reasoning 8 ; output = 40 - 8 = 32 ; OSL = 40 (client counts ignored)
    assert_eq!(get(&m, "input_sequence_length"), Some(105.0));
    assert_eq!(get(&m, "reasoning_token_count"), Some(8.0));
    assert_eq!(get(&m, "output_token_count"), Some(32.0));
    assert_eq!(get(&m, "output_sequence_length"), Some(40.0));
    // ITL = 115_462_657 / 39
    assert_close!(
        get(&m, "inter_token_latency").unwrap(),
        115_462_657.0 / 39.0
    );
    // usage-diff metrics are disabled in this mode
    assert!(
        !tags(&m)
            .iter()
            .any(|t| t.ends_with("_diff_pct") || *t == "usage_discrepancy_count")
    );
    // reasoning larger than completion clamps output at 0 -> OSL = 0 + 50
    input.usage.as_mut().unwrap().reasoning_tokens = Some(50);
    let m = compute_record_metrics(&input, &ctx);
    assert_eq!(get(&m, "output_token_count"), None);
    assert_eq!(get(&m, "output_sequence_length"), Some(50.0));
    // no usage at all -> no token metrics
    input.usage = None;
    let m = compute_record_metrics(&input, &ctx);
    assert_eq!(get(&m, "input_sequence_length"), None);
    assert_eq!(get(&m, "output_sequence_length"), None);
    assert_eq!(get(&m, "inter_token_latency"), None);
    assert_eq!(get(&m, "time_to_first_token"), Some(71_815_784.0));
}

#[test]
fn osl_mismatch_threshold_is_min_of_5_pct_and_50_tokens() {
    let ctx = MetricContext::new(true);
    let run = |requested: u64, osl: u64| {
        let mut input = worked_example();
        input.output_tokens = Some(osl);
        input.requested_osl = Some(requested);
        compute_record_metrics(&input, &ctx)
    };
    // requested 100, got 94: diff = (94 - 100)/100*100 = -6 % ; threshold min(5, 50) = 5 ; 6 > 5 -> 1
    let m = run(100, 94);
    assert_close!(get(&m, "osl_mismatch_diff_pct").unwrap(), -6.0);
    assert_eq!(get(&m, "osl_mismatch_count"), Some(1.0));
    assert_eq!(get(&m, "requested_osl"), Some(100.0));
    // got 95: |−5| > 5 is false -> 0 ; got 106: 6 > 5 -> 1 (signed +6 %)
    assert_eq!(get(&run(100, 95), "osl_mismatch_count"), Some(0.0));
    assert_close!(get(&run(100, 106), "osl_mismatch_diff_pct").unwrap(), 6.0);
    assert_eq!(get(&run(100, 106), "osl_mismatch_count"), Some(1.0));
    // requested 2000: threshold min(100, 50) = 50 ; got 1950 -> 50 > 50 false ; 1940 -> 60 > 50 true
    assert_eq!(get(&run(2000, 1950), "osl_mismatch_count"), Some(0.0));
    assert_eq!(get(&run(2000, 1940), "osl_mismatch_count"), Some(1.0));
    // requested 0: no mismatch metrics
    assert_eq!(get(&run(0, 30), "osl_mismatch_diff_pct"), None);
}

#[test]
fn goodput_contribution() {
    let input = worked_example();
    // TTFT 71.8 ms <= 100 ms and TPS/user 251.2 >= 200 -> good
    let ctx = MetricContext {
        goodput: parse_goodput("time_to_first_token:100 output_token_throughput_per_user:200")
            .unwrap(),
        ..MetricContext::new(true)
    };
    assert_eq!(
        get(&compute_record_metrics(&input, &ctx), "good_request_count"),
        Some(1.0)
    );
    // TTFT 71.8 ms > 50 ms -> not good
    let ctx = MetricContext {
        goodput: parse_goodput("time_to_first_token:50").unwrap(),
        ..MetricContext::new(true)
    };
    assert_eq!(
        get(&compute_record_metrics(&input, &ctx), "good_request_count"),
        Some(0.0)
    );
    // TPS/user 251.2 < 300 -> not good
    let ctx = MetricContext {
        goodput: parse_goodput("output_token_throughput_per_user:300").unwrap(),
        ..MetricContext::new(true)
    };
    assert_eq!(
        get(&compute_record_metrics(&input, &ctx), "good_request_count"),
        Some(0.0)
    );
    // ITL SLO on an OSL = 1 record: the metric is missing -> not good
    let mut one = input.clone();
    one.output_tokens = Some(1);
    let ctx = MetricContext {
        goodput: parse_goodput("inter_token_latency:1000").unwrap(),
        ..MetricContext::new(true)
    };
    assert_eq!(
        get(&compute_record_metrics(&one, &ctx), "good_request_count"),
        Some(0.0)
    );
    // error records have no contribution
    let mut err = input;
    err.is_error = true;
    assert_eq!(
        get(&compute_record_metrics(&err, &ctx), "good_request_count"),
        None
    );
}

#[test]
fn embeddings_like_endpoint_without_tokens() {
    let ctx = MetricContext {
        produces_tokens: false,
        ..MetricContext::new(false)
    };
    let input = RecordInput {
        start_perf_ns: T0,
        end_perf_ns: T0 + 30 * MS,
        responses: vec![content(T0 + 25 * MS)],
        input_tokens: Some(64),
        output_tokens: Some(3),
        ..Default::default()
    };
    let m = compute_record_metrics(&input, &ctx);
    assert_eq!(tags(&m), vec!["request_latency", "input_sequence_length"]);
}

/// A traced request gets the `http_req_*` metrics (base units), exported per
/// record and hidden from the console; an error record does not.
#[test]
fn http_trace_metrics_of_a_traced_record() {
    use aiperf_metrics::catalogue::{exported_per_record, lookup, value_to_display};
    use aiperf_protocol::record::HttpTrace;
    let mut input = worked_example();
    input.http_trace = Some(HttpTrace {
        connection_reused: true,
        send_start_perf_ns: Some(T0),
        send_end_perf_ns: Some(T0 + MS),          // sending 1 ms
        first_byte_perf_ns: Some(T0 + 60 * MS),   // waiting 59 ms
        last_byte_perf_ns: Some(T0 + 190 * MS),   // receiving 130 ms
        receive_end_perf_ns: Some(T0 + 190 * MS), // duration 190 ms
        bytes_sent: 1_536,
        bytes_received: 4_096,
        chunks_sent: 1,
        chunks_received: 8,
        ..HttpTrace::default()
    });
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "http_req_sending"), Some(1_000_000.0));
    assert_eq!(get(&m, "http_req_waiting"), Some(59_000_000.0));
    assert_eq!(get(&m, "http_req_receiving"), Some(130_000_000.0));
    assert_eq!(get(&m, "http_req_duration"), Some(190_000_000.0));
    // total = 0 + 0 + 0 + 1 + 59 + 130 = 190 ms
    assert_eq!(get(&m, "http_req_total"), Some(190_000_000.0));
    assert_eq!(get(&m, "http_req_connection_reused"), Some(1.0));
    assert_eq!(get(&m, "http_req_data_sent"), Some(1_536.0));
    // the other metrics are unchanged
    assert_eq!(get(&m, "time_to_first_token"), Some(71_815_784.0));
    // 1_536 B / 1024 = 1.5 KB
    let kb = value_to_display("http_req_data_sent", &MetricValue::Scalar(1_536.0));
    assert_eq!(kb, MetricValue::Scalar(1.5));
    assert_eq!(
        lookup("http_req_data_sent").unwrap().display_unit.symbol(),
        "KB"
    );
    assert!(exported_per_record("http_req_waiting", false));
    assert!(!lookup("http_req_waiting").unwrap().console());

    input.is_error = true;
    let m = compute_record_metrics(&input, &MetricContext::new(true));
    assert_eq!(get(&m, "http_req_waiting"), None);
}
