//! Distribution statistics (`docs/metrics.md` §8): mean, min, max, population standard
//! deviation, linear-interpolation percentiles (numpy's default method), count
//! and sum; and the nearest-rank percentiles of the error-adjusted bands (§5.3).

/// The percentiles of every distribution block.
pub const PERCENTILES: [u8; 9] = [1, 5, 10, 25, 50, 75, 90, 95, 99];

/// Statistics of a non-empty set of values (same unit as the values).
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionStats {
    /// Number of values.
    pub count: u64,
    /// Sum of the values (sequential summation, input order).
    pub sum: f64,
    /// `sum / count`.
    pub avg: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Population standard deviation (ddof = 0).
    pub std: f64,
    /// `(p, value)` for every p of [`PERCENTILES`], linear interpolation.
    pub percentiles: [(u8, f64); 9],
}

impl DistributionStats {
    /// Computes the statistics of `values` (any order); `None` when empty.
    /// NaNs must not be passed (callers drop non-finite values on ingestion).
    pub fn from_values(values: &[f64]) -> Option<DistributionStats> {
        Self::from_set(values)
    }

    /// [`DistributionStats::from_values`] of a [`ValueSet`], possibly on disk:
    /// the same arithmetic in the same order, so the results are bit-identical.
    pub fn from_set(values: &(impl ValueSet + ?Sized)) -> Option<DistributionStats> {
        let n = values.count();
        if n == 0 {
            return None;
        }
        let sum = ordered_sum(values, |x| x);
        let avg = sum / n as f64;
        let ss = ordered_sum(values, |x| (x - avg) * (x - avg));
        let mut wanted = vec![0, n - 1];
        for p in PERCENTILES {
            let (lo, hi, _) = linear_ranks(n, f64::from(p));
            wanted.extend([lo, hi]);
        }
        let at = Ranked::select(values, wanted);
        Some(DistributionStats {
            count: n as u64,
            sum,
            avg,
            min: at.get(0),
            max: at.get(n - 1),
            std: (ss / n as f64).sqrt(),
            percentiles: PERCENTILES.map(|p| {
                let (lo, hi, t) = linear_ranks(n, f64::from(p));
                (p, lerp(at.get(lo), at.get(hi), t))
            }),
        })
    }

    /// The given percentile, if it is one of [`PERCENTILES`].
    pub fn percentile(&self, p: u8) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, v)| *v)
    }
}

/// A multiset of finite values that can be walked in insertion order and asked
/// for its values at sorted positions: a slice in memory, or a spilled summary
/// column ([`crate::summary`]) that merges its sorted runs from disk.
pub trait ValueSet {
    /// Number of values.
    fn count(&self) -> usize;
    /// Calls `f` on every value, in insertion order.
    fn for_each_value(&self, f: &mut dyn FnMut(f64));
    /// The values at the ascending, distinct sorted positions `ranks` (each
    /// `< count`), in the order of `ranks` (`f64::total_cmp` order).
    fn at_ranks(&self, ranks: &[usize]) -> Vec<f64>;
}

impl ValueSet for [f64] {
    fn count(&self) -> usize {
        self.len()
    }
    fn for_each_value(&self, f: &mut dyn FnMut(f64)) {
        self.iter().copied().for_each(f);
    }
    fn at_ranks(&self, ranks: &[usize]) -> Vec<f64> {
        let mut sorted = self.to_vec();
        sorted.sort_by(f64::total_cmp);
        ranks.iter().map(|r| sorted[*r]).collect()
    }
}

impl ValueSet for Vec<f64> {
    fn count(&self) -> usize {
        self.len()
    }
    fn for_each_value(&self, f: &mut dyn FnMut(f64)) {
        self.as_slice().for_each_value(f);
    }
    fn at_ranks(&self, ranks: &[usize]) -> Vec<f64> {
        self.as_slice().at_ranks(ranks)
    }
}

/// Values at some sorted positions of a [`ValueSet`].
struct Ranked {
    ranks: Vec<usize>,
    values: Vec<f64>,
}

