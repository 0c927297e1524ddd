//! Paths of the files of a run directory (`docs/outputs.md`) and the
//! `.aiperf_results_ready.json` marker.
//!
//! Two naming rules:
//! * default prefix (`profile_export`, i.e. no `--profile-export-prefix`):
//!   `profile_export.jsonl`, `profile_export_raw.jsonl`, `profile_export_aiperf.json`,
//!   `profile_export_aiperf.csv`, `profile_export_aiperf_timeslices.{csv,json}`,
//!   `profile_export_console.txt`, `server_metrics_export.{json,csv,jsonl}`,
//!   `gpu_telemetry_export.jsonl`;
//! * custom prefix `foo`: `foo.jsonl`, `foo_raw.jsonl`, `foo.json`, `foo.csv`,
//!   `foo_timeslices.{csv,json}`, `foo_console.txt`, `foo_server_metrics.{json,csv,jsonl}`,
//!   `foo_gpu_telemetry.jsonl`.
//!
//! Always: `inputs.json`, `logs/aiperf.log`, `.aiperf_results_ready.json`,
//! `phase_manifest.json`, `outputs.json`.
//!
//! Note: the resolved configuration stores the default as the literal prefix
//! `profile_export`, so an explicit `--profile-export-prefix profile_export` also
//! gets the default names.

use aiperf_config::ProfileConfig;
use std::io;
use std::path::{Path, PathBuf};

/// The default file name prefix.
pub const DEFAULT_PREFIX: &str = "profile_export";

/// Name of the readiness marker file.
pub const RESULTS_READY_FILE: &str = ".aiperf_results_ready.json";

/// Every output path of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPaths {
    /// The run directory.
    pub dir: PathBuf,
    /// Per-request records (`profile_export.jsonl`).
    pub records_jsonl: PathBuf,
    /// Raw requests/responses (`profile_export_raw.jsonl`).
    pub raw_jsonl: PathBuf,
    /// Aggregated summary (`profile_export_aiperf.json`).
    pub summary_json: PathBuf,
    /// Aggregated summary (`profile_export_aiperf.csv`).
    pub summary_csv: PathBuf,
    /// Timeslice CSV (`profile_export_aiperf_timeslices.csv`).
    pub timeslices_csv: PathBuf,
    /// Timeslice JSON (`profile_export_aiperf_timeslices.json`).
    pub timeslices_json: PathBuf,
    /// Copy of the console tables (`profile_export_console.txt`).
    pub console_txt: PathBuf,
    /// Server metrics summary (`server_metrics_export.json`).
    pub server_metrics_json: PathBuf,
    /// Server metrics CSV (`server_metrics_export.csv`).
    pub server_metrics_csv: PathBuf,
    /// Raw server metrics scrapes (`server_metrics_export.jsonl`).
    pub server_metrics_jsonl: PathBuf,
    /// GPU telemetry records (`gpu_telemetry_export.jsonl`).
    pub gpu_telemetry_jsonl: PathBuf,
    /// Dataset payloads (`inputs.json`).
    pub inputs_json: PathBuf,
    /// Per-phase index (`phase_manifest.json`).
    pub phase_manifest_json: PathBuf,
    /// Response texts (`outputs.json`).
    pub outputs_json: PathBuf,
    /// Log directory (`logs/`).
    pub logs_dir: PathBuf,
    /// Log file (`logs/aiperf.log`).
    pub log_file: PathBuf,
    /// Readiness marker (`.aiperf_results_ready.json`).
    pub results_ready: PathBuf,
}

impl ArtifactPaths {
    /// Paths inside `dir` for file name prefix `prefix` (a trailing `.jsonl` is
    /// ignored; an empty prefix means the default).
    pub fn new(dir: impl Into<PathBuf>, prefix: &str) -> Self {
        let dir = dir.into();
        let prefix = prefix.strip_suffix(".jsonl").unwrap_or(prefix);
        let custom = !prefix.is_empty() && prefix != DEFAULT_PREFIX;
        let name = |default: &str, custom_suffix: &str| -> PathBuf {
            if custom {
                dir.join(format!("{prefix}{custom_suffix}"))
            } else {
                dir.join(default)
            }
        };
        ArtifactPaths {
            records_jsonl: name("profile_export.jsonl", ".jsonl"),
            raw_jsonl: name("profile_export_raw.jsonl", "_raw.jsonl"),
            summary_json: name("profile_export_aiperf.json", ".json"),
            summary_csv: name("profile_export_aiperf.csv", ".csv"),
            timeslices_csv: name("profile_export_aiperf_timeslices.csv", "_timeslices.csv"),
            timeslices_json: name("profile_export_aiperf_timeslices.json", "_timeslices.json"),
            console_txt: name("profile_export_console.txt", "_console.txt"),
            server_metrics_json: name("server_metrics_export.json", "_server_metrics.json"),
            server_metrics_csv: name("server_metrics_export.csv", "_server_metrics.csv"),
            server_metrics_jsonl: name("server_metrics_export.jsonl", "_server_metrics.jsonl"),
            gpu_telemetry_jsonl: name("gpu_telemetry_export.jsonl", "_gpu_telemetry.jsonl"),
            inputs_json: dir.join("inputs.json"),
            phase_manifest_json: dir.join("phase_manifest.json"),
            outputs_json: dir.join("outputs.json"),
            logs_dir: dir.join("logs"),
            log_file: dir.join("logs").join("aiperf.log"),
            results_ready: dir.join(RESULTS_READY_FILE),
            dir,
        }
    }

