//! The timing manager actor: owns the credit ROUTER, runs the phases on start.

use crate::{dispatch::Dispatcher, phase::PhaseRunner, rng, sampler::Sampler};
use aiperf_config::{PhaseLoad, ProfileConfig};
use aiperf_protocol::{
    ServiceType,
    control::{Command, ServiceState},
    credit::{FromWorker, ToWorker},
    dataset::{ConversationTiming, SamplingStrategy},
    events::Event,
};
use aiperf_transport::{ControlClient, ControlSender, DatasetClient, Publisher, Router};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The timing manager actor.
pub struct TimingManager {
    control_addr: String,
    service_id: String,
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
        }
    }

    /// Runs until shutdown.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut control = ControlClient::register(
            &self.control_addr,
            ServiceType::TimingManager,
            &self.service_id,
        )
        .await?;
        let ctl = control.sender();
        let mut prepared: Option<Prepared> = None;
        let run_cancel = CancellationToken::new();
        // The schedule runs on its own thread (see `spawn_schedule_thread`); it keeps its
        // sockets until shutdown, because dropping a ZeroMQ socket discards what it has
        // not flushed yet.
        let run_done = CancellationToken::new();
        let mut run_thread: Option<std::thread::JoinHandle<()>> = None;
        loop {
            let Some(cmd) = control.next_command_until(&cancel).await else {
                break;
            };
            match cmd.command {
                Command::Configure { config } => match self.configure(&control, &config).await {
                    Ok(p) => {
                        prepared = Some(p);
                        ctl.set_state(ServiceState::Ready);
                        ctl.respond(cmd.id, Ok(())).await?;
                    }
                    Err(e) => {
                        ctl.respond(cmd.id, Err(format!("timing manager: {e}")))
                            .await?
                    }
                },
                Command::Start => match prepared.take() {
                    Some(p) => {
                        ctl.set_state(ServiceState::Running);
                        ctl.respond(cmd.id, Ok(())).await?;
                        match spawn_schedule_thread(
                            p,
                            ctl.clone(),
                            run_cancel.clone(),
                            run_done.clone(),
                        ) {
                            Ok(t) => run_thread = Some(t),
                            Err(e) => {
                                ctl.fail(format!(
                                    "timing manager cannot start its schedule thread: {e}"
                                ))
                                .await
                            }
                        }
                    }
                    None => {
                        ctl.respond(cmd.id, Err("timing manager: start before configure".into()))
                            .await?
                    }
                },
                Command::Cancel { .. } => {
                    run_cancel.cancel();
                    ctl.respond(cmd.id, Ok(())).await?;
                }
                Command::Shutdown => {
                    run_cancel.cancel();
                    let _ = ctl.respond(cmd.id, Ok(())).await;
                    break;
                }
            }
        }
        run_cancel.cancel();
        run_done.cancel();
        if let Some(t) = run_thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        Ok(())
    }

    async fn configure(
        &self,
        control: &ControlClient,
        config: &aiperf_protocol::ConfigDocument,
    ) -> Result<Prepared, String> {
        let config = ProfileConfig::from_document(config).map_err(|e| e.to_string())?;
        let endpoints = control.endpoints();
        let router: Router<ToWorker, FromWorker> = Router::bind(&endpoints.credits)
            .await
            .map_err(|e| format!("cannot bind {}: {e}", endpoints.credits))?;
        let (tx, mut rx) = router.split();
        let (fwd, returns) = mpsc::unbounded_channel();
        let ctl = control.sender();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok((_identity, msg)) => {
                        if fwd.send(msg).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        ctl.fail(format!("timing manager lost its credit socket: {e}"))
                            .await;
                        break;
                    }
                }
            }
        });
        let mut dataset = DatasetClient::connect(&endpoints.dataset, &self.service_id)
            .await
            .map_err(|e| format!("cannot reach the dataset manager: {e}"))?;
        let (conversations, sampling) = dataset.timing().await?;
        if conversations.is_empty() {
            return Err("the dataset is empty: nothing to send".into());
        }
        let publisher = Publisher::connect(&endpoints.event_frontend)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Prepared {
            dispatcher: Dispatcher::new(tx, config.random_seed),
            config,
            dataset: conversations,
            sampling,
            returns,
            publisher,
        })
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
