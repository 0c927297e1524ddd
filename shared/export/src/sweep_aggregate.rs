//! The aggregate files of a sweep (`--concurrency 10,50,100`), in AIPerf 0.13's
//! layouts (`docs/outputs.md`, Sweeps):
//!
//! ```text
//! <artifact_dir>/aggregate/<param>_<value>/profile_export_aiperf_aggregate.{json,csv}
//! <artifact_dir>/sweep_aggregate/profile_export_aiperf_sweep.{json,csv}
//! ```
//!
//! Each sweep value runs once (one trial), so the statistics "across trials" of
//! AIPerf's confidence aggregation collapse to the run's own values: `mean`,
//! `min`, `max`, `ci_low`, `ci_high` are the value, `std`, `cv`, `se` are 0 and
//! `t_critical` is null (no interval from one sample), exactly as AIPerf writes a
//! single-run cell.
//!
//! Statistics are keyed two ways, as AIPerf does:
//! * flattened `<tag>_<stat>` (`request_throughput_avg`, `time_to_first_token_p99`)
//!   for every statistic of [`STAT_KEYS`] a metric has;
//! * nested `<tag>` (sweep file only): `mean` (= `avg`), `avg`, `std`, `min`,
//!   `max`, `cv`, `ci_low`, `ci_high`, `unit`, the percentiles, `count`, `sum`.
//!
//! `best_configurations` and `pareto_optimal` use the flattened keys:
//! `best_throughput` is the value with the highest `request_throughput_avg`,
//! `best_latency_p99` the lowest `time_to_first_token_p99` (or
//! `request_latency_p99` when a run has no TTFT); `pareto_optimal` lists the
//! values no other value beats on both (at least as good on each, better on one),
//! sorted by parameter value.
//!
//! The inputs are the runs' `profile_export_aiperf.json` objects: a metric is a
//! top-level object with a `unit` ([`summary_metrics`]).

use crate::format::{STAT_KEYS, csv_row};
use crate::summary_json::RESERVED_KEYS;
use serde_json::{Map, Value, json};

/// Confidence level AIPerf reports with its aggregates (its default).
pub const CONFIDENCE_LEVEL: f64 = 0.95;

/// AIPerf's sweep order of one trial per value (`SweepMode.REPEATED`).
pub const SWEEP_MODE: &str = "repeated";

/// Schema version of `profile_export_aiperf_aggregate.json` (AIPerf 0.13).
pub const AGGREGATE_SCHEMA_VERSION: &str = "1.0";

/// File of a value's aggregate, JSON (under `aggregate/<label>/`).
pub const AGGREGATE_JSON: &str = "profile_export_aiperf_aggregate.json";
/// File of a value's aggregate, CSV.
pub const AGGREGATE_CSV: &str = "profile_export_aiperf_aggregate.csv";
/// File of the sweep aggregate, JSON (under `sweep_aggregate/`).
pub const SWEEP_JSON: &str = "profile_export_aiperf_sweep.json";
/// File of the sweep aggregate, CSV.
pub const SWEEP_CSV: &str = "profile_export_aiperf_sweep.csv";

/// One run of the sweep as the aggregates see it.
#[derive(Debug, Clone)]
pub struct SweepRunSummary<'a> {
    /// Directory name of the run, e.g. `concurrency_10` (AIPerf's run label).
    pub label: String,
    /// Swept parameter, `concurrency` or `request_rate`.
    pub parameter: String,
    /// Its value in this run (an integer for concurrency).
    pub value: Value,
    /// The run's `profile_export_aiperf.json`, when it produced one.
    pub summary: Option<&'a Value>,
    /// Why the run failed; `None` for a successful run.
    pub error: Option<String>,
    /// The model of the run (first model name).
    pub model: String,
}

impl SweepRunSummary<'_> {
    /// The summary of a successful run.
    fn ok(&self) -> Option<&Value> {
        self.summary.filter(|_| self.error.is_none())
    }

    fn parameters(&self) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert(self.parameter.clone(), self.value.clone());
        p
    }
}

