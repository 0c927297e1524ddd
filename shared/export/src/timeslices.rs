//! `profile_export_aiperf_timeslices.{csv,json}` (`docs/outputs.md`), written with
//! `--slice-duration`.
//!
//! The CSV is tidy (long): `Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value`, one
//! row per (slice, metric, available statistic); slices by position (0-based),
//! metrics sorted by tag, statistics in [`STAT_KEYS`] order (scalars: `avg`
//! only), values `%.2f`; the `Metric` cell is the bare header (the unit has its
//! own column).
//!
//! The JSON is `{"timeslices":[{"start_ns","end_ns",("is_complete":false),
//! <tag>:{…},…},…],"input_config":{…}}`, pretty-printed like the summary, metric
//! entries as in [`summary_json::metric_entry`].

use crate::format::{self, STAT_KEYS};
use crate::summary_json;
use aiperf_config::ProfileConfig;
use aiperf_protocol::results::{MetricResult, PhaseResults};
use serde_json::{Map, Value};

/// One slice: `(start_ns, end_ns, is_complete, results)` (wall clock ns; the last
/// slice, clipped at the last request end, is the incomplete one).
pub type Timeslice = (u64, u64, bool, PhaseResults);

/// Header of the timeslice CSV.
pub const TIMESLICE_CSV_HEADER: &str = "Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value";

/// The timeslice CSV; every line ends with `\n`.
pub fn render_timeslices_csv(slices: &[Timeslice]) -> String {
    let mut out = String::from(TIMESLICE_CSV_HEADER);
    out.push('\n');
    for (i, (start, end, _complete, results)) in slices.iter().enumerate() {
        let mut metrics: Vec<&MetricResult> = results.metrics.iter().collect();
        metrics.sort_by(|a, b| a.tag.cmp(&b.tag));
        for m in metrics {
            let name = if m.header.is_empty() {
                &m.tag
            } else {
                &m.header
            };
            for s in STAT_KEYS {
                if m.scalar && s != "avg" {
                    continue;
                }
                let Some(v) = format::stat(m, s) else {
                    continue;
                };
                let row = [
                    i.to_string(),
                    start.to_string(),
                    end.to_string(),
                    name.clone(),
                    m.unit.clone(),
                    s.to_string(),
                    format::fixed2(v),
                ];
                out.push_str(&format::csv_row(&row));
                out.push('\n');
            }
        }
    }
    out
}

/// The timeslice JSON as a value.
pub fn timeslices_value(slices: &[Timeslice], config: &ProfileConfig) -> Value {
    let list: Vec<Value> = slices
        .iter()
        .map(|(start, end, complete, results)| {
            let mut o = Map::new();
            o.insert("start_ns".into(), Value::from(*start));
            o.insert("end_ns".into(), Value::from(*end));
            if !complete {
                o.insert("is_complete".into(), Value::Bool(false));
            }
            for (tag, entry) in summary_json::metrics_object(&results.metrics) {
                if !o.contains_key(&tag) {
                    o.insert(tag, entry);
                }
            }
            Value::Object(o)
        })
        .collect();
    let mut o = Map::new();
    o.insert("timeslices".into(), Value::Array(list));
    o.insert(
        "input_config".into(),
        summary_json::input_config_value(config),
    );
    Value::Object(o)
}

/// The timeslice JSON: pretty-printed (two-space indent), no trailing newline.
pub fn render_timeslices_json(slices: &[Timeslice], config: &ProfileConfig) -> String {
    serde_json::to_string_pretty(&timeslices_value(slices, config))
        .unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_follow_stat_order() {
        let ttft = MetricResult {
            tag: "time_to_first_token".into(),
            header: "Time to First Token".into(),
            unit: "ms".into(),
            avg: Some(58.508),
            min: Some(40.16),
            std: Some(15.87),
            percentiles: vec![(50, 52.18)],
            count: Some(12),
            ..Default::default()
        };
        let rps = MetricResult {
            tag: "request_throughput".into(),
            header: "Request Throughput".into(),
            unit: "requests/sec".into(),
            avg: Some(24.0),
            scalar: true,
            ..Default::default()
        };
        let slice = PhaseResults {
            metrics: vec![ttft, rps],
            ..Default::default()
        };
        let csv = render_timeslices_csv(&[(10, 20, true, slice)]);
        assert_eq!(
            csv,
            "Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value\n\
             0,10,20,Request Throughput,requests/sec,avg,24.00\n\
             0,10,20,Time to First Token,ms,avg,58.51\n\
             0,10,20,Time to First Token,ms,min,40.16\n\
             0,10,20,Time to First Token,ms,p50,52.18\n\
             0,10,20,Time to First Token,ms,std,15.87\n"
        );
        assert_eq!(
            render_timeslices_csv(&[]),
            "Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value\n"
        );
    }
}
