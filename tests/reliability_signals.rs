//! How a run ends when it is stopped (`docs/reliability.md`): the real binary
//! against the real mock server, in-process and multi-process, signalled the way
//! a terminal, `timeout`, `docker stop` or a batch system does it — to the whole
//! process group — and with its services killed.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// Generous bound for a run to exit once stopped (the machine is shared).
const EXIT_BOUND: Duration = Duration::from_secs(60);

/// A profile started in its own process group, as a shell starts a job.
struct Job {
    child: tokio::process::Child,
    pid: u32,
    dir: tempfile::TempDir,
    ipc_dir: PathBuf,
}

impl Job {
    /// Starts `aiperf-rs profile` against `url` with `extra` arguments; its IPC
    /// sockets live in a directory of the artifact dir's parent so the test can
    /// check it is removed.
    fn start(url: &str, name: &str, extra: &[&str]) -> Job {
        let dir = temp_dir(name);
        let ipc_dir = dir.path().with_extension("ipc");
        let mut args = profile_args(url, dir.path(), extra);
        args.extend(["--zmq-ipc-path".to_string(), ipc_dir.display().to_string()]);
        let child = tokio::process::Command::new(BIN)
            .args(&args)
            .process_group(0)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        Job {
            child,
            pid,
            dir,
            ipc_dir,
        }
    }

    /// Sends `signal` to the job's whole process group (what a terminal does).
    fn signal_group(&self, signal: i32) {
        // SAFETY: signals the process group this test created.
        unsafe { libc::kill(-(self.pid as i32), signal) };
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for the exit (bounded), then checks that no service process of the
    /// run is left and that the IPC directory is gone.
    async fn finish(self) -> (Output, tempfile::TempDir) {
        let out = tokio::time::timeout(EXIT_BOUND, self.child.wait_with_output())
            .await
            .expect("the run exits once stopped")
            .unwrap();
        assert_no_children_left(self.pid).await;
        assert!(
            !self.ipc_dir.exists(),
            "IPC dir {} left behind",
            self.ipc_dir.display()
        );
        (out, self.dir)
    }
}

/// Pids of the live service processes started by controller `parent` (their
/// command line carries `--parent-pid <parent>`).
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let marker = format!("--parent-pid\0{parent}\0");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).to_string();
        // A zombie has an empty command line: it is gone.
        if cmdline.contains(&marker) {
            found.push((pid, cmdline.replace('\0', " ")));
        }
    }
    found
}

/// No service process of controller `parent` is alive (checked in the process
/// table, waiting up to a generous bound for them to go).
async fn assert_no_children_left(parent: u32) {
    let start = Instant::now();
    loop {
        let left = children_of(parent);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "orphans of controller {parent}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lines of the per-request file so far.
fn jsonl_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

async fn wait_for_lines(path: &Path, n: usize) {
    let start = Instant::now();
    while jsonl_lines(path) < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no records appeared in {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `requests: S sent = R recorded (E errors) + C cancelled in flight` from stderr.
fn balance(stderr: &str) -> (u64, u64, u64, u64, String) {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("requests: "))
        .unwrap_or_else(|| panic!("no request balance in:\n{stderr}"))
        .trim()
        .to_string();
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1], nums[2], nums[3], line)
}

fn profiling_lines(path: &Path) -> u64 {
    read_jsonl(path)
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .count() as u64
}

/// What every stopped run with results must show: the summary of what arrived,
/// marked cancelled, agreeing with the per-request file; the records conserved
/// (sent = recorded + cancelled in flight); every file on disk named.
fn assert_partial_results(out: &Output, dir: &Path) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s = read_json(dir.join("profile_export_aiperf.json"));
    assert_eq!(s["was_cancelled"], true, "{}", text(out));
    let lines = profiling_lines(&dir.join("profile_export.jsonl"));
    let ok = s["request_count"]["avg"].as_f64().unwrap_or(0.0) as u64;
    let errors = s
        .get("error_request_count")
        .and_then(|e| e["avg"].as_f64())
        .unwrap_or(0.0) as u64;
    assert_eq!(ok + errors, lines, "summary vs JSONL: {}", text(out));
    let (sent, recorded, errs, cancelled, line) = balance(&stderr);
    assert_eq!(recorded, lines, "{line}");
    assert_eq!(errs, errors, "{line}");
    assert_eq!(sent, recorded + cancelled, "records conserved: {line}");
    assert!(!line.contains("not recorded"), "{line}");
    // The final message names every file on disk.
    let listed = stderr
        .lines()
        .find(|l| l.contains("partial results"))
        .unwrap_or_else(|| panic!("no list of files: {}", text(out)));
    for f in [
        "profile_export.jsonl",
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "inputs.json",
        "logs/aiperf.log",
    ] {
        assert!(listed.contains(f), "{f} not listed: {listed}");
        assert!(dir.join(f).exists(), "{f} listed but missing");
    }
    s
}

