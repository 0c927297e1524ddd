//! The load report: did the client deliver the load it was asked for?
//!
//! Every run's summary JSON gets a `load_report` section and the console a few
//! lines: the load mode, requested vs achieved request rate, schedule lag
//! (actual send − intended send) p50/p99/max, latency measured from the intended
//! send time next to the raw request latency (coordinated omission), and the
//! client's CPU use. When the client could not keep up — a sustained schedule lag
//! large against what it distorts ([`LagVerdict`]), achieved rate below
//! [`RATE_SHORTFALL`] of the target, the client's CPU saturated, or record
//! processing fell behind so that workers held credit returns back (the
//! `record_backlog` section, from the workers' `record_backlog` events) — the
//! report says so (`client_bound: true` with reasons, each with its figure and
//! threshold) and the console prints a loud warning: the numbers then describe the
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

/// Lag below this share of the measured latency (TTFT p50 when streaming, else
/// request latency p50) does not distort the latencies measured.
pub const LAG_LATENCY_SHARE: f64 = 0.05;
/// Lag below this share of the schedule's mean inter-arrival gap keeps the
/// schedule's spacing.
pub const LAG_GAP_SHARE: f64 = 0.5;
/// Lag below this (ms) is never held against the client.
pub const LAG_FLOOR_MS: f64 = 1.0;
/// The lag is sustained (not a burst) when at least this share of requests left
/// later than the tolerance.
pub const LATE_SHARE_LIMIT: f64 = 0.10;
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

/// Whether the schedule lag of an open-loop run distorted what the run measured.
///
/// Lag matters against what it distorts: the latencies measured (a lag small
/// next to the TTFT changes neither the server's in-flight count nor the
/// latency figures) and the schedule's own spacing (a lag small next to the
/// inter-arrival gap keeps the arrival pattern). The tolerance is therefore the
/// larger of [`LAG_LATENCY_SHARE`] of the reference latency p50 and
/// [`LAG_GAP_SHARE`] of the mean gap, at least [`LAG_FLOOR_MS`]; and a few
/// bursts do not count: the verdict trips only when at least
/// [`LATE_SHARE_LIMIT`] of the requests were later than the tolerance (the share
/// is read off the lag's percentiles).
#[derive(Debug, Clone, PartialEq)]
pub struct LagVerdict {
    /// The metric the lag is compared with (`time_to_first_token` or `request_latency`).
    pub reference: &'static str,
    /// Its p50 (ms), if measured.
    pub reference_p50_ms: Option<f64>,
    /// The schedule's mean inter-arrival gap (ms), when the rate is known.
    pub mean_gap_ms: Option<f64>,
    /// Lag above this (ms) distorts the run.
    pub tolerance_ms: f64,
    /// Estimated share of requests later than the tolerance (0–1).
    pub late_share: f64,
    /// Lag p90 (ms).
    pub lag_p90_ms: Option<f64>,
    /// Lag p99 (ms).
    pub lag_p99_ms: Option<f64>,
}

impl LagVerdict {
    /// The verdict on the lag of `results`, for a schedule of `rate` req/s.
    pub fn judge(results: &ProfileResults, rate: Option<f64>) -> Option<LagVerdict> {
        let lag = metric(results, "schedule_lag")?;
        let ttft = metric(results, "time_to_first_token").and_then(|m| m.percentile(50));
        let (reference, reference_p50_ms) = match ttft {
            Some(t) => ("time_to_first_token", Some(t)),
            None => (
                "request_latency",
                metric(results, "request_latency").and_then(|m| m.percentile(50)),
            ),
        };
        let mean_gap_ms = rate.filter(|r| *r > 0.0).map(|r| 1000.0 / r);
        let tolerance_ms = [
            LAG_FLOOR_MS,
            reference_p50_ms.map_or(0.0, |l| LAG_LATENCY_SHARE * l),
            mean_gap_ms.map_or(0.0, |g| LAG_GAP_SHARE * g),
        ]
        .into_iter()
        .fold(0.0, f64::max);
        Some(LagVerdict {
            reference,
            reference_p50_ms,
            mean_gap_ms,
            tolerance_ms,
            late_share: share_above(lag, tolerance_ms),
            lag_p90_ms: lag.percentile(90),
            lag_p99_ms: lag.percentile(99),
        })
    }

    /// Whether the lag distorted the run (sustained and beyond the tolerance).
    pub fn trips(&self) -> bool {
        self.late_share >= LATE_SHARE_LIMIT
    }

