//! The `aiperf-rs plot` subcommand and the `profile --auto-plot` hook.

use crate::figures::GroupBy;
use crate::render::Theme;
use crate::{PlotOptions, PlotReport, plot};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `aiperf-rs plot`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlotArgs {
    /// Run directories, or directories holding runs (searched recursively). One
    /// run gives the single-run plots, several the multi-run plots.
    #[arg(value_name = "PATHS", default_value = "./artifacts")]
    pub paths: Vec<PathBuf>,
    /// Output directory (default: `<first path>/plots`).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Colour theme: light or dark.
    #[arg(long, default_value = "light", value_parser = ["light", "dark"])]
    pub theme: String,
    /// Multi-run series: by model, by parent directory, or auto (model, or the
    /// directory when every run has the same model).
    #[arg(long, default_value = "auto", value_parser = ["auto", "model", "dir"])]
    pub group_by: String,
    /// Write one self-contained `dashboard.html` (interactive) instead of PNGs.
    #[arg(long)]
    pub dashboard: bool,
    /// With --dashboard: also serve it on this port until Ctrl-C (e.g. 8050).
    #[arg(long, requires = "dashboard")]
    pub port: Option<u16>,
    /// With --dashboard --port: the address to listen on.
    #[arg(long, default_value = "127.0.0.1", requires = "port")]
    pub host: String,
}

impl PlotArgs {
    /// The options these arguments stand for.
    pub fn options(&self) -> PlotOptions {
        PlotOptions {
            paths: self.paths.clone(),
            output: self.output.clone(),
            theme: Theme::parse(&self.theme).unwrap_or(Theme::Light),
            group_by: match self.group_by.as_str() {
                "model" => GroupBy::Model,
                "dir" => GroupBy::Dir,
                _ => GroupBy::Auto,
            },
            dashboard: self.dashboard,
        }
    }
}

/// Runs `aiperf-rs plot`: 0 when something was drawn, 1 when nothing could be.
pub fn run(args: PlotArgs) -> ExitCode {
    let opts = args.options();
    let report = match plot(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    print_report(&report);
    if report.pngs.is_empty() && report.dashboard.is_none() {
        eprintln!(
            "error: no plot could be drawn; see {}",
            report.log.display()
        );
        return ExitCode::FAILURE;
    }
    if let (Some(port), Some(path)) = (args.port, &report.dashboard) {
        let html = match std::fs::read_to_string(path) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        let served = crate::dashboard::serve(&html, &args.host, port, |url| {
            println!("Dashboard served at {url} (Ctrl-C stops)");
        });
        if let Err(e) = served {
            eprintln!(
                "error: cannot serve the dashboard on {}:{port}: {e}. Pick another --port.",
                args.host
            );
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn print_report(r: &PlotReport) {
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(d) = &r.dashboard {
        println!("Dashboard: {}", d.display());
    }
    if !r.pngs.is_empty() {
        println!(
            "Plots: {} PNG files of {} run(s) in {}",
            r.pngs.len(),
            r.runs.len(),
            r.output_dir.display()
        );
    }
    println!("Plot summary: {}", r.summary.display());
    println!("Plot log: {}", r.log.display());
}

/// `profile --auto-plot`: draws the PNGs of the run (or sweep) directory `dir`
/// into `dir/plots`. A failure is a warning: the run's results stand.
pub fn auto_plot(dir: &Path) {
    let opts = PlotOptions {
        paths: vec![dir.to_path_buf()],
        output: None,
        theme: Theme::Light,
        group_by: GroupBy::Auto,
        dashboard: false,
    };
    match plot(&opts) {
        Ok(r) => print_report(&r),
        Err(e) => eprintln!("warning: --auto-plot: {e}"),
    }
}
