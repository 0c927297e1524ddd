//! Summary and timeslice arithmetic with hand-computed expectations.

mod common;

use common::meta;

use aiperf_metrics::{MetricContext, SummaryAccumulator, parse_goodput};
use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::{MetricRecord, MetricValue};
use aiperf_protocol::results::{MetricResult, PhaseResults};

const MS: f64 = 1e6;
const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC; // wall clock origin

fn valid(start_ns: u64, latency_ms: f64, metrics: &[(&str, f64)]) -> MetricRecord {
    let mut m: Vec<(String, MetricValue)> = vec![(
        "request_latency".into(),
        MetricValue::Scalar(latency_ms * MS),
    )];
    m.extend(
        metrics
            .iter()
            .map(|(t, v)| (t.to_string(), MetricValue::Scalar(*v))),
    );
    MetricRecord {
        metadata: meta(start_ns, start_ns + (latency_ms * MS) as u64),
        metrics: m,
        error: None,
        raw_json: None,
    }
}

fn error(
    start_ns: u64,
    end_ns: u64,
    code: u16,
    kind: &str,
    error_isl: Option<f64>,
) -> MetricRecord {
    MetricRecord {
        metadata: meta(start_ns, end_ns),
        metrics: error_isl
            .map(|v| ("error_isl".to_string(), MetricValue::Scalar(v)))
            .into_iter()
            .collect(),
        error: Some(ErrorDetails::new(Some(code), kind, "boom")),
        raw_json: None,
    }
}

