//! One credit phase (warmup or profiling): decides when each credit goes.
//!
//! The loop reads straight through: wait for the next thing that can happen (a
//! schedule tick, a credit return, a first token, a think-time delay or a trace
//! timestamp coming due, a ramp step, the deadline, a cancel) → [`PhaseRunner::pump`]
//! issues whatever is now allowed → repeat until sending is complete and every
//! credit is back.
//!
//! Modes (`docs/load-modes.md` §1–§4):
//! * [`Mode::Load`] without a rate — closed loop: a new session starts as soon as a
//!   session slot is free; queued continuation turns go first.
//! * [`Mode::Load`] with a rate — open loop: one credit per tick of an absolute
//!   schedule (`t0 + Σ intervals`), a queued continuation first, else a new session
//!   **only if a session slot is free** (otherwise the tick is skipped, the 0.13
//!   rule). A tick whose credit waits for a prefill slot holds the schedule.
//! * [`Mode::FixedSchedule`] — each conversation's first turn at `t0 + timestamp`,
//!   later turns at their timestamp (or `delay` after the previous return);
//!   `--concurrency` is a ceiling (the credit waits for a slot).
//! * [`Mode::UserCentric`] — users fire at `t0 + order·stagger` (virtual history),
//!   then one turn every `U/Q` after their previous scheduled turn (never before
//!   the previous response); each user schedules its replacement.
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

use crate::{
    arrivals::Arrivals,
    dispatch::Dispatcher,
    ramp::{RateRamp, StepRamp},
    sampler::Sampler,
    user_centric::initial_users,
};
use aiperf_clock::{instant_of, mono_ns, punctual::Punctual, wall_ns};
use aiperf_config::ArrivalPattern;
use aiperf_protocol::{
    Phase,
    credit::{Credit, FromWorker},
    dataset::ConversationTiming,
    events::{Event, PhaseStats},
};
use aiperf_transport::Publisher;
use rand::{Rng, rngs::StdRng};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Open-loop arrivals of a [`Mode::Load`] phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSpec {
    /// Inter-arrival distribution.
    pub pattern: ArrivalPattern,
    /// Target rate (req/s).
    pub rate: f64,
    /// Gamma shape.
    pub smoothness: f64,
    /// Linear ramp of the rate (`--request-rate-ramp-duration`).
    pub ramp: Option<Duration>,
}

/// How a phase decides send times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Closed loop (`None`) or open-loop rate ticks.
    Load(Option<RateSpec>),
    /// Trace replay: every conversation once, at its timestamps.
    FixedSchedule,
    /// User-centric rate: `rate` req/s over `num_users` users.
    UserCentric {
        /// Total rate Q (req/s).
        rate: f64,
        /// Number of users U.
        num_users: usize,
    },
}

/// What a phase must do.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    /// Which phase.
    pub phase: Phase,
    /// Scheduling mode.
    pub mode: Mode,
    /// Max concurrent sessions (`None` = unlimited).
    pub concurrency: Option<usize>,
    /// Ramp of the session limit from 1 to `concurrency`.
    pub concurrency_ramp: Option<Duration>,
    /// Max requests waiting for their first token (`None` = unlimited).
    pub prefill_concurrency: Option<usize>,
    /// Ramp of the prefill limit.
    pub prefill_ramp: Option<Duration>,
    /// Requests (turns) to send.
    pub request_count: Option<u64>,
    /// Sessions to start (their remaining turns are still sent).
    pub session_count: Option<u64>,
    /// Sending window.
    pub duration: Option<Duration>,
    /// Wait for stragglers after the window (`None` = forever).
    pub grace: Option<Duration>,
    /// Request cancellation: probability per credit and delay after sending (ns).
    pub cancellation: Option<(f64, u64)>,
}

