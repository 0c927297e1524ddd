//! Writing the run's summary files and console text (per-request lines were
//! streamed by the records manager during the run).

use crate::load_report::LoadReport;
use aiperf_config::ProfileConfig;
use aiperf_config::ServerMetricsFormat;
use aiperf_export::{
    artifacts::{ArtifactPaths, write_results_ready, write_text},
    console::{ConsoleContext, metric_warnings, render_console},
    redact::Redactor,
    server_metrics::{server_console_section, server_metrics_csv, server_metrics_json},
    summary_csv::render_summary_csv,
    summary_json::{SummaryContext, new_benchmark_id, summary_value},
};
use aiperf_protocol::results::ProfileResults;
use aiperf_protocol::server_metrics::ServerMetricsResults;

/// What [`write_all`] wrote that the caller uses.
#[derive(Debug)]
pub struct Written {
    /// The console text to print.
    pub console: String,
    /// The content of `profile_export_aiperf.json`.
    pub summary: serde_json::Value,
}

/// Writes `profile_export_aiperf.{json,csv}`, the server metrics exports (when
/// collected), the console copy and the ready marker; returns the console text
/// and the summary.
pub fn write_all(
    config: &ProfileConfig,
    paths: &ArtifactPaths,
    results: &ProfileResults,
    partial: bool,
    load: Option<&LoadReport>,
    server_metrics: Option<&ServerMetricsResults>,
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
    if let Some(sm) = server_metrics {
        write_server_metrics(config, paths, sm, &ctx.benchmark_id, &mut console_ctx)?;
        let section = server_console_section(sm, client_output_tokens(results));
        if !section.is_empty() {
            console_ctx.notes.push(section.trim_end().to_string());
        }
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

/// Writes the server metrics files `config` asks for and names them in the footer.
fn write_server_metrics(
    config: &ProfileConfig,
    paths: &ArtifactPaths,
    sm: &ServerMetricsResults,
    benchmark_id: &str,
    console: &mut ConsoleContext,
) -> std::io::Result<()> {
    let formats = &config.server_metrics.formats;
    if formats.contains(&ServerMetricsFormat::Json) {
        let json = server_metrics_json(sm, benchmark_id);
        write_text(
            &paths.server_metrics_json,
            &serde_json::to_string_pretty(&json).unwrap_or_else(|_| "{}".into()),
        )?;
        console.extra_exports.push((
            "Server Metrics JSON Export".into(),
            paths.server_metrics_json.clone(),
        ));
    }
    if formats.contains(&ServerMetricsFormat::Csv) {
        write_text(
            &paths.server_metrics_csv,
            &server_metrics_csv(sm, benchmark_id),
        )?;
        console.extra_exports.push((
            "Server Metrics CSV Export".into(),
            paths.server_metrics_csv.clone(),
        ));
    }
    if formats.contains(&ServerMetricsFormat::Jsonl) {
        console.extra_exports.push((
            "Server Metrics JSONL Export".into(),
            paths.server_metrics_jsonl.clone(),
        ));
    }
    Ok(())
}

/// The output tokens of the profiling records, summed (`total_osl`).
fn client_output_tokens(results: &ProfileResults) -> Option<f64> {
    let metrics = &results.profiling.metrics;
    let get = |tag: &str| metrics.iter().find(|m| m.tag == tag);
    get("total_osl")
        .and_then(|m| m.avg)
        .or_else(|| get("output_sequence_length").and_then(|m| m.sum))
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
