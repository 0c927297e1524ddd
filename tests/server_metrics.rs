//! End-to-end: the server metrics manager scraping the real mock server's
//! Prometheus endpoint (and hand-made endpoints that are down, slow or malformed)
//! during real `aiperf-rs profile` runs on 127.0.0.1 (`docs/server-metrics.md`).

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(180);

/// The series of `family` in the server metrics export: the one of model
/// `mock-model` (the mock also reports its preregistered `mock-reasoning`), or
/// the only one.
fn series<'a>(export: &'a Value, family: &str) -> &'a Value {
    let all = export["metrics"][family]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("no {family} in {}", export["metrics"]));
    let mine: Vec<&Value> = all
        .iter()
        .filter(|s| s["labels"]["model_name"] == "mock-model" || all.len() == 1)
        .collect();
    assert_eq!(mine.len(), 1, "{family}: {all:?}");
    mine[0]
}

/// Sum of `metrics.output_sequence_length.value` over the profiling records.
fn client_output_tokens(dir: &std::path::Path) -> f64 {
    read_jsonl(dir.join("profile_export.jsonl"))
        .iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .map(|l| {
            l["metrics"]["output_sequence_length"]["value"]
                .as_f64()
                .unwrap()
        })
        .sum()
}

/// The server's counters over the profiling window equal what the client
/// measured, the running-requests gauge peaks at the concurrency, and every file
/// and the console section are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_servers_metrics_match_the_client_exactly() {
    let _serial = SERIAL.lock().await;
    // ~0.4 s per request, so scrapes (every 0.333 s) see all 4 in flight.
    let server = mock(MockConfig::default().with_latency(100.0, 10.0)).await;
    let dir = temp_dir("srvmetrics");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "4",
            "--request-count",
            "40",
            "--isl",
            "50",
            "--osl",
            "30",
            "--use-server-token-count",
            "--tokenizer",
            "builtin",
            "--slice-duration",
            "1",
            "--server-metrics-formats",
            "json",
            "csv",
            "jsonl",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let export = read_json(dir.path().join("server_metrics_export.json"));
    let endpoint = format!("{}/metrics", server.url());
    assert_eq!(
        export["summary"]["endpoints_successful"][0],
        endpoint.as_str()
    );
    assert_eq!(export["metrics_phase"], "profiling");

    // Generated tokens: the counter's increase over the window is exactly the
    // output tokens of the 40 records.
    let client = client_output_tokens(dir.path());
    assert_eq!(client, 40.0 * 30.0);
    let gen_tokens = series(&export, "vllm:generation_tokens");
    assert_eq!(
        gen_tokens["stats"]["total"].as_f64(),
        Some(client),
        "{gen_tokens}"
    );
    assert!(gen_tokens["stats"]["rate"].as_f64().unwrap() > 0.0);
    assert_eq!(
        export["metrics"]["vllm:generation_tokens"]["unit"],
        "tokens"
    );
    // The time slices add up to the total.
    let slices = gen_tokens["timeslices"].as_array().unwrap();
    assert!(slices.len() >= 2, "{gen_tokens}");
    let sliced: f64 = slices.iter().map(|s| s["total"].as_f64().unwrap()).sum();
    assert_eq!(sliced, client);
    // Prompt tokens likewise, against the server-reported input lengths.
    let isl: f64 = read_jsonl(dir.path().join("profile_export.jsonl"))
        .iter()
        .map(|l| {
            l["metrics"]["input_sequence_length"]["value"]
                .as_f64()
                .unwrap()
        })
        .sum();
    let prompt = series(&export, "vllm:prompt_tokens");
    assert_eq!(prompt["stats"]["total"].as_f64(), Some(isl));

    // Saturation: at most, and at some scrape exactly, 4 requests running.
    let running = series(&export, "vllm:num_requests_running");
    assert_eq!(running["stats"]["max"].as_f64(), Some(4.0), "{running}");
    let kv = series(&export, "vllm:kv_cache_usage_perc");
    assert!(kv["stats"]["max"].as_f64().unwrap() > 0.0, "{kv}");
    // Histograms: one TTFT observation per request, estimates near the 100 ms TTFT.
    let ttft = series(&export, "vllm:time_to_first_token_seconds");
    assert_eq!(ttft["stats"]["count"].as_f64(), Some(40.0), "{ttft}");
    assert_eq!(ttft["buckets"]["+Inf"].as_f64(), Some(40.0));
    let p50 = ttft["stats"]["p50_estimate"].as_f64().unwrap();
    assert!((0.08..=0.25).contains(&p50), "{ttft}");
    let queue = series(&export, "vllm:request_queue_time_seconds");
    assert_eq!(queue["stats"]["count"].as_f64(), Some(40.0));

    let csv = std::fs::read_to_string(dir.path().join("server_metrics_export.csv")).unwrap();
    assert!(
        csv.starts_with("# AIPerf Server Metrics Export (CSV)\n"),
        "{csv}"
    );
    assert!(
        csv.contains(",counter,vllm:generation_tokens,tokens,1200.0000,"),
        "{csv}"
    );
    let raw = read_jsonl(dir.path().join("server_metrics_export.jsonl"));
    assert!(raw.len() >= 4, "{} scrapes", raw.len());
    assert!(raw.iter().all(|l| l["endpoint_url"] == endpoint.as_str()));
    assert_eq!(
        raw.last().unwrap()["metrics"]["vllm:generation_tokens"]["type"],
        "counter"
    );

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Server metrics (vLLM, {endpoint}):")),
        "{stdout}"
    );
    assert!(
        stdout.contains("Running requests max         4\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Generated tokens/s (server)"), "{stdout}");
    assert!(!stdout.contains("NOTE: the server counted"), "{stdout}");
    assert!(!stdout.contains("WARNING: server metrics"), "{stdout}");
    assert!(stdout.contains("Server Metrics JSON Export: "), "{stdout}");
}

