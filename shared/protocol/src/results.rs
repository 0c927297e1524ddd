//! Summaries sent by the records manager to the controller at the end of a run.

use crate::ErrorDetails;
use serde::{Deserialize, Serialize};

/// Statistics of one metric, already in its display unit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Tag, e.g. `time_to_first_token`.
    pub tag: String,
    /// Human header, e.g. `Time to First Token`.
    pub header: String,
    /// Display unit, e.g. `ms`.
    pub unit: String,
    /// Mean (or the single value of a scalar metric).
    pub avg: Option<f64>,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Population standard deviation.
    pub std: Option<f64>,
    /// Percentiles `(p, value)` for p in 1,5,10,25,50,75,90,95,99.
    pub percentiles: Vec<(u8, f64)>,
    /// Number of samples.
    pub count: Option<u64>,
    /// Sum of samples.
    pub sum: Option<f64>,
    /// A single value (aggregate/derived metric): exported as `{unit, avg}` only.
    pub scalar: bool,
    /// Sort key of console and export tables (lower first).
    pub display_order: u32,
    /// Shown in the console's main metrics table.
    pub console: bool,
}

impl MetricResult {
    /// The given percentile, if computed.
    pub fn percentile(&self, p: u8) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, v)| *v)
    }
}

/// One kind of error and how often it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummaryEntry {
    /// The error.
    pub error_details: ErrorDetails,
    /// Occurrences.
    pub count: u64,
}

/// Results of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseResults {
    /// Metrics in display order.
    pub metrics: Vec<MetricResult>,
    /// Errors grouped by (code, type, message).
    pub error_summary: Vec<ErrorSummaryEntry>,
    /// Wall clock (ns) of the phase start.
    pub start_ns: u64,
    /// Wall clock (ns) of the phase end.
    pub end_ns: u64,
    /// Records received.
    pub records: u64,
    /// Of which errors.
    pub errors: u64,
    /// What the client absorbed from the server and the network (omitted on
    /// the wire when all zero).
    #[serde(default, skip_serializing_if = "ResilienceCounts::is_empty")]
    pub resilience: ResilienceCounts,
}

/// Trouble the client absorbed rather than failing requests for it (aiperf-rs;
/// `docs/reliability.md`), summed over a phase's records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResilienceCounts {
    /// Requests sent again on a fresh connection after the server had closed
    /// the reused connection they were given.
    pub connection_retries: u64,
    /// SSE `data:` messages that were not valid JSON, skipped.
    pub invalid_sse_messages: u64,
    /// Streaming requests answered with a plain (non-SSE) body, measured as
    /// non-streaming responses.
    pub non_sse_responses: u64,
}

impl ResilienceCounts {
    /// Nothing was absorbed.
    pub fn is_empty(&self) -> bool {
        *self == ResilienceCounts::default()
    }
}

/// Everything the records manager computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileResults {
    /// The profiling phase.
    pub profiling: PhaseResults,
    /// The warmup phase, when there was one.
    pub warmup: Option<PhaseResults>,
    /// The run was cancelled (Ctrl-C or a failure): results are partial.
    pub was_cancelled: bool,
    /// Every expected record arrived.
    pub is_complete: bool,
}
