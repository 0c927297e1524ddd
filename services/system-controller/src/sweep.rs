//! Sweeps (`docs/load-modes.md` §10): `--concurrency 10,50,100` or `--request-rate 5,10,20`
//! runs one full profile per value, each into `<artifact-dir>/<param>_<value>/`
//! (a normal run directory plus `run_config.json`), then writes
//! `<artifact-dir>/sweep_aggregate/profile_export_aiperf_sweep.{json,csv}` and
//! prints the sweep table with the Pareto view: TPS/user (average
//! `output_token_throughput_per_user`) against system TPS and TPS/GPU
//! (`output_token_throughput / --num-gpus`), Pareto-optimal points marked.
//!
//! The controller simply loops over the resolved configurations, one run at a
//! time. A Ctrl-C stops the sweep after the current run's partial results; the
//! aggregate then covers the runs that finished.

use crate::run::run_profile;
use aiperf_config::{
    ConfigError, Context, ProfileArgs, ProfileConfig, SweepPoint, expand_sweep, resolve,
};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The runs of a sweep.
#[derive(Debug)]
pub struct SweepPlan {
    /// Root of the sweep's artifacts.
    pub base_dir: PathBuf,
    /// One resolved configuration per value, in the order given.
    pub runs: Vec<ProfileConfig>,
}

/// Resolves a sweep; `None` when no option has several values.
pub fn plan(args: &ProfileArgs, ctx: &Context) -> Result<Option<SweepPlan>, ConfigError> {
    let sweep = expand_sweep(args)?;
    if sweep.is_empty() {
        return Ok(None);
    }
    let mut runs = Vec::new();
    for run in &sweep {
        let mut cfg = resolve(&run.args, ctx)?;
        cfg.load.sweep = Some(run.point.clone());
        runs.push(cfg);
    }
    let base_dir = match &args.output_artifact_dir {
        Some(d) => d.clone(),
        None => {
            // `artifacts/<model>-openai-<endpoint>-<param>_sweep`.
            let first = &runs[0];
            let p = &sweep[0].point.parameter;
            Path::new("artifacts").join(format!(
                "{}-openai-{}-{p}_sweep",
                first.model().replace('/', "_"),
                first.endpoint_type.artifact_name()
            ))
        }
    };
    for (cfg, run) in runs.iter_mut().zip(&sweep) {
        cfg.artifact_dir = base_dir.join(run.point.dir_name());
    }
    Ok(Some(SweepPlan { base_dir, runs }))
}

/// What one run of the sweep produced.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// Its sweep point.
    pub point: SweepPoint,
    /// Its summary JSON, when it produced one.
    pub summary: Option<Value>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Runs every profile of the sweep, then writes the aggregate and prints the table.
