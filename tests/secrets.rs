//! No secret leaves the process (issue 17, item 6): runs of the real binary with an
//! API key, secret headers (by name and marked with `--redact-header`) and a URL
//! password, each a unique string; then every file the run left (recursively,
//! logs included) and its captured stdout and stderr are searched for each of
//! them. In-process and multi-process runs at debug log level, a sweep, a run
//! against an unreachable URL and a run against a server whose 401 answers echo
//! the request's headers.

mod common;

use common::*;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RUN: Duration = Duration::from_secs(180);

/// Unique secrets, one per way a secret can be given.
const API_KEY: &str = "sk-apikey-7f3a9c1e5b";
const BEARER: &str = "bearer-token-4d8e2a6c0f";
const X_API_KEY: &str = "xapikey-9b1d5f3a7e";
const MARKED: &str = "marked-value-2c6e0a4f8d";
const URL_PASSWORD: &str = "urlpass-5e9a1c3f7b";
const SECRETS: [&str; 5] = [API_KEY, BEARER, X_API_KEY, MARKED, URL_PASSWORD];

/// The secret-bearing options of every run (besides the URL's password).
fn secret_args() -> Vec<&'static str> {
    vec![
        "--api-key",
        API_KEY,
        // Two values after one -H (clap takes several): the second is redacted too.
        "-H",
        "Authorization: Bearer bearer-token-4d8e2a6c0f",
        "X-Api-Key: xapikey-9b1d5f3a7e",
        "-H",
        "X-Tenant-Pass-Through: marked-value-2c6e0a4f8d",
        "--redact-header",
        "X-Tenant-Pass-Through",
        "--log-level",
        "debug",
        "--tokenizer",
        "builtin",
    ]
}

fn url_with_password(port: u16) -> String {
    format!("http://alice:{URL_PASSWORD}@127.0.0.1:{port}")
}

/// The port of a mock server.
fn port_of(server: &aiperf_mock_server::MockServer) -> u16 {
    server
        .url()
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("the mock's URL has a port")
}

/// Every file under `dir` (recursively) with its content.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), bytes));
        }
    }
    out
}