fn find<'a>(r: &'a PhaseResults, tag: &str) -> Option<&'a MetricResult> {
    r.metrics.iter().find(|m| m.tag == tag)
}
fn scalar(r: &PhaseResults, tag: &str) -> Option<f64> {
    find(r, tag).map(|m| {
        assert!(m.scalar, "{tag} should be a scalar");
        m.avg.unwrap()
    })
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

/// Three valid records (starts 0, 50, 100 ms; latencies 100, 200, 300 ms) and
/// three errors (two identical 500s with error_isl 50 and 70, one 499 without).
fn mixed_run(goodput: bool) -> SummaryAccumulator {
    let mut acc = SummaryAccumulator::new();
    let good = |g: f64| {
        if goodput {
            vec![("good_request_count", g)]
        } else {
            vec![]
        }
    };
    let recs = [
        (0u64, 100.0, 20.0, 100.0, 10.0, 1.0),
        (50, 200.0, 40.0, 200.0, 20.0, 1.0),
        (100, 300.0, 60.0, 300.0, 30.0, 0.0),
    ];
    for (start_ms, lat, ttft, isl, osl, g) in recs {
        let mut m = vec![
            ("time_to_first_token", ttft * MS),
            ("input_sequence_length", isl),
            ("output_sequence_length", osl),
        ];
        m.extend(good(g));
        acc.add(&valid(T0 + start_ms * 1_000_000, lat, &m));
    }
    acc.add(&error(
        T0 + 200_000_000,
        T0 + 250_000_000,
        500,
        "Internal Server Error",
        Some(50.0),
    ));
    acc.add(&error(
        T0 + 210_000_000,
        T0 + 260_000_000,
        499,
        "RequestCancellationError",
        None,
    ));
    acc.add(&error(
        T0 + 220_000_000,
        T0 + 270_000_000,
        500,
        "Internal Server Error",
        Some(70.0),
    ));
    acc
}

#[test]
fn counts_duration_and_throughputs() {
    let acc = mixed_run(false);
    assert_eq!((acc.len(), acc.error_count()), (6, 3));
    let r = acc.finish(&MetricContext::new(true));
    assert_eq!((r.records, r.errors), (6, 3));
    assert_eq!(scalar(&r, "request_count"), Some(3.0));
    assert_eq!(scalar(&r, "error_request_count"), Some(3.0));
    // completed = 3 + 3 ; error rate = 100 * 3 / 6 = 50 %
    assert_eq!(scalar(&r, "completed_request_count"), Some(6.0));
    assert_eq!(scalar(&r, "request_error_rate"), Some(50.0));
    assert_eq!(find(&r, "request_error_rate").unwrap().unit, "%");
    // min request = T0 ; max response = max(T0+0+100, T0+50+200, T0+100+300 ms) = T0 + 400 ms
    // (the errors end at T0+270 ms but never enter the span) -> duration 0.4 s
    // (exact integer ns: 400_000_000 ns / 1e9 = 0.4 sec)
    assert_eq!(scalar(&r, "benchmark_duration"), Some(0.4));
    assert_eq!(find(&r, "benchmark_duration").unwrap().unit, "sec");
    // request_throughput = 3 / 0.4 = 7.5 req/s
    assert_close!(scalar(&r, "request_throughput").unwrap(), 7.5);
    // totals over valid records: ISL 100+200+300 = 600, OSL 10+20+30 = 60, error ISL 50+70 = 120
    assert_eq!(scalar(&r, "total_isl"), Some(600.0));
    assert_eq!(scalar(&r, "total_osl"), Some(60.0));
    assert_eq!(scalar(&r, "total_error_isl"), Some(120.0));
    // output tput = 60 / 0.4 = 150 ; input = 600 / 0.4 = 1500 ; total = 660 / 0.4 = 1650 tokens/s
    assert_close!(scalar(&r, "output_token_throughput").unwrap(), 150.0);
    assert_close!(scalar(&r, "input_token_throughput").unwrap(), 1500.0);
    assert_close!(scalar(&r, "total_token_throughput").unwrap(), 1650.0);
    assert_eq!(
        find(&r, "output_token_throughput").unwrap().unit,
        "tokens/sec"
    );
    // internal span metrics only in dev mode; no goodput metrics without SLOs
    for absent in [
        "min_request_timestamp",
        "max_response_timestamp",
        "goodput",
        "good_request_count",
        "good_request_fraction",
    ] {
        assert!(find(&r, absent).is_none(), "{absent}");
    }
    let dev = acc.finish(&MetricContext {
        dev_mode: true,
        ..MetricContext::new(true)
    });
    assert_eq!(scalar(&dev, "min_request_timestamp"), Some(T0 as f64));
    assert_eq!(
        scalar(&dev, "max_response_timestamp"),
        Some((T0 + 400_000_000) as f64)
    );
    // phase bounds: earliest start, latest end of any record
    assert_eq!((r.start_ns, r.end_ns), (T0, T0 + 400_000_000));
}

#[test]
fn distributions_in_display_units() {
    let r = mixed_run(false).finish(&MetricContext::new(true));
    let lat = find(&r, "request_latency").unwrap();
    assert!(!lat.scalar && lat.console);
    assert_eq!(
        (lat.header.as_str(), lat.unit.as_str()),
        ("Request Latency", "ms")
    );
    // [100, 200, 300] ms: avg 200, min 100, max 300, sum 600, count 3 (errors excluded)
    assert_eq!(
        (lat.avg, lat.min, lat.max, lat.sum, lat.count),
        (Some(200.0), Some(100.0), Some(300.0), Some(600.0), Some(3))
    );
    // population std = sqrt((100² + 0 + 100²) / 3) = sqrt(20000/3) = 81.6496580927726
    assert_close!(lat.std.unwrap(), (20000.0f64 / 3.0).sqrt());
    // p50: idx 1 -> 200 ; p90: idx 1.8 -> 200 + 0.8*100 = 280 ; p99: idx 1.98 -> 298 ; p1: idx .02 -> 102
    assert_close!(lat.percentile(50).unwrap(), 200.0);
    assert_close!(lat.percentile(90).unwrap(), 280.0);
    assert_close!(lat.percentile(99).unwrap(), 298.0);
    assert_close!(lat.percentile(1).unwrap(), 102.0);
    assert_eq!(lat.percentiles.len(), 9);
    // TTFT [20, 40, 60] ms
    let ttft = find(&r, "time_to_first_token").unwrap();
    assert_eq!(ttft.avg, Some(40.0));
    // ISL distribution in tokens, hidden? no: ISL is in the console group
    let isl = find(&r, "input_sequence_length").unwrap();
    assert_eq!(
        (isl.unit.as_str(), isl.avg, isl.console),
        ("tokens", Some(200.0), true)
    );
    // error_isl distribution from the two error records: [50, 70]
    let eisl = find(&r, "error_isl").unwrap();
    assert_eq!(
        (eisl.avg, eisl.count, eisl.console),
        (Some(60.0), Some(2), false)
    );
    // display order: TTFT (100) < adj TTFT (101) < latency (300) < adj latency (301) < ... < request count (1100)
    let orders: Vec<u32> = r.metrics.iter().map(|m| m.display_order).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(r.metrics[0].tag, "time_to_first_token");
    assert_eq!(r.metrics[1].tag, "adj_time_to_first_token");
}

#[test]
fn error_adjusted_bands() {
    let r = mixed_run(false).finish(&MetricContext::new(true));
    let adj = find(&r, "adj_request_latency").unwrap();
    assert_eq!(adj.header, "Request Latency (error-adjusted)");
    assert_eq!(
        (adj.unit.as_str(), adj.console, adj.scalar),
        ("ms", true, false)
    );
    // [100, 200, 300, inf, inf, inf]: n = 6, idx = round_half_even(p/100 * 5)
    // p1 .05->0 100 ; p5 .25->0 100 ; p10 .5->0 100 ; p25 1.25->1 200 ; p50 2.5->2 300 ; p75+ -> inf (dropped)
    assert_eq!(
        adj.percentiles,
        vec![
            (1, 100.0),
            (5, 100.0),
            (10, 100.0),
            (25, 200.0),
            (50, 300.0)
        ]
    );
    assert_eq!((adj.min, adj.count), (Some(100.0), Some(6)));
    assert_eq!(
        (adj.avg, adj.max, adj.std, adj.sum),
        (None, None, None, None)
    );
    assert!(find(&r, "adj_time_to_first_token").is_some());
    // no ITL / decode values -> no adj bands for them; OSL is not error-adjusted
    assert!(find(&r, "adj_inter_token_latency").is_none());
    assert!(find(&r, "adj_output_sequence_length").is_none());
}

#[test]
fn error_summary_groups_by_code_type_message() {
    let r = mixed_run(false).finish(&MetricContext::new(true));
    let got: Vec<(Option<u16>, &str, u64)> = r
        .error_summary
        .iter()
        .map(|e| (e.error_details.code, e.error_details.kind.as_str(), e.count))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(500), "Internal Server Error", 2),
            (Some(499), "RequestCancellationError", 1)
        ]
    );
}

