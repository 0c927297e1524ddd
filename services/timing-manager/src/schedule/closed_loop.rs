//! Closed loop (`docs/load-modes.md` §1): a new session starts as soon as a session
//! slot is free; queued continuation turns go first. Credits carry no scheduled time.

use super::Schedule;
use crate::phase::state::{Pending, PhaseState};
use std::time::Instant;

/// The closed-loop schedule (no state of its own).
pub(crate) struct ClosedLoop;

impl Schedule for ClosedLoop {
    fn scheduled(&self) -> bool {
        false
    }

    fn waiting_goes_ahead(&self) -> bool {
        false
    }

    fn next_credit(&mut self, state: &mut PhaseState<'_>, now: Instant) -> Option<Pending> {
        if state.budget_left() && state.prefill_free(now) {
            if let Some((s, _)) = state.due_turns.pop_front() {
                return Some((s, None));
            }
            if state.new_session_allowed() && state.slot_free(now) {
                return Some((state.new_session(), None));
            }
        }
        None
    }

    fn exhausted(&self, state: &PhaseState<'_>) -> bool {
        state.sessions_exhausted() && state.drained()
    }
}
