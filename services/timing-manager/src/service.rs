//! The timing manager actor: owns the credit ROUTER, runs the phases on start.

use crate::{
    dispatch::Dispatcher,
    phase::{PhaseRunner, PhaseSpec},
    rng,
    sampler::Sampler,
};
use aiperf_config::{ArrivalPattern, ProfileConfig};
use aiperf_protocol::{
    control::{Command, ServiceState},
    credit::{FromWorker, ToWorker},
    dataset::{ConversationTiming, SamplingStrategy},
    events::Event,
    Phase, ServiceType,
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
        TimingManager { control_addr: control_addr.into(), service_id: service_id.into() }
    }

    /// Runs until shutdown.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut control = ControlClient::register(&self.control_addr, ServiceType::TimingManager, &self.service_id).await?;
        let ctl = control.sender();
        let mut prepared: Option<Prepared> = None;
        let run_cancel = CancellationToken::new();
        // The task hands its sockets back when done: dropping a ZeroMQ socket discards
        // what it has not flushed yet, so they live until shutdown.
        let mut run_task: Option<tokio::task::JoinHandle<Prepared>> = None;
        loop {
            let cmd = tokio::select! {
                _ = cancel.cancelled() => break,
                c = control.next_command() => match c { Ok(c) => c, Err(_) => break },
            };
            match cmd.command {
                Command::Configure { config } => match self.configure(&control, *config).await {
                    Ok(p) => {
                        prepared = Some(p);
                        ctl.set_state(ServiceState::Ready);
                        ctl.respond(cmd.id, Ok(())).await?;
                    }
                    Err(e) => ctl.respond(cmd.id, Err(format!("timing manager: {e}"))).await?,
                },
                Command::Start => match prepared.take() {
                    Some(p) => {
                        ctl.set_state(ServiceState::Running);
                        ctl.respond(cmd.id, Ok(())).await?;
                        run_task = Some(tokio::spawn(run_phases(p, ctl.clone(), run_cancel.clone())));
                    }
                    None => ctl.respond(cmd.id, Err("timing manager: start before configure".into())).await?,
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
        if let Some(t) = run_task {
            t.abort();
        }
        Ok(())
    }

    async fn configure(&self, control: &ControlClient, config: ProfileConfig) -> Result<Prepared, String> {
        let endpoints = control.endpoints();
        let router: Router<ToWorker, FromWorker> = Router::bind(&endpoints.credits).await.map_err(|e| format!("cannot bind {}: {e}", endpoints.credits))?;
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
                        ctl.fail(format!("timing manager lost its credit socket: {e}")).await;
                        break;
                    }
                }
            }
        });
        let mut dataset = DatasetClient::connect(&endpoints.dataset, &self.service_id).await.map_err(|e| format!("cannot reach the dataset manager: {e}"))?;
        let (conversations, sampling) = dataset.timing().await?;
        if conversations.is_empty() {
            return Err("the dataset is empty: nothing to send".into());
        }
        let publisher = Publisher::connect(&endpoints.event_frontend).await.map_err(|e| e.to_string())?;
        Ok(Prepared { dispatcher: Dispatcher::new(tx, config.random_seed), config, dataset: conversations, sampling, returns, publisher })
    }
}

/// Phase specs of the run: warmup (when asked for), then profiling.
pub fn phase_specs(config: &ProfileConfig) -> Vec<PhaseSpec> {
    let arrivals = config.request_rate.map(|r| (config.arrival_pattern, r, config.arrival_smoothness));
    let arrivals = arrivals.filter(|(p, _, _)| *p != ArrivalPattern::ConcurrencyBurst);
    let mut specs = Vec::new();
    if config.warmup_request_count > 0 {
        specs.push(PhaseSpec {
            phase: Phase::Warmup,
            concurrency: config.concurrency,
            arrivals,
            request_count: Some(config.warmup_request_count),
            duration: None,
            grace: None,
        });
    }
    let grace = config.benchmark_grace_period_s;
    specs.push(PhaseSpec {
        phase: Phase::Profiling,
        concurrency: config.concurrency,
        arrivals,
        request_count: config.request_count,
        duration: config.benchmark_duration_s.map(Duration::from_secs_f64),
        grace: if grace.is_finite() { Some(Duration::from_secs_f64(grace)) } else { None },
    });
    specs
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
        ctl.fail("no worker connected to the timing manager within 30 s").await;
        return;
    }
    let mut sampler = Sampler::new(p.sampling, p.dataset.len(), rng("dataset.sampling", p.config.random_seed));
    for spec in phase_specs(&p.config) {
        let runner = PhaseRunner::new(spec, &p.dataset, &mut sampler, &mut p.dispatcher, &mut p.publisher);
        if let Err(e) = runner.run(&mut p.returns, cancel).await {
            ctl.fail(format!("timing manager: {e}")).await;
            return;
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    if let Err(e) = p.publisher.publish(&Event::CreditsComplete).await {
        ctl.fail(format!("timing manager cannot publish: {e}")).await;
    }
}