/// A run long enough to be signalled mid-way: concurrency 2, 2000 requests.
fn long_run_args(mode: &str) -> Vec<&str> {
    vec![
        "--streaming",
        "--concurrency",
        "2",
        "--request-count",
        "2000",
        "--isl",
        "16",
        "--osl",
        "4",
        "--service-mode",
        mode,
    ]
}

/// SIGINT, SIGTERM and SIGHUP to the process group, in-process and multi-process:
/// each takes the one shutdown path — summary of what arrived, every file named,
/// exit code 128 + the signal's number, no service process and no IPC directory
/// left. In multi-process mode the services ignore the group's signal and follow
/// the controller (issue 17, items 1–3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_terminal_signal_writes_what_arrived_and_exits_with_its_code() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(40.0, 2.0)).await;
    for mode in ["in-process", "multi-process"] {
        for (signal, code, name) in [
            (libc::SIGINT, 130, "SIGINT"),
            (libc::SIGTERM, 143, "SIGTERM"),
            (libc::SIGHUP, 129, "SIGHUP"),
        ] {
            let job = Job::start(
                &server.url(),
                &format!("{name}-{mode}"),
                &long_run_args(mode),
            );
            wait_for_lines(&job.path("profile_export.jsonl"), 4).await;
            job.signal_group(signal);
            let (out, dir) = job.finish().await;
            let ctx = format!("{name} {mode}: {}", text(&out));
            assert_eq!(out.status.code(), Some(code), "{ctx}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!(
                    "stopped by {}",
                    match signal {
                        libc::SIGINT => "Ctrl-C (SIGINT)",
                        _ => name,
                    }
                )),
                "{ctx}"
            );
            assert!(!stderr.contains("nothing was written"), "{ctx}");
            assert!(!stderr.contains("died"), "no service died: {ctx}");
            let s = assert_partial_results(&out, dir.path());
            let n = stat(&s, "request_count", "avg");
            assert!((1.0..2000.0).contains(&n), "{n}: {ctx}");
        }
    }
}

/// A second signal exits at once in every stage, including a long dataset build
/// (which a first signal abandons too): `--num-dataset-entries 20000 --isl 3000`
/// takes far longer to build than the bound here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_during_the_dataset_build_end_the_run() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let build = [
        "--num-dataset-entries",
        "20000",
        "--isl",
        "3000",
        "--request-count",
        "10",
    ];
    for (mode, signals) in [
        ("in-process", 2),
        ("multi-process", 2),
        ("in-process", 1),
        ("multi-process", 1),
    ] {
        let mut extra = build.to_vec();
        extra.extend(["--service-mode", mode]);
        let job = Job::start(&server.url(), &format!("build-{mode}-{signals}"), &extra);
        // The log exists once the run started; give it a moment to be building.
        wait_for_file(&job.path("logs/aiperf.log")).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        for _ in 0..signals {
            job.signal_group(libc::SIGINT);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (out, dir) = job.finish().await;
        let ctx = format!("{mode}, {signals} signal(s): {}", text(&out));
        assert_eq!(out.status.code(), Some(130), "{ctx}");
        assert!(
            !dir.path().join("profile_export_aiperf.json").exists(),
            "nothing was measured: {ctx}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if signals == 2 {
            assert!(stderr.contains("Second signal"), "{ctx}");
        } else {
            // The test made the artifact dir: the run keeps it, and its log.
            assert!(
                stderr.contains("no summary was written (nothing was measured); in ")
                    && stderr.contains("logs/aiperf.log"),
                "{ctx}"
            );
        }
    }
}

async fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGKILL of the multi-process controller: every service process exits (the
/// parent-death signal, the parent watch) and the IPC directory is removed by them
/// (issue 17, item 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_controller_leaves_no_orphan() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(40.0, 2.0)).await;
    let job = Job::start(&server.url(), "sigkill", &long_run_args("multi-process"));
    wait_for_lines(&job.path("profile_export.jsonl"), 4).await;
    assert!(
        children_of(job.pid).len() >= 5,
        "services running: {:?}",
        children_of(job.pid)
    );
    // SAFETY: kills the controller this test started.
    unsafe { libc::kill(job.pid as i32, libc::SIGKILL) };
    let (out, _dir) = job.finish().await;
    assert_eq!(out.status.code(), None, "killed by a signal");
}

/// `kill -9` of the records manager: noticed at once, the summary is rebuilt from
/// `profile_export.jsonl` with every record in it, the records are conserved,
/// the message says so, and no 15 s wait (issue 17, item 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_records_manager_loses_no_summary() {
    let _serial = SERIAL.lock().await;
    // One request at a time, ~0.8 s each: the kill lands between two records.
    let server = mock(MockConfig::default().with_latency(800.0, 2.0)).await;
    let mut args = long_run_args("multi-process");
    args[2] = "1";
    let job = Job::start(&server.url(), "rm-kill", &args);
    let jsonl = job.path("profile_export.jsonl");
    wait_for_lines(&jsonl, 3).await;
    let rm = children_of(job.pid)
        .into_iter()
        .find(|(_, cmd)| cmd.contains("--type records_manager"))
        .expect("a records manager process");
    // SAFETY: kills a service process of the run this test started.
    unsafe { libc::kill(rm.0 as i32, libc::SIGKILL) };
    let t = Instant::now();
    let (out, dir) = job.finish().await;
    let ctx = text(&out);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("records_manager"),
        "names the dead service: {ctx}"
    );
    assert!(stderr.contains("died"), "{ctx}");
    assert!(
        stderr.contains("the summary was rebuilt from the"),
        "says how the summary was made: {ctx}"
    );
    assert!(!stderr.contains("nothing was written"), "{ctx}");
    assert_partial_results(&out, dir.path());
    // The old path waited 15 s for results that could not come.
    assert!(
        t.elapsed() < Duration::from_secs(14),
        "{:?}: {ctx}",
        t.elapsed()
    );
}

/// A service started by hand (`aiperf-rs service`, no parent to follow) stops
/// when its controller is killed: the control-channel watchdog finds no heartbeat
/// can be delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_started_service_stops_when_its_controller_is_killed() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(40.0, 2.0)).await;
    let mut args = long_run_args("in-process");
    args.extend(["--external-service", "record-processor"]);
    let job = Job::start(&server.url(), "watchdog", &args);
    let mut service = tokio::process::Command::new(BIN)
        .args(["service", "--type", "record-processor", "--zmq-ipc-path"])
        .arg(&job.ipc_dir)
        .kill_on_drop(true)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_lines(&job.path("profile_export.jsonl"), 4).await;
    // SAFETY: kills the controller this test started.
    unsafe { libc::kill(job.pid as i32, libc::SIGKILL) };
    let status = tokio::time::timeout(EXIT_BOUND, service.wait())
        .await
        .expect("the hand-started service stops once its controller is gone")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    service
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("the controller is gone"), "{stderr}");
}
