//! Helpers shared by the integration tests of aiperf-metrics.

use aiperf_protocol::Phase;
use aiperf_protocol::record::RecordMetadata;

/// The metadata of a profiling record from `start_ns` to `end_ns`, every other
/// field at a neutral value.
pub fn meta(start_ns: u64, end_ns: u64) -> RecordMetadata {
    RecordMetadata {
        session_num: 0,
        x_request_id: "r".into(),
        x_correlation_id: "c".into(),
        conversation_id: "conv".into(),
        turn_index: 0,
        credit_issued_ns: 0,
        scheduled_ns: None,
        request_start_ns: start_ns,
        request_ack_ns: None,
        request_end_ns: end_ns,
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
    }
}
