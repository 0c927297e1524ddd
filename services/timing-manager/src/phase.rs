//! One credit phase (warmup or profiling): decides when each credit goes.
//!
//! The loop reads straight through: wait for the next thing that can happen (a
//! schedule tick, a credit return, a first token, a think-time delay or a trace
//! timestamp coming due, a ramp step, the deadline, a cancel) → [`PhaseRunner::pump`]
//! issues whatever is now allowed → repeat until sending is complete and every
//! credit is back.
//!
//! The runner owns what every mode shares ([`state::PhaseState`]: credits in
//! flight, session and prefill slots, stop conditions, cancellation, stats); the
//! phase's [`crate::schedule`] (closed loop, rate, trace, users) owns its own
//! state and decides which credit may go next.
//!
//! Concurrency counts sessions (§2.3): a session holds its slot from its first
//! turn until its last turn returns. Prefill slots are held from issue until the
//! worker's `FirstToken` (or the return).
//!
//! Send-ahead: in the scheduled modes without a session or prefill limit, a credit
//! leaves [`SEND_AHEAD`] before its scheduled time. The worker builds the request
//! body at once and holds it on the precise timer until the time comes, so neither
//! the credit's trip nor the body's serialization (a 500 KB replayed prompt, a
//! burst of trace rows with one timestamp) delays the send. With a limit the
//! credit leaves at its time: a credit held early would occupy a slot it was not
//! yet due to take.

pub(crate) mod state;

use crate::{
    dispatch::Dispatcher,
    sampler::Sampler,
    schedule::{self, Schedule},
};
use aiperf_clock::{instant_of, mono_ns, punctual::Punctual, wall_ns};
use aiperf_config::PhaseLoad;
use aiperf_protocol::{
    Phase,
    credit::FromWorker,
    dataset::ConversationTiming,
    events::{Event, PhaseStats},
};
use aiperf_transport::Publisher;
use state::PhaseState;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long cancelled credits may take to come back before the phase is forced complete.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of progress events.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// A rate schedule that falls further behind than this is re-anchored (no catch-up burst).
pub const MAX_CATCHUP: Duration = Duration::from_millis(10);
/// How long before its scheduled time a credit is issued (see the module docs). A
/// Mooncake burst (up to 17 rows with one timestamp, prompts up to 500 KB) takes
/// milliseconds of body serialization on a busy 2-CPU client; with 10 ms the last
/// bodies of a burst were at times still being written when their time came.
pub const SEND_AHEAD: Duration = Duration::from_millis(25);
/// With send-ahead, the schedule wakes at most once per this interval and issues
/// every credit due by then (fewer wakeups at thousands of requests per second).
pub const SEND_BATCH: Duration = Duration::from_millis(1);

/// Runs one phase to completion.
pub struct PhaseRunner<'a> {
    state: PhaseState<'a>,
    schedule: Box<dyn Schedule>,
    publisher: &'a mut Publisher,
}

impl<'a> PhaseRunner<'a> {
    /// Prepares a phase over `dataset`.
    pub fn new(
        spec: PhaseLoad,
        dataset: &'a [ConversationTiming],
        sampler: &'a mut Sampler,
        dispatcher: &'a mut Dispatcher,
        publisher: &'a mut Publisher,
    ) -> Self {
        let schedule = schedule::for_pacing(spec.pacing, dataset);
        let unlimited = spec.concurrency.is_none() && spec.prefill_concurrency.is_none();
        let lead = if schedule.scheduled() && unlimited {
            SEND_AHEAD
        } else {
            Duration::ZERO
        };
        let stats = PhaseStats {
            expected_requests: schedule.expected_requests(spec.request_count),
            expected_duration_s: spec.duration.map(|d| d.as_secs_f64()),
            load_mode: Some(spec.pacing.mode()),
            target_rate: schedule.target_rate(),
            ..Default::default()
        };
        PhaseRunner {
            state: PhaseState::new(spec, dataset, sampler, dispatcher, stats, lead),
            schedule,
            publisher,
        }
    }

