//! AIPerf 0.13 `profile` options that aiperf-rs accepts without acting on them.
//!
//! [`INERT_OPTIONS`] is the one table of these options: name, aliases, how the value
//! is given (cyclopts conventions: a flag, one value, or a list) and why it has no
//! effect. [`InertArgs`] turns the table into hidden clap arguments (flattened into
//! [`crate::ProfileArgs`]), collects what was given on the command line or in a
//! config file, and words the one-line warning printed for each.
//! `docs/cli-compatibility.md` lists the same options for users.

use crate::ConfigError;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// How an option takes its value (the conventions of AIPerf's parser, cyclopts; see
/// `docs/cli-compatibility.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// A boolean flag (`--x`; an explicit `true`/`false` value is also accepted, as for
    /// the implemented boolean flags).
    Flag,
    /// One value; given twice, the last one wins.
    Value,
    /// One or more space-separated values; repeated occurrences accumulate.
    List,
}

/// One accepted-but-inert option.
#[derive(Debug, Clone, Copy)]
pub struct InertOption {
    /// Long name without the leading `--`.
    pub name: &'static str,
    /// Other long names (without `--`).
    pub aliases: &'static [&'static str],
    /// Short name, if any.
    pub short: Option<char>,
    /// The `--no-…` form of a flag (without `--`), if AIPerf has one.
    pub negation: Option<&'static str>,
    /// How the value is given.
    pub takes: Takes,
    /// Why it has no effect, and what comes closest in aiperf-rs.
    pub reason: &'static str,
}

impl InertOption {
    /// Every spelling of the option (name, aliases, negation), without `--`.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .chain(self.negation)
    }

    /// The clap id: the name itself (kebab-case, so it cannot clash with the
    /// snake_case field ids of [`crate::ProfileArgs`]).
    fn id(&self) -> &'static str {
        self.name
    }

    fn arg(&self) -> Arg {
        let mut arg = Arg::new(self.id())
            .long(self.name)
            .aliases(self.aliases.iter().copied())
            .help(self.reason)
            .hide(true);
        if let Some(s) = self.short {
            arg = arg.short(s);
        }
        match self.takes {
            Takes::Flag => arg
                .num_args(0..=1)
                .default_missing_value("true")
                .value_name("BOOL")
                .value_parser(clap::value_parser!(bool))
                .action(ArgAction::Set),
            Takes::Value => arg
                .num_args(1)
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(String))
                .action(ArgAction::Set),
            Takes::List => arg
                .num_args(1..)
                .allow_negative_numbers(true)
                .value_parser(clap::value_parser!(String))
                .action(ArgAction::Append),
        }
    }
}

const TEXT_ONLY: &str = "aiperf-rs sends text prompts only (no audio, image or video inputs)";
const CHAT_COMPLETIONS_ONLY: &str =
    "aiperf-rs supports the chat and completions endpoints only (no embeddings or rankings)";
const ACCURACY: &str = "accuracy benchmarking is not implemented";
const UPLOADS: &str = "results are not uploaded (MLflow, W&B, OpenTelemetry); the files in the artifact directory hold them";
const MULTI_RUN: &str = "repeated runs with confidence statistics are not implemented; run aiperf-rs several times (with --random-seed for identical workloads)";
const SEARCH: &str = "adaptive search and search recipes are not implemented; a comma list (--concurrency 10,50,100) runs a sweep";
const SWEEP: &str = "sweep options are not implemented; a comma list (--concurrency 10,50,100) runs one profile per value, in order";
const TRACE_LOADERS: &str = "the baseten, weka and agentic trace loaders are not implemented; mooncake_trace and azure_trace files replay with --fixed-schedule";
const HF_DATASETS: &str = "public datasets are read from a local copy (--public-dataset sharegpt --input-file FILE); nothing is downloaded";
const HF_TOKENIZER: &str =
    "tokenizers are read from local files (--tokenizer FILE|DIR|builtin); nothing is downloaded";