#[test]
fn clean_run_has_no_error_metrics() {
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(T0, 100.0, &[]));
    acc.add(&valid(T0 + 100_000_000, 100.0, &[]));
    let r = acc.finish(&MetricContext::new(false));
    for absent in [
        "error_request_count",
        "adj_request_latency",
        "total_error_isl",
        "error_isl",
    ] {
        assert!(find(&r, absent).is_none(), "{absent}");
    }
    assert_eq!(scalar(&r, "request_error_rate"), Some(0.0));
    assert_eq!(scalar(&r, "completed_request_count"), Some(2.0));
    // span T0 .. T0+200 ms -> 0.2 s ; 2 / 0.2 = 10 req/s
    assert_close!(scalar(&r, "request_throughput").unwrap(), 10.0);
    assert!(r.error_summary.is_empty());
}

#[test]
fn goodput_and_good_request_fraction() {
    let ctx = MetricContext {
        goodput: parse_goodput("request_latency:250").unwrap(),
        ..MetricContext::new(true)
    };
    let r = mixed_run(true).finish(&ctx);
    // contributions 1 + 1 + 0 = 2 good requests
    assert_eq!(scalar(&r, "good_request_count"), Some(2.0));
    // goodput = 2 / 0.4 s = 5 req/s
    assert_close!(scalar(&r, "goodput").unwrap(), 5.0);
    // fraction = 2 / (3 valid + 3 errors) = 1/3
    assert_close!(scalar(&r, "good_request_fraction").unwrap(), 1.0 / 3.0);
    assert_eq!(find(&r, "good_request_fraction").unwrap().unit, "ratio");
    assert!(find(&r, "goodput").unwrap().console);
}

#[test]
fn all_errors_run() {
    let ctx = MetricContext {
        goodput: parse_goodput("request_latency:250").unwrap(),
        ..MetricContext::new(true)
    };
    let mut acc = SummaryAccumulator::new();
    acc.add(&error(T0, T0 + 10, 503, "Service Unavailable", Some(10.0)));
    acc.add(&error(
        T0 + 5,
        T0 + 20,
        503,
        "Service Unavailable",
        Some(30.0),
    ));
    let r = acc.finish(&ctx);
    // 100 * 2 / 2 = 100 % ; completed 2 ; no request_count, duration or throughputs
    assert_eq!(scalar(&r, "request_error_rate"), Some(100.0));
    assert_eq!(scalar(&r, "completed_request_count"), Some(2.0));
    assert_eq!(scalar(&r, "error_request_count"), Some(2.0));
    assert_eq!(scalar(&r, "good_request_fraction"), Some(0.0));
    for absent in [
        "request_count",
        "benchmark_duration",
        "request_throughput",
        "goodput",
        "good_request_count",
    ] {
        assert!(find(&r, absent).is_none(), "{absent}");
    }
    assert_eq!(scalar(&r, "total_error_isl"), Some(40.0));
}