/// The metrics of a summary: `(tag, entry)` for every top-level object with a
/// `unit`, in file order (non-metric sections are left out).
pub fn summary_metrics(summary: &Value) -> Vec<(&str, &Map<String, Value>)> {
    summary
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !RESERVED_KEYS.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let o = v.as_object()?;
            o.get("unit")?.as_str()?;
            Some((k.as_str(), o))
        })
        .collect()
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite())
}

/// `<tag>_<stat>` → `{"mean","std","min","max","cv","ci_low","ci_high","unit"}` of
/// one run (the sweep file's flattened cells).
pub fn flattened_stats(summary: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (tag, m) in summary_metrics(summary) {
        for stat in STAT_KEYS {
            let Some(v) = m.get(stat).and_then(f) else {
                continue;
            };
            out.insert(
                format!("{tag}_{stat}"),
                json!({"mean": v, "std": 0.0, "min": v, "max": v, "cv": 0.0,
                       "ci_low": v, "ci_high": v, "unit": m["unit"]}),
            );
        }
    }
    out
}

/// `<tag>` → the run's statistics in the sweep file's nested shape (see the module
/// doc).
pub fn nested_stats(summary: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (tag, m) in summary_metrics(summary) {
        let avg = m.get("avg").and_then(f).unwrap_or(0.0);
        let mut o = Map::new();
        o.insert("mean".into(), avg.into());
        o.insert("avg".into(), avg.into());
        o.insert("std".into(), 0.0.into());
        for k in ["min", "max"] {
            o.insert(k.into(), m.get(k).cloned().unwrap_or_else(|| avg.into()));
        }
        o.insert("cv".into(), 0.0.into());
        o.insert("ci_low".into(), avg.into());
        o.insert("ci_high".into(), avg.into());
        o.insert("unit".into(), m["unit"].clone());
        for k in [
            "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "count", "sum",
        ] {
            if let Some(v) = m.get(k) {
                o.insert(k.into(), v.clone());
            }
        }
        out.insert(tag.to_string(), Value::Object(o));
    }
    out
}

/// The metadata of a value's aggregate, in AIPerf's order.
fn aggregate_metadata(run: &SweepRunSummary) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("aggregation_type".into(), "confidence".into());
    m.insert("num_profile_runs".into(), 1.into());
    m.insert("num_successful_runs".into(), 1.into());
    m.insert("failed_runs".into(), json!([]));
    m.insert("confidence_level".into(), CONFIDENCE_LEVEL.into());
    m.insert("run_labels".into(), json!([run.label]));
    m.insert("single_run".into(), true.into());
    m.insert("cooldown_seconds".into(), 0.0.into());
    m.insert("variation_label".into(), run.label.clone().into());
    m.insert("variation_values".into(), Value::Object(run.parameters()));
    m.insert("sweep_mode".into(), SWEEP_MODE.into());
    m.insert("model".into(), run.model.clone().into());
    m
}

/// `<tag>_<stat>` cells of a value's aggregate: the flattened statistics plus `se`
/// (0) and `t_critical` (null: no interval from one run).
fn aggregate_metrics(summary: &Value) -> Map<String, Value> {
    flattened_stats(summary)
        .into_iter()
        .map(|(k, v)| {
            let mut o = Map::new();
            for key in ["mean", "std", "min", "max", "cv"] {
                o.insert(key.into(), v[key].clone());
            }
            o.insert("se".into(), 0.0.into());
            o.insert("ci_low".into(), v["ci_low"].clone());
            o.insert("ci_high".into(), v["ci_high"].clone());
            o.insert("t_critical".into(), Value::Null);
            o.insert("unit".into(), v["unit"].clone());
            (k, Value::Object(o))
        })
        .collect()
}

