//! `aiperf-rs plot` (`docs/plots.md`): pictures of a run and of a sweep.
//!
//! * [`discover`] finds run directories under the given paths;
//! * [`load`] reads a run (the records file streamed, a few numbers kept per request);
//! * [`data`] computes plot data with pure functions (Pareto frontier, rolling
//!   percentiles, dispersed throughput, …);
//! * [`figures`] builds the plots as [`figure::Figure`]s;
//! * [`render`] draws them as PNGs (plotters, bundled font);
//! * [`dashboard`] writes them into one self-contained HTML page and can serve it.
//!
//! [`plot`] ties them together: one run gives the single-run plots, several the
//! multi-run plots; the output directory also gets `summary.txt` and `aiperf_plot.log`.

pub mod cli;
pub mod dashboard;
pub mod data;
pub mod discover;
pub mod figure;
pub mod figures;
pub mod load;
pub mod render;

use discover::{RUN_DIR_HOLDS, RunDir, find_runs};
use figure::Figure;
use figures::GroupBy;
use load::RunData;
use render::Theme;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Name of the plot log in the output directory.
pub const LOG_FILE: &str = "aiperf_plot.log";
/// Name of the summary in the output directory.
pub const SUMMARY_FILE: &str = "summary.txt";
/// Name of the dashboard page.
pub const DASHBOARD_FILE: &str = "dashboard.html";

/// What to plot and where.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// Run directories or parents of run directories.
    pub paths: Vec<PathBuf>,
    /// Output directory (default `<first path>/plots`).
    pub output: Option<PathBuf>,
    /// PNG and dashboard theme.
    pub theme: Theme,
    /// How multi-run series are formed.
    pub group_by: GroupBy,
    /// Write `dashboard.html` instead of PNGs.
    pub dashboard: bool,
}

/// Why nothing could be plotted.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// No run directory under the paths.
    #[error("no run directory found under {paths}; {RUN_DIR_HOLDS}{}", warnings_suffix(.warnings))]
    NoRun {
        /// The paths searched, joined.
        paths: String,
        /// Why candidate directories were skipped.
        warnings: Vec<String>,
    },
    /// A path does not exist.
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn warnings_suffix(w: &[String]) -> String {
    if w.is_empty() {
        String::new()
    } else {
        format!(". Skipped:\n  {}", w.join("\n  "))
    }
}

/// What [`plot`] produced.
#[derive(Debug, Clone)]
pub struct PlotReport {
    /// The output directory.
    pub output_dir: PathBuf,
    /// The runs plotted.
    pub runs: Vec<PathBuf>,
    /// PNG files written.
    pub pngs: Vec<PathBuf>,
    /// The dashboard, when written.
    pub dashboard: Option<PathBuf>,
    /// Runs skipped and plots that failed.
    pub warnings: Vec<String>,
    /// `summary.txt`.
    pub summary: PathBuf,
    /// `aiperf_plot.log`.
    pub log: PathBuf,
}

/// A log kept in memory and written to [`LOG_FILE`] at the end.
struct Log {
    start: Instant,
    lines: String,
}

impl Log {
    fn line(&mut self, msg: impl AsRef<str>) {
        let _ = writeln!(
            self.lines,
            "[{:>8.3} s] {}",
            self.start.elapsed().as_secs_f64(),
            msg.as_ref()
        );
    }
}

/// The runs found under `paths`, loaded; runs that cannot be loaded become warnings.
pub fn load_runs(paths: &[PathBuf]) -> Result<(Vec<RunData>, Vec<String>), PlotError> {
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(PlotError::Missing(p.clone()));
    }
    let (dirs, mut warnings) = find_runs(paths);
    let mut runs = Vec::new();
    for d in &dirs {
        match load::load_run(d) {
            Ok(r) => runs.push(r),
            Err(e) => warnings.push(format!("{}: skipped: {e}", d.dir.display())),
        }
    }
    if runs.is_empty() {
        return Err(PlotError::NoRun {
            paths: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            warnings,
        });
    }
    Ok((runs, warnings))
}

