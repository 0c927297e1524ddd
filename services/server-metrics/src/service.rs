//! The server metrics manager actor: one [`Collector`] per endpoint, scrapes
//! driven by the run's lifecycle and the phase events of the bus, and the
//! statistics sent to the controller at the end.
//!
//! * `configure`: every endpoint is probed (one scrape, [`SCRAPE_TIMEOUT`]); one
//!   that fails is dropped with a warning, never failing the run;
//! * `start` (before the timing manager's): the baseline scrape, then periodic
//!   scrapes every `--server-metrics-interval`;
//! * `phase_started` / `phase_complete` on the bus: one scrape at each boundary;
//! * after the profiling phase completes (or on `cancel`): the flush — scrapes
//!   every interval until the counters and histograms stop changing or
//!   `--server-metrics-flush` seconds have passed — then the statistics go to the
//!   controller as `server_metrics`.

use crate::collector::Collector;
use crate::raw::RawWriter;
use crate::stats::{Window, endpoint_stats, infer_unit};
use aiperf_config::{ProfileConfig, ServerMetricsFormat};
use aiperf_export::artifacts::ArtifactPaths;
use aiperf_export::redact::redact_url;
use aiperf_protocol::{
    Phase, ServiceType,
    control::ToController,
    events::Event,
    server_metrics::{FamilyStats, PhaseRange, ServerMetricsResults},
};
use aiperf_transport::{ControlSender, Service, ServiceContext, Subscriber, run_service};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long one scrape (and the probe at configure time) may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The server metrics manager actor.
pub struct ServerMetricsManager {
    control_addr: String,
    service_id: String,
    run: Option<Arc<Run>>,
    /// Tells the main task the run was cancelled.
    cancelled: Option<mpsc::UnboundedSender<()>>,
    /// Stops the periodic scrapes.
    periodic: CancellationToken,
}

/// What a configured manager shares with its tasks.
struct Run {
    collectors: Vec<Arc<Collector>>,
    configured: Vec<String>,
    warnings: std::sync::Mutex<Vec<String>>,
    interval: Duration,
    flush: Duration,
    slice_ns: Option<u64>,
    raw: Option<Arc<RawWriter>>,
}

impl ServerMetricsManager {
    /// A manager that will register at `control_addr` as `service_id`.
    pub fn new(control_addr: String, service_id: String) -> Self {
        ServerMetricsManager {
            control_addr,
            service_id,
            run: None,
            cancelled: None,
            periodic: CancellationToken::new(),
        }
    }

    /// Runs until shutdown.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let addr = self.control_addr.clone();
        let id = self.service_id.clone();
        run_service(self, &addr, &id, cancel).await?;
        Ok(())
    }
}

