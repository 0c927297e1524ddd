//! Run-level settings that decide which metrics exist and how some are computed
//! (the applicability filter of `docs/metrics.md` §9).

use crate::catalogue::{MetricFlags, MetricSpec};
use crate::goodput::{Slo, goodput_slos};
use aiperf_config::ProfileConfig;
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
    /// object and the usage-diff metrics are disabled (`docs/metrics.md` §3, §7).
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

    /// Whether `spec` is computed in this run (`docs/metrics.md` §9): false when any of
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

/// The [`MetricContext`] of a run, built from its configuration. This is the one
/// place that maps flags to metric settings; the record processors (per-record
/// metrics) and the records manager (summaries) both use it, so they always agree:
///
/// * `streaming` ← `--streaming`;
/// * `use_server_token_count` ← `--use-server-token-count`;
/// * `goodput` ← `--goodput`, its SLOs resolved by [`goodput_slos`].
///
/// Errors (an unknown goodput tag, a malformed pair or value) are messages naming
/// `--goodput`; the CLI checks them before any service starts.
pub fn metric_context(config: &ProfileConfig) -> Result<MetricContext, String> {
    let goodput = match &config.goodput {
        Some(spec) => {
            goodput_slos(spec).map_err(|e| format!("--goodput {:?}: {e}", spec.to_string()))?
        }
        None => Vec::new(),
    };
    let ctx = MetricContext {
        streaming: config.streaming,
        use_server_token_count: config.use_server_token_count,
        goodput,
        ..MetricContext::default()
    };
    // An SLO on a metric this run never computes would silently make every
    // request "not good": refuse it, saying why the metric is missing.
    for slo in &ctx.goodput {
        let Some(spec) = crate::catalogue::lookup(&slo.tag) else {
            continue;
        };
        if ctx.computes(spec) {
            continue;
        }
        let why = if spec.has(MetricFlags::STREAMING_ONLY) && !ctx.streaming {
            "it needs --streaming"
        } else if spec.has(MetricFlags::USAGE_DIFF_ONLY) && ctx.use_server_token_count {
            "it is not computed with --use-server-token-count"
        } else if spec.has(MetricFlags::EXPERIMENTAL) {
            "it is experimental and not computed"
        } else {
            "this endpoint does not produce it"
        };
        return Err(format!(
            "--goodput: `{}` is not computed in this run: {why}",
            slo.tag
        ));
    }
    Ok(ctx)
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

    fn config(extra: aiperf_config::ProfileArgs) -> ProfileConfig {
        let args = aiperf_config::ProfileArgs {
            models: Some(vec!["mock-model".into()]),
            ..extra
        };
        let ctx = aiperf_config::Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        aiperf_config::resolve(&args, &ctx).unwrap()
    }

    #[test]
    fn context_from_config() {
        let c = metric_context(&config(Default::default())).unwrap();
        assert_eq!(c, MetricContext::new(false));
        let c = metric_context(&config(aiperf_config::ProfileArgs {
            streaming: Some(true),
            use_server_token_count: Some(true),
            goodput: Some("time_to_first_token:50 output_token_throughput_per_user:100".into()),
            ..Default::default()
        }))
        .unwrap();
        assert!(c.streaming && c.use_server_token_count);
        // 50 ms = 5e7 ns, smaller is better; 100 tokens/sec/user, larger is better
        assert_eq!(
            c.goodput,
            vec![
                Slo {
                    tag: "time_to_first_token".into(),
                    threshold: 5e7,
                    larger_is_better: false
                },
                Slo {
                    tag: "output_token_throughput_per_user".into(),
                    threshold: 100.0,
                    larger_is_better: true
                },
            ]
        );
        let e = metric_context(&config(aiperf_config::ProfileArgs {
            goodput: Some("ttft:50".into()),
            ..Default::default()
        }))
        .unwrap_err();
        assert!(
            e.starts_with("--goodput \"ttft:50\": unknown goodput metric `ttft`"),
            "{e}"
        );
        // a metric the run does not compute is refused, with the reason
        let e = metric_context(&config(aiperf_config::ProfileArgs {
            goodput: Some("time_to_first_token:50".into()),
            ..Default::default()
        }))
        .unwrap_err();
        assert!(
            e.contains("`time_to_first_token`") && e.contains("--streaming"),
            "{e}"
        );
        let e = metric_context(&config(aiperf_config::ProfileArgs {
            goodput: Some("usage_prompt_tokens_diff_pct:5".into()),
            use_server_token_count: Some(true),
            ..Default::default()
        }))
        .unwrap_err();
        assert!(e.contains("--use-server-token-count"), "{e}");
        let e = metric_context(&config(aiperf_config::ProfileArgs {
            goodput: Some("stream_setup_latency:5".into()),
            streaming: Some(true),
            ..Default::default()
        }))
        .unwrap_err();
        assert!(e.contains("experimental"), "{e}");
        // request latency exists without streaming
        assert!(
            metric_context(&config(aiperf_config::ProfileArgs {
                goodput: Some("request_latency:5".into()),
                ..Default::default()
            }))
            .is_ok()
        );
    }
}
