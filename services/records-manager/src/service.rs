//! The records manager actor.

use crate::jsonl::export_line;
use aiperf_config::{ExportLevel, ProfileConfig};
use aiperf_export::artifacts::{ArtifactPaths, write_text};
use aiperf_export::records_jsonl::JsonlWriter;
use aiperf_export::timeslices::{render_timeslices_csv, render_timeslices_json};
use aiperf_metrics::sweep_line::SweepLine;
use aiperf_metrics::{MetricContext, SpillConfig, SummaryAccumulator, metric_context};
use aiperf_protocol::{
    Phase, ServiceType,
    control::ToController,
    events::{Event, PhaseStats},
    record::MetricRecord,
    results::{PhaseResults, ProfileResults},
};
use aiperf_transport::{
    ControlSender, Publisher, Pull, Service, ServiceContext, Subscriber, run_service,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The records manager actor.
pub struct RecordsManager {
    control_addr: String,
    service_id: String,
    /// Tells the collecting task the run was cancelled (set once configured).
    cancelled: Option<mpsc::UnboundedSender<()>>,
}

/// What the records manager knows about one phase.
struct PhaseState {
    summary: SummaryAccumulator,
    /// Per-request intervals of the sweep-line (`effective_*`) metrics.
    sweep: SweepLine,
    records: u64,
    errors: u64,
    complete: Option<PhaseStats>,
    last_stats: Option<PhaseStats>,
}

impl PhaseState {
    /// A phase with no record yet; its summary keeps what timeslices need only
    /// when they are exported (`timeslices`). The summary and the sweep line
    /// each hold at most `spill.budget_bytes` of values in memory, the rest on disk.
    fn new(timeslices: bool, spill: &SpillConfig) -> PhaseState {
        PhaseState {
            summary: SummaryAccumulator::with_spill(spill.clone(), timeslices),
            sweep: SweepLine::with_spill(spill.clone()),
            records: 0,
            errors: 0,
            complete: None,
            last_stats: None,
        }
    }

    /// Every record the timing manager's returned credits promise has arrived.
    fn all_in(&self) -> bool {
        self.complete
            .as_ref()
            .is_some_and(|s| self.records >= s.completed)
    }

    fn results(&self, ctx: &MetricContext) -> PhaseResults {
        for e in [self.summary.spill_error(), self.sweep.spill_error()]
            .into_iter()
            .flatten()
        {
            tracing::warn!("{e}");
        }
        if self.summary.has_spilled() {
            tracing::info!(
                records = self.records,
                "the statistics outgrew their memory budget and were spilled to disk"
            );
        }
        let mut r = self.summary.finish(ctx);
        self.sweep.append_to(&mut r, ctx);
        r.records = self.records;
        r.errors = self.errors;
        if let Some(s) = self.complete.as_ref().or(self.last_stats.as_ref()) {
            r.start_ns = s.start_ns;
            r.end_ns = s.end_ns.or(s.sending_end_ns).unwrap_or(r.end_ns);
        }
        r
    }
}

/// State of a configured records manager.
pub(crate) struct Collector {
    ctx: MetricContext,
    phases: BTreeMap<Phase, PhaseState>,
    /// `profile_export.jsonl` (export level records or raw).
    jsonl: Option<JsonlWriter>,
    /// `profile_export_raw.jsonl` (export level raw).
    raw_jsonl: Option<JsonlWriter>,
    warmup_expected: bool,
    /// After a cancel, how long to wait for the records of credits already
    /// returned (half the controller's `--shutdown-grace-period`).
    cancel_wait: Duration,
    /// What the timeslice exports need: the run's configuration (for
    /// `input_config`), the file paths and `--slice-duration` in ns.
    timeslices: Option<(Box<ProfileConfig>, ArtifactPaths, u64)>,
    /// Memory budget and directory of the phases' spill files.
    spill: SpillConfig,
}

impl Collector {
    /// A collector for `config`'s run: creates the per-request files the export
    /// level asks for.
    fn new(config: &ProfileConfig) -> Result<Collector, String> {
        Collector::open(config, true)
    }

    /// A collector for `config`'s run; with `files`, creates the per-request files
    /// the export level asks for (without, reads records back: `crate::recover`).
    /// Statistics beyond the memory budget ([`SpillConfig::from_env`]) are
    /// spilled to a file in the artifact directory.
    pub(crate) fn open(config: &ProfileConfig, files: bool) -> Result<Collector, String> {
        let dir = ArtifactPaths::from_config(config).dir;
        Collector::open_with(config, files, SpillConfig::from_env(Some(dir))?)
    }

    /// [`Collector::open`] with an explicit spill configuration.
    fn open_with(
        config: &ProfileConfig,
        files: bool,
        spill: SpillConfig,
    ) -> Result<Collector, String> {
        let ctx = metric_context(config)?;
        let paths = ArtifactPaths::from_config(config);
        let create = |path: &std::path::Path| {
            JsonlWriter::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
        };
        let jsonl = match config.export_level {
            _ if !files => None,
            ExportLevel::Summary => None,
            ExportLevel::Records | ExportLevel::Raw => Some(create(&paths.records_jsonl)?),
        };
        let raw_jsonl = match config.export_level {
            ExportLevel::Raw if files => Some(create(&paths.raw_jsonl)?),
            _ => None,
        };
        let timeslices = config.slice_duration_s.map(|s| {
            (
                Box::new(config.clone()),
                paths.clone(),
                ((s * 1e9).round() as u64).max(1),
            )
        });
        Ok(Collector {
            ctx,
            phases: BTreeMap::new(),
            jsonl,
            raw_jsonl,
            warmup_expected: config.warmup_enabled(),
            cancel_wait: Duration::from_secs_f64(config.shutdown_grace_s / 2.0),
            timeslices,
            spill,
        })
    }

    /// Streams the record's export lines to disk and folds its metrics into its
    /// phase's summary; the record (and any raw response it carries) is then dropped.
    pub(crate) fn add(&mut self, record: MetricRecord) -> std::io::Result<()> {
        if let Some(w) = self.jsonl.as_mut() {
            w.write_line(&export_line(&record))?;
        }
        if let (Some(w), Some(raw)) = (self.raw_jsonl.as_mut(), record.raw_json.as_deref()) {
            w.write_line(raw)?;
        }
        let phase = self.phase(record.metadata.benchmark_phase);
        phase.records += 1;
        if record.error.is_some() {
            phase.errors += 1;
        }
        phase.summary.add(&record);
        phase.sweep.add(&record);
        Ok(())
    }

    /// The state of `phase`, created on first use.
    fn phase(&mut self, phase: Phase) -> &mut PhaseState {
        let timeslices = self.timeslices.is_some();
        let spill = &self.spill;
        self.phases
            .entry(phase)
            .or_insert_with(|| PhaseState::new(timeslices, spill))
    }

    pub(crate) fn on_event(&mut self, ev: &Event) {
        tracing::debug!(topic = ev.topic(), "records manager event");
        if let Some((phase, stats)) = ev.phase_stats() {
            let p = self.phase(phase);
            p.last_stats = Some(stats.clone());
            if matches!(ev, Event::PhaseComplete { .. }) {
                p.complete = Some(stats.clone());
            }
        }
    }

    /// After a cancel: every phase that started has ended and all its returned
    /// credits' records are in (or no phase started at all).
    fn cancelled_all_in(&self) -> bool {
        self.phases
            .values()
            .filter(|p| p.last_stats.is_some())
            .all(PhaseState::all_in)
    }

    fn done(&self) -> bool {
        let profiling_in = self
            .phases
            .get(&Phase::Profiling)
            .is_some_and(PhaseState::all_in);
        let warmup_in = !self.warmup_expected
            || self
                .phases
                .get(&Phase::Warmup)
                .is_some_and(PhaseState::all_in);
        profiling_in && warmup_in
    }

    /// Writes `profile_export_aiperf_timeslices.{csv,json}` for the profiling phase
    /// (with `--slice-duration`).
    fn write_timeslices(&self) -> std::io::Result<()> {
        let Some((config, paths, slice_ns)) = &self.timeslices else {
            return Ok(());
        };
        let slices: Vec<aiperf_export::Timeslice> = self
            .phases
            .get(&Phase::Profiling)
            .map(|p| p.summary.timeslices(&self.ctx, *slice_ns))
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.start_ns, t.end_ns, t.is_complete, t.results))
            .collect();
        write_text(&paths.timeslices_csv, &render_timeslices_csv(&slices))?;
        write_text(
            &paths.timeslices_json,
            &render_timeslices_json(&slices, config),
        )
    }

    /// Writes the buffered per-request lines to disk: `profile_export.jsonl` is the
    /// durable record of the run (`crate::recover` rebuilds the results from it if
    /// this service dies).
    fn flush(&mut self) {
        for w in [self.jsonl.as_mut(), self.raw_jsonl.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Err(e) = w.flush() {
                tracing::error!("cannot write {}: {e}", w.path().display());
            }
        }
    }

    /// The results so far; flushes the per-request files and writes the timeslices.
    pub(crate) fn results(&mut self, was_cancelled: bool) -> ProfileResults {
        self.flush();
        if let Err(e) = self.write_timeslices() {
            tracing::error!("cannot write the timeslice exports: {e}");
        }
        let is_complete = self.done();
        ProfileResults {
            profiling: self
                .phases
                .get(&Phase::Profiling)
                .map(|p| p.results(&self.ctx))
                .unwrap_or_default(),
            warmup: self
                .phases
                .get(&Phase::Warmup)
                .filter(|p| p.records > 0)
                .map(|p| p.results(&self.ctx)),
            was_cancelled,
            is_complete,
        }
    }
}

