//! Per-request export lines: base-unit metric records → display units → the
//! export crate's JSONL line, and back ([`parse_line`]) when the results are
//! rebuilt from the file.

use aiperf_export::records_jsonl::{DisplayValue, record_line};
use aiperf_metrics::{MetricFlags, lookup};
use aiperf_protocol::ErrorDetails;
use aiperf_protocol::record::{MetricRecord, MetricValue, RecordMetadata};

/// One `profile_export.jsonl` line for `record` (metrics in display units; internal,
/// experimental and aggregate-only metrics left out).
///
/// A tag the catalogue does not know (a metric of a custom record processor) is
/// written as sent, with an empty unit, as the summary reports it: a swapped-in
/// record processor can add metrics without changing the records manager.
pub fn export_line(record: &MetricRecord) -> String {
    let metrics: Vec<(String, DisplayValue, String)> = record
        .metrics
        .iter()
        .filter_map(|(tag, value)| {
            let (unit, to_display): (&str, Box<dyn Fn(f64) -> f64>) = match lookup(tag) {
                Some(spec) if spec.dev_only() || spec.has(MetricFlags::NO_INDIVIDUAL_RECORDS) => {
                    return None;
                }
                Some(spec) => (spec.display_unit.symbol(), Box::new(|x| spec.to_display(x))),
                None => ("", Box::new(|x| x)),
            };
            let v = match value {
                MetricValue::Scalar(x) => DisplayValue::number(to_display(*x), unit),
                MetricValue::List(xs) => {
                    DisplayValue::List(xs.iter().map(|x| to_display(*x)).collect())
                }
            };
            Some((tag.clone(), v, unit.to_string()))
        })
        .collect();
    record_line(&record.metadata, &metrics, record.error.as_ref())
}

/// The record of one `profile_export.jsonl` line, metrics back in base units: the
/// inverse of [`export_line`] for everything the line holds (the metrics it leaves
/// out stay out; `raw_json` is `None`).
pub fn parse_line(line: &str) -> Result<MetricRecord, String> {
    let mut line: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let metadata: RecordMetadata =
        serde_json::from_value(line["metadata"].take()).map_err(|e| format!("metadata: {e}"))?;
    let error: Option<ErrorDetails> = serde_json::from_value(
        line.get_mut("error")
            .map(serde_json::Value::take)
            .unwrap_or_default(),
    )
    .map_err(|e| format!("error: {e}"))?;
    let serde_json::Value::Object(metrics) = line["metrics"].take() else {
        return Err("no metrics object".into());
    };
    let metrics = metrics
        .into_iter()
        .filter_map(|(tag, entry)| {
            let to_base = |x: f64| lookup(&tag).map_or(x, |spec| spec.to_base(x));
            let value = match entry.get("value")? {
                serde_json::Value::Array(xs) => {
                    MetricValue::List(xs.iter().filter_map(|x| x.as_f64()).map(to_base).collect())
                }
                v => MetricValue::Scalar(to_base(v.as_f64()?)),
            };
            Some((tag, value))
        })
        .collect();
    Ok(MetricRecord {
        metadata,
        metrics,
        error,
        raw_json: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::Phase;
    use aiperf_protocol::record::RecordMetadata;

    #[test]
    fn uncatalogued_metrics_are_written_as_sent() {
        let metadata = RecordMetadata {
            session_num: 0,
            x_request_id: "req-0".into(),
            x_correlation_id: "corr-0".into(),
            conversation_id: "c".into(),
            turn_index: 0,
            credit_issued_ns: 1,
            scheduled_ns: None,
            request_start_ns: 1,
            request_ack_ns: None,
            request_end_ns: 2,
            worker_id: "w".into(),
            record_processor_id: "rp".into(),
            benchmark_phase: Phase::Profiling,
            phase_index: None,
            profiling_index: None,
            phase_name: None,
            phase_kind: None,
            was_cancelled: false,
            cancellation_time_ns: None,
            context_overflow_skip: None,
            agent_depth: None,
            root_correlation_id: None,
            connection_retries: 0,
            invalid_sse_messages: 0,
            non_sse_response: false,
        };
        let record = MetricRecord {
            metadata,
            metrics: vec![
                ("request_latency".into(), MetricValue::Scalar(2.5e6)),
                ("credit_drop_latency".into(), MetricValue::Scalar(7.0)),
                ("my_share".into(), MetricValue::Scalar(0.25)),
                ("my_gaps".into(), MetricValue::List(vec![1.0, 2.0])),
            ],
            error: None,
            raw_json: None,
        };
        let line: serde_json::Value = serde_json::from_str(&export_line(&record)).unwrap();
        let m = &line["metrics"];
        // catalogued: ns → ms; internal: left out; uncatalogued: as sent, no unit
        assert_eq!(m["request_latency"]["value"], 2.5);
        assert_eq!(m["request_latency"]["unit"], "ms");
        assert!(m.get("credit_drop_latency").is_none(), "{m}");
        assert_eq!(m["my_share"]["value"], 0.25);
        assert_eq!(m["my_share"]["unit"], "");
        assert_eq!(m["my_gaps"]["value"], serde_json::json!([1.0, 2.0]));

        // Read back: base units again, the left-out metric stays out.
        let back = parse_line(&export_line(&record)).unwrap();
        assert_eq!(back.metadata, record.metadata);
        assert_eq!(back.error, None);
        let value = |tag: &str| {
            back.metrics
                .iter()
                .find(|(t, _)| t == tag)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(value("request_latency"), Some(MetricValue::Scalar(2.5e6)));
        assert_eq!(value("credit_drop_latency"), None);
        assert_eq!(value("my_share"), Some(MetricValue::Scalar(0.25)));
        assert_eq!(value("my_gaps"), Some(MetricValue::List(vec![1.0, 2.0])));
    }
}
