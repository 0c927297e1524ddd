//! The `aiperf-rs profile` flags. Names and aliases follow AIPerf's CLI.
//!
//! Every field is `Option` (booleans too) so that a config file can set any option
//! and a flag given on the command line overrides it. The serde names are the long
//! flag names in snake_case: they are the keys of a `-f/--config` file.
//!
//! As in AIPerf, a flag given twice keeps its last value, while the list options
//! (`-H/--header`, `--extra-inputs`, `--goodput`, `--url`, `--server-metrics`, …)
//! accumulate. Defaults are applied by [`crate::resolve`] from [`crate::defaults`],
//! which `--help` shows as `[default: …]`. The AIPerf 0.13 options aiperf-rs does not
//! act on are accepted through [`InertArgs`] (hidden, one warning each).

use crate::compat::InertArgs;
use crate::dataset::{CustomDatasetType, DatasetSamplingStrategy, PublicDataset};
use crate::{
    ArrivalPattern, ConnectionReuseStrategy, EndpointType, ExportLevel, ServerMetricsFormat,
    ServiceMode, UiType,
};
use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Options of `aiperf-rs profile`.
#[derive(Debug, Clone, Default, PartialEq, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[command(
    args_override_self = true,
    mut_args(crate::defaults::annotate_help),
    after_help = "Every other AIPerf 0.13 `profile` option is accepted too, with a warning that it has \
no effect in aiperf-rs: see docs/cli-compatibility.md."
)]
pub struct ProfileArgs {
    /// YAML or TOML file setting any of these options (keys = long flag names in
    /// snake_case, e.g. `request_count: 100`); flags given here override it.
    #[arg(short = 'f', long = "config", value_name = "FILE")]
    #[serde(skip)]
    pub config_file: Option<PathBuf>,