/// `aggregate/<label>/profile_export_aiperf_aggregate.json` of a successful run
/// (`None` for a failed one: AIPerf writes no aggregate for it).
pub fn aggregate_value(run: &SweepRunSummary) -> Option<Value> {
    let summary = run.ok()?;
    let mut o = Map::new();
    o.insert("schema_version".into(), AGGREGATE_SCHEMA_VERSION.into());
    o.insert("aiperf_version".into(), crate::AIPERF_COMPAT_VERSION.into());
    o.insert("aiperf_rs_version".into(), crate::AIPERF_RS_VERSION.into());
    o.insert("metadata".into(), Value::Object(aggregate_metadata(run)));
    o.insert("metrics".into(), Value::Object(aggregate_metrics(summary)));
    Some(Value::Object(o))
}

/// `aggregate/<label>/profile_export_aiperf_aggregate.csv`: the metric table
/// (`metric,mean,std,min,max,cv,se,ci_low,ci_high,t_critical,unit`), a blank line,
/// then the metadata as `Field,Value` rows without a header (AIPerf's layout).
pub fn aggregate_csv(run: &SweepRunSummary) -> Option<String> {
    let summary = run.ok()?;
    let mut out = String::new();
    let mut line = |fields: &[String]| {
        out.push_str(&csv_row(fields));
        out.push('\n');
    };
    line(
        &[
            "metric",
            "mean",
            "std",
            "min",
            "max",
            "cv",
            "se",
            "ci_low",
            "ci_high",
            "t_critical",
            "unit",
        ]
        .map(String::from),
    );
    for (k, v) in aggregate_metrics(summary) {
        let mut row = vec![k];
        for (key, decimals) in [
            ("mean", 2),
            ("std", 2),
            ("min", 2),
            ("max", 2),
            ("cv", 4),
            ("se", 4),
            ("ci_low", 2),
            ("ci_high", 2),
        ] {
            row.push(py_number(&v[key], decimals));
        }
        row.push("nan".into());
        row.push(v["unit"].as_str().unwrap_or("").to_string());
        line(&row);
    }
    line(&[]);
    let meta = aggregate_metadata(run);
    line(&["Aggregation Type".into(), "confidence".into()]);
    line(&["Total Runs".into(), "1".into()]);
    line(&["Successful Runs".into(), "1".into()]);
    for (k, v) in meta.iter().skip(4) {
        line(&[py_title(k), py_str(v)]);
    }
    Some(out)
}

/// The flattened statistics of every successful run, with its parameters.
fn per_combination_stats<'a>(
    runs: &'a [SweepRunSummary<'a>],
) -> Vec<(&'a SweepRunSummary<'a>, Map<String, Value>)> {
    runs.iter()
        .filter_map(|r| r.ok().map(|s| (r, flattened_stats(s))))
        .collect()
}

fn mean_of(stats: &Map<String, Value>, key: &str) -> Option<f64> {
    stats.get(key)?.get("mean")?.as_f64()
}

/// The latency key of the objectives: `time_to_first_token_p99` when every run
/// has it, else `request_latency_p99` when every run has that.
fn latency_key(per: &[(&SweepRunSummary, Map<String, Value>)]) -> Option<&'static str> {
    ["time_to_first_token_p99", "request_latency_p99"]
        .into_iter()
        .find(|k| per.iter().all(|(_, s)| mean_of(s, k).is_some()))
}

