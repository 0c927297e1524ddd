//! Default values of the `profile` options: one constant per default, used both by
//! [`crate::resolve`] (every [`crate::ProfileArgs`] field is an `Option`, so defaults
//! are applied there) and by `--help`, which shows them as `[default: …]`
//! ([`annotate_help`]).

use clap::Arg;

/// `--url`.
pub const URL: &str = "localhost:8000";
/// `--endpoint-type`.
pub const ENDPOINT_TYPE: crate::EndpointType = crate::EndpointType::Chat;
/// `--request-timeout-seconds` (AIPerf 0.13 uses 21600; aiperf-rs keeps the older 600).
pub const REQUEST_TIMEOUT_S: f64 = 600.0;
/// `--request-idle-timeout-seconds`: a pause this long inside a response is a
/// stalled server, not a slow one (a token every minute is no stream).
pub const REQUEST_IDLE_TIMEOUT_S: f64 = 60.0;
/// `--prompt-input-tokens-mean/--isl`.
pub const ISL_MEAN: f64 = 550.0;
/// `--prompt-input-tokens-stddev/--isl-stddev`.
pub const ISL_STDDEV: f64 = 0.0;
/// `--prompt-input-tokens-block-size/--isl-block-size`.
pub const ISL_BLOCK_SIZE: u32 = 512;
/// `--prompt-output-tokens-stddev/--osl-stddev`.
pub const OSL_STDDEV: f64 = 0.0;
/// `--num-dataset-entries`.
pub const NUM_DATASET_ENTRIES: usize = 100;
/// `--request-count` when no other stop condition is given.
pub const REQUEST_COUNT: u64 = 10;
/// `--benchmark-grace-period` (seconds).
pub const BENCHMARK_GRACE_PERIOD_S: f64 = 30.0;
/// `--shutdown-grace-period` (seconds).
pub const SHUTDOWN_GRACE_PERIOD_S: f64 = 2.0;
/// `--warmup-request-count` (0 = no warmup).
pub const WARMUP_REQUEST_COUNT: u64 = 0;
/// `--arrival-smoothness`.
pub const ARRIVAL_SMOOTHNESS: f64 = 1.0;
/// `--profile-export-prefix`.
pub const PROFILE_EXPORT_PREFIX: &str = "profile_export";
/// `--export-level`.
pub const EXPORT_LEVEL: crate::ExportLevel = crate::ExportLevel::Records;
/// `--zmq-base-port` (AIPerf's ports).
pub const ZMQ_BASE_PORT: u16 = 5557;
/// `--log-level`.
pub const LOG_LEVEL: &str = "info";
/// `--conversation-turn-mean/--session-turns-mean`.
pub const TURN_MEAN: f64 = 1.0;
/// `--conversation-turn-stddev/--session-turns-stddev`.
pub const TURN_STDDEV: f64 = 0.0;
/// `--conversation-turn-delay-mean` (ms).
pub const TURN_DELAY_MEAN_MS: f64 = 0.0;
/// `--conversation-turn-delay-stddev` (ms).
pub const TURN_DELAY_STDDEV_MS: f64 = 0.0;
/// `--conversation-turn-delay-ratio`.
pub const TURN_DELAY_RATIO: f64 = 1.0;
/// `--prompt-prefix-pool-size` (0 = no prefix prompts).
pub const PREFIX_POOL_SIZE: usize = 0;
/// `--prompt-prefix-length`.
pub const PREFIX_LENGTH: usize = 0;
/// The `--synthesis-*` float multipliers and `--synthesis-speedup-ratio`.
pub const SYNTHESIS_MULTIPLIER: f64 = 1.0;
/// `--synthesis-prefix-root-multiplier`.
pub const SYNTHESIS_ROOT_MULTIPLIER: u32 = 1;
/// `--request-cancellation-delay` (seconds).
pub const REQUEST_CANCELLATION_DELAY_S: f64 = 0.0;
/// `--num-gpus`.
pub const NUM_GPUS: usize = 1;
/// `--connection-reuse-strategy`.
pub const CONNECTION_REUSE: crate::ConnectionReuseStrategy = crate::ConnectionReuseStrategy::Pooled;
/// `--server-metrics-formats`.
pub const SERVER_METRICS_FORMATS: [crate::ServerMetricsFormat; 2] = [
    crate::ServerMetricsFormat::Json,
    crate::ServerMetricsFormat::Csv,
];

