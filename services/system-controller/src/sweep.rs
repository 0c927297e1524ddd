//! Sweeps (`docs/load-modes.md` §10): `--concurrency 10,50,100` or `--request-rate 5,10,20`
//! runs one full profile per value, each into `<artifact-dir>/<param>_<value>/`
//! (a normal run directory plus `run_config.json`), then writes AIPerf 0.13's
//! aggregates (`docs/outputs.md`, [`aiperf_export::sweep_aggregate`]):
//!
//! * `<artifact-dir>/aggregate/<param>_<value>/profile_export_aiperf_aggregate.{json,csv}`
//!   for every successful run;
//! * `<artifact-dir>/sweep_aggregate/profile_export_aiperf_sweep.{json,csv}` with
//!   `per_combination_metrics`, `best_configurations` and `pareto_optimal`
//!   (throughput against p99 latency), plus our Pareto view (`pareto`,
//!   `metadata.num_gpus`, `metadata.pareto_axes`);
//!
//! and prints the sweep table with that Pareto view: TPS/user (average
//! `output_token_throughput_per_user`) against system TPS and TPS/GPU
//! (`output_token_throughput / --num-gpus`), Pareto-optimal points marked, then
//! the best configurations (also in `sweep_aggregate/profile_export_aiperf_sweep_console.txt`).
//!
//! Each run hands back the summary it wrote to `profile_export_aiperf.json` and its
//! load report, so the aggregates hold exactly the numbers of the run files.
//!
//! The controller simply loops over the resolved configurations, one run at a
//! time. A Ctrl-C stops the sweep after the current run's partial results; the
//! aggregate then covers the runs that finished.

use crate::run::run_profile;
use aiperf_config::{
    ConfigError, Context, LoadMode, ProfileArgs, ProfileConfig, SweepPoint, expand_sweep, resolve,
};
use aiperf_export::sweep_aggregate::{self as agg, SweepRunSummary};
use serde_json::{Value, json};
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
    /// The model of the run.
    pub model: String,
}

