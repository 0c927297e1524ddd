//! The examples of `examples/` really run: each replaces the built-in record
//! processor of a real `aiperf-rs profile` run against the mock server
//! (`--external-service record_processor:1`, real ZeroMQ sockets).

mod common;

use aiperf_mock_server::MockConfig;
use aiperf_protocol::record::{MetricRecord, RawRecord};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// Profiling requests of [`WORKLOAD`].
const REQUESTS: usize = 24;
/// Warmup requests of [`WORKLOAD`].
const WARMUP: usize = 3;

/// The seeded workload both runs of the comparison send: streaming, closed loop,
/// a warmup phase, token counts from the server's `usage`.
const WORKLOAD: &[&str] = &[
    "--streaming",
    "--concurrency",
    "3",
    "--request-count",
    "24",
    "--warmup-request-count",
    "3",
    "--isl",
    "40",
    "--isl-stddev",
    "8",
    "--osl",
    "12",
    "--osl-stddev",
    "3",
    "--random-seed",
    "20261203",
    "--use-server-token-count",
];

/// The Python example's script.
fn python_script() -> String {
    format!(
        "{}/examples/python-record-processor/record_processor.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fresh virtualenv with `pyzmq` and `msgpack` from PyPI; returns it (kept alive
/// by the caller) and its interpreter. Fails the test, saying why, when Python or
/// PyPI is not available.
fn python_venv() -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir("py-venv");
    let venv = dir.path().join("venv");
    let status = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs (the Python example needs Python 3 with venv)");
    assert!(status.success(), "python3 -m venv failed: {status}");
    let python = venv.join("bin/python");
    let out = std::process::Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "pyzmq",
            "msgpack",
        ])
        .output()
        .expect("pip runs");
    assert!(
        out.status.success(),
        "pip install pyzmq msgpack from PyPI failed (the Python example needs them):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, python)
}

/// The profiling lines of a run's `profile_export.jsonl` by `session_num`.
fn lines_by_session(dir: &Path) -> BTreeMap<u64, Value> {
    read_jsonl(dir.join("profile_export.jsonl"))
        .into_iter()
        .filter(|l| l["metadata"]["benchmark_phase"] == "profiling")
        .map(|l| (l["metadata"]["session_num"].as_u64().unwrap(), l))
        .collect()
}

/// Frames the Python processor's `--capture` wrote: 4-byte big-endian length, bytes.
fn capture_frames(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut frames = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let n = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        frames.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    frames
}

/// The `config` of a captured `configure` command (`docs/protocol.md`: the map the
/// resolved configuration serializes to).
fn captured_config(frame: &[u8]) -> aiperf_config::ProfileConfig {
    #[derive(serde::Deserialize)]
    struct Message {
        command: Configure,
    }
    #[derive(serde::Deserialize)]
    struct Configure {
        config: aiperf_config::ProfileConfig,
    }
    rmp_serde::from_slice::<Message>(frame)
        .expect("a configure command")
        .command
        .config
}

/// A profile of `workload` whose record processor is the Python script, capturing
/// what it handles. Returns the artifact directory and, per request, the raw record
/// the script received, the metric record it sent, and the built-in
/// `RecordInterpreter`'s record for the same raw record (configured from the same
/// captured `configure` command, tags in [`PYTHON_OMITS`] removed).
async fn run_with_python(
    python: &Path,
    url: &str,
    workload: &[&str],
) -> (
    tempfile::TempDir,
    Vec<(RawRecord, MetricRecord, MetricRecord)>,
) {
    let dir = temp_dir("py-external");
    let ipc = temp_dir("py-ipc");
    let capture = ipc.path().join("capture.bin");
    let mut args = profile_args(url, dir.path(), workload);
    args.extend(
        [
            "--zmq-ipc-path",
            &ipc.path().display().to_string(),
            "--external-service",
            "record_processor:1",
        ]
        .map(String::from),
    );
    let profile = tokio::spawn(async move { run(&args, LONG).await });
    let script = tokio::process::Command::new(python)
        .arg(python_script())
        .arg("--zmq-ipc-path")
        .arg(ipc.path())
        .arg("--service-id")
        .arg("record_processor_python")
        .arg("--capture")
        .arg(&capture)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = profile.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let script = tokio::time::timeout(Duration::from_secs(20), script.wait_with_output())
        .await
        .expect("the Python processor exits after the run's shutdown")
        .unwrap();
    assert!(
        script.status.success(),
        "Python processor: {}",
        String::from_utf8_lossy(&script.stderr)
    );

    let frames = capture_frames(&capture);
    let config = captured_config(&frames[0]);
    let tokenizer = aiperf_tokenizer::load(config.tokenizer.as_deref()).unwrap();
    let interpreter = aiperf_record_processor::RecordInterpreter::new(
        &config,
        tokenizer,
        "record_processor_python",
    )
    .unwrap();
    let pairs = frames[1..]
        .chunks(2)
        .map(|pair| {
            let raw: RawRecord = aiperf_protocol::decode(&pair[0]).unwrap();
            let python: MetricRecord = aiperf_protocol::decode(&pair[1]).unwrap();
            let mut expected = interpreter.interpret(&raw);
            expected
                .metrics
                .retain(|(tag, _)| !PYTHON_OMITS.contains(&tag.as_str()));
            (raw, python, expected)
        })
        .collect();
    (dir, pairs)
}

