//! Statistics of every scraped series over the profiling window
//! (`docs/server-metrics.md` § Statistics).
//!
//! The window runs from the profiling phase's start to the final scrape. Its
//! *reference* scrape is the last one at or before the start (the baseline), else
//! the first one inside; a series missing from the reference scrape was born
//! during the window and starts from 0.
//!
//! * counter: `total` = the increase from the reference to the last scrape, a
//!   decrease being a reset (the counter restarted from 0: the value after it
//!   counts whole, as Prometheus' `increase()` does; a warning says so), and
//!   `rate` = total / seconds between the two scrapes;
//! * gauge and untyped: `avg`, `min`, `max`, `std` (sample, ddof 1) and the
//!   linear percentiles `p1` … `p99` of the values scraped inside the window;
//! * histogram: the deltas `count`, `sum` and every bucket, `count_rate`,
//!   `sum_rate`, `avg` = sum / count and `p1_estimate` … `p99_estimate`
//!   estimated from the bucket deltas by [`histogram_quantile`];
//! * summary: the deltas `count` and `sum`, their rates, `avg`, and the server's
//!   own quantiles of the last scrape (`p50`, `p99`, …).
//!
//! With time slices, each series also gets per-slice statistics (counter:
//! `total`, `rate`, and over the complete slices `rate_avg`, `rate_min`,
//! `rate_max`, `rate_std` in its window stats; gauge: `avg`, `min`, `max`;
//! histogram and summary: `count`, `sum`, `avg`).

use crate::parse::{Family, Labels, SeriesValue};
use aiperf_metrics::stats::{PERCENTILES, percentile_linear};
use aiperf_protocol::server_metrics::{MetricKind, SeriesStats, SliceStats, Stats};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One successful scrape of one endpoint.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Wall clock (ns) when the response arrived.
    pub ts_ns: u64,
    /// Its families.
    pub families: Arc<BTreeMap<String, Family>>,
}

/// The window the statistics cover.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start (ns): the profiling phase's start.
    pub start_ns: u64,
    /// End (ns): the final scrape.
    pub end_ns: u64,
    /// Time slice length (ns), with `--slice-duration`.
    pub slice_ns: Option<u64>,
}

/// The statistics of one family at one endpoint.
#[derive(Debug, Clone)]
pub struct FamilySeries {
    /// Family name.
    pub name: String,
    /// Its type (from the last scrape holding it).
    pub kind: MetricKind,
    /// Its help text.
    pub help: String,
    /// Per label set.
    pub series: Vec<SeriesStats>,
}

/// Computes the statistics of every family in `snapshots` (in time order) of
/// `endpoint_url` over `window`; problems (counter resets) go to `warnings`.
pub fn endpoint_stats(
    endpoint_url: &str,
    snapshots: &[Snapshot],
    window: Window,
    warnings: &mut Vec<String>,
) -> Vec<FamilySeries> {
    let Some(reference) = reference_index(snapshots, window.start_ns) else {
        return Vec::new();
    };
    let used: Vec<&Snapshot> = snapshots[reference..]
        .iter()
        .filter(|s| s.ts_ns <= window.end_ns)
        .collect();
    let names: BTreeSet<&String> = used.iter().flat_map(|s| s.families.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let Some(last) = used.iter().rev().find_map(|s| s.families.get(name)) else {
            continue;
        };
        let label_sets: BTreeSet<&Labels> = used
            .iter()
            .filter_map(|s| s.families.get(name))
            .filter(|f| f.kind == last.kind)
            .flat_map(|f| f.series.keys())
            .collect();
        let mut series = Vec::new();
        for labels in label_sets {
            // The value at each used scrape; `None` where the series is absent.
            let points: Vec<(u64, Option<&SeriesValue>)> = used
                .iter()
                .map(|s| {
                    let v = s
                        .families
                        .get(name)
                        .filter(|f| f.kind == last.kind)
                        .and_then(|f| f.series.get(labels));
                    (s.ts_ns, v)
                })
                .collect();
            let what = || format!("{endpoint_url} {name}{}", label_text(labels));
            let stats = match last.kind {
                MetricKind::Counter => counter(&points, window, &what, warnings),
                MetricKind::Gauge | MetricKind::Untyped => gauge(&points, window),
                MetricKind::Histogram => histogram(&points, window, &what, warnings),
                MetricKind::Summary => summary(&points, window),
            };
            if let Some((stats, buckets, timeslices)) = stats {
                series.push(SeriesStats {
                    endpoint_url: endpoint_url.to_string(),
                    labels: labels.clone(),
                    stats,
                    buckets,
                    timeslices,
                });
            }
        }
        if !series.is_empty() {
            out.push(FamilySeries {
                name: name.clone(),
                kind: last.kind,
                help: last.help.clone(),
                series,
            });
        }
    }
    out
}

