//! Sweep-line metrics (AIPerf 0.13): the concurrency and token rates the server
//! really had, as step functions over time, summarised with **time-weighted**
//! statistics (`docs/metrics.md` § Sweep-line metrics).
//!
//! Each valid request contributes an interval `[start, end)` split at its first
//! token into prefill `[start, first)` and decode `[first, end)`:
//!
//! * concurrency +1 over `[start, end)`, prefill concurrency over
//!   `[start, first)`, generation concurrency over `[first, end)`;
//! * prefill throughput `ISL / (first − start)` over `[start, first)`, decode
//!   throughput `(OSL − 1) / (end − first)` over `[first, end)` (the first token
//!   arrives at `first`), total = both;
//! * per-user throughputs = throughput ÷ the matching concurrency (0 where none);
//! * tokens in flight: `ISL` over `[start, end)` (when `first > start`) plus `OSL`
//!   over `[first, end)` (when `end > first`).
//!
//! `effective_*` statistics weigh each constant piece by its duration over the
//! window `[earliest start, latest end]` (idle time counts as 0); the `*_active`
//! ones only over the pieces where the matching concurrency is ≥ 1. Percentile
//! `p` is the smallest value whose cumulative duration share reaches `p`%.
//!
//! Storage is one 32-byte [`Interval`] per valid record, kept apart from the
//! summary accumulator in a [`SpillLog`]: beyond its [`SpillConfig`] budget the
//! intervals go to an unlinked temporary file, so memory stays flat during a run.
//! At summary time the intervals are streamed (from memory and the file) once per
//! curve and the curves built one at a time: the transient memory then grows with
//! the record count (about 24 bytes per record for the grid and 24 per curve, two
//! curves at a time, plus a 4-byte index per piece).

use crate::catalogue::{MetricSpec, spec, tags};
use crate::context::MetricContext;
use crate::spill::{Fixed, SpillConfig, SpillLog, get_u32, get_u64};
use crate::units::NANOS_PER_SECOND;
use aiperf_protocol::record::{MetricRecord, MetricValue};
use aiperf_protocol::results::{MetricResult, PhaseResults};

/// What one request left for the sweep line (absent values: `u64::MAX`/`u32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interval {
    start_ns: u64,
    end_ns: u64,
    first_token_ns: u64,
    isl: u32,
    osl: u32,
}

const NONE64: u64 = u64::MAX;
const NONE32: u32 = u32::MAX;

impl Fixed for Interval {
    const SIZE: usize = 32;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.start_ns.to_le_bytes());
        out.extend_from_slice(&self.end_ns.to_le_bytes());
        out.extend_from_slice(&self.first_token_ns.to_le_bytes());
        out.extend_from_slice(&self.isl.to_le_bytes());
        out.extend_from_slice(&self.osl.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        Interval {
            start_ns: get_u64(b, 0),
            end_ns: get_u64(b, 8),
            first_token_ns: get_u64(b, 16),
            isl: get_u32(b, 24),
            osl: get_u32(b, 28),
        }
    }
}

impl Interval {
    fn first(&self) -> Option<u64> {
        (self.first_token_ns != NONE64).then_some(self.first_token_ns)
    }
    fn isl(&self) -> Option<f64> {
        (self.isl != NONE32).then_some(f64::from(self.isl))
    }
    fn osl(&self) -> Option<f64> {
        (self.osl != NONE32).then_some(f64::from(self.osl))
    }
    /// `[start, first)` when the request had a prefill phase.
    fn prefill(&self) -> Option<(u64, u64)> {
        self.first()
            .filter(|f| *f > self.start_ns)
            .map(|f| (self.start_ns, f))
    }
    /// `[first, end)` when the request had a decode phase.
    fn decode(&self) -> Option<(u64, u64)> {
        self.first()
            .filter(|f| self.end_ns > *f)
            .map(|f| (f, self.end_ns))
    }
}

/// Collects the intervals of a phase's valid records and computes the
/// sweep-line metrics.
#[derive(Debug, Clone)]
pub struct SweepLine {
    intervals: SpillLog<Interval>,
    spill: SpillConfig,
    file: Option<std::sync::Arc<std::fs::File>>,
    /// The first spill failure (the intervals then stay in memory).
    spill_error: Option<String>,
}

impl Default for SweepLine {
    fn default() -> Self {
        Self::with_spill(SpillConfig::in_memory())
    }
}

impl SweepLine {
    /// No interval yet; everything kept in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// No interval yet; intervals beyond `spill`'s budget go to disk.
    pub fn with_spill(spill: SpillConfig) -> Self {
        SweepLine {
            intervals: SpillLog::default(),
            spill,
            file: None,
            spill_error: None,
        }
    }

    /// Number of intervals held.
    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    /// No interval held.
    pub fn is_empty(&self) -> bool {
        self.intervals.len() == 0
    }

