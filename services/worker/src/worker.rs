//! The worker service: takes credits, sends requests, pushes raw records, returns
//! credits. Only workers talk to the model server.
//!
//! Tasks inside one worker:
//! - the service runtime ([`aiperf_transport::run_service`]) owns the control
//!   connection and calls [`Worker`]'s `configure` and `cancel`;
//! - the credit reader owns the receive half of the credit DEALER and spawns one
//!   task per credit (a worker runs many requests at once);
//! - the return writer owns the send half (credit returns, readiness);
//! - the record writer owns the PUSH socket to the record processors and drains
//!   the worker's bounded record queue ([`crate::handoff`]), within its record
//!   window ([`crate::window`], followed from the processors' `records_taken`
//!   events);
//! - the backlog reporter publishes the queue's counters on the event bus.
//!
//! Per credit the record is queued before the credit is returned, so when the
//! timing manager sees a return, the record is already on its way; when the queue
//! is full (record processing fell behind) the return waits for room.
//!
//! A credit that arrives ahead of its scheduled time (the timing manager's
//! send-ahead) has its body built at once and is then held on a punctual timer
//! until that time, so the send waits for neither.

use crate::handoff::{RECORD_QUEUE_CAPACITY, RecordHandoff};
use crate::http::HttpClient;
use crate::window;
use aiperf_clock::{mono_ns, punctual::Punctual};
use aiperf_config::ProfileConfig;
use aiperf_endpoint::{ChatMessage, PayloadBuilder, parse_response};
use aiperf_protocol::{
    Phase, ServiceType,
    credit::{Credit, FromWorker, ToWorker},
    dataset::{Conversation, Turn},
    events::Event,
    record::RawRecord,
};
use aiperf_transport::{
    DatasetClient, Dealer, DealerRx, Publisher, Push, Service, ServiceContext, Subscriber,
    run_service,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A worker actor. Runs in the CLI process or as its own process.
pub struct Worker {
    control_addr: String,
    service_id: String,
    /// Set once configured.
    ctx: Option<Arc<Ctx>>,
}

/// Shared state of a configured worker.
struct Ctx {
    worker_id: String,
    http: HttpClient,
    payloads: PayloadBuilder,
    conversations: HashMap<String, Arc<Conversation>>,
    dataset: tokio::sync::Mutex<DatasetClient>,
    /// Session histories of multi-turn conversations, by correlation id.
    sessions: Mutex<HashMap<String, Vec<ChatMessage>>>,
    /// In-flight credits; whoever removes an entry sends that credit's return.
    in_flight: Mutex<HashMap<(Phase, u64), tokio::task::AbortHandle>>,
    returns: mpsc::UnboundedSender<FromWorker>,
    /// The bounded queue to the record writer.
    records: Arc<RecordHandoff>,
    /// Send `FirstToken` on the first content chunk (prefill concurrency is enabled).
    notify_first_token: bool,
    /// Releases held credits on time.
    punctual: Punctual,
}

impl Worker {
    /// A worker that will register at `control_addr` as `service_id`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        Worker {
            control_addr: control_addr.into(),
            service_id: service_id.into(),
            ctx: None,
        }
    }

    /// Runs until shutdown, controller loss or `cancel` (see [`Service`]).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let (addr, id) = (self.control_addr.clone(), self.service_id.clone());
        Ok(run_service(self, &addr, &id, cancel).await?)
    }
}