#[test]
fn empty_accumulator() {
    let r = SummaryAccumulator::new().finish(&MetricContext::new(true));
    assert!(r.metrics.is_empty());
    assert_eq!((r.records, r.errors, r.start_ns, r.end_ns), (0, 0, 0, 0));
}

#[test]
fn pooled_icl_usage_totals_and_counters() {
    let mut acc = SummaryAccumulator::new();
    let mut a = valid(
        T0,
        100.0,
        &[
            ("usage_prompt_tokens", 100.0),
            ("usage_prompt_cache_read_tokens", 50.0),
            ("osl_mismatch_count", 1.0),
        ],
    );
    a.metrics.push((
        "inter_chunk_latency".into(),
        MetricValue::List(vec![10.0 * MS, 20.0 * MS]),
    ));
    let mut b = valid(
        T0 + 1_000,
        100.0,
        &[
            ("usage_prompt_tokens", 300.0),
            ("usage_prompt_cache_read_tokens", 100.0),
            ("osl_mismatch_count", 0.0),
            ("usage_discrepancy_count", 1.0),
        ],
    );
    b.metrics.push((
        "inter_chunk_latency".into(),
        MetricValue::List(vec![30.0 * MS]),
    ));
    acc.add(&a);
    acc.add(&b);
    let r = acc.finish(&MetricContext::new(true));
    // ICL pooled across records: [10, 20, 30] ms -> count 3, avg 20, hidden from the console
    let icl = find(&r, "inter_chunk_latency").unwrap();
    assert_eq!(
        (icl.count, icl.avg, icl.console),
        (Some(3), Some(20.0), false)
    );
    // usage totals 100 + 300 = 400 prompt, 50 + 100 = 150 cached; overall = 150 / 400 * 100 = 37.5 %
    assert_eq!(scalar(&r, "total_usage_prompt_tokens"), Some(400.0));
    assert_eq!(
        scalar(&r, "total_usage_prompt_cache_read_tokens"),
        Some(150.0)
    );
    assert_eq!(
        scalar(&r, "overall_usage_prompt_cache_read_pct"),
        Some(37.5)
    );
    // aggregate counters are sums of the 0/1 contributions
    assert_eq!(scalar(&r, "osl_mismatch_count"), Some(1.0));
    assert_eq!(scalar(&r, "usage_discrepancy_count"), Some(1.0));
    // usage-diff metrics disappear with server token counts
    let server = acc.finish(&MetricContext {
        use_server_token_count: true,
        ..MetricContext::new(true)
    });
    assert!(find(&server, "usage_discrepancy_count").is_none());
}

#[test]
fn credit_to_start_and_effective_latency_from_metadata() {
    let mut acc = SummaryAccumulator::new();
    let mut a = valid(T0 + 5_000_000, 100.0, &[]); // issued T0, started +5 ms, ends +105 ms
    a.metadata.credit_issued_ns = T0;
    let mut e = error(T0 + 20_000_000, T0 + 50_000_000, 500, "x", None); // issued T0+5ms: +15 ms, +45 ms
    e.metadata.credit_issued_ns = T0 + 5_000_000;
    let unknown = valid(T0, 100.0, &[]); // credit_issued_ns = 0: ignored
    acc.add(&a);
    acc.add(&e);
    acc.add(&unknown);
    let r = acc.finish(&MetricContext::new(true));
    // credit_to_start = [5, 15] ms -> avg 10 ; effective = [105, 45] ms -> avg 75 (errors included)
    let c = find(&r, "credit_to_start_latency").unwrap();
    assert_eq!(
        (c.count, c.avg, c.unit.as_str()),
        (Some(2), Some(10.0), "ms")
    );
    let eff = find(&r, "effective_latency").unwrap();
    assert_eq!(
        (eff.count, eff.avg, eff.min, eff.max),
        (Some(2), Some(75.0), Some(45.0), Some(105.0))
    );
}