    // ---------------- endpoint
    /// Model name(s) put into the `model` field (comma separated).
    #[arg(short = 'm', long = "model-names", visible_aliases = ["model"], value_delimiter = ',', help_heading = "Endpoint")]
    #[serde(alias = "model", alias = "model_names")]
    pub models: Option<Vec<String>>,
    /// Base URL of the server; `http://` is added when no scheme is given. AIPerf
    /// accepts several (`--url A --url B`, load-balanced); aiperf-rs uses the first.
    #[arg(short = 'u', long = "url", num_args = 1.., value_name = "URL", help_heading = "Endpoint")]
    #[serde(skip)]
    pub urls: Option<Vec<String>>,
    /// The server URL as set by a config file (`url:`) or by code; `--url` wins.
    #[arg(skip)]
    pub url: Option<String>,
    /// API flavour: `chat` (/v1/chat/completions) or `completions` (/v1/completions).
    #[arg(long, value_enum, help_heading = "Endpoint")]
    pub endpoint_type: Option<EndpointType>,
    /// Override the URL path of the endpoint.
    #[arg(long, visible_aliases = ["endpoint"], help_heading = "Endpoint")]
    #[serde(alias = "endpoint")]
    pub custom_endpoint: Option<String>,
    /// Ask for a streamed (SSE) response; needed for TTFT and ITL.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Endpoint")]
    pub streaming: Option<bool>,
    /// Per-request timeout in seconds; a request that exceeds it is an error record.
    #[arg(long, value_name = "SECONDS", help_heading = "Endpoint")]
    pub request_timeout_seconds: Option<f64>,
    /// Longest silence, in seconds, between two pieces of a response body once it
    /// has begun (aiperf-rs only): a server that stalls mid-response fails the
    /// request with a timeout error record instead of holding it until
    /// --request-timeout-seconds. The wait for the first byte is not limited by it.
    #[arg(long, value_name = "SECONDS", help_heading = "Endpoint")]
    pub request_idle_timeout_seconds: Option<f64>,
    /// API key sent as `Authorization: Bearer <key>`.
    #[arg(long, help_heading = "Endpoint")]
    pub api_key: Option<String>,
    /// Extra HTTP header `Name:Value` (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        num_args = 1..,
        value_name = "NAME:VALUE",
        help_heading = "Endpoint"
    )]
    #[serde(alias = "headers")]
    pub header: Option<Vec<String>>,
    /// aiperf-rs: a header NAME whose value is secret (repeatable): redacted like
    /// `Authorization` everywhere it could appear (console, exports, logs, errors).
    /// Authorization, Cookie and names with auth, key, token, secret, passw or credential
    /// are redacted without it.
    #[arg(long, num_args = 1.., value_name = "NAME", help_heading = "Endpoint")]
    #[serde(alias = "redact_headers")]
    pub redact_header: Option<Vec<String>>,
    /// Extra request-body field `key:value` (repeatable) or a JSON object.
    #[arg(long, num_args = 1.., value_name = "KEY:VALUE", help_heading = "Endpoint")]
    pub extra_inputs: Option<Vec<String>>,
    /// Send `max_tokens` instead of `max_completion_tokens` (chat).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Endpoint")]
    pub use_legacy_max_tokens: Option<bool>,
    /// HTTP connections: `pooled` (kept open and reused), `never` (a new connection per
    /// request), `sticky-user-sessions` (one connection per conversation, kept
    /// between its turns).
    #[arg(long, value_enum, help_heading = "Endpoint")]
    pub connection_reuse_strategy: Option<ConnectionReuseStrategy>,

    // ---------------- input
    /// Tokenizer: `builtin`, a `tokenizer.json` (or `.json.gz`) file or its directory, or a model
    /// name in the local Hugging Face cache. Default: the model's own if cached, else `builtin`.
    #[arg(long, help_heading = "Input")]
    pub tokenizer: Option<String>,
    /// Seed for prompts, lengths and sampling (reproducible runs).
    #[arg(long, help_heading = "Input")]
    pub random_seed: Option<u64>,
    /// Mean prompt length in tokens.
    #[arg(long = "prompt-input-tokens-mean", visible_aliases = ["synthetic-input-tokens-mean", "isl"], help_heading = "Input")]
    #[serde(alias = "synthetic_input_tokens_mean", alias = "isl")]
    pub prompt_input_tokens_mean: Option<f64>,
    /// Standard deviation of the prompt length.
    #[arg(long = "prompt-input-tokens-stddev", visible_aliases = ["synthetic-input-tokens-stddev", "isl-stddev"], help_heading = "Input")]
    #[serde(alias = "synthetic_input_tokens_stddev", alias = "isl_stddev")]
    pub prompt_input_tokens_stddev: Option<f64>,
    /// Tokens per `hash_id` block of trace datasets.
    #[arg(long = "prompt-input-tokens-block-size", visible_aliases = ["synthetic-input-tokens-block-size", "isl-block-size"], help_heading = "Input")]
    #[serde(alias = "synthetic_input_tokens_block_size", alias = "isl_block_size")]
    pub prompt_input_tokens_block_size: Option<u32>,
    /// Mean requested output length (sent as `max_completion_tokens`).
    #[arg(long = "prompt-output-tokens-mean", visible_aliases = ["output-tokens-mean", "osl"], help_heading = "Input")]
    #[serde(alias = "output_tokens_mean", alias = "osl")]
    pub prompt_output_tokens_mean: Option<f64>,
    /// Standard deviation of the requested output length.
    #[arg(long = "prompt-output-tokens-stddev", visible_aliases = ["output-tokens-stddev", "osl-stddev"], help_heading = "Input")]
    #[serde(alias = "output_tokens_stddev", alias = "osl_stddev")]
    pub prompt_output_tokens_stddev: Option<f64>,
    /// Number of distinct synthetic prompts (conversations).
    #[arg(long, visible_aliases = ["num-prompts"], help_heading = "Input")]
    #[serde(alias = "num_prompts")]
    pub num_dataset_entries: Option<usize>,

    // ---------------- load
    /// Maximum concurrent requests (sessions); alone, a closed loop of exactly N in flight.
    /// A comma list (`10,50,100`) runs a sweep: one full profile per value.
    #[arg(
        long,
        action = ArgAction::Set,
        value_delimiter = ',',
        value_name = "N[,N...]",
        help_heading = "Load"
    )]
    #[serde(default, deserialize_with = "one_or_many")]
    pub concurrency: Option<Vec<usize>>,
    /// Target request rate (requests/second), open loop.
    /// A comma list (`5,10,20`) runs a sweep: one full profile per value.
    #[arg(
        long,
        action = ArgAction::Set,
        value_delimiter = ',',
        value_name = "R[,R...]",
        help_heading = "Load"
    )]
    #[serde(default, deserialize_with = "one_or_many")]
    pub request_rate: Option<Vec<f64>>,
    /// Inter-arrival distribution with --request-rate.
    #[arg(long, visible_aliases = ["request-rate-mode"], value_enum, help_heading = "Load")]
    #[serde(alias = "request_rate_mode")]
    pub arrival_pattern: Option<ArrivalPattern>,
    /// Gamma shape for `--arrival-pattern gamma` (1 = Poisson, <1 burstier, >1 smoother).
    #[arg(long, visible_aliases = ["vllm-burstiness"], help_heading = "Load")]
    #[serde(alias = "vllm_burstiness")]
    pub arrival_smoothness: Option<f64>,
    /// Number of requests to send; the default applies when neither a duration nor a
    /// session count is given.
    #[arg(long, visible_aliases = ["num-requests"], help_heading = "Load")]
    #[serde(alias = "num_requests")]
    pub request_count: Option<u64>,
    /// Stop issuing requests after this many seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub benchmark_duration: Option<f64>,
    /// Seconds to wait for in-flight requests after --benchmark-duration (`inf` allowed).
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub benchmark_grace_period: Option<f64>,
    /// Requests sent before profiling, excluded from the metrics.
    #[arg(long, visible_aliases = ["num-warmup-requests"], help_heading = "Load")]
    #[serde(alias = "num_warmup_requests")]
    pub warmup_request_count: Option<u64>,

    // ---------------- output
    /// Output directory (default `artifacts/<model>-openai-<endpoint>-<load>`).
    #[arg(long = "output-artifact-dir", visible_aliases = ["artifact-dir"], help_heading = "Output")]
    #[serde(alias = "artifact_dir")]
    pub output_artifact_dir: Option<PathBuf>,
    /// Prefix of the export file names.
    #[arg(long, visible_aliases = ["profile-export-file"], help_heading = "Output")]
    #[serde(alias = "profile_export_file")]
    pub profile_export_prefix: Option<String>,
    /// Which files are written: summary, records (adds the per-request JSONL) or raw.
    #[arg(long, visible_aliases = ["profile-export-level"], value_enum, help_heading = "Output")]
    #[serde(alias = "profile_export_level")]
    pub export_level: Option<ExportLevel>,

    // ---------------- services
    /// Run services as tasks of this process or as separate processes.
    #[arg(long, value_enum, help_heading = "Services")]
    pub service_mode: Option<ServiceMode>,
    /// Number of workers (default from CPU count, capped by concurrency).
    #[arg(long, visible_aliases = ["max-workers"], help_heading = "Services")]
    #[serde(alias = "max_workers")]
    pub workers_max: Option<usize>,
    /// Number of record processors (default workers/4, at least 1).
    #[arg(long = "record-processor-service-count", visible_aliases = ["record-processors"], help_heading = "Services")]
    #[serde(alias = "record_processors")]
    pub record_processor_service_count: Option<usize>,
    /// Host of the TCP sockets between services; setting it switches from IPC to TCP.
    #[arg(long, help_heading = "Services")]
    pub zmq_host: Option<String>,
    /// Base port of the TCP sockets (AIPerf's ports).
    #[arg(long, help_heading = "Services")]
    pub zmq_base_port: Option<u16>,
    /// Directory of the IPC socket files (default: a fresh temp dir).
    #[arg(long, help_heading = "Services")]
    pub zmq_ipc_path: Option<PathBuf>,
    /// Seconds a stopping run (a signal, a dead service, a fatal error) waits for
    /// the services to hand over what they hold, after in-flight requests were
    /// cancelled (aiperf-rs only).
    #[arg(long, value_name = "SECONDS", help_heading = "Services")]
    pub shutdown_grace_period: Option<f64>,
    /// A service you start yourself with `aiperf-rs service` (`TYPE` or `TYPE:COUNT`,
    /// repeatable); the controller waits for it instead of spawning it.
    #[arg(long, value_name = "TYPE[:COUNT]", help_heading = "Services")]
    pub external_service: Option<Vec<String>>,

    // ---------------- ui
    /// Progress display: simple (default on a terminal), dashboard (same as simple), none.
    #[arg(long = "ui-type", visible_aliases = ["ui"], value_enum, help_heading = "UI")]
    #[serde(alias = "ui")]
    pub ui_type: Option<UiType>,
    /// Log level: trace, debug, info, warning, error.
    #[arg(long, help_heading = "UI")]
    pub log_level: Option<String>,
    /// Debug logging.
    #[arg(short = 'v', long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "UI")]
    pub verbose: Option<bool>,
    /// Trace logging (`-vv` is accepted too).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "UI")]
    pub extra_verbose: Option<bool>,

    // ---------------- dataset sources (`docs/datasets.md` §2–§4)
    /// Dataset file: JSONL for single_turn/multi_turn/mooncake_trace, CSV for azure_trace,
    /// a file or directory for random_pool, the ShareGPT JSON with --public-dataset sharegpt.
    #[arg(long, value_name = "PATH", help_heading = "Input")]
    pub input_file: Option<PathBuf>,
    /// Format of --input-file (default: detected from the file).
    #[arg(long, value_enum, help_heading = "Input")]
    pub custom_dataset_type: Option<CustomDatasetType>,
    /// Public dataset, read from a local copy (never downloaded).
    #[arg(long, value_enum, help_heading = "Input")]
    pub public_dataset: Option<PublicDataset>,
    /// Order in which conversations are drawn (default: shuffle for synthetic data,
    /// sequential for files, traces and public datasets).
    #[arg(long, value_enum, help_heading = "Input")]
    pub dataset_sampling_strategy: Option<DatasetSamplingStrategy>,
    /// Number of distinct prefix prompts; one is prepended to the first turn of every conversation.
    #[arg(long = "prompt-prefix-pool-size", visible_aliases = ["prefix-prompt-pool-size", "num-prefix-prompts"], help_heading = "Input")]
    #[serde(alias = "prefix_prompt_pool_size", alias = "num_prefix_prompts")]
    pub prompt_prefix_pool_size: Option<usize>,
    /// Tokens per prefix prompt.
    #[arg(long = "prompt-prefix-length", visible_aliases = ["prefix-prompt-length"], help_heading = "Input")]
    #[serde(alias = "prefix_prompt_length")]
    pub prompt_prefix_length: Option<usize>,
    /// Tokens of one system prompt shared by every conversation.
    #[arg(long, help_heading = "Input")]
    pub shared_system_prompt_length: Option<usize>,
    /// A system message sent verbatim at the start of every conversation.
    #[arg(long, value_name = "TEXT", help_heading = "Input")]
    pub system_prompt: Option<String>,
    /// File whose text is the system message of every conversation (like --system-prompt).
    #[arg(long, value_name = "PATH", help_heading = "Input")]
    pub system_prompt_file: Option<PathBuf>,
    /// Tokens of a per-conversation user context message (needs --num-dataset-entries).
    #[arg(long, help_heading = "Input")]
    pub user_context_prompt_length: Option<usize>,
    /// (ISL,OSL) mixture, e.g. `128,64:25;512,128:75` (percentages summing to 100).
    #[arg(long, visible_aliases = ["sequence-distribution"], value_name = "DIST", help_heading = "Input")]
    #[serde(alias = "sequence_distribution")]
    pub seq_dist: Option<String>,
    /// Drop timestamps and delays of --input-file rows.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Input")]
    pub ignore_trace_delays: Option<bool>,

    // ---------------- multi-turn (`docs/datasets.md` §1)
    /// Mean turns per synthetic conversation.
    #[arg(long = "conversation-turn-mean", visible_aliases = ["session-turns-mean"], help_heading = "Multi-turn")]
    #[serde(alias = "session_turns_mean")]
    pub conversation_turn_mean: Option<f64>,
    /// Standard deviation of the turns per conversation.
    #[arg(long = "conversation-turn-stddev", visible_aliases = ["session-turns-stddev"], help_heading = "Multi-turn")]
    #[serde(alias = "session_turns_stddev")]
    pub conversation_turn_stddev: Option<f64>,
    /// Mean think time (ms) before turns after the first.
    #[arg(long = "conversation-turn-delay-mean", visible_aliases = ["session-turn-delay-mean"], value_name = "MS", help_heading = "Multi-turn")]
    #[serde(alias = "session_turn_delay_mean")]
    pub conversation_turn_delay_mean: Option<f64>,
    /// Standard deviation of the think time (ms).
    #[arg(long = "conversation-turn-delay-stddev", visible_aliases = ["session-turn-delay-stddev"], value_name = "MS", help_heading = "Multi-turn")]
    #[serde(alias = "session_turn_delay_stddev")]
    pub conversation_turn_delay_stddev: Option<f64>,
    /// Multiplier of every think time (0 = none).
    #[arg(long = "conversation-turn-delay-ratio", visible_aliases = ["session-delay-ratio"], help_heading = "Multi-turn")]
    #[serde(alias = "session_delay_ratio")]
    pub conversation_turn_delay_ratio: Option<f64>,
    /// Number of conversations (random_pool size; session-count stop condition).
    #[arg(long = "conversation-num", visible_aliases = ["num-conversations", "num-sessions"], help_heading = "Multi-turn")]
    #[serde(alias = "num_conversations", alias = "num_sessions")]
    pub conversation_num: Option<usize>,

    // ---------------- fixed schedule / trace replay (`docs/datasets.md` §5)
    /// Send requests at the dataset timestamps (automatic for timestamped files).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Fixed schedule")]
    pub fixed_schedule: Option<bool>,
    /// Do not switch to a fixed schedule for timestamped files (timestamps are dropped).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Fixed schedule")]
    pub no_fixed_schedule: Option<bool>,
    /// Start the schedule at the first timestamp (default on unless a start offset is given).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Fixed schedule")]
    pub fixed_schedule_auto_offset: Option<bool>,
    /// Drop rows with timestamp < MS; the schedule starts at MS.
    #[arg(long, value_name = "MS", help_heading = "Fixed schedule")]
    pub fixed_schedule_start_offset: Option<u64>,
    /// Drop rows with timestamp > MS.
    #[arg(long, value_name = "MS", help_heading = "Fixed schedule")]
    pub fixed_schedule_end_offset: Option<u64>,
    /// Divide trace timestamps by this (2.0 = twice as fast).
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_speedup_ratio: Option<f64>,
    /// Replay --input-file this many times faster: timestamps and inter-turn delays are
    /// divided by it (excludes --synthesis-speedup-ratio).
    #[arg(long, value_name = "FACTOR", help_heading = "Fixed schedule")]
    pub replay_speedup: Option<f64>,
    /// Scale the shared prefix of mooncake rows.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_prefix_len_multiplier: Option<f64>,
    /// Spread mooncake rows over N independent prefix trees.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_prefix_root_multiplier: Option<u32>,
    /// Scale the unique (non-shared) prompt part of mooncake rows.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_prompt_len_multiplier: Option<f64>,
    /// Scale trace output lengths.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_output_len_multiplier: Option<f64>,
    /// Skip trace rows with input_length > N.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_max_isl: Option<u64>,
    /// Cap trace output lengths at N.
    #[arg(long, help_heading = "Fixed schedule")]
    pub synthesis_max_osl: Option<u64>,

    // ---------------- metrics and exports (`docs/metrics.md` §3, §6, §11)
    /// Goodput SLOs (`--goodput`).
    #[command(flatten)]
    #[serde(default)]
    pub goodput: Option<Goodput>,
    /// Token counts (ISL, output, reasoning) from the server's `usage` object instead of
    /// the client-side tokenizer; disables the usage-discrepancy metrics.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Metrics")]
    pub use_server_token_count: Option<bool>,
    /// Also summarise the run in windows of this many seconds
    /// (`profile_export_aiperf_timeslices.{csv,json}`).
    #[arg(long, value_name = "SECONDS", help_heading = "Output")]
    pub slice_duration: Option<f64>,
    /// Plot the run afterwards (accepted; plots are not implemented yet).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", overrides_with = "no_auto_plot", help_heading = "Output")]
    pub auto_plot: Option<bool>,
    /// Do not plot the run afterwards.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", overrides_with = "auto_plot", help_heading = "Output")]
    pub no_auto_plot: Option<bool>,
    // ---------------- server metrics (`docs/server-metrics.md`) and GPU telemetry
    /// Extra Prometheus endpoints to scrape besides `<url>/metrics` (`host:port` or a
    /// URL; repeatable).
    #[arg(long, num_args = 0.., value_name = "URL", overrides_with = "no_server_metrics", help_heading = "Server metrics and GPU telemetry")]
    pub server_metrics: Option<Vec<String>>,
    /// Do not scrape server metrics.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", overrides_with = "server_metrics", help_heading = "Server metrics and GPU telemetry")]
    pub no_server_metrics: Option<bool>,
    /// Export formats of the server metrics (`jsonl` adds every raw scrape).
    #[arg(long, num_args = 1.., value_enum, help_heading = "Server metrics and GPU telemetry")]
    pub server_metrics_formats: Option<Vec<ServerMetricsFormat>>,
    /// Seconds between two scrapes of each server metrics endpoint.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "AIPERF_SERVER_METRICS_COLLECTION_INTERVAL",
        help_heading = "Server metrics and GPU telemetry"
    )]
    pub server_metrics_interval: Option<f64>,
    /// After the last request, at most this many seconds for the server to publish its
    /// final counters (scraping stops earlier once they no longer change).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "AIPERF_SERVER_METRICS_COLLECTION_FLUSH_PERIOD",
        help_heading = "Server metrics and GPU telemetry"
    )]
    pub server_metrics_flush: Option<f64>,
    /// GPU telemetry sources: `pynvml`, `amdsmi`, `dashboard`, DCGM exporter URLs or a
    /// metrics CSV. Accepted; GPU telemetry is not collected yet.
    #[arg(long, num_args = 0.., value_name = "SOURCE", overrides_with = "no_gpu_telemetry", help_heading = "Server metrics and GPU telemetry")]
    pub gpu_telemetry: Option<Vec<String>>,
    /// Do not collect GPU telemetry.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", overrides_with = "gpu_telemetry", help_heading = "Server metrics and GPU telemetry")]
    pub no_gpu_telemetry: Option<bool>,
    // ---------------- load modes (`docs/load-modes.md`)
    /// Max requests waiting for their first token (streaming only; at most --concurrency).
    #[arg(long, help_heading = "Load")]
    pub prefill_concurrency: Option<usize>,
    /// Raise the session limit from 1 to --concurrency over this many seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub concurrency_ramp_duration: Option<f64>,
    /// Raise the prefill limit from 1 to --prefill-concurrency over this many seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub prefill_concurrency_ramp_duration: Option<f64>,
    /// Raise the request rate linearly from rate·0.1/S to --request-rate over S seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub request_rate_ramp_duration: Option<f64>,
    /// Warmup stop condition: seconds of warmup (first condition reached wins).
    #[arg(long, value_name = "SECONDS", help_heading = "Warmup")]
    pub warmup_duration: Option<f64>,
    /// Warmup stop condition: sessions started (excludes --warmup-request-count).
    #[arg(long, help_heading = "Warmup")]
    pub num_warmup_sessions: Option<u64>,
    /// Session limit during warmup (default --concurrency).
    #[arg(long, help_heading = "Warmup")]
    pub warmup_concurrency: Option<usize>,
    /// Prefill limit during warmup (default --prefill-concurrency).
    #[arg(long, help_heading = "Warmup")]
    pub warmup_prefill_concurrency: Option<usize>,
    /// Request rate during warmup (default --request-rate).
    #[arg(long, help_heading = "Warmup")]
    pub warmup_request_rate: Option<f64>,
    /// Arrival pattern during warmup (default --arrival-pattern).
    #[arg(long, value_enum, help_heading = "Warmup")]
    pub warmup_arrival_pattern: Option<ArrivalPattern>,
    /// Seconds to wait for warmup requests still in flight when warmup stops (default inf).
    #[arg(long, value_name = "SECONDS", help_heading = "Warmup")]
    pub warmup_grace_period: Option<f64>,
    /// Concurrency ramp of the warmup (default --concurrency-ramp-duration).
    #[arg(long, value_name = "SECONDS", help_heading = "Warmup")]
    pub warmup_concurrency_ramp_duration: Option<f64>,
    /// Prefill-concurrency ramp of the warmup (default --prefill-concurrency-ramp-duration).
    #[arg(long, value_name = "SECONDS", help_heading = "Warmup")]
    pub warmup_prefill_concurrency_ramp_duration: Option<f64>,
    /// Request-rate ramp of the warmup (default --request-rate-ramp-duration).
    #[arg(long, value_name = "SECONDS", help_heading = "Warmup")]
    pub warmup_request_rate_ramp_duration: Option<f64>,
    /// Percentage (0–100) of profiling requests cancelled by the client on purpose.
    #[arg(long, value_name = "PERCENT", help_heading = "Request cancellation")]
    pub request_cancellation_rate: Option<f64>,
    /// Seconds after the request was fully sent before a selected request is aborted.
    #[arg(long, value_name = "SECONDS", help_heading = "Request cancellation")]
    pub request_cancellation_delay: Option<f64>,
    /// User-centric timing: total requests/second spread over --num-users users.
    #[arg(long, value_name = "QPS", help_heading = "Multi-turn")]
    pub user_centric_rate: Option<f64>,
    /// Number of simulated users (with --user-centric-rate).
    #[arg(long, help_heading = "Multi-turn")]
    pub num_users: Option<usize>,
    /// GPUs serving the model, for the TPS/GPU column of sweeps.
    #[arg(long, help_heading = "Output")]
    pub num_gpus: Option<usize>,

    /// AIPerf 0.13 options accepted without effect (hidden; see [`crate::compat`]).
    #[command(flatten)]
    #[serde(skip)]
    pub inert: InertArgs,
}

