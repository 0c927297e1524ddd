//! `server_metrics_export.json` and `.csv` (AIPerf 0.13 shapes,
//! `docs/server-metrics.md` § Files) and the console's server section: the few
//! metrics that matter for the detected backend, and a note when the server's
//! generated-token count disagrees with the client's.

use crate::format::{csv_row, fixed2, iso_datetime};
use aiperf_protocol::server_metrics::{
    FamilyStats, MetricKind, SeriesStats, ServerMetricsResults, stat,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// `schema_version` of the server metrics JSON (AIPerf 0.13's).
pub const JSON_SCHEMA_VERSION: &str = "1.1";
/// `schema_version` in the server metrics CSV header (AIPerf 0.13's).
pub const CSV_SCHEMA_VERSION: &str = "1.0";

fn stats_object(stats: &[(String, f64)]) -> Map<String, Value> {
    stats.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
}

fn series_value(s: &SeriesStats) -> Value {
    let mut o = Map::new();
    o.insert("endpoint_url".into(), s.endpoint_url.clone().into());
    let labels: Map<String, Value> = s
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    o.insert("labels".into(), Value::Object(labels));
    o.insert("stats".into(), Value::Object(stats_object(&s.stats)));
    if !s.timeslices.is_empty() {
        let slices: Vec<Value> = s
            .timeslices
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("start_ns".into(), t.start_ns.into());
                m.insert("end_ns".into(), t.end_ns.into());
                if !t.is_complete {
                    m.insert("is_complete".into(), false.into());
                }
                m.extend(stats_object(&t.stats));
                Value::Object(m)
            })
            .collect();
        o.insert("timeslices".into(), Value::Array(slices));
    }
    if !s.buckets.is_empty() {
        o.insert("buckets".into(), Value::Object(stats_object(&s.buckets)));
    }
    Value::Object(o)
}

