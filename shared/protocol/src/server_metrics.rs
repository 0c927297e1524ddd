//! What the server metrics manager reports to the controller at the end of a run:
//! per-series statistics of every metric family it scraped from the inference
//! server's Prometheus endpoints over the profiling window (`docs/server-metrics.md`).
//!
//! Statistics are ordered `(name, value)` pairs so that a writer keeps their order
//! (`total`, `rate`, … or `avg`, `min`, …) without knowing every metric type.

use serde::{Deserialize, Serialize};

/// The type of a Prometheus metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Monotonic count (named without the `_total` suffix).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, sum and count.
    Histogram,
    /// Client-side quantiles, sum and count.
    Summary,
    /// No `# TYPE` line (or an unknown type): handled like a gauge.
    Untyped,
}

impl MetricKind {
    /// The snake_case name, as in the exports.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
            MetricKind::Untyped => "untyped",
        }
    }
}

/// Named statistics in display order, e.g. `[("total", 800.0), ("rate", 240.5)]`.
pub type Stats = Vec<(String, f64)>;

/// The statistics of one time slice of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceStats {
    /// Wall-clock start of the slice (ns).
    pub start_ns: u64,
    /// Wall-clock end of the slice (ns).
    pub end_ns: u64,
    /// False for the last slice when it was cut short by the end of the window.
    pub is_complete: bool,
    /// The slice's statistics.
    pub stats: Stats,
}

/// One series (a label set of one family at one endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesStats {
    /// The endpoint it was scraped from (credentials already removed).
    pub endpoint_url: String,
    /// Its labels, sorted by name (`le` and `quantile` excluded).
    pub labels: Vec<(String, String)>,
    /// Statistics over the profiling window.
    pub stats: Stats,
    /// Histograms: bucket upper bound (`"0.01"`, …, `"+Inf"`) → observations in
    /// the window at or below it (cumulative delta). Empty for other types.
    pub buckets: Vec<(String, f64)>,
    /// Per time slice, with `--slice-duration` (else empty).
    pub timeslices: Vec<SliceStats>,
}

/// One metric family, across endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyStats {
    /// Its name (counters without `_total`), e.g. `vllm:generation_tokens`.
    pub name: String,
    /// Its type.
    pub kind: MetricKind,
    /// Its `# HELP` text.
    pub description: String,
    /// Unit inferred from the help text or the name (`seconds`, `tokens`, …;
    /// empty when unknown).
    pub unit: String,
    /// Its series.
    pub series: Vec<SeriesStats>,
}

/// What was seen of one endpoint during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// The endpoint (credentials already removed).
    pub endpoint_url: String,
    /// Successful scrapes.
    pub total_fetches: u64,
    /// Wall clock (ns) of the first successful scrape.
    pub first_fetch_ns: u64,
    /// Wall clock (ns) of the last successful scrape.
    pub last_fetch_ns: u64,
    /// Mean duration of a successful scrape (request and parsing), in ms.
    pub avg_fetch_latency_ms: f64,
    /// Scrapes whose samples differed from the previous scrape's.
    pub unique_updates: u64,
    /// Wall clock (ns) of the first such update.
    pub first_update_ns: u64,
    /// Wall clock (ns) of the last such update.
    pub last_update_ns: u64,
    /// Seconds from the first to the last successful scrape.
    pub duration_seconds: f64,
    /// Mean time between updates, in ms.
    pub avg_update_interval_ms: f64,
    /// Median time between updates, in ms.
    pub median_update_interval_ms: f64,
}

/// Wall-clock range of one benchmark phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRange {
    /// `warmup` or `profiling`.
    pub phase: crate::Phase,
    /// Start (ns).
    pub start_ns: u64,
    /// End (ns).
    pub end_ns: u64,
}

/// The server metrics manager's report (`server_metrics` on the control channel).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetricsResults {
    /// Every endpoint configured, in order (credentials already removed).
    pub endpoints_configured: Vec<String>,
    /// The endpoints that answered at least one scrape.
    pub endpoints_successful: Vec<String>,
    /// Wall clock (ns) of the first scrape.
    pub start_ns: u64,
    /// Wall clock (ns) of the last scrape.
    pub end_ns: u64,
    /// Per successful endpoint.
    pub endpoint_info: Vec<EndpointInfo>,
    /// The phases seen on the event bus.
    pub phase_ranges: Vec<PhaseRange>,
    /// Start (ns) of the window the statistics cover: the profiling phase start.
    pub window_start_ns: u64,
    /// End (ns) of that window: the final scrape after the flush.
    pub window_end_ns: u64,
    /// Every family, sorted by name.
    pub metrics: Vec<FamilyStats>,
    /// Problems met (unreachable, slow or malformed endpoints, counter resets),
    /// for the console.
    pub warnings: Vec<String>,
}

impl ServerMetricsResults {
    /// The family named `name`, if scraped.
    pub fn family(&self, name: &str) -> Option<&FamilyStats> {
        self.metrics.iter().find(|f| f.name == name)
    }
}

/// The value of statistic `name` in `stats`.
pub fn stat(stats: &[(String, f64)], name: &str) -> Option<f64> {
    stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}