/// `--no-server-metrics`: no scrape, no file, no console section.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_metrics_turns_collection_off() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::fast()).await;
    let dir = temp_dir("srvmetrics-off");
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--request-count",
            "5",
            "--tokenizer",
            "builtin",
            "--no-server-metrics",
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.path().join("server_metrics_export.json").exists());
    assert!(!dir.path().join("server_metrics_export.csv").exists());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Server metrics"), "{stdout}");
}

/// A tiny HTTP server on 127.0.0.1: `respond(n)` gives the body of its `n`-th
/// answer (from 0); `None` never answers (a hung endpoint).
fn serve(respond: impl Fn(u64) -> Option<String> + Send + 'static) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        let mut hung = Vec::new();
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            match respond(count.fetch_add(1, Ordering::Relaxed)) {
                Some(body) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                None => hung.push(s),
            }
        }
    });
    port
}

/// Endpoints that are down, hang, return malformed text or reset a counter: one
/// warning each, everything else collected, the run (in multi-process mode: the
/// manager as its own process) succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoints_are_warnings_and_the_run_goes_on() {
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(50.0, 5.0)).await;
    let dir = temp_dir("srvmetrics-bad");
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let slow = serve(|_| None);
    // Valid families around malformed lines; a counter that drops on the 4th scrape.
    let odd = serve(|n| {
        let c = if n < 3 { 100 + n * 10 } else { n };
        Some(format!(
            "# TYPE odd_gauge gauge\nodd_gauge 2\nodd_gauge{{broken 3\n\
             # TYPE odd_requests_total counter\nodd_requests_total {c}\n"
        ))
    });
    let url = |p: u16| format!("http://127.0.0.1:{p}/metrics");
    let (down_url, slow_url, odd_url) = (url(down), url(slow), url(odd));
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "30",
            "--osl",
            "20",
            "--tokenizer",
            "builtin",
            "--service-mode",
            "multi-process",
            "--server-metrics",
            &down_url,
            &slow_url,
            &odd_url,
        ],
    );
    let out = run(&args, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let warning = |needle: &str| {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("WARNING: server metrics: ") && l.contains(needle)),
            "no warning with {needle}:\n{stdout}"
        );
    };
    warning(&format!("{down_url} unreachable"));
    warning(&format!("{slow_url} no answer within 5.0 s"));
    warning(&format!(
        "{odd_url}: malformed metrics text, lines skipped: line 3"
    ));
    warning(&format!(
        "{odd_url} odd_requests: the counter went down 1 time(s)"
    ));
    // Nothing else lost: the mock and the odd endpoint were collected, the client
    // metrics too.
    let export = read_json(dir.path().join("server_metrics_export.json"));
    let ok: Vec<&str> = export["summary"]["endpoints_successful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ok, [format!("{}/metrics", server.url()).as_str(), &odd_url]);
    assert_eq!(
        export["summary"]["endpoints_configured"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        series(&export, "odd_gauge")["stats"]["max"].as_f64(),
        Some(2.0)
    );
    assert!(
        series(&export, "odd_requests")["stats"]["total"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        series(&export, "vllm:generation_tokens")["stats"]["total"].as_f64(),
        Some(client_output_tokens(dir.path()))
    );
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    assert_eq!(stat(&summary, "request_count", "avg"), 30.0);
}