impl RecordsManager {
    /// A records manager that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        RecordsManager {
            control_addr: control_addr.into(),
            service_id: service_id.into(),
            cancelled: None,
        }
    }

    /// Runs until shutdown (see [`Service`]).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let (addr, id) = (self.control_addr.clone(), self.service_id.clone());
        Ok(run_service(self, &addr, &id, cancel).await?)
    }
}

impl Service for RecordsManager {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::RecordsManager
    }

    /// Binds the records PULL, subscribes to the bus, creates the per-request
    /// files and starts collecting.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let endpoints = &ctx.endpoints;
        let pull = Pull::bind(&endpoints.records)
            .await
            .map_err(|e| format!("cannot bind {}: {e}", endpoints.records))?;
        let sub = Subscriber::connect(&endpoints.event_backend, &[""])
            .await
            .map_err(|e| e.to_string())?;
        let publisher = Publisher::connect(&endpoints.event_frontend)
            .await
            .map_err(|e| e.to_string())?;
        let collector = Collector::new(&config)?;
        let (cancelled, cancelled_rx) = mpsc::unbounded_channel();
        self.cancelled = Some(cancelled);
        let sockets = Sockets {
            pull,
            sub,
            publisher,
        };
        ctx.spawn(collect(
            collector,
            sockets,
            ctx.control.clone(),
            cancelled_rx,
        ));
        Ok(())
    }

    /// Sends the results so far, marked cancelled (unless already sent).
    async fn cancel(&mut self, _reason: &str, _ctx: &ServiceContext) -> Result<(), String> {
        if let Some(cancelled) = &self.cancelled {
            let _ = cancelled.send(());
        }
        Ok(())
    }
}

