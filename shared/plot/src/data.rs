//! Plot data as pure functions: percentiles, rolling percentiles, the Pareto
//! frontier, dispersed throughput, counts per time bin and downsampling. Every
//! plot's numbers come from here; the renderers only draw them.

/// The `q`-th percentile (0–100) of ascending `sorted` values, numpy's linear rule
/// (the rule of the summary statistics, `docs/metrics.md`). `None` when empty.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = q.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// Rolling p50/p95/p99 at one point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollingPoint {
    /// The x of the point the window ends at.
    pub x: f64,
    /// Median of the window.
    pub p50: f64,
    /// 95th percentile of the window.
    pub p95: f64,
    /// 99th percentile of the window.
    pub p99: f64,
}

/// The window of the rolling percentiles of `n` points: a twentieth of the run,
/// at least 5 and at most 1,000 requests (`n` itself when smaller than 5).
pub fn rolling_window(n: usize) -> usize {
    (n / 20).clamp(5, 1000).min(n.max(1))
}

/// Rolling percentiles of `points` (`(x, y)`, in x order): at point `i`, the
/// percentiles of the `window` y values ending at `i` (fewer at the start).
/// Evaluated at every point when there are at most `max_out` of them, else at
/// `max_out` evenly spaced ones (always including the last); each evaluated
/// value is exact.
pub fn rolling_percentiles(
    points: &[(f64, f64)],
    window: usize,
    max_out: usize,
) -> Vec<RollingPoint> {
    if points.is_empty() || window == 0 {
        return Vec::new();
    }
    let mut buf = Vec::with_capacity(window);
    sample_indices(points.len(), max_out)
        .into_iter()
        .map(|i| {
            let from = (i + 1).saturating_sub(window);
            buf.clear();
            buf.extend(points[from..=i].iter().map(|p| p.1));
            buf.sort_unstable_by(f64::total_cmp);
            RollingPoint {
                x: points[i].0,
                p50: percentile_sorted(&buf, 50.0).unwrap_or(f64::NAN),
                p95: percentile_sorted(&buf, 95.0).unwrap_or(f64::NAN),
                p99: percentile_sorted(&buf, 99.0).unwrap_or(f64::NAN),
            }
        })
        .collect()
}

/// Indices of at most `max` of `n` items, evenly spaced, first and last included
/// (all of them when `n <= max`).
pub fn sample_indices(n: usize, max: usize) -> Vec<usize> {
    if n == 0 || max == 0 {
        return Vec::new();
    }
    if n <= max {
        return (0..n).collect();
    }
    if max == 1 {
        return vec![n - 1];
    }
    let mut out: Vec<usize> = (0..max)
        .map(|k| ((k as u128 * (n - 1) as u128) / (max - 1) as u128) as usize)
        .collect();
    out.dedup();
    out
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Larger values are better (throughputs).
    Higher,
    /// Smaller values are better (latencies).
    Lower,
}

/// Which points lie on the Pareto frontier, y higher-is-better and x better in
/// the direction `x_better` (AIPerf's rule, `../shared/reference`
/// server-metrics-and-plots.md §2.2): scan from the best x to the worst, keeping
/// the best y seen; a point is on the frontier when its y is at least that best
/// (ties kept). Among equal x the higher y is scanned first. Points with a
/// non-finite coordinate are never on it.
pub fn pareto_frontier(points: &[(f64, f64)], x_better: Better) -> Vec<bool> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        let (xa, ya) = points[a];
        let (xb, yb) = points[b];
        let by_x = match x_better {
            Better::Higher => xb.total_cmp(&xa),
            Better::Lower => xa.total_cmp(&xb),
        };
        by_x.then(yb.total_cmp(&ya))
    });
    let mut on = vec![false; points.len()];
    let mut best = f64::NEG_INFINITY;
    for i in order {
        if points[i].1 >= best {
            on[i] = true;
            best = points[i].1;
        }
    }
    on
}

/// The generation phase of one request, for the dispersed throughput.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generation {
    /// First token time (request start + TTFT), seconds.
    pub start_s: f64,
    /// Request end, seconds.
    pub end_s: f64,
    /// Output tokens of the request.
    pub tokens: f64,
}

