//! End-to-end: `aiperf-rs profile` (real services over real ZeroMQ sockets)
//! against the mock server over real HTTP on 127.0.0.1.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(180);

/// Streaming profile in the default in-process mode: every export is written and
/// the latencies match the mock's schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_streaming_profile_measures_the_mock_exactly() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 5.0)).await;
    let dir = temp_dir("inproc");
    let tok = qwen_tokenizer();
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "100",
            "--warmup-request-count",
            "8",
            "--isl",
            "100",
            "--osl",
            "50",
            "--tokenizer",
            &tok,
            "--random-seed",
            "7",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for row in [
        "Time to First Token",
        "Inter Token Latency",
        "Request Latency",
        "Request Throughput",
        "Benchmark Duration",
    ] {
        assert!(stdout.contains(row), "console lacks {row}:\n{stdout}");
    }
    for f in [
        "profile_export.jsonl",
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "profile_export_console.txt",
        "inputs.json",
        "logs/aiperf.log",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(stat(&s, "request_count", "avg"), 100.0);
    assert_sent_equals_completed_plus_errors(dir.path(), 100);
    assert_eq!(
        server.stats().requests,
        108,
        "the server saw exactly the requests sent (8 warmup + 100)"
    );
    // The mock sends token i at start + 20 ms + i·5 ms from an absolute schedule.
    let ttft = stat(&s, "time_to_first_token", "avg");
    let itl = stat(&s, "inter_token_latency", "avg");
    let spread = format!(
        "p50 {} min {} max {}",
        stat(&s, "time_to_first_token", "p50"),
        stat(&s, "time_to_first_token", "min"),
        stat(&s, "time_to_first_token", "max")
    );
    // The median carries the measurement's bias and must be within 1 ms of the truth.
    // The mean also carries OS-scheduling outliers of a server sharing the client's
    // 2 cores (a few requests wait 5-8 ms for a CPU), so it gets 2 ms.
    let ttft_p50 = stat(&s, "time_to_first_token", "p50");
    assert!(
        (ttft_p50 - 20.0).abs() < 1.0,
        "TTFT p50 {ttft_p50} ms ({spread}), mock truth 20 ms"
    );
    assert!(
        (ttft - 20.0).abs() < 2.0,
        "TTFT avg {ttft} ms ({spread}), mock truth 20 ms"
    );
    assert!((itl - 5.0).abs() < 0.2, "ITL avg {itl} ms, mock truth 5 ms");
    // Exact token counts: prompts re-encode to exactly 100 tokens; the mock returns exactly max_completion_tokens.
    assert_eq!(stat(&s, "input_sequence_length", "avg"), 100.0);
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 50.0);
    let latency = stat(&s, "request_latency", "avg");
    assert!(
        (latency - (20.0 + 49.0 * 5.0)).abs() < 2.0,
        "request latency {latency} ms, truth 265 ms"
    );
    // Every request carried the headers and body the flags asked for.
    let received = server.received();
    assert_eq!(received.len(), 108);
    for r in &received {
        assert_eq!(r.body_json["max_completion_tokens"], 50);
        assert_eq!(r.body_json["stream"], true);
        assert_eq!(r.body_json["stream_options"]["include_usage"], true);
        assert!(r.header("x-request-id").is_some());
    }
}

