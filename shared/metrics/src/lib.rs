//! aiperf-metrics: the metric definitions and arithmetic of aiperf-rs, as a pure
//! library (no I/O, no async), following AIPerf 0.13's definitions (`docs/metrics.md`).
//!
//! * [`catalogue`] — every metric: tag, header, base and display unit, kind,
//!   flags, display order; [`units`] — the units and their conversions.
//! * [`context`] — run-level settings ([`MetricContext`]), built from the run's
//!   configuration in one place ([`metric_context`], used by the record
//!   processors and the records manager alike), and the applicability filter
//!   (`docs/metrics.md` §9).
//! * [`record`] — per-request computation ([`compute_record_metrics`]) in base units.
//! * [`http_trace`] — the `http_req_*` metrics of a traced request.
//! * [`sweep_line`] — time-weighted `effective_*` concurrency/throughput and
//!   `tokens_in_flight` from per-request intervals.
//! * [`goodput`] — SLOs of a `--goodput` ([`goodput_slos`]) and their evaluation.
//! * [`stats`] — distribution statistics (numpy-compatible percentiles,
//!   population std, nearest-rank error-adjusted bands).
//! * [`summary`] — [`SummaryAccumulator`]: metric records in, display-unit
//!   [`aiperf_protocol::results::PhaseResults`] out.
//! * [`timeslice`] — the same summary per time window ([`Timeslice`]).
//! * [`spill`] — the bounded stores behind both: values in memory up to a byte
//!   budget ([`SpillConfig`]), older ones in an unlinked temporary file.
//!
//! Choices that differ from, or are not spelled out by, AIPerf:
//! * Throughputs of a phase divide by `benchmark_duration` (AIPerf's documented
//!   formula), timeslice throughputs by the slice window.
//! * "Pooled ITL": `inter_chunk_latency`'s summary pools every chunk gap of every
//!   request, which is exactly vLLM's/SGLang's `bench_serving` "ITL"; AIPerf's
//!   per-request `inter_token_latency` is their "TPOT". No separate metric.
//! * Extras: `first_chunk_tokens` (tokens of the first content chunk) and
//!   `schedule_lag` (request start − scheduled time), both exported, not on the
//!   console.

#![warn(missing_docs)]

pub mod catalogue;
pub mod context;
pub mod goodput;
pub mod http_trace;
pub mod record;
pub mod spill;
pub mod stats;
pub mod summary;
pub mod sweep_line;
pub mod timeslice;
pub mod units;

pub use catalogue::{CATALOGUE, MetricFlags, MetricKind, MetricSpec, Shape, lookup, tags};
pub use context::{MetricContext, metric_context};
pub use goodput::{Slo, goodput_slos, parse_goodput};
pub use record::{RecordInput, ResponseInfo, compute_record_metrics, invalid_reason};
pub use spill::SpillConfig;
pub use summary::SummaryAccumulator;
pub use timeslice::Timeslice;
pub use units::Unit;
