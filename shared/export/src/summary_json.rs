//! `profile_export_aiperf.json`: the aggregated summary (`docs/outputs.md`).
//!
//! Key order of the top-level object:
//! 1. `schema_version`, `aiperf_version`, `aiperf_rs_version`, `benchmark_id`;
//! 2. the classic metric block ([`CLASSIC_METRIC_ORDER`], those present);
//! 3. `telemetry_data` (when given), `input_config`, `run_info`, `was_cancelled`,
//!    `is_complete`, `error_summary`, `resilience` (aiperf-rs: what the client
//!    absorbed, see `docs/reliability.md`), `start_time`, `end_time` (when known),
//!    `warmup_metrics` (when there was a warmup phase);
//! 4. every other metric, by `display_order` (ties keep the input order);
//! 5. the caller's extra sections, in the order given.
//!
//! The file is pretty-printed with a two-space indent and no trailing newline
//! (AIPerf writes it with `orjson` `OPT_INDENT_2`). Unset or non-finite statistics
//! are omitted, as are null fields (`random_seed` of `run_info` when unseeded).

use crate::format::{self, PERCENTILES};
use crate::redact::Redactor;
use aiperf_config::ProfileConfig;
use aiperf_protocol::results::{MetricResult, ProfileResults};
use chrono::FixedOffset;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Tags of the classic (GenAI-Perf compatible) metric block, in the order AIPerf
/// 0.13 writes them right after `benchmark_id`.
pub const CLASSIC_METRIC_ORDER: [&str; 23] = [
    "request_throughput",
    "request_latency",
    "request_count",
    "time_to_first_token",
    "time_to_second_token",
    "inter_token_latency",
    "output_token_throughput",
    "output_token_throughput_per_user",
    "output_sequence_length",
    "input_sequence_length",
    "goodput",
    "good_request_count",
    "output_token_count",
    "reasoning_token_count",
    "inter_chunk_latency",
    "total_output_tokens",
    "total_reasoning_tokens",
    "benchmark_duration",
    "total_isl",
    "total_osl",
    "error_request_count",
    "error_isl",
    "total_error_isl",
];

/// Non-metric top-level keys; a metric with one of these tags is not exported
/// (it would clobber the key).
pub const RESERVED_KEYS: [&str; 14] = [
    "schema_version",
    "aiperf_version",
    "aiperf_rs_version",
    "benchmark_id",
    "telemetry_data",
    "input_config",
    "run_info",
    "was_cancelled",
    "is_complete",
    "error_summary",
    "resilience",
    "start_time",
    "end_time",
    "warmup_metrics",
];

/// What the summary needs besides the results.
#[derive(Debug, Clone)]
pub struct SummaryContext<'a> {
    /// Short hex id of the run (12 characters), see [`new_benchmark_id`].
    pub benchmark_id: String,
    /// The resolved configuration, written as `input_config` (AIPerf's nested shape,
    /// see [`crate::input_config`]; secrets redacted).
    pub config: &'a ProfileConfig,
    /// GPU telemetry summary (`telemetry_data`), when collected.
    pub telemetry_data: Option<Value>,
    /// Extra top-level objects appended at the end, in order (e.g.
    /// `("client_health", {...})`). A key equal to an existing one replaces that
    /// value in place instead of being appended.
    pub extra_sections: Vec<(String, Value)>,
    /// Time zone of `start_time`/`end_time`; `None` = the machine's local zone
    /// (AIPerf's behaviour). Tests fix it for byte-stable output.
    pub utc_offset: Option<FixedOffset>,
}

impl<'a> SummaryContext<'a> {
    /// A context with no telemetry, no extra sections and local time.
    pub fn new(benchmark_id: impl Into<String>, config: &'a ProfileConfig) -> Self {
        SummaryContext {
            benchmark_id: benchmark_id.into(),
            config,
            telemetry_data: None,
            extra_sections: Vec::new(),
            utc_offset: None,
        }
    }
}