const READINESS: &str = "no readiness probe is sent; start aiperf-rs once the server answers";
const SERVER_CONTROL: &str = "server control endpoints (KV-cache reset, profiler) are not called";
const SERVICE_API: &str =
    "the AIPerf API server is not implemented; progress goes to the console and the log file";
const NETWORK_LATENCY: &str = "network latency adjustment is not implemented";
const SCENARIO: &str = "named scenarios are not implemented";
const PLOTS: &str = "plots are not implemented yet";

/// The AIPerf 0.13 `profile` options aiperf-rs accepts without acting on them.
pub static INERT_OPTIONS: &[InertOption] = &[
    // ---------------- endpoint
    flag("reset-kv-cache", SERVER_CONTROL),
    value("reset-kv-cache-timeout-seconds", SERVER_CONTROL),
    value("reset-kv-cache-path", SERVER_CONTROL),
    flag("server-profiler", SERVER_CONTROL),
    value("server-profiler-timeout-seconds", SERVER_CONTROL),
    value("server-profiler-start-path", SERVER_CONTROL),
    value("server-profiler-stop-path", SERVER_CONTROL),
    value(
        "model-selection-strategy",
        "every request carries the first --model name",
    ),
    value(
        "url-strategy",
        "every request goes to the first --url (no load balancing)",
    ),
    value("wait-for-model-timeout", READINESS),
    value("wait-for-model-mode", READINESS),
    value("wait-for-model-interval", READINESS),
    InertOption {
        aliases: &["transport-type"],
        ..value(
            "transport",
            "aiperf-rs always speaks HTTP/1.1 (the only transport of AIPerf 0.13 as well)",
        )
    },
    flag(
        "per-chunk-usage",
        "continuous usage stats are not requested; --use-server-token-count reads the final usage",
    ),
    flag("download-video-content", TEXT_ONLY),
    value(
        "request-content-type",
        "request bodies are always application/json",
    ),
    value(
        "session-header",
        "the per-session header is always X-Correlation-ID",
    ),
    flag("uuid-and-strip", TEXT_ONLY),
    // ---------------- input
    value("hf-subset", HF_DATASETS),
    value("hf-weka-dataset", HF_DATASETS),
    list("dataset-filter", "dataset filters are not implemented"),
    flag("use-think-time-only", TRACE_LOADERS),
    value("max-context-length", TRACE_LOADERS),
    InertOption {
        negation: Some("no-allow-dataset-wrap"),
        ..flag("allow-dataset-wrap", TRACE_LOADERS)
    },
    value("trace-session-sample-ratio", TRACE_LOADERS),
    // ---------------- output
    flag("plot-required", PLOTS),
    flag(
        "export-outputs-json",
        "outputs.json is not written; --export-level raw records the generated texts in profile_export_raw.jsonl",
    ),
    value("otel-url", UPLOADS),
    list("stream", UPLOADS),
    list("otel-resource-attributes", UPLOADS),
    value("gen-ai-provider", UPLOADS),
    value("mlflow-tracking-uri", UPLOADS),
    value("mlflow-experiment", UPLOADS),
    value("mlflow-run-name", UPLOADS),
    list("mlflow-tag", UPLOADS),
    value("mlflow-parent-run-id", UPLOADS),
    list("mlflow-artifact-glob", UPLOADS),
    value("wandb-project", UPLOADS),
    value("wandb-entity", UPLOADS),
    value("wandb-run-name", UPLOADS),
    list("wandb-tag", UPLOADS),
    flag(
        "export-http-trace",
        "HTTP trace data is not recorded; --export-level raw writes request and response bodies",
    ),
    flag(
        "show-trace-timing",
        "HTTP trace timing is not recorded; the console shows the request latency metrics",
    ),
    // ---------------- tokenizer
    value("tokenizer-revision", HF_TOKENIZER),
    flag("tokenizer-trust-remote-code", HF_TOKENIZER),
    flag(
        "apply-chat-template",
        "input tokens are counted on the prompt text without a chat template",
    ),
    // ---------------- load generator
    value(
        "request-rate-series",
        "request-rate series are not implemented; --request-rate-ramp-duration ramps the rate",
    ),
    value(
        "failed-request-threshold",
        "runs are not aborted on failures; the summary counts the errors",
    ),
    value("trajectory-start-min-ratio", TRACE_LOADERS),
    value("trajectory-start-max-ratio", TRACE_LOADERS),
    flag("burst-phase-starts", TRACE_LOADERS),
    value("trace-idle-gap-cap-seconds", TRACE_LOADERS),
    value("system-idle-gap-cap-seconds", TRACE_LOADERS),
    value("scenario", SCENARIO),
    flag("unsafe-override", SCENARIO),
    value("agentic-cache-warmup-duration", TRACE_LOADERS),
    value("agentic-warmup-grace-period", TRACE_LOADERS),
    // ---------------- conversation input
    value(
        "inter-turn-delay-cap-seconds",
        "delay caps are not implemented; --conversation-turn-delay-ratio or --ignore-trace-delays shorten delays",
    ),
    value("max-idle-gap-cap-seconds", TRACE_LOADERS),
    InertOption {
        negation: Some("no-open-loop-replay"),
        ..flag("open-loop-replay", TRACE_LOADERS)
    },
    flag("open-loop-strict", TRACE_LOADERS),
    flag("omit-kv-hints", TRACE_LOADERS),
    InertOption {
        negation: Some("no-force-min-tokens"),
        ..flag("force-min-tokens", TRACE_LOADERS)
    },
    // ---------------- prompt
    value(
        "random-range-ratio",
        "uniform ISL/OSL ranges are not implemented; use --isl-stddev/--osl-stddev or --seq-dist",
    ),
    value(
        "random-corpus-style",
        "uniform ISL/OSL ranges are not implemented; use --isl-stddev/--osl-stddev or --seq-dist",
    ),
    InertOption {
        aliases: &["batch-size-text", "batch-size"],
        short: Some('b'),
        ..value("prompt-batch-size", CHAT_COMPLETIONS_ONLY)
    },
    value(
        "prompt-corpus",
        "synthetic prompts are cut from aiperf-rs's built-in English corpus (ShareGPT user prompts)",
    ),
    value("cache-bust", "cache-bust markers are not implemented"),
    // ---------------- rankings
    value("rankings-passages-mean", CHAT_COMPLETIONS_ONLY),
    value("rankings-passages-stddev", CHAT_COMPLETIONS_ONLY),
    value("rankings-passages-prompt-token-mean", CHAT_COMPLETIONS_ONLY),
    value(
        "rankings-passages-prompt-token-stddev",
        CHAT_COMPLETIONS_ONLY,
    ),
    value("rankings-query-prompt-token-mean", CHAT_COMPLETIONS_ONLY),
    value("rankings-query-prompt-token-stddev", CHAT_COMPLETIONS_ONLY),
    // ---------------- audio / image / video
    InertOption {
        aliases: &["batch-size-audio"],
        ..value("audio-batch-size", TEXT_ONLY)
    },
    value("audio-length-mean", TEXT_ONLY),
    value("audio-length-stddev", TEXT_ONLY),
    value("audio-format", TEXT_ONLY),
    list("audio-depths", TEXT_ONLY),
    list("audio-sample-rates", TEXT_ONLY),
    value("audio-num-channels", TEXT_ONLY),
    value("image-width-mean", TEXT_ONLY),
    value("image-width-stddev", TEXT_ONLY),
    value("image-height-mean", TEXT_ONLY),
    value("image-height-stddev", TEXT_ONLY),
    InertOption {
        aliases: &["batch-size-image"],
        ..value("image-batch-size", TEXT_ONLY)
    },
    value("image-format", TEXT_ONLY),
    value("image-source", TEXT_ONLY),
    value("image-source-sampling", TEXT_ONLY),
    InertOption {
        aliases: &["batch-size-video"],
        ..value("video-batch-size", TEXT_ONLY)
    },
    value("video-duration", TEXT_ONLY),
    value("video-fps", TEXT_ONLY),
    value("video-width", TEXT_ONLY),
    value("video-height", TEXT_ONLY),
    value("video-synth-type", TEXT_ONLY),
    value("video-format", TEXT_ONLY),
    value("video-codec", TEXT_ONLY),
    value("video-audio-sample-rate", TEXT_ONLY),
    value("video-audio-num-channels", TEXT_ONLY),
    value("video-audio-codec", TEXT_ONLY),
    value("video-audio-depth", TEXT_ONLY),
    // ---------------- service
    value("api-port", SERVICE_API),
    value("api-host", SERVICE_API),
    value(
        "stats-interval",
        "no periodic stats block is logged; the progress display updates continuously",
    ),
    // ---------------- network latency
    flag("network-latency-automatic", NETWORK_LATENCY),
    value("network-latency-mean", NETWORK_LATENCY),
    value("network-latency-ping-interval", NETWORK_LATENCY),
    // ---------------- zmq
    flag(
        "zmq-dual-bind",
        "services talk over IPC, or TCP with --zmq-host; dual binding is not implemented",
    ),
    // ---------------- accuracy
    value("accuracy-benchmark", ACCURACY),
    list("accuracy-tasks", ACCURACY),
    value("accuracy-n-shots", ACCURACY),
    InertOption {
        negation: Some("accuracy-no-enable-cot"),
        ..flag("accuracy-enable-cot", ACCURACY)
    },
    value("accuracy-grader", ACCURACY),
    value("accuracy-system-prompt", ACCURACY),
    flag("accuracy-verbose", ACCURACY),
    // ---------------- multi-run
    value("num-profile-runs", MULTI_RUN),
    value("profile-run-cooldown-seconds", MULTI_RUN),
    value("confidence-level", MULTI_RUN),
    InertOption {
        negation: Some("no-profile-run-disable-warmup-after-first"),
        ..flag("profile-run-disable-warmup-after-first", MULTI_RUN)
    },
    InertOption {
        negation: Some("no-set-consistent-seed"),
        ..flag("set-consistent-seed", MULTI_RUN)
    },
    InertOption {
        negation: Some("no-vary-seed-per-trial"),
        ..flag("vary-seed-per-trial", MULTI_RUN)
    },
    value("convergence-metric", MULTI_RUN),
    value("convergence-stat", MULTI_RUN),
    value("convergence-threshold", MULTI_RUN),
    value("convergence-mode", MULTI_RUN),
    value("parameter-sweep-cooldown-seconds", SWEEP),
    InertOption {
        negation: Some("no-parameter-sweep-same-seed"),
        ..flag("parameter-sweep-same-seed", SWEEP)
    },
    value("parameter-sweep-mode", SWEEP),
    value("sweep-type", SWEEP),
    flag("no-sweep-table", SWEEP),
    InertOption {
        aliases: &["sweep-variant"],
        ..list("variant", SWEEP)
    },
    list("search-space", SEARCH),
    value("search-metric", SEARCH),
    value("search-stat", SEARCH),
    value("search-direction", SEARCH),
    value("search-max-iterations", SEARCH),
    value("search-initial-points", SEARCH),
    value("search-random-seed", SEARCH),
    value("search-planner", SEARCH),
    value("optuna-sampler", SEARCH),
    value("optuna-acquisition", SEARCH),
    value("optuna-terminator", SEARCH),
    value("search-percentile-pooling", SEARCH),
    value("bo-constraint-mode", SEARCH),
    value("search-recipe", SEARCH),
    list("search-sla", SEARCH),
    list("search-sla-tier", SEARCH),
    value("ttft-sla-ms", SEARCH),
    value("isl-osl-pairs", SEARCH),
    value("itl-sla-ms", SEARCH),
    value("tpot-sla-ms", SEARCH),
    value("e2e-sla-ms", SEARCH),
    value("error-rate-sla", SEARCH),
    value("slo-attainment-fraction", SEARCH),
    value("search-style", SEARCH),
    value("degradation-threshold", SEARCH),
    value("degradation-metric-tag", SEARCH),
    value("degradation-stat", SEARCH),
    value("isl-min", SEARCH),
    value("isl-max", SEARCH),
    value("isl-steps", SEARCH),
    value("concurrency-min", SEARCH),
    value("concurrency-max", SEARCH),
    value("concurrency-steps", SEARCH),
    value("osl-min", SEARCH),
    value("osl-max", SEARCH),
    value("osl-steps", SEARCH),
];

