//! `aiperf-rs profile`: preflight, run the controller, write the outputs, pick the
//! exit code.

use crate::{controller::Controller, load_report, logging, output};
use aiperf_config::ProfileConfig;
use aiperf_export::redact::{Redactor, redact_url};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Checks that the server accepts TCP connections, so a wrong `--url` fails in
/// seconds with a message instead of producing a run full of errors. The message
/// never shows the URL's credentials.
pub async fn preflight(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    // `user:password@host:port` connects to `host:port`.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let url = redact_url(url);
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&target),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "cannot connect to {url} ({target}): {e}. Is the server running, and is --url right?"
        )),
        Err(_) => Err(format!(
            "cannot connect to {url} ({target}): no answer within 5 s. Is the server reachable, and is --url right?"
        )),
    }
}

/// Runs a whole profile and returns the process exit code.
pub async fn profile(config: ProfileConfig) -> ExitCode {
    run_profile(config).await.code
}

/// How one profile run ended.
#[derive(Debug)]
pub struct ProfileRun {
    /// The exit code of the run.
    pub code: ExitCode,
    /// The signal that stopped the run, if one did.
    pub signal: Option<crate::signals::Signal>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// The load report, if results were produced.
    pub load_report: Option<load_report::LoadReport>,
    /// The summary written to `profile_export_aiperf.json`, if results were written.
    pub summary: Option<serde_json::Value>,
}

/// Runs a whole profile: preflight, services, exports, console.
///
/// Every error is printed once, as `error: …`. A run that produced no results
/// leaves no artifact directory behind when it created that directory and wrote
/// nothing into it but its log.
pub async fn run_profile(config: ProfileConfig) -> ProfileRun {
    // No --tokenizer: the model's own when it is cached locally, else builtin (with a note).
    let mut config = config;
    if config.tokenizer.is_none() {
        let default = aiperf_tokenizer::default_for_model(config.model());
        eprintln!("{}", default.note);
        config.tokenizer = Some(default.spec);
    }
    // Error messages may quote the URL or a server's answer: no secret in them.
    let redact = Redactor::for_config(&config);
    let error = |msg: &str| logging::report_error(&redact.apply(msg));
    let fail = |msg: String| ProfileRun {
        code: ExitCode::FAILURE,
        signal: None,
        failure: Some(msg),
        load_report: None,
        summary: None,
    };
    let dir = match ArtifactDir::create(&config.artifact_dir) {
        Ok(d) => d,
        Err(e) => {
            let msg = format!(
                "cannot create the artifact directory {}: {e}",
                config.artifact_dir.display()
            );
            error(&msg);
            return fail(msg);
        }
    };
    let paths = aiperf_export::artifacts::ArtifactPaths::from_config(&config);
    logging::init_profile(&config.log_level, &paths.log_file);
    if let Err(e) = preflight(&config.url).await {
        error(&e);
        dir.remove_if_unused(&paths.log_file);
        return fail(e);
    }
    let controller = match Controller::bind(config.clone()).await {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("{e:#}");
            error(&msg);
            if let aiperf_config::ZmqTransport::Ipc { dir: ipc } = &config.zmq {
                crate::ipc::remove_socket_dir(ipc);
            }
            dir.remove_if_unused(&paths.log_file);
            return fail(msg);
        }
    };
    let cpu = load_report::CpuSampler::start(
        config.service_mode == aiperf_config::ServiceMode::MultiProcess,
    );
    let outcome = controller.run().await;
    let mut code = ExitCode::SUCCESS;
    let profiling = outcome.load.stats(aiperf_protocol::Phase::Profiling);
    let usage = match (&cpu, profiling) {
        (Some(c), Some(s)) => c.usage(s.start_ns, s.end_ns.unwrap_or_else(aiperf_clock::wall_ns)),
        _ => None,
    };
    drop(cpu);
    let report = outcome
        .results
        .as_ref()
        .map(|r| load_report::build(&config, r, profiling, usage));
    let mut summary = None;
    let mut not_written = None;
    if let Some(results) = &outcome.results {
        match output::write_all(
            &config,
            &paths,
            results,
            outcome.failure.is_some(),
            report.as_ref(),
        ) {
            Ok(written) => {
                print!("{}", written.console);
                summary = Some(written.summary);
            }
            Err(e) => {
                let msg = format!("writing the results failed: {e}");
                error(&msg);
                not_written = Some(msg);
                code = ExitCode::FAILURE;
            }
        }
    }
    if let Some(note) = &outcome.recovered {
        eprintln!("warning: {}", redact.apply(note));
    }
    if let Some(signal) = outcome.signal {
        eprintln!("The run was stopped by {}.", signal.describe());
        code = ExitCode::from(signal.exit_code());
    } else if let Some(f) = &outcome.failure {
        error(&format!("the run failed: {f}"));
        code = ExitCode::FAILURE;
    } else if let Some(r) = &outcome.results {
        if r.profiling.records > 0 && r.profiling.records == r.profiling.errors {
            error(&format!(
                "every request failed ({} errors); see the error summary above",
                r.profiling.errors
            ));
            code = ExitCode::FAILURE;
        } else if r.profiling.records == 0 {
            error("no request completed: nothing was measured");
            code = ExitCode::FAILURE;
        }
    } else {
        error("no results were produced");
        code = ExitCode::FAILURE;
    }
    // What is on disk, said truthfully.
    let stopped = outcome.failure.is_some();
    if stopped && let (Some(stats), Some(r)) = (profiling, &outcome.results) {
        eprintln!("       {}", request_balance(stats, &r.profiling));
    }
    if summary.is_some() && stopped {
        eprintln!(
            "       partial results (what was measured before the run stopped) are in {}: {}",
            config.artifact_dir.display(),
            files_in(&config.artifact_dir).join(", ")
        );
    } else if summary.is_none() {
        if !dir.remove_if_unused(&paths.log_file) {
            let why = not_written.unwrap_or_else(|| "nothing was measured".into());
            eprintln!(
                "       no summary was written ({why}); in {}: {}",
                config.artifact_dir.display(),
                files_in(&config.artifact_dir).join(", ")
            );
        } else if stopped {
            eprintln!("       nothing was measured, nothing was written");
        }
    }
    ProfileRun {
        code,
        signal: outcome.signal,
        failure: outcome.failure,
        load_report: report,
        summary,
    }
}

