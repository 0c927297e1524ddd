//! One representative value of every message type and enum variant, with the
//! top-level keys and tag that `docs/protocol.md` documents for it.

use aiperf_protocol::{
    Endpoints, ErrorDetails, LoadMode, Phase, ServiceType,
    control::{Command, CommandStatus, FromController, ServiceState, ToController},
    credit::{Credit, FromWorker, ToWorker},
    dataset::{
        Conversation, ConversationTiming, DatasetReply, DatasetRequest, SamplingStrategy, Turn,
        TurnTiming,
    },
    document::{ConfigDocument, Value},
    encode,
    events::{Event, PhaseStats, RecordBacklog},
    record::{HttpTrace, MetricRecord, MetricValue, RawRecord, RawResponse, RecordMetadata},
    results::{ErrorSummaryEntry, MetricResult, PhaseResults, ProfileResults},
    server_metrics::{
        EndpointInfo, FamilyStats, MetricKind, PhaseRange, SeriesStats, ServerMetricsResults,
        SliceStats,
    },
};
use serde::Serialize;
use std::path::Path;

/// An encoded sample and what a generic reader must find in it.
pub struct Sample {
    /// Golden file name (without `.hex`).
    pub name: &'static str,
    /// `encode(value)`.
    pub bytes: Vec<u8>,
    /// `(tag field, tag value)` of an internally tagged enum.
    pub tag: Option<(&'static str, &'static str)>,
    /// Top-level map keys in order; `None` when the value is an array.
    pub keys: Option<Vec<&'static str>>,
}

