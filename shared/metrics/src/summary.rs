//! Run summaries: an accumulator fed with metric records that computes the
//! [`PhaseResults`] of a phase (or of a subset of its records, see
//! [`crate::timeslice`]).
//!
//! Storage is columnar, exact and bounded: one [`SpillLog`] of base-unit values
//! per metric tag (list metrics flattened), in arrival order; counts, the run
//! span and the error counts are running totals. Only an accumulator whose
//! timeslices are asked for ([`SummaryAccumulator::new`]) also keeps, per value,
//! the index of its record and, per record, a small [`Row`] (request start/end,
//! response end, error). No raw response is ever needed.
//!
//! Memory: when the in-memory values (and rows) pass the budget of the
//! accumulator's [`SpillConfig`], every column writes them to an unlinked
//! temporary file, once in arrival order and once sorted. At
//! [`SummaryAccumulator::finish`] a distribution is computed column by column
//! from the file: sum and standard deviation by streaming the values in arrival
//! order (the same additions in the same order as in memory, hence bit-identical),
//! min, max and percentiles by a k-way merge of the sorted runs that picks the
//! values at the needed ranks. Peak memory at finish is one column's in-memory
//! tail plus 16 KiB of read buffer per run; the file is gone when the
//! accumulator is dropped. Distinct errors are kept up to
//! [`MAX_DISTINCT_ERRORS`]; later new ones are counted under one catch-all entry.
//!
//! Rules (`docs/metrics.md` §5, §8, §10):
//! * Valid records contribute every metric except error-only ones; error records
//!   contribute **only** error-only metrics (`error_isl`), so errors never enter
//!   latency distributions, token totals or the run span.
//! * Distributions are computed in base units and converted to display units
//!   afterwards; aggregates and derived metrics are scalars (`scalar = true`).
//! * Internal and experimental metrics are left out unless `dev_mode`.
//! * Throughput denominator `D`: for a whole phase ([`SummaryAccumulator::finish`])
//!   `D = benchmark_duration = max_response_timestamp − min_request_timestamp`
//!   over valid records. This reproduces AIPerf's documented formulas
//!   (`request_throughput = request_count / benchmark_duration`); AIPerf 0.13
//!   itself divides by the phase observation window, which is slightly longer.
//!   For timeslices `D` is the slice window length.
//! * `credit_to_start_latency` (= request_start_ns − credit_issued_ns, or −
//!   scheduled_ns for a credit the timing manager sent ahead of its time) and
//!   `effective_latency` (= request_end_ns − intended send time) are distributions
//!   over **all** records (errors included, as in AIPerf 0.13) with a known
//!   `credit_issued_ns` (≠ 0), clamped at 0. The intended send time is the
//!   schedule's `scheduled_ns` in open-loop modes (rate ticks, trace timestamps,
//!   user turns), else `credit_issued_ns` (AIPerf's definition; in open loop the two
//!   differ by the timing manager's own lag), so `effective_latency` is the
//!   coordinated-omission-free latency: it includes any time a request waited
//!   because the client fell behind its schedule.

use crate::catalogue::{MetricFlags, MetricKind, MetricSpec, adjusted_of, lookup, spec, tags};
use crate::context::MetricContext;
use crate::spill::{Fixed, SpillConfig, SpillLog, get_u32, get_u64, write_run};
use crate::stats::{DistributionStats, ValueSet, error_adjusted_of};
use crate::units::{NANOS_PER_SECOND, Unit, convert};
use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::{MetricRecord, MetricValue};
use aiperf_protocol::results::{ErrorSummaryEntry, MetricResult, PhaseResults, ResilienceCounts};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::sync::Arc;

/// Display order given to metrics that are not catalogued.
pub const UNKNOWN_DISPLAY_ORDER: u32 = 10_000;

/// Distinct errors (code, type, message) an accumulator lists one by one; the
/// records of any further distinct error are counted under one catch-all entry
/// (type `OtherErrors`), so a server that puts a request id in every error
/// message cannot make the error summary grow with the run.
pub const MAX_DISTINCT_ERRORS: usize = 1000;

/// What one record left for timeslices besides its metric values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    /// Wall-clock ns at request start.
    pub start_ns: u64,
    /// Wall-clock ns at request end.
    pub end_ns: u64,
    /// Index into the distinct errors, for error records.
    pub error: Option<u32>,
    /// The record's error reports a context-length overflow.
    pub overflow: bool,
    /// `request_start_ns + request_latency` (exact integer ns), for valid
    /// records that have a latency.
    pub response_end_ns: Option<u64>,
}