#[test]
fn effective_latency_counts_from_the_intended_send_time_in_open_loop() {
    // Open loop: the schedule wanted the request at T0, the client only issued it at
    // T0+30 ms and sent it at T0+31 ms; it took 100 ms. Coordinated omission hides the
    // 30 ms; effective latency (from the intended time) shows it.
    let mut acc = SummaryAccumulator::new();
    let mut late = valid(T0 + 31_000_000, 100.0, &[]);
    late.metadata.credit_issued_ns = T0 + 30_000_000;
    late.metadata.scheduled_ns = Some(T0);
    acc.add(&late);
    let r = acc.finish(&MetricContext::new(true));
    assert_eq!(find(&r, "request_latency").unwrap().avg, Some(100.0));
    assert_eq!(find(&r, "credit_to_start_latency").unwrap().avg, Some(1.0));
    assert_eq!(find(&r, "effective_latency").unwrap().avg, Some(131.0));
}

#[test]
fn credit_to_start_counts_a_credit_sent_ahead_from_its_scheduled_time() {
    // Send-ahead: issued at T0, scheduled for T0+10 ms, held by the worker and sent at
    // T0+10.4 ms: 0.4 ms of client delay, not 10.4; it took 50 ms.
    let mut acc = SummaryAccumulator::new();
    let mut held = valid(T0 + 10_400_000, 50.0, &[]);
    held.metadata.credit_issued_ns = T0;
    held.metadata.scheduled_ns = Some(T0 + 10_000_000);
    acc.add(&held);
    let r = acc.finish(&MetricContext::new(true));
    let c = find(&r, "credit_to_start_latency").unwrap().avg.unwrap();
    assert!((c - 0.4).abs() < 1e-9, "{c}");
    let e = find(&r, "effective_latency").unwrap().avg.unwrap();
    assert!((e - 50.4).abs() < 1e-9, "{e}");
}

#[test]
fn internal_and_unknown_metrics() {
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(
        T0,
        100.0,
        &[
            ("requested_osl", 100.0),
            ("credit_drop_latency", 2.0 * MS),
            ("custom_metric", 4.0),
        ],
    ));
    let r = acc.finish(&MetricContext::new(true));
    assert!(find(&r, "requested_osl").is_none());
    assert!(find(&r, "credit_drop_latency").is_none());
    // unknown tags are summarised unconverted, without unit, after every catalogued metric
    let custom = find(&r, "custom_metric").unwrap();
    assert_eq!(
        (custom.avg, custom.unit.as_str(), custom.console),
        (Some(4.0), "", false)
    );
    assert_eq!(r.metrics.last().unwrap().tag, "custom_metric");
    let dev = acc.finish(&MetricContext {
        dev_mode: true,
        ..MetricContext::new(true)
    });
    assert_eq!(find(&dev, "credit_drop_latency").unwrap().avg, Some(2.0));
    assert_eq!(find(&dev, "requested_osl").unwrap().avg, Some(100.0));
}

#[test]
fn error_records_cannot_pollute_distributions() {
    // an error record carrying a latency (it should not) is ignored for everything but error-only metrics
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(T0, 100.0, &[]));
    let mut e = error(T0, T0 + 10, 500, "x", Some(7.0));
    e.metrics
        .push(("request_latency".into(), MetricValue::Scalar(999.0 * MS)));
    acc.add(&e);
    let r = acc.finish(&MetricContext::new(true));
    assert_eq!(find(&r, "request_latency").unwrap().count, Some(1));
    assert_close!(scalar(&r, "benchmark_duration").unwrap(), 0.1);
}

