//! One credit phase (warmup or profiling): decides when each credit goes.
//!
//! The loop reads straight through: wait for the next thing that can happen (a
//! schedule tick, a credit return, a think-time delay ending, the deadline, a
//! cancel) → issue what is now allowed → repeat until sending is complete and every
//! credit is back. Concurrency counts sessions (timing.md §2.3): a session holds
//! its slot from its first turn until its last turn returns.

use crate::{arrivals::Arrivals, dispatch::Dispatcher, sampler::Sampler};
use aiperf_clock::{instant_of, mono_ns, wall_ns};
use aiperf_protocol::{
    credit::{Credit, FromWorker},
    dataset::ConversationTiming,
    events::{Event, PhaseStats},
    Phase,
};
use aiperf_transport::Publisher;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What a phase must do.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    /// Which phase.
    pub phase: Phase,
    /// Max concurrent sessions (`None` = unlimited).
    pub concurrency: Option<usize>,
    /// Open-loop arrivals; `None` = closed loop.
    pub arrivals: Option<(aiperf_config::ArrivalPattern, f64, f64)>,
    /// Requests to send.
    pub request_count: Option<u64>,
    /// Sending window.
    pub duration: Option<Duration>,
    /// Wait for stragglers after the window (`None` = forever).
    pub grace: Option<Duration>,
}

/// How long cancelled credits may take to come back before the phase is forced complete.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of progress events.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// A rate schedule that falls further behind than this is re-anchored (no catch-up burst).
const MAX_CATCHUP: Duration = Duration::from_millis(10);

/// A session waiting for its next turn.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    conversation: usize,
    x_correlation_id: String,
    next_turn: u32,
    num_turns: u32,
}

/// A continuation turn, ordered by the time it may go (earliest first).
#[derive(Debug, PartialEq, Eq)]
struct Ready(Instant, u64, Session);

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Runs one phase to completion.
pub struct PhaseRunner<'a> {
    spec: PhaseSpec,
    dataset: &'a [ConversationTiming],
    sampler: &'a mut Sampler,
    dispatcher: &'a mut Dispatcher,
    publisher: &'a mut Publisher,
    stats: PhaseStats,
    start_mono: u64,
    next_id: u64,
    active_sessions: usize,
    in_flight: HashMap<u64, Session>,
    continuations: BinaryHeap<Ready>,
    seq: u64,
    sending_done: bool,
}

impl<'a> PhaseRunner<'a> {
    /// Prepares a phase over `dataset`.
    pub fn new(spec: PhaseSpec, dataset: &'a [ConversationTiming], sampler: &'a mut Sampler, dispatcher: &'a mut Dispatcher, publisher: &'a mut Publisher) -> Self {
        PhaseRunner {
            stats: PhaseStats { expected_requests: spec.request_count, expected_duration_s: spec.duration.map(|d| d.as_secs_f64()), ..Default::default() },
            spec,
            dataset,
            sampler,
            dispatcher,
            publisher,
            start_mono: 0,
            next_id: 0,
            active_sessions: 0,
            in_flight: HashMap::new(),
            continuations: BinaryHeap::new(),
            seq: 0,
            sending_done: false,
        }
    }

    async fn publish(&mut self, make: impl FnOnce(Phase, PhaseStats) -> Event) {
        let ev = make(self.spec.phase, self.stats.clone());
        if let Err(e) = self.publisher.publish(&ev).await {
            tracing::warn!("cannot publish a phase event: {e}");
        }
    }

    fn budget_left(&self) -> bool {
        self.spec.request_count.is_none_or(|n| self.stats.sent < n)
    }

    fn slot_free(&self) -> bool {
        self.spec.concurrency.is_none_or(|c| self.active_sessions < c)
    }

    /// Issues one credit for `session`'s next turn.
    async fn issue(&mut self, session: Session, scheduled: Option<u64>) -> Result<(), String> {
        let conv = &self.dataset[session.conversation];
        let credit = Credit {
            id: self.next_id,
            phase: self.spec.phase,
            conversation_id: conv.id.clone(),
            x_correlation_id: session.x_correlation_id.clone(),
            turn_index: session.next_turn,
            num_turns: session.num_turns,
            issued_at_ns: wall_ns(),
            scheduled_at_ns: scheduled,
            cancel_after_ns: None,
        };
        self.next_id += 1;
        self.dispatcher.dispatch(&credit, session.next_turn == 0).await?;
        self.in_flight.insert(credit.id, session);
        self.stats.sent += 1;
        self.stats.in_flight += 1;
        Ok(())
    }

    fn new_session(&mut self) -> Session {
        let conversation = self.sampler.next_index();
        let num_turns = self.dataset[conversation].turns.len().max(1) as u32;
        Session { conversation, x_correlation_id: uuid::Uuid::new_v4().to_string(), next_turn: 0, num_turns }
    }

    /// Issues whatever may go now: ready continuations first, then new sessions.
    async fn issue_ready(&mut self, now: Instant, scheduled: Option<u64>, only_one: bool) -> Result<(), String> {
        while !self.sending_done && self.budget_left() {
            if self.continuations.peek().is_some_and(|r| r.0 <= now) {
                let Ready(_, _, s) = self.continuations.pop().expect("peeked");
                self.issue(s, scheduled).await?;
            } else if self.slot_free() {
                let s = self.new_session();
                self.active_sessions += 1;
                self.issue(s, scheduled).await?;
            } else {
                break;
            }
            if only_one {
                break;
            }
        }
        if !self.budget_left() {
            self.finish_sending().await;
        }
        Ok(())
    }

    async fn finish_sending(&mut self) {
        if !self.sending_done {
            self.sending_done = true;
            self.stats.sending_end_ns = Some(wall_ns());
            self.continuations.clear();
            self.publish(|phase, stats| Event::PhaseSendingComplete { phase, stats }).await;
        }
    }

