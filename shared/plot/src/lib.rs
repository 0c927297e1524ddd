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
fn render_all(figs: &[Figure], theme: Theme, dir: &Path) -> Vec<Result<PathBuf, render::RenderError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(figs.len().max(1));
    let mut out: Vec<Option<Result<PathBuf, render::RenderError>>> = (0..figs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let chunks: Vec<_> = out.chunks_mut(figs.len().div_ceil(threads).max(1)).collect();
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
    out.into_iter().map(|r| r.expect("every figure rendered")).collect()
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
    let mode = if runs.len() == 1 { "single-run" } else { "multi-run" };
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
            if let Some(p) = pngs.iter().find(|p| p.file_stem().is_some_and(|n| n == f.key.as_str())) {
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
