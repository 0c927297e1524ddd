//! `input_config`: the resolved configuration as AIPerf 0.13 writes it in
//! `profile_export_aiperf.json` and the timeslices JSON (`docs/outputs.md`) — its
//! nested `BenchmarkConfig` (dumped without unset and null fields), built from
//! our [`ProfileConfig`]:
//!
//! ```text
//! models     {"items": [{"name"}]}
//! endpoint   {"urls", "type", "path", "api_key", "timeout", "streaming",
//!             "use_legacy_max_tokens", "use_server_token_count", "connection_reuse",
//!             "headers", "extra"}
//! datasets   [{"name": "default", "type": "synthetic" | "file" | "public", …}]
//! phases     [{"name", "kind", "type", "exclude_from_results", "requests",
//!              "duration", "sessions", "concurrency", "rate", …}, …]
//! artifacts  {"dir", "prefix", "summary", "records", "raw", "slice_duration",
//!             "auto_plot"}
//! slos       {"<metric tag>": <threshold in display unit>}
//! tokenizer  {"name"}
//! gpu_telemetry  {"enabled"}
//! server_metrics {"enabled", "urls", "formats"}
//! runtime    {"ui", "workers", "record_processors", "communication"}
//! logging    {"level"}
//! aiperf_rs  options of aiperf-rs that have no home in AIPerf's configuration
//! ```
//!
//! Keys and nesting are AIPerf's wherever we have the value; what AIPerf sets and
//! we do not have is absent, as are unset options. Secrets are redacted: the API key, secret-looking header values
//! ([`ProfileConfig::header_is_secret`]) and URL credentials ([`redact_url`]).
//!
//! Shapes chosen where AIPerf's could not be read off its source: a public dataset
//! is `{"type": "public", "dataset": <name>}`; the phase type of a timestamped
//! file without `--fixed-schedule` is the load's (the dataset manager decides the
//! replay at run time, see `aiperf_rs.fixed_schedule`). The phases follow the
//! rules of the load plan (`ProfileConfig::phases` of `aiperf-config`): fixed
//! schedule, then user-centric, then request rate, then concurrency.

use crate::redact::{REDACTED, redact_url};
use crate::summary_json::strip_nulls;
use aiperf_config::{
    ArrivalPattern, DatasetConfig, ExportLevel, GoodputSpec, ProfileConfig, TokenDistribution,
    ZmqTransport,
};
use serde_json::{Map, Value, json};

/// The `input_config` object of `config` (see the module doc).
pub fn input_config_value(config: &ProfileConfig) -> Value {
    let mut v = json!({
        "models": {"items": config.models.iter().map(|m| json!({"name": m})).collect::<Vec<_>>()},
        "endpoint": endpoint(config),
        "datasets": [dataset(config)],
        "phases": phases(config),
        "artifacts": artifacts(config),
        "slos": slos(config.goodput.as_ref()),
        "tokenizer": config.tokenizer.as_ref().map(|t| json!({"name": t})),
        "gpu_telemetry": {"enabled": config.gpu_telemetry.enabled},
        "server_metrics": {
            "enabled": config.server_metrics.enabled,
            "urls": config.server_metrics.urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            "formats": config.server_metrics.formats,
        },
        "runtime": runtime(config),
        "logging": {"level": config.log_level},
        "aiperf_rs": aiperf_rs(config),
    });
    strip_nulls(&mut v);
    if let Value::Object(o) = &mut v {
        o.retain(|_, x| !matches!(x, Value::Object(m) if m.is_empty()));
    }
    v
}

/// A serde-serialised enum as its string (`"chat"`, `"poisson"`, …).
fn name_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn dist(d: &TokenDistribution) -> Value {
    json!({"mean": d.mean, "stddev": d.stddev})
}

fn endpoint(c: &ProfileConfig) -> Value {
    let headers: Map<String, Value> = c
        .headers
        .iter()
        .map(|(k, v)| {
            let v = if c.header_is_secret(k) {
                REDACTED
            } else {
                v.as_str()
            };
            (k.clone(), Value::from(v))
        })
        .collect();
    let extra = c.extra_inputs();
    json!({
        "urls": [redact_url(&c.url)],
        "type": name_of(&c.endpoint_type),
        "path": c.endpoint_path,
        "api_key": c.api_key.as_ref().map(|_| REDACTED),
        "timeout": c.request_timeout_s,
        "streaming": c.streaming,
        "use_legacy_max_tokens": c.use_legacy_max_tokens,
        "use_server_token_count": c.use_server_token_count,
        "connection_reuse": name_of(&c.connection_reuse),
        "headers": (!headers.is_empty()).then_some(headers),
        "extra": (!extra.is_empty()).then_some(extra),
    })
}

