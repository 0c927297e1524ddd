//! What every schedule shares within a phase: the credits in flight, the session
//! and prefill slots, the stop conditions, and the queues of turns that wait for
//! their time or have come due.

use crate::{dispatch::Dispatcher, ramp::StepRamp, sampler::Sampler};
use aiperf_clock::wall_ns;
use aiperf_config::PhaseLoad;
use aiperf_protocol::{credit::Credit, dataset::ConversationTiming, events::PhaseStats};
use rand::{Rng, rngs::StdRng};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A session (one instance of a dataset conversation) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub conversation: usize,
    pub x_correlation_id: String,
    pub next_turn: u32,
    pub num_turns: u32,
    /// When its previous turn was meant to go (user-centric pacing).
    pub last_scheduled: Option<Instant>,
}

/// A turn ready to go, with the time it was meant to go.
pub(crate) type Pending = (Session, Option<Instant>);

/// `T` due at a time; ordered by due time (earliest first), then insertion order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Due<T>(pub Instant, pub u64, pub T);

impl<T: Eq> Ord for Due<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

impl<T: Eq> PartialOrd for Due<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A min-queue of items by due time; equal times keep insertion order.
#[derive(Debug)]
pub(crate) struct DueQueue<T> {
    heap: BinaryHeap<Due<T>>,
    seq: u64,
}

impl<T: Eq> DueQueue<T> {
    pub fn new() -> Self {
        DueQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub fn push(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Due(at, self.seq, item));
    }

    /// The earliest due time.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|d| d.0)
    }

    /// The earliest item if it is due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        if self.peek_time().is_some_and(|t| t <= now) {
            self.heap.pop().map(|Due(at, _, item)| (at, item))
        } else {
            None
        }
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

/// The state of a phase that does not depend on its schedule.
pub(crate) struct PhaseState<'a> {
    pub spec: PhaseLoad,
    pub dataset: &'a [ConversationTiming],
    pub sampler: &'a mut Sampler,
    pub dispatcher: &'a mut Dispatcher,
    pub stats: PhaseStats,
    /// The schedule's t0.
    pub start: Instant,
    /// Wall clock of `start` (ns).
    pub start_wall: u64,
    next_id: u64,
    pub sessions_started: u64,
    pub active_sessions: usize,
    pub prefill_holders: HashSet<u64>,
    pub in_flight: HashMap<u64, Session>,
    /// Turns not due yet (continuations, trace rows).
    pub waiting: DueQueue<Session>,
    /// Due continuation turns (need a prefill slot; in rate mode, a tick).
    pub due_turns: VecDeque<Pending>,
    /// Due first turns of trace rows and users (need a session slot and a prefill slot).
    pub due_new: VecDeque<Pending>,
    pub sending_done: bool,
    cancel_rng: Option<StdRng>,
    /// Send-ahead of this phase ([`super::SEND_AHEAD`] or zero).
    pub lead: Duration,
}

impl<'a> PhaseState<'a> {
    pub fn new(
        spec: PhaseLoad,
        dataset: &'a [ConversationTiming],
        sampler: &'a mut Sampler,
        dispatcher: &'a mut Dispatcher,
        stats: PhaseStats,
        lead: Duration,
    ) -> Self {
        PhaseState {
            spec,
            dataset,
            sampler,
            dispatcher,
            stats,
            start: Instant::now(),
            start_wall: 0,
            next_id: 0,
            sessions_started: 0,
            active_sessions: 0,
            prefill_holders: HashSet::new(),
            in_flight: HashMap::new(),
            waiting: DueQueue::new(),
            due_turns: VecDeque::new(),
            due_new: VecDeque::new(),
            sending_done: false,
            cancel_rng: None,
            lead,
        }
    }

