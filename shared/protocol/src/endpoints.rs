//! Addresses of every socket of a run.
//!
//! Only the control address has to be known in advance; the controller tells every
//! service the rest in its [`crate::control::FromController::Welcome`] reply.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every bound address of a run. Who binds what is fixed (see `docs/architecture.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Controller ROUTER: registration, heartbeats, commands, results.
    pub control: String,
    /// Event-bus proxy XSUB side: services' PUB sockets connect here.
    pub event_frontend: String,
    /// Event-bus proxy XPUB side: services' SUB sockets connect here.
    pub event_backend: String,
    /// Dataset manager ROUTER: conversation requests.
    pub dataset: String,
    /// Timing manager ROUTER: credits out, credit returns in.
    pub credits: String,
    /// Raw-record proxy PULL side: workers' PUSH sockets connect here.
    pub raw_records_frontend: String,
    /// Raw-record proxy PUSH side: record processors' PULL sockets connect here.
    pub raw_records_backend: String,
    /// Records manager PULL: metric records from record processors.
    pub records: String,
}

/// Offsets from the TCP base port; with the default base (5557) they give AIPerf's ports.
const TCP_OFFSETS: [(&str, u16); 8] = [
    ("records", 0),
    ("credits", 7),
    ("dataset", 104),
    ("event_frontend", 106),
    ("event_backend", 107),
    ("raw_records_frontend", 108),
    ("raw_records_backend", 109),
    ("control", 110),
];

/// Default TCP base port (AIPerf's records port).
pub const DEFAULT_TCP_BASE_PORT: u16 = 5557;

impl Endpoints {
    /// `ipc://` sockets in `dir` (one file per socket).
    pub fn ipc(dir: &Path) -> Endpoints {
        let p = |name: &str| format!("ipc://{}/{}.ipc", dir.display(), name);
        Endpoints {
            control: p("control"),
            event_frontend: p("event_bus_frontend"),
            event_backend: p("event_bus_backend"),
            dataset: p("dataset"),
            credits: p("credit_router"),
            raw_records_frontend: p("raw_inference_frontend"),
            raw_records_backend: p("raw_inference_backend"),
            records: p("records_push_pull"),
        }
    }

    /// `tcp://host:port` sockets at `base_port + offset`.
    pub fn tcp(host: &str, base_port: u16) -> Endpoints {
        let p = |name: &str| {
            let off = TCP_OFFSETS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, o)| *o)
                .unwrap_or(0);
            format!("tcp://{}:{}", host, base_port + off)
        };
        Endpoints {
            control: p("control"),
            event_frontend: p("event_frontend"),
            event_backend: p("event_backend"),
            dataset: p("dataset"),
            credits: p("credits"),
            raw_records_frontend: p("raw_records_frontend"),
            raw_records_backend: p("raw_records_backend"),
            records: p("records"),
        }
    }

    /// The control address of an IPC run in `dir`.
    pub fn ipc_control(dir: &Path) -> String {
        Endpoints::ipc(dir).control
    }

    /// The control address of a TCP run.
    pub fn tcp_control(host: &str, base_port: u16) -> String {
        Endpoints::tcp(host, base_port).control
    }
}
