//! The schedules of a phase (`docs/load-modes.md` §1–§4): each decides when the
//! next credit may go and owns the state that decision needs; the
//! [`crate::phase::PhaseRunner`] owns what they share ([`PhaseState`]).
//!
//! * [`closed_loop`] — a new session as soon as a session slot is free; queued
//!   continuation turns go first.
//! * [`rate`] — one credit per tick of an absolute arrival schedule.
//! * [`trace`] — every conversation of a timestamped trace once, at its timestamps.
//! * [`users`] — user-centric: `U` users share a rate `Q`, one turn every `U/Q`.

mod closed_loop;
mod rate;
mod trace;
mod users;

use crate::phase::state::{Pending, PhaseState, Session};
use aiperf_config::Pacing;
use aiperf_protocol::dataset::ConversationTiming;
use std::time::{Duration, Instant};

/// One way of deciding send times.
pub(crate) trait Schedule: Send {
    /// The target rate reported in phase stats.
    fn target_rate(&self) -> Option<f64> {
        None
    }

    /// Requests the phase expects to send (`None` = unknown).
    fn expected_requests(&self, request_count: Option<u64>) -> Option<u64> {
        request_count
    }

    /// Whether credits go on a schedule (send-ahead applies without limits).
    fn scheduled(&self) -> bool {
        true
    }

    /// Whether waiting turns are collected ahead of their time (send-ahead). A
    /// rate schedule's continuation waits for its think time, then for a tick.
    fn waiting_goes_ahead(&self) -> bool {
        true
    }

    /// Sets the schedule up at the phase start (`state.start` is t0).
    fn plan(&mut self, _state: &mut PhaseState<'_>) {}

    /// Called once per pump before credits are taken: moves the schedule's own
    /// items due by `horizon` into the state's queues, applies ramps.
    fn prepare(&mut self, _state: &mut PhaseState<'_>, _now: Instant, _horizon: Instant) {}

    /// The next credit that may go at `now`, if any. The runner issues it and asks
    /// again until this returns `None`.
    fn next_credit(&mut self, state: &mut PhaseState<'_>, now: Instant) -> Option<Pending>;

    /// When `session`'s next turn (after a return at `now`) comes due.
    fn continuation_at(
        &self,
        state: &PhaseState<'_>,
        session: &mut Session,
        now: Instant,
    ) -> Instant {
        now + state.next_turn_delay(session)
    }

    /// No new session can ever start and the schedule holds nothing back.
    fn exhausted(&self, state: &PhaseState<'_>) -> bool;

    /// Sending is over: drop what the schedule holds.
    fn stop(&mut self) {}

    /// The next moment the schedule itself needs to act (`early` maps a due time to
    /// its send-ahead wake-up).
    fn next_wake(&self, _early: &dyn Fn(Instant) -> Instant) -> Option<Instant> {
        None
    }

    /// The next moment (since t0) a ramp of the schedule changes the pace.
    fn next_ramp_change(&self, _elapsed: Duration) -> Option<Duration> {
        None
    }
}

/// The schedule of a phase's pacing.
pub(crate) fn for_pacing(pacing: Pacing, dataset: &[ConversationTiming]) -> Box<dyn Schedule> {
    match pacing {
        Pacing::ClosedLoop => Box::new(closed_loop::ClosedLoop),
        Pacing::Rate(rate) => Box::new(rate::Rate::new(rate)),
        Pacing::FixedSchedule => Box::new(trace::Trace::new(dataset)),
        Pacing::UserCentric { rate, num_users } => Box::new(users::Users::new(rate, num_users)),
    }
}

/// Takes the next due turn of a scheduled mode: continuations first (they hold a
/// session slot already), then first turns when a session slot is free.
pub(crate) fn next_due(state: &mut PhaseState<'_>, now: Instant) -> Option<Pending> {
    if !state.budget_left() || !state.prefill_free(now) {
        return None;
    }
    if let Some(p) = state.due_turns.pop_front() {
        return Some(p);
    }
    if state.slot_free(now) {
        return state.due_new.pop_front();
    }
    None
}