impl Service for ServerMetricsManager {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::ServerMetricsManager
    }

    /// Probes the endpoints, subscribes to the bus and starts listening.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(SCRAPE_TIMEOUT)
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let sm = &config.server_metrics;
        let paths = ArtifactPaths::from_config(&config);
        let raw = if sm.formats.contains(&ServerMetricsFormat::Jsonl) {
            Some(Arc::new(RawWriter::create(&paths.server_metrics_jsonl)?))
        } else {
            None
        };
        let endpoints = sm.endpoints(&config.url);
        let configured: Vec<String> = endpoints.iter().map(|u| redact_url(u)).collect();
        let all: Vec<Arc<Collector>> = endpoints
            .into_iter()
            .map(|u| {
                let shown = redact_url(&u);
                Arc::new(Collector::new(
                    u,
                    shown,
                    client.clone(),
                    SCRAPE_TIMEOUT,
                    raw.clone(),
                ))
            })
            .collect();
        // Probe every endpoint at once; keep those that answer.
        let probes = all.iter().map(|c| {
            let c = c.clone();
            tokio::spawn(async move { c.scrape().await })
        });
        let mut collectors = Vec::new();
        let mut warnings = Vec::new();
        for (c, probe) in all.iter().zip(probes.collect::<Vec<_>>()) {
            match probe.await {
                Ok(Ok(())) => collectors.push(c.clone()),
                Ok(Err(e)) => warnings.push(format!(
                    "server metrics endpoint {} {e}: not collected",
                    c.shown_url()
                )),
                Err(e) => warnings.push(format!("{}: probe failed: {e}", c.shown_url())),
            }
        }
        for w in &warnings {
            tracing::warn!("{w}");
        }
        tracing::info!(
            "Server metrics: {}/{} endpoint(s) reachable.",
            collectors.len(),
            configured.len()
        );
        let run = Arc::new(Run {
            collectors,
            configured,
            warnings: std::sync::Mutex::new(warnings),
            interval: Duration::from_secs_f64(sm.interval_s),
            flush: Duration::from_secs_f64(sm.flush_s),
            slice_ns: config
                .slice_duration_s
                .map(|s| ((s * 1e9).round() as u64).max(1)),
            raw,
        });
        let sub = Subscriber::connect(&ctx.endpoints.event_backend, &[""])
            .await
            .map_err(|e| e.to_string())?;
        let (cancelled, cancelled_rx) = mpsc::unbounded_channel();
        self.cancelled = Some(cancelled);
        self.run = Some(run.clone());
        ctx.spawn(listen(
            run,
            sub,
            ctx.control.clone(),
            cancelled_rx,
            self.periodic.clone(),
        ));
        Ok(())
    }

    /// The baseline scrape, then the periodic ones.
    async fn start(&mut self, ctx: &ServiceContext) -> Result<(), String> {
        let Some(run) = self.run.clone() else {
            return Ok(());
        };
        run.scrape_all().await;
        let stop = self.periodic.clone();
        let service_stop = ctx.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(run.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = service_stop.cancelled() => break,
                    _ = tick.tick() => run.scrape_all().await,
                }
            }
        });
        Ok(())
    }

    /// Finishes at once with what was collected.
    async fn cancel(&mut self, _reason: &str, _ctx: &ServiceContext) -> Result<(), String> {
        if let Some(c) = &self.cancelled {
            let _ = c.send(());
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        self.periodic.cancel();
    }
}

impl Run {
    /// Scrapes every endpoint once, concurrently.
    async fn scrape_all(&self) {
        let scrapes = self.collectors.iter().map(|c| {
            let c = c.clone();
            tokio::spawn(async move {
                let _ = c.scrape().await;
            })
        });
        for s in scrapes.collect::<Vec<_>>() {
            let _ = s.await;
        }
    }

    /// Scrapes until the counters and histograms stop changing between two
    /// scrapes, or the flush period is over.
    async fn flush(&self) {
        let deadline = Instant::now() + self.flush;
        self.scrape_all().await;
        let mut before = self.signature();
        while Instant::now() < deadline {
            tokio::time::sleep(self.interval.min(deadline - Instant::now())).await;
            self.scrape_all().await;
            let now = self.signature();
            if now == before {
                break;
            }
            before = now;
        }
    }

    fn signature(&self) -> Vec<Option<crate::collector::Signature>> {
        self.collectors
            .iter()
            .map(|c| c.cumulative_signature())
            .collect()
    }

