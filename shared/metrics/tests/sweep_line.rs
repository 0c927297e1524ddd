//! Sweep-line metrics (`docs/metrics.md` § Sweep-line metrics) with hand-computed
//! expectations.

use aiperf_metrics::MetricContext;
use aiperf_metrics::sweep_line::SweepLine;
use aiperf_protocol::results::MetricResult;

const MS: u64 = 1_000_000;
/// An epoch-sized origin: differences must stay exact.
const T0: u64 = 1_764_000_000_000_000_000;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}
macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
    }};
}

fn find<'a>(r: &'a [MetricResult], tag: &str) -> &'a MetricResult {
    r.iter()
        .find(|m| m.tag == tag)
        .unwrap_or_else(|| panic!("{tag} missing"))
}

/// Three streamed requests (times in ms from T0):
///
/// | req | start | first token | end | ISL | OSL |
/// |---|---|---|---|---|---|
/// | R1 | 0  | 10 | 40  | 100 | 31 |
/// | R2 | 20 | 30 | 60  | 200 | 31 |
/// | R3 | 70 | 80 | 100 | 50  | 21 |
///
/// Window [0, 100] ms; pieces and what is in flight:
///
/// | piece | conc | prefill conc | gen conc | decode tok/s | prefill tok/s | tokens in flight |
/// |---|---|---|---|---|---|---|
/// | [0,10)   | 1 | 1 | 0 | 0    | 10000 (100/10ms) | 100 |
/// | [10,20)  | 1 | 0 | 1 | 1000 (30/30ms) | 0 | 100+31 = 131 |
/// | [20,30)  | 2 | 1 | 1 | 1000 | 20000 (200/10ms) | 131+200 = 331 |
/// | [30,40)  | 2 | 0 | 2 | 2000 | 0 | 131+231 = 362 |
/// | [40,60)  | 1 | 0 | 1 | 1000 | 0 | 231 |
/// | [60,70)  | 0 | 0 | 0 | 0    | 0 | 0 |
/// | [70,80)  | 1 | 1 | 0 | 0    | 5000 (50/10ms) | 50 |
/// | [80,100) | 1 | 0 | 1 | 1000 (20/20ms) | 0 | 50+21 = 71 |
fn three_requests() -> SweepLine {
    let mut s = SweepLine::new();
    let at = |ms: u64| T0 + ms * MS;
    s.add_interval(at(0), Some(at(10)), at(40), Some(100), Some(31));
    s.add_interval(at(20), Some(at(30)), at(60), Some(200), Some(31));
    s.add_interval(at(70), Some(at(80)), at(100), Some(50), Some(21));
    s
}

#[test]
fn effective_concurrency_is_time_weighted() {
    let r = three_requests().results(&MetricContext::new(true));
    let c = find(&r, "effective_concurrency");
    // avg = (10·1 + 10·1 + 10·2 + 10·2 + 20·1 + 10·0 + 10·1 + 20·1) / 100 = 110/100
    assert_close!(c.avg.unwrap(), 1.1);
    assert_eq!((c.min, c.max), (Some(0.0), Some(2.0)));
    // by value: 0 for 10 ms (cum 0.1), 1 for 70 ms (cum 0.8), 2 for 20 ms (cum 1.0)
    assert_eq!(c.percentile(50), Some(1.0));
    assert_eq!(c.percentile(90), Some(2.0));
    assert_eq!(c.percentile(95), Some(2.0));
    assert_eq!(c.percentile(99), Some(2.0));
    // var = (10·0.01 + 10·0.01 + 10·0.81 + 10·0.81 + 20·0.01 + 10·1.21 + 10·0.01 + 20·0.01)/100
    //     = 29/100 = 0.29
    assert_close!(c.std.unwrap(), 0.29f64.sqrt());
    // time-weighted: no count, no sum (AIPerf)
    assert_eq!((c.count, c.sum), (None, None));
    assert_eq!(c.unit, "requests");
    assert!(!c.console);
}

#[test]
fn phase_concurrencies() {
    let r = three_requests().results(&MetricContext::new(true));
    // generation: (10 + 10 + 20 + 20 + 20) / 100 = 0.8
    assert_close!(
        find(&r, "effective_generation_concurrency").avg.unwrap(),
        0.8
    );
    // prefill: (10 + 10 + 10) / 100 = 0.3
    assert_close!(find(&r, "effective_prefill_concurrency").avg.unwrap(), 0.3);
}

