//! User configuration of a profile run.
//!
//! Three layers, one home each:
//! - [`args::ProfileArgs`]: the `aiperf-rs profile` flags (clap) — also the schema of a
//!   `-f/--config` file; every field is optional so a file and flags can be merged.
//! - [`file`]: loading a YAML/TOML config file and merging flags over it.
//! - [`ProfileConfig`]: the resolved, validated configuration every service receives.
//!
//! [`compat`] accepts the AIPerf 0.13 options aiperf-rs does not act on, [`defaults`]
//! holds every default value (shared by resolution and `--help`).

pub mod args;
pub mod compat;
pub mod dataset;
pub mod defaults;
mod document;
pub mod file;
pub mod goodput;
pub mod load;
pub mod phase_load;
pub mod redact;
mod resolve;
pub mod server_url;
pub mod telemetry;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use aiperf_protocol::LoadMode;
pub use args::{Goodput, ProfileArgs};
pub use dataset::{
    CustomDatasetType, DatasetConfig, DatasetSamplingStrategy, PublicDataset, SequenceDistribution,
    SequencePair, SynthesisConfig,
};
pub use goodput::{GoodputSpec, SloSpec};
pub use load::{LoadConfig, SweepPoint, SweepRun, WarmupConfig, expand_sweep};
pub use phase_load::{Cancellation, Pacing, PhaseLoad, RateLoad};
pub use resolve::{Context, artifact_dir_name, resolve, warnings};
pub use server_url::{check_url, normalize_url};
pub use telemetry::{GpuTelemetryConfig, ServerMetricsConfig, ServerMetricsFormat};

/// A configuration error: names the option and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// Builds an error from any message.
    pub fn new(msg: impl Into<String>) -> Self {
        ConfigError(msg.into())
    }
}

/// API flavour of the target endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    /// OpenAI `/v1/chat/completions`.
    Chat,
    /// OpenAI `/v1/completions`.
    Completions,
}

impl EndpointType {
    /// Default URL path.
    pub fn default_path(self) -> &'static str {
        match self {
            EndpointType::Chat => "/v1/chat/completions",
            EndpointType::Completions => "/v1/completions",
        }
    }

    /// Name used in artifact directories (`openai-chat`).
    pub fn artifact_name(self) -> &'static str {
        match self {
            EndpointType::Chat => "chat",
            EndpointType::Completions => "completions",
        }
    }
}

/// HTTP connection reuse (`--connection-reuse-strategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionReuseStrategy {
    /// Connections are kept open and reused by later requests.
    #[default]
    Pooled,
    /// A new connection for every request, closed after the response.
    Never,
    /// One connection per multi-turn conversation, kept between its turns and
    /// closed when it ends (`http://` endpoints; `https://` ones pool).
    #[value(name = "sticky-user-sessions", alias = "sticky_user_sessions")]
    StickyUserSessions,
}

impl ConnectionReuseStrategy {
    /// True for the default (`pooled`).
    pub fn is_default(&self) -> bool {
        *self == ConnectionReuseStrategy::default()
    }
}

/// How services are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceMode {
    /// Every service is a task of the CLI process (still talking over ZeroMQ).
    InProcess,
    /// Every service is its own OS process spawned by the controller.
    MultiProcess,
}

/// Progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum UiType {
    /// Progress bars (AIPerf's Textual dashboard is not reproduced; this is the same as `simple`).
    Dashboard,
    /// Progress bars on the terminal.
    Simple,
    /// No progress display (log lines only).
    None,
}

/// Which per-request files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ExportLevel {
    /// Only the aggregate JSON/CSV.
    Summary,
    /// Adds `profile_export.jsonl`.
    Records,
    /// Adds `profile_export_raw.jsonl` (request and response bodies).
    Raw,
}

/// Inter-arrival distribution of an open-loop request rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalPattern {
    /// Fixed interval 1/R.
    Constant,
    /// Exponential intervals (mean 1/R).
    Poisson,
    /// Gamma intervals with shape `--arrival-smoothness`.
    Gamma,
    /// Closed loop: send as soon as a concurrency slot frees.
    #[value(name = "concurrency_burst", alias = "concurrency-burst")]
    ConcurrencyBurst,
}