/// `best_configurations`: `best_throughput` (highest `request_throughput_avg`) and
/// `best_latency_p99` (lowest latency p99, see [`latency_key`]), each
/// `{"parameters", "metric", "unit"}`; the first run wins a tie.
fn best_configurations(per: &[(&SweepRunSummary, Map<String, Value>)]) -> Map<String, Value> {
    let mut best = Map::new();
    let mut pick = |name: &str, key: &str, higher: bool| {
        let mut winner: Option<(&SweepRunSummary, f64, &Map<String, Value>)> = None;
        for (r, s) in per {
            let v = mean_of(s, key)?;
            let better = match winner {
                None => true,
                Some((_, w, _)) => (higher && v > w) || (!higher && v < w),
            };
            if better {
                winner = Some((r, v, s));
            }
        }
        let (r, v, s) = winner?;
        best.insert(
            name.into(),
            json!({"parameters": r.parameters(), "metric": v, "unit": s[key]["unit"]}),
        );
        Some(())
    };
    if !per.is_empty() {
        pick("best_throughput", "request_throughput_avg", true);
        if let Some(k) = latency_key(per) {
            pick("best_latency_p99", k, false);
        }
    }
    best
}

/// `pareto_optimal`: the parameters of every run that no other run dominates on
/// (throughput up, latency p99 down), sorted by parameter value; empty when a run
/// lacks either metric.
fn pareto_optimal(per: &[(&SweepRunSummary, Map<String, Value>)]) -> Vec<Value> {
    let Some(lat) = latency_key(per) else {
        return Vec::new();
    };
    let points: Option<Vec<(f64, f64)>> = per
        .iter()
        .map(|(_, s)| Some((mean_of(s, "request_throughput_avg")?, mean_of(s, lat)?)))
        .collect();
    let Some(points) = points else {
        return Vec::new();
    };
    let mut optimal: Vec<&SweepRunSummary> = per
        .iter()
        .zip(&points)
        .filter(|(_, (t, l))| {
            !points
                .iter()
                .any(|(t2, l2)| t2 >= t && l2 <= l && (t2 > t || l2 < l))
        })
        .map(|((r, _), _)| *r)
        .collect();
    optimal.sort_by(|a, b| {
        let (x, y) = (a.value.as_f64(), b.value.as_f64());
        x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
    });
    optimal
        .into_iter()
        .map(|r| Value::Object(r.parameters()))
        .collect()
}

/// `sweep_aggregate/profile_export_aiperf_sweep.json` (keys in AIPerf's order):
/// `aggregation_type`, `num_profile_runs` (runs executed), `num_successful_runs`,
/// `failed_runs` (`{"label", "error"}`), `metadata` (`sweep_parameters`,
/// `num_combinations`, `sweep_mode`, `confidence_level`, `num_trials_per_value`),
/// `per_combination_metrics` (`{"parameters", "metrics"}` per successful run, nested
/// then flattened statistics), `best_configurations`, `pareto_optimal`.
pub fn sweep_value(runs: &[SweepRunSummary]) -> Value {
    let mut names: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for r in runs {
        if !names.contains(&r.parameter) {
            names.push(r.parameter.clone());
        }
        if !values.contains(&r.value) {
            values.push(r.value.clone());
        }
    }
    let per = per_combination_stats(runs);
    let per_combination: Vec<Value> = per
        .iter()
        .map(|(r, flat)| {
            let mut metrics = r.ok().map(nested_stats).unwrap_or_default();
            metrics.extend(flat.clone());
            json!({"parameters": r.parameters(), "metrics": metrics})
        })
        .collect();
    let failed: Vec<Value> = runs
        .iter()
        .filter_map(|r| {
            let error = r
                .error
                .clone()
                .or_else(|| r.summary.is_none().then(|| "no results".to_string()))?;
            Some(json!({"label": r.label, "error": error}))
        })
        .collect();
    json!({
        "aggregation_type": "sweep",
        "num_profile_runs": runs.len(),
        "num_successful_runs": per.len(),
        "failed_runs": failed,
        "metadata": {
            "sweep_parameters": names.iter().map(|n| json!({"name": n, "values": values})).collect::<Vec<_>>(),
            "num_combinations": values.len(),
            "sweep_mode": SWEEP_MODE,
            "confidence_level": CONFIDENCE_LEVEL,
            "num_trials_per_value": 1,
        },
        "per_combination_metrics": per_combination,
        "best_configurations": best_configurations(&per),
        "pareto_optimal": pareto_optimal(&per),
    })
}