const fn option(name: &'static str, takes: Takes, reason: &'static str) -> InertOption {
    InertOption {
        name,
        aliases: &[],
        short: None,
        negation: None,
        takes,
        reason,
    }
}

const fn flag(name: &'static str, reason: &'static str) -> InertOption {
    option(name, Takes::Flag, reason)
}

const fn value(name: &'static str, reason: &'static str) -> InertOption {
    option(name, Takes::Value, reason)
}

const fn list(name: &'static str, reason: &'static str) -> InertOption {
    option(name, Takes::List, reason)
}

/// The table entry one spelling (`audio-format`, `batch-size-audio`, `no-…`) belongs to.
pub fn find(name: &str) -> Option<&'static InertOption> {
    INERT_OPTIONS.iter().find(|o| o.names().any(|n| n == name))
}

/// What was given for an inert option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InertValue {
    /// A flag: `true`, or `false` from its `--no-…` form or an explicit `false`.
    Flag(bool),
    /// The value(s) of a value or list option, in order.
    Values(Vec<String>),
}

/// The inert options given, by [`InertOption::name`]. Flattened into
/// [`crate::ProfileArgs`] as hidden clap arguments; a config file fills it through
/// [`InertArgs::take_from_map`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InertArgs {
    given: BTreeMap<&'static str, InertValue>,
}

