//! The end-of-run console text (`docs/outputs.md`, the console), also written verbatim to
//! `profile_export_console.txt`. No ANSI colours.
//!
//! Sections, separated by one blank line:
//! 1. the error summary table (`Code | Type | Message | Count`), when errors exist;
//! 2. the metrics table ([`METRICS_TITLE`]): columns `Metric, avg, min, max, p99,
//!    p90, p50, std`; rows = metrics with `console == true` by `display_order`;
//!    metric cell `Header (unit)` (the unit goes to a second line when the header
//!    is longer than 30 characters, as AIPerf does); numbers `1,234.57`; missing
//!    statistics (every column but `avg` of a scalar) `N/A`;
//! 3. notes: warmup, cancelled/incomplete run, the caller's [`ConsoleContext::notes`]
//!    (e.g. [`metric_warnings`]);
//! 4. the footer: `CLI Command:`, `Benchmark Duration: 1.31 sec`, `CSV Export:`,
//!    `JSON Export:`, `Timeslice CSV Export:`, `Timeslice JSON Export:`, `Log File:`
//!    (each only when known).
//!
//! Tables are drawn with box-drawing characters like Python `rich`'s default
//! table: column widths from content, numbers right-aligned.

use crate::artifacts::ArtifactPaths;
use crate::format::{self, thousands_int, thousands2};
use crate::table::{self, Align};
use aiperf_protocol::results::{MetricResult, PhaseResults, ProfileResults};
use std::path::PathBuf;

/// Title of the metrics table.
pub const METRICS_TITLE: &str = "aiperf-rs | LLM Metrics";

/// Title of the error summary table.
pub const ERRORS_TITLE: &str = "aiperf-rs | Error Summary";

/// Statistic columns of the metrics table, in order.
pub const CONSOLE_STATS: [&str; 7] = ["avg", "min", "max", "p99", "p90", "p50", "std"];

/// Headers longer than this put their unit on a second line.
pub const MAX_ONE_LINE_HEADER: usize = 30;

/// Error messages longer than this (in characters) are cut, with `…`.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Error messages are wrapped at this width.
pub const MESSAGE_WRAP: usize = 60;

/// Text shown for a missing statistic.
pub const NOT_AVAILABLE: &str = "N/A";

/// Everything of the console text that is not in the results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsoleContext {
    /// The command line (`--api-key` values are redacted when printed).
    pub cli_command: String,
    /// Benchmark duration in seconds; `None` = the `benchmark_duration` metric,
    /// else the profiling phase's `end_ns - start_ns`.
    pub benchmark_duration_s: Option<f64>,
    /// `CSV Export:` path.
    pub csv_export: Option<PathBuf>,
    /// `JSON Export:` path.
    pub json_export: Option<PathBuf>,
    /// `Timeslice CSV Export:` path.
    pub timeslice_csv_export: Option<PathBuf>,
    /// `Timeslice JSON Export:` path.
    pub timeslice_json_export: Option<PathBuf>,
    /// `Log File:` path.
    pub log_file: Option<PathBuf>,
    /// Further `Label: path` footer lines (e.g. `Server Metrics JSON Export`),
    /// printed before `Log File:`.
    pub extra_exports: Vec<(String, PathBuf)>,
    /// Extra lines printed before the footer (warnings …), one per entry.
    pub notes: Vec<String>,
}

impl ConsoleContext {
    /// A context naming the summary CSV/JSON and log file of `paths`, plus the
    /// timeslice files when `timeslices` is set.
    pub fn from_paths(
        cli_command: impl Into<String>,
        paths: &ArtifactPaths,
        timeslices: bool,
    ) -> Self {
        ConsoleContext {
            cli_command: cli_command.into(),
            csv_export: Some(paths.summary_csv.clone()),
            json_export: Some(paths.summary_json.clone()),
            timeslice_csv_export: timeslices.then(|| paths.timeslices_csv.clone()),
            timeslice_json_export: timeslices.then(|| paths.timeslices_json.clone()),
            log_file: Some(paths.log_file.clone()),
            ..Default::default()
        }
    }
}

/// The `Metric` cell of the console table: `Header (unit)`, with a line break
/// instead of the space when the header is longer than [`MAX_ONE_LINE_HEADER`].
pub fn console_metric_cell(m: &MetricResult) -> String {
    if m.unit.is_empty() {
        return m.header.clone();
    }
    let sep = if m.header.chars().count() > MAX_ONE_LINE_HEADER {
        '\n'
    } else {
        ' '
    };
    format!("{}{sep}({})", m.header, m.unit)
}

