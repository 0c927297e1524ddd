//! Spilled statistics are the in-memory ones, bit for bit: the same record
//! stream goes into an accumulator (and a sweep line) that keeps everything in
//! memory and into one forced to spill after a few hundred bytes; every
//! statistic of the summary, of every timeslice and of the sweep line must be
//! identical, and the spill directory must stay empty (the file is unlinked).

mod common;

use aiperf_metrics::spill::SpillConfig;
use aiperf_metrics::summary::MAX_DISTINCT_ERRORS;
use aiperf_metrics::sweep_line::SweepLine;
use aiperf_metrics::{MetricContext, SummaryAccumulator, parse_goodput};
use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::{MetricRecord, MetricValue, RecordMetadata};
use aiperf_protocol::results::PhaseResults;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

/// A small deterministic generator (xorshift64*), so the stream is varied but
/// the same on every run.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn meta(start_ns: u64, end_ns: u64, credit_ns: u64, scheduled: Option<u64>) -> RecordMetadata {
    RecordMetadata {
        credit_issued_ns: credit_ns,
        scheduled_ns: scheduled,
        ..common::meta(start_ns, end_ns)
    }
}

/// `n` records over about `n / 50` seconds: streamed valid records with a
/// per-token ITL list, usage and goodput values, an uncatalogued metric, values
/// that are equal, negative zero or non-finite, and errors of a few kinds
/// (one a context overflow).
fn stream(n: usize, seed: u64) -> Vec<MetricRecord> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start = T0 + i as u64 * (SEC / 50) + rng.next_u64() % (SEC / 20);
        let latency = 5e6 + rng.unit() * 2e8;
        let end = start + latency as u64;
        let credit = if i % 7 == 0 {
            0
        } else {
            start - 1000 - rng.next_u64() % 50_000
        };
        let scheduled = (i % 3 == 0 && credit != 0).then(|| credit + rng.next_u64() % 100_000);
        let error = match rng.next_u64() % 20 {
            0 => Some(ErrorDetails::new(
                Some(500),
                "Internal Server Error",
                "boom",
            )),
            1 => Some(ErrorDetails::new(
                Some(400),
                "Bad Request",
                "This model's maximum context length is 4096 tokens",
            )),
            2 => Some(ErrorDetails::new(None, "ReadTimeout", "timed out")),
            _ => None,
        };
        let metrics = if error.is_some() {
            vec![(
                "error_isl".to_string(),
                MetricValue::Scalar(rng.next_u64() as f64 % 300.0),
            )]
        } else {
            let ttft = latency * rng.unit();
            let tokens = 1 + rng.next_u64() % 40;
            let itl: Vec<f64> = (1..tokens)
                .map(|_| match rng.next_u64() % 10 {
                    0 => 1e6,      // many equal values
                    1 => -0.0,     // negative zero sorts before zero
                    2 => f64::NAN, // dropped on ingestion
                    _ => rng.unit() * 3e6,
                })
                .collect();
            vec![
                ("request_latency".into(), MetricValue::Scalar(latency)),
                ("time_to_first_token".into(), MetricValue::Scalar(ttft)),
                ("input_sequence_length".into(), MetricValue::Scalar(100.0)),
                (
                    "output_sequence_length".into(),
                    MetricValue::Scalar(tokens as f64),
                ),
                (
                    "output_token_count".into(),
                    MetricValue::Scalar(tokens as f64),
                ),
                ("inter_chunk_latency".into(), MetricValue::List(itl)),
                ("usage_prompt_tokens".into(), MetricValue::Scalar(100.0)),
                (
                    "good_request_count".into(),
                    MetricValue::Scalar((i % 2) as f64),
                ),
                ("my_custom_share".into(), MetricValue::Scalar(rng.unit())),
            ]
        };
        out.push(MetricRecord {
            metadata: meta(start, end, credit, scheduled),
            metrics,
            error,
            raw_json: None,
        });
    }
    out
}