    /// The statistics of every endpoint over the window from `start_ns` to the last scrape.
    fn results(&self, phases: &BTreeMap<Phase, (u64, Option<u64>)>) -> ServerMetricsResults {
        let mut warnings = self
            .warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let snapshots: Vec<_> = self.collectors.iter().map(|c| c.snapshots()).collect();
        let first = snapshots
            .iter()
            .filter_map(|s| s.first())
            .map(|s| s.ts_ns)
            .min();
        let last = snapshots
            .iter()
            .filter_map(|s| s.last())
            .map(|s| s.ts_ns)
            .max();
        let window_start = phases
            .get(&Phase::Profiling)
            .map(|(s, _)| *s)
            .or(first)
            .unwrap_or(0);
        let window = Window {
            start_ns: window_start,
            end_ns: last.unwrap_or(window_start).max(window_start),
            slice_ns: self.slice_ns,
        };
        let mut families: BTreeMap<String, FamilyStats> = BTreeMap::new();
        for (c, snaps) in self.collectors.iter().zip(&snapshots) {
            warnings.extend(c.warnings());
            for f in endpoint_stats(c.shown_url(), snaps, window, &mut warnings) {
                let entry = families
                    .entry(f.name.clone())
                    .or_insert_with(|| FamilyStats {
                        unit: infer_unit(&f.name, &f.help).to_string(),
                        name: f.name.clone(),
                        kind: f.kind,
                        description: f.help.clone(),
                        series: Vec::new(),
                    });
                if entry.kind == f.kind {
                    entry.series.extend(f.series);
                }
            }
        }
        if let Some(raw) = &self.raw
            && let Err(e) = raw.finish()
        {
            warnings.push(e);
        }
        ServerMetricsResults {
            endpoints_configured: self.configured.clone(),
            endpoints_successful: self
                .collectors
                .iter()
                .filter(|c| c.info().is_some())
                .map(|c| c.shown_url().to_string())
                .collect(),
            start_ns: first.unwrap_or(0),
            end_ns: last.unwrap_or(0),
            endpoint_info: self.collectors.iter().filter_map(|c| c.info()).collect(),
            phase_ranges: phases
                .iter()
                .map(|(phase, (s, e))| PhaseRange {
                    phase: *phase,
                    start_ns: *s,
                    end_ns: e.unwrap_or(window.end_ns),
                })
                .collect(),
            window_start_ns: window.start_ns,
            window_end_ns: window.end_ns,
            metrics: families.into_values().collect(),
            warnings,
        }
    }
}

/// Follows the phase events: a scrape at each boundary; after the profiling
/// phase (or a cancel) the flush, then the results to the controller.
async fn listen(
    run: Arc<Run>,
    mut sub: Subscriber,
    ctl: ControlSender,
    mut cancelled: mpsc::UnboundedReceiver<()>,
    periodic: CancellationToken,
) -> Result<(), String> {
    let mut phases: BTreeMap<Phase, (u64, Option<u64>)> = BTreeMap::new();
    let cancel_seen = loop {
        tokio::select! {
            Some(()) = cancelled.recv() => break true,
            ev = sub.recv() => {
                let Ok(ev) = ev else { continue };
                match ev {
                    Event::BusProbe { nonce } => {
                        let _ = ctl
                            .send(&ToController::BusReady { service_id: ctl.service_id().to_string(), nonce })
                            .await;
                    }
                    Event::PhaseStarted { phase, stats } => {
                        phases.insert(phase, (stats.start_ns, None));
                        run.scrape_all().await;
                    }
                    Event::PhaseComplete { phase, stats } => {
                        let entry = phases.entry(phase).or_insert((stats.start_ns, None));
                        entry.1 = stats.end_ns.or(Some(aiperf_clock::wall_ns()));
                        if phase == Phase::Profiling {
                            break false;
                        }
                        run.scrape_all().await;
                    }
                    Event::CreditsComplete => break false,
                    _ => {}
                }
            }
        }
    };
    periodic.cancel();
    if cancel_seen {
        run.scrape_all().await;
    } else {
        run.flush().await;
    }
    let results = run.results(&phases);
    for w in &results.warnings {
        tracing::warn!("server metrics: {w}");
    }
    ctl.send(&ToController::ServerMetrics {
        service_id: ctl.service_id().to_string(),
        results: Box::new(results),
    })
    .await
    .map_err(|e| format!("cannot send the server metrics: {e}"))?;
    // Stay subscribed (and answer nothing more) until the service stops.
    std::future::pending::<()>().await;
    Ok(())
}