/// The same profile as separate OS processes gives the same counts and metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_process_mode_matches_in_process_mode() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(20.0, 5.0)).await;
    let mut ttfts = Vec::new();
    for mode in ["in-process", "multi-process"] {
        let dir = temp_dir(mode);
        let args = profile_args(
            &server.url(),
            dir.path(),
            &[
                "--streaming",
                "--concurrency",
                "8",
                "--request-count",
                "48",
                "--isl",
                "64",
                "--osl",
                "20",
                "--service-mode",
                mode,
                "--workers-max",
                "2",
                "--record-processors",
                "2",
            ],
        );
        let out = run(&args, LONG).await;
        assert!(out.status.success(), "{mode}: {}", text(&out));
        let s = read_json(dir.path().join("profile_export_aiperf.json"));
        assert_eq!(stat(&s, "request_count", "avg"), 48.0, "{mode}");
        assert_sent_equals_completed_plus_errors(dir.path(), 48);
        let workers: std::collections::BTreeSet<String> =
            read_jsonl(dir.path().join("profile_export.jsonl"))
                .iter()
                .map(|l| l["metadata"]["worker_id"].as_str().unwrap().to_string())
                .collect();
        assert_eq!(
            workers.len(),
            2,
            "{mode}: both workers sent requests: {workers:?}"
        );
        ttfts.push(stat(&s, "time_to_first_token", "avg"));
        assert!(
            (stat(&s, "inter_token_latency", "avg") - 5.0).abs() < 0.2,
            "{mode}"
        );
    }
    assert!(
        (ttfts[0] - ttfts[1]).abs() < 1.0,
        "TTFT in-process {} vs multi-process {}",
        ttfts[0],
        ttfts[1]
    );
}

/// A record processor started by hand (`aiperf-rs service`) takes the place of the
/// controller's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_processor_started_by_hand_processes_the_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("external-rp");
    let ipc = temp_dir("external-rp-ipc");
    let ipc_path = ipc.path().display().to_string();
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "30",
            "--isl",
            "32",
            "--osl",
            "8",
            "--zmq-ipc-path",
            &ipc_path,
            "--record-processors",
            "1",
            "--external-service",
            "record_processor:1",
        ],
    );
    let profile = tokio::spawn(async move { run(&args, LONG).await });
    let service = tokio::process::Command::new(BIN)
        .args([
            "service",
            "--type",
            "record-processor",
            "--service-id",
            "record_processor_byhand",
            "--zmq-ipc-path",
            &ipc_path,
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = profile.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), 30);
    assert!(
        lines
            .iter()
            .all(|l| l["metadata"]["record_processor_id"] == "record_processor_byhand"),
        "every record went through the hand-started processor"
    );
    let status = tokio::time::timeout(Duration::from_secs(20), service.wait_with_output())
        .await
        .expect("service exits after the run")
        .unwrap();
    assert!(
        status.status.success(),
        "hand-started service exited with {:?}",
        status.status
    );
}

fn child_pids_with(parent: u32, needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if ppid == Some(parent) && cmd.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Killing a worker process mid-run ends the run with a message naming it, a
/// non-zero exit code, and the records measured so far on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_worker_ends_the_run_with_a_clear_error_and_partial_results() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(10.0, 10.0)).await;
    let dir = temp_dir("kill-worker");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "400",
            "--isl",
            "32",
            "--osl",
            "20",
            "--service-mode",
            "multi-process",
            "--workers-max",
            "2",
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
    // Wait until some records exist, then kill one worker.
    let jsonl = dir.path().join("profile_export.jsonl");
    let start = Instant::now();
    loop {
        let n = std::fs::read_to_string(&jsonl)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n >= 8 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let workers = child_pids_with(pid, "--type worker ");
    assert!(!workers.is_empty(), "no worker process found");
    let victim = workers[0];
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let killed_at = Instant::now();
    let out = tokio::time::timeout(LONG, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("worker_") && stderr.contains(&format!("pid {victim}")),
        "error names the worker and its pid:\n{stderr}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(60),
        "the run ended promptly"
    );
    let lines = read_jsonl(&jsonl);
    assert!(
        lines.len() >= 8 && lines.len() < 400,
        "records so far are on disk: {}",
        lines.len()
    );
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(s["was_cancelled"], true);
    assert!(stat(&s, "request_count", "avg") >= 8.0);
}

/// HTTP 500s become error records; the counts still add up and the run succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_become_error_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        error_rate: 30.0,
        random_seed: 3,
        ..MockConfig::fast()
    })
    .await;
    let dir = temp_dir("errors");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "60",
            "--isl",
            "16",
            "--osl",
            "4",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_sent_equals_completed_plus_errors(dir.path(), 60);
    let s = read_json(dir.path().join("profile_export_aiperf.json"));
    let errors = stat(&s, "error_request_count", "avg");
    assert!(
        errors > 5.0 && errors < 35.0,
        "about 30% errors, got {errors}"
    );
    let summary = s["error_summary"].as_array().unwrap();
    assert_eq!(summary[0]["error_details"]["code"], 500);
    assert_eq!(summary[0]["count"].as_f64().unwrap(), errors);
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    let err_line = lines.iter().find(|l| l.get("error").is_some()).unwrap();
    assert_eq!(err_line["error"]["code"], 500);
    assert_eq!(err_line["error"]["type"], "Internal Server Error");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Internal Server Error"),
        "console shows the error summary"
    );
}