/// Metric tags the Python processor leaves out: `first_chunk_tokens` counts the
/// first chunk's text with a tokenizer, and the script has none.
const PYTHON_OMITS: &[&str] = &["first_chunk_tokens"];

/// Token-count metrics: the server's `usage` decides them, so two runs of the same
/// seeded workload agree on them exactly, whoever interprets the records.
const TOKEN_METRICS: &[&str] = &[
    "input_sequence_length",
    "output_sequence_length",
    "output_token_count",
    "usage_prompt_tokens",
    "usage_completion_tokens",
    "usage_total_tokens",
    "osl_mismatch_diff_pct",
];

/// The Python record processor (`examples/python-record-processor`) produces the
/// built-in one's metric records. What "equal" can honestly mean, and is checked:
///
/// 1. **Same input, same output.** The script captures every raw record it receives
///    and every metric record it sends. The test decodes those raw records and runs
///    the built-in `RecordInterpreter` on them, configured from the same captured
///    `configure` command: the Python record must equal the built-in one field for
///    field, every metadata field and every metric value bit for bit, in the same
///    order — except `first_chunk_tokens`, which needs a tokenizer.
/// 2. **What was exported is what was computed.** The run's JSONL has one line per
///    captured record, with the Python processor's id.
/// 3. **Same workload, same counts.** A second run with the built-in processor sends
///    the same seeded workload. Two runs cannot share latencies (the timestamps are
///    real), but per request (by `session_num`) they share the conversation, the
///    metric set and every token count, and the summaries share the metric set and
///    every statistic of the token-count metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_record_processor_matches_the_built_in_one() {
    let (_venv, python) = python_venv();
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(2.0, 0.5)).await;

    let builtin = temp_dir("py-builtin");
    let out = run(&profile_args(&server.url(), builtin.path(), WORKLOAD), LONG).await;
    assert!(out.status.success(), "{}", text(&out));

    let (dir, pairs) = run_with_python(&python, &server.url(), WORKLOAD).await;

    // 1. the built-in interpretation of the very raw records the script received
    assert_eq!(
        pairs.len(),
        WARMUP + REQUESTS,
        "one (raw, python, built-in) triple per request"
    );
    let warmup = pairs
        .iter()
        .filter(|(raw, ..)| raw.credit.phase == aiperf_protocol::Phase::Warmup);
    assert_eq!(warmup.count(), WARMUP);
    for (raw, python, expected) in &pairs {
        assert_eq!(python, expected, "request {}", raw.credit.id);
    }

    // 2. the export is the Python processor's records
    let python_lines = lines_by_session(dir.path());
    assert_eq!(python_lines.len(), REQUESTS);
    assert!(
        python_lines
            .values()
            .all(|l| l["metadata"]["record_processor_id"] == "record_processor_python")
    );

    // 3. the same workload through the built-in processor
    let builtin_lines = lines_by_session(builtin.path());
    assert_eq!(
        builtin_lines.keys().collect::<Vec<_>>(),
        python_lines.keys().collect::<Vec<_>>()
    );
    let tags = |l: &Value| {
        let mut t: Vec<String> = l["metrics"].as_object().unwrap().keys().cloned().collect();
        t.retain(|tag| !PYTHON_OMITS.contains(&tag.as_str()));
        t.sort();
        t
    };
    for (session, b) in &builtin_lines {
        let p = &python_lines[session];
        assert_eq!(
            b["metadata"]["conversation_id"], p["metadata"]["conversation_id"],
            "session {session}"
        );
        assert_eq!(tags(b), tags(p), "metric set of session {session}");
        for tag in TOKEN_METRICS {
            assert_eq!(
                b["metrics"][tag], p["metrics"][tag],
                "{tag} of session {session}"
            );
        }
    }
    let summary_of = |dir: &Path| read_json(dir.join("profile_export_aiperf.json"));
    let (b, p) = (summary_of(builtin.path()), summary_of(dir.path()));
    let metric_tags = |s: &Value| {
        let mut t: Vec<String> = s
            .as_object()
            .unwrap()
            .iter()
            .filter(|(tag, v)| v.get("unit").is_some() && !PYTHON_OMITS.contains(&tag.as_str()))
            .map(|(tag, _)| tag.clone())
            .collect();
        t.sort();
        t
    };
    assert_eq!(metric_tags(&b), metric_tags(&p));
    for tag in TOKEN_METRICS.iter().chain(&["request_count"]) {
        assert!(b.get(*tag).is_some(), "{tag} in the summary");
        assert_eq!(b[*tag], p[*tag], "summary of {tag}");
    }
}

