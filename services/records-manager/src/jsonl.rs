//! Per-request export lines: base-unit metric records → display units → the
//! export crate's JSONL line.

use aiperf_export::records_jsonl::{DisplayValue, record_line};
use aiperf_metrics::{MetricFlags, lookup};
use aiperf_protocol::record::{MetricRecord, MetricValue};

/// One `profile_export.jsonl` line for `record` (metrics in display units; internal,
/// experimental and aggregate-only metrics left out).
pub fn export_line(record: &MetricRecord) -> String {
    let metrics: Vec<(String, DisplayValue, String)> = record
        .metrics
        .iter()
        .filter_map(|(tag, value)| {
            let spec = lookup(tag)?;
            if spec.dev_only() || spec.has(MetricFlags::NO_INDIVIDUAL_RECORDS) {
                return None;
            }
            let unit = spec.display_unit.symbol();
            let v = match value {
                MetricValue::Scalar(x) => DisplayValue::number(spec.to_display(*x), unit),
                MetricValue::List(xs) => {
                    DisplayValue::List(xs.iter().map(|x| spec.to_display(*x)).collect())
                }
            };
            Some((tag.clone(), v, unit.to_string()))
        })
        .collect();
    record_line(&record.metadata, &metrics, record.error.as_ref())
}