impl ProfileArgs {
    /// The `profile` command as `aiperf-rs` parses it (the same arguments, settings
    /// and help as the `profile` subcommand).
    pub fn command() -> clap::Command {
        <ProfileArgs as Args>::augment_args(clap::Command::new("profile"))
    }

    /// Parses the arguments of `profile` (without the program and subcommand names),
    /// after [`crate::compat::expand_shorthands`].
    pub fn try_parse_args<I, T>(args: I) -> Result<ProfileArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString>,
    {
        let argv = std::iter::once(std::ffi::OsString::from("profile"))
            .chain(crate::compat::expand_shorthands(args));
        let matches = ProfileArgs::command().try_get_matches_from(argv)?;
        <ProfileArgs as clap::FromArgMatches>::from_arg_matches(&matches)
    }

    /// The server URL given: the first `--url`, else the config file's `url`.
    pub fn first_url(&self) -> Option<&str> {
        self.urls
            .as_ref()
            .and_then(|u| u.first())
            .or(self.url.as_ref())
            .map(String::as_str)
    }
}

/// `--goodput` SLOs: `TAG:VALUE` words in each metric's display unit. Given as one
/// quoted string or several words, repeatable; a config file gives one string.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct Goodput {
    /// Goodput SLOs: space-separated `TAG:VALUE` pairs in each metric's display unit,
    /// e.g. `"time_to_first_token:300 inter_token_latency:10"`. A request is good when it
    /// meets every SLO; adds `goodput`, `good_request_count` and `good_request_fraction`.
    #[arg(
        long = "goodput",
        num_args = 1..,
        value_name = "TAG:VALUE",
        help_heading = "Metrics"
    )]
    pub slos: Vec<String>,
}