/// Dispersed output-token throughput (AIPerf's `dispersed_throughput_over_time`):
/// each request contributes `tokens / (end − first token)` tokens/s during its
/// generation and nothing before its first token; summed over requests, event by
/// event (no binning). Returned as a step function: `(t, rate)` holds from `t` to
/// the next step; the last step is `(last end, 0)`. Requests without a positive
/// generation time or without tokens are left out.
pub fn dispersed_throughput(gens: &[Generation]) -> Vec<(f64, f64)> {
    let mut events: Vec<(f64, f64)> = Vec::with_capacity(gens.len() * 2);
    for g in gens {
        let dur = g.end_s - g.start_s;
        if dur > 0.0 && g.tokens > 0.0 && dur.is_finite() && g.tokens.is_finite() {
            let rate = g.tokens / dur;
            events.push((g.start_s, rate));
            events.push((g.end_s, -rate));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut steps: Vec<(f64, f64)> = Vec::new();
    let mut rate = 0.0;
    for (t, d) in events {
        rate += d;
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = rate,
            _ => steps.push((t, rate)),
        }
    }
    // Sums of floating-point rates do not cancel exactly: the end is 0.
    if let Some(last) = steps.last_mut() {
        last.1 = 0.0;
    }
    steps
}

/// The time-weighted average of a step function (as [`dispersed_throughput`]
/// returns) over `bins` equal bins from its first to its last step: `(bin
/// start, average)`. Exact integration, for drawing a long step function with a
/// bounded number of points.
pub fn step_average(steps: &[(f64, f64)], bins: usize) -> Vec<(f64, f64)> {
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Vec::new();
    };
    let (t0, t1) = (first.0, last.0);
    if bins == 0 || t1 <= t0 {
        return Vec::new();
    }
    let width = (t1 - t0) / bins as f64;
    let mut area = vec![0.0; bins];
    for w in steps.windows(2) {
        let (a, rate) = w[0];
        let b = w[1].0;
        if rate == 0.0 || b <= a {
            continue;
        }
        let first_bin = (((a - t0) / width) as usize).min(bins - 1);
        let last_bin = (((b - t0) / width) as usize).min(bins - 1);
        for (k, bin_area) in area
            .iter_mut()
            .enumerate()
            .take(last_bin + 1)
            .skip(first_bin)
        {
            let lo = (t0 + k as f64 * width).max(a);
            let hi = (t0 + (k + 1) as f64 * width).min(b);
            if hi > lo {
                *bin_area += rate * (hi - lo);
            }
        }
    }
    area.iter()
        .enumerate()
        .map(|(k, a)| (t0 + k as f64 * width, a / width))
        .collect()
}

/// Counts of `times` per bin of `width` from `t0`: `(bin start, count)` for every
/// bin from the first to the last non-empty one (empty bins in between are 0).
pub fn counts_per_bin(times: &[f64], t0: f64, width: f64) -> Vec<(f64, f64)> {
    if times.is_empty() || width <= 0.0 {
        return Vec::new();
    }
    let bin = |t: f64| ((t - t0) / width).floor().max(0.0) as usize;
    let last = times.iter().map(|&t| bin(t)).max().unwrap_or(0);
    let mut counts = vec![0.0; last + 1];
    for &t in times {
        counts[bin(t)] += 1.0;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(k, c)| (t0 + k as f64 * width, c))
        .collect()
}