/// The sockets of a configured records manager.
struct Sockets {
    pull: Pull<MetricRecord>,
    sub: Subscriber,
    publisher: Publisher,
}

/// Collects records and events until the service stops; sends the results once
/// every record is in, or at once (marked cancelled) when the run is cancelled.
async fn collect(
    mut c: Collector,
    mut s: Sockets,
    ctl: ControlSender,
    mut cancelled: mpsc::UnboundedReceiver<()>,
) -> Result<(), String> {
    let mut sent_results = false;
    let mut progress = tokio::time::interval(Duration::from_millis(250));
    // Set by a cancel: the results go once the records of every returned credit
    // are in (the timing manager's final counters say how many), or at this
    // deadline, whichever comes first.
    let mut cancel_deadline: Option<tokio::time::Instant> = None;
    loop {
        if !sent_results
            && let Some(deadline) = cancel_deadline
            && (c.cancelled_all_in() || tokio::time::Instant::now() >= deadline)
        {
            send_results(&ctl, c.results(true)).await?;
            sent_results = true;
        }
        let until_deadline = async {
            match cancel_deadline {
                Some(d) if !sent_results => tokio::time::sleep_until(d).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(()) = cancelled.recv() => {
                cancel_deadline.get_or_insert(tokio::time::Instant::now() + c.cancel_wait);
            }
            _ = until_deadline => {}
            rec = s.pull.recv() => {
                match rec {
                    Ok(r) => {
                        if let Err(e) = c.add(r) {
                            ctl.fail(format!("records manager cannot write the per-request export: {e}")).await;
                        }
                    }
                    Err(e) => ctl.fail(format!("records manager cannot read records: {e}")).await,
                }
                if !sent_results && c.done() {
                    send_results(&ctl, c.results(false)).await?;
                    sent_results = true;
                }
            }
            ev = s.sub.recv() => {
                if let Ok(ev) = ev {
                    if let Event::BusProbe { nonce } = ev {
                        let _ = ctl.send(&ToController::BusReady { service_id: ctl.service_id().to_string(), nonce }).await;
                    }
                    c.on_event(&ev);
                    if !sent_results && c.done() {
                        send_results(&ctl, c.results(false)).await?;
                        sent_results = true;
                    }
                }
            }
            _ = progress.tick() => {
                // At most one tick of records is lost if this process is killed.
                c.flush();
                for (phase, st) in &c.phases {
                    let _ = s.publisher.publish(&Event::RecordsProgress { phase: *phase, records: st.records, errors: st.errors }).await;
                }
            }
        }
    }
}

async fn send_results(ctl: &ControlSender, results: ProfileResults) -> Result<(), String> {
    ctl.send(&ToController::Results {
        service_id: ctl.service_id().to_string(),
        results: Box::new(results),
    })
    .await
    .map_err(|e| format!("records manager cannot send the results: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_config::{Context, ProfileArgs, resolve};
    use aiperf_protocol::ErrorDetails;
    use aiperf_protocol::record::{MetricValue, RecordMetadata};

    const SEC: u64 = 1_000_000_000;

    fn config(dir: &std::path::Path, extra: ProfileArgs) -> ProfileConfig {
        let args = ProfileArgs {
            models: Some(vec!["mock-model".into()]),
            streaming: Some(true),
            output_artifact_dir: Some(dir.to_path_buf()),
            ..extra
        };
        let ctx = Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        resolve(&args, &ctx).unwrap()
    }

    fn record(n: u64, phase: Phase, start_s: f64, error: bool) -> MetricRecord {
        let start = SEC + (start_s * 1e9) as u64;
        MetricRecord {
            metadata: RecordMetadata {
                session_num: n,
                x_request_id: format!("req-{n}"),
                x_correlation_id: format!("corr-{n}"),
                conversation_id: "c".into(),
                turn_index: 0,
                credit_issued_ns: start,
                scheduled_ns: None,
                request_start_ns: start,
                request_ack_ns: None,
                request_end_ns: start + SEC / 10,
                worker_id: "w".into(),
                record_processor_id: "rp".into(),
                benchmark_phase: phase,
                phase_index: None,
                profiling_index: None,
                phase_name: None,
                phase_kind: None,
                was_cancelled: false,
                cancellation_time_ns: None,
                context_overflow_skip: None,
                agent_depth: None,
                root_correlation_id: None,
                connection_retries: 0,
                invalid_sse_messages: 0,
                non_sse_response: false,
            },
            metrics: if error {
                vec![]
            } else {
                vec![
                    ("request_latency".into(), MetricValue::Scalar(1e8)),
                    ("time_to_first_token".into(), MetricValue::Scalar(2e7)),
                ]
            },
            error: error.then(|| ErrorDetails::new(Some(500), "Internal Server Error", "boom")),
            raw_json: Some(format!(r#"{{"raw":{n}}}"#)),
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("aiperf-rm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn streams_records_and_raw_lines_and_writes_timeslices() {
        let dir = temp_dir("raw");
        let c = config(
            &dir,
            ProfileArgs {
                export_level: Some(ExportLevel::Raw),
                slice_duration: Some(0.5),
                warmup_request_count: Some(1),
                ..Default::default()
            },
        );
        let mut col = Collector::new(&c).unwrap();
        col.add(record(0, Phase::Warmup, 0.0, false)).unwrap();
        // profiling starts at 1 s: slices [1.0, 1.5) with 2 records, [1.5, 1.7] with 1
        col.add(record(1, Phase::Profiling, 1.0, false)).unwrap();
        col.add(record(2, Phase::Profiling, 1.2, true)).unwrap();
        col.add(record(3, Phase::Profiling, 1.6, false)).unwrap();
        let r = col.results(false);
        assert_eq!((r.profiling.records, r.profiling.errors), (3, 1));
        assert_eq!(r.warmup.as_ref().map(|w| w.records), Some(1));

        let lines = std::fs::read_to_string(dir.join("profile_export.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 4, "warmup and profiling records");
        let raw = std::fs::read_to_string(dir.join("profile_export_raw.jsonl")).unwrap();
        assert_eq!(raw, "{\"raw\":0}\n{\"raw\":1}\n{\"raw\":2}\n{\"raw\":3}\n");

        let ts: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("profile_export_aiperf_timeslices.json")).unwrap(),
        )
        .unwrap();
        let slices = ts["timeslices"].as_array().unwrap();
        assert_eq!(slices.len(), 2);
        let t0 = 2 * SEC;
        assert_eq!(slices[0]["start_ns"], t0);
        assert_eq!(slices[0]["end_ns"], t0 + SEC / 2);
        assert_eq!(slices[0]["request_count"]["avg"], 1.0);
        assert_eq!(slices[0]["error_request_count"]["avg"], 1.0);
        // 1 valid request in a 0.5 s window
        assert_eq!(slices[0]["request_throughput"]["avg"], 2.0);
        // last slice clipped at the last request end (1.6 + 0.1 s)
        assert_eq!(slices[1]["start_ns"], t0 + SEC / 2);
        assert_eq!(slices[1]["end_ns"], t0 + 7 * SEC / 10);
        assert_eq!(slices[1]["is_complete"], false);
        let csv =
            std::fs::read_to_string(dir.join("profile_export_aiperf_timeslices.csv")).unwrap();
        assert!(csv.starts_with("Timeslice,Start_NS,End_NS,Metric,Unit,Stat,Value\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The same record stream through a collector that spills after a few
    /// hundred bytes and one that keeps everything in memory: the results and
    /// the timeslice files are identical, and no spill file is left behind.
    #[test]
    fn a_spilling_collector_gives_identical_results_and_timeslices() {
        let run = |name: &str, budget_bytes: usize| {
            let dir = temp_dir(name);
            let c = config(
                &dir,
                ProfileArgs {
                    slice_duration: Some(0.25),
                    ..Default::default()
                },
            );
            let spill = SpillConfig {
                budget_bytes,
                dir: Some(dir.clone()),
            };
            let mut col = Collector::open_with(&c, true, spill).unwrap();
            for n in 0..400u64 {
                let mut r = record(n, Phase::Profiling, n as f64 * 0.01, n % 9 == 4);
                if r.error.is_none() {
                    let lat = 1e8 + (n * 7919 % 1000) as f64 * 1e4;
                    r.metrics = vec![
                        ("request_latency".into(), MetricValue::Scalar(lat)),
                        ("time_to_first_token".into(), MetricValue::Scalar(lat / 3.0)),
                        (
                            "inter_chunk_latency".into(),
                            MetricValue::List(
                                (0..n % 13).map(|k| (k * n % 17) as f64 * 1e5).collect(),
                            ),
                        ),
                        ("output_sequence_length".into(), MetricValue::Scalar(13.0)),
                    ];
                }
                col.add(r).unwrap();
            }
            let spilled = col
                .phases
                .get(&Phase::Profiling)
                .is_some_and(|p| p.summary.has_spilled());
            let results = col.results(false);
            // (without the input_config it repeats: it names the run's directories)
            let ts: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("profile_export_aiperf_timeslices.json"))
                    .unwrap(),
            )
            .unwrap();
            let ts = ts["timeslices"].to_string();
            let csv =
                std::fs::read_to_string(dir.join("profile_export_aiperf_timeslices.csv")).unwrap();
            drop(col);
            let files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            std::fs::remove_dir_all(&dir).unwrap();
            (spilled, format!("{results:?}"), ts, csv, files)
        };
        let memory = run("in-memory", usize::MAX);
        let spilled = run("spilled", 300);
        assert!(!memory.0 && spilled.0, "only the small budget spills");
        assert_eq!(memory.1, spilled.1, "results");
        assert_eq!(memory.2, spilled.2, "timeslices JSON");
        assert_eq!(memory.3, spilled.3, "timeslices CSV");
        assert_eq!(memory.4.len(), spilled.4.len(), "{:?}", spilled.4);
        assert!(memory.1.contains("inter_chunk_latency"));
    }

    #[test]
    fn summary_level_writes_no_per_request_file() {
        let dir = temp_dir("summary");
        let c = config(
            &dir,
            ProfileArgs {
                export_level: Some(ExportLevel::Summary),
                profile_export_prefix: Some("foo".into()),
                ..Default::default()
            },
        );
        let mut col = Collector::new(&c).unwrap();
        col.add(record(0, Phase::Profiling, 0.0, false)).unwrap();
        let r = col.results(false);
        assert_eq!(r.profiling.records, 1);
        assert!(!dir.join("foo.jsonl").exists() && !dir.join("foo_raw.jsonl").exists());
        assert!(!dir.join("foo_timeslices.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The summary rebuilt from `profile_export.jsonl` (a dead records manager) is
    /// the one the records manager computed from the same records.
    #[test]
    fn results_rebuilt_from_the_jsonl_match_the_live_ones() {
        let dir = temp_dir("recover");
        let c = config(&dir, ProfileArgs::default());
        let mut col = Collector::new(&c).unwrap();
        for n in 0..20 {
            let mut r = record(n, Phase::Profiling, 1.0 + n as f64 * 0.05, n % 7 == 3);
            // Values that do not survive a careless unit conversion.
            for (_, v) in r.metrics.iter_mut() {
                if let MetricValue::Scalar(x) = v {
                    *x += n as f64 * 1234.567;
                }
            }
            col.add(r).unwrap();
        }
        let stats = PhaseStats {
            sent: 22,
            completed: 20,
            cancelled: 2,
            start_ns: SEC,
            end_ns: Some(3 * SEC),
            ..Default::default()
        };
        col.on_event(&Event::PhaseComplete {
            phase: Phase::Profiling,
            stats: stats.clone(),
        });
        let live = col.results(true);
        drop(col);

        let back =
            crate::recover::results_from_jsonl(&c, &[(Phase::Profiling, stats, true)]).unwrap();
        assert_eq!((back.lines, back.unreadable), (20, 0));
        let r = back.results;
        assert!(r.was_cancelled && r.is_complete);
        assert_eq!((r.profiling.records, r.profiling.errors), (20, 3));
        assert_eq!(r.profiling.error_summary, live.profiling.error_summary);
        assert_eq!(
            (r.profiling.start_ns, r.profiling.end_ns),
            (live.profiling.start_ns, live.profiling.end_ns)
        );
        let tags = |p: &PhaseResults| p.metrics.iter().map(|m| m.tag.clone()).collect::<Vec<_>>();
        assert_eq!(tags(&r.profiling), tags(&live.profiling));
        for (a, b) in r.profiling.metrics.iter().zip(&live.profiling.metrics) {
            let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                (x, y) => x == y,
            };
            assert!(close(a.avg, b.avg) && close(a.max, b.max), "{a:?} vs {b:?}");
            assert!(close(a.percentile(99), b.percentile(99)), "{a:?} vs {b:?}");
        }

        // A line cut short by the kill is skipped and counted.
        let path = dir.join("profile_export.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"metadata\":{\"session_num\":9");
        std::fs::write(&path, text).unwrap();
        let back = crate::recover::results_from_jsonl(&c, &[]).unwrap();
        assert_eq!((back.lines, back.unreadable), (20, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