const NO_ERROR: u32 = u32::MAX;
const NO_RESPONSE: u64 = u64::MAX;

impl Fixed for Row {
    const SIZE: usize = 29;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.start_ns.to_le_bytes());
        out.extend_from_slice(&self.end_ns.to_le_bytes());
        out.extend_from_slice(&self.response_end_ns.unwrap_or(NO_RESPONSE).to_le_bytes());
        out.extend_from_slice(&self.error.unwrap_or(NO_ERROR).to_le_bytes());
        out.push(u8::from(self.overflow));
    }
    fn get(b: &[u8]) -> Self {
        let response = get_u64(b, 16);
        let error = get_u32(b, 24);
        Row {
            start_ns: get_u64(b, 0),
            end_ns: get_u64(b, 8),
            response_end_ns: (response != NO_RESPONSE).then_some(response),
            error: (error != NO_ERROR).then_some(error),
            overflow: b[28] != 0,
        }
    }
}

/// Running totals over records: counts, run span, error counts. The phase's
/// are kept as records arrive; a timeslice's are computed from its rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowTotals {
    pub n_valid: u64,
    pub n_err: u64,
    pub overflows: u64,
    /// Earliest request start of a valid record.
    pub min_request: Option<u64>,
    /// Latest response end of a valid record.
    pub max_response: Option<u64>,
    /// Earliest request start of any record.
    pub first_start: Option<u64>,
    /// Latest request end of any record.
    pub last_end: Option<u64>,
    /// `(distinct error, count)` in first-occurrence order.
    error_counts: Vec<(u32, u64)>,
    error_pos: HashMap<u32, usize>,
}

impl RowTotals {
    /// Counts one record.
    pub fn add(&mut self, r: &Row) {
        self.first_start = Some(self.first_start.map_or(r.start_ns, |s| s.min(r.start_ns)));
        self.last_end = Some(self.last_end.map_or(r.end_ns, |e| e.max(r.end_ns)));
        match r.error {
            Some(e) => {
                self.n_err += 1;
                self.overflows += u64::from(r.overflow);
                match self.error_pos.get(&e) {
                    Some(i) => self.error_counts[*i].1 += 1,
                    None => {
                        self.error_pos.insert(e, self.error_counts.len());
                        self.error_counts.push((e, 1));
                    }
                }
            }
            None => {
                self.n_valid += 1;
                self.min_request = Some(self.min_request.map_or(r.start_ns, |s| s.min(r.start_ns)));
                if let Some(end) = r.response_end_ns {
                    self.max_response = Some(self.max_response.map_or(end, |m| m.max(end)));
                }
            }
        }
    }
}

/// The values of one metric tag (or of a client-side derived distribution).
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub tag: String,
    pub spec: Option<&'static MetricSpec>,
    /// Base-unit values (list metrics flattened), in arrival order.
    pub values: SpillLog<f64>,
    /// One sorted copy of each run of `values` on disk (no tail).
    sorted: SpillLog<f64>,
    /// Row index of each value (accumulators that keep timeslices).
    pub owners: Option<SpillLog<u32>>,
}

impl Column {
    fn new(tag: &str, spec: Option<&'static MetricSpec>, owners: bool) -> Column {
        Column {
            tag: tag.to_string(),
            spec,
            values: SpillLog::default(),
            sorted: SpillLog::default(),
            owners: owners.then(SpillLog::default),
        }
    }

    fn push(&mut self, v: f64, owner: u32) {
        self.values.push(v);
        if let Some(o) = self.owners.as_mut() {
            o.push(owner);
        }
    }

    fn tail_bytes(&self) -> usize {
        self.values.tail_bytes() + self.owners.as_ref().map_or(0, SpillLog::tail_bytes)
    }