    /// The reason printed when it trips: every figure with its threshold.
    pub fn reason(&self) -> String {
        let reference = match self.reference {
            "time_to_first_token" => "TTFT",
            _ => "request latency",
        };
        format!(
            "schedule lag exceeded its tolerance of {:.2} ms for {:.0}% of requests (limit {:.0}%; lag p90 {}, p99 {}); \
             the tolerance is the larger of {:.0}% of the {reference} p50 ({}) and {:.0}% of the mean inter-arrival gap ({}), at least {LAG_FLOOR_MS} ms",
            self.tolerance_ms,
            100.0 * self.late_share,
            100.0 * LATE_SHARE_LIMIT,
            fmt_ms(self.lag_p90_ms),
            fmt_ms(self.lag_p99_ms),
            100.0 * LAG_LATENCY_SHARE,
            fmt_ms(self.reference_p50_ms),
            100.0 * LAG_GAP_SHARE,
            fmt_ms(self.mean_gap_ms),
        )
    }

    /// The `schedule_lag_verdict` JSON section.
    fn json(&self) -> Value {
        json!({
            "reference": self.reference,
            "reference_p50_ms": self.reference_p50_ms,
            "mean_gap_ms": self.mean_gap_ms,
            "tolerance_ms": self.tolerance_ms,
            "late_share": self.late_share,
            "late_share_limit": LATE_SHARE_LIMIT,
            "trips": self.trips(),
        })
    }
}

