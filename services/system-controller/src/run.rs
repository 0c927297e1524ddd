//! `aiperf-rs profile`: preflight, run the controller, write the outputs, pick the
//! exit code.

use crate::{controller::Controller, load_report, logging, output};
use aiperf_config::ProfileConfig;
use std::process::ExitCode;
use std::time::Duration;

/// Checks that the server accepts TCP connections, so a wrong `--url` fails in
/// seconds with a message instead of producing a run full of errors.
pub async fn preflight(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
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
    /// The user pressed Ctrl-C.
    pub interrupted: bool,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// The load report, if results were produced.
    pub load_report: Option<load_report::LoadReport>,
}

/// Runs a whole profile: preflight, services, exports, console.
pub async fn run_profile(config: ProfileConfig) -> ProfileRun {
    // No --tokenizer: the model's own when it is cached locally, else builtin (with a note).
    let mut config = config;
    if config.tokenizer.is_none() {
        let default = aiperf_tokenizer::default_for_model(config.model());
        eprintln!("{}", default.note);
        config.tokenizer = Some(default.spec);
    }
    let fail = |msg: String| ProfileRun {
        code: ExitCode::FAILURE,
        interrupted: false,
        failure: Some(msg),
        load_report: None,
    };
    if let Err(e) = std::fs::create_dir_all(&config.artifact_dir) {
        eprintln!(
            "error: cannot create the artifact directory {}: {e}",
            config.artifact_dir.display()
        );
        return fail(format!(
            "cannot create {}: {e}",
            config.artifact_dir.display()
        ));
    }
    let paths = aiperf_export::artifacts::ArtifactPaths::from_config(&config);
    logging::init_profile(&config.log_level, &paths.log_file);
    if let Err(e) = preflight(&config.url).await {
        eprintln!("error: {e}");
        return fail(e);
    }
    let controller = match Controller::bind(config.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return fail(format!("{e:#}"));
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
    match &outcome.results {
        Some(results) => match output::write_all(
            &config,
            &paths,
            results,
            outcome.failure.is_some(),
            report.as_ref(),
        ) {
            Ok(console) => print!("{console}"),
            Err(e) => {
                eprintln!("error: writing the results failed: {e}");
                code = ExitCode::FAILURE;
            }
        },
        None => eprintln!(
            "error: no results were produced; nothing was written besides {}",
            paths.log_file.display()
        ),
    }
    if let Some(f) = &outcome.failure {
        eprintln!("error: the run failed: {f}");
        if outcome.results.is_some() {
            eprintln!(
                "       partial results (what was measured before the failure) are in {}",
                config.artifact_dir.display()
            );
        }
        code = if outcome.interrupted {
            ExitCode::from(130)
        } else {
            ExitCode::FAILURE
        };
    } else if let Some(r) = &outcome.results {
        if r.profiling.records > 0 && r.profiling.records == r.profiling.errors {
            eprintln!(
                "error: every request failed ({} errors); see the error summary above",
                r.profiling.errors
            );
            code = ExitCode::FAILURE;
        } else if r.profiling.records == 0 {
            eprintln!("error: no request completed: nothing was measured");
            code = ExitCode::FAILURE;
        }
    }
    ProfileRun {
        code,
        interrupted: outcome.interrupted,
        failure: outcome.failure,
        load_report: report,
    }
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
    }
}
