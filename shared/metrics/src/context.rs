//! Run-level settings that decide which metrics exist and how some are computed
//! (the applicability filter of metrics.md §6).

use crate::catalogue::{MetricFlags, MetricSpec};
use crate::goodput::Slo;
use serde::{Deserialize, Serialize};

/// Default `usage_discrepancy_count` threshold, % (`AIPERF_METRICS_USAGE_PCT_DIFF_THRESHOLD`).
pub const DEFAULT_USAGE_PCT_DIFF_THRESHOLD: f64 = 10.0;
/// Default OSL-mismatch percentage threshold, %.
pub const DEFAULT_OSL_MISMATCH_PCT_THRESHOLD: f64 = 5.0;
/// Default OSL-mismatch absolute cap, tokens.
pub const DEFAULT_OSL_MISMATCH_MAX_TOKEN_THRESHOLD: f64 = 50.0;

/// Run-level metric settings, shared by per-record computation and summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricContext {
    /// `--streaming` is on and the endpoint streams (enables STREAMING_ONLY metrics).
    pub streaming: bool,
    /// The endpoint produces tokens (chat/completions; false for embeddings, rankings…).
    pub produces_tokens: bool,
    /// The endpoint has a tokenizable input.
    pub tokenizes_input: bool,
    /// `--use-server-token-count`: token counts come from the server `usage`
    /// object and the usage-diff metrics are disabled (metrics.md §2.2).
    pub use_server_token_count: bool,
    /// `--per-chunk-usage`: the ITL divisor is `OSL - first_chunk_tokens`
    /// (falling back to `OSL - 1` when that count is missing, ≤ 0 or ≥ OSL).
    pub per_chunk_usage: bool,
    /// Goodput SLOs (thresholds in base units), empty when `--goodput` is not set.
    pub goodput: Vec<Slo>,
    /// Dev mode: experimental metrics are computed and internal/experimental ones shown.
    pub dev_mode: bool,
    /// A record counts in `usage_discrepancy_count` when any usage diff exceeds this, %.
    pub usage_pct_diff_threshold: f64,
    /// OSL-mismatch threshold as a percentage of the requested OSL.
    pub osl_mismatch_pct_threshold: f64,
    /// OSL-mismatch threshold cap in tokens (`min(requested * pct / 100, cap)`).
    pub osl_mismatch_max_token_threshold: f64,
}

impl Default for MetricContext {
    fn default() -> Self {
        MetricContext {
            streaming: false,
            produces_tokens: true,
            tokenizes_input: true,
            use_server_token_count: false,
            per_chunk_usage: false,
            goodput: Vec::new(),
            dev_mode: false,
            usage_pct_diff_threshold: DEFAULT_USAGE_PCT_DIFF_THRESHOLD,
            osl_mismatch_pct_threshold: DEFAULT_OSL_MISMATCH_PCT_THRESHOLD,
            osl_mismatch_max_token_threshold: DEFAULT_OSL_MISMATCH_MAX_TOKEN_THRESHOLD,
        }
    }
}

impl MetricContext {
    /// A default context for a streaming (`true`) or non-streaming run.
    pub fn new(streaming: bool) -> Self {
        MetricContext {
            streaming,
            ..Default::default()
        }
    }

    /// Whether `spec` is computed in this run (metrics.md §6): false when any of
    /// its STREAMING_ONLY, PRODUCES_TOKENS_ONLY, TOKENIZES_INPUT_ONLY, GOODPUT,
    /// USAGE_DIFF_ONLY or EXPERIMENTAL flags is disallowed. INTERNAL metrics are
    /// computed (see [`MetricContext::shows`]); ERROR_ONLY is decided per record.
    pub fn computes(&self, spec: &MetricSpec) -> bool {
        let disallowed = [
            (MetricFlags::STREAMING_ONLY, !self.streaming),
            (MetricFlags::PRODUCES_TOKENS_ONLY, !self.produces_tokens),
            (MetricFlags::TOKENIZES_INPUT_ONLY, !self.tokenizes_input),
            (MetricFlags::GOODPUT, self.goodput.is_empty()),
            (MetricFlags::USAGE_DIFF_ONLY, self.use_server_token_count),
            (MetricFlags::EXPERIMENTAL, !self.dev_mode),
        ];
        !disallowed.iter().any(|(flag, off)| *off && spec.has(*flag))
    }

    /// Whether a computed metric appears in summaries and exports: internal and
    /// experimental metrics only in dev mode.
    pub fn shows(&self, spec: &MetricSpec) -> bool {
        self.dev_mode || !spec.dev_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{spec, tags};

    #[test]
    fn applicability_filter() {
        let non_stream = MetricContext::new(false);
        assert!(!non_stream.computes(spec(tags::TIME_TO_FIRST_TOKEN)));
        assert!(non_stream.computes(spec(tags::REQUEST_LATENCY)));
        assert!(non_stream.computes(spec(tags::E2E_OUTPUT_TOKEN_THROUGHPUT)));
        assert!(!non_stream.computes(spec(tags::GOOD_REQUEST_COUNT)));
        assert!(!non_stream.computes(spec(tags::STREAM_SETUP_LATENCY)));
        assert!(non_stream.computes(spec(tags::REQUESTED_OSL)));
        assert!(!non_stream.shows(spec(tags::REQUESTED_OSL)));

        let stream = MetricContext {
            dev_mode: true,
            use_server_token_count: true,
            ..MetricContext::new(true)
        };
        assert!(stream.computes(spec(tags::TIME_TO_FIRST_TOKEN)));
        assert!(stream.computes(spec(tags::STREAM_SETUP_LATENCY)));
        assert!(stream.shows(spec(tags::REQUESTED_OSL)));
        assert!(!stream.computes(spec(tags::USAGE_PROMPT_TOKENS_DIFF_PCT)));

        let embeddings = MetricContext {
            produces_tokens: false,
            ..MetricContext::new(false)
        };
        assert!(!embeddings.computes(spec(tags::OUTPUT_SEQUENCE_LENGTH)));
        assert!(embeddings.computes(spec(tags::INPUT_SEQUENCE_LENGTH)));
    }
}