#[test]
fn timeslices_grid_assignment_and_clipping() {
    // records by request start (S = 1 s):
    //   A start 0.0 s (lat 0.5 s) and B start 0.4 s (lat 0.8 s, ends 1.2 s) -> slice 0
    //   E error start 1.1 s, ends 1.3 s                                         -> slice 1
    //   C start 2.5 s (lat 0.2 s)                                               -> slice 2
    //   (nothing starts in [3, 4): slice 3 skipped)
    //   D start 4.2 s (lat 0.2 s, ends 4.4 s = last end)                        -> slice 4, clipped
    // n = floor((4.4 - 0) / 1) + 1 = 5 grid slices, 4 non-empty
    let s = SEC;
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(T0, 500.0, &[("output_sequence_length", 10.0)]));
    acc.add(&valid(
        T0 + 400_000_000,
        800.0,
        &[("output_sequence_length", 30.0)],
    ));
    acc.add(&error(
        T0 + 1_100_000_000,
        T0 + 1_300_000_000,
        500,
        "x",
        None,
    ));
    acc.add(&valid(
        T0 + 2_500_000_000,
        200.0,
        &[("output_sequence_length", 5.0)],
    ));
    acc.add(&valid(
        T0 + 4_200_000_000,
        200.0,
        &[("output_sequence_length", 8.0)],
    ));
    let slices = acc.timeslices(&MetricContext::new(true), s);
    let bounds: Vec<(u64, u64, bool)> = slices
        .iter()
        .map(|t| (t.start_ns - T0, t.end_ns - T0, t.is_complete))
        .collect();
    assert_eq!(
        bounds,
        vec![
            (0, s, true),
            (s, 2 * s, true),
            (2 * s, 3 * s, true),
            (4 * s, 4_400_000_000, false)
        ]
    );
    // slice 0: A and B count fully: 2 requests / 1 s window = 2 req/s ; (10 + 30) tokens / 1 s = 40
    let r0 = &slices[0].results;
    assert_eq!((r0.records, r0.errors), (2, 0));
    assert_close!(scalar(r0, "request_throughput").unwrap(), 2.0);
    assert_close!(scalar(r0, "output_token_throughput").unwrap(), 40.0);
    // its benchmark duration is still max response - min request = 1.2 s
    assert_close!(scalar(r0, "benchmark_duration").unwrap(), 1.2);
    assert_eq!((r0.start_ns, r0.end_ns), (T0, T0 + s));
    // slice 1: only the error
    let r1 = &slices[1].results;
    assert_eq!(scalar(r1, "error_request_count"), Some(1.0));
    assert_eq!(scalar(r1, "request_error_rate"), Some(100.0));
    assert!(scalar(r1, "request_throughput").is_none());
    // slice 2: one request in a full 1 s window
    assert_close!(
        scalar(&slices[2].results, "request_throughput").unwrap(),
        1.0
    );
    // slice 4: clipped window 0.4 s: 1 / 0.4 = 2.5 req/s ; 8 / 0.4 = 20 tokens/s
    let r4 = &slices[3].results;
    assert_close!(scalar(r4, "request_throughput").unwrap(), 2.5);
    assert_close!(scalar(r4, "output_token_throughput").unwrap(), 20.0);
    assert_eq!(find(r4, "request_latency").unwrap().avg, Some(200.0));
    // edge cases
    assert!(
        SummaryAccumulator::new()
            .timeslices(&MetricContext::new(true), s)
            .is_empty()
    );
    assert!(acc.timeslices(&MetricContext::new(true), 0).is_empty());
}

#[test]
fn single_slice_covering_everything() {
    // span 0.3 s with S = 10 s: n = floor(0.3/10) + 1 = 1 slice, clipped to 0.3 s -> incomplete
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(T0, 100.0, &[]));
    acc.add(&valid(T0 + 100_000_000, 200.0, &[]));
    let slices = acc.timeslices(&MetricContext::new(false), 10 * SEC);
    assert_eq!(slices.len(), 1);
    assert_eq!(
        (slices[0].start_ns, slices[0].end_ns, slices[0].is_complete),
        (T0, T0 + 300_000_000, false)
    );
    // 2 requests / 0.3 s window
    assert_close!(
        scalar(&slices[0].results, "request_throughput").unwrap(),
        2.0 / 0.3
    );
}

#[test]
fn token_and_usage_totals() {
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(
        T0,
        100.0,
        &[
            ("output_token_count", 40.0),
            ("reasoning_token_count", 60.0),
            ("usage_completion_tokens", 100.0),
            ("usage_total_tokens", 150.0),
            ("usage_reasoning_tokens", 60.0),
        ],
    ));
    acc.add(&valid(
        T0 + 1,
        100.0,
        &[
            ("output_token_count", 10.0),
            ("usage_completion_tokens", 10.0),
            ("usage_total_tokens", 30.0),
        ],
    ));
    let r = acc.finish(&MetricContext::new(false));
    // totals: output 40 + 10 = 50 ; reasoning 60 ; usage completion 110 ; usage total 180 ; usage reasoning 60
    assert_eq!(scalar(&r, "total_output_tokens"), Some(50.0));
    assert_eq!(scalar(&r, "total_reasoning_tokens"), Some(60.0));
    assert_eq!(scalar(&r, "total_usage_completion_tokens"), Some(110.0));
    assert_eq!(scalar(&r, "total_usage_total_tokens"), Some(180.0));
    assert_eq!(scalar(&r, "total_usage_reasoning_tokens"), Some(60.0));
    // no prompt usage -> no cache percentage
    assert!(find(&r, "overall_usage_prompt_cache_read_pct").is_none());
    // overall thinking efficiency (experimental) = 60 / 50 = 1.2
    assert!(find(&r, "overall_thinking_efficiency").is_none());
    let dev = acc.finish(&MetricContext {
        dev_mode: true,
        ..MetricContext::new(false)
    });
    assert_eq!(scalar(&dev, "overall_thinking_efficiency"), Some(1.2));
}