/// The row of one metric in the console table.
pub fn console_row(m: &MetricResult) -> Vec<String> {
    let mut row = vec![console_metric_cell(m)];
    for s in CONSOLE_STATS {
        let v = if m.scalar && s != "avg" {
            None
        } else {
            format::stat(m, s)
        };
        row.push(
            v.map(thousands2)
                .unwrap_or_else(|| NOT_AVAILABLE.to_string()),
        );
    }
    row
}

/// The metrics table, or `None` when no metric is shown on the console.
pub fn render_metrics_table(metrics: &[MetricResult]) -> Option<String> {
    let mut shown: Vec<&MetricResult> = metrics.iter().filter(|m| m.console).collect();
    if shown.is_empty() {
        return None;
    }
    shown.sort_by_key(|m| m.display_order);
    let mut columns = vec![("Metric", Align::Right)];
    columns.extend(CONSOLE_STATS.iter().map(|s| (*s, Align::Right)));
    let rows: Vec<Vec<String>> = shown.into_iter().map(console_row).collect();
    Some(table::render(METRICS_TITLE, &columns, &rows))
}

fn wrap(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let mut word: Vec<char> = word.chars().collect();
            while !word.is_empty() {
                let line_len = line.chars().count();
                let room = if line_len == 0 {
                    width
                } else {
                    width.saturating_sub(line_len + 1)
                };
                if word.len() <= room {
                    if line_len > 0 {
                        line.push(' ');
                    }
                    line.extend(word.drain(..));
                } else if line_len > 0 {
                    lines.push(std::mem::take(&mut line));
                } else {
                    line.extend(word.drain(..width));
                    lines.push(std::mem::take(&mut line));
                }
            }
        }
        lines.push(line);
    }
    while lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines.join("\n")
}

fn message_cell(message: &str) -> String {
    let clean: String = message.replace("\r\n", "\n").replace('\r', "\n");
    let cut = if clean.chars().count() > MAX_MESSAGE_CHARS {
        let mut s: String = clean.chars().take(MAX_MESSAGE_CHARS).collect();
        s.push('…');
        s
    } else {
        clean
    };
    wrap(&cut, MESSAGE_WRAP)
}

/// The error summary table, or `None` when there were no errors.
pub fn render_error_table(results: &ProfileResults) -> Option<String> {
    let errors = &results.profiling.error_summary;
    if errors.is_empty() {
        return None;
    }
    let columns = [
        ("Code", Align::Right),
        ("Type", Align::Right),
        ("Message", Align::Left),
        ("Count", Align::Right),
    ];
    let rows: Vec<Vec<String>> = errors
        .iter()
        .map(|e| {
            let d = &e.error_details;
            vec![
                d.code
                    .filter(|c| *c != 0)
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| NOT_AVAILABLE.into()),
                if d.kind.is_empty() {
                    NOT_AVAILABLE.into()
                } else {
                    d.kind.clone()
                },
                message_cell(&d.message),
                thousands_int(e.count),
            ]
        })
        .collect();
    Some(table::render(ERRORS_TITLE, &columns, &rows))
}

/// The benchmark duration shown in the footer (see [`ConsoleContext::benchmark_duration_s`]).
pub fn benchmark_duration_s(ctx: &ConsoleContext, results: &ProfileResults) -> Option<f64> {
    if let Some(d) = ctx.benchmark_duration_s {
        return Some(d);
    }
    let p = &results.profiling;
    let from_metric = p
        .metrics
        .iter()
        .find(|m| m.tag == "benchmark_duration")
        .and_then(|m| {
            let v = m.avg?;
            match m.unit.as_str() {
                "sec" | "s" => Some(v),
                "ms" => Some(v / 1e3),
                "ns" => Some(v / 1e9),
                _ => None,
            }
        });
    from_metric.or_else(|| (p.end_ns > p.start_ns).then(|| (p.end_ns - p.start_ns) as f64 / 1e9))
}

/// The value of a scalar metric of `results`, if present.
fn scalar_of(results: &PhaseResults, tag: &str) -> Option<f64> {
    results
        .metrics
        .iter()
        .find(|m| m.tag == tag)
        .and_then(|m| m.avg)
}