pub async fn run(plan: SweepPlan) -> ExitCode {
    let total = plan.runs.len();
    let gpus = plan.runs.first().map(|c| c.load.gpus()).unwrap_or(1);
    let mut results = Vec::new();
    let mut interrupted = false;
    for cfg in plan.runs {
        let point = cfg
            .load
            .sweep
            .clone()
            .expect("sweep runs carry their point");
        eprintln!(
            "\n=== sweep run {}/{total}: {} = {} ===",
            point.index + 1,
            point.parameter,
            aiperf_config::load::format_value(point.value)
        );
        let dir = cfg.artifact_dir.clone();
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| {
            std::fs::write(
                dir.join("run_config.json"),
                serde_json::to_string_pretty(&cfg).unwrap_or_default(),
            )
        }) {
            eprintln!(
                "error: cannot write {}: {e}",
                dir.join("run_config.json").display()
            );
        }
        let prefix = cfg.profile_export_prefix.clone();
        let outcome = run_profile(cfg).await;
        let summary = std::fs::read_to_string(dir.join(format!("{prefix}_aiperf.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        let ok = outcome.failure.is_none()
            && summary
                .as_ref()
                .is_some_and(|s| s["request_count"]["avg"].as_f64().unwrap_or(0.0) > 0.0);
        let ignored = summary.as_ref().and_then(|s| ignored_sweep(&point, s));
        let error = ignored.clone().or_else(|| {
            (!ok).then(|| {
                outcome
                    .failure
                    .clone()
                    .unwrap_or_else(|| "no valid request completed".into())
            })
        });
        results.push(SweepResult {
            point,
            summary,
            error,
        });
        if outcome.interrupted {
            interrupted = true;
            eprintln!("Ctrl-C: the sweep stops here; the aggregate covers the runs so far.");
            break;
        }
        if let Some(why) = ignored {
            eprintln!("error: {why}; the sweep stops here.");
            break;
        }
    }
    let agg_dir = plan.base_dir.join("sweep_aggregate");
    let json = aggregate_json(&results, total, gpus);
    let csv = aggregate_csv(&results);
    let table = render_table(&results, gpus);
    let written = std::fs::create_dir_all(&agg_dir)
        .and_then(|_| {
            std::fs::write(
                agg_dir.join("profile_export_aiperf_sweep.json"),
                serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
            )
        })
        .and_then(|_| std::fs::write(agg_dir.join("profile_export_aiperf_sweep.csv"), &csv))
        .and_then(|_| {
            std::fs::write(
                agg_dir.join("profile_export_aiperf_sweep_console.txt"),
                &table,
            )
        });
    println!("\n{table}");
    match &written {
        Ok(()) => println!(
            "Sweep JSON Export: {}",
            agg_dir.join("profile_export_aiperf_sweep.json").display()
        ),
        Err(e) => eprintln!(
            "error: cannot write the sweep aggregate in {}: {e}",
            agg_dir.display()
        ),
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    if interrupted {
        ExitCode::from(130)
    } else if failed > 0 || written.is_err() {
        eprintln!("error: {failed} of {total} sweep runs failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Metrics aggregated per sweep value (the scalar and distribution metrics of the run).
const SWEEP_METRICS: [&str; 14] = [
    "request_throughput",
    "output_token_throughput",
    "total_token_throughput",
    "output_token_throughput_per_user",
    "time_to_first_token",
    "time_to_second_token",
    "inter_token_latency",
    "request_latency",
    "effective_latency",
    "schedule_lag",
    "input_sequence_length",
    "output_sequence_length",
    "request_count",
    "error_request_count",
];

const PERCENTILES: [&str; 9] = ["p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99"];

/// One metric of one run in the sweep schema: `mean, avg, std, min, max, cv,
/// ci_low, ci_high, unit, p1..p99, count, sum` (95 % confidence interval of the mean).
/// Why a sweep point had no effect: a request-rate sweep over a timestamped trace
/// replays the trace's own schedule every time (a fixed schedule wins over every other mode).
fn ignored_sweep(point: &SweepPoint, summary: &Value) -> Option<String> {
    let mode = summary["load_report"]["mode"].as_str()?;
    (point.parameter == "request_rate" && mode == "fixed_schedule").then(|| {
        "--request-rate had no effect: the input file has timestamps, so it was replayed \
         on its own fixed schedule. Sweep the replay speed with separate runs of \
         --synthesis-speedup-ratio, or pass --no-fixed-schedule to send its rows at each rate"
            .to_string()
    })
}

fn metric_entry(m: &Value) -> Option<Value> {
    let avg = m["avg"].as_f64()?;
    let std = m["std"].as_f64().unwrap_or(0.0);
    let count = m["count"].as_f64();
    let half = match count {
        Some(n) if n > 1.0 => 1.96 * std / n.sqrt(),
        _ => 0.0,
    };
    let mut o = Map::new();
    o.insert("mean".into(), json!(avg));
    o.insert("avg".into(), json!(avg));
    o.insert("std".into(), json!(std));
    o.insert("min".into(), m.get("min").cloned().unwrap_or(json!(avg)));
    o.insert("max".into(), m.get("max").cloned().unwrap_or(json!(avg)));
    o.insert("cv".into(), json!(if avg != 0.0 { std / avg } else { 0.0 }));
    o.insert("ci_low".into(), json!(avg - half));
    o.insert("ci_high".into(), json!(avg + half));
    o.insert("unit".into(), m.get("unit").cloned().unwrap_or(Value::Null));
    for p in PERCENTILES {
        if let Some(v) = m.get(p) {
            o.insert(p.into(), v.clone());
        }
    }
    o.insert("count".into(), m.get("count").cloned().unwrap_or(json!(1)));
    o.insert("sum".into(), m.get("sum").cloned().unwrap_or(json!(avg)));
    Some(Value::Object(o))
}

fn param_value(p: &SweepPoint) -> Value {
    if p.value.fract() == 0.0 && p.parameter == "concurrency" {
        json!(p.value as u64)
    } else {
        json!(p.value)
    }
}

/// A point of the Pareto view: (TPS/user, TPS/GPU).
fn pareto_point(s: &Value, gpus: usize) -> Option<(f64, f64, f64)> {
    let per_user = s["output_token_throughput_per_user"]["avg"].as_f64()?;
    let system = s["output_token_throughput"]["avg"].as_f64()?;
    Some((per_user, system, system / gpus as f64))
}

/// Whether point `i` is Pareto-optimal (no other point is at least as good on both
/// axes and better on one), both axes maximised.
pub fn pareto_optimal(points: &[Option<(f64, f64)>]) -> Vec<bool> {
    points
        .iter()
        .map(|p| match p {
            None => false,
            Some((x, y)) => !points
                .iter()
                .flatten()
                .any(|(a, b)| a >= x && b >= y && (a > x || b > y)),
        })
        .collect()
}

/// `profile_export_aiperf_sweep.json`.
pub fn aggregate_json(results: &[SweepResult], planned: usize, gpus: usize) -> Value {
    let param = results
        .first()
        .map(|r| r.point.parameter.clone())
        .unwrap_or_default();
    let points: Vec<Option<(f64, f64)>> = results
        .iter()
        .map(|r| {
            r.summary
                .as_ref()
                .and_then(|s| pareto_point(s, gpus))
                .map(|(u, _, g)| (u, g))
        })
        .collect();
    let optimal = pareto_optimal(&points);
    let mut per = Vec::new();
    let mut pareto = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let Some(s) = &r.summary else { continue };
        if r.error.is_some() {
            continue;
        }
        let mut metrics = Map::new();
        for tag in SWEEP_METRICS {
            if let Some(e) = s.get(tag).and_then(metric_entry) {
                metrics.insert(tag.into(), e);
            }
        }
        let mut params = Map::new();
        params.insert(param.clone(), param_value(&r.point));
        per.push(json!({"parameters": params, "metrics": metrics}));
        if let Some((u, sys, g)) = pareto_point(s, gpus) {
            pareto.push(json!({"parameters": {param.clone(): param_value(&r.point)}, "tps_per_user": u, "system_tps": sys, "tps_per_gpu": g, "pareto_optimal": optimal[i]}));
        }
    }
    let failed: Vec<Value> = results
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| json!({"parameters": {param.clone(): param_value(&r.point)}, "error": e}))
        })
        .collect();
    json!({
        "aggregation_type": "sweep",
        "num_profile_runs": planned,
        "num_successful_runs": results.iter().filter(|r| r.error.is_none()).count(),
        "failed_runs": failed,
        "metadata": {
            "sweep_parameters": [{"name": param, "values": results.iter().map(|r| param_value(&r.point)).collect::<Vec<_>>()}],
            "num_gpus": gpus,
            "pareto_axes": {"x": "output_token_throughput_per_user (avg)", "y": "output_token_throughput / num_gpus"},
        },
        "per_combination_metrics": per,
        "pareto": pareto,
    })
}

/// `profile_export_aiperf_sweep.csv`: one row per sweep value, columns
/// `<tag>_mean,<tag>_std,<tag>_min,<tag>_max,<tag>_cv`.
pub fn aggregate_csv(results: &[SweepResult]) -> String {
    let param = results
        .first()
        .map(|r| r.point.parameter.clone())
        .unwrap_or_default();
    let mut header = vec![param];
    for tag in SWEEP_METRICS {
        for stat in ["mean", "std", "min", "max", "cv"] {
            header.push(format!("{tag}_{stat}"));
        }
    }
    let mut out = header.join(",") + "\n";
    for r in results.iter().filter(|r| r.error.is_none()) {
        let Some(s) = &r.summary else { continue };
        let mut row = vec![aiperf_config::load::format_value(r.point.value)];
        for tag in SWEEP_METRICS {
            let e = s.get(tag).and_then(metric_entry);
            for stat in ["mean", "std", "min", "max", "cv"] {
                row.push(
                    e.as_ref()
                        .and_then(|e| e[stat].as_f64())
                        .map(|v| format!("{v:.6}"))
                        .unwrap_or_default(),
                );
            }
        }
        out.push_str(&(row.join(",") + "\n"));
    }
    out
}

/// The console table of the sweep with the Pareto view.
pub fn render_table(results: &[SweepResult], gpus: usize) -> String {
    let param = results
        .first()
        .map(|r| r.point.parameter.clone())
        .unwrap_or_default();
    let points: Vec<Option<(f64, f64)>> = results
        .iter()
        .map(|r| {
            r.summary
                .as_ref()
                .and_then(|s| pareto_point(s, gpus))
                .map(|(u, _, g)| (u, g))
        })
        .collect();
    let optimal = pareto_optimal(&points);
    let header = [
        param.as_str(),
        "Requests/s",
        "TTFT p50 (ms)",
        "ITL p50 (ms)",
        "Latency p99 (ms)",
        "TPS/user",
        "System TPS",
        "TPS/GPU",
        "Pareto",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let f = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "N/A".into());
    for (i, r) in results.iter().enumerate() {
        let value = aiperf_config::load::format_value(r.point.value);
        match (&r.summary, &r.error) {
            (Some(s), None) => {
                let p = pareto_point(s, gpus);
                rows.push(vec![
                    value,
                    f(s["request_throughput"]["avg"].as_f64()),
                    f(s["time_to_first_token"]["p50"].as_f64()),
                    f(s["inter_token_latency"]["p50"].as_f64()),
                    f(s["request_latency"]["p99"].as_f64()),
                    f(p.map(|x| x.0)),
                    f(p.map(|x| x.1)),
                    f(p.map(|x| x.2)),
                    if optimal[i] {
                        "*".into()
                    } else {
                        String::new()
                    },
                ]);
            }
            (_, err) => rows.push(vec![
                value,
                "failed".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                err.clone().unwrap_or_default().chars().take(40).collect(),
            ]),
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |l: char, m: char, r: char, fill: char| {
        let mut s = String::from(l);
        for (i, w) in widths.iter().enumerate() {
            if i > 0 {
                s.push(m);
            }
            s.extend(std::iter::repeat_n(fill, w + 2));
        }
        s.push(r);
        s
    };
    let cells = |cells: &[String], bar: char| {
        let mut s = String::from(bar);
        for (c, w) in cells.iter().zip(&widths) {
            s.push_str(&format!(" {c:>w$} {bar}", w = w));
        }
        s
    };
    let title = format!(
        "aiperf-rs | Sweep over {param} (Pareto: TPS/user vs TPS/GPU, {gpus} GPU{})",
        if gpus == 1 { "" } else { "s" }
    );
    let mut out = String::new();
    let total_width = line('┏', '┳', '┓', '━').chars().count();
    out.push_str(format!("{:^w$}", title, w = total_width).trim_end());
    out.push('\n');
    out.push_str(&line('┏', '┳', '┓', '━'));
    out.push('\n');
    out.push_str(&cells(
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        '┃',
    ));
    out.push('\n');
    out.push_str(&line('┡', '╇', '┩', '━'));
    out.push('\n');
    for r in &rows {
        out.push_str(&cells(r, '│'));
        out.push('\n');
    }
    out.push_str(&line('└', '┴', '┘', '─'));
    out.push('\n');
    out.push_str("* = Pareto-optimal: no other run has both more TPS/user and more TPS/GPU.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(per_user: f64, system: f64) -> Value {
        json!({
            "output_token_throughput_per_user": {"unit": "tokens/sec/user", "avg": per_user, "std": 2.0, "min": 1.0, "max": 9.0, "p50": per_user, "count": 100, "sum": per_user * 100.0},
            "output_token_throughput": {"unit": "tokens/sec", "avg": system},
            "request_throughput": {"unit": "requests/sec", "avg": 3.0},
            "request_count": {"unit": "requests", "avg": 100.0},
            "time_to_first_token": {"unit": "ms", "avg": 20.0, "p50": 19.0, "std": 1.0, "count": 100},
        })
    }

    fn point(v: f64, i: usize) -> SweepPoint {
        SweepPoint {
            parameter: "concurrency".into(),
            value: v,
            index: i,
            total: 3,
        }
    }

    #[test]
    fn pareto_marks_points_nothing_dominates() {
        let pts = vec![
            Some((100.0, 500.0)),
            Some((60.0, 1500.0)),
            Some((50.0, 1400.0)),
            None,
            Some((20.0, 1500.0)),
        ];
        assert_eq!(pareto_optimal(&pts), vec![true, true, false, false, false]);
    }

    #[test]
    fn aggregate_follows_the_sweep_schema() {
        let results = vec![
            SweepResult {
                point: point(10.0, 0),
                summary: Some(summary(100.0, 1000.0)),
                error: None,
            },
            SweepResult {
                point: point(50.0, 1),
                summary: Some(summary(60.0, 3000.0)),
                error: None,
            },
            SweepResult {
                point: point(100.0, 2),
                summary: None,
                error: Some("boom".into()),
            },
        ];
        let j = aggregate_json(&results, 3, 2);
        assert_eq!(j["aggregation_type"], "sweep");
        assert_eq!(
            (
                j["num_profile_runs"].as_u64(),
                j["num_successful_runs"].as_u64()
            ),
            (Some(3), Some(2))
        );
        assert_eq!(j["failed_runs"][0]["parameters"]["concurrency"], 100);
        assert_eq!(
            j["metadata"]["sweep_parameters"][0]["values"],
            json!([10, 50, 100])
        );
        let m = &j["per_combination_metrics"][0];
        assert_eq!(m["parameters"]["concurrency"], 10);
        let ttft = &m["metrics"]["time_to_first_token"];
        for k in [
            "mean", "avg", "std", "min", "max", "cv", "ci_low", "ci_high", "unit", "count", "sum",
        ] {
            assert!(!ttft[k].is_null(), "{k} missing: {ttft}");
        }
        assert!((ttft["ci_high"].as_f64().unwrap() - (20.0 + 1.96 * 1.0 / 10.0)).abs() < 1e-9);
        // TPS/GPU = system / 2 GPUs; both points are optimal (one wins per-user, one per-GPU).
        assert_eq!(j["pareto"][1]["tps_per_gpu"], 1500.0);
        assert!(
            j["pareto"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["pareto_optimal"] == true)
        );
        let csv = aggregate_csv(&results);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "header + one row per successful run");
        assert!(
            lines[0].starts_with("concurrency,request_throughput_mean,request_throughput_std,")
        );
        assert!(lines[2].starts_with("50,3.000000,"));
        let table = render_table(&results, 2);
        assert!(
            table.contains("TPS/GPU") && table.contains("failed") && table.contains('*'),
            "{table}"
        );
    }
}