impl Service for Worker {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::Worker
    }

    /// Loads the dataset, connects to the timing manager and the raw-record proxy,
    /// announces itself and starts its credit reader and writers.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        svc: &ServiceContext,
    ) -> Result<(), String> {
        let config = &config;
        let endpoints = &svc.endpoints;
        let http = HttpClient::new(config)?;
        let mut dataset = DatasetClient::connect(&endpoints.dataset, &svc.service_id)
            .await
            .map_err(|e| format!("cannot reach the dataset manager: {e}"))?;
        let conversations = dataset
            .conversations(None)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), Arc::new(c)))
            .collect();
        let credits: Dealer<FromWorker, ToWorker> =
            Dealer::connect(&endpoints.credits, &svc.service_id)
                .await
                .map_err(|e| format!("cannot reach the timing manager: {e}"))?;
        let record_push: Push<RawRecord> = Push::connect(&endpoints.raw_records_frontend)
            .await
            .map_err(|e| format!("cannot reach the raw-record proxy: {e}"))?;
        let (mut credit_tx, credit_rx) = credits.split();
        let (returns_tx, mut returns_rx) = mpsc::unbounded_channel::<FromWorker>();
        let mut events = Publisher::connect(&endpoints.event_frontend)
            .await
            .map_err(|e| format!("cannot reach the event bus: {e}"))?;
        let taken_sub = Subscriber::connect(&endpoints.event_backend, &["records_taken$"])
            .await
            .map_err(|e| format!("cannot reach the event bus: {e}"))?;
        let (handoff, mut records_rx) = RecordHandoff::new(RECORD_QUEUE_CAPACITY);
        let handoff = Arc::new(handoff);
        let ctx = Arc::new(Ctx {
            worker_id: svc.service_id.clone(),
            http,
            payloads: PayloadBuilder::new(config),
            conversations,
            dataset: tokio::sync::Mutex::new(dataset),
            sessions: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            returns: returns_tx,
            records: handoff.clone(),
            notify_first_token: config.streaming && config.limits_prefill(),
            punctual: Punctual::new(),
        });
        // Record writer, within the record window.
        let (taken_tx, mut taken_rx) = tokio::sync::watch::channel(None);
        svc.spawn(window::follow_taken(
            taken_sub,
            svc.service_id.clone(),
            taken_tx,
        ));
        svc.spawn(async move {
            let mut push = record_push;
            let mut pushed: u64 = 0;
            while let Some(rec) = records_rx.recv().await {
                window::wait_for_room(&mut taken_rx, pushed).await;
                push.send(&rec)
                    .await
                    .map_err(|e| format!("cannot push a record to the record processors: {e}"))?;
                pushed += 1;
            }
            Ok(())
        });
        // Backlog reporter: the queue's counters, at most every BACKLOG_REPORT_PERIOD.
        let worker_id = svc.service_id.clone();
        svc.spawn(async move {
            loop {
                handoff.changed().await;
                for (phase, backlog) in handoff.take_changed() {
                    let ev = Event::RecordBacklog {
                        phase,
                        worker_id: worker_id.clone(),
                        backlog,
                    };
                    events
                        .publish(&ev)
                        .await
                        .map_err(|e| format!("cannot publish the record backlog: {e}"))?;
                }
                tokio::time::sleep(BACKLOG_REPORT_PERIOD).await;
            }
        });
        // Connections for the first requests, opened before the timing manager can
        // start a phase (it waits for every worker's readiness).
        let ahead = crate::preopen::connections_per_worker(config);
        match ctx.http.pre_open(ahead).await {
            Ok(open) => tracing::debug!(open, "connections opened ahead"),
            Err(e) => tracing::warn!("{e}; requests will dial their own"),
        }
        // Return writer (also announces readiness).
        credit_tx
            .send(&FromWorker::WorkerReady {
                worker_id: svc.service_id.clone(),
            })
            .await
            .map_err(|e| e.to_string())?;
        svc.spawn(async move {
            while let Some(msg) = returns_rx.recv().await {
                credit_tx
                    .send(&msg)
                    .await
                    .map_err(|e| format!("cannot return a credit to the timing manager: {e}"))?;
            }
            Ok(())
        });
        // Credit reader.
        svc.spawn(read_credits(ctx.clone(), credit_rx));
        self.ctx = Some(ctx);
        Ok(())
    }

    /// Aborts every in-flight request; each credit is returned as cancelled.
    async fn cancel(&mut self, _reason: &str, _svc: &ServiceContext) -> Result<(), String> {
        if let Some(ctx) = &self.ctx {
            ctx.cancel_all();
        }
        Ok(())
    }
}

/// Shortest interval between two record-backlog events of one worker.
const BACKLOG_REPORT_PERIOD: Duration = Duration::from_millis(100);

/// Takes credits until the service stops: one task per credit.
async fn read_credits(ctx: Arc<Ctx>, mut rx: DealerRx<ToWorker>) -> Result<(), String> {
    loop {
        match rx.recv().await {
            Ok(ToWorker::Credit(credit)) => {
                let received = mono_ns();
                let release = release_at(&credit, received, aiperf_clock::wall_ns());
                let key = (credit.phase, credit.id);
                let task_ctx = ctx.clone();
                // Hold the map lock while spawning so the task cannot finish before it is registered.
                let mut map = ctx.in_flight.lock().expect("in-flight lock");
                let handle =
                    tokio::spawn(async move { task_ctx.handle(credit, received, release).await });
                map.insert(key, handle.abort_handle());
            }
            Ok(ToWorker::CancelCredits { phase, ids }) => ctx.cancel(phase, &ids),
            Err(e) => {
                return Err(format!(
                    "lost the credit connection to the timing manager: {e}"
                ));
            }
        }
    }
}