/// Warnings about the metrics of a phase, printed before the footer (`docs/metrics.md` §7):
/// * OSL mismatch (`osl_mismatch_count > 0`): some responses were shorter or longer
///   than the requested output length; suggests `--extra-inputs ignore_eos:true`;
/// * usage discrepancy (`usage_discrepancy_count > 0`): the server's `usage` token
///   counts differ from the client-side counts by more than 10 % on some requests;
///   suggests checking `--tokenizer` or using `--use-server-token-count`;
/// * what the client absorbed ([`PhaseResults::resilience`]): requests sent again
///   after the server closed a reused connection, non-SSE bodies answering
///   streaming requests, invalid SSE messages skipped.
pub fn metric_warnings(results: &PhaseResults) -> Vec<String> {
    let mut out = resilience_notes(results);
    let valid = scalar_of(results, "request_count").unwrap_or(0.0);
    if let Some(n) = scalar_of(results, "osl_mismatch_count").filter(|n| *n > 0.0) {
        let avg = results
            .metrics
            .iter()
            .find(|m| m.tag == "osl_mismatch_diff_pct")
            .and_then(|m| m.avg)
            .map(|d| format!(" (average difference {}%)", format::fixed2(d)))
            .unwrap_or_default();
        out.push(format!(
            "WARNING: {} of {} requests returned an output length that differs from the \
             requested one by more than min(5%, 50 tokens){avg}. The server probably \
             stopped at an end-of-sequence token; to get the requested lengths add \
             `--extra-inputs ignore_eos:true` (and `--extra-inputs min_tokens:N` if the \
             server supports it).",
            thousands_int(n as u64),
            thousands_int(valid as u64),
        ));
    }
    if let Some(n) = scalar_of(results, "usage_discrepancy_count").filter(|n| *n > 0.0) {
        let diffs: Vec<String> = [
            ("usage_prompt_tokens_diff_pct", "prompt"),
            ("usage_completion_tokens_diff_pct", "completion"),
            ("usage_reasoning_tokens_diff_pct", "reasoning"),
        ]
        .iter()
        .filter_map(|(tag, name)| {
            let m = results.metrics.iter().find(|m| m.tag == *tag)?;
            Some(format!("{name} {}%", format::fixed2(m.avg?)))
        })
        .collect();
        let diffs = if diffs.is_empty() {
            String::new()
        } else {
            format!(" (average difference: {})", diffs.join(", "))
        };
        out.push(format!(
            "WARNING: on {} of {} requests the server's usage token counts differ from \
             the client-side token counts by more than 10%{diffs}. Check that --tokenizer \
             matches the served model, or count tokens from the server's usage with \
             --use-server-token-count.",
            thousands_int(n as u64),
            thousands_int(valid as u64),
        ));
    }
    out
}

/// The notes of [`metric_warnings`] about [`PhaseResults::resilience`].
fn resilience_notes(results: &PhaseResults) -> Vec<String> {
    let r = &results.resilience;
    let mut out = Vec::new();
    if r.connection_retries > 0 {
        out.push(format!(
            "Note: {} requests were sent again on a new connection because the server had \
             closed the kept-alive connection they were given before answering (timed from \
             the new attempt; `--connection-reuse-strategy never` avoids reuse).",
            thousands_int(r.connection_retries)
        ));
    }
    if r.non_sse_responses > 0 {
        out.push(format!(
            "WARNING: {} streaming requests were answered with a plain (non-SSE) body, \
             measured as non-streaming responses (no time to first token nor inter-token \
             latency for them).",
            thousands_int(r.non_sse_responses)
        ));
    }
    if r.invalid_sse_messages > 0 {
        out.push(format!(
            "WARNING: {} SSE messages were not valid JSON and were skipped; the rest of \
             their streams was measured (per request: `invalid_sse_messages` in \
             profile_export.jsonl).",
            thousands_int(r.invalid_sse_messages)
        ));
    }
    out
}

