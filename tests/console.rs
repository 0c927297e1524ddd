//! What the user sees: the binary's output when it is piped (no escape codes), the
//! children's log lines in multi-process mode, failures reported once without an
//! empty artifact directory, and a cancelled run whose summary agrees with its table.
//!
//! Every run uses `--tokenizer builtin` against the real mock server on 127.0.0.1.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// Bound of every run of this file (they take a few seconds).
const RUN: Duration = Duration::from_secs(60);

/// The warning the timing manager logs for `--user-centric-rate` with a timestamped
/// trace: a real `tracing` warning that reaches the console.
const TRACE_WARNING: &str = "--user-centric-rate is ignored";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_no_escape_codes(what: &str, text: &str) {
    assert!(
        !text.contains("\x1b["),
        "{what} has ANSI escape codes:\n{text}"
    );
}

/// A two-row timestamped `single_turn` file in `dir`.
fn timestamped_trace(dir: &Path) -> String {
    let path = dir.join("trace.jsonl");
    std::fs::write(
        &path,
        "{\"timestamp\": 0, \"text\": \"hello there\"}\n{\"timestamp\": 20, \"text\": \"and again\"}\n",
    )
    .unwrap();
    path.display().to_string()
}

/// A short run of the timestamped trace with `--user-centric-rate` (so that a
/// service logs a warning) in the given service mode; returns the output and the
/// artifact directory.
async fn warning_run(url: &str, name: &str, mode: &str) -> (Output, tempfile::TempDir) {
    let dir = temp_dir(name);
    let trace = timestamped_trace(dir.path());
    let out_dir = dir.path().join("out");
    let args = profile_args(
        url,
        &out_dir,
        &[
            "--tokenizer",
            "builtin",
            "--streaming",
            "--input-file",
            &trace,
            "--custom-dataset-type",
            "single_turn",
            "--user-centric-rate",
            "10",
            "--num-users",
            "2",
            "--service-mode",
            mode,
        ],
    );
    let out = run(&args, RUN).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (out, dir)
}

/// Piped stdout and stderr carry no ANSI escape codes, warnings included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_output_has_no_escape_codes() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let (out, _dir) = warning_run(&server.url(), "ansi", "in-process").await;
    let err = stderr(&out);
    assert_eq!(err.matches(TRACE_WARNING).count(), 1, "{}", text(&out));
    assert!(stdout(&out).contains("Request Count"), "{}", text(&out));
    assert_no_escape_codes("stdout", &stdout(&out));
    assert_no_escape_codes("stderr", &err);
}

/// `aiperf-rs mock-server` with its stderr piped: its log lines (the start-up line
/// at info level) carry no escape codes either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_mock_server_log_has_no_escape_codes() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["mock-server", "--host", "127.0.0.1", "--port", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mock server starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    while !seen.contains("mock server started") {
        let line = tokio::time::timeout(RUN, lines.next_line())
            .await
            .expect("mock server logs its start in time")
            .unwrap()
            .unwrap_or_else(|| panic!("mock server exited; it logged:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_no_escape_codes("mock server stderr", &seen);
}

/// `--service-mode multi-process`: the children's log lines land in the run's
/// `logs/aiperf.log` (tagged with the service id, no escape codes); their warnings
/// reach the console once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_process_children_log_into_the_run_log() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let (out, dir) = warning_run(&server.url(), "children", "multi-process").await;
    let log = std::fs::read_to_string(dir.path().join("out/logs/aiperf.log")).unwrap();
    assert_no_escape_codes("logs/aiperf.log", &log);
    let child_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("[dataset_manager_") || l.starts_with("[timing_manager_"))
        .collect();
    assert!(
        child_lines
            .iter()
            .any(|l| l.starts_with("[dataset_manager_") && l.contains(" INFO ")),
        "no info line of the dataset manager process in the log:\n{log}"
    );
    assert!(
        child_lines
            .iter()
            .any(|l| l.starts_with("[timing_manager_") && l.contains(TRACE_WARNING)),
        "no warning of the timing manager process in the log:\n{log}"
    );
    let err = stderr(&out);
    assert_eq!(err.matches(TRACE_WARNING).count(), 1, "{}", text(&out));
    assert_no_escape_codes("stdout", &stdout(&out));
    assert_no_escape_codes("stderr", &err);
}

