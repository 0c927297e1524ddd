//! End-to-end: every load mode and stop condition of `aiperf-rs profile` against
//! the real mock server (`docs/load-modes.md`): request rate (absolute schedule, load
//! report), session count, warmup by duration (excluded from the metrics), request
//! cancellation (seeded share, 499 records, real disconnects), grace period,
//! concurrency ramp, prefill concurrency, sweeps (layout and aggregate), fixed
//! schedule (send times vs trace timestamps), user-centric start times, Ctrl-C.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(120);

fn metadata(dir: &Path) -> Vec<Value> {
    read_jsonl(dir.join("profile_export.jsonl"))
        .into_iter()
        .map(|l| l["metadata"].clone())
        .collect()
}

fn profiling(dir: &Path) -> Vec<Value> {
    read_jsonl(dir.join("profile_export.jsonl"))
        .into_iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .collect()
}

fn ns(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Open loop at a constant rate: the requests leave on the absolute schedule, and
/// the summary's load report compares requested and achieved rate and lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_follows_the_schedule_and_reports_it() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("rate");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--request-rate",
            "50",
            "--arrival-pattern",
            "constant",
            "--benchmark-duration",
            "1",
            "--isl",
            "16",
            "--osl",
            "4",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let meta = metadata(dir.path());
    // Ticks at 20, 40, …, 980 ms (the first one interval after the start): 49 requests.
    assert!(
        (48..=50).contains(&meta.len()),
        "{} requests in 1 s at 50 req/s",
        meta.len()
    );
    let mut sched: Vec<u64> = meta.iter().map(|m| ns(m, "scheduled_ns")).collect();
    sched.sort();
    let exact = sched
        .windows(2)
        .filter(|w| w[1] - w[0] == 20_000_000)
        .count();
    assert!(
        exact + 2 >= sched.len() - 1,
        "scheduled 20 ms apart (absolute schedule): {exact} of {}",
        sched.len() - 1
    );
    let mut lags: Vec<i64> = meta
        .iter()
        .map(|m| ns(m, "request_start_ns") as i64 - ns(m, "scheduled_ns") as i64)
        .collect();
    lags.sort();
    assert!(lags[0] >= 0, "no request left before its time");
    assert!(
        lags[lags.len() / 2] < 5_000_000,
        "median lag {} ns",
        lags[lags.len() / 2]
    );
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    let r = &s["load_report"];
    assert_eq!(r["mode"], "request_rate");
    assert_eq!(r["requested_rate"], 50.0);
    let achieved = r["achieved_rate"].as_f64().unwrap();
    assert!((achieved - 50.0).abs() < 3.0, "achieved {achieved}");
    for k in ["p50", "p99", "max"] {
        assert!(r["schedule_lag_ms"][k].is_number(), "{r}");
    }
    assert!(
        r["latency_from_intended_send_ms"]["p99"].as_f64().unwrap()
            >= r["request_latency_ms"]["p50"].as_f64().unwrap()
    );
    assert!(
        r["client_bound"].is_boolean() && r["client_cpu"]["cpus"].is_number(),
        "{r}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Schedule lag (actual send - intended send)")
            && stdout.contains("Latency from the intended send time"),
        "{stdout}"
    );
}

/// `--num-sessions` stops starting sessions after N and finishes the started ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_count_sends_every_turn_of_n_sessions() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("sessions");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--num-sessions",
            "3",
            "--session-turns-mean",
            "3",
            "--isl",
            "16",
            "--osl",
            "4",
            "--num-dataset-entries",
            "10",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let meta = metadata(dir.path());
    assert_eq!(meta.len(), 9, "3 sessions × 3 turns");
    // Records reach the file in the order they are processed; the turns must have
    // been *sent* in order.
    let mut sessions: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for m in &meta {
        sessions
            .entry(m["x_correlation_id"].as_str().unwrap().to_string())
            .or_default()
            .push((
                m["request_start_ns"].as_u64().unwrap(),
                m["turn_index"].as_u64().unwrap(),
            ));
    }
    assert_eq!(sessions.len(), 3);
    for turns in sessions.values_mut() {
        turns.sort();
    }
    assert!(
        sessions
            .values()
            .all(|t| t.iter().map(|(_, i)| *i).collect::<Vec<_>>() == vec![0, 1, 2]),
        "{sessions:?}"
    );
}