impl Ranked {
    fn select(set: &(impl ValueSet + ?Sized), mut ranks: Vec<usize>) -> Ranked {
        ranks.sort_unstable();
        ranks.dedup();
        let values = set.at_ranks(&ranks);
        Ranked { ranks, values }
    }

    fn get(&self, rank: usize) -> f64 {
        self.values[self.ranks.binary_search(&rank).expect("a selected rank")]
    }
}

/// `Σ f(x)` in insertion order, bit-identical to `values.iter().map(f).sum()`
/// (`f64`'s `Sum` is a left fold from its own empty sum).
fn ordered_sum(values: &(impl ValueSet + ?Sized), f: impl Fn(f64) -> f64) -> f64 {
    let mut acc: f64 = std::iter::empty::<f64>().sum();
    values.for_each_value(&mut |x| acc += f(x));
    acc
}

/// Sum in input order.
pub fn sum(values: &[f64]) -> f64 {
    values.iter().sum()
}

/// Arithmetic mean, `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| sum(values) / values.len() as f64)
}

/// Population standard deviation `sqrt(Σ(x - mean)² / n)`, `None` when empty.
pub fn population_std(values: &[f64]) -> Option<f64> {
    mean(values).map(|m| {
        let ss: f64 = values.iter().map(|x| (x - m) * (x - m)).sum();
        (ss / values.len() as f64).sqrt()
    })
}

/// The sorted positions `(lo, hi)` and the fraction `t` of the linear
/// percentile `p` of `n > 0` values (see [`percentile_linear`]).
fn linear_ranks(n: usize, p: f64) -> (usize, usize, f64) {
    let idx = (n - 1) as f64 * (p / 100.0);
    let lo_f = idx.floor();
    let lo = (lo_f as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    (lo, hi, idx - lo_f)
}

/// numpy's `_lerp`: from the upper end when the fraction is ≥ 0.5.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b {
        return a;
    }
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Percentile `p` (0–100) of ascending `sorted` values by linear interpolation
/// between closest ranks, numpy's default (`docs/metrics.md` §8):
/// `idx = p/100 * (n-1)`, `lo = floor(idx)`, `hi = min(lo+1, n-1)`,
/// `x[lo] + (idx-lo) * (x[hi]-x[lo])`. The interpolation is evaluated like
/// numpy's `_lerp` (from the upper end when the fraction is ≥ 0.5) so results are
/// bit-identical to `numpy.percentile`. `None` when empty.
pub fn percentile_linear(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let (lo, hi, t) = linear_ranks(sorted.len(), p);
    Some(lerp(sorted[lo], sorted[hi], t))
}

/// Percentile `p` (0–100) of ascending `sorted` values by the nearest-rank rule
/// AIPerf uses for the error-adjusted bands (`numpy.percentile(method="nearest")`):
/// the element at index `round_half_even(p/100 * (n-1))`. It never interpolates,
/// so `+inf` entries (failed requests) stay usable. `None` when empty.
pub fn percentile_nearest(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let idx = ((n - 1) as f64 * (p / 100.0)).round_ties_even();
    Some(sorted[(idx as usize).min(n - 1)])
}

/// An error-adjusted band (`docs/metrics.md` §8): the successful values plus one
/// `+inf` per error record. Its mean, max, std and sum are infinite/undefined
/// and therefore not part of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustedStats {
    /// Successful values + errors.
    pub count: u64,
    /// Smallest value (finite unless there were no successful values).
    pub min: f64,
    /// `(p, value)` for every p of [`PERCENTILES`], nearest rank; `+inf` when the
    /// rank falls on a failed request.
    pub percentiles: [(u8, f64); 9],
}

/// The error-adjusted band of `values` with `error_count` failures; `None` when
/// there are no errors or no successful values (AIPerf emits no band then).
pub fn error_adjusted(values: &[f64], error_count: u64) -> Option<AdjustedStats> {
    error_adjusted_of(values, error_count)
}

