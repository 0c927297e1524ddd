//! Request rate (`docs/load-modes.md` §2): one credit per tick of an absolute
//! schedule (`t0 + Σ intervals`), a queued continuation first, else a new session
//! **only if a session slot is free** (otherwise the tick is skipped, the 0.13
//! rule). A tick whose credit waits for a prefill slot holds the schedule.

use super::Schedule;
use crate::{
    arrivals::Arrivals,
    phase::{
        MAX_CATCHUP,
        state::{Pending, PhaseState},
    },
    ramp::RateRamp,
};
use aiperf_config::RateLoad;
use std::time::{Duration, Instant};

/// The open-loop rate schedule.
pub(crate) struct Rate {
    spec: RateLoad,
    arrivals: Option<Arrivals>,
    ramp: Option<RateRamp>,
    next_tick: Option<Instant>,
    last_tick: Instant,
    /// A tick's credit waiting for a prefill slot (holds the schedule).
    blocked: Option<Pending>,
}

impl Rate {
    pub fn new(spec: RateLoad) -> Self {
        Rate {
            spec,
            arrivals: None,
            ramp: None,
            next_tick: None,
            last_tick: Instant::now(),
            blocked: None,
        }
    }

    /// Applies the rate ramp: on a rate change the next arrival is re-planned.
    fn update_rate(&mut self, elapsed: Duration, now: Instant) {
        let (Some(ramp), Some(arrivals)) = (self.ramp, self.arrivals.as_mut()) else {
            return;
        };
        let rate = ramp.rate_at(elapsed);
        if (rate - arrivals.rate()).abs() > 1e-12 {
            arrivals.set_rate(rate);
            let next = self.last_tick + Duration::from_secs_f64(arrivals.next_interval());
            self.next_tick = Some(next.max(now));
        }
    }
}

impl Schedule for Rate {
    fn target_rate(&self) -> Option<f64> {
        Some(self.spec.rate)
    }

    fn waiting_goes_ahead(&self) -> bool {
        false
    }

    fn plan(&mut self, state: &mut PhaseState<'_>) {
        let r = self.spec;
        let ramp = r.ramp.map(|d| RateRamp {
            target: r.rate,
            duration: d,
        });
        let rate = ramp.map(|x| x.rate_at(Duration::ZERO)).unwrap_or(r.rate);
        let name = format!("timing.arrivals.{}", state.spec.phase.as_str());
        let mut a = Arrivals::new(
            r.pattern,
            rate,
            r.smoothness,
            crate::rng(&name, state.dispatcher.seed()),
        );
        // The first credit goes at t0 + first interval, not at t0.
        self.last_tick = state.start;
        self.next_tick = Some(state.start + Duration::from_secs_f64(a.next_interval()));
        self.arrivals = Some(a);
        self.ramp = ramp;
    }

    fn prepare(&mut self, state: &mut PhaseState<'_>, now: Instant, _horizon: Instant) {
        self.update_rate(state.elapsed(now), now);
    }

    fn next_credit(&mut self, state: &mut PhaseState<'_>, now: Instant) -> Option<Pending> {
        loop {
            if !state.budget_left() {
                return None;
            }
            if let Some(p) = self.blocked.take() {
                if !state.prefill_free(now) {
                    self.blocked = Some(p);
                    return None;
                }
                return Some(p);
            }
            let horizon = state.horizon(now);
            let tick = self.next_tick.filter(|t| *t <= horizon)?;
            let arrivals = self.arrivals.as_mut().expect("planned");
            let mut next = tick + Duration::from_secs_f64(arrivals.next_interval());
            if now > next + MAX_CATCHUP {
                next = now;
            }
            self.next_tick = Some(next);
            self.last_tick = tick;
            // One credit per tick: a queued continuation first, else a new session
            // if a slot is free; otherwise the tick is skipped.
            let picked = if let Some((s, _)) = state.due_turns.pop_front() {
                Some(s)
            } else if state.new_session_allowed() && state.slot_free(now) {
                Some(state.new_session())
            } else {
                None
            };
            if let Some(s) = picked {
                if state.prefill_free(now) {
                    return Some((s, Some(tick)));
                }
                self.blocked = Some((s, Some(tick)));
            }
        }
    }

    fn exhausted(&self, state: &PhaseState<'_>) -> bool {
        state.sessions_exhausted() && self.blocked.is_none() && state.drained()
    }

    fn stop(&mut self) {
        self.blocked = None;
    }

    fn next_wake(&self, early: &dyn Fn(Instant) -> Instant) -> Option<Instant> {
        if self.blocked.is_some() {
            None
        } else {
            self.next_tick.map(early)
        }
    }

    fn next_ramp_change(&self, elapsed: Duration) -> Option<Duration> {
        self.ramp.and_then(|r| r.next_change(elapsed))
    }
}