/// Warmup by duration with its own concurrency: its records are tagged and
/// excluded from the profiling metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_duration_records_are_tagged_and_excluded() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(10.0, 1.0)).await;
    let dir = temp_dir("warmup");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "20",
            "--warmup-duration",
            "0.3",
            "--warmup-concurrency",
            "1",
            "--isl",
            "16",
            "--osl",
            "4",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    let warm: Vec<&Value> = lines
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "warmup")
        .collect();
    // One at a time for 0.3 s at ~14 ms each.
    assert!(
        (8..=30).contains(&warm.len()),
        "{} warmup requests",
        warm.len()
    );
    assert_eq!(profiling(dir.path()).len(), 20);
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(stat(&s, "request_count", "avg"), 20.0, "warmup excluded");
    assert_eq!(server.stats().requests as usize, 20 + warm.len());
    // Profiling starts after the last warmup request returned.
    let warm_end = warm
        .iter()
        .map(|l| ns(&l["metadata"], "request_end_ns"))
        .max()
        .unwrap();
    let prof_start = profiling(dir.path())
        .iter()
        .map(|l| ns(&l["metadata"], "request_start_ns"))
        .min()
        .unwrap();
    assert!(prof_start >= warm_end);
    // A warmup set by duration alone still counts as phase 0: profiling is phase 1.
    for l in &warm {
        assert_eq!(l["metadata"]["phase_index"], 0, "{l}");
    }
    for l in profiling(dir.path()) {
        assert_eq!(l["metadata"]["phase_index"], 1, "{l}");
    }
}