    /// Why spilling failed, if it did (the intervals then stay in memory).
    pub fn spill_error(&self) -> Option<&str> {
        self.spill_error.as_deref()
    }

    /// Moves the in-memory intervals to the spill file (created on first use).
    fn spill_tail(&mut self) {
        if self.spill_error.is_some() {
            return;
        }
        let file = match &self.file {
            Some(f) => Ok(f.clone()),
            None => self.spill.create_file(),
        };
        let result = file.and_then(|f| {
            self.file = Some(f.clone());
            self.intervals.spill(&f)
        });
        if let Err(e) = result {
            self.spill_error = Some(format!(
                "cannot spill the sweep-line intervals to disk ({e}); they stay in memory"
            ));
        }
    }

    /// Adds one request: wall-clock start and end, the wall-clock time of its
    /// first token (streaming), its ISL and OSL. An interval with `end < start`
    /// is ignored.
    pub fn add_interval(
        &mut self,
        start_ns: u64,
        first_token_ns: Option<u64>,
        end_ns: u64,
        isl: Option<u64>,
        osl: Option<u64>,
    ) {
        if end_ns < start_ns {
            return;
        }
        let small = |v: Option<u64>| v.map_or(NONE32, |x| x.min(u64::from(NONE32 - 1)) as u32);
        self.intervals.push(Interval {
            start_ns,
            end_ns,
            first_token_ns: first_token_ns
                .filter(|f| (start_ns..=end_ns).contains(f))
                .unwrap_or(NONE64),
            isl: small(isl),
            osl: small(osl),
        });
        if self.intervals.tail_bytes() > self.spill.budget_bytes {
            self.spill_tail();
        }
    }

    /// Adds a metric record: valid records only (errors have no interval); the
    /// first token is `request_start_ns + time_to_first_token`.
    pub fn add(&mut self, record: &MetricRecord) {
        if record.error.is_some() {
            return;
        }
        let scalar = |tag: &str| {
            record.metrics.iter().find_map(|(t, v)| match v {
                MetricValue::Scalar(x) if t == tag && x.is_finite() && *x >= 0.0 => Some(*x),
                _ => None,
            })
        };
        let m = &record.metadata;
        self.add_interval(
            m.request_start_ns,
            scalar(tags::TIME_TO_FIRST_TOKEN).map(|t| m.request_start_ns + t.round() as u64),
            m.request_end_ns,
            scalar(tags::INPUT_SEQUENCE_LENGTH).map(|v| v.round() as u64),
            scalar(tags::OUTPUT_SEQUENCE_LENGTH).map(|v| v.round() as u64),
        );
    }

