//! Helpers of the end-to-end tests: the real `aiperf-rs` binary against the real
//! mock server on 127.0.0.1.

#![allow(dead_code)]

use aiperf_mock_server::{MockConfig, MockServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// The `aiperf-rs` binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_aiperf-rs");

/// A file or directory of the real data vendored in `tests/fixtures` (see its README).
pub fn fixture(rel: &str) -> String {
    format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The real Qwen3-0.6B tokenizer (a directory holding `tokenizer.json.gz`).
pub fn qwen_tokenizer() -> String {
    fixture("tokenizers/qwen3-0.6b")
}

/// End-to-end runs share 2 cores: timing assertions need them one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the mock server on an ephemeral loopback port.
pub async fn mock(config: MockConfig) -> MockServer {
    MockServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("mock server starts")
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("aiperf-e2e-{name}-"))
        .tempdir()
        .unwrap()
}

/// Runs `aiperf-rs <args>` to completion (bounded by `timeout`).
pub async fn run(args: &[String], timeout: Duration) -> Output {
    run_with_env(args, &[], timeout).await
}

/// [`run`] with environment variables set (`Some`) or removed (`None`) for the child.
pub async fn run_with_env(
    args: &[String],
    env: &[(&str, Option<&Path>)],
    timeout: Duration,
) -> Output {
    let mut cmd = tokio::process::Command::new(BIN);
    for (key, value) in env {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    let child = cmd.args(args).kill_on_drop(true).output();
    tokio::time::timeout(timeout, child)
        .await
        .expect("aiperf-rs finished in time")
        .expect("aiperf-rs runs")
}

/// `profile` arguments against `url` writing into `dir`, plus `extra`.
pub fn profile_args(url: &str, dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "profile",
        "-m",
        "mock-model",
        "--url",
        url,
        "--artifact-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(dir.display().to_string());
    v.extend(["--ui", "none"].iter().map(|s| s.to_string()));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Reads a JSON file.
pub fn read_json(path: impl AsRef<Path>) -> Value {
    let p = path.as_ref();
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

/// Reads a JSONL file.
pub fn read_jsonl(path: impl AsRef<Path>) -> Vec<Value> {
    let p = path.as_ref();
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `summary[tag][stat]` as f64.
pub fn stat(summary: &Value, tag: &str, stat: &str) -> f64 {
    summary[tag][stat]
        .as_f64()
        .unwrap_or_else(|| panic!("{tag}.{stat} missing in {}", summary))
}

/// Path of a file in the artifact dir.
pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// stdout + stderr of a run, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The credit invariant as seen in the exports: every request sent produced one
/// record, valid or error: `sent = completed + errors`.
pub fn assert_sent_equals_completed_plus_errors(dir: &Path, sent: u64) {
    let summary = read_json(dir.join("profile_export_aiperf.json"));
    let valid = summary["request_count"]["avg"].as_f64().unwrap_or(0.0) as u64;
    let errors = summary
        .get("error_request_count")
        .and_then(|e| e["avg"].as_f64())
        .unwrap_or(0.0) as u64;
    assert_eq!(
        valid + errors,
        sent,
        "request_count {valid} + error_request_count {errors} != sent {sent}"
    );
    let lines = read_jsonl(dir.join("profile_export.jsonl"));
    let profiling = lines
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .count() as u64;
    assert_eq!(
        profiling, sent,
        "profile_export.jsonl has {profiling} profiling lines, {sent} were sent"
    );
}