/// A readable bin width for a span of `span` seconds cut into about `target`
/// bins: 1, 2 or 5 times a power of ten seconds.
pub fn nice_bin_width(span: f64, target: usize) -> f64 {
    if span <= 0.0 || target == 0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|w| *w >= raw)
        .unwrap_or(10.0 * mag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // rank = q/100 * 3: p50 -> 1.5 -> 2.5; p95 -> 2.85 -> 3.85; p99 -> 2.97 -> 3.97.
        assert_eq!(percentile_sorted(&v, 50.0), Some(2.5));
        assert!((percentile_sorted(&v, 95.0).unwrap() - 3.85).abs() < 1e-12);
        assert!((percentile_sorted(&v, 99.0).unwrap() - 3.97).abs() < 1e-12);
        assert_eq!(percentile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(percentile_sorted(&v, 100.0), Some(4.0));
        assert_eq!(percentile_sorted(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile_sorted(&[], 50.0), None);
    }

    #[test]
    fn rolling_percentiles_use_the_trailing_window() {
        let pts: Vec<(f64, f64)> = [10.0, 20.0, 30.0, 40.0, 100.0]
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect();
        let r = rolling_percentiles(&pts, 3, 100);
        assert_eq!(r.len(), 5);
        // i=0: [10] -> everything 10.
        assert_eq!(
            r[0],
            RollingPoint {
                x: 0.0,
                p50: 10.0,
                p95: 10.0,
                p99: 10.0
            }
        );
        // i=1: [10,20]: p50 = 15, p95 = 10 + 0.95*10 = 19.5, p99 = 19.9.
        assert_eq!(r[1].p50, 15.0);
        assert!((r[1].p95 - 19.5).abs() < 1e-12);
        assert!((r[1].p99 - 19.9).abs() < 1e-12);
        // i=4: [30,40,100]: p50 = 40; p95: rank 1.9 -> 40 + 0.9*60 = 94; p99: rank 1.98 -> 98.8.
        assert_eq!(r[4].x, 4.0);
        assert_eq!(r[4].p50, 40.0);
        assert!((r[4].p95 - 94.0).abs() < 1e-9);
        assert!((r[4].p99 - 98.8).abs() < 1e-9);
        // Evaluated at 2 points only: the first and the last, same values.
        let r2 = rolling_percentiles(&pts, 3, 2);
        assert_eq!(r2, vec![r[0], r[4]]);
    }

    #[test]
    fn rolling_window_bounds() {
        assert_eq!(rolling_window(3), 3);
        assert_eq!(rolling_window(40), 5);
        assert_eq!(rolling_window(400), 20);
        assert_eq!(rolling_window(1_000_000), 1000);
    }

    #[test]
    fn sample_indices_keep_ends() {
        assert_eq!(sample_indices(5, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_indices(11, 3), vec![0, 5, 10]);
        assert_eq!(sample_indices(10, 1), vec![9]);
        assert!(sample_indices(0, 3).is_empty());
        let s = sample_indices(1_000_000, 2000);
        assert_eq!(s.len(), 2000);
        assert_eq!(*s.last().unwrap(), 999_999);
    }

    #[test]
    fn pareto_frontier_higher_x_is_better() {
        // TPS/user (x, higher better) vs TPS/GPU (y, higher better).
        let pts = [
            (10.0, 100.0),
            (20.0, 90.0),
            (15.0, 80.0),
            (30.0, 50.0),
            (5.0, 120.0),
            (30.0, 40.0),
        ];
        // Scan x = 30 (y 50: on, best 50), 30 (40 < 50: off), 20 (90: on), 15 (80: off),
        // 10 (100: on), 5 (120: on).
        assert_eq!(
            pareto_frontier(&pts, Better::Higher),
            vec![true, true, false, true, true, false]
        );
    }

    #[test]
    fn pareto_frontier_lower_x_is_better_and_ties_are_kept() {
        // Latency (x, lower better) vs TPS/GPU.
        let pts = [
            (100.0, 50.0),
            (200.0, 50.0),
            (150.0, 80.0),
            (300.0, 70.0),
            (f64::NAN, 999.0),
        ];
        // Scan x = 100 (50: on), 150 (80: on), 200 (50 < 80: off), 300 (70 < 80: off).
        assert_eq!(
            pareto_frontier(&pts, Better::Lower),
            vec![true, false, true, false, false]
        );
        // Equal y at a worse x is kept when it ties the best so far.
        let tie = [(1.0, 5.0), (2.0, 5.0)];
        assert_eq!(pareto_frontier(&tie, Better::Lower), vec![true, true]);
    }

    #[test]
    fn dispersed_throughput_sums_generation_rates() {
        // A: first token at 0, end 2, 10 tokens -> 5 tok/s; B: 1..3, 4 tokens -> 2 tok/s.
        let g = [
            Generation {
                start_s: 0.0,
                end_s: 2.0,
                tokens: 10.0,
            },
            Generation {
                start_s: 1.0,
                end_s: 3.0,
                tokens: 4.0,
            },
            // No generation time: left out.
            Generation {
                start_s: 1.5,
                end_s: 1.5,
                tokens: 3.0,
            },
        ];
        assert_eq!(
            dispersed_throughput(&g),
            vec![(0.0, 5.0), (1.0, 7.0), (2.0, 2.0), (3.0, 0.0)]
        );
        assert!(dispersed_throughput(&[]).is_empty());
    }

    #[test]
    fn step_average_integrates_exactly() {
        let steps = [(0.0, 5.0), (1.0, 7.0), (2.0, 2.0), (3.0, 0.0)];
        // 3 bins of 1 s: the step values.
        assert_eq!(
            step_average(&steps, 3),
            vec![(0.0, 5.0), (1.0, 7.0), (2.0, 2.0)]
        );
        // 2 bins of 1.5 s: (5*1 + 7*0.5)/1.5 = 5.666..., (7*0.5 + 2*1)/1.5 = 3.666...
        let b = step_average(&steps, 2);
        assert!((b[0].1 - 8.5 / 1.5).abs() < 1e-12);
        assert!((b[1].1 - 5.5 / 1.5).abs() < 1e-12);
        assert_eq!(b[1].0, 1.5);
    }

    #[test]
    fn counts_per_bin_fill_gaps() {
        let t = [0.1, 0.2, 2.5, 0.9];
        assert_eq!(
            counts_per_bin(&t, 0.0, 1.0),
            vec![(0.0, 3.0), (1.0, 0.0), (2.0, 1.0)]
        );
        assert!(counts_per_bin(&[], 0.0, 1.0).is_empty());
    }

    #[test]
    fn nice_bin_widths() {
        assert_eq!(nice_bin_width(10.0, 20), 0.5);
        assert_eq!(nice_bin_width(60.0, 20), 5.0);
        assert_eq!(nice_bin_width(1.0, 10), 0.1);
    }
}