/// The content of `server_metrics_export.json`.
pub fn server_metrics_json(r: &ServerMetricsResults, benchmark_id: &str) -> Value {
    let mut info = Map::new();
    for e in &r.endpoint_info {
        let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("endpoint_url");
        }
        info.insert(e.endpoint_url.clone(), v);
    }
    let mut phases = Map::new();
    for p in &r.phase_ranges {
        phases.insert(
            p.phase.as_str().into(),
            json!({"start_ns": p.start_ns, "end_ns": p.end_ns}),
        );
    }
    let mut summary = Map::new();
    summary.insert("endpoints_configured".into(), json!(r.endpoints_configured));
    summary.insert("endpoints_successful".into(), json!(r.endpoints_successful));
    if r.start_ns > 0 {
        summary.insert("start_time".into(), iso_datetime(r.start_ns, None).into());
        summary.insert("end_time".into(), iso_datetime(r.end_ns, None).into());
    }
    summary.insert("endpoint_info".into(), Value::Object(info));
    summary.insert("phase_time_ranges".into(), Value::Object(phases));
    summary.insert(
        "window".into(),
        json!({"start_ns": r.window_start_ns, "end_ns": r.window_end_ns}),
    );
    if !r.warnings.is_empty() {
        summary.insert("warnings".into(), json!(r.warnings));
    }
    let metrics: Map<String, Value> = r
        .metrics
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                json!({
                    "type": f.kind.as_str(),
                    "description": f.description,
                    "unit": f.unit,
                    "series": f.series.iter().map(series_value).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    json!({
        "schema_version": JSON_SCHEMA_VERSION,
        "aiperf_version": crate::AIPERF_COMPAT_VERSION,
        "aiperf_rs_version": crate::AIPERF_RS_VERSION,
        "benchmark_id": benchmark_id,
        "summary": summary,
        "metrics_phase": "profiling",
        "metrics": metrics,
    })
}

/// `http://127.0.0.1:8000/metrics` → `127.0.0.1:8000` (the CSV's `Endpoint`).
fn endpoint_cell(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.strip_suffix("/metrics").unwrap_or(rest).to_string()
}

fn num4(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

/// The stat columns of each CSV table, in AIPerf's order.
fn stat_columns(kind: MetricKind, families: &[&FamilyStats]) -> Vec<String> {
    let pct = ["1", "5", "10", "25", "50", "75", "90", "95", "99"];
    match kind {
        MetricKind::Gauge | MetricKind::Untyped => ["avg", "min", "max", "std"]
            .iter()
            .map(|s| s.to_string())
            .chain(pct.iter().map(|p| format!("p{p}")))
            .collect(),
        MetricKind::Counter => [
            "total", "rate", "rate_avg", "rate_min", "rate_max", "rate_std",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        MetricKind::Histogram => ["count", "count_rate", "sum", "sum_rate", "avg"]
            .iter()
            .map(|s| s.to_string())
            .chain(pct.iter().map(|p| format!("p{p}_estimate")))
            .collect(),
        MetricKind::Summary => {
            let mut cols: Vec<String> = ["count", "count_rate", "sum", "sum_rate", "avg"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for f in families {
                for s in &f.series {
                    for (k, _) in &s.stats {
                        if !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
            }
            cols
        }
    }
}

/// The content of `server_metrics_export.csv`: comment header, then one table per
/// metric type (gauges and untyped, counters, histograms, summaries) separated
/// by blank lines; label names become columns (alphabetical) before
/// `Description`; 4 decimals (histogram counts as integers).
pub fn server_metrics_csv(r: &ServerMetricsResults, benchmark_id: &str) -> String {
    let mut out = format!(
        "# AIPerf Server Metrics Export (CSV)\n# aiperf_version: {}\n# schema_version: {CSV_SCHEMA_VERSION}\n\
         # benchmark_id: {benchmark_id}\n# Note: Same benchmark_id and version appear in JSON and Parquet exports\n#\n",
        crate::AIPERF_COMPAT_VERSION
    );
    let groups: [&[MetricKind]; 4] = [
        &[MetricKind::Gauge, MetricKind::Untyped],
        &[MetricKind::Counter],
        &[MetricKind::Histogram],
        &[MetricKind::Summary],
    ];
    let mut tables = Vec::new();
    for kinds in groups {
        let families: Vec<&FamilyStats> = r
            .metrics
            .iter()
            .filter(|f| kinds.contains(&f.kind) && !f.series.is_empty())
            .collect();
        if families.is_empty() {
            continue;
        }
        let cols = stat_columns(kinds[0], &families);
        let label_names: BTreeSet<&str> = families
            .iter()
            .flat_map(|f| &f.series)
            .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
            .collect();
        let histogram = kinds[0] == MetricKind::Histogram;
        let mut header: Vec<String> = ["Endpoint", "Type", "Metric", "Unit"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        header.extend(cols.iter().cloned());
        header.extend(label_names.iter().map(|s| s.to_string()));
        header.push("Description".into());
        if histogram {
            header.push("buckets".into());
        }
        let mut table = csv_row(&header);
        table.push('\n');
        for f in &families {
            for s in &f.series {
                let mut row = vec![
                    endpoint_cell(&s.endpoint_url),
                    f.kind.as_str().to_string(),
                    f.name.clone(),
                    f.unit.clone(),
                ];
                for c in &cols {
                    let v = stat(&s.stats, c);
                    row.push(if histogram && c == "count" {
                        v.map(|v| format!("{v:.0}")).unwrap_or_default()
                    } else {
                        num4(v)
                    });
                }
                for l in &label_names {
                    row.push(
                        s.labels
                            .iter()
                            .find(|(k, _)| k == l)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                    );
                }
                row.push(f.description.clone());
                if histogram {
                    let b: Vec<String> = s
                        .buckets
                        .iter()
                        .map(|(le, c)| format!("{le}={c:.0}"))
                        .collect();
                    row.push(b.join(";"));
                }
                table.push_str(&csv_row(&row));
                table.push('\n');
            }
        }
        tables.push(table);
    }
    out.push_str(&tables.join("\n"));
    out
}

/// The inference servers whose metrics the console section knows, by the
/// prefix of their metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `vllm:*`.
    Vllm,
    /// `sglang:*`.
    Sglang,
    /// `trtllm:*`.
    TensorRtLlm,
    /// `dynamo_*`.
    Dynamo,
    /// `llamacpp:*`.
    LlamaCpp,
}

/// What the console section reads for a backend: metric names (the first one
/// scraped is used).
struct Highlights {
    name: &'static str,
    kv_usage: &'static [&'static str],
    /// The KV usage gauge is a 0–1 ratio (else a percentage).
    kv_is_ratio: bool,
    running: &'static [&'static str],
    waiting: &'static [&'static str],
    queue_time: &'static [&'static str],
    /// Prefix cache: `(hits counter, queries counter)` or a hit-rate gauge.
    prefix_counters: Option<(&'static str, &'static str)>,
    prefix_rate_gauge: &'static [&'static str],
    generated_tokens: &'static [&'static str],
}