/// A seeded share of profiling requests is cancelled 50 ms after being sent: 499
/// error records, real disconnects at the server, the counts add up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_cancellation_produces_499_records_and_disconnects() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(150.0, 1.0)).await;
    let dir = temp_dir("cancel");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "8",
            "--request-count",
            "48",
            "--request-cancellation-rate",
            "25",
            "--request-cancellation-delay",
            "0.05",
            "--random-seed",
            "5",
            "--isl",
            "16",
            "--osl",
            "4",
            "--warmup-request-count",
            "8",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_sent_equals_completed_plus_errors(dir.path(), 48);
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    let cancelled: Vec<&Value> = lines.iter().filter(|l| l["error"]["code"] == 499).collect();
    // Binomial(48, 0.25): mean 12, σ 3.
    assert!(
        (4..=22).contains(&cancelled.len()),
        "{} of 48 cancelled",
        cancelled.len()
    );
    for l in &cancelled {
        assert_eq!(l["error"]["type"], "RequestCancellationError");
        assert_eq!(
            l["error"]["message"],
            "Request cancelled 0.050s after being sent"
        );
        let m = &l["metadata"];
        assert_eq!(m["benchmark_phase"], "profiling", "never in warmup");
        assert_eq!(m["was_cancelled"], true);
        let after = ns(m, "cancellation_time_ns") - ns(m, "request_start_ns");
        assert!(
            (50_000_000..120_000_000).contains(&after),
            "cancelled {after} ns after the start"
        );
        assert_eq!(ns(m, "request_end_ns"), ns(m, "cancellation_time_ns"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.stats().disconnects as usize,
        cancelled.len(),
        "each cancellation closed its connection"
    );
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(
        stat(&s, "error_request_count", "avg") as usize,
        cancelled.len()
    );
    // Same seed, same selection (which credits, not just how many).
    let dir2 = temp_dir("cancel2");
    let mut args2 = args.clone();
    let i = args2.iter().position(|a| a == "--artifact-dir").unwrap();
    args2[i + 1] = dir2.path().display().to_string();
    let out = run(&args2, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let ids = |d: &Path| -> BTreeSet<u64> {
        read_jsonl(d.join("profile_export.jsonl"))
            .iter()
            .filter(|l| l["error"]["code"] == 499)
            .map(|l| l["metadata"]["session_num"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(dir.path()), ids(dir2.path()));
}

/// Requests still in flight at duration + grace are cancelled and leave no record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_period_expiry_cancels_in_flight_requests_without_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        ttft_spread_ms: 1200.0,
        ..MockConfig::default().with_latency(20.0, 1.0)
    })
    .await;
    let dir = temp_dir("grace");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "6",
            "--benchmark-duration",
            "0.6",
            "--benchmark-grace-period",
            "0.2",
            "--isl",
            "16",
            "--osl",
            "2",
        ],
    );
    let start = Instant::now();
    let out = run(&args, LONG).await;
    let took = start.elapsed();
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    let sent = s["load_report"]["requests_sent"].as_u64().unwrap();
    let records = profiling(dir.path()).len() as u64;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        records < sent,
        "some requests outlived D+G: {records} records of {sent} sent"
    );
    assert!(records > 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.stats().disconnects,
        sent - records,
        "the stragglers were aborted"
    );
    // Every record ended before D + G (+ a little).
    let ends: Vec<u64> = profiling(dir.path())
        .iter()
        .map(|l| ns(&l["metadata"], "request_end_ns"))
        .collect();
    let first = profiling(dir.path())
        .iter()
        .map(|l| ns(&l["metadata"], "request_start_ns"))
        .min()
        .unwrap();
    assert!(
        ends.iter().all(|e| e - first < 900_000_000),
        "a record ended after the grace period"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// `--concurrency-ramp-duration`: slot k opens at S·(k−1)/(N−1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_ramp_opens_slots_on_schedule() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(1500.0, 1.0)).await;
    let dir = temp_dir("ramp");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--concurrency-ramp-duration",
            "0.6",
            "--request-count",
            "4",
            "--isl",
            "16",
            "--osl",
            "1",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let mut starts: Vec<u64> = metadata(dir.path())
        .iter()
        .map(|m| ns(m, "request_start_ns"))
        .collect();
    starts.sort();
    let rel: Vec<f64> = starts
        .iter()
        .map(|s| (s - starts[0]) as f64 / 1e6)
        .collect();
    for (got, want) in rel.iter().zip([0.0, 200.0, 400.0, 600.0]) {
        assert!(
            (got - want).abs() < 25.0,
            "slot opened at {got:.1} ms, want {want}: {rel:?}"
        );
    }
}

/// `--prefill-concurrency 1`: one request waits for its first token at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefill_concurrency_releases_on_first_token() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(60.0, 10.0)).await;
    let dir = temp_dir("prefill");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--prefill-concurrency",
            "1",
            "--request-count",
            "8",
            "--isl",
            "16",
            "--osl",
            "10",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let mut starts: Vec<u64> = metadata(dir.path())
        .iter()
        .map(|m| ns(m, "request_start_ns"))
        .collect();
    starts.sort();
    for w in starts.windows(2) {
        let gap = (w[1] - w[0]) as f64 / 1e6;
        assert!(
            gap > 55.0,
            "two requests in prefill at once: starts {gap:.1} ms apart"
        );
    }
    // Decode overlaps: 8 requests of ~150 ms finish well before 8 × 150 ms.
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert!(
        stat(&s, "benchmark_duration", "avg") < 1.0,
        "{}",
        stat(&s, "benchmark_duration", "avg")
    );
}