/// `sweep_aggregate/profile_export_aiperf_sweep.csv`, AIPerf's four sections
/// separated by blank lines: the per-value table (parameter columns, then
/// `<metric>_mean,_std,_min,_max,_cv` for every metric of the sweep JSON, sorted by
/// name), `Best Configurations`, `Pareto Optimal Points`, `Metadata`.
pub fn sweep_csv(sweep: &Value) -> String {
    let mut out = String::new();
    let mut line = |fields: &[String]| {
        out.push_str(&csv_row(fields));
        out.push('\n');
    };
    let params: Vec<String> = sweep["metadata"]["sweep_parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let empty = Vec::new();
    let per = sweep["per_combination_metrics"]
        .as_array()
        .unwrap_or(&empty);
    if let Some(first) = per.first() {
        let mut metric_names: Vec<&String> = first["metrics"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        metric_names.sort();
        let mut header = params.clone();
        for m in &metric_names {
            for stat in ["mean", "std", "min", "max", "cv"] {
                header.push(format!("{m}_{stat}"));
            }
        }
        line(&header);
        for combo in per {
            let mut row: Vec<String> = params
                .iter()
                .map(|p| py_str(&combo["parameters"][p]))
                .collect();
            for m in &metric_names {
                let e = &combo["metrics"][m.as_str()];
                for (stat, decimals) in [("mean", 2), ("std", 2), ("min", 2), ("max", 2), ("cv", 4)]
                {
                    row.push(py_number(&e[stat], decimals));
                }
            }
            line(&row);
        }
    }
    line(&[]);
    line(&["Best Configurations".into()]);
    if let Some(best) = sweep["best_configurations"]
        .as_object()
        .filter(|b| !b.is_empty())
    {
        let mut header = vec!["Configuration".to_string()];
        header.extend(params.iter().cloned());
        header.extend(["Metric".into(), "Unit".into()]);
        line(&header);
        for (name, b) in best {
            let mut row = vec![py_title(name)];
            row.extend(params.iter().map(|p| py_str(&b["parameters"][p])));
            row.push(py_number(&b["metric"], 2));
            row.push(b["unit"].as_str().unwrap_or("").to_string());
            line(&row);
        }
    }
    line(&[]);
    line(&["Pareto Optimal Points".into()]);
    match sweep["pareto_optimal"].as_array().filter(|p| !p.is_empty()) {
        None => line(&["None".into()]),
        Some(points) => {
            line(&params);
            for p in points {
                line(&params.iter().map(|n| py_str(&p[n])).collect::<Vec<_>>());
            }
        }
    }
    line(&[]);
    line(&["Metadata".into()]);
    line(&["Field".into(), "Value".into()]);
    line(&["Aggregation Type".into(), "sweep".into()]);
    line(&["Sweep Parameters".into(), params.join(", ")]);
    for (label, key) in [
        (
            "Number of Combinations",
            &sweep["metadata"]["num_combinations"],
        ),
        ("Number of Profile Runs", &sweep["num_profile_runs"]),
        ("Number of Successful Runs", &sweep["num_successful_runs"]),
    ] {
        line(&[label.into(), py_str(key)]);
    }
    out
}

/// A CSV number as AIPerf writes it: a float with `decimals` decimals (`nan`,
/// `inf`, `-inf` spelled out), an integer as is, nothing for a missing value.
fn py_number(v: &Value, decimals: usize) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.is_nan() {
                "nan".into()
            } else if x.is_infinite() {
                if x > 0.0 { "inf" } else { "-inf" }.into()
            } else {
                format!("{x:.decimals$}")
            }
        }
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => py_str(other),
    }
}

/// Python's `str()` of a JSON value (`True`, `10.0`, `['a']`, `{'k': 1}`).
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => py_str(other),
    }
}