impl Backend {
    /// The backend whose metrics `r` holds, if any (the first prefix found in the
    /// order vLLM, SGLang, TensorRT-LLM, Dynamo, llama.cpp).
    pub fn detect(r: &ServerMetricsResults) -> Option<Backend> {
        let has = |p: &str| r.metrics.iter().any(|f| f.name.starts_with(p));
        [
            ("vllm:", Backend::Vllm),
            ("sglang:", Backend::Sglang),
            ("trtllm:", Backend::TensorRtLlm),
            ("dynamo_", Backend::Dynamo),
            ("llamacpp:", Backend::LlamaCpp),
        ]
        .into_iter()
        .find(|(p, _)| has(p))
        .map(|(_, b)| b)
    }

    fn highlights(self) -> Highlights {
        match self {
            Backend::Vllm => Highlights {
                name: "vLLM",
                kv_usage: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                kv_is_ratio: true,
                running: &["vllm:num_requests_running"],
                waiting: &["vllm:num_requests_waiting"],
                queue_time: &["vllm:request_queue_time_seconds"],
                prefix_counters: Some(("vllm:prefix_cache_hits", "vllm:prefix_cache_queries")),
                prefix_rate_gauge: &[],
                generated_tokens: &["vllm:generation_tokens"],
            },
            Backend::Sglang => Highlights {
                name: "SGLang",
                kv_usage: &["sglang:token_usage"],
                kv_is_ratio: true,
                running: &["sglang:num_running_reqs"],
                waiting: &["sglang:num_queue_reqs"],
                queue_time: &["sglang:queue_time_seconds"],
                prefix_counters: None,
                prefix_rate_gauge: &["sglang:cache_hit_rate"],
                generated_tokens: &["sglang:generation_tokens"],
            },
            Backend::TensorRtLlm => Highlights {
                name: "TensorRT-LLM",
                kv_usage: &["trtllm:kv_cache_utilization"],
                kv_is_ratio: true,
                running: &["trtllm:num_requests_running"],
                waiting: &["trtllm:num_requests_waiting"],
                queue_time: &["trtllm:request_queue_time_seconds"],
                prefix_counters: None,
                prefix_rate_gauge: &["trtllm:kv_cache_hit_rate"],
                generated_tokens: &["trtllm:generation_tokens"],
            },
            Backend::Dynamo => Highlights {
                name: "Dynamo",
                kv_usage: &["dynamo_component_kvstats_gpu_cache_usage_percent"],
                kv_is_ratio: false,
                running: &["dynamo_frontend_inflight_requests"],
                waiting: &["dynamo_frontend_queued_requests"],
                queue_time: &[],
                prefix_counters: None,
                prefix_rate_gauge: &["dynamo_component_kvstats_gpu_prefix_cache_hit_rate"],
                generated_tokens: &["dynamo_frontend_output_tokens"],
            },
            Backend::LlamaCpp => Highlights {
                name: "llama.cpp",
                kv_usage: &["llamacpp:kv_cache_usage_ratio"],
                kv_is_ratio: true,
                running: &["llamacpp:requests_processing"],
                waiting: &["llamacpp:requests_deferred"],
                queue_time: &[],
                prefix_counters: None,
                prefix_rate_gauge: &[],
                generated_tokens: &["llamacpp:tokens_predicted"],
            },
        }
    }
}