/// A normal distribution of token counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TokenDistribution {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (0 = always the mean).
    pub stddev: f64,
}

/// Where ZeroMQ sockets live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZmqTransport {
    /// `ipc://` files in this directory.
    Ipc {
        /// Directory of the socket files.
        dir: PathBuf,
    },
    /// `tcp://host:port`.
    Tcp {
        /// Host or IP.
        host: String,
        /// Base port (see `Endpoints::tcp`).
        base_port: u16,
    },
}

/// Services the user starts by hand (`aiperf-rs service ...`) instead of the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalService {
    /// Service type name (`record_processor`, `worker`, ...).
    pub service_type: String,
    /// How many to wait for.
    pub count: usize,
}

/// The resolved configuration of a run. Sent to every service in `Configure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileConfig {
    // --- endpoint
    /// Model names (the first is used unless several are given).
    pub models: Vec<String>,
    /// Base URL with scheme, no trailing slash.
    pub url: String,
    /// API flavour.
    pub endpoint_type: EndpointType,
    /// Path appended to `url` (endpoint default unless overridden).
    pub endpoint_path: String,
    /// `"stream": true` and SSE parsing.
    pub streaming: bool,
    /// Per-request timeout in seconds.
    pub request_timeout_s: f64,
    /// Longest pause (s) between two pieces of a response body once it began.
    #[serde(default = "default_idle_timeout")]
    pub request_idle_timeout_s: f64,
    /// `Authorization: Bearer` key.
    pub api_key: Option<String>,
    /// Extra HTTP headers, in order.
    pub headers: Vec<(String, String)>,
    /// Header names marked secret with `--redact-header` (see
    /// [`ProfileConfig::header_is_secret`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact_headers: Vec<String>,
    /// Fields merged into every request body, as a JSON object string.
    pub extra_inputs_json: String,
    /// Send `max_tokens` instead of `max_completion_tokens` for chat.
    pub use_legacy_max_tokens: bool,
    /// `--connection-reuse-strategy`.
    #[serde(default, skip_serializing_if = "ConnectionReuseStrategy::is_default")]
    pub connection_reuse: ConnectionReuseStrategy,

    // --- dataset
    /// Tokenizer name or path (`None` = built-in).
    pub tokenizer: Option<String>,
    /// Seed for everything random; `None` = from entropy.
    pub random_seed: Option<u64>,
    /// Synthetic prompt length in tokens.
    pub isl: TokenDistribution,
    /// Tokens per `hash_id` block.
    pub isl_block_size: u32,
    /// Requested output length; `None` = no `max_completion_tokens` sent.
    pub osl: Option<TokenDistribution>,
    /// Number of distinct synthetic conversations.
    pub num_dataset_entries: usize,
    /// Dataset sources, synthetic conversation shape, fixed schedule and trace synthesis
    /// (omitted from serialized output when everything is default).
    #[serde(default, skip_serializing_if = "DatasetConfig::is_default")]
    pub dataset: DatasetConfig,

    // --- load
    /// Max concurrent sessions (`None` = unlimited).
    pub concurrency: Option<usize>,
    /// `concurrency` is AIPerf's closed-loop default (1), not the user's choice: a
    /// fixed-schedule replay ignores it (open loop, every row at its time).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub concurrency_defaulted: bool,
    /// Target request rate (req/s); `None` = closed loop.
    pub request_rate: Option<f64>,
    /// Inter-arrival distribution with a request rate.
    pub arrival_pattern: ArrivalPattern,
    /// Gamma shape for `arrival_pattern = gamma`.
    pub arrival_smoothness: f64,
    /// Requests to send in profiling (`None` when a duration is the stop condition).
    pub request_count: Option<u64>,
    /// Profiling duration in seconds.
    pub benchmark_duration_s: Option<f64>,
    /// Seconds to wait for in-flight requests after the duration.
    pub benchmark_grace_period_s: f64,
    /// Warmup requests (0 = no warmup).
    pub warmup_request_count: u64,

    // --- services
    /// In-process or multi-process.
    pub service_mode: ServiceMode,
    /// Number of workers.
    pub workers: usize,
    /// Number of record processors.
    pub record_processors: usize,
    /// ZeroMQ transport.
    pub zmq: ZmqTransport,
    /// Services started by hand.
    pub external_services: Vec<ExternalService>,
    /// Seconds a stopping run waits for the services' partial results
    /// (`--shutdown-grace-period`).
    pub shutdown_grace_s: f64,

    // --- output
    /// Directory where files are written.
    pub artifact_dir: PathBuf,
    /// File name prefix (`profile_export`).
    pub profile_export_prefix: String,
    /// Which per-request files are written.
    pub export_level: ExportLevel,
    /// Progress display.
    pub ui: UiType,
    /// Log level (`info`, `debug`, ...).
    pub log_level: String,
    /// The command line, for the record.
    pub cli_command: String,

    // --- metrics and exports
    /// `--goodput` SLOs (serialized as `"tag:value tag:value"`); their tags are
    /// checked against the metric catalogue before the run starts
    /// (`aiperf_metrics::metric_context`); `None` = no goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<GoodputSpec>,
    /// `--use-server-token-count`: token metrics from the server's `usage` object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_server_token_count: bool,
    /// `--slice-duration` in seconds: timeslice exports; `None` = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_duration_s: Option<f64>,
    /// Load-generation options: prefill concurrency, ramps, warmup overrides, request
    /// cancellation, user-centric timing, sweep point (omitted from serialized output
    /// when everything is default).
    #[serde(default, skip_serializing_if = "LoadConfig::is_default")]
    pub load: LoadConfig,

    // --- accepted, not acted on yet (see `telemetry`)
    /// `--server-metrics`, `--no-server-metrics`, `--server-metrics-formats`.
    #[serde(default, skip_serializing_if = "ServerMetricsConfig::is_default")]
    pub server_metrics: ServerMetricsConfig,
    /// `--gpu-telemetry`, `--no-gpu-telemetry`.
    #[serde(default, skip_serializing_if = "GpuTelemetryConfig::is_default")]
    pub gpu_telemetry: GpuTelemetryConfig,
    /// `--auto-plot`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_plot: bool,
}