    async fn publish(&mut self, make: impl FnOnce(Phase, PhaseStats) -> Event) {
        let ev = make(self.state.spec.phase, self.state.stats.clone());
        if let Err(e) = self.publisher.publish(&ev).await {
            tracing::warn!("cannot publish a phase event: {e}");
        }
    }

    async fn finish_sending(&mut self) {
        if !self.state.sending_done {
            self.state.sending_done = true;
            self.state.stats.sending_end_ns = Some(wall_ns());
            self.state.clear_queues();
            self.schedule.stop();
            self.publish(|phase, stats| Event::PhaseSendingComplete { phase, stats })
                .await;
        }
    }

    /// Issues everything that may go at `now`, then checks the stop conditions.
    async fn pump(&mut self, now: Instant) -> Result<(), String> {
        if self.state.sending_done {
            return Ok(());
        }
        // Waiting items due up to this time are collected at `now`.
        let horizon = if self.schedule.waiting_goes_ahead() {
            self.state.horizon(now)
        } else {
            now
        };
        self.state.collect_due(horizon);
        self.schedule.prepare(&mut self.state, now, horizon);
        while let Some((session, at)) = self.schedule.next_credit(&mut self.state, now) {
            self.state.issue(session, at).await?;
        }
        if !self.state.budget_left() || self.schedule.exhausted(&self.state) {
            self.finish_sending().await;
        }
        Ok(())
    }

    /// A credit came back.
    fn on_return(
        &mut self,
        credit_id: u64,
        cancelled: bool,
        error: bool,
        worker_id: &str,
        now: Instant,
    ) {
        tracing::trace!(credit_id, cancelled, "credit returned");
        let st = &mut self.state;
        let Some(mut session) = st.in_flight.remove(&credit_id) else {
            tracing::warn!("unknown credit {credit_id} returned by {worker_id}");
            return;
        };
        st.prefill_holders.remove(&credit_id);
        st.dispatcher.returned(st.spec.phase, credit_id, worker_id);
        st.stats.in_flight -= 1;
        if cancelled {
            st.stats.cancelled += 1;
        } else {
            st.stats.completed += 1;
        }
        if error {
            st.stats.errors += 1;
        }
        session.next_turn += 1;
        if session.next_turn < session.num_turns && !st.sending_done && !cancelled {
            let at = self.schedule.continuation_at(st, &mut session, now);
            st.waiting.push(at, session);
        } else {
            st.active_sessions = st.active_sessions.saturating_sub(1);
            st.dispatcher.session_ended(&session.x_correlation_id);
        }
    }

    /// The next moment a ramp changes a limit or the rate.
    fn next_ramp_change(&self) -> Option<Instant> {
        let e = self.state.elapsed(Instant::now());
        let limits = self.state.next_limit_change(e);
        let rate = self.schedule.next_ramp_change(e);
        limits
            .into_iter()
            .chain(rate)
            .min()
            .map(|d| self.state.start + d)
    }