    /// Seeds the request-cancellation draw (profiling only).
    pub fn plan_cancellation(&mut self) {
        if self.spec.phase == aiperf_protocol::Phase::Profiling && self.spec.cancellation.is_some()
        {
            self.cancel_rng = Some(crate::rng(
                "timing.request.cancellation",
                self.dispatcher.seed(),
            ));
        }
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// Credits scheduled up to this time may be issued at `now` (send-ahead), never
    /// one scheduled at or after the end of the sending window.
    pub fn horizon(&self, now: Instant) -> Instant {
        let h = now + self.lead;
        match self.spec.duration {
            Some(d) if !self.lead.is_zero() => h.min(self.start + d - Duration::from_nanos(1)),
            _ => h,
        }
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

    /// The next moment a concurrency or prefill ramp changes a limit.
    pub fn next_limit_change(&self, elapsed: Duration) -> Option<Duration> {
        let step = |target: Option<usize>, ramp: Option<Duration>| {
            target
                .zip(ramp)
                .and_then(|(target, duration)| StepRamp { target, duration }.next_change(elapsed))
        };
        let c = step(self.spec.concurrency, self.spec.concurrency_ramp);
        let p = step(self.spec.prefill_concurrency, self.spec.prefill_ramp);
        c.into_iter().chain(p).min()
    }

    pub fn slot_free(&self, now: Instant) -> bool {
        self.session_limit(now)
            .is_none_or(|c| self.active_sessions < c)
    }

    pub fn prefill_free(&self, now: Instant) -> bool {
        self.prefill_limit(now)
            .is_none_or(|p| self.prefill_holders.len() < p)
    }

    pub fn budget_left(&self) -> bool {
        !self.sending_done && self.spec.request_count.is_none_or(|n| self.stats.sent < n)
    }

    /// The session-count stop condition is reached.
    pub fn sessions_exhausted(&self) -> bool {
        self.spec
            .session_count
            .is_some_and(|n| self.sessions_started >= n)
    }

    /// A new sampled session may be generated (closed loop / rate mode).
    pub fn new_session_allowed(&self) -> bool {
        self.budget_left() && !self.sessions_exhausted()
    }

    /// A new session over the next sampled conversation.
    pub fn new_session(&mut self) -> Session {
        let conversation = self.sampler.next_index();
        let num_turns = self.dataset[conversation].turns.len().max(1) as u32;
        Session {
            conversation,
            x_correlation_id: uuid::Uuid::new_v4().to_string(),
            next_turn: 0,
            num_turns,
            last_scheduled: None,
        }
    }

    /// Nothing waits or is due, and no session in flight has a turn left.
    pub fn drained(&self) -> bool {
        self.waiting.is_empty()
            && self.due_turns.is_empty()
            && self.due_new.is_empty()
            && self
                .in_flight
                .values()
                .all(|s| s.next_turn + 1 >= s.num_turns)
    }

    /// Moves waiting turns due by `horizon` into the due queues.
    pub fn collect_due(&mut self, horizon: Instant) {
        while let Some((at, s)) = self.waiting.pop_due(horizon) {
            if s.next_turn == 0 {
                self.due_new.push_back((s, Some(at)));
            } else {
                self.due_turns.push_back((s, Some(at)));
            }
        }
    }

    /// Drops every queued turn (sending is over).
    pub fn clear_queues(&mut self) {
        self.waiting.clear();
        self.due_turns.clear();
        self.due_new.clear();
    }

    fn to_wall(&self, t: Instant) -> u64 {
        self.start_wall + t.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// Issues one credit for `session`'s next turn.
    pub async fn issue(
        &mut self,
        session: Session,
        scheduled: Option<Instant>,
    ) -> Result<(), String> {
        let first = session.next_turn == 0;
        if first {
            self.sessions_started += 1;
            self.active_sessions += 1;
        }
        let cancel_after_ns = match (&mut self.cancel_rng, self.spec.cancellation) {
            (Some(rng), Some(c)) => (rng.random::<f64>() < c.probability).then_some(c.delay_ns),
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

    /// The delay before `session`'s next turn from the dataset (0 when none).
    pub fn next_turn_delay(&self, session: &Session) -> Duration {
        let turn = self.dataset[session.conversation]
            .turns
            .get(session.next_turn as usize);
        Duration::from_secs_f64(turn.and_then(|t| t.delay_ms).unwrap_or(0.0).max(0.0) / 1000.0)
    }
}
