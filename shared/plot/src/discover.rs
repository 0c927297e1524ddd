//! Finding run directories under the paths given to `aiperf-rs plot`.
//!
//! A run directory holds the per-request records and the summary of one profile:
//! `profile_export.jsonl` + `profile_export_aiperf.json`, or with
//! `--profile-export-prefix foo`, `foo.jsonl` + `foo.json` (the names of
//! [`aiperf_export::artifacts::ArtifactPaths`]). Directories are searched
//! recursively; what looks like a run but cannot be drawn is reported as a
//! warning, not an error.

use aiperf_export::artifacts::{ArtifactPaths, DEFAULT_PREFIX, RESULTS_READY_FILE};
use std::path::{Path, PathBuf};

/// What a run directory must hold, for error messages.
pub const RUN_DIR_HOLDS: &str = "a run directory holds profile_export.jsonl (the per-request records) \
and profile_export_aiperf.json (the summary), as `aiperf-rs profile` writes them \
(foo.jsonl and foo.json with --profile-export-prefix foo)";

/// One run directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// The directory.
    pub dir: PathBuf,
    /// The file name prefix of its exports (`profile_export` by default).
    pub prefix: String,
    /// Its file paths.
    pub paths: ArtifactPaths,
}

/// The run directories under `roots` (each a run directory or a parent, searched
/// recursively, sorted by path) and a warning per directory that looks like a run
/// but is skipped (partial, summary only, records only).
pub fn find_runs(roots: &[PathBuf]) -> (Vec<RunDir>, Vec<String>) {
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    for root in roots {
        walk(root, &mut runs, &mut warnings);
    }
    runs.sort_by(|a, b| a.dir.cmp(&b.dir));
    runs.dedup_by(|a, b| a.dir == b.dir && a.prefix == b.prefix);
    (runs, warnings)
}

fn walk(dir: &Path, runs: &mut Vec<RunDir>, warnings: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => subdirs.push(e.path()),
            Ok(_) => files.push(e.file_name().to_string_lossy().into_owned()),
            Err(_) => {}
        }
    }
    files.sort();
    subdirs.sort();
    let mut record_files = false;
    for name in &files {
        let Some(prefix) = records_prefix(name) else {
            continue;
        };
        record_files = true;
        let paths = ArtifactPaths::new(dir, prefix);
        if !paths.summary_json.is_file() {
            warnings.push(format!(
                "{}: skipped: {} has no summary {} beside it (a run still going, or one that crashed)",
                dir.display(),
                name,
                file_name(&paths.summary_json)
            ));
            continue;
        }
        if let Some(why) = partial(&dir.join(RESULTS_READY_FILE)) {
            warnings.push(format!("{}: skipped: {why}", dir.display()));
            continue;
        }
        runs.push(RunDir {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            paths,
        });
    }
    let default = ArtifactPaths::new(dir, DEFAULT_PREFIX);
    if !record_files && default.summary_json.is_file() {
        warnings.push(format!(
            "{}: skipped: it has a summary but no per-request records (run with --export-level records or raw to plot it)",
            dir.display()
        ));
    }
    for d in subdirs {
        walk(&d, runs, warnings);
    }
}

/// The export prefix of a per-request records file name, if it is one
/// (`profile_export.jsonl` → `profile_export`, `foo.jsonl` → `foo`); raw
/// records, server metrics and GPU telemetry files are not.
fn records_prefix(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".jsonl")?;
    let other = ["_raw", "_server_metrics", "_gpu_telemetry"]
        .iter()
        .any(|s| stem.ends_with(s))
        || stem.starts_with("server_metrics_export")
        || stem.starts_with("gpu_telemetry_export");
    (!other && !stem.is_empty()).then_some(stem)
}

/// Why a run is partial, from its `.aiperf_results_ready.json` (absent: an
/// older AIPerf's run, taken as complete).
fn partial(marker: &Path) -> Option<String> {
    let text = std::fs::read_to_string(marker).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if v["was_cancelled"] == true {
        Some("the run was cancelled (Ctrl-C); its results are partial".into())
    } else if v["partial"] == true {
        Some("the run did not finish; its results are partial".into())
    } else {
        None
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn record_file_names() {
        assert_eq!(
            records_prefix("profile_export.jsonl"),
            Some("profile_export")
        );
        assert_eq!(records_prefix("foo.jsonl"), Some("foo"));
        assert_eq!(records_prefix("profile_export_raw.jsonl"), None);
        assert_eq!(records_prefix("foo_raw.jsonl"), None);
        assert_eq!(records_prefix("server_metrics_export.jsonl"), None);
        assert_eq!(records_prefix("foo_server_metrics.jsonl"), None);
        assert_eq!(records_prefix("gpu_telemetry_export.jsonl"), None);
        assert_eq!(records_prefix("profile_export_aiperf.json"), None);
    }

    #[test]
    fn finds_runs_recursively_with_prefixes_and_warns_about_the_rest() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        touch(&r.join("a/profile_export.jsonl"), "");
        touch(&r.join("a/profile_export_aiperf.json"), "{}");
        touch(&r.join("deep/x/b/foo.jsonl"), "");
        touch(&r.join("deep/x/b/foo.json"), "{}");
        touch(&r.join("deep/x/b/foo_raw.jsonl"), "");
        // Records without a summary.
        touch(&r.join("c/profile_export.jsonl"), "");
        // Summary only.
        touch(&r.join("d/profile_export_aiperf.json"), "{}");
        // Cancelled.
        touch(&r.join("e/profile_export.jsonl"), "");
        touch(&r.join("e/profile_export_aiperf.json"), "{}");
        touch(
            &r.join("e/.aiperf_results_ready.json"),
            r#"{"ready":true,"was_cancelled":true,"partial":true}"#,
        );
        // Complete marker.
        touch(&r.join("f/profile_export.jsonl"), "");
        touch(&r.join("f/profile_export_aiperf.json"), "{}");
        touch(
            &r.join("f/.aiperf_results_ready.json"),
            r#"{"ready":true,"was_cancelled":false,"partial":false}"#,
        );
        let (runs, warnings) = find_runs(&[r.to_path_buf()]);
        let found: Vec<(PathBuf, &str)> = runs
            .iter()
            .map(|x| {
                (
                    x.dir.strip_prefix(r).unwrap().to_path_buf(),
                    x.prefix.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (PathBuf::from("a"), "profile_export"),
                (PathBuf::from("deep/x/b"), "foo"),
                (PathBuf::from("f"), "profile_export"),
            ]
        );
        assert_eq!(runs[1].paths.summary_json, r.join("deep/x/b/foo.json"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains(
            "/c: skipped: profile_export.jsonl has no summary profile_export_aiperf.json"
        ));
        assert!(warnings[1].contains("/d: skipped: it has a summary but no per-request records"));
        assert!(warnings[2].contains("/e: skipped: the run was cancelled"));
        // A path that is itself the run directory.
        let (one, _) = find_runs(&[r.join("a")]);
        assert_eq!(one.len(), 1);
    }
}