/// Asserts that no secret appears in the run's stdout, stderr or any file under
/// `dir`; returns how many files were searched.
fn assert_no_secret_anywhere(what: &str, out: &Output, dir: &Path) -> usize {
    let mut places = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    let found = files(dir);
    let n = found.len();
    places.extend(found);
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for s in SECRETS {
            assert!(
                !text.contains(s),
                "{what}: {place} holds the secret {s}:\n{}",
                text.lines()
                    .filter(|l| l.contains(s))
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    n
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A successful run, in-process or multi-process, with the raw export (request
/// headers) and debug logs: no secret anywhere, and the redaction is visible.
async fn successful_run(mode: &str) {
    let _serial = SERIAL.lock().await;
    let server = mock(aiperf_mock_server::MockConfig::fast()).await;
    let port = port_of(&server);
    let dir = temp_dir(&format!("secrets-{mode}"));
    let mut extra = secret_args();
    extra.extend([
        "--service-mode",
        mode,
        "--request-count",
        "12",
        "--concurrency",
        "2",
        "--streaming",
        "--export-level",
        "raw",
        "--slice-duration",
        "1",
        "--synthetic-input-tokens-mean",
        "20",
        "--output-tokens-mean",
        "8",
    ]);
    let out = run(
        &profile_args(&url_with_password(port), dir.path(), &extra),
        RUN,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let searched = assert_no_secret_anywhere(mode, &out, dir.path());
    // The run wrote its exports and its log, and they were searched.
    for f in [
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "profile_export.jsonl",
        "profile_export_raw.jsonl",
        "profile_export_console.txt",
        "profile_export_aiperf_timeslices.json",
        "profile_export_aiperf_timeslices.csv",
        "inputs.json",
        "logs/aiperf.log",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    assert!(searched >= 9, "{searched} files");
    // The debug log is not empty (there was something to search).
    let log = std::fs::read_to_string(dir.path().join("logs/aiperf.log")).unwrap();
    assert!(log.lines().count() > 5, "{log}");
    // Where the secrets were, the redaction shows.
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let cli = summary["run_info"]["cli_command"].as_str().unwrap();
    assert!(cli.contains("--api-key <redacted>"), "{cli}");
    assert!(cli.contains("http://<redacted>@127.0.0.1"), "{cli}");
    let headers = &summary["input_config"]["endpoint"]["headers"];
    assert_eq!(headers["X-Tenant-Pass-Through"], "<redacted>", "{headers}");
    assert_eq!(headers["Authorization"], "<redacted>", "{headers}");
    assert!(stdout(&out).contains("CLI Command: "), "{}", stdout(&out));
    // The mock answered every request: the basic-auth URL was accepted.
    assert_eq!(stat(&summary, "request_count", "avg"), 12.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_artifact_in_process() {
    successful_run("in-process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_artifact_multi_process() {
    successful_run("multi-process").await;
}

/// A sweep writes a `run_config.json` per run: redacted too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_a_sweep() {
    let _serial = SERIAL.lock().await;
    let server = mock(aiperf_mock_server::MockConfig::fast()).await;
    let dir = temp_dir("secrets-sweep");
    let mut extra = secret_args();
    extra.extend([
        "--request-count",
        "4",
        "--concurrency",
        "1,2",
        "--synthetic-input-tokens-mean",
        "20",
        "--output-tokens-mean",
        "4",
    ]);
    let out = run(
        &profile_args(&url_with_password(port_of(&server)), dir.path(), &extra),
        RUN,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let configs: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|(p, _)| p.ends_with("run_config.json"))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(configs.len(), 2, "{configs:?}");
    let c = read_json(&configs[0]);
    assert_eq!(c["api_key"], "<redacted>", "{c}");
    assert_no_secret_anywhere("sweep", &out, dir.path());
}

/// A URL nobody listens on: the run fails at once; neither the error nor the
/// log it may leave shows a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_when_the_server_is_unreachable() {
    let _serial = SERIAL.lock().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let root = temp_dir("secrets-unreachable");
    // An existing directory is kept (with the log) after a failed run.
    let dir = root.path();
    let out = run(
        &profile_args(&url_with_password(port), dir, &secret_args()),
        RUN,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot connect to http://<redacted>@127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert_no_secret_anywhere("unreachable", &out, dir);
}

/// A server that refuses every request with 401 and echoes the request (its
/// headers, so the credentials) in the body.
async fn echoing_401_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // Read the head and the body (Content-Length) of one request.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got.len() >= head_end + 4 + len {
                            let head = text[..head_end].to_string();
                            let body = format!(
                                "{{\"error\":\"unauthorized request:\\n{}\"}}",
                                head.replace('"', "'").replace("\r\n", "\\n")
                            );
                            let resp = format!(
                                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = sock.write_all(resp.as_bytes()).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, task)
}

/// Every request fails with a 401 whose body quotes the credentials: the error
/// summary, the JSONL error records and the logs hold none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_when_the_server_echoes_them_in_errors() {
    let _serial = SERIAL.lock().await;
    let (port, server) = echoing_401_server().await;
    let dir = temp_dir("secrets-401");
    let mut extra = secret_args();
    extra.extend([
        "--request-count",
        "4",
        "--concurrency",
        "2",
        "--synthetic-input-tokens-mean",
        "20",
        "--output-tokens-mean",
        "4",
    ]);
    let out = run(
        &profile_args(&url_with_password(port), dir.path(), &extra),
        RUN,
    )
    .await;
    server.abort();
    // Every request failed: exit code 1, the error summary printed.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), 4, "{lines:?}");
    let message = lines[0]["error"]["message"].as_str().unwrap_or_default();
    // The server's answer is kept, its secrets are not.
    assert!(message.contains("unauthorized request"), "{message}");
    assert!(message.contains("<redacted>"), "{message}");
    assert_no_secret_anywhere("401", &out, dir.path());
}