fn sample<T: Serialize>(
    name: &'static str,
    value: &T,
    tag: Option<(&'static str, &'static str)>,
    keys: Option<&[&'static str]>,
) -> Sample {
    Sample {
        name,
        bytes: encode(value).unwrap(),
        tag,
        keys: keys.map(|k| k.to_vec()),
    }
}

const SID: &str = "record_processor_1a2b3c4d";

pub fn to_controller() -> Vec<(&'static str, ToController)> {
    vec![
        (
            "to_controller_register",
            ToController::Register {
                protocol_version: 1,
                service_id: SID.into(),
                service_type: ServiceType::RecordProcessor,
                pid: 4242,
            },
        ),
        (
            "to_controller_heartbeat",
            ToController::Heartbeat {
                service_id: SID.into(),
                state: ServiceState::Running,
            },
        ),
        (
            "to_controller_command_response_success",
            ToController::CommandResponse {
                service_id: SID.into(),
                command_id: 7,
                status: CommandStatus::Success,
                error: None,
            },
        ),
        (
            "to_controller_command_response_failure",
            ToController::CommandResponse {
                service_id: SID.into(),
                command_id: 8,
                status: CommandStatus::Failure,
                error: Some("tokenizer not found".into()),
            },
        ),
        (
            "to_controller_bus_ready",
            ToController::BusReady {
                service_id: "records_manager_0f0f0f0f".into(),
                nonce: 3,
            },
        ),
        (
            "to_controller_spawn_workers",
            ToController::SpawnWorkers {
                service_id: "worker_manager_12345678".into(),
                num_workers: 4,
            },
        ),
        (
            "to_controller_service_failed",
            ToController::ServiceFailed {
                service_id: SID.into(),
                error: "cannot bind".into(),
            },
        ),
        (
            "to_controller_results",
            ToController::Results {
                service_id: "records_manager_0f0f0f0f".into(),
                results: Box::new(profile_results()),
            },
        ),
        (
            "to_controller_server_metrics",
            ToController::ServerMetrics {
                service_id: "server_metrics_manager_0e0e0e0e".into(),
                results: Box::new(server_metrics_results()),
            },
        ),
    ]
}

/// A small server metrics report: one counter with a time slice, one histogram.
pub fn server_metrics_results() -> ServerMetricsResults {
    let url = "http://127.0.0.1:8000/metrics".to_string();
    let labels = vec![("model_name".to_string(), "m".to_string())];
    ServerMetricsResults {
        endpoints_configured: vec![url.clone()],
        endpoints_successful: vec![url.clone()],
        start_ns: 1_000,
        end_ns: 9_000,
        endpoint_info: vec![EndpointInfo {
            endpoint_url: url.clone(),
            total_fetches: 5,
            first_fetch_ns: 1_000,
            last_fetch_ns: 9_000,
            avg_fetch_latency_ms: 1.5,
            unique_updates: 3,
            first_update_ns: 1_000,
            last_update_ns: 8_000,
            duration_seconds: 0.000008,
            avg_update_interval_ms: 0.0035,
            median_update_interval_ms: 0.0035,
        }],
        phase_ranges: vec![PhaseRange {
            phase: Phase::Profiling,
            start_ns: 2_000,
            end_ns: 8_000,
        }],
        window_start_ns: 2_000,
        window_end_ns: 9_000,
        metrics: vec![
            FamilyStats {
                name: "vllm:generation_tokens".into(),
                kind: MetricKind::Counter,
                description: "Number of generation tokens processed.".into(),
                unit: "tokens".into(),
                series: vec![SeriesStats {
                    endpoint_url: url.clone(),
                    labels: labels.clone(),
                    stats: vec![("total".into(), 800.0), ("rate".into(), 240.5)],
                    buckets: vec![],
                    timeslices: vec![SliceStats {
                        start_ns: 2_000,
                        end_ns: 3_000,
                        is_complete: true,
                        stats: vec![("total".into(), 300.0), ("rate".into(), 600.0)],
                    }],
                }],
            },
            FamilyStats {
                name: "vllm:time_to_first_token_seconds".into(),
                kind: MetricKind::Histogram,
                description: "Histogram of time to first token in seconds.".into(),
                unit: "seconds".into(),
                series: vec![SeriesStats {
                    endpoint_url: url,
                    labels,
                    stats: vec![("count".into(), 40.0), ("p50_estimate".into(), 0.02)],
                    buckets: vec![("0.01".into(), 0.0), ("+Inf".into(), 40.0)],
                    timeslices: vec![],
                }],
            },
        ],
        warnings: vec!["http://127.0.0.1:9/metrics: unreachable".into()],
    }
}

pub fn from_controller() -> Vec<(&'static str, FromController)> {
    vec![
        (
            "from_controller_welcome",
            FromController::Welcome {
                protocol_version: 1,
                endpoints: Endpoints::tcp("127.0.0.1", 5557),
            },
        ),
        (
            "from_controller_rejected",
            FromController::Rejected {
                reason: "protocol version 2, controller speaks 1".into(),
            },
        ),
        (
            "from_controller_command_configure",
            FromController::Command {
                command_id: 4,
                command: Command::Configure {
                    config: config_document(),
                },
            },
        ),
        (
            "from_controller_command_start",
            FromController::Command {
                command_id: 5,
                command: Command::Start,
            },
        ),
        (
            "from_controller_command_cancel",
            FromController::Command {
                command_id: 6,
                command: Command::Cancel {
                    reason: "the run was cancelled by the user (Ctrl-C)".into(),
                },
            },
        ),
        (
            "from_controller_command_shutdown",
            FromController::Command {
                command_id: 9,
                command: Command::Shutdown,
            },
        ),
    ]
}

/// A small configuration document: a few of the controller's keys (a list of
/// pairs, an absent tokenizer) and an unlimited grace period (`+inf`).
pub fn config_document() -> ConfigDocument {
    ConfigDocument::from(Value::Map(vec![
        (
            Value::Str("models".into()),
            Value::Array(vec![Value::Str("m".into())]),
        ),
        (Value::Str("streaming".into()), Value::Bool(true)),
        (
            Value::Str("benchmark_grace_period_s".into()),
            Value::Float(f64::INFINITY),
        ),
        (
            Value::Str("headers".into()),
            Value::Array(vec![Value::Array(vec![
                Value::Str("X-Team".into()),
                Value::Str("perf".into()),
            ])]),
        ),
        (Value::Str("tokenizer".into()), Value::Nil),
    ]))
}

pub fn credit() -> Credit {
    Credit {
        id: 12,
        phase: Phase::Profiling,
        conversation_id: "session_000003".into(),
        x_correlation_id: "c0ffee00-0000-4000-8000-000000000001".into(),
        turn_index: 1,
        num_turns: 2,
        issued_at_ns: 1_764_000_000_000_000_000,
        scheduled_at_ns: Some(1_764_000_000_025_000_000),
        cancel_after_ns: None,
    }
}

pub fn to_worker() -> Vec<(&'static str, ToWorker)> {
    vec![
        ("to_worker_credit", ToWorker::Credit(credit())),
        (
            "to_worker_cancel_credits",
            ToWorker::CancelCredits {
                phase: Phase::Warmup,
                ids: vec![1, 2, 300],
            },
        ),
    ]
}

pub fn from_worker() -> Vec<(&'static str, FromWorker)> {
    vec![
        (
            "from_worker_worker_ready",
            FromWorker::WorkerReady {
                worker_id: "worker_503afa03".into(),
            },
        ),
        (
            "from_worker_first_token",
            FromWorker::FirstToken {
                phase: Phase::Profiling,
                credit_id: 12,
            },
        ),
        (
            "from_worker_credit_return",
            FromWorker::CreditReturn {
                phase: Phase::Profiling,
                credit_id: 12,
                cancelled: false,
                error: None,
                worker_id: "worker_503afa03".into(),
            },
        ),
        (
            "from_worker_credit_return_error",
            FromWorker::CreditReturn {
                phase: Phase::Profiling,
                credit_id: 13,
                cancelled: true,
                error: Some("cancelled".into()),
                worker_id: "worker_503afa03".into(),
            },
        ),
    ]
}

pub fn conversation() -> Conversation {
    Conversation {
        id: "session_000003".into(),
        system_message: Some("You are terse.".into()),
        user_context: None,
        turns: vec![
            Turn {
                texts: vec!["Hello".into()],
                max_tokens: Some(16),
                timestamp_ms: Some(0.0),
                delay_ms: None,
                extra_json: None,
            },
            Turn {
                texts: vec!["And then?".into(), "Be brief.".into()],
                max_tokens: None,
                timestamp_ms: None,
                delay_ms: Some(250.5),
                extra_json: Some(r#"{"temperature":0.1}"#.into()),
            },
        ],
    }
}

pub fn conversation_timing() -> ConversationTiming {
    ConversationTiming {
        id: "session_000003".into(),
        turns: vec![
            TurnTiming {
                timestamp_ms: Some(0.0),
                delay_ms: None,
            },
            TurnTiming {
                timestamp_ms: None,
                delay_ms: Some(250.5),
            },
        ],
    }
}

pub fn dataset_requests() -> Vec<(&'static str, DatasetRequest)> {
    vec![
        (
            "dataset_request_conversations",
            DatasetRequest::Conversations {
                request_id: 1,
                ids: Some(vec!["session_000003".into()]),
            },
        ),
        (
            "dataset_request_conversations_all",
            DatasetRequest::Conversations {
                request_id: 2,
                ids: None,
            },
        ),
        (
            "dataset_request_timing",
            DatasetRequest::Timing { request_id: 3 },
        ),
    ]
}

pub fn dataset_replies() -> Vec<(&'static str, DatasetReply)> {
    vec![
        (
            "dataset_reply_conversations",
            DatasetReply::Conversations {
                request_id: 1,
                conversations: vec![conversation()],
            },
        ),
        (
            "dataset_reply_timing",
            DatasetReply::Timing {
                request_id: 3,
                conversations: vec![conversation_timing()],
                sampling: SamplingStrategy::Shuffle,
            },
        ),
        (
            "dataset_reply_error",
            DatasetReply::Error {
                request_id: 4,
                message: "unknown conversation session_999999".into(),
            },
        ),
    ]
}

/// Counters of a request-rate phase with every optional field set.
pub fn phase_stats_rate() -> PhaseStats {
    PhaseStats {
        sent: 100,
        completed: 98,
        cancelled: 0,
        errors: 1,
        in_flight: 2,
        start_ns: 1_764_000_000_000_000_000,
        sending_end_ns: Some(1_764_000_010_000_000_000),
        end_ns: None,
        expected_requests: Some(100),
        expected_duration_s: Some(30.5),
        grace_period_timeout_triggered: false,
        load_mode: Some(LoadMode::RequestRate),
        target_rate: Some(10.0),
    }
}

/// Counters of a closed-loop phase: the optional fields absent.
fn phase_stats_minimal() -> PhaseStats {
    PhaseStats {
        sent: 4,
        completed: 4,
        start_ns: 1_764_000_000_000_000_000,
        end_ns: Some(1_764_000_001_000_000_000),
        ..PhaseStats::default()
    }
}

pub fn events() -> Vec<(&'static str, Event)> {
    vec![
        ("event_bus_probe", Event::BusProbe { nonce: 1 }),
        (
            "event_phase_started",
            Event::PhaseStarted {
                phase: Phase::Profiling,
                stats: phase_stats_rate(),
            },
        ),
        (
            "event_phase_progress",
            Event::PhaseProgress {
                phase: Phase::Warmup,
                stats: phase_stats_minimal(),
            },
        ),
        (
            "event_phase_sending_complete",
            Event::PhaseSendingComplete {
                phase: Phase::Profiling,
                stats: phase_stats_minimal(),
            },
        ),
        (
            "event_phase_complete",
            Event::PhaseComplete {
                phase: Phase::Profiling,
                stats: phase_stats_minimal(),
            },
        ),
        ("event_credits_complete", Event::CreditsComplete),
        (
            "event_records_progress",
            Event::RecordsProgress {
                phase: Phase::Profiling,
                records: 50,
                errors: 2,
            },
        ),
        (
            "event_record_backlog",
            Event::RecordBacklog {
                phase: Phase::Profiling,
                worker_id: "worker_0".into(),
                backlog: RecordBacklog {
                    capacity: 64,
                    peak_queued: 64,
                    held_back_credits: 12,
                    held_back_ns: 3_500_000,
                },
            },
        ),
        (
            "event_records_taken",
            Event::RecordsTaken {
                record_processor_id: "record_processor_0".into(),
                worker_id: "worker_0".into(),
                taken: 1_234,
            },
        ),
    ]
}

pub fn raw_records() -> Vec<(&'static str, RawRecord)> {
    let ok = RawRecord {
        credit: credit(),
        worker_id: "worker_503afa03".into(),
        x_request_id: "0d15ea5e-0000-4000-8000-000000000002".into(),
        credit_received_perf_ns: 1_000,
        request_start_ns: 1_764_000_000_025_000_000,
        start_perf_ns: 2_000,
        ack_perf_ns: Some(500_000),
        end_perf_ns: 9_000_000,
        status: Some(200),
        streaming: true,
        responses: vec![
            RawResponse {
                perf_ns: 4_000_000,
                data: r#"{"choices":[{"delta":{"content":"Hi"}}]}"#.into(),
            },
            RawResponse {
                perf_ns: 9_000_000,
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
    };
    // Every trace field set: a new connection after a pool wait and a DNS lookup.
    let traced = RawRecord {
        http_trace: Some(HttpTrace {
            pool_wait_start_perf_ns: Some(1_000),
            pool_wait_end_perf_ns: Some(1_100),
            dns_start_perf_ns: Some(1_100),
            dns_end_perf_ns: Some(1_150),
            connect_start_perf_ns: Some(1_150),
            connect_end_perf_ns: Some(1_900),
            connection_reused: false,
            connection_preopened: false,
            send_start_perf_ns: Some(2_000),
            send_end_perf_ns: Some(40_000),
            headers_received_perf_ns: Some(500_000),
            first_byte_perf_ns: Some(4_000_000),
            last_byte_perf_ns: Some(9_000_000),
            receive_end_perf_ns: Some(9_000_000),
            bytes_sent: 27,
            bytes_received: 62,
            chunks_sent: 1,
            chunks_received: 2,
        }),
        ..ok.clone()
    };
    // A pre-opened connection's first request: reused, no connect times.
    let preopened = RawRecord {
        http_trace: Some(HttpTrace {
            connection_reused: true,
            connection_preopened: true,
            send_start_perf_ns: Some(2_000),
            send_end_perf_ns: Some(40_000),
            first_byte_perf_ns: Some(4_000_000),
            last_byte_perf_ns: Some(9_000_000),
            receive_end_perf_ns: Some(9_000_000),
            bytes_sent: 27,
            bytes_received: 62,
            chunks_sent: 1,
            chunks_received: 2,
            ..HttpTrace::default()
        }),
        ..ok.clone()
    };
    let failed = RawRecord {
        ack_perf_ns: None,
        status: None,
        streaming: false,
        responses: vec![],
        error: Some(ErrorDetails::new(None, "ConnectionError", "refused")),
        end_perf_ns: 3_000,
        ..ok.clone()
    };
    vec![
        ("raw_record", ok),
        ("raw_record_error", failed),
        ("raw_record_traced", traced),
        ("raw_record_preopened", preopened),
    ]
}

fn metadata() -> RecordMetadata {
    RecordMetadata {
        session_num: 12,
        x_request_id: "0d15ea5e-0000-4000-8000-000000000002".into(),
        x_correlation_id: "c0ffee00-0000-4000-8000-000000000001".into(),
        conversation_id: "session_000003".into(),
        turn_index: 1,
        credit_issued_ns: 1_764_000_000_000_000_000,
        scheduled_ns: Some(1_764_000_000_025_000_000),
        request_start_ns: 1_764_000_000_025_000_000,
        request_ack_ns: Some(1_764_000_000_025_498_000),
        request_end_ns: 1_764_000_000_033_998_000,
        worker_id: "worker_503afa03".into(),
        record_processor_id: SID.into(),
        benchmark_phase: Phase::Profiling,
        phase_index: Some(1),
        profiling_index: Some(0),
        phase_name: Some("profiling".into()),
        phase_kind: Some("profiling".into()),
        was_cancelled: false,
        cancellation_time_ns: None,
        context_overflow_skip: Some(false),
        agent_depth: Some(0),
        root_correlation_id: Some("c0ffee00-0000-4000-8000-000000000001".into()),
        connection_retries: 0,
        invalid_sse_messages: 0,
        non_sse_response: false,
    }
}

pub fn metric_records() -> Vec<(&'static str, MetricRecord)> {
    let ok = MetricRecord {
        metadata: metadata(),
        metrics: vec![
            ("request_latency".into(), MetricValue::Scalar(8_998_000.0)),
            (
                "inter_chunk_latency".into(),
                MetricValue::List(vec![5_000_000.0]),
            ),
            ("output_token_count".into(), MetricValue::Scalar(1.0)),
        ],
        error: None,
        raw_json: None,
    };
    let failed = MetricRecord {
        metrics: vec![],
        error: Some(ErrorDetails::new(
            Some(500),
            "Internal Server Error",
            "boom",
        )),
        raw_json: Some(r#"{"request":{}}"#.into()),
        ..ok.clone()
    };
    vec![("metric_record", ok), ("metric_record_error", failed)]
}

pub fn profile_results() -> ProfileResults {
    let latency = MetricResult {
        tag: "request_latency".into(),
        header: "Request Latency".into(),
        unit: "ms".into(),
        avg: Some(9.0),
        min: Some(8.5),
        max: Some(9.5),
        std: Some(0.5),
        percentiles: vec![(50, 9.0), (99, 9.5)],
        count: Some(2),
        sum: Some(18.0),
        scalar: false,
        display_order: 300,
        console: true,
    };
    let throughput = MetricResult {
        tag: "request_throughput".into(),
        header: "Request Throughput".into(),
        unit: "requests/sec".into(),
        avg: Some(2.0),
        scalar: true,
        ..MetricResult::default()
    };
    ProfileResults {
        profiling: PhaseResults {
            metrics: vec![latency, throughput],
            error_summary: vec![ErrorSummaryEntry {
                error_details: ErrorDetails::new(Some(500), "Internal Server Error", "boom"),
                count: 1,
            }],
            start_ns: 1_764_000_000_000_000_000,
            end_ns: 1_764_000_001_000_000_000,
            records: 3,
            errors: 1,
            resilience: Default::default(),
        },
        warmup: Some(PhaseResults::default()),
        was_cancelled: false,
        is_complete: true,
    }
}

pub fn errors() -> Vec<(&'static str, ErrorDetails)> {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
    vec![
        (
            "error_details_plain",
            ErrorDetails::new(Some(500), "Internal Server Error", "boom"),
        ),
        (
            "error_details_caused",
            ErrorDetails::caused_by(None, "ConnectionError", "POST failed", &io, &|s| s.into())
                .with_detail("attempt", 1),
        ),
    ]
}

pub fn endpoints() -> Vec<(&'static str, Endpoints)> {
    vec![
        ("endpoints_tcp", Endpoints::tcp("10.0.0.5", 5557)),
        ("endpoints_ipc", Endpoints::ipc(Path::new("/tmp/aiperf"))),
    ]
}

pub fn service_types() -> Vec<ServiceType> {
    std::iter::once(ServiceType::SystemController)
        .chain(ServiceType::ALL)
        .collect()
}

pub fn service_states() -> Vec<ServiceState> {
    vec![
        ServiceState::Initialized,
        ServiceState::Ready,
        ServiceState::Running,
        ServiceState::Stopping,
        ServiceState::Failed,
    ]
}

pub fn phases() -> Vec<Phase> {
    vec![Phase::Warmup, Phase::Profiling]
}

pub fn sampling_strategies() -> Vec<SamplingStrategy> {
    vec![
        SamplingStrategy::Sequential,
        SamplingStrategy::Random,
        SamplingStrategy::Shuffle,
    ]
}

pub fn load_modes() -> Vec<LoadMode> {
    vec![
        LoadMode::Concurrency,
        LoadMode::RequestRate,
        LoadMode::FixedSchedule,
        LoadMode::UserCentric,
    ]
}

pub fn command_statuses() -> Vec<CommandStatus> {
    vec![CommandStatus::Success, CommandStatus::Failure]
}

const TAG: &str = "message_type";

const CREDIT_KEYS: [&str; 9] = [
    "id",
    "phase",
    "conversation_id",
    "x_correlation_id",
    "turn_index",
    "num_turns",
    "issued_at_ns",
    "scheduled_at_ns",
    "cancel_after_ns",
];

const STATS_ALL: [&str; 13] = [
    "sent",
    "completed",
    "cancelled",
    "errors",
    "in_flight",
    "start_ns",
    "sending_end_ns",
    "end_ns",
    "expected_requests",
    "expected_duration_s",
    "grace_period_timeout_triggered",
    "load_mode",
    "target_rate",
];

/// The keys of a raw record with an `http_trace` (the last one is omitted without).
const RAW_RECORD_KEYS: [&str; 16] = [
    "credit",
    "worker_id",
    "x_request_id",
    "credit_received_perf_ns",
    "request_start_ns",
    "start_perf_ns",
    "ack_perf_ns",
    "end_perf_ns",
    "status",
    "streaming",
    "responses",
    "error",
    "was_cancelled",
    "cancellation_perf_ns",
    "payload",
    "http_trace",
];

const ENDPOINT_KEYS: [&str; 8] = [
    "control",
    "event_frontend",
    "event_backend",
    "dataset",
    "credits",
    "raw_records_frontend",
    "raw_records_backend",
    "records",
];

/// Every sample, encoded.
pub fn all() -> Vec<Sample> {
    let mut out = Vec::new();
    let tagged = |v: &'static str| Some((TAG, v));

    let control_keys: [(&str, &[&str]); 9] = [
        (
            "register",
            &[TAG, "protocol_version", "service_id", "service_type", "pid"],
        ),
        ("heartbeat", &[TAG, "service_id", "state"]),
        (
            "command_response",
            &[TAG, "service_id", "command_id", "status", "error"],
        ),
        (
            "command_response",
            &[TAG, "service_id", "command_id", "status", "error"],
        ),
        ("bus_ready", &[TAG, "service_id", "nonce"]),
        ("spawn_workers", &[TAG, "service_id", "num_workers"]),
        ("service_failed", &[TAG, "service_id", "error"]),
        ("results", &[TAG, "service_id", "results"]),
        ("server_metrics", &[TAG, "service_id", "results"]),
    ];
    for ((name, m), (tag, keys)) in to_controller().into_iter().zip(control_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    let from_keys: [(&str, &[&str]); 6] = [
        ("welcome", &[TAG, "protocol_version", "endpoints"]),
        ("rejected", &[TAG, "reason"]),
        ("command", &[TAG, "command_id", "command"]),
        ("command", &[TAG, "command_id", "command"]),
        ("command", &[TAG, "command_id", "command"]),
        ("command", &[TAG, "command_id", "command"]),
    ];
    for ((name, m), (tag, keys)) in from_controller().into_iter().zip(from_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }

    let mut credit_keys = vec![TAG];
    credit_keys.extend(CREDIT_KEYS);
    let to_worker_keys: [(&str, &[&str]); 2] = [
        ("credit", &credit_keys),
        ("cancel_credits", &[TAG, "phase", "ids"]),
    ];
    for ((name, m), (tag, keys)) in to_worker().into_iter().zip(to_worker_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    let return_keys: &[&str] = &[TAG, "phase", "credit_id", "cancelled", "error", "worker_id"];
    let from_worker_keys: [(&str, &[&str]); 4] = [
        ("worker_ready", &[TAG, "worker_id"]),
        ("first_token", &[TAG, "phase", "credit_id"]),
        ("credit_return", return_keys),
        ("credit_return", return_keys),
    ];
    for ((name, m), (tag, keys)) in from_worker().into_iter().zip(from_worker_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    out.push(sample("credit", &credit(), None, Some(&CREDIT_KEYS)));

    let request_keys: [(&str, &[&str]); 3] = [
        ("conversations", &[TAG, "request_id", "ids"]),
        ("conversations", &[TAG, "request_id", "ids"]),
        ("timing", &[TAG, "request_id"]),
    ];
    for ((name, m), (tag, keys)) in dataset_requests().into_iter().zip(request_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    let reply_keys: [(&str, &[&str]); 3] = [
        ("conversations", &[TAG, "request_id", "conversations"]),
        ("timing", &[TAG, "request_id", "conversations", "sampling"]),
        ("error", &[TAG, "request_id", "message"]),
    ];
    for ((name, m), (tag, keys)) in dataset_replies().into_iter().zip(reply_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    out.push(sample(
        "conversation",
        &conversation(),
        None,
        Some(&["id", "system_message", "user_context", "turns"]),
    ));

    let phase_keys: &[&str] = &[TAG, "phase", "stats"];
    let event_keys: [(&str, &[&str]); 9] = [
        ("bus_probe", &[TAG, "nonce"]),
        ("phase_started", phase_keys),
        ("phase_progress", phase_keys),
        ("phase_sending_complete", phase_keys),
        ("phase_complete", phase_keys),
        ("credits_complete", &[TAG]),
        ("records_progress", &[TAG, "phase", "records", "errors"]),
        ("record_backlog", &[TAG, "phase", "worker_id", "backlog"]),
        (
            "records_taken",
            &[TAG, "record_processor_id", "worker_id", "taken"],
        ),
    ];
    for ((name, m), (tag, keys)) in events().into_iter().zip(event_keys) {
        out.push(sample(name, &m, tagged(tag), Some(keys)));
    }
    out.push(sample(
        "phase_stats_rate",
        &phase_stats_rate(),
        None,
        Some(&STATS_ALL),
    ));
    out.push(sample(
        "phase_stats_closed_loop",
        &phase_stats_minimal(),
        None,
        Some(&STATS_ALL[..11]),
    ));

    for (name, r) in raw_records() {
        let keys = if r.http_trace.is_some() {
            &RAW_RECORD_KEYS[..]
        } else {
            &RAW_RECORD_KEYS[..15]
        };
        out.push(sample(name, &r, None, Some(keys)));
    }
    let record_keys: &[&str] = &["metadata", "metrics", "error", "raw_json"];
    for (name, r) in metric_records() {
        out.push(sample(name, &r, None, Some(record_keys)));
    }
    out.push(sample(
        "profile_results",
        &profile_results(),
        None,
        Some(&["profiling", "warmup", "was_cancelled", "is_complete"]),
    ));
    let error_keys: [&[&str]; 2] = [
        &["code", "type", "message"],
        &["code", "type", "message", "cause", "cause_chain", "details"],
    ];
    for ((name, e), keys) in errors().into_iter().zip(error_keys) {
        out.push(sample(name, &e, None, Some(keys)));
    }
    for (name, e) in endpoints() {
        out.push(sample(name, &e, None, Some(&ENDPOINT_KEYS)));
    }
    out.push(sample("service_types", &service_types(), None, None));
    out.push(sample("service_states", &service_states(), None, None));
    out.push(sample("phases", &phases(), None, None));
    out.push(sample(
        "sampling_strategies",
        &sampling_strategies(),
        None,
        None,
    ));
    out.push(sample("command_statuses", &command_statuses(), None, None));
    out.push(sample("load_modes", &load_modes(), None, None));
    out.push(sample("metric_kinds", &metric_kinds(), None, None));
    out
}

pub fn metric_kinds() -> Vec<MetricKind> {
    vec![
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Histogram,
        MetricKind::Summary,
        MetricKind::Untyped,
    ]
}
