//! The timing manager actor: owns the credit ROUTER, runs the phases on start.

use crate::{dispatch::Dispatcher, phase::PhaseRunner, rng, sampler::Sampler};
use aiperf_config::{PhaseLoad, ProfileConfig};
use aiperf_protocol::{
    ServiceType,
    credit::{FromWorker, ToWorker},
    dataset::{ConversationTiming, SamplingStrategy},
    events::Event,
};
use aiperf_transport::{
    ControlSender, DatasetClient, Publisher, Router, Service, ServiceContext, run_service,
};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The timing manager actor.
pub struct TimingManager {
    control_addr: String,
    service_id: String,
    /// Set by `configure`, taken by `start`.
    prepared: Option<Prepared>,
    /// Stops the schedule (cancel, shutdown).
    run_cancel: CancellationToken,
    /// Released at shutdown: the schedule runs on its own thread (see
    /// `spawn_schedule_thread`) and keeps its sockets until then, because dropping a
    /// ZeroMQ socket discards what it has not flushed yet.
    run_done: CancellationToken,
    run_thread: Option<std::thread::JoinHandle<()>>,
}

/// Everything a configured timing manager needs to run.
struct Prepared {
    config: ProfileConfig,
    dataset: Vec<ConversationTiming>,
    sampling: SamplingStrategy,
    dispatcher: Dispatcher,
    returns: mpsc::UnboundedReceiver<FromWorker>,
    publisher: Publisher,
}

impl TimingManager {
    /// A timing manager that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        TimingManager {
            control_addr: control_addr.into(),
            service_id: service_id.into(),
            prepared: None,
            run_cancel: CancellationToken::new(),
            run_done: CancellationToken::new(),
            run_thread: None,
        }
    }

    /// Runs until shutdown (see [`Service`]).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let (addr, id) = (self.control_addr.clone(), self.service_id.clone());
        Ok(run_service(self, &addr, &id, cancel).await?)
    }
}

impl Service for TimingManager {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::TimingManager
    }

    /// Binds the credit ROUTER, fetches the dataset's timing and connects to the bus.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let endpoints = &ctx.endpoints;
        let router: Router<ToWorker, FromWorker> = Router::bind(&endpoints.credits)
            .await
            .map_err(|e| format!("cannot bind {}: {e}", endpoints.credits))?;
        let (tx, mut rx) = router.split();
        let (fwd, returns) = mpsc::unbounded_channel();
        ctx.spawn(async move {
            loop {
                let (_identity, msg) = rx
                    .recv()
                    .await
                    .map_err(|e| format!("timing manager lost its credit socket: {e}"))?;
                if fwd.send(msg).is_err() {
                    return Ok(());
                }
            }
        });
        let mut dataset = DatasetClient::connect(&endpoints.dataset, &ctx.service_id)
            .await
            .map_err(|e| format!("cannot reach the dataset manager: {e}"))?;
        let (conversations, sampling) = dataset.timing().await?;
        if conversations.is_empty() {
            return Err("the dataset is empty: nothing to send".into());
        }
        let publisher = Publisher::connect(&endpoints.event_frontend)
            .await
            .map_err(|e| e.to_string())?;
        self.prepared = Some(Prepared {
            dispatcher: Dispatcher::new(tx, config.random_seed),
            config,
            dataset: conversations,
            sampling,
            returns,
            publisher,
        });
        Ok(())
    }

    /// Runs the phases on the schedule thread.
    async fn start(&mut self, ctx: &ServiceContext) -> Result<(), String> {
        let prepared = self.prepared.take().ok_or("already started")?;
        let thread = spawn_schedule_thread(
            prepared,
            ctx.control.clone(),
            self.run_cancel.clone(),
            self.run_done.clone(),
        )
        .map_err(|e| format!("cannot start the schedule thread: {e}"))?;
        self.run_thread = Some(thread);
        Ok(())
    }

    /// Stops issuing credits; the schedule ends its phase as cancelled.
    async fn cancel(&mut self, _reason: &str, _ctx: &ServiceContext) -> Result<(), String> {
        self.run_cancel.cancel();
        Ok(())
    }

    /// Stops the schedule and waits for its thread.
    async fn shutdown(&mut self) {
        self.run_cancel.cancel();
        self.run_done.cancel();
        if let Some(t) = self.run_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Whether the dataset asks for a fixed schedule: the dataset manager puts
/// `timestamp_ms` on turns only when a fixed schedule is in effect (already offset
/// and sped up), so the first turn of the first conversation decides.
pub fn is_fixed_schedule(dataset: &[ConversationTiming]) -> bool {
    dataset
        .first()
        .and_then(|c| c.turns.first())
        .is_some_and(|t| t.timestamp_ms.is_some())
}

/// The run's phases ([`ProfileConfig::phases`]) for this dataset: a timestamped
/// trace is replayed on its fixed schedule.
pub fn phase_loads(config: &ProfileConfig, dataset: &[ConversationTiming]) -> Vec<PhaseLoad> {
    let trace = is_fixed_schedule(dataset);
    if trace && config.load.user_centric_rate.is_some() {
        tracing::warn!(
            "the dataset is a timestamped trace (fixed schedule): --user-centric-rate is ignored"
        );
    }
    config.phases(trace)
}

/// Runs the phases on a dedicated OS thread with its own single-threaded runtime,
/// at raised priority where allowed: when a credit is due, the timing manager never
/// waits behind workers, record processors or exporters for a runtime thread.
/// The thread keeps the sockets until `done` is cancelled (shutdown).
fn spawn_schedule_thread(
    p: Prepared,
    ctl: ControlSender,
    cancel: CancellationToken,
    done: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("aiperf-schedule".into())
        .spawn(move || {
            raise_priority();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("timing manager cannot build its runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let p = run_phases(p, ctl, cancel).await;
                done.cancelled().await;
                drop(p);
            });
        })
}

/// Nice -5 for the calling thread (needs privileges; silently unchanged otherwise).
fn raise_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the current thread; failure leaves the priority unchanged.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, -5);
    }
}

async fn run_phases(mut p: Prepared, ctl: ControlSender, cancel: CancellationToken) -> Prepared {
    run_phases_inner(&mut p, &ctl, &cancel).await;
    p
}

async fn run_phases_inner(p: &mut Prepared, ctl: &ControlSender, cancel: &CancellationToken) {
    // Wait until every worker announced itself (they do so while being configured).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while p.dispatcher.worker_count() < p.config.workers {
        match tokio::time::timeout_at(deadline, p.returns.recv()).await {
            Ok(Some(FromWorker::WorkerReady { worker_id })) => p.dispatcher.add_worker(worker_id),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if p.dispatcher.worker_count() == 0 {
        ctl.fail("no worker connected to the timing manager within 30 s")
            .await;
        return;
    }
    let mut sampler = Sampler::new(
        p.sampling,
        p.dataset.len(),
        rng("dataset.sampling", p.config.random_seed),
    );
    for spec in phase_loads(&p.config, &p.dataset) {
        let runner = PhaseRunner::new(
            spec,
            &p.dataset,
            &mut sampler,
            &mut p.dispatcher,
            &mut p.publisher,
        );
        if let Err(e) = runner.run(&mut p.returns, cancel).await {
            ctl.fail(format!("timing manager: {e}")).await;
            return;
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    if let Err(e) = p.publisher.publish(&Event::CreditsComplete).await {
        ctl.fail(format!("timing manager cannot publish: {e}"))
            .await;
    }
}