impl InertArgs {
    /// The value given for `name` (the option's main name), if any.
    pub fn get(&self, name: &str) -> Option<&InertValue> {
        self.given.get(name)
    }

    /// True when no inert option was given.
    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    /// `self` with every option given in `over` replaced by that value (flags win over
    /// a config file).
    pub fn overridden_by(mut self, over: &InertArgs) -> InertArgs {
        self.given
            .extend(over.given.iter().map(|(k, v)| (*k, v.clone())));
        self
    }

    /// One line per option given: it has no effect in aiperf-rs, and why.
    pub fn warnings(&self) -> Vec<String> {
        self.given
            .iter()
            .filter_map(|(name, v)| {
                let o = find(name)?;
                let shown = match (v, o.negation) {
                    (InertValue::Flag(false), Some(neg)) => neg,
                    _ => o.name,
                };
                Some(format!(
                    "--{shown} has no effect in aiperf-rs: {}",
                    o.reason
                ))
            })
            .collect()
    }

    /// Moves the keys of a config file that name inert options (snake_case of any
    /// spelling, e.g. `audio_format`, `no_allow_dataset_wrap`) out of `map`.
    pub fn take_from_map(
        map: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<InertArgs, ConfigError> {
        let mut out = InertArgs::default();
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            let spelled = key.replace('_', "-");
            let Some(o) = find(&spelled) else { continue };
            let Some(v) = map.remove(&key) else { continue };
            let bad = || {
                ConfigError::new(format!(
                    "config key {key}: expected {}",
                    match o.takes {
                        Takes::Flag => "true or false",
                        Takes::Value => "a single value",
                        Takes::List => "a value or a list of values",
                    }
                ))
            };
            let value = match o.takes {
                Takes::Flag => {
                    let b = match &v {
                        serde_json::Value::Bool(b) => *b,
                        serde_json::Value::String(s) => s.parse::<bool>().map_err(|_| bad())?,
                        _ => return Err(bad()),
                    };
                    InertValue::Flag(if o.negation == Some(spelled.as_str()) {
                        !b
                    } else {
                        b
                    })
                }
                Takes::Value => InertValue::Values(vec![scalar(&v).ok_or_else(bad)?]),
                Takes::List => match &v {
                    serde_json::Value::Array(items) => InertValue::Values(
                        items
                            .iter()
                            .map(|i| scalar(i).ok_or_else(bad))
                            .collect::<Result<_, _>>()?,
                    ),
                    other => InertValue::Values(vec![scalar(other).ok_or_else(bad)?]),
                },
            };
            out.given.insert(o.name, value);
        }
        Ok(out)
    }
}

