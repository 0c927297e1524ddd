//! User-centric rate (`docs/load-modes.md` §4): users fire at `t0 + order·stagger`
//! (virtual history, [`crate::user_centric`]), then one turn every `U/Q` after
//! their previous scheduled turn (never before the previous response); each user
//! schedules its replacement.

use super::{Schedule, next_due};
use crate::{
    phase::state::{DueQueue, Pending, PhaseState, Session},
    user_centric::initial_users,
};
use std::time::{Duration, Instant};

/// A user not due yet; its conversation is sampled when it comes due.
#[derive(Debug, PartialEq, Eq)]
struct User {
    /// Initial users have their id; replacements get the next id when they spawn.
    user_id: Option<u64>,
    turns: u32,
}

/// The user-centric schedule.
pub(crate) struct Users {
    /// Total rate Q (req/s).
    rate: f64,
    /// Number of users U.
    num_users: usize,
    /// `U/Q`: the gap between a user's turns.
    turn_gap: Duration,
    next_user_id: u64,
    /// Turns granted to a replacement user.
    user_turns: u32,
    pending: DueQueue<User>,
}

impl Users {
    pub fn new(rate: f64, num_users: usize) -> Self {
        Users {
            rate,
            num_users,
            turn_gap: Duration::ZERO,
            next_user_id: 0,
            user_turns: 1,
            pending: DueQueue::new(),
        }
    }
}

impl Schedule for Users {
    fn target_rate(&self) -> Option<f64> {
        Some(self.rate)
    }

    fn plan(&mut self, state: &mut PhaseState<'_>) {
        let dataset = state.dataset;
        let avg_turns = dataset.iter().map(|c| c.turns.len().max(1)).sum::<usize>() as f64
            / dataset.len().max(1) as f64;
        self.user_turns = (avg_turns.round() as u32).max(1);
        let stagger = Duration::from_secs_f64(1.0 / self.rate);
        self.turn_gap = Duration::from_secs_f64(self.num_users as f64 / self.rate);
        self.next_user_id = self.num_users as u64 + 2;
        for u in initial_users(self.num_users as u64, self.user_turns) {
            self.pending.push(
                state.start + stagger.mul_f64(u.order as f64),
                User {
                    user_id: Some(u.user_id),
                    turns: u.turns,
                },
            );
        }
    }

    /// Spawns the users due by `horizon`: each samples its conversation and
    /// schedules its replacement on an absolute schedule.
    fn prepare(&mut self, state: &mut PhaseState<'_>, _now: Instant, horizon: Instant) {
        while let Some((at, user)) = self.pending.pop_due(horizon) {
            let user_id = user.user_id.unwrap_or_else(|| {
                self.next_user_id += 1;
                self.next_user_id - 1
            });
            let replacement = at + self.turn_gap.mul_f64(user.turns as f64);
            self.pending.push(
                replacement,
                User {
                    user_id: None,
                    turns: self.user_turns,
                },
            );
            let conversation = state.sampler.next_index();
            let available = state.dataset[conversation].turns.len().max(1) as u32;
            let s = Session {
                conversation,
                x_correlation_id: user_id.to_string(),
                next_turn: 0,
                num_turns: user.turns.min(available).max(1),
                last_scheduled: Some(at),
            };
            state.due_new.push_back((s, Some(at)));
        }
    }

    fn next_credit(&mut self, state: &mut PhaseState<'_>, now: Instant) -> Option<Pending> {
        next_due(state, now)
    }

    fn continuation_at(
        &self,
        _state: &PhaseState<'_>,
        session: &mut Session,
        now: Instant,
    ) -> Instant {
        let at = session
            .last_scheduled
            .map(|l| (l + self.turn_gap).max(now))
            .unwrap_or(now);
        session.last_scheduled = Some(at);
        at
    }

    /// Users keep coming until the window or a count ends the phase.
    fn exhausted(&self, _state: &PhaseState<'_>) -> bool {
        false
    }

    fn stop(&mut self) {
        self.pending.clear();
    }

    fn next_wake(&self, early: &dyn Fn(Instant) -> Instant) -> Option<Instant> {
        self.pending.peek_time().map(early)
    }
}