/// A concurrency sweep: one run directory per value, AIPerf's per-value
/// aggregates and sweep aggregate (checked against each run's own summary: the
/// statistics, the best configurations and the Pareto set worked out here), and
/// the TPS/GPU Pareto table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_runs_one_profile_per_value_and_aggregates() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(10.0, 1.0)).await;
    let dir = temp_dir("sweep");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "1,2,4",
            "--request-count",
            "8",
            "--isl",
            "16",
            "--osl",
            "8",
            "--num-gpus",
            "2",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let values = [1u64, 2, 4];
    let mut summaries = Vec::new();
    for v in values {
        let run_dir = dir.path().join(format!("concurrency_{v}"));
        for f in [
            "profile_export_aiperf.json",
            "profile_export_aiperf.csv",
            "profile_export.jsonl",
            "run_config.json",
            "logs/aiperf.log",
        ] {
            assert!(run_dir.join(f).exists(), "{v}: {f} missing");
        }
        let cfg = read_json(run_dir.join("run_config.json"));
        assert_eq!(cfg["concurrency"].as_u64(), Some(v));
        let s = read_json(run_dir.join("profile_export_aiperf.json"));
        assert_eq!(stat(&s, "request_count", "avg"), 8.0);

        // aggregate/concurrency_<v>/: a one-run confidence aggregate of that run.
        let agg_dir = dir.path().join(format!("aggregate/concurrency_{v}"));
        let a = read_json(agg_dir.join("profile_export_aiperf_aggregate.json"));
        assert_eq!(a["metadata"]["aggregation_type"], "confidence");
        assert_eq!(a["metadata"]["num_profile_runs"], 1);
        assert_eq!(
            a["metadata"]["variation_values"],
            serde_json::json!({"concurrency": v})
        );
        let thr = &a["metrics"]["request_throughput_avg"];
        assert_eq!(
            thr["mean"].as_f64(),
            Some(stat(&s, "request_throughput", "avg"))
        );
        assert_eq!(
            (thr["std"].as_f64(), thr["se"].as_f64()),
            (Some(0.0), Some(0.0))
        );
        assert_eq!(
            a["metrics"]["time_to_first_token_p99"]["mean"].as_f64(),
            Some(stat(&s, "time_to_first_token", "p99"))
        );
        let csv =
            std::fs::read_to_string(agg_dir.join("profile_export_aiperf_aggregate.csv")).unwrap();
        assert!(
            csv.starts_with("metric,mean,std,min,max,cv,se,ci_low,ci_high,t_critical,unit\n"),
            "{csv}"
        );
        summaries.push(s);
    }

    let agg = read_json(
        dir.path()
            .join("sweep_aggregate/profile_export_aiperf_sweep.json"),
    );
    assert_eq!(agg["aggregation_type"], "sweep");
    assert_eq!(
        (
            agg["num_profile_runs"].as_u64(),
            agg["num_successful_runs"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(agg["failed_runs"], serde_json::json!([]));
    assert_eq!(
        agg["metadata"]["sweep_parameters"],
        serde_json::json!([{"name": "concurrency", "values": [1, 2, 4]}])
    );
    assert_eq!(agg["metadata"]["num_combinations"], 3);

    // per_combination_metrics of each value = that run's own summary statistics.
    let per = agg["per_combination_metrics"].as_array().unwrap();
    assert_eq!(per.len(), 3);
    for ((combo, s), v) in per.iter().zip(&summaries).zip(values) {
        assert_eq!(combo["parameters"], serde_json::json!({"concurrency": v}));
        let m = &combo["metrics"];
        let ttft = &m["time_to_first_token"];
        for (key, stat_name) in [
            ("mean", "avg"),
            ("avg", "avg"),
            ("min", "min"),
            ("max", "max"),
            ("p50", "p50"),
            ("p99", "p99"),
            ("sum", "sum"),
        ] {
            assert_eq!(
                ttft[key].as_f64(),
                Some(stat(s, "time_to_first_token", stat_name)),
                "{v}: time_to_first_token.{key}"
            );
        }
        assert_eq!(ttft["count"], s["time_to_first_token"]["count"]);
        assert_eq!(ttft["std"].as_f64(), Some(0.0), "one trial: no spread");
        assert_eq!(
            m["request_throughput_avg"]["mean"].as_f64(),
            Some(stat(s, "request_throughput", "avg"))
        );
        assert_eq!(
            m["inter_token_latency_p90"]["mean"].as_f64(),
            Some(stat(s, "inter_token_latency", "p90"))
        );
    }

    // best_configurations and pareto_optimal, worked out from the run summaries:
    // throughput (request_throughput avg) up, TTFT p99 down.
    let thr: Vec<f64> = summaries
        .iter()
        .map(|s| stat(s, "request_throughput", "avg"))
        .collect();
    let lat: Vec<f64> = summaries
        .iter()
        .map(|s| stat(s, "time_to_first_token", "p99"))
        .collect();
    let argbest = |xs: &[f64], better: fn(f64, f64) -> bool| {
        let mut best = 0;
        for i in 1..xs.len() {
            if better(xs[i], xs[best]) {
                best = i;
            }
        }
        best
    };
    let best_thr = argbest(&thr, |a, b| a > b);
    let best_lat = argbest(&lat, |a, b| a < b);
    let best = &agg["best_configurations"];
    assert_eq!(
        best["best_throughput"],
        serde_json::json!({"parameters": {"concurrency": values[best_thr]}, "metric": thr[best_thr], "unit": "requests/sec"})
    );
    assert_eq!(
        best["best_latency_p99"],
        serde_json::json!({"parameters": {"concurrency": values[best_lat]}, "metric": lat[best_lat], "unit": "ms"})
    );
    let dominated = |i: usize| {
        (0..3).any(|j| {
            j != i && thr[j] >= thr[i] && lat[j] <= lat[i] && (thr[j] > thr[i] || lat[j] < lat[i])
        })
    };
    let expected: Vec<serde_json::Value> = (0..3)
        .filter(|&i| !dominated(i))
        .map(|i| serde_json::json!({"concurrency": values[i]}))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        agg["pareto_optimal"],
        serde_json::Value::Array(expected),
        "throughput {thr:?}, TTFT p99 {lat:?}"
    );

    // Our TPS/GPU view: system TPS over --num-gpus.
    let p = &agg["pareto"][1];
    assert!(
        (p["tps_per_gpu"].as_f64().unwrap() * 2.0 - p["system_tps"].as_f64().unwrap()).abs() < 1e-6
    );
    let csv = std::fs::read_to_string(
        dir.path()
            .join("sweep_aggregate/profile_export_aiperf_sweep.csv"),
    )
    .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("concurrency,"), "{csv}");
    assert!(lines[0].contains(",request_throughput_avg_mean,"), "{csv}");
    assert!(
        lines[1].starts_with("1,") && lines[3].starts_with("4,"),
        "{csv}"
    );
    assert_eq!((lines[4], lines[5]), ("", "Best Configurations"), "{csv}");
    assert!(
        csv.contains("\nPareto Optimal Points\nconcurrency\n"),
        "{csv}"
    );
    assert!(csv.ends_with("Number of Successful Runs,3\n"), "{csv}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Sweep over concurrency")
            && stdout.contains("TPS/GPU")
            && stdout.contains("Pareto")
            && stdout.contains(&format!(
                "Best throughput: concurrency={}",
                values[best_thr]
            )),
        "{stdout}"
    );
}

