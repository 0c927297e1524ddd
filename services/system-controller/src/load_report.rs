//! The load report: did the client deliver the load it was asked for?
//!
//! Every run's summary JSON gets a `load_report` section and the console a few
//! lines: the load mode, requested vs achieved request rate, schedule lag
//! (actual send − intended send) p50/p99/max, latency measured from the intended
//! send time next to the raw request latency (coordinated omission), and the
//! client's CPU use. When the client could not keep up — schedule lag p99 above
//! [`LAG_P99_LIMIT_MS`], achieved rate below [`RATE_SHORTFALL`] of the target, or
//! the client's CPU saturated, or record processing fell behind so that workers
//! held credit returns back (the `record_backlog` section, from the workers'
//! `record_backlog` events) — the report says so (`client_bound: true` with
//! reasons) and the console prints a loud warning: the numbers then describe the
//! client, not the server.

use aiperf_config::ProfileConfig;
use aiperf_protocol::{
    LoadMode, Phase,
    events::{Event, PhaseStats, RecordBacklog},
    results::{MetricResult, ProfileResults},
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Schedule lag p99 above this (ms) means the client fell behind its schedule.
pub const LAG_P99_LIMIT_MS: f64 = 10.0;
/// Achieved rate below this fraction of the target means the client fell short.
pub const RATE_SHORTFALL: f64 = 0.9;
/// CPU use (peak over [`CPU_WINDOW`]) at or above this fraction of the machine's
/// CPUs means the client saturated them.
pub const CPU_SATURATION: f64 = 0.9;
/// Sampling period of the CPU sampler.
pub const CPU_SAMPLE_PERIOD: Duration = Duration::from_millis(250);
/// Window of the peak CPU figure.
pub const CPU_WINDOW: Duration = Duration::from_secs(1);

/// Phase counters seen on the event bus.
#[derive(Debug, Default, Clone)]
pub struct LoadTracker {
    phases: HashMap<Phase, TrackedPhase>,
}

/// What the bus told about one phase: the timing manager's latest counters (it
/// dereferences to them) and each worker's record-backlog counters.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TrackedPhase {
    /// The timing manager's latest counters.
    pub stats: PhaseStats,
    /// A phase event was seen (`stats` is real).
    started: bool,
    /// Latest record-backlog counters, by worker id.
    backlog: BTreeMap<String, RecordBacklog>,
}

impl From<PhaseStats> for TrackedPhase {
    fn from(stats: PhaseStats) -> Self {
        TrackedPhase {
            stats,
            started: true,
            backlog: BTreeMap::new(),
        }
    }
}

impl Deref for TrackedPhase {
    type Target = PhaseStats;
    fn deref(&self) -> &PhaseStats {
        &self.stats
    }
}

impl TrackedPhase {
    /// Records a worker's latest record-backlog counters.
    pub fn set_backlog(&mut self, worker_id: &str, backlog: RecordBacklog) {
        self.backlog.insert(worker_id.to_string(), backlog);
    }

    /// Every worker's backlog folded: capacity and peak are the largest of any
    /// worker (both per worker), held-back credits and time are summed; `None`
    /// when no worker reported.
    pub fn record_backlog(&self) -> Option<RecordBacklog> {
        (!self.backlog.is_empty()).then(|| {
            self.backlog
                .values()
                .fold(RecordBacklog::default(), |a, b| RecordBacklog {
                    capacity: a.capacity.max(b.capacity),
                    peak_queued: a.peak_queued.max(b.peak_queued),
                    held_back_credits: a.held_back_credits + b.held_back_credits,
                    held_back_ns: a.held_back_ns + b.held_back_ns,
                })
        })
    }
}

impl LoadTracker {
    /// Records the latest counters of each phase and each worker's record backlog.
    pub fn on_event(&mut self, ev: &Event) {
        if let Some((phase, stats)) = ev.phase_stats() {
            let t = self.phases.entry(phase).or_default();
            t.stats = stats.clone();
            t.started = true;
        } else if let Event::RecordBacklog {
            phase,
            worker_id,
            backlog,
        } = ev
        {
            let t = self.phases.entry(*phase).or_default();
            t.set_backlog(worker_id, *backlog);
        }
    }

    /// Whether a phase started and has not completed yet.
    pub fn phase_running(&self) -> bool {
        self.phases
            .values()
            .any(|t| t.started && t.stats.end_ns.is_none())
    }