/// Every statistic, bit for bit (`{:?}` of an `f64` tells `-0.0` from `0.0` and
/// prints the shortest text that round-trips).
fn assert_bit_identical(a: &PhaseResults, b: &PhaseResults) {
    assert_eq!(a.metrics.len(), b.metrics.len());
    for (x, y) in a.metrics.iter().zip(&b.metrics) {
        assert_eq!(format!("{x:?}"), format!("{y:?}"), "metric {}", x.tag);
    }
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

fn ctx() -> MetricContext {
    let mut ctx = MetricContext::new(true);
    ctx.goodput = parse_goodput("time_to_first_token:100").unwrap();
    ctx
}

fn spill_to(dir: &std::path::Path, budget_bytes: usize) -> SpillConfig {
    SpillConfig {
        budget_bytes,
        dir: Some(dir.to_path_buf()),
    }
}

fn empty(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn a_spilled_summary_and_its_timeslices_equal_the_in_memory_ones() {
    let records = stream(3000, 7);
    let dir = tempfile::tempdir().unwrap();
    let mut memory = SummaryAccumulator::new();
    let mut spilled = SummaryAccumulator::with_spill(spill_to(dir.path(), 6000), true);
    let mut compact = SummaryAccumulator::with_spill(spill_to(dir.path(), 6000), false);
    let mut roomy = SummaryAccumulator::with_spill(spill_to(dir.path(), 40_000), true);
    for r in &records {
        memory.add(r);
        spilled.add(r);
        compact.add(r);
        roomy.add(r);
    }
    assert!(!memory.has_spilled());
    assert!(spilled.has_spilled() && compact.has_spilled());
    assert_eq!(spilled.spill_error(), None);
    assert!(empty(dir.path()), "spill files are never visible");
    let ctx = ctx();
    let want = memory.finish(&ctx);
    assert!(want.errors > 100 && want.records == 3000);
    assert!(!want.error_summary.is_empty());
    for tag in [
        "inter_chunk_latency",
        "adj_time_to_first_token",
        "credit_to_start_latency",
        "effective_latency",
        "my_custom_share",
        "goodput",
        "context_overflow_count",
    ] {
        assert!(
            want.metrics.iter().any(|m| m.tag == tag),
            "{tag} is computed"
        );
    }
    assert_bit_identical(&want, &spilled.finish(&ctx));
    assert_bit_identical(&want, &compact.finish(&ctx));

    // Timeslices of 1 s, 7 s and one covering everything; a budget so small that
    // every slice is a batch of its own, and one that holds several slices.
    for s in [SEC, 7 * SEC, 1000 * SEC] {
        let want = memory.timeslices(&ctx, s);
        assert!(!want.is_empty());
        for got in [spilled.timeslices(&ctx, s), roomy.timeslices(&ctx, s)] {
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(
                    (g.start_ns, g.end_ns, g.is_complete),
                    (w.start_ns, w.end_ns, w.is_complete)
                );
                assert_bit_identical(&w.results, &g.results);
            }
        }
    }
    drop((spilled, compact, roomy));
    assert!(empty(dir.path()));
}

#[test]
fn adding_after_finish_and_more_spills_still_agree() {
    // finish (and timeslices) mid-run do not disturb later spills.
    let records = stream(1200, 99);
    let dir = tempfile::tempdir().unwrap();
    let mut memory = SummaryAccumulator::new();
    let mut spilled = SummaryAccumulator::with_spill(spill_to(dir.path(), 2000), true);
    let ctx = ctx();
    for (i, r) in records.iter().enumerate() {
        memory.add(r);
        spilled.add(r);
        if i % 400 == 399 {
            assert_bit_identical(&memory.finish(&ctx), &spilled.finish(&ctx));
            assert_eq!(
                memory.timeslices(&ctx, SEC).len(),
                spilled.timeslices(&ctx, SEC).len()
            );
        }
    }
    assert_bit_identical(&memory.finish(&ctx), &spilled.finish(&ctx));
}

#[test]
fn a_spilled_sweep_line_equals_the_in_memory_one() {
    let records = stream(2000, 3);
    let dir = tempfile::tempdir().unwrap();
    let mut memory = SweepLine::new();
    let mut spilled = SweepLine::with_spill(spill_to(dir.path(), 4096));
    for r in &records {
        memory.add(r);
        spilled.add(r);
    }
    assert_eq!(memory.len(), spilled.len());
    assert_eq!(spilled.spill_error(), None);
    let ctx = MetricContext::new(true);
    let (a, b) = (memory.results(&ctx), spilled.results(&ctx));
    assert!(a.len() > 5, "{a:?}");
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert!(empty(dir.path()));
}

#[test]
fn distinct_errors_beyond_the_limit_are_counted_together() {
    let mut acc = SummaryAccumulator::without_timeslices();
    let extra = 250;
    for i in 0..MAX_DISTINCT_ERRORS + extra {
        // a request id in the message: every error is distinct
        acc.add(&MetricRecord {
            metadata: meta(T0 + i as u64, T0 + i as u64 + 10, 0, None),
            metrics: vec![],
            error: Some(ErrorDetails::new(
                Some(500),
                "Internal Server Error",
                format!("req {i}"),
            )),
            raw_json: None,
        });
    }
    let r = acc.finish(&MetricContext::new(false));
    assert_eq!(r.error_summary.len(), MAX_DISTINCT_ERRORS + 1);
    let last = r.error_summary.last().unwrap();
    assert_eq!(last.error_details.kind, "OtherErrors");
    assert_eq!(last.count, extra as u64);
    assert_eq!(r.error_summary[0].error_details.message, "req 0");
    let counted: u64 = r.error_summary.iter().map(|e| e.count).sum();
    assert_eq!(counted, r.errors);
}

#[test]
fn a_spill_directory_that_cannot_be_created_keeps_values_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    // a directory below a regular file cannot exist
    let mut acc = SummaryAccumulator::with_spill(spill_to(&blocker.join("sub"), 64), false);
    let mut memory = SummaryAccumulator::without_timeslices();
    for r in &stream(200, 5) {
        acc.add(r);
        memory.add(r);
    }
    let e = acc.spill_error().expect("the spill failed");
    assert!(
        e.contains("cannot create a spill file in") && e.contains("a-file"),
        "{e}"
    );
    assert!(!acc.has_spilled());
    let ctx = MetricContext::new(false);
    assert_bit_identical(&memory.finish(&ctx), &acc.finish(&ctx));
}