    /// The sweep-line results visible in `ctx`, in display units.
    ///
    /// Curves are built a pair at a time and dropped once summarised, so the
    /// transient memory is the grid plus two curves (8 bytes per event time each)
    /// plus a 4-byte index per piece.
    pub fn results(&self, ctx: &MetricContext) -> Vec<MetricResult> {
        let ivs = &self.intervals;
        let Some(grid) = Grid::of(ivs) else {
            return Vec::new();
        };
        let show = |tag: &str| {
            let s = spec(tag);
            (ctx.computes(s) && ctx.shows(s)).then_some(s)
        };
        let mut out = Vec::new();
        let mut put = |tag: &str, st: Option<WeightedStats>| {
            if let (Some(s), Some(st)) = (show(tag), st) {
                out.push(st.result(s));
            }
        };
        let all = |iv: &Interval| Some(((iv.start_ns, iv.end_ns), 1.0));
        if show(tags::EFFECTIVE_CONCURRENCY).is_some() {
            let conc = grid.curve(ivs, all);
            put(
                tags::EFFECTIVE_CONCURRENCY,
                grid.stats(|i| conc[i], |_| true),
            );
        }
        let streaming_tags = [
            tags::EFFECTIVE_THROUGHPUT,
            tags::EFFECTIVE_PREFILL_THROUGHPUT,
            tags::EFFECTIVE_GENERATION_CONCURRENCY,
            tags::EFFECTIVE_PREFILL_CONCURRENCY,
            tags::EFFECTIVE_TOTAL_THROUGHPUT,
            tags::EFFECTIVE_THROUGHPUT_PER_USER,
            tags::EFFECTIVE_PREFILL_THROUGHPUT_PER_USER,
            tags::TOKENS_IN_FLIGHT,
        ];
        if streaming_tags.iter().all(|t| show(t).is_none()) || !any_first_token(ivs) {
            return out;
        }
        let decode_rate = |iv: &Interval| {
            let (a, b) = iv.decode()?;
            Some((
                (a, b),
                (iv.osl()? - 1.0).max(0.0) / (b - a) as f64 * NANOS_PER_SECOND,
            ))
        };
        let prefill_rate = |iv: &Interval| {
            let (a, b) = iv.prefill()?;
            Some(((a, b), iv.isl()? / (b - a) as f64 * NANOS_PER_SECOND))
        };
        // Phase by phase: the rate, its concurrency, the rate per user.
        let phases: [(PhaseTags, PhaseRate<'_>, PhaseSpan); 2] = [
            (
                [
                    tags::EFFECTIVE_THROUGHPUT,
                    tags::EFFECTIVE_GENERATION_CONCURRENCY,
                    tags::EFFECTIVE_THROUGHPUT_PER_USER,
                    tags::EFFECTIVE_DECODE_THROUGHPUT_ACTIVE,
                    tags::EFFECTIVE_DECODE_THROUGHPUT_PER_USER_ACTIVE,
                ],
                &decode_rate,
                Interval::decode,
            ),
            (
                [
                    tags::EFFECTIVE_PREFILL_THROUGHPUT,
                    tags::EFFECTIVE_PREFILL_CONCURRENCY,
                    tags::EFFECTIVE_PREFILL_THROUGHPUT_PER_USER,
                    tags::EFFECTIVE_PREFILL_THROUGHPUT_ACTIVE,
                    tags::EFFECTIVE_PREFILL_THROUGHPUT_PER_USER_ACTIVE,
                ],
                &prefill_rate,
                Interval::prefill,
            ),
        ];
        for ([rate_tag, conc_tag, user_tag, active_tag, user_active_tag], rate_of, span) in phases {
            let rate = grid.curve(ivs, rate_of);
            let conc = grid.curve(ivs, |iv: &Interval| span(iv).map(|p| (p, 1.0)));
            let per_user = |i: usize| {
                if conc[i] > 0.0 {
                    rate[i] / conc[i]
                } else {
                    0.0
                }
            };
            let active = |i: usize| conc[i] > 0.0;
            put(rate_tag, grid.stats(|i| rate[i], |_| true));
            put(conc_tag, grid.stats(|i| conc[i], |_| true));
            put(user_tag, grid.stats(per_user, |_| true));
            put(active_tag, grid.stats(|i| rate[i], active));
            put(user_active_tag, grid.stats(per_user, active));
        }
        let total = grid.curve2(ivs, |iv: &Interval| {
            decode_rate(iv)
                .into_iter()
                .chain(prefill_rate(iv))
                .collect()
        });
        put(
            tags::EFFECTIVE_TOTAL_THROUGHPUT,
            grid.stats(|i| total[i], |_| true),
        );
        let conc = grid.curve(ivs, all);
        put(
            tags::EFFECTIVE_TOTAL_THROUGHPUT_ACTIVE,
            grid.stats(|i| total[i], |i| conc[i] > 0.0),
        );
        drop((total, conc));
        let in_flight = grid.curve2(ivs, |iv: &Interval| {
            let mut parts = Vec::with_capacity(2);
            if let (Some(_), Some(isl)) = (iv.prefill(), iv.isl()) {
                parts.push(((iv.start_ns, iv.end_ns), isl));
            }
            if let (Some(d), Some(osl)) = (iv.decode(), iv.osl()) {
                parts.push((d, osl));
            }
            parts
        });
        put(
            tags::TOKENS_IN_FLIGHT,
            grid.stats(|i| in_flight[i], |_| true),
        );
        // Display order, as the catalogue's.
        out.sort_by_key(|m| m.display_order);
        out
    }

    /// Appends [`SweepLine::results`] to a phase's results, keeping them sorted by
    /// display order (the records manager's hook).
    pub fn append_to(&self, results: &mut PhaseResults, ctx: &MetricContext) {
        results.metrics.extend(self.results(ctx));
        results.metrics.sort_by(|a, b| {
            a.display_order
                .cmp(&b.display_order)
                .then_with(|| a.tag.cmp(&b.tag))
        });
    }
}

/// The tags of one phase (decode or prefill): rate, concurrency, rate per user,
/// active rate, active rate per user.
type PhaseTags = [&'static str; 5];
/// What a request adds to a phase's rate curve.
type PhaseRate<'a> = &'a dyn Fn(&Interval) -> Option<((u64, u64), f64)>;
/// A request's span in a phase.
type PhaseSpan = fn(&Interval) -> Option<(u64, u64)>;

/// Whether some interval has a first token (streaming).
fn any_first_token(intervals: &SpillLog<Interval>) -> bool {
    let mut any = false;
    intervals.for_each(|iv| any |= iv.first().is_some());
    any
}

/// The distinct event times of all intervals: piece `i` is `[times[i], times[i+1])`.
struct Grid {
    times: Vec<u64>,
}

impl Grid {
    /// The grid of `intervals`; `None` when the window has no length.
    fn of(intervals: &SpillLog<Interval>) -> Option<Grid> {
        let mut times = Vec::with_capacity(intervals.len() * 3);
        intervals.for_each(|iv| {
            times.push(iv.start_ns);
            times.push(iv.end_ns);
            if let Some(f) = iv.first() {
                times.push(f);
            }
        });
        times.sort_unstable();
        times.dedup();
        (times.len() >= 2).then_some(Grid { times })
    }

    fn index(&self, t: u64) -> usize {
        self.times.partition_point(|x| *x < t)
    }

    fn pieces(&self) -> usize {
        self.times.len() - 1
    }

    fn duration(&self, i: usize) -> f64 {
        (self.times[i + 1] - self.times[i]) as f64
    }

    /// The step function that is the sum of `amount` over `[a, b)` for every
    /// `((a, b), amount)` that `part` yields.
    fn curve(
        &self,
        intervals: &SpillLog<Interval>,
        part: impl Fn(&Interval) -> Option<((u64, u64), f64)>,
    ) -> Vec<f64> {
        self.curve2(intervals, |iv| part(iv).into_iter().collect())
    }

    /// [`Grid::curve`] with several parts per interval.
    fn curve2(
        &self,
        intervals: &SpillLog<Interval>,
        parts: impl Fn(&Interval) -> Vec<((u64, u64), f64)>,
    ) -> Vec<f64> {
        let mut values = vec![0.0; self.times.len()];
        intervals.for_each(|iv| {
            for ((a, b), amount) in parts(&iv) {
                if b > a {
                    values[self.index(a)] += amount;
                    values[self.index(b)] -= amount;
                }
            }
        });
        // Deltas to levels, in place.
        values.truncate(self.pieces());
        let mut level = 0.0;
        let mut peak: f64 = 0.0;
        for v in &mut values {
            level += *v;
            peak = peak.max(level.abs());
            *v = level;
        }
        // Rounding residue of large +/− pairs is snapped to 0 (as AIPerf does).
        for v in &mut values {
            if v.abs() < 1e-9 * peak {
                *v = 0.0;
            }
        }
        values
    }

    /// Time-weighted statistics of the pieces `i` with `keep(i)`, piece `i`
    /// having the value `value(i)`; `None` when they have no duration.
    /// Percentile `p` is the smallest value whose cumulative duration share
    /// reaches `p` % (AIPerf's rule).
    fn stats(
        &self,
        value: impl Fn(usize) -> f64,
        keep: impl Fn(usize) -> bool,
    ) -> Option<WeightedStats> {
        let mut idx: Vec<u32> = (0..self.pieces())
            .filter(|i| keep(*i) && self.duration(*i) > 0.0)
            .map(|i| i as u32)
            .collect();
        let total: f64 = idx.iter().map(|i| self.duration(*i as usize)).sum();
        if idx.is_empty() || total <= 0.0 {
            return None;
        }
        let weighted = |f: &dyn Fn(f64) -> f64| {
            idx.iter()
                .map(|i| f(value(*i as usize)) * self.duration(*i as usize))
                .sum::<f64>()
                / total
        };
        let avg = weighted(&|v| v);
        let var = weighted(&|v| (v - avg).powi(2));
        idx.sort_by(|a, b| value(*a as usize).total_cmp(&value(*b as usize)));
        let percentile = |q: f64| {
            let mut cum = 0.0;
            for i in &idx {
                cum += self.duration(*i as usize);
                if cum / total >= q {
                    return value(*i as usize);
                }
            }
            value(idx[idx.len() - 1] as usize)
        };
        Some(WeightedStats {
            avg,
            min: value(idx[0] as usize),
            max: value(idx[idx.len() - 1] as usize),
            std: var.sqrt(),
            percentiles: [50u8, 90, 95, 99]
                .iter()
                .map(|p| (*p, percentile(f64::from(*p) / 100.0)))
                .collect(),
        })
    }
}

/// Duration-weighted statistics of a step function's pieces.
#[derive(Debug, Clone, PartialEq)]
struct WeightedStats {
    avg: f64,
    min: f64,
    max: f64,
    std: f64,
    percentiles: Vec<(u8, f64)>,
}

impl WeightedStats {
    /// The export row (no count, no sum, as AIPerf); values are already in the
    /// display unit (requests, tokens, tokens/sec).
    fn result(self, s: &'static MetricSpec) -> MetricResult {
        MetricResult {
            tag: s.tag.to_string(),
            header: s.header.to_string(),
            unit: s.display_unit.symbol().to_string(),
            avg: Some(self.avg),
            min: Some(self.min),
            max: Some(self.max),
            std: Some(self.std),
            percentiles: self.percentiles,
            count: None,
            sum: None,
            scalar: false,
            display_order: s.display_order,
            console: s.console(),
        }
    }
}