/// The whole console text; every line ends with `\n`.
pub fn render_console(ctx: &ConsoleContext, results: &ProfileResults) -> String {
    let mut sections: Vec<String> = Vec::new();
    sections.extend(render_error_table(results));
    sections.extend(render_metrics_table(&results.profiling.metrics));

    let mut notes = String::new();
    if let Some(w) = &results.warmup {
        notes.push_str(&format!(
            "Warmup: {} requests ({} errors) excluded from the metrics above\n",
            thousands_int(w.records),
            thousands_int(w.errors)
        ));
    }
    if results.was_cancelled {
        notes.push_str("Note: the run was cancelled; results are partial\n");
    } else if !results.is_complete {
        notes.push_str("Note: not every expected record arrived; results may be incomplete\n");
    }
    for n in &ctx.notes {
        notes.push_str(n);
        notes.push('\n');
    }
    if !notes.is_empty() {
        sections.push(notes);
    }

    let mut footer = String::new();
    if !ctx.cli_command.is_empty() {
        footer.push_str(&format!(
            "CLI Command: {}\n",
            format::redact_cli_command(&ctx.cli_command)
        ));
    }
    if let Some(d) = benchmark_duration_s(ctx, results).filter(|d| d.is_finite()) {
        footer.push_str(&format!("Benchmark Duration: {} sec\n", format::fixed2(d)));
    }
    let paths = [
        ("CSV Export", &ctx.csv_export),
        ("JSON Export", &ctx.json_export),
        ("Timeslice CSV Export", &ctx.timeslice_csv_export),
        ("Timeslice JSON Export", &ctx.timeslice_json_export),
        ("Log File", &ctx.log_file),
    ];
    for (label, path) in paths {
        if label == "Log File" {
            for (l, p) in &ctx.extra_exports {
                footer.push_str(&format!("{l}: {}\n", p.display()));
            }
        }
        if let Some(p) = path {
            footer.push_str(&format!("{label}: {}\n", p.display()));
        }
    }
    if !footer.is_empty() {
        sections.push(footer);
    }
    sections.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_and_long_tokens() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("abcdefghij", 4), "abcd\nefgh\nij");
        assert_eq!(wrap("one\n\ntwo", 10), "one\n\ntwo");
        assert_eq!(wrap("", 10), "");
    }

    #[test]
    fn long_messages_are_cut() {
        let m = message_cell(&"x".repeat(400));
        assert_eq!(m.chars().filter(|c| *c == 'x').count(), MAX_MESSAGE_CHARS);
        assert!(m.ends_with('…'));
        assert!(m.lines().all(|l| l.chars().count() <= MESSAGE_WRAP));
    }

    #[test]
    fn warnings_for_osl_mismatch_and_usage_discrepancy() {
        let scalar = |tag: &str, v: f64| MetricResult {
            tag: tag.into(),
            avg: Some(v),
            scalar: true,
            ..Default::default()
        };
        let mut r = PhaseResults {
            metrics: vec![
                scalar("request_count", 40.0),
                scalar("osl_mismatch_count", 0.0),
                scalar("usage_discrepancy_count", 0.0),
            ],
            ..Default::default()
        };
        assert!(metric_warnings(&r).is_empty());
        r.metrics = vec![
            scalar("request_count", 40.0),
            scalar("osl_mismatch_count", 3.0),
            MetricResult {
                tag: "osl_mismatch_diff_pct".into(),
                avg: Some(-12.5),
                ..Default::default()
            },
            scalar("usage_discrepancy_count", 39.0),
            MetricResult {
                tag: "usage_prompt_tokens_diff_pct".into(),
                avg: Some(27.236),
                ..Default::default()
            },
        ];
        let w = metric_warnings(&r);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].starts_with("WARNING: 3 of 40 requests")
                && w[0].contains("(average difference -12.50%)")
                && w[0].contains("--extra-inputs ignore_eos:true"),
            "{}",
            w[0]
        );
        assert!(
            w[1].starts_with("WARNING: on 39 of 40 requests")
                && w[1].contains("(average difference: prompt 27.24%)")
                && w[1].contains("--use-server-token-count"),
            "{}",
            w[1]
        );
    }

    #[test]
    fn rows_format_numbers() {
        let m = MetricResult {
            header: "Output Token Throughput".into(),
            unit: "tokens/sec".into(),
            avg: Some(12345.678),
            min: Some(1.0),
            scalar: true,
            console: true,
            ..Default::default()
        };
        assert_eq!(
            console_row(&m),
            [
                "Output Token Throughput (tokens/sec)",
                "12,345.68",
                "N/A",
                "N/A",
                "N/A",
                "N/A",
                "N/A",
                "N/A"
            ]
        );
        let long = MetricResult {
            header: "Output Token Throughput Per User".into(),
            unit: "tokens/sec/user".into(),
            ..Default::default()
        };
        assert_eq!(
            console_metric_cell(&long),
            "Output Token Throughput Per User\n(tokens/sec/user)"
        );
    }
}
