//! Request records: raw (worker → record processor) and metric (record processor
//! → records manager).

use crate::{ErrorDetails, Phase, credit::Credit};
use serde::{Deserialize, Serialize};

/// One response message as read from the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawResponse {
    /// Monotonic time (ns, worker clock) when its bytes were read, before parsing.
    pub perf_ns: u64,
    /// The SSE `data:` payload (streaming) or the whole body (non-streaming).
    pub data: String,
}

/// Everything a worker observed about one request, uninterpreted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRecord {
    /// The credit that caused the request.
    pub credit: Credit,
    /// Worker that sent it.
    pub worker_id: String,
    /// `X-Request-ID` sent.
    pub x_request_id: String,
    /// Monotonic time (ns) when the worker received the credit.
    pub credit_received_perf_ns: u64,
    /// Wall clock (ns) at request start (anchor for every exported timestamp).
    pub request_start_ns: u64,
    /// Monotonic time (ns) right before the request was sent.
    pub start_perf_ns: u64,
    /// Monotonic time (ns) when the response headers arrived (2xx only).
    pub ack_perf_ns: Option<u64>,
    /// Monotonic time (ns) when the last byte was read, or of the error / cancellation.
    pub end_perf_ns: u64,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Whether the request asked for a stream.
    pub streaming: bool,
    /// Response messages in arrival order.
    pub responses: Vec<RawResponse>,
    /// Transport / HTTP / stream error, if any.
    pub error: Option<ErrorDetails>,
    /// The request was cancelled by the client (request cancellation).
    pub was_cancelled: bool,
    /// Monotonic time (ns) of the cancellation.
    pub cancellation_perf_ns: Option<u64>,
    /// The exact JSON body sent.
    pub payload: String,
    /// Transport-level timings and sizes of the HTTP exchange (the source of the
    /// `http_req_*` metrics); absent when the transport did not trace the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_trace: Option<HttpTrace>,
    /// Times the request was sent again on a fresh connection because the reused
    /// connection it was given had been closed by the server first
    /// (`docs/reliability.md`); its timestamps are those of the last attempt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub connection_retries: u32,
    /// The request asked for a stream but the body was not SSE: it was read whole,
    /// as a non-streaming response (the only entry of `responses`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub non_sse_response: bool,
}

/// What the HTTP transport observed about one request, in the order it happens:
/// waiting for a pooled connection, DNS, connecting, sending, waiting for the first
/// response body byte, receiving. Every time is a reading of the worker's monotonic
/// clock in ns (the clock of [`RawRecord::start_perf_ns`]); a stage that did not
/// happen leaves its times absent. The counterpart of AIPerf 0.13's aiohttp trace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpTrace {
    /// The request started waiting for a free pooled connection (absent: one was
    /// free at once, `http_req_blocked` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_wait_start_perf_ns: Option<u64>,
    /// The request got its connection after waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_wait_end_perf_ns: Option<u64>,
    /// Host name resolution started (absent: an IP address, a cached name or a
    /// reused connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_start_perf_ns: Option<u64>,
    /// Host name resolution ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_end_perf_ns: Option<u64>,
    /// Opening a new connection (TCP, plus TLS for https) started; absent when
    /// the connection was reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_start_perf_ns: Option<u64>,
    /// The new connection was ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_end_perf_ns: Option<u64>,
    /// The request went over an already open connection (a keep-alive connection
    /// of an earlier request, or one opened before the phase started).
    #[serde(default, skip_serializing_if = "is_false")]
    pub connection_reused: bool,
    /// The connection was opened ahead, before the phase started, and this is
    /// its first request (implies `connection_reused`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub connection_preopened: bool,
    /// Writing the request (headers first) started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_start_perf_ns: Option<u64>,
    /// The last byte of the request body was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_end_perf_ns: Option<u64>,
    /// The response headers arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_received_perf_ns: Option<u64>,
    /// The first chunk of the response body arrived (time to first byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_perf_ns: Option<u64>,
    /// The last chunk of the response body arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_byte_perf_ns: Option<u64>,
    /// The response was complete (end of body seen, connection released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_end_perf_ns: Option<u64>,
    /// Bytes of request body written (headers not counted, as aiohttp's trace).
    #[serde(default)]
    pub bytes_sent: u64,
    /// Bytes of response body received, after transfer decoding.
    #[serde(default)]
    pub bytes_received: u64,
    /// Number of writes of request body data.
    #[serde(default)]
    pub chunks_sent: u32,
    /// Number of reads of response body data (one per body chunk the HTTP layer
    /// delivered).
    #[serde(default)]
    pub chunks_received: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RawRecord {
    /// Wall-clock ns of a monotonic reading of this record's worker.
    pub fn wall_ns(&self, perf_ns: u64) -> u64 {
        (self.request_start_ns as i128 + perf_ns as i128 - self.start_perf_ns as i128).max(0) as u64
    }
}

