//! The server metrics manager (`docs/server-metrics.md`): a service that scrapes
//! the inference server's Prometheus `/metrics` endpoints during a run and reports
//! per-series statistics over the profiling window to the controller.
//!
//! | module | what |
//! |---|---|
//! | [`parse`] | the Prometheus text / OpenMetrics parser |
//! | [`collector`] | one endpoint: HTTP scrapes, kept snapshots, endpoint info |
//! | [`stats`] | counter, gauge, histogram and summary statistics, time slices, units |
//! | [`raw`] | `server_metrics_export.jsonl` (every raw scrape) |
//! | [`service`] | the actor: lifecycle, phase events, flush, results |
//!
//! The parser is our own: of the crates looked at, `prometheus-parse` reads names
//! with `\w+` (so not vLLM's `vllm:` names), splits label values on `,` and `=`
//! and folds histogram buckets per metric name rather than per label set, and
//! `openmetrics-parser` returns one `Result` for a whole exposition, so one bad
//! line would lose the scrape; we need every family kept and a bad line skipped
//! with a warning.

#![warn(missing_docs)]

pub mod collector;
pub mod parse;
pub mod raw;
pub mod service;
pub mod stats;

pub use service::ServerMetricsManager;

use aiperf_config::ProfileConfig;
use std::time::Duration;

/// How many server metrics managers `config`'s run needs: 1 when there is an
/// endpoint to scrape, else 0.
pub fn wanted(config: &ProfileConfig) -> usize {
    usize::from(!config.server_metrics.endpoints(&config.url).is_empty())
}

/// How long the controller waits, after the records manager's results, for the
/// server metrics: the flush, a last interval and two scrape timeouts, with room.
pub fn report_timeout(config: &ProfileConfig) -> Duration {
    let sm = &config.server_metrics;
    Duration::from_secs_f64(sm.flush_s + sm.interval_s)
        + 2 * service::SCRAPE_TIMEOUT
        + Duration::from_secs(10)
}