#[test]
fn record_metrics_round_trip_into_the_summary() {
    use aiperf_metrics::{RecordInput, ResponseInfo, compute_record_metrics};
    // two streaming requests of the worked example's shape, converted and summarised
    let ctx = MetricContext::new(true);
    let mut acc = SummaryAccumulator::new();
    for (i, ttft_ns) in [(0u64, 71_815_784u64), (1, 81_815_784)] {
        let start = 1_000_000_000;
        let c = |t: u64| ResponseInfo {
            perf_ns: start + t,
            has_content: true,
            has_output_content: true,
        };
        let input = RecordInput {
            streaming: true,
            start_perf_ns: start,
            end_perf_ns: start + 200_000_000,
            request_start_ns: T0 + i * SEC,
            responses: vec![c(ttft_ns), c(ttft_ns + 50_000_000), c(187_278_441)],
            input_tokens: Some(100),
            output_tokens: Some(30),
            ..Default::default()
        };
        let metrics = compute_record_metrics(&input, &ctx);
        let mut md = meta(T0 + i * SEC, T0 + i * SEC + 200_000_000);
        md.session_num = i;
        acc.add(&MetricRecord {
            metadata: md,
            metrics,
            error: None,
            raw_json: None,
        });
    }
    let r = acc.finish(&ctx);
    // TTFT [71.815784, 81.815784] ms -> avg 76.815784 ms
    assert_close!(
        find(&r, "time_to_first_token").unwrap().avg.unwrap(),
        76.815784
    );
    // ITL: (187.278441 - 71.815784)/29 = 3.98147093 and (187.278441 - 81.815784)/29 = 3.63664334 ms
    let itl = find(&r, "inter_token_latency").unwrap();
    assert_close!(itl.max.unwrap(), 115.462657 / 29.0);
    assert_close!(itl.min.unwrap(), 105.462657 / 29.0);
    assert_eq!(itl.unit, "ms");
    // span: T0 .. T0 + 1 s + 187.278441 ms -> 1.187278441 s ; 2 requests / 1.187278441 s
    assert_close!(scalar(&r, "benchmark_duration").unwrap(), 1.187278441);
    assert_close!(scalar(&r, "request_throughput").unwrap(), 2.0 / 1.187278441);
    // 60 output tokens / 1.187278441 s
    assert_close!(
        scalar(&r, "output_token_throughput").unwrap(),
        60.0 / 1.187278441
    );
    assert_eq!(
        find(&r, "output_token_throughput_per_user").unwrap().unit,
        "tokens/sec/user"
    );
    // ICL pooled: 2 gaps per request -> 4 samples
    assert_eq!(find(&r, "inter_chunk_latency").unwrap().count, Some(4));
}

#[test]
fn context_overflow_count_matches_server_messages() {
    use aiperf_metrics::summary::is_context_overflow;
    for (kind, message, overflow) in [
        (
            "Bad Request",
            "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens",
            true,
        ),
        ("invalid_request_error", "context_length_exceeded", true),
        (
            "Bad Request",
            "The input (9000 tokens) is longer than the model's context length (8192 tokens).",
            true,
        ),
        (
            "Bad Request",
            "the request exceeds the available context size, try increasing it",
            true,
        ),
        ("Internal Server Error", "boom", false),
        (
            "RequestCancellationError",
            "Request cancelled 0.010s after being sent",
            false,
        ),
    ] {
        let e = ErrorDetails::new(Some(400), kind, message);
        assert_eq!(is_context_overflow(&e), overflow, "{message}");
    }
    // mixed run: 3 errors, none an overflow -> 0; one more that is -> 1 of 4
    let mut acc = mixed_run(false);
    let ctx = MetricContext::new(true);
    assert_eq!(
        scalar(&acc.finish(&ctx), "context_overflow_count"),
        Some(0.0)
    );
    let mut overflow = error(
        T0 + 230_000_000,
        T0 + 231_000_000,
        400,
        "Bad Request",
        Some(9000.0),
    );
    overflow.error = Some(ErrorDetails::new(
        Some(400),
        "Bad Request",
        "This model's maximum context length is 4096 tokens.",
    ));
    acc.add(&overflow);
    let r = acc.finish(&ctx);
    assert_eq!(scalar(&r, "context_overflow_count"), Some(1.0));
    assert_eq!(scalar(&r, "error_request_count"), Some(4.0));
    let m = find(&r, "context_overflow_count").unwrap();
    assert_eq!((m.unit.as_str(), m.console), ("requests", false));
    // a clean run has no such metric
    let mut clean = SummaryAccumulator::new();
    clean.add(&valid(T0, 100.0, &[]));
    assert!(find(&clean.finish(&ctx), "context_overflow_count").is_none());
}