/// Asserts that a failed run said `error:` exactly once, mentioning `needle`
/// exactly once, and printed nothing on stdout.
fn assert_one_error(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let err = stderr(out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("error:") || l.contains(" ERROR "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", text(out));
    assert!(errors[0].starts_with("error: "), "{}", text(out));
    assert_eq!(err.matches(needle).count(), 1, "{}", text(out));
    assert_eq!(stdout(out), "", "{}", text(out));
}

/// Secrets of the unreachable-URL runs: none may reach the console or the log.
const URL_PASSWORD: &str = "s3cret-pw";
const API_KEY: &str = "sk-console-test-key";

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(URL_PASSWORD) && !text.contains(API_KEY),
        "{what} shows a secret:\n{text}"
    );
}

/// An unreachable `--url` (with credentials): one error, no secret in it, and
/// neither the artifact directory nor the parent the run created for it is left
/// behind. A directory that existed before the run is kept, with what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_url_fails_once_and_leaves_no_directory() {
    let _serial = SERIAL.lock().await;
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://bob:{URL_PASSWORD}@127.0.0.1:{port}");
    let extra = ["--tokenizer", "builtin", "--api-key", API_KEY];
    let root = temp_dir("unreachable");
    let parent = root.path().join("runs");
    let dir = parent.join("one");
    let out = run(&profile_args(&url, &dir, &extra), RUN).await;
    assert_one_error(
        &out,
        &format!("cannot connect to http://<redacted>@127.0.0.1:{port}"),
    );
    assert_no_secret("stderr", &stderr(&out));
    assert!(!parent.exists(), "{} was left behind", parent.display());

    let kept = root.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    std::fs::write(kept.join("notes.txt"), "mine").unwrap();
    let out = run(&profile_args(&url, &kept, &extra), RUN).await;
    assert_one_error(&out, "cannot connect to");
    assert_no_secret("stderr", &stderr(&out));
    assert_eq!(
        std::fs::read_to_string(kept.join("notes.txt")).unwrap(),
        "mine"
    );
    let log = std::fs::read_to_string(kept.join("logs/aiperf.log")).unwrap();
    assert!(
        log.contains("cannot connect to"),
        "the log has the error:\n{log}"
    );
    assert_no_secret("logs/aiperf.log", &log);
}

/// A dataset that cannot be loaded (a missing `--input-file`, a bad line) fails
/// before anything is sent: one error, no artifact directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_file_fails_once_and_leaves_no_directory() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let root = temp_dir("bad-input");
    let bad = root.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"fine\"}\n{not json\n").unwrap();
    let missing = root.path().join("missing.jsonl");
    for (file, needle) in [(&missing, "missing.jsonl"), (&bad, "line 2")] {
        let dir = root.path().join("out");
        let file = file.display().to_string();
        let args = profile_args(
            &server.url(),
            &dir,
            &[
                "--tokenizer",
                "builtin",
                "--input-file",
                &file,
                "--custom-dataset-type",
                "single_turn",
            ],
        );
        let out = run(&args, RUN).await;
        assert_one_error(&out, needle);
        assert!(!dir.exists(), "{file}: {} was left behind", dir.display());
    }
    assert_eq!(server.stats().requests, 0, "nothing was sent");
}