/// The Rust example (`examples/custom-record-processor`) serves a run in place of
/// the built-in record processor: it runs here, in the test process, on the service
/// runtime (`run_service`), against a real `aiperf-rs profile` started with
/// `--external-service record_processor:1`. Its metric, `prefill_share_pct`, is in
/// every record of the JSONL with the value its definition gives from the same
/// record's TTFT and latency, and in the summary with the statistics of those values
/// computed here by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_custom_record_processor_adds_its_metric() {
    use custom_record_processor::{CustomRecordProcessor, PREFILL_SHARE_PCT, run_service};
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig::default().with_latency(3.0, 0.5)).await;
    let dir = temp_dir("rust-example");
    let ipc = temp_dir("rust-example-ipc");
    let requests = 20;
    let args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            &requests.to_string(),
            "--osl",
            "8",
            "--zmq-ipc-path",
            &ipc.path().display().to_string(),
            "--external-service",
            "record_processor:1",
        ],
    );
    let profile = tokio::spawn(async move { run(&args, LONG).await });
    let control = aiperf_protocol::Endpoints::ipc_control(ipc.path());
    let cancel = tokio_util::sync::CancellationToken::new();
    let service = tokio::spawn(async move {
        run_service(
            CustomRecordProcessor,
            &control,
            "record_processor_custom",
            cancel,
        )
        .await
    });
    let out = profile.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    tokio::time::timeout(Duration::from_secs(20), service)
        .await
        .expect("the processor ends with the run's shutdown")
        .unwrap()
        .expect("the processor served the run");

    let lines = read_jsonl(dir.path().join("profile_export.jsonl"));
    assert_eq!(lines.len(), requests);
    let mut shares = Vec::new();
    for l in &lines {
        assert_eq!(
            l["metadata"]["record_processor_id"],
            "record_processor_custom"
        );
        let m = &l["metrics"];
        let share = &m[PREFILL_SHARE_PCT];
        assert_eq!(share["unit"], "", "an uncatalogued metric has no unit: {l}");
        let share = share["value"].as_f64().unwrap_or_else(|| panic!("{l}"));
        // display units: both in ms, so their ratio is the ns ratio up to rounding
        let ttft = m["time_to_first_token"]["value"].as_f64().unwrap();
        let latency = m["request_latency"]["value"].as_f64().unwrap();
        let by_definition = 100.0 * ttft / latency;
        assert!(
            (share - by_definition).abs() <= 1e-9 * by_definition,
            "{share} vs {by_definition}"
        );
        assert!(share > 0.0 && share <= 100.0, "{share}");
        shares.push(share);
    }

    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let s = &summary[PREFILL_SHARE_PCT];
    assert_eq!(s["count"], requests as u64, "{s}");
    shares.sort_by(f64::total_cmp);
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    let std = (shares.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    // numpy's linear percentile: rank p/100·(n−1) between the two nearest values
    let percentile = |p: f64| {
        let rank = p / 100.0 * (n - 1.0);
        let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
        shares[lo] + (shares[hi] - shares[lo]) * (rank - lo as f64)
    };
    assert_eq!(stat(&summary, PREFILL_SHARE_PCT, "min"), shares[0]);
    assert_eq!(
        stat(&summary, PREFILL_SHARE_PCT, "max"),
        shares[shares.len() - 1]
    );
    for (name, expected) in [
        ("avg", mean),
        ("std", std),
        ("p50", percentile(50.0)),
        ("p90", percentile(90.0)),
        ("p99", percentile(99.0)),
    ] {
        let got = stat(&summary, PREFILL_SHARE_PCT, name);
        assert!(
            (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{name}: {got} vs {expected}"
        );
    }
}

/// Error records through the Python record processor: the mock answers about a
/// quarter of the requests with HTTP 500. For the same raw records the Python
/// records equal the built-in ones, except that an error record without a server
/// `usage` has no `error_isl` (the built-in counts the prompt with its tokenizer;
/// the script has none): that metric, and only it, is missing there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_record_processor_error_records() {
    let (_venv, python) = python_venv();
    let _serial = SERIAL.lock().await;
    let server = mock(MockConfig {
        error_rate: 25.0,
        random_seed: 5,
        ..MockConfig::default().with_latency(2.0, 0.5)
    })
    .await;
    let (_dir, pairs) = run_with_python(&python, &server.url(), WORKLOAD).await;
    assert_eq!(pairs.len(), WARMUP + REQUESTS);
    let errors = pairs.iter().filter(|(_, p, _)| p.error.is_some()).count();
    assert!(
        errors > 0 && errors < pairs.len(),
        "the mock's error rate gives both kinds: {errors} errors"
    );
    for (raw, python, expected) in pairs {
        let mut expected = expected;
        if expected.error.is_some() && python.metrics.is_empty() {
            assert_eq!(
                expected
                    .metrics
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>(),
                ["error_isl"]
            );
            expected.metrics.clear();
        }
        assert_eq!(python, expected, "request {}", raw.credit.id);
    }
}