/// An unreachable URL fails in seconds with a message that says what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_url_fails_fast_with_a_clear_message() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = temp_dir("unreachable");
    let start = Instant::now();
    let out = run(
        &profile_args(&format!("http://127.0.0.1:{port}"), dir.path(), &[]),
        Duration::from_secs(30),
    )
    .await;
    assert!(!out.status.success());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to http://127.0.0.1:{port}"))
            && stderr.contains("--url"),
        "{stderr}"
    );
}

/// Unknown flags and out-of-range values are refused with a message, never ignored.
#[tokio::test]
async fn bad_flags_are_rejected() {
    let dir = temp_dir("badflags");
    for (extra, needle) in [
        (vec!["--concurrncy", "4"], "--concurrncy"),
        (vec!["--concurrency", "0"], "--concurrency"),
        (vec!["--request-rate", "0"], "--request-rate"),
        (vec!["--endpoint-type", "banana"], "banana"),
        (
            vec!["--benchmark-grace-period", "5"],
            "--benchmark-duration",
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

/// A config file sets options; flags override it; aliases of both spellings work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_sets_options_and_flags_override_it() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("config");
    let cfg = dir.path().join("run.yaml");
    std::fs::write(&cfg, format!("model: [mock-model]\nurl: {}\nstreaming: true\nconcurrency: 2\nrequest_count: 50\nisl: 24\nosl: 6\nendpoint_type: completions\n", server.url())).unwrap();
    let out_dir = dir.path().join("out");
    let args: Vec<String> = [
        "profile",
        "-f",
        cfg.to_str().unwrap(),
        "--num-requests",
        "12",
        "--artifact-dir",
        out_dir.to_str().unwrap(),
        "--ui",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let s = read_json(out_dir.join("profile_export_aiperf.json"));
    assert_eq!(
        stat(&s, "request_count", "avg"),
        12.0,
        "the flag overrides the file's 50"
    );
    assert_eq!(stat(&s, "output_sequence_length", "avg"), 6.0);
    let received = server.received();
    assert!(
        received
            .iter()
            .all(|r| r.path == "/v1/completions" && r.body_json["max_tokens"] == 6)
    );
}

/// An `error` event inside an SSE stream and a request timeout both become error
/// records with the server's or our message; a run where every request failed
/// exits non-zero and still writes its exports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_errors_and_timeouts_become_error_records() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(5.0, 1.0)).await;
    let dir = temp_dir("stream-error");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "6",
            "--osl",
            "10",
            "-H",
            "X-Mock-Stream-Error-After:3",
        ],
    );
    let out = run(&args, LONG).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "every request failed: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("every request failed"),
        "{}",
        text(&out)
    );
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), 6);
    for l in &lines {
        assert!(l["error"].is_object(), "{l}");
        assert!(
            l["metrics"].get("time_to_first_token").is_none(),
            "error records carry no latency metrics: {l}"
        );
    }
    assert!(dir.path().join("profile_export_aiperf.json").exists());

    let slow = mock(MockConfig::default().with_latency(2000.0, 1.0)).await;
    let dir = temp_dir("timeout");
    let args = profile_args(
        &slow.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "2",
            "--osl",
            "4",
            "--request-timeout-seconds",
            "0.2",
        ],
    );
    let started = Instant::now();
    let out = run(&args, LONG).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["error"]["type"] == "RequestTimeoutError"),
        "{lines:?}"
    );
}