/// Estimated share (0–1) of a metric's values above `x`, by linear interpolation
/// between its percentiles (with its min as p0 and its max as p100).
fn share_above(m: &MetricResult, x: f64) -> f64 {
    let mut points: Vec<(f64, f64)> = Vec::new();
    points.push((0.0, m.min.unwrap_or(0.0)));
    points.extend(m.percentiles.iter().map(|(p, v)| (*p as f64, *v)));
    if let Some(max) = m.max {
        points.push((100.0, max));
    }
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The first point above x (none: nothing known lies above it), and the one before.
    let Some(i) = points.iter().position(|(_, v)| *v > x) else {
        return 0.0;
    };
    if i == 0 {
        return 1.0;
    }
    let (p0, v0) = points[i - 1];
    let (p1, v1) = points[i];
    let p = if v1 > v0 {
        p0 + (p1 - p0) * (x - v0) / (v1 - v0)
    } else {
        p1
    };
    (1.0 - p / 100.0).clamp(0.0, 1.0)
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
            // The bus's last counters can predate the last sends (a cancelled run
            // stops before the final event): every record is a request sent.
            (
                s.sent.max(results.profiling.records),
                end.saturating_sub(s.start_ns) as f64 / 1e9,
            )
        }
        None => (results.profiling.records, 0.0),
    };
    let achieved = (window_s > 0.0 && sent > 0).then(|| sent as f64 / window_s);
    let lag = metric(results, "schedule_lag");
    let lag_p50 = lag.and_then(|m| m.percentile(50));
    let lag_p99 = lag.and_then(|m| m.percentile(99));
    let raw = metric(results, "request_latency");
    let effective = metric(results, "effective_latency");

    // With --concurrency as a cap, skipped ticks are by design (the server is slow), not the client.
    let capped = config.concurrency.is_some() && mode == LoadMode::RequestRate;
    let mut reasons = Vec::new();
    // Under a cap a request also waits for a free slot: that lag is the server's.
    let lag_verdict = (open_loop && !capped)
        .then(|| LagVerdict::judge(results, requested))
        .flatten();
    if let Some(v) = lag_verdict.as_ref().filter(|v| v.trips()) {
        reasons.push(v.reason());
    }
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
            "achieved rate {ach:.1} req/s is {:.0}% of the requested {req:.1} req/s (limit {:.0}%)",
            100.0 * ach / req,
            100.0 * RATE_SHORTFALL
        ));
    }
    if let Some(c) = cpu
        && c.peak_cores >= CPU_SATURATION * c.cpus as f64
    {
        reasons.push(format!(
            "client CPU saturated: peak {:.2} of {} CPUs busy (limit {:.0}%: {:.2})",
            c.peak_cores,
            c.cpus,
            100.0 * CPU_SATURATION,
            CPU_SATURATION * c.cpus as f64
        ));
    }
    if let Some(b) = backlog.filter(|b| b.held_back_credits > 0) {
        reasons.push(format!(
            "record processing fell behind: {} credit returns waited {:.2} ms on average for room in the workers' record queues (capacity {} each; limit: none waits)",
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
    // sent = ok + errors + cancelled (cut off in flight, no record).
    let p = &results.profiling;
    o.insert(
        "requests".into(),
        json!({"sent": sent, "ok": p.records.saturating_sub(p.errors), "errors": p.errors, "cancelled": sent.saturating_sub(p.records)}),
    );
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
    o.insert(
        "schedule_lag_verdict".into(),
        lag_verdict.as_ref().map_or(Value::Null, LagVerdict::json),
    );
    o.insert("thresholds".into(), json!({"lag_latency_share": LAG_LATENCY_SHARE, "lag_gap_share": LAG_GAP_SHARE, "lag_floor_ms": LAG_FLOOR_MS, "late_share": LATE_SHARE_LIMIT, "rate_shortfall": RATE_SHORTFALL, "cpu_saturation": CPU_SATURATION}));
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

    /// A `schedule_lag` metric with the given p1, p5, p10, p25, p50, p75, p90, p95,
    /// p99 and max (ms).
    fn lag_metric(points: [f64; 10]) -> MetricResult {
        MetricResult {
            tag: "schedule_lag".into(),
            unit: "ms".into(),
            min: Some(0.0),
            max: Some(points[9]),
            percentiles: [1, 5, 10, 25, 50, 75, 90, 95, 99]
                .into_iter()
                .zip(points)
                .collect(),
            ..Default::default()
        }
    }

    /// A lag that grows steadily from 0 to `end` ms over the run (uniform).
    fn steady_growth(end: f64) -> [f64; 10] {
        [1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 100.0].map(|p| end * p / 100.0)
    }

    /// `r` with metric `m` in place of the one of the same tag (or added).
    fn with(mut r: ProfileResults, m: MetricResult) -> ProfileResults {
        r.profiling.metrics.retain(|x| x.tag != m.tag);
        r.profiling.metrics.push(m);
        r
    }

    /// A latency metric with the given p50 (ms).
    fn latency(tag: &str, p50: f64) -> MetricResult {
        MetricResult {
            tag: tag.into(),
            unit: "ms".into(),
            avg: Some(p50),
            max: Some(p50 * 2.0),
            percentiles: vec![(50, p50), (99, p50 * 1.5)],
            ..Default::default()
        }
    }

    fn fixed_schedule(sent: u64, secs: f64, rate: f64) -> TrackedPhase {
        PhaseStats {
            load_mode: Some(LoadMode::FixedSchedule),
            ..stats(sent, secs, rate).stats
        }
        .into()
    }

    #[test]
    fn a_mooncake_replay_with_a_few_bursts_is_not_client_bound() {
        // Issue 17: a Mooncake trace replayed against a real engine, request
        // latencies ~15 s, TTFT ~0.9 s, 15.45 req/s in bursts of same-timestamp
        // rows: lag p99 22.7 ms from a few bursts, the median well under 1 ms.
        let c = config(ProfileArgs {
            request_rate: Some(vec![15.45]),
            ..Default::default()
        });
        let lag = lag_metric([0.05, 0.1, 0.15, 0.25, 0.4, 0.8, 2.0, 5.0, 22.7, 60.0]);
        let real_engine = with(
            with(
                with(results(0.0), lag.clone()),
                latency("request_latency", 15_000.0),
            ),
            latency("time_to_first_token", 900.0),
        );
        let r = build(
            &c,
            &real_engine,
            Some(&fixed_schedule(927, 60.0, 15.45)),
            None,
        );
        assert!(!r.client_bound, "{:#}", r.json);
        // Tolerance: max(5% of TTFT p50 900 ms, half the 64.7 ms gap, 1 ms) = 45 ms.
        let v = &r.json["schedule_lag_verdict"];
        assert_eq!(v["reference"], "time_to_first_token");
        assert!(
            (v["tolerance_ms"].as_f64().unwrap() - 45.0).abs() < 1e-9,
            "{v}"
        );
        assert!(v["late_share"].as_f64().unwrap() < 0.01, "{v}");
        assert!(
            !r.lines.iter().any(|l| l.contains("WARNING")),
            "{:?}",
            r.lines
        );
        // Even against a fast server (TTFT 20 ms) the schedule's own spacing
        // (half of 64.7 ms) tolerates the bursts: fewer than 1% of requests are later.
        let fast = with(
            with(results(0.0), lag),
            latency("time_to_first_token", 20.0),
        );
        let r = build(&c, &fast, Some(&fixed_schedule(927, 60.0, 15.45)), None);
        assert!(!r.client_bound, "{:#}", r.json);
    }

    #[test]
    fn an_overloaded_client_is_client_bound_on_lag_alone() {
        // The lag grows steadily to 400 ms (comparable to the 150 ms TTFT) at
        // 1000 req/s; the rate was still met and the CPU is not reported.
        let c = config(ProfileArgs {
            request_rate: Some(vec![1000.0]),
            ..Default::default()
        });
        let overloaded = with(
            with(results(0.0), lag_metric(steady_growth(400.0))),
            latency("time_to_first_token", 150.0),
        );
        let r = build(&c, &overloaded, Some(&stats(10_000, 10.0, 1000.0)), None);
        assert!(r.client_bound, "{:#}", r.json);
        let reasons = r.json["client_bound_reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        // Tolerance max(5% of 150 ms, half of 1 ms, 1 ms) = 7.5 ms; 98% are later.
        assert_eq!(
            reasons[0],
            "schedule lag exceeded its tolerance of 7.50 ms for 98% of requests (limit 10%; \
             lag p90 360.00 ms, p99 396.00 ms); the tolerance is the larger of 5% of the TTFT p50 \
             (150.00 ms) and 50% of the mean inter-arrival gap (1.00 ms), at least 1 ms"
        );
        assert!(
            r.lines
                .last()
                .unwrap()
                .contains(reasons[0].as_str().unwrap()),
            "{:?}",
            r.lines
        );
    }

    #[test]
    fn a_burst_trips_only_when_it_is_sustained() {
        let c = config(ProfileArgs {
            request_rate: Some(vec![100.0]),
            ..Default::default()
        });
        let run = |lag: [f64; 10]| {
            let r = with(
                with(results(0.0), lag_metric(lag)),
                latency("request_latency", 40.0),
            );
            build(&c, &r, Some(&stats(1000, 10.0, 100.0)), None)
        };
        // Tolerance max(2 ms, 5 ms, 1 ms) = 5 ms. Under 5% of requests up to 300 ms
        // late (p99 250 ms, far above any fixed limit): a burst.
        let burst = run([0.1, 0.1, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 250.0, 300.0]);
        assert!(!burst.client_bound, "{:#}", burst.json);
        // 25% of requests later than 5 ms: sustained.
        let sustained = run([0.1, 0.1, 0.1, 0.2, 0.3, 5.0, 20.0, 50.0, 250.0, 300.0]);
        assert!(sustained.client_bound, "{:#}", sustained.json);
        let share = sustained.json["schedule_lag_verdict"]["late_share"]
            .as_f64()
            .unwrap();
        assert!((share - 0.25).abs() < 1e-9, "{share}");
    }

    #[test]
    fn the_share_of_late_requests_is_read_off_the_percentiles() {
        let m = lag_metric(steady_growth(100.0));
        assert!((share_above(&m, 50.0) - 0.5).abs() < 1e-9);
        assert!((share_above(&m, 92.5) - 0.075).abs() < 1e-9);
        assert_eq!(share_above(&m, 100.0), 0.0);
        assert_eq!(share_above(&m, 1000.0), 0.0);
        assert!((share_above(&m, 0.5) - 0.995).abs() < 1e-9);
        // Below the minimum: every request.
        let mut m = lag_metric([5.0; 10]);
        m.min = Some(5.0);
        assert_eq!(share_above(&m, 1.0), 1.0);
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
            &with(results(0.0), lag_metric(steady_growth(400.0))),
            Some(&stats(8000, 10.0, 1000.0)),
            Some(cpu),
        );
        assert!(r.client_bound);
        let reasons = r.json["client_bound_reasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(
            reasons[1],
            "achieved rate 800.0 req/s is 80% of the requested 1000.0 req/s (limit 90%)"
        );
        assert_eq!(
            reasons[2],
            "client CPU saturated: peak 1.95 of 2 CPUs busy (limit 90%: 1.80)"
        );
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
        let r = build(&c, &r, Some(&s.clone().into()), None);
        assert_eq!(
            r.lines[0],
            "Load: closed loop, concurrency 8; achieved 20.0 req/s (40 sent, 2.00 s of the phase); \
             cancelled: 32 requests measured, 2 errors, 6 cancelled in flight"
        );
        assert_eq!(
            r.json["requests"],
            json!({"sent": 40, "ok": 32, "errors": 2, "cancelled": 6})
        );
        // The bus's last counters predate the last sends (30 < 34 records): the
        // records count, and the numbers still add up.
        let stale = PhaseStats { sent: 30, ..s };
        let mut res = results(0.5);
        res.was_cancelled = true;
        res.profiling.records = 34;
        res.profiling.errors = 2;
        let r = build(&c, &res, Some(&stale.into()), None);
        assert_eq!(r.json["requests_sent"], 34);
        assert_eq!(
            r.json["requests"],
            json!({"sent": 34, "ok": 32, "errors": 2, "cancelled": 0})
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
            "record processing fell behind: 5 credit returns waited 0.60 ms on average for room in the workers' record queues (capacity 64 each; limit: none waits)"
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
