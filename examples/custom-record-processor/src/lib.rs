//! A custom record processor: the built-in interpretation of every raw record
//! ([`RecordInterpreter`]) plus one metric of its own, [`PREFILL_SHARE_PCT`].
//!
//! It is an ordinary service on the service runtime of `aiperf-transport`: it
//! implements [`Service`] (what to do on `configure`) and [`run_service`] does the
//! registration, heartbeats, commands and shutdown. The records manager exports any
//! metric tag a record processor sends — per request in `profile_export.jsonl`, with
//! its statistics in `profile_export_aiperf.json` — so nothing else changes.

use aiperf_config::ProfileConfig;
use aiperf_protocol::{
    ServiceType,
    record::{MetricRecord, MetricValue, RawRecord},
};
use aiperf_record_processor::RecordInterpreter;
use aiperf_transport::{Pull, Push, Service, ServiceContext};
use std::sync::Arc;

pub use aiperf_transport::run_service;

/// Tag of the added metric: the share of the request latency spent before the
/// first token, in percent (`100 · time_to_first_token / request_latency`). High
/// values mean a request's time went to queueing and prefill, low values to decode.
pub const PREFILL_SHARE_PCT: &str = "prefill_share_pct";

/// The added metric of one record, when it has both a TTFT and a positive latency
/// (streaming, valid records).
pub fn prefill_share_pct(record: &MetricRecord) -> Option<f64> {
    let scalar = |tag: &str| {
        record.metrics.iter().find_map(|(t, v)| match v {
            MetricValue::Scalar(x) if t == tag => Some(*x),
            _ => None,
        })
    };
    let ttft = scalar("time_to_first_token")?;
    let latency = scalar("request_latency").filter(|l| *l > 0.0)?;
    Some(100.0 * ttft / latency)
}

/// The record processor: built-in metrics, then [`PREFILL_SHARE_PCT`].
#[derive(Debug, Default)]
pub struct CustomRecordProcessor;

impl Service for CustomRecordProcessor {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::RecordProcessor
    }

    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let interpreter = Arc::new(RecordInterpreter::load(&config, ctx.service_id.clone()).await?);
        let pull: Pull<RawRecord> = Pull::connect(&ctx.endpoints.raw_records_backend)
            .await
            .map_err(|e| e.to_string())?;
        let push: Push<MetricRecord> = Push::connect(&ctx.endpoints.records)
            .await
            .map_err(|e| e.to_string())?;
        ctx.spawn(process(interpreter, pull, push));
        Ok(())
    }
}

/// Interprets raw records one at a time (tokenizing on the blocking pool) and
/// pushes each metric record with the added metric.
async fn process(
    interpreter: Arc<RecordInterpreter>,
    mut pull: Pull<RawRecord>,
    mut push: Push<MetricRecord>,
) -> Result<(), String> {
    loop {
        let raw = pull
            .recv()
            .await
            .map_err(|e| format!("cannot read raw records: {e}"))?;
        let i = interpreter.clone();
        let mut record = tokio::task::spawn_blocking(move || i.interpret(&raw))
            .await
            .map_err(|e| format!("crashed on a record: {e}"))?;
        if let Some(share) = prefill_share_pct(&record) {
            record
                .metrics
                .push((PREFILL_SHARE_PCT.to_string(), MetricValue::Scalar(share)));
        }
        push.send(&record)
            .await
            .map_err(|e| format!("cannot push to the records manager: {e}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::{Phase, record::RecordMetadata};

    fn record(metrics: &[(&str, f64)]) -> MetricRecord {
        MetricRecord {
            metadata: RecordMetadata {
                session_num: 0,
                x_request_id: "r".into(),
                x_correlation_id: "c".into(),
                conversation_id: "s".into(),
                turn_index: 0,
                credit_issued_ns: 0,
                scheduled_ns: None,
                request_start_ns: 0,
                request_ack_ns: None,
                request_end_ns: 0,
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
            },
            metrics: metrics
                .iter()
                .map(|(t, v)| (t.to_string(), MetricValue::Scalar(*v)))
                .collect(),
            error: None,
            raw_json: None,
        }
    }

    #[test]
    fn share_of_latency_before_the_first_token() {
        // 5 ms of a 20 ms request before the first token: 25 %
        let r = record(&[("request_latency", 20e6), ("time_to_first_token", 5e6)]);
        assert_eq!(prefill_share_pct(&r), Some(25.0));
        // no TTFT (not streaming) or no positive latency: no value
        assert_eq!(
            prefill_share_pct(&record(&[("request_latency", 20e6)])),
            None
        );
        let r = record(&[("request_latency", 0.0), ("time_to_first_token", 0.0)]);
        assert_eq!(prefill_share_pct(&r), None);
    }
}
