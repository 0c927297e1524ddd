//! The `aiperf-rs profile` flags. Names and aliases follow AIPerf's CLI.
//!
//! Every field is `Option` (booleans too) so that a config file can set any option
//! and a flag given on the command line overrides it. The serde names are the long
//! flag names in snake_case: they are the keys of a `-f/--config` file.

use crate::dataset::{CustomDatasetType, DatasetSamplingStrategy, PublicDataset};
use crate::{ArrivalPattern, EndpointType, ExportLevel, ServiceMode, UiType};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Options of `aiperf-rs profile`.
#[derive(Debug, Clone, Default, PartialEq, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Base URL of the server; `http://` is added when no scheme is given.
    #[arg(short = 'u', long, help_heading = "Endpoint")]
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
    /// API key sent as `Authorization: Bearer <key>`.
    #[arg(long, help_heading = "Endpoint")]
    pub api_key: Option<String>,
    /// Extra HTTP header `Name:Value` (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME:VALUE",
        help_heading = "Endpoint"
    )]
    #[serde(alias = "headers")]
    pub header: Option<Vec<String>>,
    /// Extra request-body field `key:value` (repeatable) or a JSON object.
    #[arg(long, value_name = "KEY:VALUE", help_heading = "Endpoint")]
    pub extra_inputs: Option<Vec<String>>,
    /// Send `max_tokens` instead of `max_completion_tokens` (chat).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Endpoint")]
    pub use_legacy_max_tokens: Option<bool>,

    // ---------------- input
    /// Tokenizer: a `tokenizer.json` file, a directory holding one, or `builtin`.
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
    /// Number of requests to send (default 10 when no other stop condition).
    #[arg(long, visible_aliases = ["num-requests"], help_heading = "Load")]
    #[serde(alias = "num_requests")]
    pub request_count: Option<u64>,
    /// Stop issuing requests after this many seconds.
    #[arg(long, value_name = "SECONDS", help_heading = "Load")]
    pub benchmark_duration: Option<f64>,
    /// Seconds to wait for in-flight requests after --benchmark-duration (default 30; `inf` allowed).
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
    /// Prefix of the export file names (default `profile_export`).
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
    /// Base port of the TCP sockets (default 5557: AIPerf's ports).
    #[arg(long, help_heading = "Services")]
    pub zmq_base_port: Option<u16>,
    /// Directory of the IPC socket files (default: a fresh temp dir).
    #[arg(long, help_heading = "Services")]
    pub zmq_ipc_path: Option<PathBuf>,
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

    // ---------------- dataset sources (datasets.md §2–§4)
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

    // ---------------- multi-turn (datasets.md §1.3)
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

    // ---------------- fixed schedule / trace replay (cli.md §1.6)
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

    // ---------------- metrics and exports (metrics.md §2.2, §4.8; exports.md §5)
    /// Goodput SLOs: space-separated `TAG:VALUE` pairs in each metric's display unit,
    /// e.g. `"time_to_first_token:300 inter_token_latency:10"`. A request is good when it
    /// meets every SLO; adds `goodput`, `good_request_count` and `good_request_fraction`.
    #[arg(long, value_name = "TAG:VALUE ...", help_heading = "Metrics")]
    pub goodput: Option<String>,
    /// Token counts (ISL, output, reasoning) from the server's `usage` object instead of
    /// the client-side tokenizer; disables the usage-discrepancy metrics.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help_heading = "Metrics")]
    pub use_server_token_count: Option<bool>,
    /// Also summarise the run in windows of this many seconds
    /// (`profile_export_aiperf_timeslices.{csv,json}`).
    #[arg(long, value_name = "SECONDS", help_heading = "Output")]
    pub slice_duration: Option<f64>,
    // ---------------- load modes (timing.md §3–§8, cli.md §1.5–§1.8)
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
    /// Seconds after the request was fully sent before a selected request is aborted (default 0).
    #[arg(long, value_name = "SECONDS", help_heading = "Request cancellation")]
    pub request_cancellation_delay: Option<f64>,
    /// User-centric timing: total requests/second spread over --num-users users.
    #[arg(long, value_name = "QPS", help_heading = "Multi-turn")]
    pub user_centric_rate: Option<f64>,
    /// Number of simulated users (with --user-centric-rate).
    #[arg(long, help_heading = "Multi-turn")]
    pub num_users: Option<usize>,
    /// GPUs serving the model, for the TPS/GPU column of sweeps (default 1).
    #[arg(long, help_heading = "Output")]
    pub num_gpus: Option<usize>,
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