impl PhaseSpec {
    /// A closed-loop phase with only the essentials set (tests, simple runs).
    pub fn closed_loop(
        phase: Phase,
        concurrency: Option<usize>,
        request_count: Option<u64>,
    ) -> Self {
        PhaseSpec {
            phase,
            mode: Mode::Load(None),
            concurrency,
            concurrency_ramp: None,
            prefill_concurrency: None,
            prefill_ramp: None,
            request_count,
            session_count: None,
            duration: None,
            grace: None,
            cancellation: None,
        }
    }
}

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

/// A session (one instance of a dataset conversation) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    conversation: usize,
    x_correlation_id: String,
    next_turn: u32,
    num_turns: u32,
    /// When its previous turn was meant to go (user-centric pacing).
    last_scheduled: Option<Instant>,
    /// User-centric: turns granted at spawn (for the replacement schedule).
    spawn_turns: u32,
}

/// Something that becomes due at a time: a continuation turn, a trace row, a user.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    /// The session's next turn (first turns of trace rows included).
    Turn(Session),
    /// A user-centric user (conversation sampled when due); replacement users get
    /// the next id when they spawn.
    User { user_id: Option<u64>, turns: u32 },
}

/// Ordered by due time (earliest first), then insertion order.
#[derive(Debug, PartialEq, Eq)]
struct Due(Instant, u64, Item);

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A turn ready to go, with the time it was meant to go.
type Pending = (Session, Option<Instant>);

/// Runs one phase to completion.
pub struct PhaseRunner<'a> {
    spec: PhaseSpec,
    dataset: &'a [ConversationTiming],
    sampler: &'a mut Sampler,
    dispatcher: &'a mut Dispatcher,
    publisher: &'a mut Publisher,
    stats: PhaseStats,
    start: Instant,
    start_wall: u64,
    next_id: u64,
    sessions_started: u64,
    active_sessions: usize,
    prefill_holders: HashSet<u64>,
    in_flight: HashMap<u64, Session>,
    /// Items not due yet.
    waiting: BinaryHeap<Due>,
    /// Due continuation turns (need a prefill slot; in rate mode, a tick).
    due_turns: VecDeque<Pending>,
    /// Due first turns of trace rows and users (need a session slot and a prefill slot).
    due_new: VecDeque<Pending>,
    seq: u64,
    sending_done: bool,
    // --- rate mode
    arrivals: Option<Arrivals>,
    rate_ramp: Option<RateRamp>,
    next_tick: Option<Instant>,
    last_tick: Instant,
    /// A tick's credit waiting for a prefill slot (holds the schedule).
    blocked: Option<Pending>,
    // --- user-centric
    turn_gap: Duration,
    next_user_id: u64,
    user_turns: u32,
    cancel_rng: Option<StdRng>,
    /// Send-ahead of this phase ([`SEND_AHEAD`] or zero).
    lead: Duration,
}

impl<'a> PhaseRunner<'a> {
    /// Prepares a phase over `dataset`.
    pub fn new(
        spec: PhaseSpec,
        dataset: &'a [ConversationTiming],
        sampler: &'a mut Sampler,
        dispatcher: &'a mut Dispatcher,
        publisher: &'a mut Publisher,
    ) -> Self {
        let expected_requests = match spec.mode {
            Mode::FixedSchedule => Some(dataset.iter().map(|c| c.turns.len().max(1) as u64).sum()),
            _ => spec.request_count,
        };
        let (load_mode, target_rate) = match spec.mode {
            Mode::Load(None) => ("concurrency", None),
            Mode::Load(Some(r)) => ("request_rate", Some(r.rate)),
            Mode::FixedSchedule => {
                // The trace's own average rate: rows over the span of their timestamps.
                let ts = dataset
                    .iter()
                    .flat_map(|c| c.turns.iter().filter_map(|t| t.timestamp_ms));
                let span_ms = ts.fold(0.0f64, f64::max);
                (
                    "fixed_schedule",
                    (span_ms > 0.0)
                        .then(|| expected_requests.unwrap_or(0) as f64 / (span_ms / 1000.0)),
                )
            }
            Mode::UserCentric { rate, .. } => ("user_centric", Some(rate)),
        };
        let scheduled = !matches!(spec.mode, Mode::Load(None));
        let unlimited = spec.concurrency.is_none() && spec.prefill_concurrency.is_none();
        let lead = if scheduled && unlimited {
            SEND_AHEAD
        } else {
            Duration::ZERO
        };
        let now = Instant::now();
        PhaseRunner {
            lead,
            stats: PhaseStats {
                expected_requests,
                expected_duration_s: spec.duration.map(|d| d.as_secs_f64()),
                load_mode: Some(load_mode.to_string()),
                target_rate,
                ..Default::default()
            },
            spec,
            dataset,
            sampler,
            dispatcher,
            publisher,
            start: now,
            start_wall: 0,
            next_id: 0,
            sessions_started: 0,
            active_sessions: 0,
            prefill_holders: HashSet::new(),
            in_flight: HashMap::new(),
            waiting: BinaryHeap::new(),
            due_turns: VecDeque::new(),
            due_new: VecDeque::new(),
            seq: 0,
            sending_done: false,
            arrivals: None,
            rate_ramp: None,
            next_tick: None,
            last_tick: now,
            blocked: None,
            turn_gap: Duration::ZERO,
            next_user_id: 0,
            user_turns: 1,
            cancel_rng: None,
        }
    }