    /// Writes the in-memory values to `file`, in arrival order and sorted.
    fn spill(&mut self, file: &Arc<File>) -> std::io::Result<()> {
        if self.values.tail().is_empty() {
            return Ok(());
        }
        // Arrival order first, then the same tail sorted in place (no copy);
        // nothing is committed until every write succeeded.
        let arrival = write_run(file, self.values.tail())?;
        let owners = match &self.owners {
            Some(o) => Some(write_run(file, o.tail())?),
            None => None,
        };
        self.values.tail_mut().sort_by(f64::total_cmp);
        match write_run(file, self.values.tail()) {
            Ok(sorted) => {
                self.values.commit_tail(file, arrival);
                self.sorted.commit(file, sorted);
                if let (Some(o), Some(run)) = (self.owners.as_mut(), owners) {
                    o.commit_tail(file, run);
                }
                Ok(())
            }
            Err(e) => {
                self.values.restore_tail(file, arrival);
                Err(e)
            }
        }
    }

    /// Calls `f(value, row index)` on every value in arrival order.
    pub fn for_each_owned(&self, mut f: impl FnMut(f64, u32)) {
        let owners = self.owners.as_ref().expect("a column with owners");
        for i in 0..self.values.run_count() {
            self.values
                .run(i)
                .zip(owners.run(i))
                .for_each(|(v, o)| f(v, o));
        }
        for (v, o) in self.values.tail().iter().zip(owners.tail()) {
            f(*v, *o);
        }
    }
}

impl ValueSet for Column {
    fn count(&self) -> usize {
        self.values.len()
    }

    fn for_each_value(&self, f: &mut dyn FnMut(f64)) {
        self.values.for_each(f);
    }

    /// A k-way merge of the sorted runs on disk and the sorted in-memory tail,
    /// stopping at the last wanted rank.
    fn at_ranks(&self, ranks: &[usize]) -> Vec<f64> {
        if !self.values.has_spilled() {
            return self.values.tail().at_ranks(ranks);
        }
        let mut tail = self.values.tail().to_vec();
        tail.sort_by(f64::total_cmp);
        let mut sources: Vec<Box<dyn Iterator<Item = f64> + '_>> = (0..self.sorted.run_count())
            .map(|i| Box::new(self.sorted.run(i)) as Box<dyn Iterator<Item = f64>>)
            .collect();
        sources.push(Box::new(tail.into_iter()));
        // Min-heap of (value in total order, source).
        let key = |v: f64| {
            let b = v.to_bits() as i64;
            b ^ ((((b >> 63) as u64) >> 1) as i64)
        };
        let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(v) = s.next() {
                heap.push(Reverse((key(v), i)));
            }
        }
        let mut out = Vec::with_capacity(ranks.len());
        let mut want = ranks.iter().peekable();
        let mut pos = 0usize;
        while let (Some(&&r), Some(Reverse((k, i)))) = (want.peek(), heap.pop()) {
            if pos == r {
                out.push(f64::from_bits(unkey(k)));
                want.next();
            }
            pos += 1;
            if let Some(v) = sources[i].next() {
                heap.push(Reverse((key(v), i)));
            }
        }
        assert_eq!(out.len(), ranks.len(), "ranks beyond the column's values");
        out
    }
}