/// Runs every profile of the sweep, then writes the aggregate and prints the table.
pub async fn run(plan: SweepPlan) -> ExitCode {
    let total = plan.runs.len();
    let gpus = plan.runs.first().map(|c| c.load.gpus()).unwrap_or(1);
    let mut results = Vec::new();
    let mut stopped_by = None;
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
        let model = cfg.model().to_string();
        let mut outcome = run_profile(cfg).await;
        let summary = outcome.summary.take();
        let ok = outcome.failure.is_none()
            && summary
                .as_ref()
                .is_some_and(|s| s["request_count"]["avg"].as_f64().unwrap_or(0.0) > 0.0);
        let mode = outcome.load_report.as_ref().map(|r| r.mode);
        let ignored = mode.and_then(|m| ignored_sweep(&point, m));
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
            model,
        });
        if let Some(signal) = outcome.signal.or_else(crate::signals::received) {
            stopped_by = Some(signal);
            eprintln!(
                "{}: the sweep stops here; the aggregate covers the runs so far.",
                signal.describe()
            );
            break;
        }
        if let Some(why) = ignored {
            eprintln!("error: {why}; the sweep stops here.");
            break;
        }
    }
    let json = aggregate_json(&results, gpus);
    let table = render_table(&results, gpus) + &best_lines(&json);
    let written = write_aggregates(&plan.base_dir, &results, &json, &table);
    println!("\n{table}");
    let agg_dir = plan.base_dir.join("sweep_aggregate");
    match &written {
        Ok(()) => println!(
            "Sweep JSON Export: {}",
            agg_dir.join(agg::SWEEP_JSON).display()
        ),
        Err(e) => eprintln!(
            "error: cannot write the sweep aggregates in {}: {e}",
            plan.base_dir.display()
        ),
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    if let Some(signal) = stopped_by {
        ExitCode::from(signal.exit_code())
    } else if failed > 0 || written.is_err() {
        eprintln!("error: {failed} of {total} sweep runs failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Why a sweep point had no effect: a request-rate sweep over a timestamped trace
/// replays the trace's own schedule every time (a fixed schedule wins over every other mode).
fn ignored_sweep(point: &SweepPoint, mode: LoadMode) -> Option<String> {
    (point.parameter == "request_rate" && mode == LoadMode::FixedSchedule).then(|| {
        "--request-rate had no effect: the input file has timestamps, so it was replayed \
         on its own fixed schedule. Sweep the replay speed with separate runs of \
         --synthesis-speedup-ratio, or pass --no-fixed-schedule to send its rows at each rate"
            .to_string()
    })
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

/// The runs as the aggregates see them.
fn run_summaries(results: &[SweepResult]) -> Vec<SweepRunSummary<'_>> {
    results
        .iter()
        .map(|r| SweepRunSummary {
            label: r.point.dir_name(),
            parameter: r.point.parameter.clone(),
            value: param_value(&r.point),
            summary: r.summary.as_ref(),
            error: r.error.clone(),
            model: r.model.clone(),
        })
        .collect()
}

/// `profile_export_aiperf_sweep.json`: AIPerf's sweep aggregate
/// ([`agg::sweep_value`]) plus our Pareto view: `metadata.num_gpus`,
/// `metadata.pareto_axes` and `pareto` (per successful run: its parameters,
/// TPS/user, system TPS, TPS/GPU and whether it is Pareto-optimal on TPS/user vs
/// TPS/GPU).
pub fn aggregate_json(results: &[SweepResult], gpus: usize) -> Value {
    let mut json = agg::sweep_value(&run_summaries(results));
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
    let pareto: Vec<Value> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.error.is_none())
        .filter_map(|(i, r)| {
            let (u, sys, g) = pareto_point(r.summary.as_ref()?, gpus)?;
            Some(json!({
                "parameters": {r.point.parameter.clone(): param_value(&r.point)},
                "tps_per_user": u,
                "system_tps": sys,
                "tps_per_gpu": g,
                "pareto_optimal": optimal[i],
            }))
        })
        .collect();
    if let Some(m) = json["metadata"].as_object_mut() {
        m.insert("num_gpus".into(), gpus.into());
        m.insert(
            "pareto_axes".into(),
            json!({"x": "output_token_throughput_per_user (avg)", "y": "output_token_throughput / num_gpus"}),
        );
    }
    if let Some(o) = json.as_object_mut() {
        o.insert("pareto".into(), Value::Array(pareto));
    }
    json
}

/// Writes `aggregate/<label>/profile_export_aiperf_aggregate.{json,csv}` of every
/// successful run and `sweep_aggregate/profile_export_aiperf_sweep.{json,csv}`
/// (from `json`, see [`aggregate_json`]) with the console `table`.
pub fn write_aggregates(
    base_dir: &Path,
    results: &[SweepResult],
    json: &Value,
    table: &str,
) -> std::io::Result<()> {
    for run in run_summaries(results) {
        let (Some(j), Some(c)) = (agg::aggregate_value(&run), agg::aggregate_csv(&run)) else {
            continue;
        };
        let dir = base_dir.join("aggregate").join(&run.label);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(agg::AGGREGATE_JSON),
            serde_json::to_string_pretty(&j).unwrap_or_default(),
        )?;
        std::fs::write(dir.join(agg::AGGREGATE_CSV), c)?;
    }
    let dir = base_dir.join("sweep_aggregate");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(agg::SWEEP_JSON),
        serde_json::to_string_pretty(json).unwrap_or_default(),
    )?;
    std::fs::write(dir.join(agg::SWEEP_CSV), agg::sweep_csv(json))?;
    std::fs::write(dir.join("profile_export_aiperf_sweep_console.txt"), table)
}