/// What became of the requests of a phase that stopped early, from the timing
/// manager's counters and the records, e.g. `requests: 40 sent = 30 recorded
/// (2 errors) + 10 cancelled in flight`; requests neither recorded nor cancelled
/// (lost with a dead records manager or worker, or in flight at the timing
/// manager's last count) are named when there are any.
pub fn request_balance(
    stats: &aiperf_protocol::events::PhaseStats,
    results: &aiperf_protocol::results::PhaseResults,
) -> String {
    let accounted = results.records + stats.cancelled;
    let mut line = format!(
        "requests: {} sent = {} recorded ({} errors) + {} cancelled in flight",
        stats.sent, results.records, results.errors, stats.cancelled
    );
    if stats.sent > accounted {
        line.push_str(&format!(
            " + {} not recorded (lost with a dead service, or in flight at the timing manager's last count)",
            stats.sent - accounted
        ));
    } else if stats.sent < accounted {
        line.push_str(&format!(
            " ({} more recorded than the timing manager counted as sent)",
            accounted - stats.sent
        ));
    }
    line
}

/// The files under `dir`, as paths relative to it, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => walk(root, &path, out),
                Ok(_) => {
                    if let Ok(rel) = path.strip_prefix(root) {
                        out.push(rel.display().to_string());
                    }
                }
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The artifact directory of a run, with the directories the run created for it.
struct ArtifactDir {
    /// The artifact directory first, then each ancestor the run created.
    created: Vec<PathBuf>,
}

impl ArtifactDir {
    /// Creates `dir` (and missing ancestors), remembering which ones were missing.
    fn create(dir: &Path) -> std::io::Result<ArtifactDir> {
        let created: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir)?;
        Ok(ArtifactDir { created })
    }

    /// After a run without results: when this run created the artifact directory
    /// and nothing but `log_file` is in it, closes and removes the log and every
    /// directory the run created. Returns whether the directory is gone.
    fn remove_if_unused(&self, log_file: &Path) -> bool {
        let Some(root) = self.created.first() else {
            return false;
        };
        if !holds_only(root, log_file) {
            return false;
        }
        logging::close_profile_log();
        let _ = std::fs::remove_file(log_file);
        // Empty directories only: `remove_dir` refuses anything else.
        let mut inner: Vec<&Path> = log_file
            .ancestors()
            .skip(1)
            .take_while(|d| *d != root.as_path())
            .collect();
        inner.extend(self.created.iter().map(PathBuf::as_path));
        for d in inner {
            let _ = std::fs::remove_dir(d);
        }
        !root.exists()
    }
}

/// Whether the only file under `dir` (at any depth) is `file`, if any.
fn holds_only(dir: &Path, file: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => holds_only(&path, file),
            Ok(_) => path == file,
            Err(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preflight_names_an_unreachable_url() {
        // Port 9 (discard) is closed on loopback in test environments.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = preflight(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_err();
        assert!(e.contains("cannot connect to http://127.0.0.1:"), "{e}");
        assert!(e.contains("--url"), "{e}");
        // Credentials: the host is dialled, the password never shown.
        let e = preflight(&format!("http://u:pw-123@127.0.0.1:{port}/v1"))
            .await
            .unwrap_err();
        assert!(
            e.starts_with(&format!(
                "cannot connect to http://<redacted>@127.0.0.1:{port}/v1 (127.0.0.1:{port}): "
            )),
            "{e}"
        );
        assert!(!e.contains("pw-123"), "{e}");
    }

    #[test]
    fn the_request_balance_names_what_is_not_accounted_for() {
        use aiperf_protocol::{events::PhaseStats, results::PhaseResults};
        let stats = PhaseStats {
            sent: 40,
            completed: 38,
            cancelled: 2,
            ..Default::default()
        };
        let results = |records, errors| PhaseResults {
            records,
            errors,
            ..Default::default()
        };
        assert_eq!(
            request_balance(&stats, &results(38, 1)),
            "requests: 40 sent = 38 recorded (1 errors) + 2 cancelled in flight"
        );
        assert_eq!(
            request_balance(&stats, &results(33, 0)),
            "requests: 40 sent = 33 recorded (0 errors) + 2 cancelled in flight + 5 not recorded \
             (lost with a dead service, or in flight at the timing manager's last count)"
        );
        assert!(
            request_balance(&stats, &results(39, 0))
                .ends_with("(1 more recorded than the timing manager counted as sent)")
        );
    }

    #[test]
    fn files_in_lists_every_file_relative_and_sorted() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("logs")).unwrap();
        for f in ["profile_export.jsonl", "logs/aiperf.log", "inputs.json"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        assert_eq!(
            files_in(d.path()),
            ["inputs.json", "logs/aiperf.log", "profile_export.jsonl"]
        );
    }
}
