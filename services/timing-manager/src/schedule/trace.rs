//! Fixed schedule (`docs/load-modes.md` §3): each conversation of a timestamped
//! trace once, its first turn at `t0 + timestamp`, later turns at their timestamp
//! (or `delay` after the previous return); `--concurrency` is a ceiling (the
//! credit waits for a slot).

use super::{Schedule, next_due};
use crate::phase::state::{Pending, PhaseState, Session};
use aiperf_protocol::dataset::ConversationTiming;
use std::time::{Duration, Instant};

/// The trace-replay schedule.
pub(crate) struct Trace {
    /// Turns in the trace.
    rows: u64,
    /// The trace's own average rate: rows over the span of their timestamps.
    rate: Option<f64>,
}

impl Trace {
    pub fn new(dataset: &[ConversationTiming]) -> Self {
        let rows = dataset.iter().map(|c| c.turns.len().max(1) as u64).sum();
        let span_ms = dataset
            .iter()
            .flat_map(|c| c.turns.iter().filter_map(|t| t.timestamp_ms))
            .fold(0.0f64, f64::max);
        Trace {
            rows,
            rate: (span_ms > 0.0).then(|| rows as f64 / (span_ms / 1000.0)),
        }
    }
}

fn at_ms(start: Instant, ms: f64) -> Instant {
    start + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

impl Schedule for Trace {
    fn target_rate(&self) -> Option<f64> {
        self.rate
    }

    fn expected_requests(&self, _request_count: Option<u64>) -> Option<u64> {
        Some(self.rows)
    }

    fn plan(&mut self, state: &mut PhaseState<'_>) {
        for (i, c) in state.dataset.iter().enumerate() {
            let ts = c.turns.first().and_then(|t| t.timestamp_ms).unwrap_or(0.0);
            let s = Session {
                conversation: i,
                x_correlation_id: format!("fixed-schedule-{}", c.id),
                next_turn: 0,
                num_turns: c.turns.len().max(1) as u32,
                last_scheduled: None,
            };
            state.waiting.push(at_ms(state.start, ts), s);
        }
    }

    fn next_credit(&mut self, state: &mut PhaseState<'_>, now: Instant) -> Option<Pending> {
        next_due(state, now)
    }

    fn continuation_at(
        &self,
        state: &PhaseState<'_>,
        session: &mut Session,
        now: Instant,
    ) -> Instant {
        let turn = state.dataset[session.conversation]
            .turns
            .get(session.next_turn as usize);
        match turn.and_then(|t| t.timestamp_ms) {
            Some(ts) => at_ms(state.start, ts).max(now),
            None => now + state.next_turn_delay(session),
        }
    }

    fn exhausted(&self, state: &PhaseState<'_>) -> bool {
        state.drained()
    }
}
