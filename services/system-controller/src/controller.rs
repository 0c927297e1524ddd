//! The system controller: owns a run from configuration to exit code.
//!
//! Lifecycle: bind control + proxies → spawn services → registration → configure
//! (dataset manager first, then everyone; workers once the worker manager asked
//! for them) → bus handshake → start → watch (heartbeats, exits, failures,
//! signals) → results → exports → shutdown.
//!
//! Every way a run can end early (a signal, a dead service, a fatal error) takes
//! one path, [`Controller::stop_early`]: cancel (the timing manager stops issuing,
//! workers abort in-flight requests), wait at most `--shutdown-grace-period` for
//! the records manager's partial results — not at all when it is dead — and, when
//! they did not come, rebuild them from `profile_export.jsonl`
//! (`docs/reliability.md`).

use crate::{
    load_report::LoadTracker,
    progress::Progress,
    services::{ServiceExit, ServiceSpawner},
    signals::{self, Signal},
};
use aiperf_config::{ProfileConfig, ServiceMode, ZmqTransport};
use aiperf_protocol::{
    Endpoints, PROTOCOL_VERSION, Phase, ServiceType,
    control::{Command, CommandStatus, FromController, ToController},
    events::Event,
    results::ProfileResults,
};
use aiperf_transport::{Publisher, Router, RouterTx, Subscriber};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long services have to register.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long configuration may take (building a large dataset, loading tokenizers).
const CONFIGURE_TIMEOUT: Duration = Duration::from_secs(600);
/// A service silent for this long is considered dead.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// After partial results arrived, how long the phase's final counters (sent,
/// cancelled) may still take (within the grace): workers abort their requests at
/// once, so they follow within milliseconds unless the timing manager is gone.
const PHASE_END_WAIT: Duration = Duration::from_secs(2);

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// Results from the records manager (partial when the run failed).
    pub results: Option<ProfileResults>,
    /// Why the run failed, if it did.
    pub failure: Option<String>,
    /// The signal that stopped the run, if one did.
    pub signal: Option<Signal>,
    /// The results were rebuilt from `profile_export.jsonl` (the records manager
    /// died or did not answer): how, for the final message.
    pub recovered: Option<String>,
    /// Phase counters seen on the event bus (for the load report).
    pub load: LoadTracker,
}

struct ServiceInfo {
    service_type: ServiceType,
    last_seen: Instant,
}

enum Input {
    Control(String, ToController),
    Bus(Event),
    Exit(ServiceExit),
    Signal(Signal),
}

/// A running controller.
pub struct Controller {
    config: ProfileConfig,
    endpoints: Endpoints,
    tx: RouterTx<FromController>,
    inputs: mpsc::UnboundedReceiver<Input>,
    spawner: ServiceSpawner,
    services: BTreeMap<String, ServiceInfo>,
    expected: HashMap<ServiceType, usize>,
    next_command: u64,
    responses: HashMap<u64, (String, CommandStatus, Option<String>)>,
    bus_ready: HashSet<String>,
    spawn_workers: Option<usize>,
    results: Option<ProfileResults>,
    failure: Option<String>,
    signal: Option<Signal>,
    recovered: Option<String>,
    /// Types of the services that died (their process exited or task ended).
    dead: HashSet<ServiceType>,
    shutting_down: bool,
    started: bool,
    progress: Progress,
    publisher: Option<Publisher>,
    load: LoadTracker,
}