    /// What is known of `phase`, once it started.
    pub fn stats(&self, phase: Phase) -> Option<&TrackedPhase> {
        self.phases.get(&phase).filter(|t| t.started)
    }
}

/// CPU time (s) used so far by this process (and its direct children).
fn process_cpu_seconds(ticks_per_s: f64, children: bool, last: &mut HashMap<u32, f64>) -> f64 {
    let me = std::process::id();
    let read = |pid: u32| -> Option<(u32, f64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state(3) ppid(4) … utime(14) stime(15).
        let ppid = f.first().and(f.get(1))?.parse::<u32>().ok()?;
        let utime = f.get(11)?.parse::<f64>().ok()?;
        let stime = f.get(12)?.parse::<f64>().ok()?;
        Some((ppid, (utime + stime) / ticks_per_s))
    };
    if let Some((_, s)) = read(me) {
        last.insert(me, s);
    }
    // Children (multi-process mode): keep the last value of those that exited.
    if let Some(entries) = children.then(|| std::fs::read_dir("/proc").ok()).flatten() {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Some((ppid, s)) = read(pid)
                && ppid == me
            {
                last.insert(pid, s);
            }
        }
    }
    last.values().sum()
}

/// Client CPU use over a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUsage {
    /// Average CPUs busy (1.0 = one core fully used).
    pub avg_cores: f64,
    /// Highest average over any [`CPU_WINDOW`].
    pub peak_cores: f64,
    /// CPUs of the machine.
    pub cpus: usize,
}

/// Samples the client's CPU time in the background (Linux `/proc`), on its own
/// thread so that reading `/proc` never delays a runtime thread that timestamps
/// responses.
pub struct CpuSampler {
    samples: Arc<Mutex<Vec<(u64, f64)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl CpuSampler {
    /// Starts sampling this process (and, with `children`, its direct child
    /// processes: multi-process mode); `None` where `/proc/self/stat` is unavailable.
    pub fn start(children: bool) -> Option<CpuSampler> {
        std::fs::metadata("/proc/self/stat").ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
        let samples: Arc<Mutex<Vec<(u64, f64)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, halt) = (samples.clone(), stop.clone());
        std::thread::Builder::new()
            .name("cpu-sampler".into())
            .spawn(move || {
                let mut last = HashMap::new();
                while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                    let cpu = process_cpu_seconds(ticks, children, &mut last);
                    s.lock()
                        .expect("cpu samples")
                        .push((aiperf_clock::wall_ns(), cpu));
                    std::thread::sleep(CPU_SAMPLE_PERIOD);
                }
            })
            .ok()?;
        Some(CpuSampler { samples, stop })
    }

    /// CPU use between two wall-clock times (ns).
    pub fn usage(&self, from_ns: u64, to_ns: u64) -> Option<CpuUsage> {
        let samples = self.samples.lock().expect("cpu samples").clone();
        usage_of(
            &samples,
            from_ns,
            to_ns,
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        )
    }
}

impl Drop for CpuSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// CPU use from `(wall_ns, cumulative cpu seconds)` samples.
pub fn usage_of(samples: &[(u64, f64)], from_ns: u64, to_ns: u64, cpus: usize) -> Option<CpuUsage> {
    // The samples bracketing the period (one before its start if any).
    let first = samples
        .iter()
        .rposition(|(t, _)| *t <= from_ns)
        .unwrap_or(0);
    let last = samples
        .iter()
        .position(|(t, _)| *t >= to_ns)
        .unwrap_or(samples.len().saturating_sub(1));
    let inside = samples.get(first..=last)?;
    if inside.len() < 2 {
        return None;
    }
    let rate = |a: &(u64, f64), b: &(u64, f64)| {
        let dt = (b.0.saturating_sub(a.0)) as f64 / 1e9;
        if dt > 0.0 {
            (b.1 - a.1).max(0.0) / dt
        } else {
            0.0
        }
    };
    let avg_cores = rate(&inside[0], &inside[inside.len() - 1]);
    let window = CPU_WINDOW.as_nanos() as u64;
    let mut peak_cores: f64 = 0.0;
    for (i, a) in inside.iter().enumerate() {
        if let Some(b) = inside[i + 1..].iter().find(|b| b.0 - a.0 >= window) {
            peak_cores = peak_cores.max(rate(a, b));
        }
    }
    if peak_cores == 0.0 {
        peak_cores = avg_cores;
    }
    Some(CpuUsage {
        avg_cores,
        peak_cores,
        cpus,
    })
}