/// The first family of `names` that was scraped.
fn first<'a>(r: &'a ServerMetricsResults, names: &[&str]) -> Option<&'a FamilyStats> {
    names.iter().find_map(|n| r.family(n))
}

/// `agg` over every series of `f` of statistic `name`.
fn over_series(f: &FamilyStats, name: &str, agg: fn(f64, f64) -> f64) -> Option<f64> {
    f.series
        .iter()
        .filter_map(|s| stat(&s.stats, name))
        .reduce(agg)
}

/// Sum of statistic `name` over the series of `f`.
fn sum_series(f: &FamilyStats, name: &str) -> Option<f64> {
    over_series(f, name, |a, b| a + b)
}

/// The generated tokens the server counted in the window (all series summed),
/// with the backend, when its counter was scraped.
pub fn server_generated_tokens(r: &ServerMetricsResults) -> Option<(Backend, f64)> {
    let b = Backend::detect(r)?;
    let f = first(r, b.highlights().generated_tokens)?;
    Some((b, sum_series(f, "total")?))
}

/// The console's server section: a title naming the backend and endpoints, one
/// line per highlight found, a note when the server's generated-token count
/// differs from `client_output_tokens` (the sum of the profiling records' output
/// tokens), then every warning. Empty when there is nothing to say.
pub fn server_console_section(
    r: &ServerMetricsResults,
    client_output_tokens: Option<f64>,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(b) = Backend::detect(r) {
        let h = b.highlights();
        let mut rows: Vec<(String, String)> = Vec::new();
        if let Some(f) = first(r, h.kv_usage)
            && let Some(max) = over_series(f, "max", f64::max)
        {
            let pct = if h.kv_is_ratio { max * 100.0 } else { max };
            rows.push(("KV cache usage max".into(), format!("{} %", fixed2(pct))));
        }
        for (label, names) in [
            ("Running requests max", h.running),
            ("Waiting requests max", h.waiting),
        ] {
            if let Some(f) = first(r, names)
                && let Some(max) = sum_series(f, "max")
            {
                rows.push((label.into(), format!("{max:.0}")));
            }
        }
        if let Some(f) = first(r, h.queue_time)
            && let Some(p99) = over_series(f, "p99_estimate", f64::max)
        {
            rows.push((
                "Queue time p99 (estimate)".into(),
                format!("{} ms", fixed2(p99 * 1e3)),
            ));
        }
        let prefix = match h.prefix_counters {
            Some((hits, queries)) => match (r.family(hits), r.family(queries)) {
                (Some(hf), Some(qf)) => match (sum_series(hf, "total"), sum_series(qf, "total")) {
                    (Some(hv), Some(qv)) if qv > 0.0 => Some(hv / qv),
                    _ => None,
                },
                _ => None,
            },
            None => first(r, h.prefix_rate_gauge).and_then(|f| over_series(f, "avg", f64::max)),
        };
        if let Some(p) = prefix {
            rows.push((
                "Prefix cache hit rate".into(),
                format!("{} %", fixed2(p * 100.0)),
            ));
        }
        if let Some(f) = first(r, h.generated_tokens)
            && let (Some(total), Some(rate)) = (sum_series(f, "total"), sum_series(f, "rate"))
        {
            rows.push((
                "Generated tokens/s (server)".into(),
                format!("{} ({total:.0} tokens)", fixed2(rate)),
            ));
            if let Some(client) = client_output_tokens
                && (total - client).abs() >= 0.5
            {
                let diff = if client > 0.0 {
                    format!(" ({:+.2} %)", (total - client) / client * 100.0)
                } else {
                    String::new()
                };
                lines.push(format!(
                    "NOTE: the server counted {total:.0} generated tokens in the profiling window, the client {client:.0}{diff}: other traffic on the server, a warmup overlapping the window, or a different tokenization"
                ));
            }
        }
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut section = vec![format!(
            "Server metrics ({}, {}):",
            h.name,
            r.endpoints_successful.join(", ")
        )];
        section.extend(rows.iter().map(|(l, v)| format!("  {l:<width$}  {v}")));
        lines.splice(0..0, section);
    } else if !r.endpoints_successful.is_empty() {
        lines.push(format!(
            "Server metrics: {} families scraped from {} (no known backend; see the export)",
            r.metrics.len(),
            r.endpoints_successful.join(", ")
        ));
    }
    for w in &r.warnings {
        lines.push(format!("WARNING: server metrics: {w}"));
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::server_metrics::{EndpointInfo, PhaseRange, SliceStats};

    fn series(stats: &[(&str, f64)], labels: &[(&str, &str)]) -> SeriesStats {
        SeriesStats {
            endpoint_url: "http://127.0.0.1:8000/metrics".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stats: stats.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            buckets: Vec::new(),
            timeslices: Vec::new(),
        }
    }

    fn family(name: &str, kind: MetricKind, unit: &str, s: Vec<SeriesStats>) -> FamilyStats {
        FamilyStats {
            name: name.into(),
            kind,
            description: format!("{name} help"),
            unit: unit.into(),
            series: s,
        }
    }

    fn results() -> ServerMetricsResults {
        let m = [("model_name", "m")];
        let mut ttft = series(
            &[
                ("count", 40.0),
                ("count_rate", 12.0),
                ("sum", 0.84),
                ("sum_rate", 0.25),
                ("avg", 0.021),
                ("p99_estimate", 0.0325),
            ],
            &m,
        );
        ttft.buckets = vec![
            ("0.01".into(), 0.0),
            ("0.02".into(), 20.0),
            ("+Inf".into(), 40.0),
        ];
        let mut gen_tokens = series(&[("total", 800.0), ("rate", 240.56)], &m);
        gen_tokens.timeslices = vec![SliceStats {
            start_ns: 1,
            end_ns: 2,
            is_complete: false,
            stats: vec![("total".into(), 300.0), ("rate".into(), 600.0)],
        }];
        ServerMetricsResults {
            endpoints_configured: vec!["http://127.0.0.1:8000/metrics".into()],
            endpoints_successful: vec!["http://127.0.0.1:8000/metrics".into()],
            start_ns: 0,
            end_ns: 0,
            endpoint_info: vec![EndpointInfo {
                endpoint_url: "http://127.0.0.1:8000/metrics".into(),
                total_fetches: 19,
                ..EndpointInfo::default()
            }],
            phase_ranges: vec![PhaseRange {
                phase: aiperf_protocol::Phase::Profiling,
                start_ns: 5,
                end_ns: 9,
            }],
            window_start_ns: 5,
            window_end_ns: 10,
            metrics: vec![
                family(
                    "vllm:generation_tokens",
                    MetricKind::Counter,
                    "tokens",
                    vec![gen_tokens],
                ),
                family(
                    "vllm:kv_cache_usage_perc",
                    MetricKind::Gauge,
                    "ratio",
                    vec![series(&[("avg", 0.1), ("max", 0.125)], &m)],
                ),
                family(
                    "vllm:num_requests_running",
                    MetricKind::Gauge,
                    "requests",
                    vec![series(
                        &[
                            ("avg", 3.0),
                            ("min", 0.0),
                            ("max", 4.0),
                            ("std", 1.47),
                            ("p50", 3.0),
                        ],
                        &m,
                    )],
                ),
                family(
                    "vllm:prefix_cache_hits",
                    MetricKind::Counter,
                    "tokens",
                    vec![series(&[("total", 25.0)], &m)],
                ),
                family(
                    "vllm:prefix_cache_queries",
                    MetricKind::Counter,
                    "tokens",
                    vec![series(&[("total", 100.0)], &m)],
                ),
                family(
                    "vllm:request_queue_time_seconds",
                    MetricKind::Histogram,
                    "seconds",
                    vec![ttft.clone()],
                ),
                family(
                    "vllm:time_to_first_token_seconds",
                    MetricKind::Histogram,
                    "seconds",
                    vec![ttft],
                ),
            ],
            warnings: vec![
                "http://127.0.0.1:9/metrics unreachable (refused): not collected".into(),
            ],
        }
    }

    #[test]
    fn json_has_the_aiperf_shape() {
        let v = server_metrics_json(&results(), "abc");
        assert_eq!(v["schema_version"], "1.1");
        assert_eq!(v["benchmark_id"], "abc");
        assert_eq!(v["metrics_phase"], "profiling");
        assert_eq!(
            v["summary"]["endpoint_info"]["http://127.0.0.1:8000/metrics"]["total_fetches"],
            19
        );
        assert_eq!(
            v["summary"]["phase_time_ranges"]["profiling"]["start_ns"],
            5
        );
        let g = &v["metrics"]["vllm:generation_tokens"];
        assert_eq!(g["type"], "counter");
        assert_eq!(g["unit"], "tokens");
        let s = &g["series"][0];
        assert_eq!(s["labels"]["model_name"], "m");
        assert_eq!(s["stats"]["total"], 800.0);
        assert_eq!(s["timeslices"][0]["is_complete"], false);
        assert_eq!(s["timeslices"][0]["rate"], 600.0);
        let h = &v["metrics"]["vllm:time_to_first_token_seconds"]["series"][0];
        assert_eq!(h["buckets"]["0.02"], 20.0);
        assert_eq!(h["stats"]["p99_estimate"], 0.0325);
    }

    #[test]
    fn csv_has_one_table_per_type() {
        let text = server_metrics_csv(&results(), "abc");
        assert!(text.starts_with("# AIPerf Server Metrics Export (CSV)\n# aiperf_version: 0.13.0\n# schema_version: 1.0\n# benchmark_id: abc\n"), "{text}");
        let tables: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(tables.len(), 3, "{text}");
        assert!(tables[0].contains("Endpoint,Type,Metric,Unit,avg,min,max,std,p1,p5,p10,p25,p50,p75,p90,p95,p99,model_name,Description\n"), "{text}");
        assert!(tables[0].contains("127.0.0.1:8000,gauge,vllm:num_requests_running,requests,3.0000,0.0000,4.0000,1.4700,,,,,3.0000,,,,,m,vllm:num_requests_running help"), "{text}");
        assert!(tables[1].starts_with("Endpoint,Type,Metric,Unit,total,rate,rate_avg,rate_min,rate_max,rate_std,model_name,Description\n"), "{text}");
        assert!(
            tables[1].contains(
                "127.0.0.1:8000,counter,vllm:generation_tokens,tokens,800.0000,240.5600,,,,,m,"
            ),
            "{text}"
        );
        assert!(tables[2].contains(",Description,buckets\n"), "{text}");
        assert!(tables[2].contains("127.0.0.1:8000,histogram,vllm:time_to_first_token_seconds,seconds,40,12.0000,0.8400,0.2500,0.0210,"), "{text}");
        assert!(text.ends_with(",0.01=0;0.02=20;+Inf=40\n"), "{text}");
    }

    #[test]
    fn console_section_for_vllm_with_a_token_disagreement() {
        let r = results();
        assert_eq!(server_generated_tokens(&r), Some((Backend::Vllm, 800.0)));
        let text = server_console_section(&r, Some(790.0));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Server metrics (vLLM, http://127.0.0.1:8000/metrics):"
        );
        assert!(
            text.contains("KV cache usage max           12.50 %\n"),
            "{text}"
        );
        assert!(text.contains("Running requests max         4\n"), "{text}");
        assert!(
            text.contains("Queue time p99 (estimate)    32.50 ms\n"),
            "{text}"
        );
        assert!(
            text.contains("Prefix cache hit rate        25.00 %\n"),
            "{text}"
        );
        assert!(
            text.contains("Generated tokens/s (server)  240.56 (800 tokens)\n"),
            "{text}"
        );
        assert!(text.contains("NOTE: the server counted 800 generated tokens in the profiling window, the client 790 (+1.27 %)"), "{text}");
        assert!(text.ends_with("WARNING: server metrics: http://127.0.0.1:9/metrics unreachable (refused): not collected\n"), "{text}");
        // Agreement: no note.
        assert!(!server_console_section(&r, Some(800.0)).contains("NOTE"));
    }
}