/// A scalar config value as its command-line text (`"x"` → `x`, `3` → `3`).
fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl clap::Args for InertArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for o in INERT_OPTIONS {
            let mut arg = o.arg();
            if let Some(neg) = o.negation {
                arg = arg.overrides_with(neg);
                cmd = cmd.arg(
                    Arg::new(neg)
                        .long(neg)
                        .help(o.reason)
                        .hide(true)
                        .action(ArgAction::SetTrue)
                        .overrides_with(o.id()),
                );
            }
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for InertArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut out = InertArgs::default();
        out.update_from_arg_matches(m)?;
        Ok(out)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for o in INERT_OPTIONS {
            let id = o.id();
            let given = match o.takes {
                Takes::Flag => m.get_one::<bool>(id).copied().map(InertValue::Flag),
                Takes::Value | Takes::List => m
                    .get_many::<String>(id)
                    .map(|vs| InertValue::Values(vs.cloned().collect())),
            };
            let negated = o
                .negation
                .is_some_and(|n| m.value_source(n) == Some(ValueSource::CommandLine));
            if let Some(v) = given {
                self.given.insert(o.name, v);
            } else if negated {
                self.given.insert(o.name, InertValue::Flag(false));
            }
        }
        Ok(())
    }
}

/// Rewrites AIPerf spellings clap cannot parse: the two-letter short flag `-vv`
/// (`--extra-verbose`) would read as `-v` with the value `v`. Apply to the arguments
/// of `profile` before parsing.
pub fn expand_shorthands<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    args.into_iter()
        .map(Into::into)
        .map(|a| {
            if a == "-vv" {
                OsString::from("--extra-verbose")
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for o in INERT_OPTIONS {
            for n in o.names() {
                assert!(seen.insert(n), "--{n} is in the table twice");
            }
        }
    }

    #[test]
    fn config_keys_map_to_options() {
        let mut map = serde_json::json!({
            "audio_format": "wav",
            "batch_size_audio": 2,
            "no_allow_dataset_wrap": true,
            "wandb_tag": ["a", "b"],
            "concurrency": 4,
        });
        let map = map.as_object_mut().unwrap();
        let inert = InertArgs::take_from_map(map).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["concurrency"]);
        assert_eq!(
            inert.get("audio-format"),
            Some(&InertValue::Values(vec!["wav".into()]))
        );
        assert_eq!(
            inert.get("audio-batch-size"),
            Some(&InertValue::Values(vec!["2".into()]))
        );
        assert_eq!(
            inert.get("allow-dataset-wrap"),
            Some(&InertValue::Flag(false))
        );
        assert_eq!(
            inert.get("wandb-tag"),
            Some(&InertValue::Values(vec!["a".into(), "b".into()]))
        );
        let w = inert.warnings();
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().any(|l| l.starts_with("--no-allow-dataset-wrap ")));
    }

    #[test]
    fn wrong_config_value_type_is_an_error() {
        let mut map = serde_json::json!({"reset_kv_cache": {"a": 1}});
        let e = InertArgs::take_from_map(map.as_object_mut().unwrap()).unwrap_err();
        assert!(e.to_string().contains("reset_kv_cache"), "{e}");
    }

    #[test]
    fn double_v_becomes_extra_verbose() {
        assert_eq!(
            expand_shorthands(["-m", "x", "-vv", "-v"]),
            ["-m", "x", "--extra-verbose", "-v"].map(OsString::from)
        );
    }
}
