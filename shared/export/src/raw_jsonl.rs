//! `profile_export_raw.jsonl` (`--export-level raw`, `docs/outputs.md`): one compact
//! JSON object per request with what went over the wire, uninterpreted:
//!
//! ```text
//! {"metadata":{…same as profile_export.jsonl…},
//!  "start_perf_ns":1341113577689,
//!  "request_headers":{"Content-Type":"application/json",…,"X-Request-ID":"…","X-Correlation-ID":"…"},
//!  "status":200,
//!  "responses":[{"perf_ns":1341177408420,"packets":[{"name":"data","value":"{…}"}]},…],
//!  "payload":{…the exact request body…},
//!  "error":{"code":500,"type":"…","message":"…"}}
//! ```
//!
//! * Streaming responses are SSE messages, each `{"perf_ns", "packets":[{"name":
//!   "data","value":<the data: payload>}]}`; a non-streaming body is
//!   `{"perf_ns", "text", "content_type":"application/json"}`.
//! * `status` is absent when no HTTP response arrived, `error` when there was none.
//! * Header values that look secret ([`ProfileConfig::header_is_secret`]: `Authorization`,
//!   API keys, tokens, cookies…, and names marked with `--redact-header`) are written
//!   as `<redacted>`.
//! * `payload` is the request body as a JSON object (a string if it was not JSON).
//!
//! The line is built by the record processor (which holds the raw record for a
//! moment anyway) and streamed to disk by the records manager: raw responses are
//! never kept in memory.

use crate::format::REDACTED;
use aiperf_config::ProfileConfig;
use aiperf_protocol::record::{RawRecord, RecordMetadata};
use serde_json::{Map, Value, json};

/// The user agent workers send (`aiperf-rs/<version>`).
pub const USER_AGENT: &str = concat!("aiperf-rs/", env!("CARGO_PKG_VERSION"));

/// The request headers every request of the run carries (the per-request
/// `X-Request-ID` and `X-Correlation-ID` are added by [`raw_record_line`]), in the
/// order the worker sets them, secrets redacted.
pub fn request_headers(config: &ProfileConfig) -> Vec<(String, String)> {
    let accept = if config.streaming {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut h = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("User-Agent".to_string(), USER_AGENT.to_string()),
        ("Accept".to_string(), accept.to_string()),
    ];
    if config.api_key.is_some() {
        h.push(("Authorization".into(), REDACTED.into()));
    }
    for (k, v) in &config.headers {
        let v = if config.header_is_secret(k) {
            REDACTED.to_string()
        } else {
            v.clone()
        };
        h.push((k.clone(), v));
    }
    h
}

