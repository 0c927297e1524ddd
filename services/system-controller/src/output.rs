//! Writing the run's summary files and console text (per-request lines were
//! streamed by the records manager during the run).

use crate::load_report::LoadReport;
use aiperf_config::ProfileConfig;
use aiperf_export::{
    artifacts::{ArtifactPaths, write_results_ready, write_text},
    console::{ConsoleContext, metric_warnings, render_console},
    redact::Redactor,
    summary_csv::render_summary_csv,
    summary_json::{SummaryContext, new_benchmark_id, summary_value},
};
use aiperf_protocol::results::ProfileResults;

/// What [`write_all`] wrote that the caller uses.
#[derive(Debug)]
pub struct Written {
    /// The console text to print.
    pub console: String,
    /// The content of `profile_export_aiperf.json`.
    pub summary: serde_json::Value,
}

/// Writes `profile_export_aiperf.{json,csv}`, the console copy and the ready
/// marker; returns the console text and the summary.
pub fn write_all(
    config: &ProfileConfig,
    paths: &ArtifactPaths,
    results: &ProfileResults,
    partial: bool,
    load: Option<&LoadReport>,
) -> std::io::Result<Written> {
    let benchmark_id = new_benchmark_id();
    let mut ctx = SummaryContext::new(benchmark_id, config);
    if let Some(l) = load {
        ctx.extra_sections
            .push(("load_report".into(), l.json.clone()));
    }
    // Rendered as `render_summary_json` does, from the value the caller gets back.
    let summary = summary_value(&ctx, results);
    // Error messages in the summary may quote a server's answer: no secret in them.
    let redactor = Redactor::for_config(config);
    write_text(
        &paths.summary_json,
        &redactor.apply(&serde_json::to_string_pretty(&summary).unwrap_or_else(|_| "{}".into())),
    )?;
    write_text(
        &paths.summary_csv,
        &redactor.apply(&render_summary_csv(results)),
    )?;
    // The records manager wrote the timeslice files (it holds the records).
    let mut console_ctx = ConsoleContext::from_paths(
        redactor.cli_command(&config.cli_command),
        paths,
        config.slice_duration_s.is_some(),
    );
    // The console itself notes cancelled runs and the warmup phase.
    if partial && !results.was_cancelled {
        console_ctx
            .notes
            .push("NOTE: the run did not finish; these results are partial.".into());
    }
    if let Some(spec) = &config.goodput {
        console_ctx
            .notes
            .push(goodput_note(&spec.to_string(), results));
    }
    console_ctx
        .notes
        .extend(metric_warnings(&results.profiling));
    if let Some(l) = load {
        console_ctx.notes.extend(l.lines.iter().cloned());
    }
    // Error messages and notes may quote a server's answer or the URL: no secret in them.
    let console = redactor.apply(&render_console(&console_ctx, results));
    write_text(&paths.console_txt, &console)?;
    write_results_ready(
        &paths.results_ready,
        results.was_cancelled,
        partial || !results.is_complete,
    )?;
    Ok(Written { console, summary })
}

/// `Goodput: 28 of 40 requests (70.00%) met every SLO (time_to_first_token:50 ...)`.
fn goodput_note(spec: &str, results: &ProfileResults) -> String {
    let get = |tag: &str| {
        results
            .profiling
            .metrics
            .iter()
            .find(|m| m.tag == tag)
            .and_then(|m| m.avg)
    };
    let good = get("good_request_count").unwrap_or(0.0);
    let fraction = get("good_request_fraction").unwrap_or(0.0);
    format!(
        "Goodput: {} of {} requests ({:.2}%) met every SLO ({spec}); errors count as not good.",
        good as u64,
        results.profiling.records,
        fraction * 100.0
    )
}