fn dataset(c: &ProfileConfig) -> Value {
    let d = &c.dataset;
    let sampling = name_of(&d.sampling_strategy_or_default());
    if let Some(public) = &d.public_dataset {
        return json!({
            "name": "default",
            "type": "public",
            "dataset": name_of(public),
            "path": d.input_file,
            "sampling": sampling,
            "random_seed": c.random_seed,
        });
    }
    if let Some(path) = &d.input_file {
        return json!({
            "name": "default",
            "type": "file",
            "path": path,
            "format": d.custom_dataset_type.map(|t| t.name()),
            "sampling": sampling,
            "random_seed": c.random_seed,
            "entries": d.num_conversations,
            "replay_speedup": d.replay_speedup,
            "synthesis": synthesis(d),
        });
    }
    let pairs = d.seq_dist.as_ref().map(|s| {
        s.pairs
            .iter()
            .map(
                |p| json!({"isl": dist(&p.isl), "osl": dist(&p.osl), "probability": p.probability}),
            )
            .collect::<Vec<_>>()
    });
    let prefix = json!({
        "pool_size": (d.prefix_prompt_pool_size > 0).then_some(d.prefix_prompt_pool_size),
        "length": (d.prefix_prompt_length > 0).then_some(d.prefix_prompt_length),
        "shared_system_length": d.shared_system_prompt_length,
        "user_context_length": d.user_context_prompt_length,
    });
    let has_prefix = prefix
        .as_object()
        .is_some_and(|o| o.values().any(|v| !v.is_null()));
    json!({
        "name": "default",
        "type": "synthetic",
        "entries": c.num_dataset_entries,
        "random_seed": c.random_seed,
        "sampling": sampling,
        "prompts": {
            "isl": dist(&c.isl),
            "osl": c.osl.as_ref().map(dist),
            "block_size": c.isl_block_size,
            "sequence_distribution": pairs,
        },
        "prefix_prompts": has_prefix.then_some(prefix),
        "turns": dist(&d.turns),
        "turn_delay": dist(&d.turn_delay_ms),
        "turn_delay_ratio": d.turn_delay_ratio,
    })
}

fn synthesis(d: &DatasetConfig) -> Option<Value> {
    let s = &d.synthesis;
    (*s != Default::default()).then(|| {
        json!({
            "speedup_ratio": s.speedup_ratio,
            "prefix_len_multiplier": s.prefix_len_multiplier,
            "prefix_root_multiplier": s.prefix_root_multiplier,
            "prompt_len_multiplier": s.prompt_len_multiplier,
            "output_len_multiplier": s.output_len_multiplier,
            "max_isl": s.max_isl,
            "max_osl": s.max_osl,
        })
    })
}

/// `{"duration": s}`: AIPerf's ramp object (its default linear strategy unset).
fn ramp(s: Option<f64>) -> Option<Value> {
    s.map(|d| json!({"duration": d}))
}

/// The type of a phase and the fields that belong to it (AIPerf writes them after
/// the common ones).
struct Load {
    kind: &'static str,
    fields: Map<String, Value>,
}

impl Load {
    fn new(kind: &'static str) -> Load {
        Load {
            kind,
            fields: Map::new(),
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Load {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// A rate-driven phase: `constant`, `poisson` or `gamma` (with `smoothness`).
    fn rate(pattern: ArrivalPattern, rate: f64, c: &ProfileConfig) -> Load {
        match pattern {
            ArrivalPattern::Constant => Load::new("constant").with("rate", rate),
            ArrivalPattern::Gamma => Load::new("gamma")
                .with("rate", rate)
                .with("smoothness", c.arrival_smoothness),
            ArrivalPattern::Poisson | ArrivalPattern::ConcurrencyBurst => {
                Load::new("poisson").with("rate", rate)
            }
        }
    }

    fn closed(&self) -> bool {
        self.kind == "concurrency"
    }
}

/// One phase: `name`, `kind`, `type`, `exclude_from_results`, the common fields
/// (`common`, nulls dropped later), then the fields of its type.
fn phase(name: &str, load: Load, common: Value) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), name.into());
    o.insert("kind".into(), name.into());
    o.insert("type".into(), load.kind.into());
    o.insert("exclude_from_results".into(), (name == "warmup").into());
    if let Value::Object(common) = common {
        o.extend(common);
    }
    o.extend(load.fields);
    Value::Object(o)
}