#[test]
fn throughputs_effective_and_active() {
    let r = three_requests().results(&MetricContext::new(true));
    // decode: (1000·20 + 2000·10 + 1000·20 + 1000·20)/100 = 800 tok/s
    // (= 80 decode tokens over 0.1 s)
    let d = find(&r, "effective_throughput");
    assert_close!(d.avg.unwrap(), 800.0);
    assert_close!(d.max.unwrap(), 2000.0);
    assert_eq!(d.min, Some(0.0));
    assert_eq!(d.unit, "tokens/sec");
    // prefill: (10000·10 + 20000·10 + 5000·10)/100 = 3500 tok/s (= 350 tokens / 0.1 s)
    assert_close!(
        find(&r, "effective_prefill_throughput").avg.unwrap(),
        3500.0
    );
    assert_close!(find(&r, "effective_total_throughput").avg.unwrap(), 4300.0);

    // active decode: only where gen conc ≥ 1 (70 ms): 80000 / 70
    let a = find(&r, "effective_decode_throughput_active");
    assert_close!(a.avg.unwrap(), 80_000.0 / 70.0);
    assert_close!(a.min.unwrap(), 1000.0);
    // 1000 for 60 of 70 ms (cum 0.857) → p50 = 1000, p90 = 2000
    assert_close!(a.percentile(50).unwrap(), 1000.0);
    assert_close!(a.percentile(90).unwrap(), 2000.0);
    // active prefill: (100000 + 200000 + 50000)/30
    let p = find(&r, "effective_prefill_throughput_active");
    assert_close!(p.avg.unwrap(), 350_000.0 / 30.0);
    // 5000 (cum 1/3), 10000 (cum 2/3) → p50 = 10000; p90 = 20000
    assert_close!(p.percentile(50).unwrap(), 10_000.0);
    assert_close!(p.percentile(90).unwrap(), 20_000.0);
    // active total: where conc ≥ 1 (90 ms): (80000 + 350000)/90
    assert_close!(
        find(&r, "effective_total_throughput_active").avg.unwrap(),
        430_000.0 / 90.0
    );
}

#[test]
fn per_user_throughputs() {
    let r = three_requests().results(&MetricContext::new(true));
    // decode ÷ gen conc is 1000 wherever someone decodes (70 ms), 0 elsewhere
    assert_close!(
        find(&r, "effective_throughput_per_user").avg.unwrap(),
        700.0
    );
    let a = find(&r, "effective_decode_throughput_per_user_active");
    assert_close!(a.avg.unwrap(), 1000.0);
    assert_close!(a.std.unwrap(), 0.0);
    // prefill ÷ prefill conc: 10000, 20000, 5000 for 10 ms each
    assert_close!(
        find(&r, "effective_prefill_throughput_per_user")
            .avg
            .unwrap(),
        3500.0
    );
    assert_close!(
        find(&r, "effective_prefill_throughput_per_user_active")
            .avg
            .unwrap(),
        350_000.0 / 30.0
    );
}

#[test]
fn tokens_in_flight() {
    let r = three_requests().results(&MetricContext::new(true));
    let t = find(&r, "tokens_in_flight");
    // (100·10 + 131·10 + 331·10 + 362·10 + 231·20 + 0 + 50·10 + 71·20)/100 = 15780/100
    assert_close!(t.avg.unwrap(), 157.8);
    assert_close!(t.max.unwrap(), 362.0);
    assert_eq!(t.min, Some(0.0));
    assert_eq!(t.unit, "tokens");
}

/// One request ending when the next starts: concurrency stays 1, never 2.
#[test]
fn back_to_back_requests_do_not_overlap() {
    let mut s = SweepLine::new();
    s.add_interval(T0, None, T0 + 10 * MS, None, None);
    s.add_interval(T0 + 10 * MS, None, T0 + 20 * MS, None, None);
    let r = s.results(&MetricContext::new(false));
    let c = find(&r, "effective_concurrency");
    assert_eq!((c.avg, c.min, c.max), (Some(1.0), Some(1.0), Some(1.0)));
    // without streaming (no first token) only the concurrency is computed
    assert_eq!(r.len(), 1);
}

#[test]
fn nothing_to_sweep() {
    assert!(
        SweepLine::new()
            .results(&MetricContext::new(true))
            .is_empty()
    );
    // a single instant has no duration
    let mut s = SweepLine::new();
    s.add_interval(T0, None, T0, None, None);
    assert!(s.results(&MetricContext::new(true)).is_empty());
}