/// One line of `profile_export_raw.jsonl` (no line break), see the module docs.
/// `headers` are the run's static headers ([`request_headers`]).
pub fn raw_record_line(
    metadata: &RecordMetadata,
    raw: &RawRecord,
    headers: &[(String, String)],
) -> String {
    let mut o = Map::new();
    o.insert(
        "metadata".into(),
        serde_json::to_value(metadata).unwrap_or(Value::Null),
    );
    o.insert("start_perf_ns".into(), Value::from(raw.start_perf_ns));
    let mut h: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    h.insert("X-Request-ID".into(), raw.x_request_id.clone().into());
    h.insert(
        "X-Correlation-ID".into(),
        raw.credit.x_correlation_id.clone().into(),
    );
    o.insert("request_headers".into(), Value::Object(h));
    if let Some(status) = raw.status {
        o.insert("status".into(), Value::from(status));
    }
    let responses: Vec<Value> = raw
        .responses
        .iter()
        .map(|r| {
            if raw.streaming {
                json!({"perf_ns": r.perf_ns, "packets": [{"name": "data", "value": r.data}]})
            } else {
                json!({"perf_ns": r.perf_ns, "text": r.data, "content_type": "application/json"})
            }
        })
        .collect();
    o.insert("responses".into(), Value::Array(responses));
    let payload = serde_json::from_str::<Value>(&raw.payload)
        .unwrap_or_else(|_| Value::String(raw.payload.clone()));
    o.insert("payload".into(), payload);
    if let Some(e) = &raw.error {
        o.insert(
            "error".into(),
            serde_json::to_value(e).unwrap_or(Value::Null),
        );
    }
    Value::Object(o).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::credit::Credit;
    use aiperf_protocol::record::RawResponse;
    use aiperf_protocol::{ErrorDetails, Phase};

    fn raw(streaming: bool) -> RawRecord {
        RawRecord {
            credit: Credit {
                id: 3,
                phase: Phase::Profiling,
                conversation_id: "session_000003".into(),
                x_correlation_id: "corr-3".into(),
                turn_index: 0,
                num_turns: 1,
                issued_at_ns: 1_000,
                scheduled_at_ns: None,
                cancel_after_ns: None,
            },
            worker_id: "worker_1".into(),
            x_request_id: "req-3".into(),
            credit_received_perf_ns: 90,
            request_start_ns: 1_100,
            start_perf_ns: 100,
            ack_perf_ns: Some(150),
            end_perf_ns: 300,
            status: Some(200),
            streaming,
            responses: vec![
                RawResponse {
                    perf_ns: 200,
                    data: r#"{"choices":[{"delta":{"content":" the"}}]}"#.into(),
                },
                RawResponse {
                    perf_ns: 300,
                    data: "[DONE]".into(),
                },
            ],
            error: None,
            was_cancelled: false,
            cancellation_perf_ns: None,
            payload: r#"{"model":"m","stream":true}"#.into(),
            http_trace: None,
            connection_retries: 0,
            non_sse_response: false,
        }
    }

    fn metadata() -> RecordMetadata {
        RecordMetadata {
            session_num: 3,
            x_request_id: "req-3".into(),
            x_correlation_id: "corr-3".into(),
            conversation_id: "session_000003".into(),
            turn_index: 0,
            credit_issued_ns: 1_000,
            scheduled_ns: None,
            request_start_ns: 1_100,
            request_ack_ns: Some(1_150),
            request_end_ns: 1_300,
            worker_id: "worker_1".into(),
            record_processor_id: "record_processor_1".into(),
            benchmark_phase: Phase::Profiling,
            phase_index: Some(0),
            profiling_index: Some(0),
            phase_name: Some("profiling".into()),
            phase_kind: Some("profiling".into()),
            was_cancelled: false,
            cancellation_time_ns: None,
            context_overflow_skip: None,
            agent_depth: None,
            root_correlation_id: None,
            connection_retries: 0,
            invalid_sse_messages: 0,
            non_sse_response: false,
        }
    }

    #[test]
    fn streaming_line() {
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Authorization".to_string(), REDACTED.to_string()),
        ];
        let line = raw_record_line(&metadata(), &raw(true), &headers);
        let expected = concat!(
            r#"{"metadata":{"session_num":3,"x_request_id":"req-3","x_correlation_id":"corr-3","conversation_id":"session_000003","turn_index":0,"credit_issued_ns":1000,"request_start_ns":1100,"request_ack_ns":1150,"request_end_ns":1300,"worker_id":"worker_1","record_processor_id":"record_processor_1","benchmark_phase":"profiling","phase_index":0,"profiling_index":0,"phase_name":"profiling","phase_kind":"profiling","was_cancelled":false},"#,
            r#""start_perf_ns":100,"request_headers":{"Content-Type":"application/json","Authorization":"<redacted>","X-Request-ID":"req-3","X-Correlation-ID":"corr-3"},"#,
            r#""status":200,"responses":[{"perf_ns":200,"packets":[{"name":"data","value":"{\"choices\":[{\"delta\":{\"content\":\" the\"}}]}"}]},{"perf_ns":300,"packets":[{"name":"data","value":"[DONE]"}]}],"#,
            r#""payload":{"model":"m","stream":true}}"#
        );
        assert_eq!(line, expected);
    }

    #[test]
    fn non_streaming_error_line() {
        let mut r = raw(false);
        r.responses.truncate(1);
        r.status = Some(500);
        r.error = Some(ErrorDetails::new(
            Some(500),
            "Internal Server Error",
            "boom",
        ));
        r.payload = "not json".into();
        let v: Value = serde_json::from_str(&raw_record_line(&metadata(), &r, &[])).unwrap();
        assert_eq!(
            v["responses"],
            json!([{"perf_ns": 200, "text": r#"{"choices":[{"delta":{"content":" the"}}]}"#, "content_type": "application/json"}])
        );
        assert_eq!(v["status"], 500);
        assert_eq!(v["payload"], "not json");
        assert_eq!(
            v["error"],
            json!({"code": 500, "type": "Internal Server Error", "message": "boom"})
        );
    }
}