    /// The next moment the loop must wake up by itself while sending.
    fn next_send_wake(&self) -> Option<Instant> {
        // With send-ahead, wake once per SEND_BATCH and issue every credit due
        // within the horizon: each still leaves 24–25 ms before its time.
        let ahead = self.state.lead.saturating_sub(SEND_BATCH);
        let early = |t: Instant| t.checked_sub(ahead).unwrap_or(t);
        let waiting = self.state.waiting.peek_time().map(|t| {
            if self.schedule.waiting_goes_ahead() {
                early(t)
            } else {
                t
            }
        });
        [self.schedule.next_wake(&early), waiting]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the phase; returns its final counters.
    pub async fn run(
        mut self,
        returns: &mut mpsc::UnboundedReceiver<FromWorker>,
        cancel: &CancellationToken,
    ) -> Result<PhaseStats, String> {
        let start_mono = mono_ns();
        self.state.stats.start_ns = wall_ns();
        // With send-ahead the schedule starts `lead` from now, so its first credits
        // are held like every other (a trace's first rows share timestamp 0).
        let lead = self.state.lead;
        self.state.start = instant_of(start_mono) + lead;
        self.state.start_wall = self.state.stats.start_ns + lead.as_nanos() as u64;
        self.state.plan_cancellation();
        self.schedule.plan(&mut self.state);
        self.publish(|phase, stats| Event::PhaseStarted { phase, stats })
            .await;
        let deadline = self.state.spec.duration.map(|d| self.state.start + d);
        let hard_deadline = deadline.and_then(|d| self.state.spec.grace.map(|g| d + g));
        let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
        let mut cancelled_at: Option<Instant> = None;
        // Punctual wakeups matter only when credits leave at their time.
        let punctual = lead.is_zero().then(Punctual::new);
        let phase = self.state.spec.phase;

        self.pump(Instant::now()).await?;
        loop {
            if self.state.sending_done && self.state.stats.in_flight == 0 {
                break;
            }
            // The next moment the loop must wake up by itself.
            let sending = !self.state.sending_done;
            let wake = [
                if sending { self.next_send_wake() } else { None },
                if sending { deadline } else { None },
                if sending {
                    self.next_ramp_change()
                } else {
                    None
                },
                if !sending && cancelled_at.is_none() {
                    hard_deadline
                } else {
                    None
                },
                cancelled_at.map(|c| c + DRAIN_TIMEOUT),
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                biased;
                _ = cancel.cancelled(), if cancelled_at.is_none() => {
                    self.finish_sending().await;
                    self.cancel_in_flight().await;
                    cancelled_at = Some(Instant::now());
                }
                msg = returns.recv() => match msg {
                    Some(FromWorker::CreditReturn { phase: p, credit_id, cancelled, error, worker_id }) if p == phase => {
                        let now = Instant::now();
                        self.on_return(credit_id, cancelled, error.is_some(), &worker_id, now);
                        self.pump(now).await?;
                    }
                    Some(FromWorker::FirstToken { phase: p, credit_id }) if p == phase => {
                        if self.state.prefill_holders.remove(&credit_id) {
                            self.pump(Instant::now()).await?;
                        }
                    }
                    Some(FromWorker::WorkerReady { worker_id }) => self.state.dispatcher.add_worker(worker_id),
                    Some(_) => {}
                    None => return Err("the credit return channel closed".into()),
                },
                _ = sleep_until_opt(punctual.as_ref(), wake) => {
                    let now = Instant::now();
                    if cancelled_at.is_some_and(|c| now >= c + DRAIN_TIMEOUT) {
                        tracing::warn!("{} credits did not come back after cancellation; completing the phase", self.state.stats.in_flight);
                        break;
                    }
                    if !self.state.sending_done && deadline.is_some_and(|d| now >= d) {
                        self.finish_sending().await;
                    } else {
                        self.pump(now).await?;
                    }
                    if self.state.sending_done && cancelled_at.is_none() && hard_deadline.is_some_and(|h| now >= h) && self.state.stats.in_flight > 0 {
                        self.state.stats.grace_period_timeout_triggered = true;
                        self.cancel_in_flight().await;
                        cancelled_at = Some(now);
                    }
                }
                _ = progress.tick() => {
                    self.publish(|phase, stats| Event::PhaseProgress { phase, stats }).await;
                }
            }
        }
        self.state.stats.end_ns = Some(wall_ns());
        tracing::debug!(
            phase = phase.as_str(),
            sent = self.state.stats.sent,
            completed = self.state.stats.completed,
            "phase complete"
        );
        self.publish(|phase, stats| Event::PhaseComplete { phase, stats })
            .await;
        Ok(self.state.stats)
    }

    /// Asks workers to abort every in-flight credit; they come back as cancelled.
    async fn cancel_in_flight(&mut self) {
        let ids: Vec<u64> = self.state.in_flight.keys().copied().collect();
        if !ids.is_empty() {
            self.state
                .dispatcher
                .cancel(self.state.spec.phase, ids)
                .await;
        }
    }
}

async fn sleep_until_opt(punctual: Option<&Punctual>, at: Option<Instant>) {
    match (at, punctual) {
        // The precise timer (with a learned early wake when credits leave at their
        // time), not tokio's 1 ms wheel: send times are the product.
        (Some(t), Some(p)) => p.sleep_until(t).await,
        (Some(t), None) => aiperf_clock::timer::sleep_until(t).await,
        (None, _) => std::future::pending().await,
    }
}
