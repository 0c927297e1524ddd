//! The message catalogue of aiperf-rs: every type that crosses a ZeroMQ socket
//! between services, and the codec that puts it on the wire.
//!
//! This crate is the contract between services. A custom implementation of any
//! service (in any language) only has to speak these messages, encoded as
//! MessagePack maps (field names, not positions) — see `docs/architecture.md`.
//!
//! Channels and the message type each one carries:
//!
//! | channel | pattern | type |
//! |---|---|---|
//! | control | service DEALER → controller ROUTER | [`control::ToController`] / [`control::FromController`] |
//! | event bus | PUB → XSUB/XPUB proxy → SUB | [`events::Event`] |
//! | dataset | client DEALER → dataset manager ROUTER | [`dataset::DatasetRequest`] / [`dataset::DatasetReply`] |
//! | credits | timing manager ROUTER ↔ worker DEALER | [`credit::ToWorker`] / [`credit::FromWorker`] |
//! | raw records | worker PUSH → proxy → record processor PULL | [`record::RawRecord`] |
//! | records | record processor PUSH → records manager PULL | [`record::MetricRecord`] |
//!
//! [`server_metrics`] holds the server metrics manager's report, sent on the control channel.

pub mod codec;
pub mod control;
pub mod credit;
pub mod dataset;
pub mod document;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod load;
pub mod record;
pub mod results;
pub mod server_metrics;

pub use codec::{CodecError, decode, encode};
pub use document::ConfigDocument;
pub use endpoints::Endpoints;
pub use error::ErrorDetails;
pub use load::LoadMode;

/// Version of the message schema. Bumped on any incompatible change; a service
/// whose version differs is refused at registration.
pub const PROTOCOL_VERSION: u32 = 2;

/// Benchmark phase a credit, record or event belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Requests sent before measurement to warm the server up; never in the main metrics.
    Warmup,
    /// The measured phase.
    Profiling,
}

impl Phase {
    /// The name used in exports (`benchmark_phase`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Profiling => "profiling",
        }
    }
}

/// The kinds of service in a run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// Owns the run: config, spawning, lifecycle, exports.
    SystemController,
    /// Builds the dataset and serves conversations.
    DatasetManager,
    /// Decides when each request goes (issues credits).
    TimingManager,
    /// Decides how many workers run and watches their health.
    WorkerManager,
    /// Sends requests to the model server.
    Worker,
    /// Turns raw responses into per-request metrics.
    RecordProcessor,
    /// Aggregates metric records, writes per-request exports, computes summaries.
    RecordsManager,
    /// Scrapes the inference server's Prometheus metrics during the run.
    ServerMetricsManager,
}

impl ServiceType {
    /// All service types a run may contain, in start-up order.
    pub const ALL: [ServiceType; 7] = [
        ServiceType::DatasetManager,
        ServiceType::TimingManager,
        ServiceType::WorkerManager,
        ServiceType::RecordsManager,
        ServiceType::RecordProcessor,
        ServiceType::Worker,
        ServiceType::ServerMetricsManager,
    ];

    /// snake_case name, as used in service ids and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::SystemController => "system_controller",
            ServiceType::DatasetManager => "dataset_manager",
            ServiceType::TimingManager => "timing_manager",
            ServiceType::WorkerManager => "worker_manager",
            ServiceType::Worker => "worker",
            ServiceType::RecordProcessor => "record_processor",
            ServiceType::RecordsManager => "records_manager",
            ServiceType::ServerMetricsManager => "server_metrics_manager",
        }
    }

    /// Parses `worker`, `record-processor` or `record_processor` style names.
    pub fn parse(name: &str) -> Option<ServiceType> {
        let norm = name.trim().replace('-', "_");
        [ServiceType::SystemController]
            .into_iter()
            .chain(ServiceType::ALL)
            .find(|t| t.as_str() == norm)
    }

    /// A fresh service id such as `worker_503afa03`.
    pub fn new_id(self) -> String {
        format!("{}_{}", self.as_str(), short_hex_id(8))
    }
}

impl std::fmt::Display for ServiceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `n` random lowercase hex characters (from the OS-seeded std hasher).
pub fn short_hex_id(n: usize) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}