/// The figures of `runs`: single-run plots for one run, multi-run plots (average
/// of each run) for several.
pub fn figures_of(runs: &[RunData], group_by: GroupBy) -> Vec<Figure> {
    if runs.len() == 1 {
        figures::single_run(&runs[0])
    } else {
        let groups = figures::groups(runs, group_by);
        figures::multi_run(runs, &groups, "avg")
    }
}

/// Finds, loads and draws the runs under `opts.paths`.
pub fn plot(opts: &PlotOptions) -> Result<PlotReport, PlotError> {
    let mut log = Log {
        start: Instant::now(),
        lines: String::new(),
    };
    log.line(format!(
        "aiperf-rs plot: paths {:?}, theme {}, {}",
        opts.paths,
        opts.theme.name(),
        if opts.dashboard { "dashboard" } else { "PNG" }
    ));
    let (runs, mut warnings) = load_runs(&opts.paths)?;
    for w in &warnings {
        log.line(format!("warning: {w}"));
    }
    for r in &runs {
        log.line(format!(
            "loaded {} ({} records, {} skipped lines)",
            r.run.dir.display(),
            r.requests.len(),
            r.skipped_lines
        ));
        for n in &r.notes {
            log.line(format!("note: {n}"));
        }
    }
    let output_dir = opts
        .output
        .clone()
        .unwrap_or_else(|| default_output(&opts.paths, &runs[0].run));
    std::fs::create_dir_all(&output_dir).map_err(|source| PlotError::Write {
        path: output_dir.clone(),
        source,
    })?;
    let mut pngs = Vec::new();
    let mut dashboard_path = None;
    let figs;
    if opts.dashboard {
        let path = output_dir.join(DASHBOARD_FILE);
        let html = dashboard::render_html(&runs, opts.group_by, opts.theme);
        std::fs::write(&path, html).map_err(|source| PlotError::Write {
            path: path.clone(),
            source,
        })?;
        log.line(format!("wrote {}", path.display()));
        dashboard_path = Some(path);
        figs = Vec::new();
    } else {
        figs = figures_of(&runs, opts.group_by);
        log.line(format!("built {} figures", figs.len()));
        let results = render_all(&figs, opts.theme, &output_dir);
        for (fig, res) in figs.iter().zip(results) {
            match res {
                Ok(p) => {
                    log.line(format!("wrote {}", p.display()));
                    pngs.push(p);
                }
                Err(e) => {
                    let w = format!("{}: not drawn: {e}", fig.key);
                    log.line(format!("warning: {w}"));
                    warnings.push(w);
                }
            }
        }
    }
    let summary = output_dir.join(SUMMARY_FILE);
    let text = summary_text(&runs, &figs, &pngs, dashboard_path.as_deref(), &warnings);
    std::fs::write(&summary, text).map_err(|source| PlotError::Write {
        path: summary.clone(),
        source,
    })?;
    log.line("done");
    let log_path = output_dir.join(LOG_FILE);
    std::fs::write(&log_path, &log.lines).map_err(|source| PlotError::Write {
        path: log_path.clone(),
        source,
    })?;
    Ok(PlotReport {
        output_dir,
        runs: runs.iter().map(|r| r.run.dir.clone()).collect(),
        pngs,
        dashboard: dashboard_path,
        warnings,
        summary,
        log: log_path,
    })
}

/// `<first path>/plots` (the run's directory when the first path is a file).
fn default_output(paths: &[PathBuf], first_run: &RunDir) -> PathBuf {
    match paths.first() {
        Some(p) if p.is_dir() => p.join("plots"),
        _ => first_run.dir.join("plots"),
    }
}