/// The load report of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The load mode of the profiling phase.
    pub mode: LoadMode,
    /// The `load_report` JSON section.
    pub json: Value,
    /// Console lines.
    pub lines: Vec<String>,
    /// The client could not keep up.
    pub client_bound: bool,
}

fn metric<'a>(results: &'a ProfileResults, tag: &str) -> Option<&'a MetricResult> {
    results.profiling.metrics.iter().find(|m| m.tag == tag)
}

fn dist(m: Option<&MetricResult>) -> Value {
    match m {
        Some(m) => {
            json!({"avg": m.avg, "p50": m.percentile(50), "p90": m.percentile(90), "p99": m.percentile(99), "max": m.max, "unit": m.unit})
        }
        None => Value::Null,
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2} ms"))
        .unwrap_or_else(|| "n/a".into())
}

/// Builds the report from the results, what the bus told about the profiling
/// phase (the timing manager's counters, the workers' record backlog) and the
/// client's CPU use.
pub fn build(
    config: &ProfileConfig,
    results: &ProfileResults,
    tracked: Option<&TrackedPhase>,
    cpu: Option<CpuUsage>,
) -> LoadReport {
    let stats = tracked.map(|t| &t.stats);
    let backlog = tracked.and_then(TrackedPhase::record_backlog);
    // The timing manager reports the mode it ran; without its counters, the plan's.
    let mode = stats.and_then(|s| s.load_mode).unwrap_or_else(|| {
        config
            .phases(false)
            .last()
            .map_or(LoadMode::Concurrency, |p| p.pacing.mode())
    });
    let open_loop = mode.is_open_loop();
    let requested = stats
        .and_then(|s| s.target_rate)
        .or(config.request_rate.filter(|_| open_loop));
    // Open loop: requests over the sending window; closed loop: over the whole phase.
    let (sent, window_s) = match stats {
        Some(s) => {
            let end = if open_loop {
                s.sending_end_ns.or(s.end_ns)
            } else {
                s.end_ns.or(s.sending_end_ns)
            }
            .unwrap_or(s.start_ns);
            (s.sent, end.saturating_sub(s.start_ns) as f64 / 1e9)
        }
        None => (results.profiling.records, 0.0),
    };
    let achieved = (window_s > 0.0 && sent > 0).then(|| sent as f64 / window_s);
    let lag = metric(results, "schedule_lag");
    let lag_p50 = lag.and_then(|m| m.percentile(50));
    let lag_p99 = lag.and_then(|m| m.percentile(99));
    let raw = metric(results, "request_latency");
    let effective = metric(results, "effective_latency");

    let mut reasons = Vec::new();
    if open_loop && let Some(p99) = lag_p99.filter(|p| *p > LAG_P99_LIMIT_MS) {
        reasons.push(format!("schedule lag p99 {p99:.2} ms exceeds {LAG_P99_LIMIT_MS} ms: requests left later than scheduled"));
    }
    // With --concurrency as a cap, skipped ticks are by design (the server is slow), not the client.
    let capped = config.concurrency.is_some() && mode == LoadMode::RequestRate;
    let ramped = config.load.request_rate_ramp_s.is_some();
    let cancelled = results.was_cancelled;
    if let (Some(req), Some(ach)) = (requested, achieved)
        && open_loop
        && !capped
        && !ramped
        && !cancelled
        && mode != LoadMode::FixedSchedule
        && ach < req * RATE_SHORTFALL
    {
        reasons.push(format!(
            "achieved rate {ach:.1} req/s is {:.0}% of the requested {req:.1} req/s",
            100.0 * ach / req
        ));
    }
    if let Some(c) = cpu
        && c.peak_cores >= CPU_SATURATION * c.cpus as f64
    {
        reasons.push(format!(
            "client CPU saturated: peak {:.2} of {} CPUs busy",
            c.peak_cores, c.cpus
        ));
    }
    if let Some(b) = backlog.filter(|b| b.held_back_credits > 0) {
        reasons.push(format!(
            "record processing fell behind: {} credit returns waited {:.2} ms on average for room in the workers' record queues (capacity {} each)",
            b.held_back_credits,
            b.held_back_ns as f64 / 1e6 / b.held_back_credits as f64,
            b.capacity
        ));
    }
    let client_bound = !reasons.is_empty();

    let mut o = Map::new();
    o.insert("mode".into(), mode.as_str().into());
    o.insert("open_loop".into(), open_loop.into());
    o.insert("requested_rate".into(), json!(requested));
    o.insert("achieved_rate".into(), json!(achieved));
    o.insert("requests_sent".into(), sent.into());
    o.insert("window_s".into(), json!(window_s));
    if capped {
        o.insert("concurrency_cap".into(), json!(config.concurrency));
    }
    o.insert("schedule_lag_ms".into(), dist(lag));
    o.insert("request_latency_ms".into(), dist(raw));
    o.insert("latency_from_intended_send_ms".into(), dist(effective));
    o.insert(
        "client_cpu".into(),
        match cpu {
            Some(c) => json!({"avg_cores": c.avg_cores, "peak_cores": c.peak_cores, "cpus": c.cpus, "avg_percent": 100.0 * c.avg_cores / c.cpus as f64, "peak_percent": 100.0 * c.peak_cores / c.cpus as f64}),
            None => Value::Null,
        },
    );
    o.insert(
        "record_backlog".into(),
        match backlog {
            // held_back_ms sums the waits of returns that overlapped: it can exceed the run.
            Some(b) => json!({"queue_capacity": b.capacity, "peak_queued": b.peak_queued, "held_back_credits": b.held_back_credits, "held_back_ms": b.held_back_ns as f64 / 1e6, "avg_held_back_ms": (b.held_back_credits > 0).then(|| b.held_back_ns as f64 / 1e6 / b.held_back_credits as f64)}),
            None => Value::Null,
        },
    );
    o.insert("thresholds".into(), json!({"schedule_lag_p99_ms": LAG_P99_LIMIT_MS, "rate_shortfall": RATE_SHORTFALL, "cpu_saturation": CPU_SATURATION}));
    o.insert("client_bound".into(), client_bound.into());
    o.insert("client_bound_reasons".into(), json!(reasons));

    let mut lines = Vec::new();
    let rate_txt = |r: Option<f64>| {
        r.map(|x| format!("{x:.1} req/s"))
            .unwrap_or_else(|| "n/a".into())
    };
    let load = match mode {
        LoadMode::Concurrency => format!(
            "Load: closed loop, concurrency {}",
            config
                .concurrency
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unlimited".into())
        ),
        LoadMode::FixedSchedule => format!(
            "Load: fixed schedule (trace average {})",
            rate_txt(requested)
        ),
        LoadMode::UserCentric => format!(
            "Load: user-centric, {} users, {} requested",
            config.load.num_users.unwrap_or(0),
            rate_txt(requested)
        ),
        LoadMode::RequestRate => format!(
            "Load: request rate {} requested{}",
            rate_txt(requested),
            if capped {
                format!(", concurrency cap {}", config.concurrency.unwrap_or(0))
            } else {
                String::new()
            }
        ),
    };
    let over = if open_loop { "sending" } else { "the phase" };
    let mut summary = format!(
        "{load}; achieved {} ({sent} sent, {window_s:.2} s of {over})",
        rate_txt(achieved)
    );
    if cancelled {
        // What became of the requests sent, in the table's own terms.
        let p = &results.profiling;
        let measured = metric(results, "request_count")
            .and_then(|m| m.avg)
            .map_or(p.records.saturating_sub(p.errors), |v| v as u64);
        summary.push_str(&format!("; cancelled: {measured} requests measured"));
        if p.errors > 0 {
            summary.push_str(&format!(", {} errors", p.errors));
        }
        summary.push_str(&format!(
            ", {} cancelled in flight",
            sent.saturating_sub(p.records)
        ));
    }
    lines.push(summary);
    if open_loop {
        lines.push(format!(
            "Schedule lag (actual send - intended send): p50 {}, p99 {}, max {}",
            fmt_ms(lag_p50),
            fmt_ms(lag_p99),
            fmt_ms(lag.and_then(|m| m.max))
        ));
        lines.push(format!(
            "Latency from the intended send time: p50 {}, p99 {} (request latency p50 {}, p99 {})",
            fmt_ms(effective.and_then(|m| m.percentile(50))),
            fmt_ms(effective.and_then(|m| m.percentile(99))),
            fmt_ms(raw.and_then(|m| m.percentile(50))),
            fmt_ms(raw.and_then(|m| m.percentile(99)))
        ));
    }
    if let Some(c) = cpu {
        lines.push(format!(
            "Client CPU: avg {:.2}, peak {:.2} of {} CPUs",
            c.avg_cores, c.peak_cores, c.cpus
        ));
    }
    if client_bound {
        lines.push(format!(
            "WARNING: THE CLIENT COULD NOT KEEP UP - these numbers measure aiperf-rs, not the server: {}.",
            reasons.join("; ")
        ));
    }
    LoadReport {
        mode,
        json: Value::Object(o),
        lines,
        client_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_config::{Context, ProfileArgs, resolve};

    fn config(extra: ProfileArgs) -> ProfileConfig {
        resolve(
            &ProfileArgs {
                models: Some(vec!["m".into()]),
                ..extra
            },
            &Context {
                cpus: 2,
                stdout_is_tty: false,
                cli_command: String::new(),
            },
        )
        .unwrap()
    }

    fn results(lag_p99: f64) -> ProfileResults {
        let m = |tag: &str, p50: f64, p99: f64| MetricResult {
            tag: tag.into(),
            unit: "ms".into(),
            avg: Some(p50),
            max: Some(p99 * 1.5),
            percentiles: vec![(50, p50), (99, p99)],
            ..Default::default()
        };
        let mut r = ProfileResults::default();
        r.profiling.metrics = vec![
            m("schedule_lag", 0.2, lag_p99),
            m("request_latency", 40.0, 80.0),
            m("effective_latency", 41.0, 95.0),
        ];
        r.profiling.records = 1000;
        r
    }

    fn stats(sent: u64, secs: f64, rate: f64) -> TrackedPhase {
        PhaseStats {
            sent,
            start_ns: 1_000_000_000,
            sending_end_ns: Some(1_000_000_000 + (secs * 1e9) as u64),
            load_mode: Some(LoadMode::RequestRate),
            target_rate: Some(rate),
            ..Default::default()
        }
        .into()
    }

    #[test]
    fn a_client_that_keeps_up_is_not_flagged() {
        let c = config(ProfileArgs {
            request_rate: Some(vec![100.0]),
            ..Default::default()
        });
        let cpu = CpuUsage {
            avg_cores: 0.3,
            peak_cores: 0.5,
            cpus: 2,
        };
        let r = build(
            &c,
            &results(0.9),
            Some(&stats(1000, 10.0, 100.0)),
            Some(cpu),
        );
        assert!(!r.client_bound, "{:?}", r.json);
        assert_eq!(r.json["achieved_rate"], 100.0);
        assert_eq!(r.json["requested_rate"], 100.0);
        assert_eq!(r.json["schedule_lag_ms"]["p99"], 0.9);
        assert_eq!(r.json["latency_from_intended_send_ms"]["p99"], 95.0);
        assert!(
            r.lines.iter().any(|l| l.starts_with("Schedule lag")),
            "{:?}",
            r.lines
        );
        assert!(!r.lines.iter().any(|l| l.contains("WARNING")));
    }

    #[test]
    fn lag_rate_shortfall_and_cpu_saturation_are_reported_loudly() {
        let c = config(ProfileArgs {
            request_rate: Some(vec![1000.0]),
            ..Default::default()
        });
        let cpu = CpuUsage {
            avg_cores: 1.7,
            peak_cores: 1.95,
            cpus: 2,
        };
        let r = build(
            &c,
            &results(35.0),
            Some(&stats(8000, 10.0, 1000.0)),
            Some(cpu),
        );
        assert!(r.client_bound);
        let reasons = r.json["client_bound_reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            r.lines
                .last()
                .unwrap()
                .starts_with("WARNING: THE CLIENT COULD NOT KEEP UP")
        );
        // A concurrency cap makes a lower rate expected: only the lag counts then.
        let capped = config(ProfileArgs {
            request_rate: Some(vec![1000.0]),
            concurrency: Some(vec![4]),
            ..Default::default()
        });
        let r = build(
            &capped,
            &results(0.5),
            Some(&stats(8000, 10.0, 1000.0)),
            None,
        );
        assert!(!r.client_bound, "{:?}", r.json);
    }

    #[test]
    fn a_cancelled_run_says_what_became_of_the_requests_sent() {
        let c = config(ProfileArgs {
            concurrency: Some(vec![8]),
            ..Default::default()
        });
        let mut r = results(0.5);
        r.was_cancelled = true;
        // 40 sent: 32 valid records, 2 error records, 6 cut off by the cancel.
        r.profiling.records = 34;
        r.profiling.errors = 2;
        r.profiling.metrics.push(MetricResult {
            tag: "request_count".into(),
            avg: Some(32.0),
            scalar: true,
            ..Default::default()
        });
        let s = PhaseStats {
            sent: 40,
            start_ns: 1_000_000_000,
            end_ns: Some(3_000_000_000),
            load_mode: Some(LoadMode::Concurrency),
            ..Default::default()
        };
        let r = build(&c, &r, Some(&s.into()), None);
        assert_eq!(
            r.lines[0],
            "Load: closed loop, concurrency 8; achieved 20.0 req/s (40 sent, 2.00 s of the phase); \
             cancelled: 32 requests measured, 2 errors, 6 cancelled in flight"
        );
    }

    fn backlog(peak: u32, credits: u64, ns: u64) -> RecordBacklog {
        RecordBacklog {
            capacity: 64,
            peak_queued: peak,
            held_back_credits: credits,
            held_back_ns: ns,
        }
    }

    #[test]
    fn the_workers_record_backlog_is_folded_from_their_latest_events() {
        let mut t = LoadTracker::default();
        let ev = |worker: &str, b: RecordBacklog| Event::RecordBacklog {
            phase: Phase::Profiling,
            worker_id: worker.into(),
            backlog: b,
        };
        t.on_event(&ev("w0", backlog(10, 1, 1_000_000)));
        assert!(
            t.stats(Phase::Profiling).is_none(),
            "no phase event seen yet"
        );
        t.on_event(&Event::PhaseStarted {
            phase: Phase::Profiling,
            stats: PhaseStats::default(),
        });
        // w0's later event replaces its first; w1 adds to it.
        t.on_event(&ev("w0", backlog(64, 3, 2_500_000)));
        t.on_event(&ev("w1", backlog(20, 2, 500_000)));
        let tracked = t.stats(Phase::Profiling).unwrap();
        // peak max(64, 20); credits 3 + 2; time 2.5 ms + 0.5 ms.
        assert_eq!(tracked.record_backlog(), Some(backlog(64, 5, 3_000_000)));
        let c = config(ProfileArgs {
            concurrency: Some(vec![8]),
            ..Default::default()
        });
        let r = build(&c, &results(0.5), Some(tracked), None);
        assert_eq!(
            r.json["record_backlog"],
            json!({"queue_capacity": 64, "peak_queued": 64, "held_back_credits": 5, "held_back_ms": 3.0, "avg_held_back_ms": 0.6})
        );
        assert!(r.client_bound);
        assert_eq!(
            r.json["client_bound_reasons"][0],
            // 3 ms over 5 returns: 0.60 ms each.
            "record processing fell behind: 5 credit returns waited 0.60 ms on average for room in the workers' record queues (capacity 64 each)"
        );
    }

    #[test]
    fn a_backlog_that_never_held_a_credit_back_is_reported_quietly() {
        let mut tracked = TrackedPhase::from(PhaseStats::default());
        let c = config(ProfileArgs {
            concurrency: Some(vec![8]),
            ..Default::default()
        });
        assert_eq!(
            build(&c, &results(0.5), Some(&tracked), None).json["record_backlog"],
            Value::Null,
            "no worker reported"
        );
        tracked.set_backlog("w0", backlog(7, 0, 0));
        let r = build(&c, &results(0.5), Some(&tracked), None);
        assert_eq!(r.json["record_backlog"]["peak_queued"], 7);
        assert!(!r.client_bound, "{:?}", r.json);
    }

    #[test]
    fn cpu_usage_from_samples() {
        // 2 s at 0.5 cores, then 1 s at 2 cores.
        let s: Vec<(u64, f64)> = (0..=12)
            .map(|i| {
                (
                    i * 250_000_000,
                    if i <= 8 {
                        i as f64 * 0.125
                    } else {
                        1.0 + (i - 8) as f64 * 0.5
                    },
                )
            })
            .collect();
        let u = usage_of(&s, 0, 3_000_000_000, 2).unwrap();
        assert!((u.avg_cores - 1.0).abs() < 1e-9, "{u:?}");
        assert!((u.peak_cores - 2.0).abs() < 1e-9, "{u:?}");
        assert!(usage_of(&s[..1], 0, 1, 2).is_none());
        // The sampler reads this process: spin until the kernel's own CPU clock of
        // the process has advanced 0.3 s (however loaded the machine is), then the
        // sampler must have seen most of it (it counts in clock ticks).
        let mut last = HashMap::new();
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu_clock = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        let before = process_cpu_seconds(ticks, true, &mut last);
        let start = cpu_clock();
        let mut x = 0u64;
        while cpu_clock() - start < 0.3 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = process_cpu_seconds(ticks, true, &mut last);
        assert!(
            after - before >= 0.25,
            "0.3 s of CPU spent, the sampler saw {:.3} s",
            after - before
        );
    }
}