type SeriesOut = Option<(Stats, Vec<(String, f64)>, Vec<SliceStats>)>;

/// Index of the reference scrape: the last at or before `start_ns`, else the first.
fn reference_index(snapshots: &[Snapshot], start_ns: u64) -> Option<usize> {
    if snapshots.is_empty() {
        return None;
    }
    Some(
        snapshots
            .iter()
            .rposition(|s| s.ts_ns <= start_ns)
            .unwrap_or(0),
    )
}

/// `{a="1",b="2"}`, or nothing without labels.
fn label_text(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(","))
}

fn scalar(v: Option<&SeriesValue>) -> Option<f64> {
    match v {
        Some(SeriesValue::Scalar(x)) => Some(*x),
        _ => None,
    }
}

/// `(ts, value)` of a counter, the reference point included (0 when the series
/// was absent from it: born during the window).
fn counter_points(points: &[(u64, Option<&SeriesValue>)]) -> Vec<(u64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    for (i, (ts, v)) in points.iter().enumerate() {
        match scalar(*v) {
            Some(x) => out.push((*ts, x)),
            None if i == 0 => out.push((*ts, 0.0)),
            None => {}
        }
    }
    out
}

/// The increase over `values` in order, a decrease being a reset to 0; returns
/// the increase and the number of resets.
pub fn increase(values: impl IntoIterator<Item = f64>) -> (f64, usize) {
    let mut total = 0.0;
    let mut resets = 0;
    let mut prev: Option<f64> = None;
    for v in values {
        if let Some(p) = prev {
            if v >= p {
                total += v - p;
            } else {
                total += v;
                resets += 1;
            }
        }
        prev = Some(v);
    }
    (total, resets)
}

fn secs(from_ns: u64, to_ns: u64) -> f64 {
    to_ns.saturating_sub(from_ns) as f64 / 1e9
}

fn per_sec(v: f64, seconds: f64) -> f64 {
    if seconds > 0.0 { v / seconds } else { 0.0 }
}

/// The slices of `window`: `(start, end, complete)`.
fn slices(window: Window) -> Vec<(u64, u64, bool)> {
    let Some(d) = window.slice_ns.filter(|d| *d > 0) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut s = window.start_ns;
    while s < window.end_ns {
        let e = s.saturating_add(d);
        out.push((s, e.min(window.end_ns), e <= window.end_ns));
        s = e;
    }
    out
}

/// The last point at or before `t`, else the first.
fn at_or_before<T: Copy>(points: &[(u64, T)], t: u64) -> Option<T> {
    points
        .iter()
        .rev()
        .find(|(ts, _)| *ts <= t)
        .or(points.first())
        .map(|(_, v)| *v)
}