fn phases(c: &ProfileConfig) -> Value {
    let l = &c.load;
    let mut list = Vec::new();
    if c.warmup_enabled() {
        let w = &l.warmup;
        let pattern = w.arrival_pattern.unwrap_or(c.arrival_pattern);
        let mut load = match w.request_rate.or(c.request_rate) {
            Some(r)
                if !(pattern == ArrivalPattern::ConcurrencyBurst && w.request_rate.is_none()) =>
            {
                Load::rate(pattern, r, c)
            }
            _ => Load::new("concurrency"),
        };
        if let Some(r) = ramp(w.request_rate_ramp_s.or(l.request_rate_ramp_s))
            && !load.closed()
        {
            load = load.with("rate_ramp", r);
        }
        let concurrency = w
            .concurrency
            .or(c.concurrency)
            .or(load.closed().then_some(1));
        list.push(phase(
            "warmup",
            load,
            json!({
                "requests": (c.warmup_request_count > 0).then_some(c.warmup_request_count),
                "duration": w.duration_s,
                "sessions": w.num_sessions,
                "concurrency": concurrency,
                "concurrency_ramp": ramp(w.concurrency_ramp_s.or(l.concurrency_ramp_s)),
                "prefill_concurrency": w.prefill_concurrency.or(l.prefill_concurrency),
                "prefill_ramp": ramp(w.prefill_concurrency_ramp_s.or(l.prefill_concurrency_ramp_s)),
                "grace_period": w.grace_period_s.filter(|_| w.duration_s.is_some()),
            }),
        ));
    }
    let fixed = c.dataset.fixed_schedule == Some(true);
    let user_centric = l.user_centric_rate.zip(l.num_users).filter(|_| !fixed);
    let load = if fixed {
        let mut load = Load::new("fixed_schedule").with("auto_offset", c.dataset.auto_offset());
        if let Some(s) = c.dataset.fixed_schedule_start_offset_ms {
            load = load.with("start_offset", s);
        }
        if let Some(e) = c.dataset.fixed_schedule_end_offset_ms {
            load = load.with("end_offset", e);
        }
        load
    } else if let Some((rate, users)) = user_centric {
        Load::new("user_centric")
            .with("rate", rate)
            .with("users", users)
    } else {
        match c
            .request_rate
            .filter(|_| c.arrival_pattern != ArrivalPattern::ConcurrencyBurst)
        {
            Some(r) => {
                let load = Load::rate(c.arrival_pattern, r, c);
                match ramp(l.request_rate_ramp_s) {
                    Some(r) => load.with("rate_ramp", r),
                    None => load,
                }
            }
            None => Load::new("concurrency"),
        }
    };
    // Ramps shape the load modes only (not a replay or user-centric timing).
    let load_mode = !fixed && user_centric.is_none();
    let concurrency = if fixed && c.concurrency_defaulted {
        None
    } else {
        c.concurrency.or(load.closed().then_some(1))
    };
    let duration = c.benchmark_duration_s;
    list.push(phase(
        "profiling",
        load,
        json!({
            "requests": c.request_count.filter(|_| !fixed),
            "duration": duration,
            "sessions": c.num_sessions().filter(|_| !fixed),
            "concurrency": concurrency,
            "concurrency_ramp": ramp(l.concurrency_ramp_s).filter(|_| load_mode),
            "prefill_concurrency": l.prefill_concurrency,
            "prefill_ramp": ramp(l.prefill_concurrency_ramp_s).filter(|_| load_mode),
            "grace_period": duration.map(|_| c.benchmark_grace_period_s),
            "cancellation": l.request_cancellation_rate.filter(|p| *p > 0.0).map(|p| json!({
                "rate": p,
                "delay": l.request_cancellation_delay_s,
            })),
        }),
    ));
    Value::Array(list)
}

fn artifacts(c: &ProfileConfig) -> Value {
    json!({
        "dir": c.artifact_dir,
        "prefix": (c.profile_export_prefix != crate::artifacts::DEFAULT_PREFIX)
            .then_some(&c.profile_export_prefix),
        "summary": ["json"],
        "records": match c.export_level {
            ExportLevel::Summary => Value::Bool(false),
            _ => json!(["jsonl"]),
        },
        "raw": c.export_level == ExportLevel::Raw,
        "slice_duration": c.slice_duration_s,
        "auto_plot": c.auto_plot,
    })
}

/// `{"tag": threshold}` of the `--goodput` SLOs; thresholds stay in the metric's
/// display unit.
fn slos(spec: Option<&GoodputSpec>) -> Option<Value> {
    let map: Map<String, Value> = spec?
        .slos()
        .iter()
        .map(|s| (s.tag.clone(), s.value.into()))
        .collect();
    Some(Value::Object(map))
}

fn runtime(c: &ProfileConfig) -> Value {
    let communication = match &c.zmq {
        ZmqTransport::Ipc { dir } => json!({"type": "ipc", "path": dir}),
        ZmqTransport::Tcp { host, .. } => json!({"type": "tcp", "host": host}),
    };
    json!({
        "ui": name_of(&c.ui),
        "workers": c.workers,
        "record_processors": c.record_processors,
        "communication": communication,
    })
}

/// Options of aiperf-rs with no home in AIPerf's configuration.
fn aiperf_rs(c: &ProfileConfig) -> Value {
    let base_port = match &c.zmq {
        ZmqTransport::Tcp { base_port, .. } => Some(*base_port),
        ZmqTransport::Ipc { .. } => None,
    };
    json!({
        "service_mode": name_of(&c.service_mode),
        "zmq_base_port": base_port,
        "external_services": (!c.external_services.is_empty()).then_some(&c.external_services),
        "num_gpus": c.load.num_gpus,
        "fixed_schedule": c.dataset.fixed_schedule,
        "ignore_trace_delays": c.dataset.ignore_trace_delays.then_some(true),
        "system_prompt": c.dataset.system_prompt,
        "gpu_telemetry_sources": (!c.gpu_telemetry.sources.is_empty())
            .then_some(&c.gpu_telemetry.sources),
        "sweep": c.load.sweep,
    })
}