/// Draws every figure as `<key>.png`, on as many threads as there are cores.
fn render_all(
    figs: &[Figure],
    theme: Theme,
    dir: &Path,
) -> Vec<Result<PathBuf, render::RenderError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(figs.len().max(1));
    let mut out: Vec<Option<Result<PathBuf, render::RenderError>>> =
        (0..figs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<_> = out
            .chunks_mut(figs.len().div_ceil(threads).max(1))
            .collect();
        let mut start = 0;
        for chunk in chunks {
            let first = start;
            start += chunk.len();
            s.spawn(move || {
                for (k, slot) in chunk.iter_mut().enumerate() {
                    let fig = &figs[first + k];
                    let path = dir.join(format!("{}.png", fig.key));
                    *slot = Some(render::render_png(fig, theme, &path).map(|_| path));
                }
            });
        }
    });
    out.into_iter()
        .map(|r| r.expect("every figure rendered"))
        .collect()
}

/// `summary.txt`: the runs, the plots and what was skipped.
fn summary_text(
    runs: &[RunData],
    figs: &[Figure],
    pngs: &[PathBuf],
    dashboard: Option<&Path>,
    warnings: &[String],
) -> String {
    let mut s = String::new();
    let mode = if runs.len() == 1 {
        "single-run"
    } else {
        "multi-run"
    };
    let _ = writeln!(s, "aiperf-rs plot: {} run(s), {mode} plots\n", runs.len());
    let _ = writeln!(s, "Runs:");
    for r in runs {
        let _ = writeln!(
            s,
            "  {}  model {}, {} records{}",
            r.run.dir.display(),
            r.model(),
            r.requests.len(),
            r.load_point()
                .map(|(p, v)| format!(", {p} {v}"))
                .unwrap_or_default()
        );
    }
    if let Some(d) = dashboard {
        let _ = writeln!(s, "\nDashboard: {}", d.display());
    }
    if !pngs.is_empty() {
        let _ = writeln!(s, "\nPlots:");
        for f in figs {
            if let Some(p) = pngs
                .iter()
                .find(|p| p.file_stem().is_some_and(|n| n == f.key.as_str()))
            {
                let _ = writeln!(s, "  {}  {}: {}", p.display(), f.title, f.subtitle);
            }
        }
    }
    if !warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings:");
        for w in warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A hand-made run: 3 profiling requests (one failed), 1 warmup, and
    /// server-metric scrapes in AIPerf's per-scrape JSONL shape.
    fn write_run(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        let rec = |start: u64, end: u64, ttft: f64, phase: &str, error: bool| {
            let s = 1_000_000_000_000u64;
            if error {
                format!(
                    r#"{{"metadata":{{"request_start_ns":{},"request_end_ns":{},"benchmark_phase":"{phase}"}},"metrics":{{"error_isl":{{"value":10,"unit":"tokens"}}}},"error":{{"code":500,"type":"x","message":"y"}}}}"#,
                    s + start,
                    s + end
                )
            } else {
                format!(
                    r#"{{"metadata":{{"request_start_ns":{},"request_end_ns":{},"benchmark_phase":"{phase}"}},"metrics":{{"time_to_first_token":{{"value":{ttft},"unit":"ms"}},"inter_token_latency":{{"value":2.0,"unit":"ms"}},"request_latency":{{"value":{},"unit":"ms"}},"output_sequence_length":{{"value":10,"unit":"tokens"}}}}}}"#,
                    s + start,
                    s + end,
                    (end - start) as f64 / 1e6
                )
            }
        };
        let lines = [
            rec(0, 50_000_000, 5.0, "warmup", false),
            rec(100_000_000, 300_000_000, 20.0, "profiling", false),
            rec(150_000_000, 400_000_000, 30.0, "profiling", false),
            rec(200_000_000, 210_000_000, 0.0, "profiling", true),
            "not json".to_string(),
        ];
        fs::write(dir.join("profile_export.jsonl"), lines.join("\n") + "\n").unwrap();
        fs::write(
            dir.join("profile_export_aiperf.json"),
            r#"{"request_latency":{"unit":"ms","avg":225.0},"input_config":{"models":{"items":[{"name":"m"}]}}}"#,
        )
        .unwrap();
        fs::write(dir.join("server_metrics_export.json"), "{}").unwrap();
        let scrape = |t: u64, kv: f64, run: f64| {
            format!(
                r#"{{"endpoint_url":"http://127.0.0.1:8000/metrics","timestamp_ns":{},"metrics":{{"vllm:kv_cache_usage_perc":{{"type":"gauge","samples":[{{"labels":{{"model_name":"m"}},"value":{kv}}}]}},"vllm:num_requests_running":{{"type":"gauge","samples":[{{"labels":{{}},"value":{run}}}]}},"vllm:prompt_tokens":{{"type":"counter","samples":[{{"labels":{{}},"value":5}}]}}}}}}"#,
                1_000_000_000_000u64 + t
            )
        };
        fs::write(
            dir.join("server_metrics_export.jsonl"),
            [scrape(100_000_000, 0.1, 1.0), scrape(300_000_000, 0.4, 2.0)].join("\n"),
        )
        .unwrap();
    }

    #[test]
    fn hand_made_run_plots_with_server_metrics() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("run");
        write_run(&run);
        let (runs, warnings) = load_runs(std::slice::from_ref(&run)).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let r = &runs[0];
        assert_eq!(r.requests.len(), 4);
        assert_eq!(r.skipped_lines, 1);
        // t0 = the first profiling start (the warmup request is earlier).
        assert_eq!(r.t0_ns(), 1_000_100_000_000);
        assert_eq!(r.server_metrics.len(), 2);
        assert_eq!(
            r.server_metrics[0].name,
            "vllm:kv_cache_usage_perc @ 127.0.0.1:8000"
        );
        assert_eq!(
            r.server_metrics[0].points,
            vec![(1_000_100_000_000, 0.1), (1_000_300_000_000, 0.4)]
        );
        let figs = figures_of(&runs, GroupBy::Auto);
        let keys: Vec<&str> = figs.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "ttft_over_time",
                "itl_over_time",
                "latency_over_time",
                "request_timeline",
                "dispersed_throughput_over_time",
                "errors_over_time",
                "server_kv_cache_usage",
                "server_running_waiting",
            ]
        );
        // TTFT plot: 2 successful profiling requests at their end times (0.2 s, 0.3 s).
        let ttft = &figs[0];
        assert_eq!(ttft.series[0].points, vec![[0.2, 20.0], [0.3, 30.0]]);
        assert!(
            ttft.subtitle
                .contains("1 warmup and 1 failed requests left out"),
            "{}",
            ttft.subtitle
        );
        // Dispersed throughput: 10 tokens over 0.18 s and 10 over 0.22 s.
        let d = &figs[4].series[0].points;
        assert!(
            (d[0][0] - 0.02).abs() < 1e-9 && (d[0][1] - 10.0 / 0.18).abs() < 1e-6,
            "{d:?}"
        );
        assert!(
            (d[1][1] - (10.0 / 0.18 + 10.0 / 0.22)).abs() < 1e-6,
            "{d:?}"
        );
        let out = plot(&PlotOptions {
            paths: vec![run.clone()],
            output: None,
            theme: Theme::Light,
            group_by: GroupBy::Auto,
            dashboard: false,
        })
        .unwrap();
        assert_eq!(out.output_dir, run.join("plots"));
        assert_eq!(out.pngs.len(), 8, "{:?}", out.warnings);
        assert!(out.pngs.iter().all(|p| p.is_file()));
        assert!(
            fs::read_to_string(&out.log)
                .unwrap()
                .contains("1 skipped lines")
        );
    }

    #[test]
    fn no_run_says_what_a_run_directory_holds() {
        let t = tempfile::tempdir().unwrap();
        let e = load_runs(&[t.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no run directory found under "), "{e}");
        assert!(
            e.contains("profile_export.jsonl (the per-request records)"),
            "{e}"
        );
        // Only a partial run: the error lists why it was skipped.
        fs::write(t.path().join("profile_export.jsonl"), "").unwrap();
        let e = load_runs(&[t.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Skipped:") && e.contains("has no summary"),
            "{e}"
        );
    }
}