/// The `metadata` object of a per-request export line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordMetadata {
    /// Credit id within the phase.
    pub session_num: u64,
    /// `X-Request-ID`.
    pub x_request_id: String,
    /// `X-Correlation-ID` (session instance).
    pub x_correlation_id: String,
    /// Dataset conversation id.
    pub conversation_id: String,
    /// 0-based turn.
    pub turn_index: u32,
    /// Wall clock (ns) when the credit was issued.
    pub credit_issued_ns: u64,
    /// Wall clock (ns) the schedule intended (open-loop modes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scheduled_ns: Option<u64>,
    /// Wall clock (ns) at request start.
    pub request_start_ns: u64,
    /// Wall clock (ns) when headers arrived (2xx only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_ack_ns: Option<u64>,
    /// Wall clock (ns) at the end of the request.
    pub request_end_ns: u64,
    /// Worker id.
    pub worker_id: String,
    /// Record processor id.
    pub record_processor_id: String,
    /// Phase.
    pub benchmark_phase: Phase,
    /// 0-based index of the phase in the run (warmup 0 and profiling 1 when there is
    /// a warmup, profiling 0 otherwise) (AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phase_index: Option<u32>,
    /// 0-based index among profiling phases; absent for warmup (AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profiling_index: Option<u32>,
    /// Phase name, `warmup` or `profiling` (AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phase_name: Option<String>,
    /// Phase kind, `warmup` or `profiling` (AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phase_kind: Option<String>,
    /// A client-side cancellation happened.
    pub was_cancelled: bool,
    /// Wall clock (ns) of the cancellation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cancellation_time_ns: Option<u64>,
    /// The request was skipped because its context would overflow (always `false`
    /// in aiperf-rs; AIPerf 0.13 field).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub context_overflow_skip: Option<bool>,
    /// Depth in an agentic request tree (0 for ordinary sessions; AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent_depth: Option<u32>,
    /// Correlation id of the root session: `x_correlation_id` for ordinary
    /// sessions (AIPerf 0.13).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root_correlation_id: Option<String>,
    /// Times the request was sent again on a fresh connection (see
    /// [`RawRecord::connection_retries`]); absent when 0 (aiperf-rs field).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub connection_retries: u32,
    /// SSE `data:` messages of the response that were not valid JSON: skipped, the
    /// rest of the stream measured; absent when 0 (aiperf-rs field).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub invalid_sse_messages: u32,
    /// A streaming request got a plain (non-SSE) body, measured as a
    /// non-streaming response; absent when false (aiperf-rs field).
    #[serde(default, skip_serializing_if = "is_false")]
    pub non_sse_response: bool,
}

/// A metric value in base units (ns, tokens, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// One number.
    Scalar(f64),
    /// A list (e.g. inter-chunk latencies).
    List(Vec<f64>),
}

/// Per-request metrics computed by a record processor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// Export metadata.
    pub metadata: RecordMetadata,
    /// `(tag, value)` in base units, in computation order.
    pub metrics: Vec<(String, MetricValue)>,
    /// Set for error records.
    pub error: Option<ErrorDetails>,
    /// Raw request/response for `--export-level raw`, as a JSON object string.
    pub raw_json: Option<String>,
}