    async fn publish(&mut self, make: impl FnOnce(Phase, PhaseStats) -> Event) {
        let ev = make(self.spec.phase, self.stats.clone());
        if let Err(e) = self.publisher.publish(&ev).await {
            tracing::warn!("cannot publish a phase event: {e}");
        }
    }

    /// Credits scheduled up to this time may be issued at `now` (send-ahead), never
    /// one scheduled at or after the end of the sending window.
    fn horizon(&self, now: Instant) -> Instant {
        let h = now + self.lead;
        match self.spec.duration {
            Some(d) if !self.lead.is_zero() => h.min(self.start + d - Duration::from_nanos(1)),
            _ => h,
        }
    }

    /// Whether waiting items (continuations, trace rows, users) are issued ahead of
    /// their time. In rate mode a continuation waits for its think time in real time,
    /// then for a tick; the other scheduled modes send it at its own time.
    fn waiting_goes_ahead(&self) -> bool {
        !matches!(self.spec.mode, Mode::Load(_))
    }

    /// Waiting items due up to this time are collected at `now`.
    fn due_horizon(&self, now: Instant) -> Instant {
        if self.waiting_goes_ahead() {
            self.horizon(now)
        } else {
            now
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// The session limit in force (ramped).
    fn session_limit(&self, now: Instant) -> Option<usize> {
        let c = self.spec.concurrency?;
        Some(match self.spec.concurrency_ramp {
            Some(d) => StepRamp {
                target: c,
                duration: d,
            }
            .limit_at(self.elapsed(now)),
            None => c,
        })
    }

    /// The prefill limit in force (ramped).
    fn prefill_limit(&self, now: Instant) -> Option<usize> {
        let p = self.spec.prefill_concurrency?;
        Some(match self.spec.prefill_ramp {
            Some(d) => StepRamp {
                target: p,
                duration: d,
            }
            .limit_at(self.elapsed(now)),
            None => p,
        })
    }

    fn slot_free(&self, now: Instant) -> bool {
        self.session_limit(now)
            .is_none_or(|c| self.active_sessions < c)
    }

    fn prefill_free(&self, now: Instant) -> bool {
        self.prefill_limit(now)
            .is_none_or(|p| self.prefill_holders.len() < p)
    }

    fn budget_left(&self) -> bool {
        !self.sending_done && self.spec.request_count.is_none_or(|n| self.stats.sent < n)
    }

    /// A new session may be generated (closed loop / rate mode).
    fn new_session_allowed(&self) -> bool {
        self.budget_left()
            && self
                .spec
                .session_count
                .is_none_or(|n| self.sessions_started < n)
    }

    fn to_wall(&self, t: Instant) -> u64 {
        self.start_wall + t.saturating_duration_since(self.start).as_nanos() as u64
    }

    fn push_due(&mut self, at: Instant, item: Item) {
        self.seq += 1;
        self.waiting.push(Due(at, self.seq, item));
    }

    /// Issues one credit for `session`'s next turn.
    async fn issue(&mut self, session: Session, scheduled: Option<Instant>) -> Result<(), String> {
        let first = session.next_turn == 0;
        if first {
            self.sessions_started += 1;
            self.active_sessions += 1;
        }
        let cancel_after_ns = match (&mut self.cancel_rng, self.spec.cancellation) {
            (Some(rng), Some((p, delay))) => (rng.random::<f64>() < p).then_some(delay),
            _ => None,
        };
        let conv = &self.dataset[session.conversation];
        let credit = Credit {
            id: self.next_id,
            phase: self.spec.phase,
            conversation_id: conv.id.clone(),
            x_correlation_id: session.x_correlation_id.clone(),
            turn_index: session.next_turn,
            num_turns: session.num_turns,
            issued_at_ns: wall_ns(),
            scheduled_at_ns: scheduled.map(|t| self.to_wall(t)),
            cancel_after_ns,
        };
        self.next_id += 1;
        self.dispatcher.dispatch(&credit, first).await?;
        if self.spec.prefill_concurrency.is_some() {
            self.prefill_holders.insert(credit.id);
        }
        self.in_flight.insert(credit.id, session);
        self.stats.sent += 1;
        self.stats.in_flight += 1;
        Ok(())
    }

    fn new_session(&mut self) -> Session {
        let conversation = self.sampler.next_index();
        let num_turns = self.dataset[conversation].turns.len().max(1) as u32;
        Session {
            conversation,
            x_correlation_id: uuid::Uuid::new_v4().to_string(),
            next_turn: 0,
            num_turns,
            last_scheduled: None,
            spawn_turns: num_turns,
        }
    }

    async fn finish_sending(&mut self) {
        if !self.sending_done {
            self.sending_done = true;
            self.stats.sending_end_ns = Some(wall_ns());
            self.waiting.clear();
            self.due_turns.clear();
            self.due_new.clear();
            self.blocked = None;
            self.publish(|phase, stats| Event::PhaseSendingComplete { phase, stats })
                .await;
        }
    }

    /// No credit can ever be issued again: no new session may start and no started
    /// session has a turn left to send.
    fn exhausted(&self) -> bool {
        let no_new = match self.spec.mode {
            Mode::Load(_) => self
                .spec
                .session_count
                .is_some_and(|n| self.sessions_started >= n),
            Mode::FixedSchedule => true,
            Mode::UserCentric { .. } => false,
        };
        no_new
            && self.waiting.is_empty()
            && self.due_turns.is_empty()
            && self.due_new.is_empty()
            && self.blocked.is_none()
            && self
                .in_flight
                .values()
                .all(|s| s.next_turn + 1 >= s.num_turns)
    }

    /// Moves items whose time has come into the due queues.
    fn collect_due(&mut self, now: Instant) {
        while self.waiting.peek().is_some_and(|d| d.0 <= now) {
            let Due(at, _, item) = self.waiting.pop().expect("peeked");
            match item {
                Item::Turn(s) if s.next_turn == 0 => self.due_new.push_back((s, Some(at))),
                Item::Turn(s) => self.due_turns.push_back((s, Some(at))),
                Item::User { user_id, turns } => {
                    let user_id = user_id.unwrap_or_else(|| {
                        self.next_user_id += 1;
                        self.next_user_id - 1
                    });
                    // Each spawned user schedules its replacement on an absolute schedule.
                    let replacement = at + self.turn_gap.mul_f64(turns as f64);
                    self.push_due(
                        replacement,
                        Item::User {
                            user_id: None,
                            turns: self.user_turns,
                        },
                    );
                    let conversation = self.sampler.next_index();
                    let available = self.dataset[conversation].turns.len().max(1) as u32;
                    let num_turns = turns.min(available).max(1);
                    let s = Session {
                        conversation,
                        x_correlation_id: user_id.to_string(),
                        next_turn: 0,
                        num_turns,
                        last_scheduled: Some(at),
                        spawn_turns: turns,
                    };
                    self.due_new.push_back((s, Some(at)));
                }
            }
        }
    }

    /// Issues everything that may go at `now`, then checks the stop conditions.
    async fn pump(&mut self, now: Instant) -> Result<(), String> {
        if self.sending_done {
            return Ok(());
        }
        self.collect_due(self.due_horizon(now));
        match self.spec.mode {
            Mode::Load(Some(_)) => self.pump_rate(now).await?,
            Mode::Load(None) => {
                while self.budget_left() && !self.due_turns.is_empty() && self.prefill_free(now) {
                    let (s, _) = self.due_turns.pop_front().expect("non-empty");
                    self.issue(s, None).await?;
                }
                while self.new_session_allowed()
                    && self.due_turns.is_empty()
                    && self.slot_free(now)
                    && self.prefill_free(now)
                {
                    let s = self.new_session();
                    self.issue(s, None).await?;
                }
            }
            Mode::FixedSchedule | Mode::UserCentric { .. } => {
                while self.budget_left() && !self.due_turns.is_empty() && self.prefill_free(now) {
                    let (s, at) = self.due_turns.pop_front().expect("non-empty");
                    self.issue(s, at).await?;
                }
                while self.budget_left()
                    && !self.due_new.is_empty()
                    && self.slot_free(now)
                    && self.prefill_free(now)
                {
                    let (s, at) = self.due_new.pop_front().expect("non-empty");
                    self.issue(s, at).await?;
                }
            }
        }
        if !self.budget_left() || self.exhausted() {
            self.finish_sending().await;
        }
        Ok(())
    }

    /// Rate mode: one credit per due tick.
    async fn pump_rate(&mut self, now: Instant) -> Result<(), String> {
        self.update_rate(now);
        loop {
            if !self.budget_left() {
                return Ok(());
            }
            if let Some((s, at)) = self.blocked.take() {
                if !self.prefill_free(now) {
                    self.blocked = Some((s, at));
                    return Ok(());
                }
                self.issue(s, at).await?;
                continue;
            }
            let horizon = self.horizon(now);
            let Some(tick) = self.next_tick.filter(|t| *t <= horizon) else {
                return Ok(());
            };
            let arrivals = self.arrivals.as_mut().expect("rate mode has arrivals");
            let mut next = tick + Duration::from_secs_f64(arrivals.next_interval());
            if now > next + MAX_CATCHUP {
                next = now;
            }
            self.next_tick = Some(next);
            self.last_tick = tick;
            // One credit per tick: a queued continuation first, else a new session
            // if a slot is free; otherwise the tick is skipped.
            let picked = if let Some((s, _)) = self.due_turns.pop_front() {
                Some(s)
            } else if self.new_session_allowed() && self.slot_free(now) {
                Some(self.new_session())
            } else {
                None
            };
            if let Some(s) = picked {
                if self.prefill_free(now) {
                    self.issue(s, Some(tick)).await?;
                } else {
                    self.blocked = Some((s, Some(tick)));
                }
            }
        }
    }

    /// Applies the rate ramp: on a rate change the next arrival is re-planned.
    fn update_rate(&mut self, now: Instant) {
        let (Some(ramp), Some(arrivals)) = (self.rate_ramp, self.arrivals.as_mut()) else {
            return;
        };
        let rate = ramp.rate_at(now.saturating_duration_since(self.start));
        if (rate - arrivals.rate()).abs() > 1e-12 {
            arrivals.set_rate(rate);
            let next = self.last_tick + Duration::from_secs_f64(arrivals.next_interval());
            self.next_tick = Some(next.max(now));
        }
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
        let Some(mut session) = self.in_flight.remove(&credit_id) else {
            tracing::warn!("unknown credit {credit_id} returned by {worker_id}");
            return;
        };
        self.prefill_holders.remove(&credit_id);
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
            let turn = self.dataset[session.conversation]
                .turns
                .get(session.next_turn as usize);
            let delay = Duration::from_secs_f64(
                turn.and_then(|t| t.delay_ms).unwrap_or(0.0).max(0.0) / 1000.0,
            );
            let at = match self.spec.mode {
                Mode::Load(_) => now + delay,
                Mode::FixedSchedule => match turn.and_then(|t| t.timestamp_ms) {
                    Some(ts) => {
                        (self.start + Duration::from_secs_f64(ts.max(0.0) / 1000.0)).max(now)
                    }
                    None => now + delay,
                },
                Mode::UserCentric { .. } => {
                    let at = session
                        .last_scheduled
                        .map(|l| (l + self.turn_gap).max(now))
                        .unwrap_or(now);
                    session.last_scheduled = Some(at);
                    at
                }
            };
            self.push_due(at, Item::Turn(session));
        } else {
            self.active_sessions = self.active_sessions.saturating_sub(1);
            self.dispatcher.session_ended(&session.x_correlation_id);
        }
    }

    /// Sets up the mode's schedule at the phase start.
    fn plan(&mut self) {
        let seed = self.dispatcher.seed();
        let phase = self.spec.phase.as_str();
        if self.spec.phase == Phase::Profiling && self.spec.cancellation.is_some() {
            self.cancel_rng = Some(crate::rng("timing.request.cancellation", seed));
        }
        match self.spec.mode {
            Mode::Load(Some(r)) => {
                let ramp = r.ramp.map(|d| RateRamp {
                    target: r.rate,
                    duration: d,
                });
                let rate = ramp.map(|x| x.rate_at(Duration::ZERO)).unwrap_or(r.rate);
                let mut a = Arrivals::new(
                    r.pattern,
                    rate,
                    r.smoothness,
                    crate::rng(&format!("timing.arrivals.{phase}"), seed),
                );
                // The first credit goes at t0 + first interval, not at t0.
                self.next_tick = Some(self.start + Duration::from_secs_f64(a.next_interval()));
                self.arrivals = Some(a);
                self.rate_ramp = ramp;
            }
            Mode::Load(None) => {}
            Mode::FixedSchedule => {
                for (i, c) in self.dataset.iter().enumerate() {
                    let ts = c
                        .turns
                        .first()
                        .and_then(|t| t.timestamp_ms)
                        .unwrap_or(0.0)
                        .max(0.0);
                    let s = Session {
                        conversation: i,
                        x_correlation_id: format!("fixed-schedule-{}", c.id),
                        next_turn: 0,
                        num_turns: c.turns.len().max(1) as u32,
                        last_scheduled: None,
                        spawn_turns: 0,
                    };
                    self.push_due(
                        self.start + Duration::from_secs_f64(ts / 1000.0),
                        Item::Turn(s),
                    );
                }
            }
            Mode::UserCentric { rate, num_users } => {
                let avg_turns = self
                    .dataset
                    .iter()
                    .map(|c| c.turns.len().max(1))
                    .sum::<usize>() as f64
                    / self.dataset.len().max(1) as f64;
                self.user_turns = (avg_turns.round() as u32).max(1);
                let stagger = Duration::from_secs_f64(1.0 / rate);
                self.turn_gap = Duration::from_secs_f64(num_users as f64 / rate);
                let users = initial_users(num_users as u64, self.user_turns);
                self.next_user_id = num_users as u64 + 2;
                for u in users {
                    self.push_due(
                        self.start + stagger.mul_f64(u.order as f64),
                        Item::User {
                            user_id: Some(u.user_id),
                            turns: u.turns,
                        },
                    );
                }
            }
        }
    }

    /// The next moment a ramp changes a limit or the rate.
    fn next_ramp_change(&self) -> Option<Instant> {
        let e = self.elapsed(Instant::now());
        let c = self
            .spec
            .concurrency
            .zip(self.spec.concurrency_ramp)
            .and_then(|(t, d)| {
                StepRamp {
                    target: t,
                    duration: d,
                }
                .next_change(e)
            });
        let p = self
            .spec
            .prefill_concurrency
            .zip(self.spec.prefill_ramp)
            .and_then(|(t, d)| {
                StepRamp {
                    target: t,
                    duration: d,
                }
                .next_change(e)
            });
        let r = self.rate_ramp.and_then(|r| r.next_change(e));
        [c, p, r]
            .into_iter()
            .flatten()
            .min()
            .map(|d| self.start + d)
    }

    /// Runs the phase; returns its final counters.
    pub async fn run(
        mut self,
        returns: &mut mpsc::UnboundedReceiver<FromWorker>,
        cancel: &CancellationToken,
    ) -> Result<PhaseStats, String> {
        let start_mono = mono_ns();
        self.stats.start_ns = wall_ns();
        // With send-ahead the schedule starts `lead` from now, so its first credits
        // are held like every other (a trace's first rows share timestamp 0).
        self.start = instant_of(start_mono) + self.lead;
        self.start_wall = self.stats.start_ns + self.lead.as_nanos() as u64;
        self.last_tick = self.start;
        self.plan();
        self.publish(|phase, stats| Event::PhaseStarted { phase, stats })
            .await;
        let deadline = self.spec.duration.map(|d| self.start + d);
        let hard_deadline = deadline.and_then(|d| self.spec.grace.map(|g| d + g));
        let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
        let mut cancelled_at: Option<Instant> = None;
        // Punctual wakeups matter only when credits leave at their time.
        let punctual = self.lead.is_zero().then(Punctual::new);

        self.pump(Instant::now()).await?;
        loop {
            if self.sending_done && self.stats.in_flight == 0 {
                break;
            }
            // The next moment the loop must wake up by itself.
            let sending = !self.sending_done;
            // With send-ahead, wake once per SEND_BATCH and issue every credit due
            // within the horizon: each still leaves 24–25 ms before its time.
            let ahead = self.lead.saturating_sub(SEND_BATCH);
            let early = |t: Instant| t.checked_sub(ahead).unwrap_or(t);
            let wake = [
                if sending && self.blocked.is_none() {
                    self.next_tick.map(early)
                } else {
                    None
                },
                if sending {
                    self.waiting.peek().map(|d| {
                        if self.waiting_goes_ahead() {
                            early(d.0)
                        } else {
                            d.0
                        }
                    })
                } else {
                    None
                },
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
                    Some(FromWorker::CreditReturn { phase, credit_id, cancelled, error, worker_id }) if phase == self.spec.phase => {
                        let now = Instant::now();
                        self.on_return(credit_id, cancelled, error.is_some(), &worker_id, now);
                        self.pump(now).await?;
                    }
                    Some(FromWorker::FirstToken { phase, credit_id }) if phase == self.spec.phase => {
                        if self.prefill_holders.remove(&credit_id) {
                            self.pump(Instant::now()).await?;
                        }
                    }
                    Some(FromWorker::WorkerReady { worker_id }) => self.dispatcher.add_worker(worker_id),
                    Some(_) => {}
                    None => return Err("the credit return channel closed".into()),
                },
                _ = sleep_until_opt(punctual.as_ref(), wake) => {
                    let now = Instant::now();
                    if cancelled_at.is_some_and(|c| now >= c + DRAIN_TIMEOUT) {
                        tracing::warn!("{} credits did not come back after cancellation; completing the phase", self.stats.in_flight);
                        break;
                    }
                    if !self.sending_done && deadline.is_some_and(|d| now >= d) {
                        self.finish_sending().await;
                    } else {
                        self.pump(now).await?;
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
        tracing::debug!(
            phase = self.spec.phase.as_str(),
            sent = self.stats.sent,
            completed = self.stats.completed,
            "phase complete"
        );
        self.publish(|phase, stats| Event::PhaseComplete { phase, stats })
            .await;
        Ok(self.stats)
    }

    /// Asks workers to abort every in-flight credit; they come back as cancelled.
    async fn cancel_in_flight(&mut self) {
        let ids: Vec<u64> = self.in_flight.keys().copied().collect();
        if !ids.is_empty() {
            self.dispatcher.cancel(self.spec.phase, ids).await;
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