/// A fresh 12-hex-character benchmark id (from the clock, the process id and
/// std's randomly seeded hasher; not cryptographic).
pub fn new_benchmark_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(now);
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// The JSON entry of one metric: scalar metrics `{"unit","avg"}`; others
/// `{"unit","avg","p1",…,"p99","min","max","std","count","sum"}` with unset or
/// non-finite statistics left out.
pub fn metric_entry(m: &MetricResult) -> Value {
    let mut o = Map::new();
    o.insert("unit".into(), Value::String(m.unit.clone()));
    let put = |o: &mut Map<String, Value>, key: &str, v: Option<f64>| {
        if let Some(x) = v.filter(|x| x.is_finite()) {
            o.insert(key.to_string(), Value::from(x));
        }
    };
    put(&mut o, "avg", m.avg);
    if m.scalar {
        return Value::Object(o);
    }
    for p in PERCENTILES {
        put(&mut o, &format!("p{p}"), m.percentile(p));
    }
    put(&mut o, "min", m.min);
    put(&mut o, "max", m.max);
    put(&mut o, "std", m.std);
    if let Some(c) = m.count {
        o.insert("count".into(), Value::from(c));
    }
    put(&mut o, "sum", m.sum);
    Value::Object(o)
}

/// Metrics in summary order: classic tags first ([`CLASSIC_METRIC_ORDER`]), then the
/// rest by `display_order` (stable). A repeated tag keeps its first occurrence;
/// tags in [`RESERVED_KEYS`] are dropped. Returns `(classic, others)`.
pub fn split_metrics(metrics: &[MetricResult]) -> (Vec<&MetricResult>, Vec<&MetricResult>) {
    let mut seen = HashSet::new();
    let unique: Vec<&MetricResult> = metrics
        .iter()
        .filter(|m| !RESERVED_KEYS.contains(&m.tag.as_str()) && seen.insert(m.tag.as_str()))
        .collect();
    let classic = CLASSIC_METRIC_ORDER
        .iter()
        .filter_map(|t| unique.iter().copied().find(|m| m.tag == *t))
        .collect();
    let mut others: Vec<&MetricResult> = unique
        .into_iter()
        .filter(|m| !CLASSIC_METRIC_ORDER.contains(&m.tag.as_str()))
        .collect();
    others.sort_by_key(|m| m.display_order);
    (classic, others)
}

/// A `tag → entry` object of metrics, in summary order (classic block, then the
/// rest by display order): the shape of `warmup_metrics` and of a timeslice.
pub fn metrics_object(metrics: &[MetricResult]) -> Map<String, Value> {
    let (classic, others) = split_metrics(metrics);
    classic
        .into_iter()
        .chain(others)
        .map(|m| (m.tag.clone(), metric_entry(m)))
        .collect()
}

/// Removes `null` members from every object, recursively (AIPerf dumps its
/// models with `exclude_none`). Array elements are kept.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, x| !x.is_null());
            o.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

pub use crate::input_config::input_config_value;