impl ProfileConfig {
    /// Full URL of the inference endpoint.
    pub fn endpoint_url(&self) -> String {
        format!("{}{}", self.url, self.endpoint_path)
    }

    /// The model name put into requests.
    pub fn model(&self) -> &str {
        self.models.first().map(String::as_str).unwrap_or("")
    }

    /// Extra body fields as a JSON map.
    pub fn extra_inputs(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.extra_inputs_json).unwrap_or_default()
    }

    /// How many services of a type the user starts by hand.
    pub fn external_count(&self, service_type: &str) -> usize {
        self.external_services
            .iter()
            .filter(|e| e.service_type == service_type)
            .map(|e| e.count)
            .sum()
    }
}

/// Default worker count of AIPerf: `max(1, min(int(0.75*cpus) - 1, 32))`, capped by concurrency.
pub fn default_workers(cpus: usize, concurrency: Option<usize>) -> usize {
    let base = ((cpus as f64 * 0.75) as i64 - 1).clamp(1, 32) as usize;
    match concurrency {
        Some(c) if c > 0 => base.min(c),
        _ => base,
    }
}

/// Default record-processor count: `max(1, workers / 4)`.
pub fn default_record_processors(workers: usize) -> usize {
    (workers / 4).max(1)
}

/// [`ProfileConfig::request_idle_timeout_s`] of a configuration that predates it.
fn default_idle_timeout() -> f64 {
    defaults::REQUEST_IDLE_TIMEOUT_S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_worker_formula_matches_aiperf() {
        assert_eq!(default_workers(2, None), 1);
        assert_eq!(default_workers(8, None), 5);
        assert_eq!(default_workers(64, None), 32);
        assert_eq!(default_workers(64, Some(4)), 4);
        assert_eq!(default_record_processors(1), 1);
        assert_eq!(default_record_processors(9), 2);
    }
}
