//! Control channel: each service's DEALER (identity = service id) talks to the
//! controller's ROUTER. Registration, heartbeats, commands and their responses,
//! and the final results travel here because they must not be lost.

use crate::{
    Endpoints, ServiceType, document::ConfigDocument, results::ProfileResults,
    server_metrics::ServerMetricsResults,
};
use serde::{Deserialize, Serialize};

/// Lifecycle state a service reports in its heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Registered, waiting for its configuration.
    Initialized,
    /// Configured, waiting for the start command.
    Ready,
    /// Running the benchmark.
    Running,
    /// Shutting down.
    Stopping,
    /// Failed; see the accompanying error.
    Failed,
}

/// A command from the controller to a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Prepare for the run with this configuration (dataset built, tokenizer loaded, ...).
    Configure {
        /// The fully resolved user configuration, as a nested map keyed by its
        /// field names (see [`ConfigDocument`]).
        config: ConfigDocument,
    },
    /// Start the run (the timing manager starts issuing credits).
    Start,
    /// Cancel the run: stop issuing, abort in-flight requests, finalise partial results.
    Cancel {
        /// Why (shown to the user).
        reason: String,
    },
    /// Exit.
    Shutdown,
}

impl Command {
    /// Short name for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Configure { .. } => "configure",
            Command::Start => "start",
            Command::Cancel { .. } => "cancel",
            Command::Shutdown => "shutdown",
        }
    }
}

/// Outcome of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Done.
    Success,
    /// Failed; `error` says why.
    Failure,
}

/// Messages from a service to the controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum ToController {
    /// First message of every service.
    Register {
        /// Must equal [`crate::PROTOCOL_VERSION`].
        protocol_version: u32,
        /// Unique id, e.g. `worker_503afa03`.
        service_id: String,
        /// What the service is.
        service_type: ServiceType,
        /// OS process id.
        pid: u32,
    },
    /// Liveness, sent every heartbeat interval.
    Heartbeat {
        /// Sender.
        service_id: String,
        /// Current state.
        state: ServiceState,
    },
    /// Reply to a [`FromController::Command`].
    CommandResponse {
        /// Sender.
        service_id: String,
        /// The command's id.
        command_id: u64,
        /// Outcome.
        status: CommandStatus,
        /// Failure reason.
        error: Option<String>,
    },
    /// The service received the bus probe with this nonce: its SUB socket is live.
    BusReady {
        /// Sender.
        service_id: String,
        /// Nonce of the [`crate::events::Event::BusProbe`].
        nonce: u64,
    },
    /// Worker manager asks the controller to start this many workers.
    SpawnWorkers {
        /// Sender.
        service_id: String,
        /// Number of workers wanted.
        num_workers: usize,
    },
    /// A fatal error inside a service; the run fails with this message.
    ServiceFailed {
        /// Sender.
        service_id: String,
        /// What went wrong and what to do.
        error: String,
    },
    /// Records manager: final results of the run.
    Results {
        /// Sender.
        service_id: String,
        /// The results.
        results: Box<ProfileResults>,
    },
    /// Server metrics manager: the statistics of the scraped server metrics, once
    /// the final scrape is done (or at once, partial, on `cancel`).
    ServerMetrics {
        /// Sender.
        service_id: String,
        /// The statistics.
        results: Box<ServerMetricsResults>,
    },
}

/// Messages from the controller to one service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum FromController {
    /// Reply to `Register`: the addresses of every other socket.
    Welcome {
        /// Controller's protocol version.
        protocol_version: u32,
        /// Where everything is.
        endpoints: Endpoints,
    },
    /// Registration refused (e.g. protocol mismatch, unexpected service).
    Rejected {
        /// Why.
        reason: String,
    },
    /// A command to run; answer with `CommandResponse` carrying the same id.
    Command {
        /// Correlates the response.
        command_id: u64,
        /// What to do.
        command: Command,
    },
}
