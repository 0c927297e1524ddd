//! `profile_export_aiperf.csv` (`docs/outputs.md`).
//!
//! Two tables separated by one blank line (a table with no rows is left out, and
//! so is the blank line):
//! 1. distribution metrics (those with percentiles):
//!    `Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std`;
//! 2. scalar metrics: `Metric,Value` (the `avg`).
//!
//! Rows are sorted by tag; the `Metric` cell follows [`format::csv_metric_cell`].
//! Every value is an `f64` printed `%.2f` (so counts read `37.00`, as in AIPerf,
//! whose scalar values are floats); missing or non-finite statistics are empty
//! cells. Lines end with `\n` (the file ends with one too). The caller passes
//! exportable metrics only (no internal/experimental ones).

use crate::format::{self, STAT_KEYS};
use aiperf_protocol::results::{MetricResult, ProfileResults};

/// Header of the distribution table.
pub const DISTRIBUTION_HEADER: &str =
    "Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std";

/// Header of the scalar table.
pub const SCALAR_HEADER: &str = "Metric,Value";

/// The CSV of any list of metrics (a phase, the warmup, …).
pub fn render_metrics_csv(metrics: &[MetricResult]) -> String {
    let mut sorted: Vec<&MetricResult> = metrics.iter().collect();
    sorted.sort_by(|a, b| a.tag.cmp(&b.tag));
    let (dist, scalars): (Vec<&MetricResult>, Vec<&MetricResult>) =
        sorted.into_iter().partition(|m| format::has_percentiles(m));

    let mut out = String::new();
    if !dist.is_empty() {
        out.push_str(DISTRIBUTION_HEADER);
        out.push('\n');
        for m in &dist {
            let mut row = vec![format::csv_metric_cell(m)];
            row.extend(
                STAT_KEYS
                    .iter()
                    .map(|s| format::csv_number(format::stat(m, s))),
            );
            out.push_str(&format::csv_row(&row));
            out.push('\n');
        }
    }
    if !scalars.is_empty() {
        if !dist.is_empty() {
            out.push('\n');
        }
        out.push_str(SCALAR_HEADER);
        out.push('\n');
        for m in &scalars {
            let row = [
                format::csv_metric_cell(m),
                format::csv_number(format::stat(m, "avg")),
            ];
            out.push_str(&format::csv_row(&row));
            out.push('\n');
        }
    }
    out
}

/// `profile_export_aiperf.csv` of a run: its profiling-phase metrics.
pub fn render_summary_csv(results: &ProfileResults) -> String {
    render_metrics_csv(&results.profiling.metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(tag: &str, header: &str, unit: &str, v: f64) -> MetricResult {
        MetricResult {
            tag: tag.into(),
            header: header.into(),
            unit: unit.into(),
            avg: Some(v),
            scalar: true,
            ..Default::default()
        }
    }

    #[test]
    fn spec_scalar_table() {
        let metrics = vec![
            scalar(
                "request_throughput",
                "Request Throughput",
                "requests/sec",
                27.786424362317405,
            ),
            scalar("request_count", "Request Count", "requests", 37.0),
            scalar(
                "benchmark_duration",
                "Benchmark Duration",
                "sec",
                1.309346048,
            ),
            scalar("goodput", "Goodput", "requests/sec", 21.0276),
            scalar(
                "error_request_count",
                "Error Request Count",
                "requests",
                3.0,
            ),
            scalar(
                "output_token_throughput",
                "Output Token Throughput",
                "tokens/sec",
                835.0947,
            ),
        ];
        assert_eq!(
            render_metrics_csv(&metrics),
            "Metric,Value\n\
             Benchmark Duration (sec),1.31\n\
             Error Request Count,3.00\n\
             Goodput (requests/sec),21.03\n\
             Output Token Throughput (tokens/sec),835.09\n\
             Request Count,37.00\n\
             Request Throughput (requests/sec),27.79\n"
        );
    }

    #[test]
    fn distribution_row_and_blank_line() {
        let latency = MetricResult {
            tag: "request_latency".into(),
            header: "Request Latency".into(),
            unit: "ms".into(),
            avg: Some(107.7128),
            min: Some(74.2518),
            max: Some(170.0651),
            std: Some(34.2480),
            sum: Some(3985.3747),
            count: Some(37),
            percentiles: vec![
                (1, 74.7497),
                (5, 76.7654),
                (10, 78.1807),
                (25, 81.8645),
                (50, 89.2329),
                (75, 140.5507),
                (90, 167.6513),
                (95, 168.9334),
                (99, 169.8908),
            ],
            ..Default::default()
        };
        let partial = MetricResult {
            tag: "adj_request_latency".into(),
            header: "Request Latency (error-adjusted)".into(),
            unit: "ms".into(),
            min: Some(74.25),
            percentiles: vec![(50, 90.0), (99, f64::INFINITY)],
            ..Default::default()
        };
        let csv = render_metrics_csv(&[
            latency,
            partial,
            scalar("request_count", "Request Count", "requests", 37.0),
        ]);
        assert_eq!(
            csv,
            "Metric,avg,min,max,sum,p1,p5,p10,p25,p50,p75,p90,p95,p99,std\n\
             Request Latency (error-adjusted) (ms),,74.25,,,,,,,90.00,,,,,\n\
             Request Latency (ms),107.71,74.25,170.07,3985.37,74.75,76.77,78.18,81.86,89.23,140.55,167.65,168.93,169.89,34.25\n\
             \n\
             Metric,Value\n\
             Request Count,37.00\n"
        );
    }

    #[test]
    fn empty_tables_are_left_out() {
        assert_eq!(render_metrics_csv(&[]), "");
        let only = render_metrics_csv(&[scalar("a", "A", "ms", 1.0)]);
        assert_eq!(only, "Metric,Value\nA (ms),1.00\n");
    }
}