/// Inverse of the total-order key of [`Column::at_ranks`].
fn unkey(k: i64) -> u64 {
    (k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64
}

/// Accumulates the metric records of one phase and computes its summary.
///
/// Feed it every record of the phase (valid and error) with
/// [`SummaryAccumulator::add`]; call [`SummaryAccumulator::finish`] at any time
/// (e.g. for realtime metrics) and at the end.
#[derive(Debug, Clone)]
pub struct SummaryAccumulator {
    /// Rows, for timeslices only.
    pub(crate) rows: Option<SpillLog<Row>>,
    pub(crate) totals: RowTotals,
    pub(crate) columns: Vec<Column>,
    column_of: HashMap<String, usize>,
    /// `credit_to_start_latency` and `effective_latency` values (from metadata).
    pub(crate) derived: [Column; 2],
    pub(crate) errors: Vec<ErrorDetails>,
    error_of: HashMap<ErrorDetails, u32>,
    /// Index of the catch-all error entry, once needed.
    other_errors: Option<u32>,
    spill: SpillConfig,
    /// The spill file, created at the first spill.
    file: Option<Arc<File>>,
    /// The first spill failure (the values then stay in memory).
    spill_error: Option<String>,
    /// Summed from the records' metadata (whole phase only, not per time slice).
    resilience: ResilienceCounts,
}

impl Default for SummaryAccumulator {
    fn default() -> Self {
        Self::with_spill(SpillConfig::in_memory(), true)
    }
}

/// Aggregates computed from record metadata rather than from record values;
/// values of these tags found in records are ignored.
fn from_metadata(tag: &str) -> bool {
    matches!(
        tag,
        tags::REQUEST_COUNT
            | tags::ERROR_REQUEST_COUNT
            | tags::CONTEXT_OVERFLOW_COUNT
            | tags::MIN_REQUEST_TIMESTAMP
            | tags::MAX_RESPONSE_TIMESTAMP
    )
}

/// Whether a record value of `tag` is stored, given the record's validity.
fn stored(spec: Option<&MetricSpec>, tag: &str, is_error: bool) -> bool {
    match spec {
        None => !is_error,
        Some(s) => {
            let kind_ok = match s.kind {
                MetricKind::Record => true,
                MetricKind::Aggregate => !from_metadata(tag),
                MetricKind::Derived => false,
            };
            kind_ok && (s.has(MetricFlags::ERROR_ONLY) == is_error)
        }
    }
}

impl SummaryAccumulator {
    /// An empty accumulator that keeps everything in memory and can give
    /// timeslices.
    pub fn new() -> Self {
        Self::default()
    }

    /// An accumulator for a phase whose timeslices are never asked for: it keeps
    /// no record index per value and no row per record, and
    /// [`SummaryAccumulator::timeslices`] panics.
    /// [`SummaryAccumulator::finish`] is the same as with [`SummaryAccumulator::new`].
    pub fn without_timeslices() -> Self {
        Self::with_spill(SpillConfig::in_memory(), false)
    }

    /// An accumulator that spills to disk as `spill` says, keeping what
    /// timeslices need when `timeslices`.
    pub fn with_spill(spill: SpillConfig, timeslices: bool) -> Self {
        let derived = |tag: &'static str| Column::new(tag, Some(spec(tag)), timeslices);
        SummaryAccumulator {
            rows: timeslices.then(SpillLog::default),
            totals: RowTotals::default(),
            columns: Vec::new(),
            column_of: HashMap::new(),
            derived: [
                derived(tags::CREDIT_TO_START_LATENCY),
                derived(tags::EFFECTIVE_LATENCY),
            ],
            errors: Vec::new(),
            error_of: HashMap::new(),
            other_errors: None,
            spill,
            file: None,
            spill_error: None,
            resilience: ResilienceCounts::default(),
        }
    }

    /// Whether [`SummaryAccumulator::timeslices`] can be called.
    pub fn keeps_timeslices(&self) -> bool {
        self.rows.is_some()
    }

    /// Number of records added (valid and error).
    pub fn len(&self) -> usize {
        (self.totals.n_valid + self.totals.n_err) as usize
    }

    /// No record added yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of error records added.
    pub fn error_count(&self) -> usize {
        self.totals.n_err as usize
    }

    /// The in-memory byte budget of the spill configuration.
    pub(crate) fn spill_budget(&self) -> usize {
        self.spill.budget_bytes
    }

    /// Whether some values have been written to the spill file.
    pub fn has_spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Why spilling failed, if it did (the values then stay in memory, so the
    /// results are still exact; only the memory bound is lost).
    pub fn spill_error(&self) -> Option<&str> {
        self.spill_error.as_deref()
    }

    /// The index of error `e`, capped at [`MAX_DISTINCT_ERRORS`].
    fn error_index(&mut self, e: &ErrorDetails) -> u32 {
        if let Some(i) = self.error_of.get(e) {
            return *i;
        }
        if self.errors.len() >= MAX_DISTINCT_ERRORS {
            return *self.other_errors.get_or_insert_with(|| {
                self.errors.push(ErrorDetails::new(
                    None,
                    "OtherErrors",
                    format!(
                        "errors beyond the first {MAX_DISTINCT_ERRORS} distinct ones, counted together"
                    ),
                ));
                (self.errors.len() - 1) as u32
            });
        }
        let i = self.errors.len() as u32;
        self.errors.push(e.clone());
        self.error_of.insert(e.clone(), i);
        i
    }

    /// Adds one record (a record is an error record iff `record.error` is set).
    /// Non-finite values are dropped.
    pub fn add(&mut self, record: &MetricRecord) {
        let row_idx = self.len() as u32;
        let is_error = record.error.is_some();
        let error = record.error.as_ref().map(|e| self.error_index(e));
        let keep_owner = self.keeps_timeslices();
        let mut latency_ns = None;
        for (tag, value) in &record.metrics {
            let spec = lookup(tag);
            if !stored(spec, tag, is_error) {
                continue;
            }
            if tag == tags::REQUEST_LATENCY
                && let MetricValue::Scalar(v) = value
                && v.is_finite()
            {
                latency_ns = Some(*v);
            }
            let col = match self.column_of.get(tag.as_str()) {
                Some(c) => *c,
                None => {
                    self.columns.push(Column::new(tag, spec, keep_owner));
                    self.column_of.insert(tag.clone(), self.columns.len() - 1);
                    self.columns.len() - 1
                }
            };
            let column = &mut self.columns[col];
            let mut push = |v: f64| {
                if v.is_finite() {
                    column.push(v, row_idx);
                }
            };
            match value {
                MetricValue::Scalar(v) => push(*v),
                MetricValue::List(vs) => vs.iter().copied().for_each(&mut push),
            }
        }
        let m = &record.metadata;
        if m.credit_issued_ns != 0 {
            let gap = |later: u64, issued: u64| (later.saturating_sub(issued)) as f64;
            let scheduled = m.scheduled_ns.unwrap_or(0);
            // A credit sent ahead of its time (send-ahead) is counted from its time.
            let to_start = gap(m.request_start_ns, m.credit_issued_ns.max(scheduled));
            let intended = if scheduled != 0 {
                scheduled
            } else {
                m.credit_issued_ns
            };
            self.derived[0].push(to_start, row_idx);
            self.derived[1].push(gap(m.request_end_ns, intended), row_idx);
        }
        let r = &mut self.resilience;
        r.connection_retries += u64::from(m.connection_retries);
        r.invalid_sse_messages += u64::from(m.invalid_sse_messages);
        r.non_sse_responses += u64::from(m.non_sse_response);
        let row = Row {
            start_ns: m.request_start_ns,
            end_ns: m.request_end_ns,
            error,
            overflow: record.error.as_ref().is_some_and(is_context_overflow),
            response_end_ns: if is_error {
                None
            } else {
                latency_ns
                    .map(|l: f64| m.request_start_ns.saturating_add(l.max(0.0).round() as u64))
            },
        };
        self.totals.add(&row);
        if let Some(rows) = self.rows.as_mut() {
            rows.push(row);
        }
        if self.tail_bytes() > self.spill.budget_bytes {
            self.spill_all();
        }
    }

    /// Bytes of values and rows held in memory.
    fn tail_bytes(&self) -> usize {
        self.columns
            .iter()
            .chain(&self.derived)
            .map(Column::tail_bytes)
            .sum::<usize>()
            + self.rows.as_ref().map_or(0, SpillLog::tail_bytes)
    }

    /// Writes every in-memory value and row to the spill file. On failure the
    /// data stays in memory and the error is kept ([`Self::spill_error`]);
    /// no further spill is tried.
    fn spill_all(&mut self) {
        if self.spill_error.is_some() {
            return;
        }
        let result = (|| {
            let file = match &self.file {
                Some(f) => f.clone(),
                None => {
                    let f = self.spill.create_file()?;
                    self.file = Some(f.clone());
                    f
                }
            };
            for c in self.columns.iter_mut().chain(&mut self.derived) {
                c.spill(&file)?;
            }
            if let Some(rows) = self.rows.as_mut() {
                rows.spill(&file)?;
            }
            Ok::<(), std::io::Error>(())
        })();
        if let Err(e) = result {
            self.spill_error = Some(format!(
                "cannot spill the run's statistics to disk ({e}); they stay in memory"
            ));
        }
    }

    /// The summary of every record added so far, with `D = benchmark_duration`.
    /// `start_ns`/`end_ns` of the result are the earliest request start and the
    /// latest request end over all records (0 when empty); callers that know the
    /// phase's own start/end may overwrite them.
    pub fn finish(&self, ctx: &MetricContext) -> PhaseResults {
        let columns: Vec<(&Column, &dyn ValueSet)> = self
            .columns
            .iter()
            .map(|c| (c, c as &dyn ValueSet))
            .collect();
        let derived: [&dyn ValueSet; 2] = [&self.derived[0], &self.derived[1]];
        let mut results = self.summarize(
            &self.totals,
            &columns,
            derived,
            ctx,
            Denominator::BenchmarkDuration,
            self.totals.first_start.unwrap_or(0),
            self.totals.last_end.unwrap_or(0),
        );
        results.resilience = self.resilience;
        results
    }

    /// Computes the results of a selection of records (`totals`) whose metric
    /// values are `columns` and `derived` (already restricted to those records).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn summarize(
        &self,
        totals: &RowTotals,
        columns: &[(&Column, &dyn ValueSet)],
        derived: [&dyn ValueSet; 2],
        ctx: &MetricContext,
        denominator: Denominator,
        start_ns: u64,
        end_ns: u64,
    ) -> PhaseResults {
        let mut out = Results {
            ctx,
            metrics: Vec::new(),
        };
        let (n_valid, n_err) = (totals.n_valid, totals.n_err);

        // ---- per-record columns: distributions and summed contributions ----
        let mut sums: HashMap<&str, f64> = HashMap::new();
        for (col, values) in columns {
            if values.count() == 0 {
                continue;
            }
            let mut total: f64 = std::iter::empty::<f64>().sum();
            values.for_each_value(&mut |x| total += x);
            sums.insert(col.tag.as_str(), total);
            match col.spec {
                Some(s) if s.kind == MetricKind::Aggregate => out.scalar(s, total),
                Some(s) => {
                    if ctx.shows(s) {
                        out.distribution(Meta::of(s), *values);
                    }
                    if n_err > 0
                        && let Some(adj) = adjusted_of(s.tag)
                    {
                        out.adjusted(adj, *values, n_err);
                    }
                }
                None => out.distribution(Meta::unknown(&col.tag), *values),
            }
        }
        let sum_of = |tag: &str| sums.get(tag).copied();

        // ---- counts, errors and run span ----
        if n_valid > 0 {
            out.scalar(spec(tags::REQUEST_COUNT), n_valid as f64);
        }
        if n_err > 0 {
            out.scalar(spec(tags::ERROR_REQUEST_COUNT), n_err as f64);
            out.scalar(spec(tags::CONTEXT_OVERFLOW_COUNT), totals.overflows as f64);
        }
        let total = n_valid + n_err;
        if total > 0 {
            out.scalar(spec(tags::COMPLETED_REQUEST_COUNT), total as f64);
            out.scalar(
                spec(tags::REQUEST_ERROR_RATE),
                100.0 * n_err as f64 / total as f64,
            );
        }
        let (min_request, max_response) = (totals.min_request, totals.max_response);
        if let Some(v) = min_request {
            out.scalar(spec(tags::MIN_REQUEST_TIMESTAMP), v as f64);
        }
        if let Some(v) = max_response {
            out.scalar(spec(tags::MAX_RESPONSE_TIMESTAMP), v as f64);
        }
        // Exact integer nanoseconds (epoch ns do not fit an f64 exactly).
        let duration_ns = match (min_request, max_response) {
            (Some(lo), Some(hi)) if hi > lo => Some((hi - lo) as f64),
            _ => None,
        };
        if let Some(d) = duration_ns {
            out.scalar(spec(tags::BENCHMARK_DURATION), d);
        }

        // ---- token totals ----
        let total_isl = sum_of(tags::INPUT_SEQUENCE_LENGTH);
        let total_osl = sum_of(tags::OUTPUT_SEQUENCE_LENGTH);
        let total_output = sum_of(tags::OUTPUT_TOKEN_COUNT);
        let total_reasoning = sum_of(tags::REASONING_TOKEN_COUNT);
        for (tag, v) in [
            (tags::TOTAL_ISL, total_isl),
            (tags::TOTAL_OSL, total_osl),
            (tags::TOTAL_OUTPUT_TOKENS, total_output),
            (tags::TOTAL_REASONING_TOKENS, total_reasoning),
            (tags::TOTAL_ERROR_ISL, sum_of(tags::ERROR_ISL)),
        ] {
            if let Some(v) = v {
                out.scalar(spec(tag), v);
            }
        }
        if let (Some(r), Some(o)) = (total_reasoning, total_output.filter(|o| *o != 0.0)) {
            out.scalar(spec(tags::OVERALL_THINKING_EFFICIENCY), r / o);
        }

        // ---- system throughputs ----
        let d_sec = match denominator {
            Denominator::BenchmarkDuration => duration_ns,
            Denominator::Window(ns) => (ns > 0).then_some(ns as f64),
        }
        .map(|ns| ns / NANOS_PER_SECOND);
        if let Some(d) = d_sec {
            if n_valid > 0 {
                out.scalar(spec(tags::REQUEST_THROUGHPUT), n_valid as f64 / d);
            }
            if let Some(osl) = total_osl {
                out.scalar(spec(tags::OUTPUT_TOKEN_THROUGHPUT), osl / d);
            }
            if let Some(isl) = total_isl {
                out.scalar(spec(tags::INPUT_TOKEN_THROUGHPUT), isl / d);
            }
            if let (Some(isl), Some(osl)) = (total_isl, total_osl) {
                out.scalar(spec(tags::TOTAL_TOKEN_THROUGHPUT), (isl + osl) / d);
            }
        }

        // ---- goodput ----
        if !ctx.goodput.is_empty() {
            let good = sum_of(tags::GOOD_REQUEST_COUNT).unwrap_or(0.0);
            if n_valid > 0 && sum_of(tags::GOOD_REQUEST_COUNT).is_none() {
                // Valid records without a contribution count as not good.
                out.scalar(spec(tags::GOOD_REQUEST_COUNT), 0.0);
            }
            if n_valid > 0
                && let Some(d) = d_sec
            {
                out.scalar(spec(tags::GOODPUT), good / d);
            }
            let fraction = if total == 0 { 0.0 } else { good / total as f64 };
            out.scalar(spec(tags::GOOD_REQUEST_FRACTION), fraction);
        }

        // ---- usage totals ----
        for (record_tag, total_tag) in [
            (tags::USAGE_PROMPT_TOKENS, tags::TOTAL_USAGE_PROMPT_TOKENS),
            (
                tags::USAGE_COMPLETION_TOKENS,
                tags::TOTAL_USAGE_COMPLETION_TOKENS,
            ),
            (tags::USAGE_TOTAL_TOKENS, tags::TOTAL_USAGE_TOTAL_TOKENS),
            (
                tags::USAGE_REASONING_TOKENS,
                tags::TOTAL_USAGE_REASONING_TOKENS,
            ),
            (
                tags::USAGE_PROMPT_CACHE_READ_TOKENS,
                tags::TOTAL_USAGE_PROMPT_CACHE_READ_TOKENS,
            ),
        ] {
            if let Some(v) = sum_of(record_tag) {
                out.scalar(spec(total_tag), v);
            }
        }
        if let (Some(cached), Some(prompt)) = (
            sum_of(tags::USAGE_PROMPT_CACHE_READ_TOKENS),
            sum_of(tags::USAGE_PROMPT_TOKENS).filter(|p| *p > 0.0),
        ) {
            out.scalar(
                spec(tags::OVERALL_USAGE_PROMPT_CACHE_READ_PCT),
                cached / prompt * 100.0,
            );
        }

        // ---- client-side queueing distributions from metadata ----
        if derived[0].count() > 0 {
            out.derived_distribution(spec(tags::CREDIT_TO_START_LATENCY), derived[0]);
            out.derived_distribution(spec(tags::EFFECTIVE_LATENCY), derived[1]);
        }

        let mut metrics = out.metrics;
        metrics.sort_by(|a, b| {
            a.display_order
                .cmp(&b.display_order)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        PhaseResults {
            metrics,
            error_summary: self.error_summary(totals),
            start_ns,
            end_ns,
            records: total,
            errors: n_err,
            resilience: Default::default(),
        }
    }

    /// Errors of `totals` grouped by (code, type, message), in first-occurrence order.
    fn error_summary(&self, totals: &RowTotals) -> Vec<ErrorSummaryEntry> {
        totals
            .error_counts
            .iter()
            .map(|(i, count)| ErrorSummaryEntry {
                error_details: self.errors[*i as usize].clone(),
                count: *count,
            })
            .collect()
    }
}

/// Phrases (lowercase) by which servers report a prompt longer than the model's
/// context: vLLM ("maximum context length", `max_model_len`), OpenAI
/// (`context_length_exceeded`), SGLang ("longer than the model's context length"),
/// TensorRT-LLM (`max_seq_len`, "maximum sequence length"), llama.cpp ("exceeds
/// the available context size"), Anthropic-style "prompt is too long".
pub const CONTEXT_OVERFLOW_PATTERNS: [&str; 8] = [
    "context length",
    "context_length",
    "context size",
    "context window",
    "max_model_len",
    "max_seq_len",
    "maximum sequence length",
    "prompt is too long",
];

/// Whether an error reports a context-length overflow (`context_overflow_count`):
/// its type or message contains one of [`CONTEXT_OVERFLOW_PATTERNS`],
/// case-insensitively.
pub fn is_context_overflow(e: &ErrorDetails) -> bool {
    let text = format!("{} {}", e.kind, e.message).to_lowercase();
    CONTEXT_OVERFLOW_PATTERNS.iter().any(|p| text.contains(p))
}

/// The throughput denominator of a summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Denominator {
    /// `benchmark_duration` of the selected records.
    BenchmarkDuration,
    /// A fixed window length in ns (timeslices).
    Window(u64),
}

/// How a result is labelled and converted.
struct Meta<'a> {
    tag: &'a str,
    header: &'a str,
    from: Unit,
    to: Option<Unit>,
    display_order: u32,
    console: bool,
}

impl<'a> Meta<'a> {
    fn of(s: &'static MetricSpec) -> Meta<'static> {
        Meta {
            tag: s.tag,
            header: s.header,
            from: s.base_unit,
            to: Some(s.display_unit),
            display_order: s.display_order,
            console: s.console(),
        }
    }

    fn unknown(tag: &'a str) -> Meta<'a> {
        Meta {
            tag,
            header: tag,
            from: Unit::Ratio,
            to: None,
            display_order: UNKNOWN_DISPLAY_ORDER,
            console: false,
        }
    }

    fn convert(&self, v: f64) -> f64 {
        match self.to {
            Some(to) => convert(v, self.from, to),
            None => v,
        }
    }

    fn result(&self) -> MetricResult {
        MetricResult {
            tag: self.tag.to_string(),
            header: self.header.to_string(),
            unit: self.to.map(|u| u.symbol().to_string()).unwrap_or_default(),
            display_order: self.display_order,
            console: self.console,
            ..Default::default()
        }
    }
}

/// Results under construction, with the context's visibility filter applied.
struct Results<'c> {
    ctx: &'c MetricContext,
    metrics: Vec<MetricResult>,
}

impl Results<'_> {
    fn visible(&self, s: &MetricSpec) -> bool {
        self.ctx.computes(s) && self.ctx.shows(s)
    }

    /// A scalar (aggregate or derived) metric given in its base unit.
    fn scalar(&mut self, s: &'static MetricSpec, base_value: f64) {
        if !self.visible(s) || !base_value.is_finite() {
            return;
        }
        let meta = Meta::of(s);
        self.metrics.push(MetricResult {
            avg: Some(meta.convert(base_value)),
            scalar: true,
            ..meta.result()
        });
    }

    fn derived_distribution(&mut self, s: &'static MetricSpec, values: &dyn ValueSet) {
        if self.visible(s) {
            self.distribution(Meta::of(s), values);
        }
    }

    fn distribution(&mut self, meta: Meta<'_>, values: &dyn ValueSet) {
        let Some(st) = DistributionStats::from_set(values) else {
            return;
        };
        let c = |v: f64| meta.convert(v);
        self.metrics.push(MetricResult {
            avg: Some(c(st.avg)),
            min: Some(c(st.min)),
            max: Some(c(st.max)),
            std: Some(c(st.std)),
            percentiles: st.percentiles.iter().map(|(p, v)| (*p, c(*v))).collect(),
            count: Some(st.count),
            sum: Some(c(st.sum)),
            ..meta.result()
        });
    }

    /// An `adj_` band: only finite statistics are kept (count, min and the
    /// percentiles that do not fall on a failed request).
    fn adjusted(&mut self, s: &'static MetricSpec, values: &dyn ValueSet, errors: u64) {
        if !self.visible(s) {
            return;
        }
        let Some(a) = error_adjusted_of(values, errors) else {
            return;
        };
        let meta = Meta::of(s);
        let finite = |v: f64| v.is_finite().then(|| meta.convert(v));
        self.metrics.push(MetricResult {
            min: finite(a.min),
            percentiles: a
                .percentiles
                .iter()
                .filter_map(|(p, v)| finite(*v).map(|v| (*p, v)))
                .collect(),
            count: Some(a.count),
            ..meta.result()
        });
    }
}