/// A timestamped trace replays at its timestamps (sped up 2×).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_schedule_sends_at_trace_timestamps() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(5.0, 1.0)).await;
    let dir = temp_dir("fixed");
    let trace = dir.path().join("trace.jsonl");
    let ts = [5000u64, 5100, 5250, 5400, 5410, 5800];
    let rows: Vec<String> = ts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"timestamp": {t}, "input_length": 32, "output_length": 3, "hash_ids": [{i}]}}"#
            )
        })
        .collect();
    std::fs::write(&trace, rows.join("\n") + "\n").unwrap();
    let out_dir = dir.path().join("out");
    let tr = trace.display().to_string();
    let args = profile_args(
        &server.url(),
        &out_dir,
        &[
            "--streaming",
            "--input-file",
            &tr,
            "--custom-dataset-type",
            "mooncake_trace",
            "--fixed-schedule",
            "--synthesis-speedup-ratio",
            "2",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let mut meta = metadata(&out_dir);
    assert_eq!(meta.len(), ts.len(), "one request per trace row");
    meta.sort_by_key(|m| ns(m, "scheduled_ns"));
    let s0 = ns(&meta[0], "scheduled_ns");
    let mut lags = Vec::new();
    for (m, t) in meta.iter().zip(ts) {
        // Auto-offset to the first timestamp, divided by the speed-up.
        let want = (t - ts[0]) * 1_000_000 / 2;
        assert_eq!(ns(m, "scheduled_ns") - s0, want);
        lags.push(ns(m, "request_start_ns") as i64 - ns(m, "scheduled_ns") as i64);
        assert!(
            m["x_correlation_id"]
                .as_str()
                .unwrap()
                .starts_with("fixed-schedule-")
        );
    }
    lags.sort();
    assert!(
        lags[0] >= 0 && lags[lags.len() / 2] < 5_000_000 && lags[lags.len() - 1] < 50_000_000,
        "lags after the trace times (ns): {lags:?}"
    );
    let s = read_json(out_dir.join("profile_export_aiperf.json"));
    assert_eq!(s["load_report"]["mode"], "fixed_schedule");
}

/// A request-rate sweep over a timestamped trace would replay the same schedule at
/// every "rate": the sweep stops after the first run and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_sweep_over_a_timestamped_trace_is_refused() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("sweep-trace");
    let trace = dir.path().join("trace.jsonl");
    let rows = [0u64, 20, 40]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"timestamp": {t}, "input_length": 16, "output_length": 2, "hash_ids": [{i}]}}"#
            )
        })
        .collect::<Vec<_>>();
    std::fs::write(&trace, rows.join("\n") + "\n").unwrap();
    let tr = trace.display().to_string();
    let out_dir = dir.path().join("out");
    let args = profile_args(
        &server.url(),
        &out_dir,
        &[
            "--input-file",
            &tr,
            "--custom-dataset-type",
            "mooncake_trace",
            "--request-rate",
            "5,10",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(!out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("--request-rate had no effect") && t.contains("--no-fixed-schedule"),
        "{t}"
    );
    assert!(
        !out_dir.join("request_rate_10").exists(),
        "the sweep stopped"
    );
}

/// User-centric: users start on the virtual-history schedule (U=4, Q=20 → stagger
/// 50 ms, turn gap 200 ms, T=3): user 5 at 0, 4 at 50, 3 at 100, 2 at 150 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_centric_users_start_on_the_virtual_history_schedule() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(5.0, 1.0)).await;
    let dir = temp_dir("user-centric");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--user-centric-rate",
            "20",
            "--num-users",
            "4",
            "--session-turns-mean",
            "3",
            "--benchmark-duration",
            "0.62",
            "--isl",
            "16",
            "--osl",
            "2",
            "--num-dataset-entries",
            "20",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let meta = metadata(dir.path());
    let s0 = meta.iter().map(|m| ns(m, "scheduled_ns")).min().unwrap();
    let first = |user: &str| {
        meta.iter()
            .find(|m| m["x_correlation_id"] == user && m["turn_index"] == 0)
            .unwrap_or_else(|| panic!("user {user}"))
    };
    let mut lags = Vec::new();
    for (user, at_ms) in [("5", 0u64), ("4", 50), ("3", 100), ("2", 150), ("6", 300)] {
        let m = first(user);
        assert_eq!(ns(m, "scheduled_ns") - s0, at_ms * 1_000_000, "user {user}");
        lags.push(ns(m, "request_start_ns") - ns(m, "scheduled_ns"));
    }
    lags.sort();
    assert!(
        lags[2] < 5_000_000 && lags[4] < 50_000_000,
        "lags (ns): {lags:?}"
    );
    let u5: Vec<u64> = meta
        .iter()
        .filter(|m| m["x_correlation_id"] == "5")
        .map(|m| (ns(m, "scheduled_ns") - s0) / 1_000_000)
        .collect();
    assert_eq!(u5, vec![0, 200, 400], "one turn every U/Q = 200 ms");
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(s["load_report"]["mode"], "user_centric");
    assert_eq!(s["load_report"]["requested_rate"], 20.0);
}

