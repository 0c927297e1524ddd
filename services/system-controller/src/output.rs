//! Writing the run's summary files and console text (per-request lines were
//! streamed by the records manager during the run).

use aiperf_config::ProfileConfig;
use aiperf_export::{
    artifacts::{write_results_ready, write_text, ArtifactPaths},
    console::{render_console, ConsoleContext},
    summary_csv::render_summary_csv,
    summary_json::{new_benchmark_id, render_summary_json, SummaryContext},
};
use aiperf_protocol::results::ProfileResults;

/// Writes `profile_export_aiperf.{json,csv}`, the console copy and the ready
/// marker; returns the console text to print.
pub fn write_all(config: &ProfileConfig, paths: &ArtifactPaths, results: &ProfileResults, partial: bool) -> std::io::Result<String> {
    let benchmark_id = new_benchmark_id();
    let ctx = SummaryContext::new(benchmark_id, config);
    write_text(&paths.summary_json, &render_summary_json(&ctx, results))?;
    write_text(&paths.summary_csv, &render_summary_csv(results))?;
    let mut console_ctx = ConsoleContext::from_paths(config.cli_command.clone(), paths, false);
    if partial || results.was_cancelled {
        console_ctx.notes.push("NOTE: the run did not finish; these results are partial.".into());
    }
    if let Some(w) = &results.warmup {
        console_ctx.notes.push(format!("Warmup: {} requests ({} errors), excluded from the metrics above.", w.records, w.errors));
    }
    let console = render_console(&console_ctx, results);
    write_text(&paths.console_txt, &console)?;
    write_results_ready(&paths.results_ready, results.was_cancelled, partial || !results.is_complete)?;
    Ok(console)
}