    /// Paths of a run from its configuration (`artifact_dir`, `profile_export_prefix`).
    pub fn from_config(config: &ProfileConfig) -> Self {
        Self::new(config.artifact_dir.clone(), &config.profile_export_prefix)
    }

    /// Directory of one phase's exports (`phases/<phase_name>/`).
    pub fn phase_dir(&self, phase_name: &str) -> PathBuf {
        self.dir.join("phases").join(phase_name)
    }
}

/// Writes `content` to `path`, creating missing parent directories.
pub fn write_text(path: &Path, content: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, content)
}

/// The content of `.aiperf_results_ready.json`:
/// `{"ready":true,"was_cancelled":false,"partial":false}`.
pub fn results_ready_json(was_cancelled: bool, partial: bool) -> String {
    format!(r#"{{"ready":true,"was_cancelled":{was_cancelled},"partial":{partial}}}"#)
}

/// Writes the readiness marker (last file of a run) atomically: a temporary file
/// in the same directory renamed over `path`.
pub fn write_results_ready(path: &Path, was_cancelled: bool, partial: bool) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write_text(&tmp, &results_ready_json(was_cancelled, partial))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &ArtifactPaths) -> Vec<String> {
        [
            &p.records_jsonl,
            &p.raw_jsonl,
            &p.summary_json,
            &p.summary_csv,
            &p.timeslices_csv,
            &p.timeslices_json,
            &p.console_txt,
            &p.server_metrics_json,
            &p.server_metrics_csv,
            &p.server_metrics_jsonl,
            &p.gpu_telemetry_jsonl,
            &p.inputs_json,
            &p.log_file,
            &p.results_ready,
        ]
        .iter()
        .map(|x| {
            x.strip_prefix(&p.dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
    }

    #[test]
    fn default_prefix_names() {
        let p = ArtifactPaths::new("run1", DEFAULT_PREFIX);
        assert_eq!(p.dir, PathBuf::from("run1"));
        assert_eq!(
            names(&p),
            [
                "profile_export.jsonl",
                "profile_export_raw.jsonl",
                "profile_export_aiperf.json",
                "profile_export_aiperf.csv",
                "profile_export_aiperf_timeslices.csv",
                "profile_export_aiperf_timeslices.json",
                "profile_export_console.txt",
                "server_metrics_export.json",
                "server_metrics_export.csv",
                "server_metrics_export.jsonl",
                "gpu_telemetry_export.jsonl",
                "inputs.json",
                "logs/aiperf.log",
                ".aiperf_results_ready.json",
            ]
        );
        assert_eq!(ArtifactPaths::new("run1", ""), p);
        assert_eq!(ArtifactPaths::new("run1", "profile_export.jsonl"), p);
        assert_eq!(p.summary_csv, Path::new("run1/profile_export_aiperf.csv"));
        assert_eq!(p.phase_dir("warmup"), Path::new("run1/phases/warmup"));
    }

    #[test]
    fn custom_prefix_names() {
        let p = ArtifactPaths::new("out", "foo");
        assert_eq!(
            names(&p),
            [
                "foo.jsonl",
                "foo_raw.jsonl",
                "foo.json",
                "foo.csv",
                "foo_timeslices.csv",
                "foo_timeslices.json",
                "foo_console.txt",
                "foo_server_metrics.json",
                "foo_server_metrics.csv",
                "foo_server_metrics.jsonl",
                "foo_gpu_telemetry.jsonl",
                "inputs.json",
                "logs/aiperf.log",
                ".aiperf_results_ready.json",
            ]
        );
        assert_eq!(ArtifactPaths::new("out", "foo.jsonl"), p);
    }

    #[test]
    fn results_ready_marker() {
        assert_eq!(
            results_ready_json(false, false),
            r#"{"ready":true,"was_cancelled":false,"partial":false}"#
        );
        let dir = std::env::temp_dir().join(format!("aiperf-export-ready-{}", std::process::id()));
        let path = dir.join("run").join(RESULTS_READY_FILE);
        write_results_ready(&path, true, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"ready":true,"was_cancelled":true,"partial":true}"#
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