fn sigint(pid: u32) {
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
}

async fn wait_for_records(jsonl: &Path, n: usize) {
    let start = Instant::now();
    while std::fs::read_to_string(jsonl)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < n
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no records appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a 2000-request profile (concurrency 2) that a test interrupts; returns its
/// artifact dir, the child and its pid.
fn spawn_long_run(url: &str, name: &str) -> (tempfile::TempDir, tokio::process::Child, u32) {
    let dir = temp_dir(name);
    let args = profile_args(
        url,
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "2000",
            "--isl",
            "16",
            "--osl",
            "4",
        ],
    );
    let child = tokio::process::Command::new(BIN)
        .args(&args)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    (dir, child, pid)
}

/// First Ctrl-C: in-flight requests are cancelled and partial results written
/// (exit 130); a second Ctrl-C exits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_writes_partial_results_and_a_second_exits_at_once() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(40.0, 2.0)).await;
    let (dir, child, pid) = spawn_long_run(&server.url(), "sigint");
    wait_for_records(&dir.path().join("profile_export.jsonl"), 6).await;
    sigint(pid);
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exits after Ctrl-C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Ctrl-C"),
        "{}",
        text(&out)
    );
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(s["was_cancelled"], true);
    let n = stat(&s, "request_count", "avg");
    assert!((6.0..2000.0).contains(&n), "{n}");

    // Second Ctrl-C while the first is being handled: exits at once.
    let (dir, child, pid) = spawn_long_run(&server.url(), "sigint2");
    wait_for_records(&dir.path().join("profile_export.jsonl"), 4).await;
    sigint(pid);
    tokio::time::sleep(Duration::from_millis(5)).await;
    sigint(pid);
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "second Ctrl-C took {:?}",
        t.elapsed()
    );
}

/// The 0.13 validation rules of the load options are enforced with a message.
#[tokio::test]
async fn load_flag_rules_are_enforced() {
    let dir = temp_dir("load-flags");
    for (extra, needle) in [
        (vec!["--num-users", "4"], "--user-centric-rate"),
        (
            vec![
                "--user-centric-rate",
                "2",
                "--num-users",
                "4",
                "--request-rate",
                "3",
                "--session-turns-mean",
                "3",
            ],
            "mutually exclusive",
        ),
        (
            vec!["--prefill-concurrency", "2", "--concurrency", "4"],
            "--streaming",
        ),
        (
            vec!["--request-cancellation-delay", "1"],
            "--request-cancellation-rate",
        ),
        (vec!["--warmup-concurrency", "2"], "needs a warmup"),
        (
            vec!["--request-count", "5", "--num-sessions", "2"],
            "mutually exclusive",
        ),
        (
            vec!["--concurrency", "1,2", "--request-rate", "1,2"],
            "cannot both be swept",
        ),
    ] {
        let out = run(
            &profile_args("http://127.0.0.1:9", dir.path(), &extra),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{extra:?}: {}",
            text(&out)
        );
    }
}