/// `--server-metrics-interval` (seconds; AIPerf's collection interval).
pub const SERVER_METRICS_INTERVAL_S: f64 = 0.333;
/// `--server-metrics-flush` (seconds; AIPerf's collection flush period).
pub const SERVER_METRICS_FLUSH_S: f64 = 2.0;

/// Prints a float default the way a user types it (`600`, `0.5`).
fn num(x: f64) -> String {
    format!("{x}")
}

/// The command-line spelling of an enum value (`chat`, `records`).
fn enum_name<T: clap::ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// `(clap argument id, default shown in --help)` for every option with a fixed
/// default. The ids are the [`crate::ProfileArgs`] field names.
pub fn help_defaults() -> Vec<(&'static str, String)> {
    vec![
        ("urls", URL.to_string()),
        ("endpoint_type", enum_name(ENDPOINT_TYPE)),
        ("request_timeout_seconds", num(REQUEST_TIMEOUT_S)),
        ("request_idle_timeout_seconds", num(REQUEST_IDLE_TIMEOUT_S)),
        ("prompt_input_tokens_mean", num(ISL_MEAN)),
        ("prompt_input_tokens_stddev", num(ISL_STDDEV)),
        ("prompt_input_tokens_block_size", ISL_BLOCK_SIZE.to_string()),
        ("prompt_output_tokens_stddev", num(OSL_STDDEV)),
        ("num_dataset_entries", NUM_DATASET_ENTRIES.to_string()),
        ("request_count", REQUEST_COUNT.to_string()),
        ("benchmark_grace_period", num(BENCHMARK_GRACE_PERIOD_S)),
        ("shutdown_grace_period", num(SHUTDOWN_GRACE_PERIOD_S)),
        ("warmup_request_count", WARMUP_REQUEST_COUNT.to_string()),
        ("arrival_smoothness", num(ARRIVAL_SMOOTHNESS)),
        ("profile_export_prefix", PROFILE_EXPORT_PREFIX.to_string()),
        ("export_level", enum_name(EXPORT_LEVEL)),
        ("zmq_base_port", ZMQ_BASE_PORT.to_string()),
        ("log_level", LOG_LEVEL.to_string()),
        ("conversation_turn_mean", num(TURN_MEAN)),
        ("conversation_turn_stddev", num(TURN_STDDEV)),
        ("conversation_turn_delay_mean", num(TURN_DELAY_MEAN_MS)),
        ("conversation_turn_delay_stddev", num(TURN_DELAY_STDDEV_MS)),
        ("conversation_turn_delay_ratio", num(TURN_DELAY_RATIO)),
        ("prompt_prefix_pool_size", PREFIX_POOL_SIZE.to_string()),
        ("prompt_prefix_length", PREFIX_LENGTH.to_string()),
        ("synthesis_speedup_ratio", num(SYNTHESIS_MULTIPLIER)),
        ("synthesis_prefix_len_multiplier", num(SYNTHESIS_MULTIPLIER)),
        (
            "synthesis_prefix_root_multiplier",
            SYNTHESIS_ROOT_MULTIPLIER.to_string(),
        ),
        ("synthesis_prompt_len_multiplier", num(SYNTHESIS_MULTIPLIER)),
        ("synthesis_output_len_multiplier", num(SYNTHESIS_MULTIPLIER)),
        (
            "request_cancellation_delay",
            num(REQUEST_CANCELLATION_DELAY_S),
        ),
        ("num_gpus", NUM_GPUS.to_string()),
        ("connection_reuse_strategy", enum_name(CONNECTION_REUSE)),
        ("server_metrics_interval", num(SERVER_METRICS_INTERVAL_S)),
        ("server_metrics_flush", num(SERVER_METRICS_FLUSH_S)),
        (
            "server_metrics_formats",
            SERVER_METRICS_FORMATS
                .iter()
                .map(|f| enum_name(*f))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ]
}

/// Appends `[default: …]` to the help of an argument that has a fixed default (used
/// as `Command::mut_args` on the `profile` command). Clap's own `default_value`
/// cannot be used: it would turn every `Option` field into `Some` and a flag would
/// then always override a config file.
pub fn annotate_help(arg: Arg) -> Arg {
    let id = arg.get_id().as_str().to_string();
    match help_defaults().into_iter().find(|(k, _)| *k == id) {
        Some((_, shown)) => {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let long = arg.get_long_help().map(|h| h.to_string());
            let arg = arg.help(format!("{help} [default: {shown}]"));
            match long {
                Some(l) => arg.long_help(format!("{l} [default: {shown}]")),
                None => arg,
            }
        }
        None => arg,
    }
}