#[test]
fn error_adjusted_decode_duration_and_itl() {
    // Two valid streaming records, one error:
    //   decode durations 80 ms, 40 ms; ITL 4 ms, 2 ms.
    let mut acc = SummaryAccumulator::new();
    acc.add(&valid(
        T0,
        100.0,
        &[
            ("time_to_first_token", 20.0 * MS),
            ("decode_duration", 80.0 * MS),
            ("inter_token_latency", 4.0 * MS),
        ],
    ));
    acc.add(&valid(
        T0 + SEC,
        50.0,
        &[
            ("time_to_first_token", 10.0 * MS),
            ("decode_duration", 40.0 * MS),
            ("inter_token_latency", 2.0 * MS),
        ],
    ));
    acc.add(&error(
        T0 + 2 * SEC,
        T0 + 3 * SEC,
        500,
        "Internal Server Error",
        None,
    ));
    let r = acc.finish(&MetricContext::new(true));
    // [40, 80, inf]: nearest rank idx = round_half_even(p/100 * 2):
    //   p1..p10 -> 0 (40) ; p25 0.5 -> 0 (40) ; p50 1 -> 80 ; p75 1.5 -> 2 (inf, dropped)
    let adj = find(&r, "adj_decode_duration").unwrap();
    assert_eq!(adj.header, "Decode Duration (error-adjusted)");
    assert_eq!(
        adj.percentiles,
        vec![(1, 40.0), (5, 40.0), (10, 40.0), (25, 40.0), (50, 80.0)]
    );
    assert_eq!((adj.min, adj.count, adj.avg), (Some(40.0), Some(3), None));
    let adj = find(&r, "adj_inter_token_latency").unwrap();
    assert_eq!(
        adj.percentiles,
        vec![(1, 2.0), (5, 2.0), (10, 2.0), (25, 2.0), (50, 4.0)]
    );
    assert_eq!(
        adj.display_order,
        find(&r, "inter_token_latency").unwrap().display_order + 1
    );
}

/// The compact accumulator (no value owners) summarises exactly like the full one.
#[test]
fn an_accumulator_without_timeslices_gives_the_same_summary() {
    let full = mixed_run(true);
    let mut compact = SummaryAccumulator::without_timeslices();
    let mut list = valid(T0, 100.0, &[]);
    list.metrics.push((
        "inter_chunk_latency".into(),
        MetricValue::List(vec![3.0 * MS, 1.0 * MS, 2.0 * MS]),
    ));
    let mut full_list = full.clone();
    full_list.add(&list);
    // Replay the same records into the compact one.
    for (start_ms, lat, ttft, isl, osl, g) in [
        (0u64, 100.0, 20.0, 100.0, 10.0, 1.0),
        (50, 200.0, 40.0, 200.0, 20.0, 1.0),
        (100, 300.0, 60.0, 300.0, 30.0, 0.0),
    ] {
        let m = [
            ("time_to_first_token", ttft * MS),
            ("input_sequence_length", isl),
            ("output_sequence_length", osl),
            ("good_request_count", g),
        ];
        compact.add(&valid(T0 + start_ms * 1_000_000, lat, &m));
    }
    for (s, e, code, kind, isl) in [
        (200, 250, 500, "Internal Server Error", Some(50.0)),
        (210, 260, 499, "RequestCancellationError", None),
        (220, 270, 500, "Internal Server Error", Some(70.0)),
    ] {
        compact.add(&error(
            T0 + s * 1_000_000,
            T0 + e * 1_000_000,
            code,
            kind,
            isl,
        ));
    }
    compact.add(&list);
    assert!(!compact.keeps_timeslices() && full_list.keeps_timeslices());
    let ctx = MetricContext::new(true);
    assert_eq!(compact.finish(&ctx), full_list.finish(&ctx));
    // The list's exact median in ms: values 1, 2, 3 ms.
    let r = compact.finish(&ctx);
    assert_eq!(
        find(&r, "inter_chunk_latency").unwrap().percentile(50),
        Some(2.0)
    );
}