/// Python's `key.replace("_", " ").title()`: `best_latency_p99` → `Best Latency P99`.
fn py_title(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut start = true;
    for c in key.chars() {
        let c = if c == '_' { ' ' } else { c };
        if c.is_alphabetic() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run summary with a throughput, a TTFT distribution and a count.
    fn summary(rps: f64, ttft_p99: f64) -> Value {
        json!({
            "schema_version": "1.4",
            "request_throughput": {"unit": "requests/sec", "avg": rps},
            "time_to_first_token": {"unit": "ms", "avg": ttft_p99 / 2.0, "p50": 1.0, "p99": ttft_p99,
                                    "min": 0.5, "max": ttft_p99 + 1.0, "std": 3.0, "count": 10, "sum": 5.0 * ttft_p99},
            "request_count": {"unit": "requests", "avg": 10.0},
            "input_config": {"endpoint": {"unit": "not a metric"}},
            "error_summary": [],
        })
    }

    fn run<'a>(c: u64, s: Option<&'a Value>, error: Option<&str>) -> SweepRunSummary<'a> {
        SweepRunSummary {
            label: format!("concurrency_{c}"),
            parameter: "concurrency".into(),
            value: json!(c),
            summary: s,
            error: error.map(String::from),
            model: "m".into(),
        }
    }

    #[test]
    fn metrics_are_the_objects_with_a_unit() {
        let s = summary(10.0, 40.0);
        let tags: Vec<&str> = summary_metrics(&s).iter().map(|(t, _)| *t).collect();
        assert_eq!(
            tags,
            ["request_throughput", "time_to_first_token", "request_count"]
        );
    }

    #[test]
    fn single_run_statistics_collapse_to_the_value() {
        let s = summary(10.0, 40.0);
        let flat = flattened_stats(&s);
        assert_eq!(
            flat["time_to_first_token_p99"],
            json!({"mean": 40.0, "std": 0.0, "min": 40.0, "max": 40.0, "cv": 0.0,
                   "ci_low": 40.0, "ci_high": 40.0, "unit": "ms"})
        );
        assert!(flat.contains_key("request_throughput_avg"));
        assert!(
            !flat.contains_key("time_to_first_token_count"),
            "count is not a stat key"
        );
        let nested = nested_stats(&s);
        let ttft = &nested["time_to_first_token"];
        assert_eq!(
            (ttft["mean"].as_f64(), ttft["avg"].as_f64()),
            (Some(20.0), Some(20.0))
        );
        assert_eq!(ttft["std"], 0.0, "no spread across one trial");
        assert_eq!(
            (ttft["count"].as_u64(), ttft["p99"].as_f64()),
            (Some(10), Some(40.0))
        );
        // A scalar's min and max are its value.
        assert_eq!(nested["request_throughput"]["min"], 10.0);
    }

    #[test]
    fn best_and_pareto_over_three_runs() {
        // (rps, ttft p99): 1 → (10, 40), 2 → (18, 60), 4 → (17, 90).
        let (a, b, c) = (
            summary(10.0, 40.0),
            summary(18.0, 60.0),
            summary(17.0, 90.0),
        );
        let failed = run(8, None, Some("boom"));
        let runs = vec![
            run(1, Some(&a), None),
            run(2, Some(&b), None),
            run(4, Some(&c), None),
            failed,
        ];
        let v = sweep_value(&runs);
        assert_eq!(v["num_profile_runs"], 4);
        assert_eq!(v["num_successful_runs"], 3);
        assert_eq!(
            v["failed_runs"],
            json!([{"label": "concurrency_8", "error": "boom"}])
        );
        assert_eq!(
            v["metadata"]["sweep_parameters"],
            json!([{"name": "concurrency", "values": [1, 2, 4, 8]}])
        );
        assert_eq!(v["metadata"]["num_combinations"], 4);
        assert_eq!(
            v["best_configurations"]["best_throughput"],
            json!({"parameters": {"concurrency": 2}, "metric": 18.0, "unit": "requests/sec"})
        );
        assert_eq!(
            v["best_configurations"]["best_latency_p99"],
            json!({"parameters": {"concurrency": 1}, "metric": 40.0, "unit": "ms"})
        );
        // 4 is beaten by 2 on both axes; 1 and 2 trade throughput for latency.
        assert_eq!(
            v["pareto_optimal"],
            json!([{"concurrency": 1}, {"concurrency": 2}])
        );
        let m = &v["per_combination_metrics"][1]["metrics"];
        assert_eq!(m["request_throughput"]["mean"], 18.0);
        assert_eq!(m["request_throughput_avg"]["mean"], 18.0);

        let csv = sweep_csv(&v);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[0].starts_with("concurrency,request_count_mean,request_count_std,"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("1,10.00,0.00,10.00,10.00,0.0000,"),
            "{}",
            lines[1]
        );
        let tail = lines[4..].join("\n");
        assert_eq!(
            tail,
            "\nBest Configurations\nConfiguration,concurrency,Metric,Unit\n\
             Best Throughput,2,18.00,requests/sec\nBest Latency P99,1,40.00,ms\n\n\
             Pareto Optimal Points\nconcurrency\n1\n2\n\nMetadata\nField,Value\n\
             Aggregation Type,sweep\nSweep Parameters,concurrency\nNumber of Combinations,4\n\
             Number of Profile Runs,4\nNumber of Successful Runs,3"
        );
    }

    #[test]
    fn no_latency_metric_no_pareto() {
        let s = json!({"request_throughput": {"unit": "requests/sec", "avg": 5.0}});
        let runs = vec![run(1, Some(&s), None)];
        let v = sweep_value(&runs);
        assert_eq!(v["pareto_optimal"], json!([]));
        assert!(v["best_configurations"].get("best_latency_p99").is_none());
        assert!(sweep_csv(&v).contains("Pareto Optimal Points\nNone\n"));
    }

    #[test]
    fn value_aggregate_files() {
        let s = summary(10.0, 40.0);
        let r = run(3, Some(&s), None);
        let v = aggregate_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "schema_version",
                "aiperf_version",
                "aiperf_rs_version",
                "metadata",
                "metrics"
            ]
        );
        assert_eq!(v["metadata"]["variation_values"], json!({"concurrency": 3}));
        assert_eq!(v["metadata"]["aggregation_type"], "confidence");
        let cell = &v["metrics"]["request_throughput_avg"];
        assert_eq!(
            (cell["mean"].as_f64(), cell["se"].as_f64()),
            (Some(10.0), Some(0.0))
        );
        assert!(cell["t_critical"].is_null());
        let csv = aggregate_csv(&r).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "metric,mean,std,min,max,cv,se,ci_low,ci_high,t_critical,unit"
        );
        assert_eq!(
            lines[1],
            "request_throughput_avg,10.00,0.00,10.00,10.00,0.0000,0.0000,10.00,10.00,nan,requests/sec"
        );
        assert!(csv.contains("\n\nAggregation Type,confidence\nTotal Runs,1\nSuccessful Runs,1\nConfidence Level,0.95\nRun Labels,['concurrency_3']\nSingle Run,True\n"), "{csv}");
        assert!(
            csv.ends_with("Variation Values,{'concurrency': 3}\nSweep Mode,repeated\nModel,m\n"),
            "{csv}"
        );
        assert!(aggregate_value(&run(3, Some(&s), Some("failed"))).is_none());
    }

    #[test]
    fn python_spellings() {
        assert_eq!(py_title("best_latency_p99"), "Best Latency P99");
        assert_eq!(py_str(&json!(10.0)), "10.0");
        assert_eq!(py_str(&json!(2.5)), "2.5");
        assert_eq!(py_number(&json!(0.125), 2), "0.12");
        assert_eq!(py_number(&json!(7), 2), "7");
    }
}