/// The summary as a JSON object (see the module doc for the key order).
pub fn summary_value(ctx: &SummaryContext, results: &ProfileResults) -> Value {
    let profiling = &results.profiling;
    let mut o = Map::new();
    o.insert("schema_version".into(), crate::SCHEMA_VERSION.into());
    o.insert("aiperf_version".into(), crate::AIPERF_COMPAT_VERSION.into());
    o.insert("aiperf_rs_version".into(), crate::AIPERF_RS_VERSION.into());
    o.insert("benchmark_id".into(), ctx.benchmark_id.clone().into());

    let (classic, others) = split_metrics(&profiling.metrics);
    for m in classic {
        o.insert(m.tag.clone(), metric_entry(m));
    }
    if let Some(t) = &ctx.telemetry_data {
        o.insert("telemetry_data".into(), t.clone());
    }
    o.insert("input_config".into(), input_config_value(ctx.config));

    let mut run_info = Map::new();
    run_info.insert("benchmark_id".into(), ctx.benchmark_id.clone().into());
    if let Some(seed) = ctx.config.random_seed {
        run_info.insert("random_seed".into(), seed.into());
    }
    run_info.insert(
        "cli_command".into(),
        Redactor::for_config(ctx.config)
            .cli_command(&ctx.config.cli_command)
            .into(),
    );
    o.insert("run_info".into(), Value::Object(run_info));

    o.insert("was_cancelled".into(), results.was_cancelled.into());
    o.insert("is_complete".into(), results.is_complete.into());
    o.insert(
        "error_summary".into(),
        serde_json::to_value(&profiling.error_summary).unwrap_or_else(|_| Value::Array(vec![])),
    );
    o.insert(
        "resilience".into(),
        serde_json::to_value(profiling.resilience).unwrap_or(Value::Null),
    );
    if profiling.start_ns > 0 {
        o.insert(
            "start_time".into(),
            format::iso_datetime(profiling.start_ns, ctx.utc_offset).into(),
        );
    }
    if profiling.end_ns > 0 {
        o.insert(
            "end_time".into(),
            format::iso_datetime(profiling.end_ns, ctx.utc_offset).into(),
        );
    }
    if let Some(w) = &results.warmup {
        o.insert(
            "warmup_metrics".into(),
            Value::Object(metrics_object(&w.metrics)),
        );
    }
    for m in others {
        o.insert(m.tag.clone(), metric_entry(m));
    }
    for (k, v) in &ctx.extra_sections {
        o.insert(k.clone(), v.clone());
    }
    Value::Object(o)
}

/// `profile_export_aiperf.json`: pretty-printed (two-space indent), no trailing
/// newline.
pub fn render_summary_json(ctx: &SummaryContext, results: &ProfileResults) -> String {
    serde_json::to_string_pretty(&summary_value(ctx, results)).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(tag: &str, order: u32, scalar: bool) -> MetricResult {
        MetricResult {
            tag: tag.into(),
            header: tag.into(),
            unit: "ms".into(),
            avg: Some(1.5),
            scalar,
            display_order: order,
            ..Default::default()
        }
    }

    #[test]
    fn entry_shapes() {
        let scalar = MetricResult {
            min: Some(1.0),
            ..m("request_throughput", 900, true)
        };
        assert_eq!(
            serde_json::to_string(&metric_entry(&scalar)).unwrap(),
            r#"{"unit":"ms","avg":1.5}"#
        );
        let dist = MetricResult {
            min: Some(1.0),
            max: Some(2.0),
            std: Some(f64::NAN),
            count: Some(2),
            sum: Some(3.0),
            percentiles: vec![(99, 2.0), (50, 1.5)],
            ..m("request_latency", 300, false)
        };
        assert_eq!(
            serde_json::to_string(&metric_entry(&dist)).unwrap(),
            r#"{"unit":"ms","avg":1.5,"p50":1.5,"p99":2.0,"min":1.0,"max":2.0,"count":2,"sum":3.0}"#
        );
    }

    #[test]
    fn metric_order() {
        let metrics = vec![
            m("decode_duration", 350, false),
            m("time_to_first_token", 100, false),
            m("request_throughput", 900, true),
            m("zeta", 5, true),
            m("request_latency", 300, false),
            m("input_config", 1, true),
            m("time_to_first_token", 100, false),
        ];
        let keys: Vec<String> = metrics_object(&metrics).keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "request_throughput",
                "request_latency",
                "time_to_first_token",
                "zeta",
                "decode_duration"
            ]
        );
    }

    #[test]
    fn nulls_are_stripped() {
        let mut v =
            serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [null, {"f": null}]});
        strip_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"b": {"d": 1}, "e": [null, {}]}));
    }

    #[test]
    fn benchmark_ids_are_12_hex() {
        let id = new_benchmark_id();
        assert_eq!(id.len(), 12);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