fn counter(
    points: &[(u64, Option<&SeriesValue>)],
    window: Window,
    what: &dyn Fn() -> String,
    warnings: &mut Vec<String>,
) -> SeriesOut {
    let pts = counter_points(points);
    let (first, last) = (pts.first()?, pts.last()?);
    let (total, resets) = increase(pts.iter().map(|(_, v)| *v));
    if resets > 0 {
        warnings.push(format!(
            "{}: the counter went down {resets} time(s) (server restart?); counted as reset(s) to 0",
            what()
        ));
    }
    let mut stats = vec![
        ("total".to_string(), total),
        ("rate".to_string(), per_sec(total, secs(first.0, last.0))),
    ];
    let mut timeslices = Vec::new();
    let mut complete_rates = Vec::new();
    for (s, e, complete) in slices(window) {
        let start = at_or_before(&pts, s).unwrap_or(0.0);
        let inside = pts
            .iter()
            .filter(|(ts, _)| *ts > s && *ts <= e)
            .map(|(_, v)| *v);
        let (t, _) = increase(std::iter::once(start).chain(inside));
        let rate = per_sec(t, secs(s, e));
        if complete {
            complete_rates.push(rate);
        }
        timeslices.push(SliceStats {
            start_ns: s,
            end_ns: e,
            is_complete: complete,
            stats: vec![("total".into(), t), ("rate".into(), rate)],
        });
    }
    if !complete_rates.is_empty() {
        let (avg, min, max, std) = moments(&complete_rates);
        stats.extend([
            ("rate_avg".to_string(), avg),
            ("rate_min".to_string(), min),
            ("rate_max".to_string(), max),
            ("rate_std".to_string(), std),
        ]);
    }
    Some((stats, Vec::new(), timeslices))
}

/// Mean, min, max and sample standard deviation (ddof 1; 0 for one value).
fn moments(values: &[f64]) -> (f64, f64, f64, f64) {
    let n = values.len() as f64;
    let avg = values.iter().sum::<f64>() / n;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - avg) * (v - avg)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (avg, min, max, std)
}