/// [`error_adjusted`] of a [`ValueSet`], possibly on disk (bit-identical).
pub fn error_adjusted_of(
    values: &(impl ValueSet + ?Sized),
    error_count: u64,
) -> Option<AdjustedStats> {
    let n = values.count();
    if error_count == 0 || n == 0 {
        return None;
    }
    let total = n + error_count as usize;
    // The nearest-rank position in the inflated list [sorted values.., inf × errors].
    let rank = |p: u8| {
        let idx = ((total - 1) as f64 * (f64::from(p) / 100.0)).round_ties_even();
        (idx as usize).min(total - 1)
    };
    let mut wanted = vec![0];
    wanted.extend(PERCENTILES.map(rank).into_iter().filter(|r| *r < n));
    let at = Ranked::select(values, wanted);
    let value = |r: usize| if r < n { at.get(r) } else { f64::INFINITY };
    Some(AdjustedStats {
        count: total as u64,
        min: at.get(0),
        percentiles: PERCENTILES.map(|p| (p, value(rank(p)))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn pct(s: &DistributionStats) -> Vec<f64> {
        s.percentiles.iter().map(|(_, v)| *v).collect()
    }

    #[test]
    fn single_value_every_stat_is_the_value() {
        let s = DistributionStats::from_values(&[7.5]).unwrap();
        assert_eq!(
            (s.count, s.sum, s.avg, s.min, s.max, s.std),
            (1, 7.5, 7.5, 7.5, 7.5, 0.0)
        );
        assert_eq!(pct(&s), vec![7.5; 9]);
        assert!(DistributionStats::from_values(&[]).is_none());
    }

    #[test]
    fn two_values() {
        // x = [10, 20] (given unsorted); n-1 = 1 so idx = p/100 and p = 10 + (p/100)*10
        let s = DistributionStats::from_values(&[20.0, 10.0]).unwrap();
        assert_eq!(
            (s.count, s.sum, s.avg, s.min, s.max),
            (2, 30.0, 15.0, 10.0, 20.0)
        );
        // mean 15, deviations ±5, variance (25+25)/2 = 25, std 5 (population, not sample 7.07)
        assert_eq!(s.std, 5.0);
        // p1 = 10.1, p5 = 10.5, p10 = 11, p25 = 12.5, p50 = 15, p75 = 17.5, p90 = 19, p95 = 19.5, p99 = 19.9
        let want = [10.1, 10.5, 11.0, 12.5, 15.0, 17.5, 19.0, 19.5, 19.9];
        for (got, want) in pct(&s).iter().zip(want) {
            assert!(close(*got, want), "{got} vs {want}");
        }
    }

    #[test]
    fn five_values() {
        // x = [1, 2, 3, 4, 10]; n-1 = 4, idx = p/100*4
        let s = DistributionStats::from_values(&[4.0, 1.0, 10.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.sum, s.avg, s.min, s.max), (20.0, 4.0, 1.0, 10.0));
        // deviations from 4: -3,-2,-1,0,6 -> squares 9+4+1+0+36 = 50; 50/5 = 10; std = sqrt(10)
        assert!(close(s.std, 10f64.sqrt()));
        // p1: idx 0.04 -> 1 + 0.04*1 = 1.04
        // p5: idx 0.2 -> 1.2 ; p10: idx 0.4 -> 1.4 ; p25: idx 1.0 -> 2 ; p50: idx 2 -> 3
        // p75: idx 3 -> 4 ; p90: idx 3.6 -> 4 + 0.6*6 = 7.6 ; p95: idx 3.8 -> 4 + 0.8*6 = 8.8
        // p99: idx 3.96 -> 4 + 0.96*6 = 9.76
        let want = [1.04, 1.2, 1.4, 2.0, 3.0, 4.0, 7.6, 8.8, 9.76];
        for (got, want) in pct(&s).iter().zip(want) {
            assert!(close(*got, want), "{got} vs {want}");
        }
        // and bit-identical to numpy 2.4 (repr of numpy.percentile on the same data)
        assert_eq!(
            pct(&s),
            vec![
                1.04,
                1.2,
                1.4,
                2.0,
                3.0,
                4.0,
                7.6000000000000005,
                8.799999999999999,
                9.76
            ]
        );
    }

    #[test]
    fn ten_values() {
        // x = 10, 20, ..., 100; n-1 = 9, idx = p/100*9, neighbours differ by 10
        let v: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
        let s = DistributionStats::from_values(&v).unwrap();
        assert_eq!((s.sum, s.avg), (550.0, 55.0));
        // deviations ±5,±15,±25,±35,±45: 2*(25+225+625+1225+2025) = 8250; /10 = 825
        assert!(close(s.std, 825f64.sqrt()));
        // p1: idx .09 -> 10.9 ; p5: .45 -> 14.5 ; p10: .9 -> 19 ; p25: 2.25 -> 32.5 ; p50: 4.5 -> 55
        // p75: 6.75 -> 77.5 ; p90: 8.1 -> 91 ; p95: 8.55 -> 95.5 ; p99: 8.91 -> 99.1
        let want = [10.9, 14.5, 19.0, 32.5, 55.0, 77.5, 91.0, 95.5, 99.1];
        for (got, want) in pct(&s).iter().zip(want) {
            assert!(close(*got, want), "{got} vs {want}");
        }
        // numpy 2.4 bits: p95 prints as 95.49999999999999
        assert_eq!(
            pct(&s),
            vec![
                10.9,
                14.5,
                19.0,
                32.5,
                55.0,
                77.5,
                91.0,
                95.49999999999999,
                99.1
            ]
        );
    }

    #[test]
    fn linear_matches_numpy_bits() {
        // numpy.percentile([0.1, 0.2, 0.7], [1, 50, 75, 99]) printed with repr():
        // 0.10200000000000001, 0.2, 0.44999999999999996, 0.69
        // (p1: idx = 0.01*2 = 0.02 -> 0.1 + 0.02*0.1 = 0.102)
        let x = [0.1, 0.2, 0.7];
        assert_eq!(percentile_linear(&x, 1.0), Some(0.10200000000000001));
        assert_eq!(percentile_linear(&x, 50.0), Some(0.2));
        assert_eq!(percentile_linear(&x, 75.0), Some(0.44999999999999996));
        assert_eq!(percentile_linear(&x, 99.0), Some(0.69));
        assert_eq!(percentile_linear(&[], 50.0), None);
    }

    #[test]
    fn mean_and_std_helpers() {
        assert_eq!(mean(&[]), None);
        // [2,4,4,4,5,5,7,9]: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, /8 = 4, std 2
        assert_eq!(mean(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), Some(5.0));
        assert_eq!(
            population_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
            Some(2.0)
        );
    }

    #[test]
    fn nearest_rank_rounds_half_to_even() {
        // n = 2: idx = p/100 -> p50 idx 0.5 rounds to 0 (half to even), p75 idx .75 -> 1
        let x = [1.0, 2.0];
        assert_eq!(percentile_nearest(&x, 50.0), Some(1.0));
        assert_eq!(percentile_nearest(&x, 75.0), Some(2.0));
        // n = 4: p50 idx 1.5 rounds to 2
        assert_eq!(percentile_nearest(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(3.0));
    }

    #[test]
    fn error_adjusted_band_with_inf() {
        // successes [40, 10, 30, 20] + 2 errors -> [10, 20, 30, 40, inf, inf], n = 6, n-1 = 5
        let a = error_adjusted(&[40.0, 10.0, 30.0, 20.0], 2).unwrap();
        assert_eq!((a.count, a.min), (6, 10.0));
        // idx = round_half_even(p/100*5):
        // p1 .05->0 (10); p5 .25->0 (10); p10 .5->0 (10, half to even); p25 1.25->1 (20)
        // p50 2.5->2 (30, half to even); p75 3.75->4 (inf); p90 4.5->4 (inf); p95 4.75->5 (inf); p99 4.95->5 (inf)
        let inf = f64::INFINITY;
        let got: Vec<f64> = a.percentiles.iter().map(|(_, v)| *v).collect();
        assert_eq!(got, vec![10.0, 10.0, 10.0, 20.0, 30.0, inf, inf, inf, inf]);
        assert!(error_adjusted(&[1.0], 0).is_none());
        assert!(error_adjusted(&[], 3).is_none());
    }
}