impl Controller {
    /// Binds the control socket and the proxies, ready to spawn services.
    pub async fn bind(config: ProfileConfig) -> anyhow::Result<Controller> {
        let endpoints = match &config.zmq {
            ZmqTransport::Ipc { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot create the IPC socket directory {}: {e}",
                        dir.display()
                    )
                })?;
                signals::register_ipc_dir(dir.clone());
                Endpoints::ipc(dir)
            }
            ZmqTransport::Tcp { host, base_port } => Endpoints::tcp(host, *base_port),
        };
        let router: Router<FromController, ToController> = Router::bind(&endpoints.control)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind the control socket {}: {e} (is another run using it? use --zmq-base-port or --zmq-ipc-path)", endpoints.control))?;
        let (tx, mut rx) = router.split();
        tokio::spawn(
            aiperf_transport::event_proxy(&endpoints.event_frontend, &endpoints.event_backend)
                .await?,
        );
        tokio::spawn(
            aiperf_transport::forward(
                &endpoints.raw_records_frontend,
                &endpoints.raw_records_backend,
            )
            .await?,
        );
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        let t = inputs_tx.clone();
        tokio::spawn(async move {
            while let Ok((id, msg)) = rx.recv().await {
                if t.send(Input::Control(id, msg)).is_err() {
                    break;
                }
            }
        });
        let mut sub = Subscriber::connect(&endpoints.event_backend, &[""]).await?;
        let t = inputs_tx.clone();
        tokio::spawn(async move {
            while let Ok(ev) = sub.recv().await {
                if t.send(Input::Bus(ev)).is_err() {
                    break;
                }
            }
        });
        // The first signal (received on its own thread, see `signals`); one that
        // came before this run started stops it at once.
        let t = inputs_tx.clone();
        let mut first_signal = signals::subscribe();
        tokio::spawn(async move {
            if let Ok(s) = first_signal.wait_for(Option::is_some).await
                && let Some(signal) = *s
            {
                let _ = t.send(Input::Signal(signal));
            }
        });
        let (spawner, mut exits) = ServiceSpawner::new(
            endpoints.control.clone(),
            config.service_mode == ServiceMode::MultiProcess,
            config.log_level.clone(),
        );
        let t = inputs_tx;
        tokio::spawn(async move {
            while let Some(e) = exits.recv().await {
                if t.send(Input::Exit(e)).is_err() {
                    break;
                }
            }
        });
        let publisher = Some(Publisher::connect(&endpoints.event_frontend).await?);
        let progress = Progress::new(config.ui);
        Ok(Controller {
            config,
            endpoints,
            tx,
            inputs,
            spawner,
            services: BTreeMap::new(),
            expected: HashMap::new(),
            next_command: 0,
            responses: HashMap::new(),
            bus_ready: HashSet::new(),
            spawn_workers: None,
            results: None,
            failure: None,
            signal: None,
            recovered: None,
            dead: HashSet::new(),
            shutting_down: false,
            started: false,
            progress,
            publisher,
            load: LoadTracker::default(),
        })
    }

    /// The socket addresses of this run.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Runs the whole lifecycle and shuts every service down.
    pub async fn run(mut self) -> RunOutcome {
        if let Err(e) = self.drive().await {
            self.fail(e);
        }
        if self.failure.is_some() && self.results.is_none() && self.started {
            self.stop_early().await;
        }
        self.progress.finish();
        self.shutdown().await;
        RunOutcome {
            results: self.results,
            failure: self.failure,
            signal: self.signal,
            recovered: self.recovered,
            load: self.load,
        }
    }

    /// Records the first failure; the log file gets it now (with its time), the
    /// console once, when the run ends (`run::run_profile`).
    fn fail(&mut self, msg: String) {
        if self.failure.is_none() {
            tracing::error!(target: crate::logging::FILE_ONLY, "{msg}");
            self.failure = Some(msg);
        }
    }

    async fn drive(&mut self) -> Result<(), String> {
        // 1. Spawn the fixed services.
        let rp = self.config.record_processors;
        let plan = [
            (ServiceType::DatasetManager, 1usize),
            (ServiceType::TimingManager, 1),
            (ServiceType::WorkerManager, 1),
            (ServiceType::RecordsManager, 1),
            (ServiceType::RecordProcessor, rp),
        ];
        for (t, n) in plan {
            let external = self.config.external_count(t.as_str());
            let own = n.saturating_sub(external);
            self.expected.insert(t, own + external);
            for _ in 0..own {
                self.spawner.spawn(t).map_err(|e| e.to_string())?;
            }
        }
        self.await_registrations().await?;
        // 2. Dataset first: everyone else reads it while configuring.
        self.configure_types(&[ServiceType::DatasetManager]).await?;
        self.configure_types(&[
            ServiceType::TimingManager,
            ServiceType::RecordsManager,
            ServiceType::RecordProcessor,
            ServiceType::WorkerManager,
        ])
        .await?;
        // 3. Workers, as many as the worker manager asked for.
        self.wait_for(
            CONFIGURE_TIMEOUT,
            "the worker manager to size the worker pool",
            |c| c.spawn_workers.is_some(),
        )
        .await?;
        let own = self.spawn_workers.unwrap_or(0);
        let external = self.config.external_count("worker");
        self.expected.insert(ServiceType::Worker, own + external);
        for _ in 0..own {
            self.spawner
                .spawn(ServiceType::Worker)
                .map_err(|e| e.to_string())?;
        }
        self.await_registrations().await?;
        self.configure_types(&[ServiceType::Worker]).await?;
        // 4. The records manager must hear phase events: confirm its subscription.
        self.bus_handshake().await?;
        // 5. Start: everyone, the timing manager last.
        self.started = true;
        let order = [
            ServiceType::DatasetManager,
            ServiceType::RecordsManager,
            ServiceType::RecordProcessor,
            ServiceType::WorkerManager,
            ServiceType::Worker,
            ServiceType::TimingManager,
        ];
        for t in order {
            self.command_types(&[t], Command::Start, Duration::from_secs(60))
                .await?;
        }
        // 6. Watch until the records manager delivers results.
        self.wait_for(Duration::MAX, "the results", |c| c.results.is_some())
            .await?;
        Ok(())
    }

    /// Handles one input; returns an error when the run must stop.
    async fn handle(&mut self, input: Input) -> Result<(), String> {
        match input {
            Input::Control(identity, msg) => {
                let reply = self.on_control(&identity, msg)?;
                if let Some(reply) = reply {
                    // Answer before anything else is sent to this service: a command
                    // must never overtake its welcome.
                    self.tx
                        .send(&identity, &reply)
                        .await
                        .map_err(|e| format!("cannot answer {identity}: {e}"))?;
                }
                Ok(())
            }
            Input::Bus(ev) => {
                self.on_bus(&ev);
                Ok(())
            }
            Input::Exit(exit) => {
                if self.shutting_down {
                    return Ok(());
                }
                self.dead.insert(exit.service_type);
                let what = self.describe(&exit.service_id);
                Err(match exit.outcome {
                    Ok(()) => format!("{what} stopped unexpectedly"),
                    Err(e) => format!("{what} died: {e}"),
                })
            }
            // The signal thread printed what happens; a second signal exits there.
            Input::Signal(signal) => {
                self.signal = Some(signal);
                Err(format!("the run was stopped by {}", signal.describe()))
            }
        }
    }

    /// Feeds a bus event to the progress display and the load counters.
    fn on_bus(&mut self, ev: &Event) {
        tracing::debug!(topic = ev.topic(), "controller event");
        self.progress.on_event(ev);
        self.load.on_event(ev);
    }

    fn describe(&self, id: &str) -> String {
        match self.spawner.pid(id) {
            Some(pid) => format!("service {id} (pid {pid})"),
            None => format!("service {id}"),
        }
    }

    /// Applies a control message; returns the reply to send, if any.
    fn on_control(
        &mut self,
        identity: &str,
        msg: ToController,
    ) -> Result<Option<FromController>, String> {
        if let Some(s) = self.services.get_mut(identity) {
            s.last_seen = Instant::now();
        }
        match msg {
            ToController::Register {
                protocol_version,
                service_id,
                service_type,
                ..
            } => {
                let reply = if protocol_version != PROTOCOL_VERSION {
                    FromController::Rejected {
                        reason: format!(
                            "protocol version {protocol_version}, controller speaks {PROTOCOL_VERSION}"
                        ),
                    }
                } else if self
                    .services
                    .values()
                    .filter(|s| s.service_type == service_type)
                    .count()
                    >= self.expected.get(&service_type).copied().unwrap_or(0)
                {
                    FromController::Rejected {
                        reason: format!(
                            "no {service_type} expected (use --external-service to add one)"
                        ),
                    }
                } else {
                    self.services.insert(
                        service_id.clone(),
                        ServiceInfo {
                            service_type,
                            last_seen: Instant::now(),
                        },
                    );
                    FromController::Welcome {
                        protocol_version: PROTOCOL_VERSION,
                        endpoints: self.endpoints.clone(),
                    }
                };
                Ok(Some(reply))
            }
            ToController::Heartbeat { .. } => Ok(None),
            ToController::CommandResponse {
                service_id,
                command_id,
                status,
                error,
            } => {
                self.responses
                    .insert(command_id, (service_id, status, error));
                Ok(None)
            }
            ToController::BusReady { service_id, .. } => {
                self.bus_ready.insert(service_id);
                Ok(None)
            }
            ToController::SpawnWorkers { num_workers, .. } => {
                self.spawn_workers = Some(num_workers);
                Ok(None)
            }
            ToController::ServiceFailed { service_id, error } => {
                Err(format!("{}: {error}", self.describe(&service_id)))
            }
            ToController::Results { results, .. } => {
                self.results = Some(*results);
                Ok(None)
            }
        }
    }

    /// Processes inputs until `done` holds, failing on timeout or a run-stopping input.
    async fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Self) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now().checked_add(timeout);
        let mut hb = tokio::time::interval(Duration::from_millis(500));
        while !done(self) {
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Err(format!(
                    "timed out after {:.0} s waiting for {what}",
                    timeout.as_secs_f64()
                ));
            }
            let sleep = tokio::time::sleep(remaining.unwrap_or(Duration::from_secs(3600)));
            tokio::select! {
                input = self.inputs.recv() => match input {
                    Some(i) => self.handle(i).await?,
                    None => return Err("controller inputs closed".into()),
                },
                _ = hb.tick() => self.check_heartbeats()?,
                _ = sleep => {}
            }
        }
        Ok(())
    }

    fn check_heartbeats(&self) -> Result<(), String> {
        for (id, s) in &self.services {
            if s.last_seen.elapsed() > HEARTBEAT_TIMEOUT {
                return Err(format!(
                    "{} has not sent a heartbeat for {:.0} s: it is hung or its host is unreachable",
                    self.describe(id),
                    s.last_seen.elapsed().as_secs_f64()
                ));
            }
        }
        Ok(())
    }

    async fn await_registrations(&mut self) -> Result<(), String> {
        let expected = self.expected.clone();
        let r = self
            .wait_for(REGISTRATION_TIMEOUT, "services to register", |c| {
                expected.iter().all(|(t, n)| {
                    c.services.values().filter(|s| s.service_type == *t).count() >= *n
                })
            })
            .await;
        r.map_err(|e| {
            let missing: Vec<String> = expected
                .iter()
                .filter_map(|(t, n)| {
                    let have = self
                        .services
                        .values()
                        .filter(|s| s.service_type == *t)
                        .count();
                    (have < *n).then(|| format!("{t}: {have} of {n}"))
                })
                .collect();
            format!(
                "{e} (missing {}; a service started by hand must use the control address {})",
                missing.join(", "),
                self.endpoints.control
            )
        })
    }

    fn ids_of(&self, types: &[ServiceType]) -> Vec<String> {
        self.services
            .iter()
            .filter(|(_, s)| types.contains(&s.service_type))
            .map(|(id, _)| id.clone())
            .collect()
    }

    async fn command_types(
        &mut self,
        types: &[ServiceType],
        command: Command,
        timeout: Duration,
    ) -> Result<(), String> {
        let ids = self.ids_of(types);
        let name = command.name();
        let mut pending = Vec::new();
        for id in ids {
            self.next_command += 1;
            let cid = self.next_command;
            self.tx
                .send(
                    &id,
                    &FromController::Command {
                        command_id: cid,
                        command: command.clone(),
                    },
                )
                .await
                .map_err(|e| format!("cannot send {name} to {id}: {e}"))?;
            pending.push(cid);
        }
        let p = pending.clone();
        self.wait_for(timeout, &format!("services to {name}"), |c| {
            p.iter().all(|id| c.responses.contains_key(id))
        })
        .await?;
        for cid in pending {
            if let Some((sid, CommandStatus::Failure, err)) = self.responses.remove(&cid) {
                return Err(format!(
                    "{name} failed in {sid}: {}",
                    err.unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    async fn configure_types(&mut self, types: &[ServiceType]) -> Result<(), String> {
        let cmd = Command::Configure {
            config: self.config.to_document(),
        };
        self.command_types(types, cmd, CONFIGURE_TIMEOUT).await
    }

    async fn bus_handshake(&mut self) -> Result<(), String> {
        let subscribers = self.ids_of(&[ServiceType::RecordsManager]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut nonce = 0u64;
        while !subscribers.iter().all(|id| self.bus_ready.contains(id)) {
            if Instant::now() > deadline {
                return Err("the records manager never received events from the bus (subscription not established)".into());
            }
            nonce += 1;
            if let Some(p) = self.publisher.as_mut() {
                p.publish(&Event::BusProbe { nonce })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let _ = self
                .wait_for(Duration::from_millis(50), "bus probe", |_| false)
                .await;
        }
        Ok(())
    }

    /// The one path of a run that ends early (a signal, a dead service, a fatal
    /// error), before any results arrived: cancels the run (the timing manager
    /// stops issuing, workers abort in-flight requests, the records manager sends
    /// what it has), waits at most the grace for those results and the phase's
    /// final counters, and rebuilds the results from `profile_export.jsonl` when
    /// the records manager is dead or did not answer.
    async fn stop_early(&mut self) {
        let reason = self.failure.clone().unwrap_or_default();
        for t in [
            ServiceType::TimingManager,
            ServiceType::Worker,
            ServiceType::RecordsManager,
        ] {
            if self.dead.contains(&t) && t != ServiceType::Worker {
                continue;
            }
            for id in self.ids_of(&[t]) {
                self.next_command += 1;
                let _ = tokio::time::timeout(
                    Duration::from_millis(500),
                    self.tx.send(
                        &id,
                        &FromController::Command {
                            command_id: self.next_command,
                            command: Command::Cancel {
                                reason: reason.clone(),
                            },
                        },
                    ),
                )
                .await;
            }
        }
        let grace = Duration::from_secs_f64(self.config.shutdown_grace_s);
        let mut deadline = Instant::now() + grace;
        let mut results_seen = false;
        loop {
            // What can still come: the results (from a live records manager) and
            // the phase's final counters (from a live timing manager).
            let results_due =
                self.results.is_none() && !self.dead.contains(&ServiceType::RecordsManager);
            let counters_due =
                self.load.phase_running() && !self.dead.contains(&ServiceType::TimingManager);
            if !results_due && !counters_due {
                break;
            }
            if self.results.is_some() && !results_seen {
                results_seen = true;
                deadline = deadline.min(Instant::now() + PHASE_END_WAIT);
            }
            if Instant::now() >= deadline {
                break;
            }
            match tokio::time::timeout_at(deadline.into(), self.inputs.recv()).await {
                Ok(Some(Input::Control(id, msg))) => {
                    let _ = self.on_control(&id, msg);
                }
                // The signal thread handles a second signal (it exits at once).
                Ok(Some(Input::Signal(s))) => {
                    self.signal.get_or_insert(s);
                }
                // The phase's final counters (sent, cancelled) come after the cancel.
                Ok(Some(Input::Bus(ev))) => self.on_bus(&ev),
                Ok(Some(Input::Exit(e))) => {
                    self.dead.insert(e.service_type);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if self.results.is_none() {
            self.recover_results();
        }
        // These results came after the cancel: they are a cancelled run's, even when
        // the records manager saw the phase complete (its requests cut off) before
        // its own cancel command arrived.
        if let Some(r) = self.results.as_mut() {
            r.was_cancelled = true;
        }
    }

    /// Rebuilds the results from `profile_export.jsonl` (the records manager died
    /// or did not answer within the grace); says how in `recovered`.
    fn recover_results(&mut self) {
        let why = if self.dead.contains(&ServiceType::RecordsManager) {
            "the records manager died"
        } else {
            "the records manager did not answer within the grace period"
        };
        let phases: Vec<_> = [Phase::Warmup, Phase::Profiling]
            .into_iter()
            .filter_map(|p| {
                self.load
                    .stats(p)
                    .map(|t| (p, t.stats.clone(), t.end_ns.is_some()))
            })
            .collect();
        match aiperf_records_manager::recover::results_from_jsonl(&self.config, &phases) {
            Ok(r) => {
                let note = format!(
                    "{why}: the summary was rebuilt from the {} records of {}{}",
                    r.lines,
                    aiperf_export::artifacts::ArtifactPaths::from_config(&self.config)
                        .records_jsonl
                        .display(),
                    if r.unreadable > 0 {
                        format!(" ({} unreadable lines skipped)", r.unreadable)
                    } else {
                        String::new()
                    }
                );
                tracing::warn!(target: crate::logging::FILE_ONLY, "{note}");
                self.recovered = Some(note);
                self.results = Some(r.results);
            }
            Err(e) => {
                let note = format!("{why} and its results cannot be rebuilt: {e}");
                tracing::error!(target: crate::logging::FILE_ONLY, "{note}");
                self.recovered = Some(note);
            }
        }
    }

    async fn shutdown(&mut self) {
        self.shutting_down = true;
        for id in self.ids_of(&ServiceType::ALL) {
            self.next_command += 1;
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                self.tx.send(
                    &id,
                    &FromController::Command {
                        command_id: self.next_command,
                        command: Command::Shutdown,
                    },
                ),
            )
            .await;
        }
        self.spawner.stop_all().await;
        if let ZmqTransport::Ipc { dir } = &self.config.zmq {
            crate::ipc::remove_socket_dir(dir);
            signals::unregister_ipc_dir(dir);
        }
    }
}