impl Goodput {
    /// The SLOs as one space-separated string (`None` when there are none).
    pub fn spec(&self) -> Option<String> {
        let words: Vec<&str> = self
            .slos
            .iter()
            .flat_map(|s| s.split_whitespace())
            .collect();
        (!words.is_empty()).then(|| words.join(" "))
    }
}

impl From<&str> for Goodput {
    fn from(s: &str) -> Goodput {
        Goodput {
            slos: vec![s.to_string()],
        }
    }
}

impl Serialize for Goodput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spec().unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Goodput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Goodput, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        Ok(Goodput {
            slos: match Form::deserialize(d)? {
                Form::One(s) => vec![s],
                Form::Many(v) => v,
            },
        })
    }
}

/// Accepts one value, a list, or a comma-separated string (`"10,50,100"`) for the
/// sweepable options of a config file.
fn one_or_many<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
        Text(String),
    }
    match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Ok(None),
        Some(OneOrMany::Many(v)) => Ok(Some(v)),
        Some(OneOrMany::One(v)) => Ok(Some(vec![v])),
        Some(OneOrMany::Text(s)) => s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<T>()
                    .map_err(|e| serde::de::Error::custom(format!("{x:?}: {e}")))
            })
            .collect::<Result<Vec<T>, _>>()
            .map(Some),
    }
}