    fn on_return(&mut self, credit_id: u64, cancelled: bool, error: bool, worker_id: &str) {
        tracing::trace!(credit_id, cancelled, "credit returned");
        let Some(mut session) = self.in_flight.remove(&credit_id) else {
            tracing::warn!("unknown credit {credit_id} returned by {worker_id}");
            return;
        };
        self.dispatcher.returned(worker_id);
        self.stats.in_flight -= 1;
        if cancelled {
            self.stats.cancelled += 1;
        } else {
            self.stats.completed += 1;
        }
        if error {
            self.stats.errors += 1;
        }
        session.next_turn += 1;
        if session.next_turn < session.num_turns && !self.sending_done && !cancelled {
            let delay_ms = self.dataset[session.conversation].turns.get(session.next_turn as usize).and_then(|t| t.delay_ms).unwrap_or(0.0);
            let at = Instant::now() + Duration::from_secs_f64(delay_ms.max(0.0) / 1000.0);
            self.seq += 1;
            self.continuations.push(Ready(at, self.seq, session));
        } else {
            self.active_sessions -= 1;
            self.dispatcher.session_ended(&session.x_correlation_id);
        }
    }

    /// Runs the phase; returns its final counters.
    pub async fn run(mut self, returns: &mut mpsc::UnboundedReceiver<FromWorker>, cancel: &CancellationToken) -> Result<PhaseStats, String> {
        self.start_mono = mono_ns();
        let start = instant_of(self.start_mono);
        self.stats.start_ns = wall_ns();
        let start_wall = self.stats.start_ns;
        self.publish(|phase, stats| Event::PhaseStarted { phase, stats }).await;
        let deadline = self.spec.duration.map(|d| start + d);
        let hard_deadline = deadline.and_then(|d| self.spec.grace.map(|g| d + g));
        let mut arrivals = self.spec.arrivals.map(|(p, r, k)| Arrivals::new(p, r, k, crate::rng("timing.arrivals", self.sampler_seed())));
        let mut next_tick = arrivals.as_mut().map(|a| start + Duration::from_secs_f64(a.next_interval()));
        let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
        let mut cancelled_at: Option<Instant> = None;

        if arrivals.is_none() {
            self.issue_ready(Instant::now(), None, false).await?;
        }
        loop {
            if self.sending_done && self.stats.in_flight == 0 {
                break;
            }
            let next_cont = if self.sending_done { None } else { self.continuations.peek().map(|r| r.0) };
            // The next moment the loop must wake up by itself.
            let wake = [
                if self.sending_done { None } else { next_tick },
                if arrivals.is_none() { next_cont } else { None },
                if self.sending_done { None } else { deadline },
                if self.sending_done && cancelled_at.is_none() { hard_deadline } else { None },
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
                    Some(FromWorker::CreditReturn { phase, credit_id, cancelled, error, worker_id }) if phase == self.spec.phase => {
                        self.on_return(credit_id, cancelled, error.is_some(), &worker_id);
                        if arrivals.is_none() {
                            self.issue_ready(Instant::now(), None, false).await?;
                        }
                    }
                    Some(FromWorker::WorkerReady { worker_id }) => self.dispatcher.add_worker(worker_id),
                    Some(_) => {}
                    None => return Err("the credit return channel closed".into()),
                },
                _ = sleep_until_opt(wake) => {
                    let now = Instant::now();
                    if let Some(c) = cancelled_at {
                        if now >= c + DRAIN_TIMEOUT {
                            tracing::warn!("{} credits did not come back after cancellation; completing the phase", self.stats.in_flight);
                            break;
                        }
                    }
                    if !self.sending_done && deadline.is_some_and(|d| now >= d) {
                        self.finish_sending().await;
                    } else if let (false, Some(tick), Some(arr)) = (self.sending_done, next_tick, arrivals.as_mut()) {
                        if now >= tick {
                            let scheduled = start_wall + (tick - start).as_nanos() as u64;
                            let mut next = tick + Duration::from_secs_f64(arr.next_interval());
                            if now > next + MAX_CATCHUP {
                                next = now;
                            }
                            next_tick = Some(next);
                            self.issue_ready(now, Some(scheduled), true).await?;
                        }
                    } else if arrivals.is_none() && !self.sending_done {
                        self.issue_ready(now, None, false).await?;
                    }
                    if self.sending_done && cancelled_at.is_none() && hard_deadline.is_some_and(|h| now >= h) && self.stats.in_flight > 0 {
                        self.stats.grace_period_timeout_triggered = true;
                        self.cancel_in_flight().await;
                        cancelled_at = Some(now);
                    }
                }
                _ = progress.tick() => {
                    self.publish(|phase, stats| Event::PhaseProgress { phase, stats }).await;
                }
            }
        }
        self.stats.end_ns = Some(wall_ns());
        tracing::debug!(phase = self.spec.phase.as_str(), sent = self.stats.sent, completed = self.stats.completed, "phase complete");
        self.publish(|phase, stats| Event::PhaseComplete { phase, stats }).await;
        Ok(self.stats)
    }

    fn sampler_seed(&self) -> Option<u64> {
        self.dispatcher.seed()
    }

    /// Asks workers to abort every in-flight credit; they come back as cancelled.
    async fn cancel_in_flight(&mut self) {
        let ids: Vec<u64> = self.in_flight.keys().copied().collect();
        if !ids.is_empty() {
            self.dispatcher.cancel(self.spec.phase, ids).await;
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        // The precise timer (µs accuracy), not tokio's 1 ms wheel: send times are the product.
        Some(t) => aiperf_clock::timer::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