/// The best configurations and AIPerf's Pareto set (throughput vs p99 latency),
/// one line each, for the console.
pub fn best_lines(json: &Value) -> String {
    let params = |p: &Value| {
        p.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    // The latency objective is TTFT when every run has it (AIPerf's rule).
    let ttft = json["per_combination_metrics"].as_array().is_some_and(|p| {
        p.iter()
            .all(|c| c["metrics"].get("time_to_first_token_p99").is_some())
    });
    let latency = if ttft {
        "Best latency (TTFT p99)"
    } else {
        "Best latency (request latency p99)"
    };
    let mut out = String::new();
    for (key, label) in [
        ("best_throughput", "Best throughput"),
        ("best_latency_p99", latency),
    ] {
        let b = &json["best_configurations"][key];
        if let Some(m) = b["metric"].as_f64() {
            out.push_str(&format!(
                "{label}: {} ({m:.2} {})\n",
                params(&b["parameters"]),
                b["unit"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(points) = json["pareto_optimal"].as_array().filter(|p| !p.is_empty()) {
        let list: Vec<String> = points.iter().map(params).collect();
        out.push_str(&format!(
            "Pareto-optimal (throughput vs p99 latency): {}\n",
            list.join("; ")
        ));
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
    fn aggregate_adds_the_tps_per_gpu_view_and_writes_every_file() {
        let results = vec![
            SweepResult {
                point: point(10.0, 0),
                summary: Some(summary(100.0, 1000.0)),
                error: None,
                model: "m".into(),
            },
            SweepResult {
                point: point(50.0, 1),
                summary: Some(summary(60.0, 3000.0)),
                error: None,
                model: "m".into(),
            },
            SweepResult {
                point: point(100.0, 2),
                summary: None,
                error: Some("boom".into()),
                model: "m".into(),
            },
        ];
        let j = aggregate_json(&results, 2);
        assert_eq!(j["aggregation_type"], "sweep");
        assert_eq!(
            (
                j["num_profile_runs"].as_u64(),
                j["num_successful_runs"].as_u64()
            ),
            (Some(3), Some(2))
        );
        assert_eq!(
            j["failed_runs"],
            json!([{"label": "concurrency_100", "error": "boom"}])
        );
        assert_eq!(
            j["metadata"]["sweep_parameters"][0]["values"],
            json!([10, 50, 100])
        );
        assert_eq!(j["metadata"]["num_gpus"], 2);
        // TPS/GPU = system / 2 GPUs; both points are optimal (one wins per-user, one per-GPU).
        assert_eq!(j["pareto"][1]["tps_per_gpu"], 1500.0);
        assert!(
            j["pareto"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["pareto_optimal"] == true)
        );
        // Equal throughput (3 req/s) and TTFT p99 absent: the first run is the best,
        // AIPerf's Pareto set needs a p99 latency, the summaries have none.
        assert_eq!(
            j["best_configurations"]["best_throughput"]["parameters"]["concurrency"],
            10
        );
        assert_eq!(j["pareto_optimal"], json!([]));
        let table = render_table(&results, 2) + &best_lines(&j);
        assert!(
            table.contains("TPS/GPU") && table.contains("failed") && table.contains('*'),
            "{table}"
        );
        assert!(
            table.contains("Best throughput: concurrency=10 (3.00 requests/sec)"),
            "{table}"
        );

        let dir = tempfile::tempdir().unwrap();
        write_aggregates(dir.path(), &results, &j, &table).unwrap();
        for f in [
            "aggregate/concurrency_10/profile_export_aiperf_aggregate.json",
            "aggregate/concurrency_50/profile_export_aiperf_aggregate.csv",
            "sweep_aggregate/profile_export_aiperf_sweep.json",
            "sweep_aggregate/profile_export_aiperf_sweep.csv",
            "sweep_aggregate/profile_export_aiperf_sweep_console.txt",
        ] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        assert!(
            !dir.path().join("aggregate/concurrency_100").exists(),
            "no aggregate for a failed run"
        );
    }
}