/// When a credit that came ahead of its scheduled time (the timing manager's
/// send-ahead) may go, on this process's monotonic clock; `None` when it is due.
///
/// The hold never exceeds how far ahead of its time the credit was issued, so a
/// worker whose wall clock lags the timing manager's cannot hold a credit longer.
fn release_at(credit: &Credit, received_mono: u64, received_wall: u64) -> Option<u64> {
    let scheduled = credit.scheduled_at_ns?;
    let ahead = scheduled.checked_sub(received_wall).filter(|a| *a > 0)?;
    let bound = scheduled.saturating_sub(credit.issued_at_ns);
    Some(received_mono + ahead.min(bound))
}

/// A sent body back as text for its record: without a copy once the HTTP stack
/// has let go of the buffer (it has, unless the server answered before reading it).
fn into_text(body: Bytes) -> String {
    let bytes: Vec<u8> = match body.try_into_mut() {
        Ok(unique) => unique.into(),
        Err(shared) => shared.to_vec(),
    };
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Ctx {
    /// Aborts the given in-flight credits; they are returned as cancelled, with no record.
    fn cancel(&self, phase: Phase, ids: &[u64]) {
        let mut map = self.in_flight.lock().expect("in-flight lock");
        for &id in ids {
            if let Some(h) = map.remove(&(phase, id)) {
                h.abort();
                let _ = self.returns.send(FromWorker::CreditReturn {
                    phase,
                    credit_id: id,
                    cancelled: true,
                    error: None,
                    worker_id: self.worker_id.clone(),
                });
            }
        }
    }

    fn cancel_all(&self) {
        let keys: Vec<(Phase, u64)> = self
            .in_flight
            .lock()
            .expect("in-flight lock")
            .keys()
            .copied()
            .collect();
        for (phase, id) in keys {
            self.cancel(phase, &[id]);
        }
    }

    async fn conversation(&self, id: &str) -> Result<Arc<Conversation>, String> {
        if let Some(c) = self.conversations.get(id) {
            return Ok(c.clone());
        }
        let mut client = self.dataset.lock().await;
        let mut found = client.conversations(Some(vec![id.to_string()])).await?;
        found
            .pop()
            .map(Arc::new)
            .ok_or_else(|| format!("conversation {id} is not in the dataset"))
    }

    /// Runs one credit to completion: request, record, return. A credit with a
    /// `release` time is sent then, with its body already built.
    async fn handle(self: Arc<Self>, credit: Credit, received: u64, release: Option<u64>) {
        let record = self.run_request(&credit, received, release).await;
        // Claim the credit first: if a cancellation already claimed it, it was returned
        // as cancelled and must not produce a record.
        let owned = self
            .in_flight
            .lock()
            .expect("in-flight lock")
            .remove(&(credit.phase, credit.id))
            .is_some();
        if owned {
            let error = record.error.as_ref().map(|e| e.message.clone());
            // Waits for room when record processing fell behind: the credit
            // returns later, the record is never dropped.
            if !self.records.hand_over(record).await {
                return;
            }
            let _ = self.returns.send(FromWorker::CreditReturn {
                phase: credit.phase,
                credit_id: credit.id,
                cancelled: false,
                error,
                worker_id: self.worker_id.clone(),
            });
        }
    }

    async fn run_request(&self, credit: &Credit, received: u64, release: Option<u64>) -> RawRecord {
        let x_request_id = uuid::Uuid::new_v4().to_string();
        let conversation = match self.conversation(&credit.conversation_id).await {
            Ok(c) => c,
            Err(e) => return self.failed_record(credit, received, x_request_id, e),
        };
        let turn_index = credit.turn_index as usize;
        let multi_turn = credit.num_turns > 1;
        let history = if multi_turn && turn_index > 0 {
            self.sessions
                .lock()
                .expect("sessions lock")
                .get(&credit.x_correlation_id)
                .cloned()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let default_turn = Turn::default();
        let turn = conversation.turns.get(turn_index).unwrap_or(&default_turn);
        let messages = PayloadBuilder::messages(&conversation, turn_index, &history);
        // The body is written once; the record gets the same buffer back after the send.
        let body = Bytes::from(self.payloads.body_json(messages, turn));
        let cancel_after = credit.cancel_after_ns.map(Duration::from_nanos);
        let on_first_token: Option<crate::http::FirstTokenHook> =
            self.notify_first_token.then(|| {
                let returns = self.returns.clone();
                let (phase, credit_id) = (credit.phase, credit.id);
                Box::new(move || {
                    let _ = returns.send(FromWorker::FirstToken { phase, credit_id });
                }) as crate::http::FirstTokenHook
            });
        if let Some(at) = release {
            self.punctual
                .sleep_until(aiperf_clock::instant_of(at))
                .await;
        }
        let ex = self
            .http
            .send(
                body.clone(),
                &x_request_id,
                &credit.x_correlation_id,
                self.payloads.streaming(),
                cancel_after,
                on_first_token,
            )
            .await;
        if multi_turn {
            self.remember_turn(credit, turn, &ex.responses);
        }
        if credit.turn_index + 1 >= credit.num_turns {
            self.http.end_session(&credit.x_correlation_id);
        }
        RawRecord {
            credit: credit.clone(),
            worker_id: self.worker_id.clone(),
            x_request_id,
            credit_received_perf_ns: received,
            request_start_ns: ex.request_start_ns,
            start_perf_ns: ex.start_perf_ns,
            ack_perf_ns: ex.ack_perf_ns,
            end_perf_ns: ex.end_perf_ns,
            status: ex.status,
            streaming: self.payloads.streaming(),
            responses: ex.responses,
            error: ex.error,
            was_cancelled: ex.was_cancelled,
            cancellation_perf_ns: ex.cancellation_perf_ns,
            payload: into_text(body),
            http_trace: ex.http_trace,
            connection_retries: ex.connection_retries,
            non_sse_response: ex.non_sse_response,
        }
    }

    /// Appends the user turn and the reply actually received to the session history.
    fn remember_turn(
        &self,
        credit: &Credit,
        turn: &Turn,
        responses: &[aiperf_protocol::record::RawResponse],
    ) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if credit.turn_index + 1 >= credit.num_turns {
            sessions.remove(&credit.x_correlation_id);
            return;
        }
        let reply: String = responses
            .iter()
            .map(|r| parse_response(&r.data).text)
            .collect();
        let h = sessions.entry(credit.x_correlation_id.clone()).or_default();
        h.push(ChatMessage {
            role: "user",
            texts: turn.texts.clone(),
        });
        h.push(ChatMessage::new("assistant", reply));
    }

    fn failed_record(
        &self,
        credit: &Credit,
        received: u64,
        x_request_id: String,
        message: String,
    ) -> RawRecord {
        let now = mono_ns();
        RawRecord {
            credit: credit.clone(),
            worker_id: self.worker_id.clone(),
            x_request_id,
            credit_received_perf_ns: received,
            request_start_ns: aiperf_clock::wall_ns(),
            start_perf_ns: now,
            ack_perf_ns: None,
            end_perf_ns: now,
            status: None,
            streaming: self.payloads.streaming(),
            responses: Vec::new(),
            error: Some(aiperf_protocol::ErrorDetails::new(
                None,
                "DatasetError",
                message,
            )),
            was_cancelled: false,
            cancellation_perf_ns: None,
            payload: String::new(),
            http_trace: None,
            connection_retries: 0,
            non_sse_response: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(issued: u64, scheduled: Option<u64>) -> Credit {
        Credit {
            id: 0,
            phase: Phase::Profiling,
            conversation_id: "c".into(),
            x_correlation_id: "x".into(),
            turn_index: 0,
            num_turns: 1,
            issued_at_ns: issued,
            scheduled_at_ns: scheduled,
            cancel_after_ns: None,
        }
    }

    #[test]
    fn a_sent_body_comes_back_as_the_same_text_shared_or_not() {
        let text = "{\"messages\":[]}".to_string();
        let body = Bytes::from(text.clone());
        let held = body.clone();
        assert_eq!(into_text(body), text, "still shared: copied");
        assert_eq!(into_text(held), text, "unique: reused");
    }

    #[test]
    fn a_credit_sent_ahead_is_held_until_its_time() {
        // Issued at wall 1_000_000, due at 1_010_000, received at wall 1_000_300
        // (mono 5_000): held 9_700 ns.
        let c = credit(1_000_000, Some(1_010_000));
        assert_eq!(release_at(&c, 5_000, 1_000_300), Some(14_700));
    }

    #[test]
    fn a_due_or_unscheduled_credit_goes_at_once() {
        assert_eq!(release_at(&credit(1_000, None), 5, 1_000), None);
        assert_eq!(release_at(&credit(1_000, Some(2_000)), 5, 2_000), None);
        assert_eq!(release_at(&credit(1_000, Some(2_000)), 5, 2_500), None);
    }

    #[test]
    fn a_lagging_worker_clock_never_holds_longer_than_the_send_ahead() {
        // The worker's wall clock is 1 s behind: the credit looks 1 s + 10 µs early,
        // but it was issued only 10 µs ahead of its time.
        let c = credit(5_000_000_000, Some(5_000_010_000));
        assert_eq!(release_at(&c, 100, 4_000_000_000), Some(10_100));
    }
}