fn gauge(points: &[(u64, Option<&SeriesValue>)], window: Window) -> SeriesOut {
    let pts: Vec<(u64, f64)> = points
        .iter()
        .filter(|(ts, _)| *ts >= window.start_ns)
        .filter_map(|(ts, v)| scalar(*v).map(|x| (*ts, x)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let values: Vec<f64> = pts.iter().map(|(_, v)| *v).collect();
    let (avg, min, max, std) = moments(&values);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let mut stats = vec![
        ("avg".to_string(), avg),
        ("min".to_string(), min),
        ("max".to_string(), max),
        ("std".to_string(), std),
    ];
    for p in PERCENTILES {
        if let Some(v) = percentile_linear(&sorted, f64::from(p)) {
            stats.push((format!("p{p}"), v));
        }
    }
    let mut timeslices = Vec::new();
    for (s, e, complete) in slices(window) {
        let inside: Vec<f64> = pts
            .iter()
            .filter(|(ts, _)| *ts >= s && (*ts < e || (!complete && *ts <= e)))
            .map(|(_, v)| *v)
            .collect();
        if inside.is_empty() {
            continue;
        }
        let (avg, min, max, _) = moments(&inside);
        timeslices.push(SliceStats {
            start_ns: s,
            end_ns: e,
            is_complete: complete,
            stats: vec![
                ("avg".into(), avg),
                ("min".into(), min),
                ("max".into(), max),
            ],
        });
    }
    Some((stats, Vec::new(), timeslices))
}

/// `(count, sum, buckets)` of a histogram or summary value.
fn totals(v: Option<&SeriesValue>) -> Option<(f64, f64)> {
    match v {
        Some(
            SeriesValue::Histogram { count, sum, .. } | SeriesValue::Summary { count, sum, .. },
        ) => Some((*count, *sum)),
        _ => None,
    }
}

/// The change of `(count, sum)` from `a` to `b`; a lower count is a reset.
fn delta(a: Option<(f64, f64)>, b: (f64, f64)) -> ((f64, f64), bool) {
    match a {
        Some((c, s)) if b.0 >= c => ((b.0 - c, b.1 - s), false),
        Some(_) => (b, true),
        None => (b, false),
    }
}

/// `count`, `count_rate`, `sum`, `sum_rate`, `avg` and the per-slice count, sum and
/// avg of a histogram or summary; the reference value, the last point and
/// whether it was reset.
#[allow(clippy::type_complexity)]
fn distribution_common<'a>(
    points: &[(u64, Option<&'a SeriesValue>)],
    window: Window,
) -> Option<(
    Stats,
    Vec<SliceStats>,
    Option<&'a SeriesValue>,
    &'a SeriesValue,
    bool,
)> {
    let (ref_ts, ref_v) = *points.first()?;
    let (last_ts, last_v) = points
        .iter()
        .rev()
        .find_map(|(ts, v)| v.map(|v| (*ts, v)))?;
    let ((count, sum), reset) = delta(totals(ref_v), totals(Some(last_v))?);
    let dt = secs(ref_ts, last_ts);
    let stats = vec![
        ("count".to_string(), count),
        ("count_rate".to_string(), per_sec(count, dt)),
        ("sum".to_string(), sum),
        ("sum_rate".to_string(), per_sec(sum, dt)),
        (
            "avg".to_string(),
            if count > 0.0 { sum / count } else { 0.0 },
        ),
    ];
    let known: Vec<(u64, Option<(f64, f64)>)> =
        points.iter().map(|(ts, v)| (*ts, totals(*v))).collect();
    let mut timeslices = Vec::new();
    for (s, e, complete) in slices(window) {
        let a = at_or_before(&known, s).flatten();
        let Some(b) = at_or_before(&known, e).flatten() else {
            continue;
        };
        let ((c, su), _) = delta(a, b);
        timeslices.push(SliceStats {
            start_ns: s,
            end_ns: e,
            is_complete: complete,
            stats: vec![
                ("count".into(), c),
                ("sum".into(), su),
                ("avg".into(), if c > 0.0 { su / c } else { 0.0 }),
            ],
        });
    }
    Some((stats, timeslices, ref_v, last_v, reset))
}

fn histogram(
    points: &[(u64, Option<&SeriesValue>)],
    window: Window,
    what: &dyn Fn() -> String,
    warnings: &mut Vec<String>,
) -> SeriesOut {
    let (mut stats, timeslices, ref_v, last_v, reset) = distribution_common(points, window)?;
    if reset {
        warnings.push(format!(
            "{}: the histogram's count went down (server restart?); counted from 0",
            what()
        ));
    }
    let SeriesValue::Histogram { buckets: last, .. } = last_v else {
        return None;
    };
    let before = match (ref_v, reset) {
        (Some(SeriesValue::Histogram { buckets, .. }), false) => buckets.as_slice(),
        _ => &[],
    };
    let deltas: Vec<(f64, f64)> = last
        .iter()
        .map(|(le, c)| {
            let was = before
                .iter()
                .find(|(l, _)| l == le)
                .map_or(0.0, |(_, c)| *c);
            (*le, (c - was).max(0.0))
        })
        .collect();
    let count = deltas.last().map_or(0.0, |(_, c)| *c);
    if count > 0.0 {
        let sum = stats.iter().find(|(k, _)| k == "sum").map(|(_, v)| *v);
        for p in PERCENTILES {
            let q = f64::from(p) / 100.0;
            if let Some(v) = histogram_quantile(q, &deltas) {
                let v = sum.map_or(v, |sum| clamp_by_sum(v, q, count, sum));
                stats.push((format!("p{p}_estimate"), v));
            }
        }
    }
    let buckets = deltas.iter().map(|(le, c)| (bound_text(*le), *c)).collect();
    Some((stats, buckets, timeslices))
}

fn summary(points: &[(u64, Option<&SeriesValue>)], window: Window) -> SeriesOut {
    let (mut stats, timeslices, _, last_v, _) = distribution_common(points, window)?;
    if let SeriesValue::Summary { quantiles, .. } = last_v {
        for (q, v) in quantiles {
            stats.push((format!("p{}", bound_text(q * 100.0)), *v));
        }
    }
    Some((stats, Vec::new(), timeslices))
}

/// A bucket bound as the exports write it: `0.01`, `1`, `+Inf`.
pub fn bound_text(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".to_string()
    } else {
        format!("{le}")
    }
}

/// Caps a quantile estimate by what the histogram's sum allows. With
/// non-negative observations, at least `(1 - q) × count` of them are at or above
/// the `q`-quantile, so it cannot exceed `sum / ((1 - q) × count)`. Linear
/// interpolation alone puts the p99 of a histogram whose observations are all 0
/// (a server that never queues) at 99% of its first bucket's bound; the sum says 0.
pub fn clamp_by_sum(estimate: f64, q: f64, count: f64, sum: f64) -> f64 {
    if q >= 1.0 || count <= 0.0 || sum.is_nan() || sum < 0.0 {
        return estimate;
    }
    estimate.min(sum / ((1.0 - q) * count))
}

/// The `q`-quantile (0–1) of a histogram given as cumulative `(upper bound,
/// count)` buckets sorted by bound, the last one `+Inf` — Prometheus'
/// `histogram_quantile`: the rank `q × count` is found in the first bucket whose
/// cumulative count reaches it, and the value is interpolated linearly between
/// that bucket's lower bound (the previous bound; 0 for the first bucket, so
/// observations are assumed non-negative) and its upper bound. A rank in the
/// `+Inf` bucket returns the largest finite bound. `None` without observations.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let mut lower = 0.0;
    let mut below = 0.0;
    for (i, (le, count)) in buckets.iter().enumerate() {
        if *count >= rank && *count > below {
            if le.is_infinite() {
                return Some(if i == 0 { 0.0 } else { buckets[i - 1].0 });
            }
            if i == 0 && *le <= 0.0 {
                return Some(*le);
            }
            let within = (rank - below) / (count - below);
            return Some(lower + (le - lower) * within);
        }
        lower = *le;
        below = *count;
    }
    buckets
        .iter()
        .rev()
        .find(|(le, _)| le.is_finite())
        .map(|(le, _)| *le)
}

/// The unit of a family, from its help text first, else its name's suffix.
pub fn infer_unit(name: &str, help: &str) -> &'static str {
    let h = help.to_ascii_lowercase();
    let from_help = [
        ("in seconds", "seconds"),
        ("in milliseconds", "milliseconds"),
        ("in ms", "milliseconds"),
        ("in bytes", "bytes"),
        ("(0-1)", "ratio"),
        ("1 means 100", "ratio"),
        ("(0-100)", "percent"),
        ("in percent", "percent"),
        ("in watts", "watts"),
        ("in joules", "joules"),
        ("in celsius", "celsius"),
    ];
    if let Some((_, u)) = from_help.iter().find(|(p, _)| h.contains(p)) {
        return u;
    }
    let n = name.to_ascii_lowercase();
    let suffixes = [
        ("_seconds", "seconds"),
        ("_milliseconds", "milliseconds"),
        ("_ms", "milliseconds"),
        ("_ns", "nanoseconds"),
        ("_bytes", "bytes"),
        ("_tokens", "tokens"),
        ("_requests", "requests"),
        ("request_success", "requests"),
        ("_reqs", "requests"),
        ("_errors", "errors"),
        ("_blocks", "blocks"),
        ("_ratio", "ratio"),
        ("_percent", "percent"),
        ("_perc", "ratio"),
        ("_celsius", "celsius"),
        ("_joules", "joules"),
        ("_watts", "watts"),
        ("_total", "count"),
        ("_count", "count"),
    ];
    if n.contains("num_requests_") {
        return "requests";
    }
    suffixes
        .iter()
        .find(|(s, _)| n.ends_with(s))
        .map_or("", |(_, u)| u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use aiperf_protocol::server_metrics::stat;

    fn snap(ts_s: f64, text: &str) -> Snapshot {
        Snapshot {
            ts_ns: (ts_s * 1e9) as u64,
            families: Arc::new(parse(text, false).families),
        }
    }

    fn window(start_s: f64, end_s: f64, slice_s: Option<f64>) -> Window {
        Window {
            start_ns: (start_s * 1e9) as u64,
            end_ns: (end_s * 1e9) as u64,
            slice_ns: slice_s.map(|s| (s * 1e9) as u64),
        }
    }

    fn one<'a>(fams: &'a [FamilySeries], name: &str) -> &'a SeriesStats {
        &fams.iter().find(|f| f.name == name).unwrap().series[0]
    }

    #[test]
    fn the_sum_caps_a_quantile_estimate() {
        // 10 observations, all 0, in a first bucket of bound 0.3: interpolation
        // says p99 = 0.297, the sum (0) says 0.
        let b = [(0.3, 10.0), (f64::INFINITY, 10.0)];
        let v = histogram_quantile(0.99, &b).unwrap();
        assert!((v - 0.297).abs() < 1e-12);
        assert_eq!(clamp_by_sum(v, 0.99, 10.0, 0.0), 0.0);
        // Sum 0.02 over 10: p90 <= 0.02 / (0.1 × 10) = 0.02; p50 <= 0.004.
        assert!((clamp_by_sum(0.27, 0.9, 10.0, 0.02) - 0.02).abs() < 1e-12);
        assert!((clamp_by_sum(0.15, 0.5, 10.0, 0.02) - 0.004).abs() < 1e-12);
        // A bound that does not bind leaves the estimate alone.
        assert_eq!(clamp_by_sum(0.15, 0.5, 10.0, 2.0), 0.15);
        // The maximum (q = 1) and a missing sum are not capped.
        assert_eq!(clamp_by_sum(0.3, 1.0, 10.0, 0.0), 0.3);
        assert_eq!(clamp_by_sum(0.3, 0.5, 10.0, f64::NAN), 0.3);
    }

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        // 10 observations ≤ 0.1, 30 more ≤ 0.2, 10 in +Inf.
        let b = [(0.1, 10.0), (0.2, 40.0), (f64::INFINITY, 50.0)];
        // p50: rank 25 → bucket (0.1, 0.2]: 0.1 + 0.1 × (25−10)/30 = 0.15.
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.15).abs() < 1e-12);
        // p10: rank 5 → first bucket, from 0: 0.1 × 5/10 = 0.05.
        assert!((histogram_quantile(0.1, &b).unwrap() - 0.05).abs() < 1e-12);
        // p80: rank 40 → exactly the top of (0.1, 0.2].
        assert!((histogram_quantile(0.8, &b).unwrap() - 0.2).abs() < 1e-12);
        // p99: rank 49.5 → +Inf bucket → the largest finite bound.
        assert_eq!(histogram_quantile(0.99, &b), Some(0.2));
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 0.0)]), None);
        // An empty bucket is skipped: rank 2 of [0,0,4] lands in (0.2, 0.4].
        let b = [(0.1, 0.0), (0.2, 0.0), (0.4, 4.0), (f64::INFINITY, 4.0)];
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn counter_total_and_rate_from_the_baseline_with_resets() {
        let c = |v: f64| format!("# TYPE x_total counter\nx_total{{a=\"1\"}} {v}\n");
        let snaps = [
            snap(0.0, &c(100.0)), // baseline, before the window
            snap(1.0, &c(150.0)),
            snap(2.0, &c(5.0)), // reset: 5 counted whole
            snap(3.0, &c(20.0)),
            snap(9.0, &c(999.0)), // after the window: ignored
        ];
        let mut warnings = Vec::new();
        let fams = endpoint_stats("e", &snaps, window(0.5, 3.0, None), &mut warnings);
        let s = one(&fams, "x");
        assert_eq!(stat(&s.stats, "total"), Some(50.0 + 5.0 + 15.0));
        assert_eq!(stat(&s.stats, "rate"), Some(70.0 / 3.0));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("e x{a=\"1\"}: the counter went down 1 time"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_counter_born_during_the_window_starts_from_zero() {
        let snaps = [
            snap(0.0, "# TYPE y counter\n"),
            snap(1.0, "# TYPE y counter\ny_total 7\n"),
        ];
        let fams = endpoint_stats("e", &snaps, window(0.0, 1.0, None), &mut Vec::new());
        assert_eq!(stat(&one(&fams, "y").stats, "total"), Some(7.0));
    }

    #[test]
    fn counter_slices_and_their_rate_statistics() {
        let c = |v: f64| format!("# TYPE x counter\nx_total {v}\n");
        let snaps = [
            snap(0.0, &c(0.0)),
            snap(0.5, &c(10.0)),
            snap(1.0, &c(20.0)),
            snap(1.5, &c(20.0)),
            snap(2.0, &c(60.0)),
            snap(2.5, &c(70.0)),
        ];
        let fams = endpoint_stats("e", &snaps, window(0.0, 2.5, Some(1.0)), &mut Vec::new());
        let s = one(&fams, "x");
        let totals: Vec<f64> = s
            .timeslices
            .iter()
            .map(|t| stat(&t.stats, "total").unwrap())
            .collect();
        assert_eq!(totals, [20.0, 40.0, 10.0]);
        assert_eq!(
            s.timeslices
                .iter()
                .map(|t| t.is_complete)
                .collect::<Vec<_>>(),
            [true, true, false]
        );
        // Rates over the two complete slices: 20 and 40 per second.
        assert_eq!(stat(&s.stats, "rate_avg"), Some(30.0));
        assert_eq!(stat(&s.stats, "rate_min"), Some(20.0));
        assert_eq!(stat(&s.stats, "rate_max"), Some(40.0));
        assert!((stat(&s.stats, "rate_std").unwrap() - 200f64.sqrt()).abs() < 1e-9);
        // The last, partial slice's rate is over its own 0.5 s.
        assert_eq!(stat(&s.timeslices[2].stats, "rate"), Some(20.0));
    }

    #[test]
    fn gauge_statistics_use_the_samples_inside_the_window() {
        let g = |v: f64| format!("# TYPE r gauge\nr {v}\n");
        let snaps = [
            snap(0.0, &g(100.0)), // before the window: not a sample of it
            snap(1.0, &g(1.0)),
            snap(2.0, &g(2.0)),
            snap(3.0, &g(3.0)),
            snap(4.0, &g(4.0)),
        ];
        let fams = endpoint_stats("e", &snaps, window(0.5, 4.0, None), &mut Vec::new());
        let s = &one(&fams, "r").stats;
        assert_eq!(stat(s, "avg"), Some(2.5));
        assert_eq!(stat(s, "min"), Some(1.0));
        assert_eq!(stat(s, "max"), Some(4.0));
        // Sample std (ddof 1) of 1..4: sqrt(5/3).
        assert!((stat(s, "std").unwrap() - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // Linear p90: idx 2.7 → 3 + 0.7 = 3.7.
        assert!((stat(s, "p90").unwrap() - 3.7).abs() < 1e-12);
    }

    #[test]
    fn histogram_deltas_rates_and_estimates() {
        let h = |b1: f64, b2: f64, inf: f64, sum: f64| {
            format!(
                "# TYPE t histogram\nt_bucket{{le=\"0.1\"}} {b1}\nt_bucket{{le=\"0.2\"}} {b2}\n\
                 t_bucket{{le=\"+Inf\"}} {inf}\nt_sum {sum}\nt_count {inf}\n"
            )
        };
        let snaps = [
            snap(0.0, &h(5.0, 5.0, 5.0, 0.25)),
            snap(1.0, &h(10.0, 30.0, 35.0, 5.0)),
            snap(2.0, &h(15.0, 45.0, 55.0, 8.25)),
        ];
        let fams = endpoint_stats("e", &snaps, window(0.0, 2.0, None), &mut Vec::new());
        let s = one(&fams, "t");
        // Deltas from the baseline: buckets 10, 40, 50; sum 8.
        assert_eq!(
            s.buckets,
            [
                ("0.1".to_string(), 10.0),
                ("0.2".to_string(), 40.0),
                ("+Inf".to_string(), 50.0)
            ]
        );
        assert_eq!(stat(&s.stats, "count"), Some(50.0));
        assert_eq!(stat(&s.stats, "count_rate"), Some(25.0));
        assert_eq!(stat(&s.stats, "sum"), Some(8.0));
        assert_eq!(stat(&s.stats, "avg"), Some(0.16));
        // Hand-computed as in histogram_quantile_interpolates_within_the_bucket.
        assert!((stat(&s.stats, "p50_estimate").unwrap() - 0.15).abs() < 1e-12);
        assert!((stat(&s.stats, "p10_estimate").unwrap() - 0.05).abs() < 1e-12);
        assert_eq!(stat(&s.stats, "p99_estimate"), Some(0.2));
    }

    #[test]
    fn units_from_help_then_name() {
        assert_eq!(
            infer_unit(
                "vllm:kv_cache_usage_perc",
                "KV-cache usage. 1 means 100 percent usage."
            ),
            "ratio"
        );
        assert_eq!(
            infer_unit("vllm:e2e_request_latency_seconds", ""),
            "seconds"
        );
        assert_eq!(
            infer_unit("vllm:generation_tokens", "Number of generation tokens."),
            "tokens"
        );
        assert_eq!(infer_unit("vllm:num_requests_running", ""), "requests");
        assert_eq!(infer_unit("x", "Latency in seconds"), "seconds");
        assert_eq!(infer_unit("x", ""), "");
    }
}