/// A malformed `--url` is a configuration error (exit code 2) that names the
/// problem, never a DNS or connection failure; no password is shown and no
/// directory is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_url_is_named_at_once() {
    let root = temp_dir("bad-url");
    let dir = root.path().join("out");
    for (url, needle) in [
        (
            "http://127.0.0.1:99999",
            "error: --url http://127.0.0.1:99999: port 99999 is out of range (1-65535)",
        ),
        (
            "http://[::1:8000",
            "error: --url http://[::1:8000: malformed IPv6 address: `[` without a closing `]`",
        ),
        (
            "ftp://127.0.0.1:21",
            "error: --url ftp://127.0.0.1:21: unsupported scheme `ftp://`",
        ),
        (
            "http:/127.0.0.1:8000",
            "the scheme must be followed by `//`",
        ),
        ("://127.0.0.1:8000", "missing scheme before `://`"),
        (
            "http://bob:s3cret-pw@:8000",
            "error: --url http://<redacted>@:8000: no host",
        ),
    ] {
        let out = run(
            &profile_args(url, &dir, &["--tokenizer", "builtin", "--api-key", API_KEY]),
            RUN,
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.contains(needle), "{url}: {}", text(&out));
        assert_eq!(err.matches("error:").count(), 1, "{url}: {}", text(&out));
        assert!(!err.contains("dns") && !err.contains("resolve"), "{err}");
        assert_no_secret(url, &err);
        assert!(!dir.exists(), "{url}: {} was created", dir.display());
    }
}

/// The number of the table row `label` in its `avg` column.
fn table_avg(console: &str, label: &str) -> f64 {
    let row = console
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} row in:\n{console}"));
    let avg = row
        .split(['│', '┃'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .nth(1)
        .unwrap_or_else(|| panic!("no avg cell in {row:?}"));
    avg.replace(',', "").parse().unwrap()
}

/// The number just before `what` in `line` (`… 32 requests measured …`).
fn number_before(line: &str, what: &str) -> u64 {
    let head = &line[..line
        .find(what)
        .unwrap_or_else(|| panic!("{what:?} not in {line:?}"))];
    head.split(|c: char| !c.is_ascii_digit())
        .rfind(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before {what:?} in {line:?}"))
}

/// Ctrl-C after the first records: the summary line counts the requests measured
/// as the table's Request Count and the JSON's `request_count` do, and accounts
/// for every request sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_run_summary_agrees_with_the_table() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(30.0, 5.0)).await;
    let dir = temp_dir("cancel-summary");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--tokenizer",
            "builtin",
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "5000",
            "--isl",
            "16",
            "--osl",
            "20",
        ],
    );
    let child = tokio::process::Command::new(BIN)
        .args(&args)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap() as i32;
    // The records manager streams records as they come: wait for the first ones.
    let jsonl = dir.path().join("profile_export.jsonl");
    tokio::time::timeout(RUN, async {
        while std::fs::read_to_string(&jsonl).map_or(0, |s| s.lines().count()) < 4 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the first records were written");
    // SAFETY: sends SIGINT to our own child process.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = tokio::time::timeout(RUN, child.wait_with_output())
        .await
        .expect("the run ends after Ctrl-C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let console = stdout(&out);
    let line = console
        .lines()
        .find(|l| l.starts_with("Load: "))
        .unwrap_or_else(|| panic!("no summary line:\n{}", text(&out)));
    let measured = number_before(line, " requests measured");
    let sent = number_before(line, " sent");
    let cut = number_before(line, " cancelled in flight");
    assert_eq!(
        table_avg(&console, "Request Count") as u64,
        measured,
        "{line}"
    );
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(summary["was_cancelled"], true);
    assert_eq!(stat(&summary, "request_count", "avg") as u64, measured);
    // The mock makes no errors: every request sent was measured or cut off.
    assert!(!line.contains("errors"), "{line}");
    assert_eq!(measured + cut, sent, "{line}");
    assert!(measured < 5000, "{line}");
    // The records are conserved: sent = ok + errors + cancelled, and every record
    // in the JSONL is a request sent.
    let r = &summary["load_report"]["requests"];
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert_eq!(n("sent"), n("ok") + n("errors") + n("cancelled"), "{r}");
    assert_eq!(summary["load_report"]["requests_sent"], n("sent"), "{r}");
    let records = read_jsonl(&jsonl)
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .count() as u64;
    assert_eq!(n("ok") + n("errors"), records, "{r}");
    assert_no_escape_codes("stdout", &console);
    assert_no_escape_codes("stderr", &stderr(&out));
}
