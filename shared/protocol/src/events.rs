//! Event bus messages (PUB/SUB through the controller's XSUB/XPUB proxy).
//!
//! Every message is sent as two frames: a topic (the event name followed by `$`,
//! so subscribers can filter by prefix) and the MessagePack body.

use crate::{Phase, load::LoadMode};
use serde::{Deserialize, Serialize};

/// Counters of one credit phase, as the timing manager sees them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    /// Credits issued so far.
    pub sent: u64,
    /// Credits returned (with or without error), excluding cancelled credits.
    pub completed: u64,
    /// Credits cancelled by the timing manager (no record will come for them).
    pub cancelled: u64,
    /// Credits returned with an error.
    pub errors: u64,
    /// Credits issued and not yet returned.
    pub in_flight: u64,
    /// Wall clock (ns) when the phase started issuing.
    pub start_ns: u64,
    /// Wall clock (ns) when sending stopped, once known.
    pub sending_end_ns: Option<u64>,
    /// Wall clock (ns) of the last credit return, once the phase is complete.
    pub end_ns: Option<u64>,
    /// Requests the phase will send, when known in advance.
    pub expected_requests: Option<u64>,
    /// Phase duration limit in seconds, when set.
    pub expected_duration_s: Option<f64>,
    /// The grace period expired with requests still in flight.
    pub grace_period_timeout_triggered: bool,
    /// How the phase schedules requests (a snake_case string on the wire:
    /// `concurrency`, `request_rate`, `fixed_schedule` or `user_centric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_mode: Option<LoadMode>,
    /// The request rate the schedule aims at (req/s), for open-loop modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
}

/// A broadcast event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum Event {
    /// Controller checks that every service's subscription is live.
    BusProbe {
        /// Echoed back in `BusReady`.
        nonce: u64,
    },
    /// Timing manager: a phase started issuing credits.
    PhaseStarted {
        /// Which phase.
        phase: Phase,
        /// Counters.
        stats: PhaseStats,
    },
    /// Timing manager: periodic counters (drives the progress display).
    PhaseProgress {
        /// Which phase.
        phase: Phase,
        /// Counters.
        stats: PhaseStats,
    },
    /// Timing manager: no more credits will be issued in this phase; `stats.sent` is final.
    PhaseSendingComplete {
        /// Which phase.
        phase: Phase,
        /// Counters.
        stats: PhaseStats,
    },
    /// Timing manager: every credit of the phase has returned (or was cancelled).
    PhaseComplete {
        /// Which phase.
        phase: Phase,
        /// Final counters.
        stats: PhaseStats,
    },
    /// Timing manager: all phases are done.
    CreditsComplete,
    /// Records manager: records processed so far.
    RecordsProgress {
        /// Which phase.
        phase: Phase,
        /// Records received (valid + error).
        records: u64,
        /// Of which errors.
        errors: u64,
    },
    /// Worker: how far its raw records waited to be handed to the record stage in
    /// a phase (cumulative; published when it changes, at most a few times a second).
    RecordBacklog {
        /// Which phase.
        phase: Phase,
        /// The worker's service id.
        worker_id: String,
        /// Counters so far.
        backlog: RecordBacklog,
    },
    /// Record processor: how many raw records of one worker it has taken in so far
    /// (cumulative; published when it changes, at most every 50 ms, and repeated
    /// every second). Workers bound the records they have pushed and no processor
    /// has taken yet (their record window).
    RecordsTaken {
        /// The record processor's service id.
        record_processor_id: String,
        /// The worker whose records these are.
        worker_id: String,
        /// Records of that worker taken in by this processor.
        taken: u64,
    },
}

/// A worker's raw-record hand-off counters for one phase: its bounded record queue
/// and the credit returns it held back while the queue was full (record processing
/// fell behind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBacklog {
    /// Capacity of the worker's record queue.
    pub capacity: u32,
    /// Most records ever waiting in the queue when a record was handed over
    /// (never above `capacity`).
    pub peak_queued: u32,
    /// Credits whose return waited for room in the queue.
    pub held_back_credits: u64,
    /// Total time (ns) those returns waited.
    pub held_back_ns: u64,
}

impl Event {
    /// The phase and counters carried by a phase event (started, progress,
    /// sending complete, complete); `None` for other events.
    pub fn phase_stats(&self) -> Option<(Phase, &PhaseStats)> {
        match self {
            Event::PhaseStarted { phase, stats }
            | Event::PhaseProgress { phase, stats }
            | Event::PhaseSendingComplete { phase, stats }
            | Event::PhaseComplete { phase, stats } => Some((*phase, stats)),
            _ => None,
        }
    }

    /// The topic frame of this event.
    pub fn topic(&self) -> &'static str {
        match self {
            Event::BusProbe { .. } => "bus_probe$",
            Event::PhaseStarted { .. } => "phase_started$",
            Event::PhaseProgress { .. } => "phase_progress$",
            Event::PhaseSendingComplete { .. } => "phase_sending_complete$",
            Event::PhaseComplete { .. } => "phase_complete$",
            Event::CreditsComplete => "credits_complete$",
            Event::RecordsProgress { .. } => "records_progress$",
            Event::RecordBacklog { .. } => "record_backlog$",
            Event::RecordsTaken { .. } => "records_taken$",
        }
    }
}
