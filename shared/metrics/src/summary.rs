//! Run summaries: an accumulator fed with metric records that computes the
//! [`PhaseResults`] of a phase (or of a subset of its records, see
//! [`crate::timeslice`]).
//!
//! Storage is columnar and exact: one `Vec<f64>` of base-unit values per metric
//! tag (list metrics flattened), each value tagged with the index of the record
//! it came from, plus one small row per record (request start/end, credit issue
//! time, error kind, request latency). No raw response is ever needed. The record
//! index of each value only serves timeslices: an accumulator made with
//! [`SummaryAccumulator::without_timeslices`] does not keep it (4 bytes less per
//! value, about a third of a streamed record's footprint).
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
use crate::stats::{DistributionStats, error_adjusted};
use crate::units::{NANOS_PER_SECOND, Unit, convert};
use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::{MetricRecord, MetricValue};
use aiperf_protocol::results::{ErrorSummaryEntry, MetricResult, PhaseResults, ResilienceCounts};
use std::collections::HashMap;

/// Display order given to metrics that are not catalogued.
pub const UNKNOWN_DISPLAY_ORDER: u32 = 10_000;

/// What one record left in the accumulator besides its metric values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    /// Wall-clock ns at request start.
    pub start_ns: u64,
    /// Wall-clock ns at request end.
    pub end_ns: u64,
    /// Wall-clock ns when the credit was issued (0 = unknown).
    pub credit_issued_ns: u64,
    /// Wall-clock ns the schedule intended (0 = closed loop / unknown).
    pub scheduled_ns: u64,
    /// Index into the distinct errors, for error records.
    pub error: Option<u32>,
    /// `request_start_ns + request_latency` (exact integer ns), for valid
    /// records that have a latency.
    pub response_end_ns: Option<u64>,
}

/// The values of one metric tag.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub tag: String,
    pub spec: Option<&'static MetricSpec>,
    /// Base-unit values (list metrics flattened), in arrival order.
    pub values: Vec<f64>,
    /// Row index of each value.
    pub owners: Vec<u32>,
}

/// Accumulates the metric records of one phase and computes its summary.
///
/// Feed it every record of the phase (valid and error) with
/// [`SummaryAccumulator::add`]; call [`SummaryAccumulator::finish`] at any time
/// (e.g. for realtime metrics) and at the end.
#[derive(Debug, Clone, Default)]
pub struct SummaryAccumulator {
    pub(crate) rows: Vec<Row>,
    pub(crate) columns: Vec<Column>,
    column_of: HashMap<String, usize>,
    pub(crate) errors: Vec<ErrorDetails>,
    error_of: HashMap<ErrorDetails, u32>,
    /// Value owners are not kept ([`SummaryAccumulator::without_timeslices`]).
    no_owners: bool,
    /// Summed from the records' metadata (whole phase only, not per time slice).
    resilience: ResilienceCounts,
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
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// An accumulator for a phase whose timeslices are never asked for: it keeps
    /// no record index per value, and [`SummaryAccumulator::timeslices`] panics.
    /// [`SummaryAccumulator::finish`] is the same as with [`SummaryAccumulator::new`].
    pub fn without_timeslices() -> Self {
        SummaryAccumulator {
            no_owners: true,
            ..Self::default()
        }
    }

    /// Whether [`SummaryAccumulator::timeslices`] can be called.
    pub fn keeps_timeslices(&self) -> bool {
        !self.no_owners
    }

    /// Number of records added (valid and error).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No record added yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of error records added.
    pub fn error_count(&self) -> usize {
        self.rows.iter().filter(|r| r.error.is_some()).count()
    }

