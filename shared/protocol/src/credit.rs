//! Credit channel: the timing manager's ROUTER and each worker's DEALER
//! (identity = worker service id). Credits go down; readiness, first-token
//! notices and credit returns come up on the same socket pair.

use crate::Phase;
use serde::{Deserialize, Serialize};

/// Permission to send exactly one request (one turn of a conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// Sequential per phase, 0-based; exported as `session_num`.
    pub id: u64,
    /// Phase of the credit.
    pub phase: Phase,
    /// Dataset conversation to take the turn from.
    pub conversation_id: String,
    /// Session instance id, sent as `X-Correlation-ID`.
    pub x_correlation_id: String,
    /// 0-based turn index within the conversation.
    pub turn_index: u32,
    /// Number of turns in this session.
    pub num_turns: u32,
    /// Wall clock (ns) when the credit was issued.
    pub issued_at_ns: u64,
    /// Wall clock (ns) when the schedule wanted the request to go (open-loop modes).
    pub scheduled_at_ns: Option<u64>,
    /// Abort the request this many ns after it was fully sent (request cancellation).
    pub cancel_after_ns: Option<u64>,
}

/// Timing manager → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Send one request.
    Credit(Credit),
    /// Abort these in-flight credits (phase deadline, Ctrl-C); they produce no record.
    CancelCredits {
        /// Phase of the credits.
        phase: Phase,
        /// Credit ids to abort.
        ids: Vec<u64>,
    },
}

/// Worker → timing manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker is connected and can take credits.
    WorkerReady {
        /// The worker's service id (also its socket identity).
        worker_id: String,
    },
    /// First content token of a credit's response arrived (prefill concurrency).
    FirstToken {
        /// Phase of the credit.
        phase: Phase,
        /// Credit id.
        credit_id: u64,
    },
    /// The credit is done; sent exactly once per credit, whatever happened.
    CreditReturn {
        /// Phase of the credit.
        phase: Phase,
        /// Credit id.
        credit_id: u64,
        /// The credit was aborted by `CancelCredits`: no record follows.
        cancelled: bool,
        /// The request ended in an error (its record is an error record).
        error: Option<String>,
        /// Worker that ran it.
        worker_id: String,
    },
}