    /// Adds one record (a record is an error record iff `record.error` is set).
    /// Non-finite values are dropped.
    pub fn add(&mut self, record: &MetricRecord) {
        let row_idx = self.rows.len() as u32;
        let is_error = record.error.is_some();
        let error = record.error.as_ref().map(|e| match self.error_of.get(e) {
            Some(i) => *i,
            None => {
                let i = self.errors.len() as u32;
                self.errors.push(e.clone());
                self.error_of.insert(e.clone(), i);
                i
            }
        });
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
                    self.columns.push(Column {
                        tag: tag.clone(),
                        spec,
                        values: Vec::new(),
                        owners: Vec::new(),
                    });
                    self.column_of.insert(tag.clone(), self.columns.len() - 1);
                    self.columns.len() - 1
                }
            };
            let keep_owner = !self.no_owners;
            let column = &mut self.columns[col];
            let mut push = |v: f64| {
                if v.is_finite() {
                    column.values.push(v);
                    if keep_owner {
                        column.owners.push(row_idx);
                    }
                }
            };
            match value {
                MetricValue::Scalar(v) => push(*v),
                MetricValue::List(vs) => vs.iter().copied().for_each(&mut push),
            }
        }
        let m = &record.metadata;
        let r = &mut self.resilience;
        r.connection_retries += u64::from(m.connection_retries);
        r.invalid_sse_messages += u64::from(m.invalid_sse_messages);
        r.non_sse_responses += u64::from(m.non_sse_response);
        self.rows.push(Row {
            start_ns: m.request_start_ns,
            end_ns: m.request_end_ns,
            credit_issued_ns: m.credit_issued_ns,
            scheduled_ns: m.scheduled_ns.unwrap_or(0),
            error,
            response_end_ns: if is_error {
                None
            } else {
                latency_ns
                    .map(|l: f64| m.request_start_ns.saturating_add(l.max(0.0).round() as u64))
            },
        });
    }

    /// The summary of every record added so far, with `D = benchmark_duration`.
    /// `start_ns`/`end_ns` of the result are the earliest request start and the
    /// latest request end over all records (0 when empty); callers that know the
    /// phase's own start/end may overwrite them.
    pub fn finish(&self, ctx: &MetricContext) -> PhaseResults {
        let rows: Vec<&Row> = self.rows.iter().collect();
        // Borrowed, not copied: each distribution copies only its own column.
        let values: Vec<(&Column, &[f64])> = self
            .columns
            .iter()
            .map(|c| (c, c.values.as_slice()))
            .collect();
        let start = rows.iter().map(|r| r.start_ns).min().unwrap_or(0);
        let end = rows.iter().map(|r| r.end_ns).max().unwrap_or(0);
        let mut results = self.summarize(
            &rows,
            &values,
            ctx,
            Denominator::BenchmarkDuration,
            start,
            end,
        );
        results.resilience = self.resilience;
        results
    }

    /// Computes the results of a selection of records (`rows`) whose metric
    /// values are `columns` (already restricted to those rows).
    pub(crate) fn summarize<V: AsRef<[f64]>>(
        &self,
        rows: &[&Row],
        columns: &[(&Column, V)],
        ctx: &MetricContext,
        denominator: Denominator,
        start_ns: u64,
        end_ns: u64,
    ) -> PhaseResults {
        let mut out = Results {
            ctx,
            metrics: Vec::new(),
        };
        let n_valid = rows.iter().filter(|r| r.error.is_none()).count() as u64;
        let n_err = rows.len() as u64 - n_valid;

        // ---- per-record columns: distributions and summed contributions ----
        let mut sums: HashMap<&str, f64> = HashMap::new();
        for (col, values) in columns {
            let values = values.as_ref();
            if values.is_empty() {
                continue;
            }
            let total: f64 = values.iter().sum();
            sums.insert(col.tag.as_str(), total);
            match col.spec {
                Some(s) if s.kind == MetricKind::Aggregate => out.scalar(s, total),
                Some(s) => {
                    if ctx.shows(s) {
                        out.distribution(Meta::of(s), values);
                    }
                    if n_err > 0
                        && let Some(adj) = adjusted_of(s.tag)
                    {
                        out.adjusted(adj, values, n_err);
                    }
                }
                None => out.distribution(Meta::unknown(&col.tag), values),
            }
        }
        let sum_of = |tag: &str| sums.get(tag).copied();

        // ---- counts, errors and run span ----
        if n_valid > 0 {
            out.scalar(spec(tags::REQUEST_COUNT), n_valid as f64);
        }
        if n_err > 0 {
            out.scalar(spec(tags::ERROR_REQUEST_COUNT), n_err as f64);
            let overflows = rows
                .iter()
                .filter_map(|r| r.error)
                .filter(|e| is_context_overflow(&self.errors[*e as usize]))
                .count();
            out.scalar(spec(tags::CONTEXT_OVERFLOW_COUNT), overflows as f64);
        }
        let total = n_valid + n_err;
        if total > 0 {
            out.scalar(spec(tags::COMPLETED_REQUEST_COUNT), total as f64);
            out.scalar(
                spec(tags::REQUEST_ERROR_RATE),
                100.0 * n_err as f64 / total as f64,
            );
        }
        let min_request = rows
            .iter()
            .filter(|r| r.error.is_none())
            .map(|r| r.start_ns)
            .min();
        let max_response = rows
            .iter()
            .filter(|r| r.error.is_none())
            .filter_map(|r| r.response_end_ns)
            .max();
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
        let issued: Vec<&&Row> = rows.iter().filter(|r| r.credit_issued_ns != 0).collect();
        let gap = |later: u64, issued: u64| (later.saturating_sub(issued)) as f64;
        // A credit sent ahead of its time (send-ahead) is counted from its time.
        let to_start: Vec<f64> = issued
            .iter()
            .map(|r| gap(r.start_ns, r.credit_issued_ns.max(r.scheduled_ns)))
            .collect();
        let intended = |r: &Row| {
            if r.scheduled_ns != 0 {
                r.scheduled_ns
            } else {
                r.credit_issued_ns
            }
        };
        let effective: Vec<f64> = issued.iter().map(|r| gap(r.end_ns, intended(r))).collect();
        if !to_start.is_empty() {
            out.derived_distribution(spec(tags::CREDIT_TO_START_LATENCY), &to_start);
            out.derived_distribution(spec(tags::EFFECTIVE_LATENCY), &effective);
        }

        let mut metrics = out.metrics;
        metrics.sort_by(|a, b| {
            a.display_order
                .cmp(&b.display_order)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        PhaseResults {
            metrics,
            error_summary: self.error_summary(rows),
            start_ns,
            end_ns,
            records: rows.len() as u64,
            errors: n_err,
            resilience: Default::default(),
        }
    }

    /// Errors of `rows` grouped by (code, type, message), in first-occurrence order.
    fn error_summary(&self, rows: &[&Row]) -> Vec<ErrorSummaryEntry> {
        let mut counts: Vec<(u32, u64)> = Vec::new();
        for e in rows.iter().filter_map(|r| r.error) {
            match counts.iter_mut().find(|(i, _)| *i == e) {
                Some((_, c)) => *c += 1,
                None => counts.push((e, 1)),
            }
        }
        counts
            .into_iter()
            .map(|(i, count)| ErrorSummaryEntry {
                error_details: self.errors[i as usize].clone(),
                count,
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

    fn derived_distribution(&mut self, s: &'static MetricSpec, values: &[f64]) {
        if self.visible(s) {
            self.distribution(Meta::of(s), values);
        }
    }

    fn distribution(&mut self, meta: Meta<'_>, values: &[f64]) {
        let Some(st) = DistributionStats::from_values(values) else {
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
    fn adjusted(&mut self, s: &'static MetricSpec, values: &[f64], errors: u64) {
        if !self.visible(s) {
            return;
        }
        let Some(a) = error_adjusted(values, errors) else {
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
