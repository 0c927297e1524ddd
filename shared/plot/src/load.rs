//! Loading one run directory: the summary, the per-request records (streamed, a
//! few numbers kept per request), the time slices and, when present, the
//! server-metric scrapes.

use crate::discover::RunDir;
use serde::Deserialize;
use serde_json::Value;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// Why a run cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The summary is not JSON.
    #[error("{path} is not a valid summary (JSON): {source}")]
    Summary {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// No record has the fields the plots need.
    #[error(
        "{path}: none of its {lines} records has request_start_ns and request_end_ns (written by an older AIPerf?)"
    )]
    NoUsableRecords {
        /// The records file.
        path: PathBuf,
        /// Lines read.
        lines: usize,
    },
}

/// The numbers the plots need of one request. Missing metrics are NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Wall clock at request start, ns.
    pub start_ns: u64,
    /// Wall clock at request end, ns.
    pub end_ns: u64,
    /// Time to first token, ms.
    pub ttft_ms: f64,
    /// Inter-token latency, ms.
    pub itl_ms: f64,
    /// Request latency, ms.
    pub latency_ms: f64,
    /// Output tokens (`output_sequence_length`).
    pub output_tokens: f64,
    /// Start minus the scheduled time (open-loop runs), ms.
    pub schedule_lag_ms: f64,
    /// The request failed (it has an `error`).
    pub error: bool,
    /// A warmup request.
    pub warmup: bool,
}

/// Time series of one server metric (one label set of one endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    /// Family name, with the labels that tell the series apart.
    pub name: String,
    /// `(wall clock ns, value)` per scrape.
    pub points: Vec<(u64, f64)>,
}

/// Everything loaded of one run.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Where it was found.
    pub run: RunDir,
    /// A short name: the directory's name.
    pub name: String,
    /// `profile_export_aiperf.json`.
    pub summary: Value,
    /// Every usable record, in file order.
    pub requests: Vec<Request>,
    /// Lines that were not usable records (bad JSON, no timestamps).
    pub skipped_lines: usize,
    /// The `timeslices` list of the time-slice JSON, when there is one.
    pub timeslices: Vec<Value>,
    /// Server-metric gauges over time, when per-scrape records exist.
    pub server_metrics: Vec<MetricSeries>,
    /// Notes for the log (what was found, what was left out).
    pub notes: Vec<String>,
}

/// Server-metric gauges drawn over time: KV-cache usage and running/waiting
/// requests of vLLM, SGLang and Dynamo (`../shared/reference` server-metrics §1.5).
pub const SERVER_GAUGES: &[&str] = &[
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "sglang:token_usage",
    "dynamo_component_kvstats_gpu_cache_usage_percent",
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "sglang:num_running_reqs",
    "sglang:num_queue_reqs",
    "dynamo_frontend_inflight_requests",
    "dynamo_frontend_queued_requests",
];

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    metadata: Meta<'a>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    request_start_ns: Option<u64>,
    request_end_ns: Option<u64>,
    scheduled_ns: Option<u64>,
    #[serde(borrow)]
    benchmark_phase: Option<&'a str>,
}

#[derive(Deserialize, Default)]
struct Metrics {
    time_to_first_token: Option<Num>,
    inter_token_latency: Option<Num>,
    request_latency: Option<Num>,
    output_sequence_length: Option<Num>,
}

#[derive(Deserialize)]
struct Num {
    value: f64,
}

fn num(n: &Option<Num>) -> f64 {
    n.as_ref().map_or(f64::NAN, |n| n.value)
}

/// Parses one line of `profile_export.jsonl`; `None` when it is not a usable record.
pub fn parse_record(line: &str) -> Option<Request> {
    let l: Line = serde_json::from_str(line).ok()?;
    let start_ns = l.metadata.request_start_ns?;
    let end_ns = l.metadata.request_end_ns?;
    Some(Request {
        start_ns,
        end_ns,
        ttft_ms: num(&l.metrics.time_to_first_token),
        itl_ms: num(&l.metrics.inter_token_latency),
        latency_ms: num(&l.metrics.request_latency),
        output_tokens: num(&l.metrics.output_sequence_length),
        schedule_lag_ms: l
            .metadata
            .scheduled_ns
            .map_or(f64::NAN, |s| (start_ns as f64 - s as f64) / 1e6),
        error: l.error.is_some(),
        warmup: l.metadata.benchmark_phase == Some("warmup"),
    })
}

/// Bytes read per block of the records file (blocks end at a line end).
const BLOCK: usize = 8 << 20;

/// Streams a records file: every usable record (in file order) and the number
/// of lines skipped. One thread reads blocks of whole lines, one parser per core
/// turns them into records; memory holds a few blocks, not the file.
pub fn read_records(path: &Path) -> Result<(Vec<Request>, usize), LoadError> {
    read_records_in_blocks(path, BLOCK)
}

fn read_records_in_blocks(
    path: &Path,
    block_size: usize,
) -> Result<(Vec<Request>, usize), LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let parsers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let (block_tx, block_rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(parsers * 2);
    let block_rx = std::sync::Mutex::new(block_rx);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Vec<Request>, usize)>();
    let read = std::thread::scope(|s| {
        for _ in 0..parsers {
            let done_tx = done_tx.clone();
            let block_rx = &block_rx;
            s.spawn(move || {
                loop {
                    let next = block_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((i, block))) = next else { break };
                    let (recs, skipped) = parse_block(&block);
                    if done_tx.send((i, recs, skipped)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let result = read_blocks(&mut file, block_size, |i, block| {
            block_tx.send((i, block)).is_ok()
        });
        drop(block_tx);
        result
    });
    read.map_err(read_err)?;
    let mut parts: Vec<(usize, Vec<Request>, usize)> = done_rx.into_iter().collect();
    parts.sort_by_key(|p| p.0);
    let skipped = parts.iter().map(|p| p.2).sum();
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
    for (_, recs, _) in parts {
        out.extend(recs);
    }
    Ok((out, skipped))
}

/// Reads `file` in blocks of about `size` bytes that end at a line end, handing
/// each to `emit` with its index; stops early when `emit` returns false.
fn read_blocks(
    file: &mut impl Read,
    size: usize,
    mut emit: impl FnMut(usize, Vec<u8>) -> bool,
) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut index = 0;
    loop {
        let mut block = std::mem::take(&mut carry);
        let start = block.len();
        block.resize(start + size, 0);
        let mut filled = start;
        while filled < block.len() {
            match file.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        block.truncate(filled);
        let eof = filled < start + size;
        if !eof {
            // Keep the unfinished last line for the next block.
            match block.iter().rposition(|&b| b == b'\n') {
                Some(nl) => carry = block.split_off(nl + 1),
                None => {
                    carry = block;
                    continue;
                }
            }
        }
        if !block.is_empty() && !emit(index, block) {
            return Ok(());
        }
        index += 1;
        if eof {
            return Ok(());
        }
    }
}

/// The usable records of a block of lines and the number of lines skipped.
fn parse_block(block: &[u8]) -> (Vec<Request>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in block.split(|&b| b == b'\n') {
        let Ok(l) = std::str::from_utf8(line) else {
            skipped += 1;
            continue;
        };
        let l = l.trim_end();
        if l.is_empty() {
            continue;
        }
        match parse_record(l) {
            Some(r) => out.push(r),
            None => skipped += 1,
        }
    }
    (out, skipped)
}

/// Loads a run: an error when its summary or records cannot be used at all.
pub fn load_run(run: &RunDir) -> Result<RunData, LoadError> {
    let p = &run.paths;
    let text = std::fs::read_to_string(&p.summary_json).map_err(|source| LoadError::Read {
        path: p.summary_json.clone(),
        source,
    })?;
    let summary: Value = serde_json::from_str(&text).map_err(|source| LoadError::Summary {
        path: p.summary_json.clone(),
        source,
    })?;
    let (requests, skipped_lines) = read_records(&p.records_jsonl)?;
    if requests.is_empty() && skipped_lines > 0 {
        return Err(LoadError::NoUsableRecords {
            path: p.records_jsonl.clone(),
            lines: skipped_lines,
        });
    }
    let mut notes = Vec::new();
    if skipped_lines > 0 {
        notes.push(format!(
            "{}: {skipped_lines} lines skipped (not JSON, or without request_start_ns/request_end_ns)",
            p.records_jsonl.display()
        ));
    }
    let timeslices = std::fs::read_to_string(&p.timeslices_json)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["timeslices"].as_array().cloned())
        .unwrap_or_default();
    let server_metrics = load_server_metrics(&p.server_metrics_json, &mut notes);
    let name = run
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| run.dir.display().to_string());
    Ok(RunData {
        run: run.clone(),
        name,
        summary,
        requests,
        skipped_lines,
        timeslices,
        server_metrics,
        notes,
    })
}

/// The gauges of [`SERVER_GAUGES`] over time, from the per-scrape records
/// (`server_metrics_export.jsonl` beside `server_metrics_export.json`: one line
/// `{endpoint_url, timestamp_ns, metrics: {family: {type, samples: [{labels, value}]}}}`
/// per scrape). Anything missing or unreadable leaves the list empty, with a note.
pub fn load_server_metrics(summary_json: &Path, notes: &mut Vec<String>) -> Vec<MetricSeries> {
    let jsonl = summary_json.with_extension("jsonl");
    let Ok(file) = std::fs::File::open(&jsonl) else {
        if summary_json.is_file() {
            notes.push(format!(
                "{} has no per-scrape records beside it ({}): no server-metric time series \
                 (profile with --server-metrics-formats json csv jsonl to get them)",
                summary_json.display(),
                jsonl.display()
            ));
        }
        return Vec::new();
    };
    let mut series: Vec<MetricSeries> = Vec::new();
    let mut bad = 0usize;
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let Ok(scrape) = serde_json::from_str::<Value>(&line) else {
            bad += 1;
            continue;
        };
        let Some(t) = scrape["timestamp_ns"].as_u64() else {
            bad += 1;
            continue;
        };
        let endpoint = scrape["endpoint_url"].as_str().unwrap_or("");
        for family in SERVER_GAUGES {
            let Some(samples) = scrape["metrics"][*family]["samples"].as_array() else {
                continue;
            };
            for s in samples {
                let Some(v) = s["value"].as_f64() else {
                    continue;
                };
                let name = series_name(family, endpoint, &s["labels"]);
                match series.iter_mut().find(|x| x.name == name) {
                    Some(x) => x.points.push((t, v)),
                    None => series.push(MetricSeries {
                        name,
                        points: vec![(t, v)],
                    }),
                }
            }
        }
    }
    if bad > 0 {
        notes.push(format!(
            "{}: {bad} lines skipped (not a scrape record)",
            jsonl.display()
        ));
    }
    series
}

/// `family{label=value,…} @ endpoint` without the labels every series shares
/// (`model_name`, `engine`): short enough for a legend.
fn series_name(family: &str, endpoint: &str, labels: &Value) -> String {
    let mut parts: Vec<String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "model_name" | "engine" | "model"))
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, r)| r)
        .trim_end_matches("/metrics");
    let labels = if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    };
    if host.is_empty() {
        format!("{family}{labels}")
    } else {
        format!("{family}{labels} @ {host}")
    }
}

impl RunData {
    /// A statistic of a summary metric (`stat` = `avg`, `p50`, …).
    pub fn stat(&self, tag: &str, stat: &str) -> Option<f64> {
        self.summary[tag][stat].as_f64()
    }

    /// The unit of a summary metric.
    pub fn unit(&self, tag: &str) -> Option<&str> {
        self.summary[tag]["unit"].as_str()
    }

    /// The first model name of the run's configuration.
    pub fn model(&self) -> String {
        self.summary["input_config"]["models"]["items"][0]["name"]
            .as_str()
            .unwrap_or("unknown model")
            .to_string()
    }

    /// `--num-gpus` of the run, when it was given.
    pub fn num_gpus(&self) -> Option<u64> {
        self.summary["input_config"]["aiperf_rs"]["num_gpus"]
            .as_u64()
            .filter(|&n| n > 0)
    }

    /// The swept (or, outside a sweep, the load) parameter and value of the run:
    /// `("concurrency", 10.0)`, `("request_rate", 2.5)`.
    pub fn load_point(&self) -> Option<(String, f64)> {
        let cfg = &self.summary["input_config"];
        let sweep = &cfg["aiperf_rs"]["sweep"];
        if let (Some(p), Some(v)) = (sweep["parameter"].as_str(), sweep["value"].as_f64()) {
            return Some((p.to_string(), v));
        }
        let phase = cfg["phases"]
            .as_array()?
            .iter()
            .find(|p| p["kind"] == "profiling")?;
        if let Some(r) = phase["rate"].as_f64() {
            return Some(("request_rate".into(), r));
        }
        phase["concurrency"]
            .as_f64()
            .map(|c| ("concurrency".into(), c))
    }

    /// The label of the run's point in multi-run plots: the swept value.
    pub fn point_label(&self) -> String {
        match self.load_point() {
            Some((_, v)) if v.fract() == 0.0 => format!("{}", v as i64),
            Some((_, v)) => format!("{v}"),
            None => self.name.clone(),
        }
    }

    /// Wall clock origin of the single-run time axes: the first profiling
    /// request's start (the first request's when all are warmup).
    pub fn t0_ns(&self) -> u64 {
        self.requests
            .iter()
            .filter(|r| !r.warmup)
            .map(|r| r.start_ns)
            .min()
            .or_else(|| self.requests.iter().map(|r| r.start_ns).min())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_success_error_and_warmup_records() {
        let ok = r#"{"metadata":{"request_start_ns":1000000000,"request_end_ns":1200000000,"scheduled_ns":999000000,"benchmark_phase":"profiling"},"metrics":{"time_to_first_token":{"value":50.5,"unit":"ms"},"inter_chunk_latency":{"value":[1.0,2.0],"unit":"ms"},"inter_token_latency":{"value":3.5,"unit":"ms"},"request_latency":{"value":200.0,"unit":"ms"},"output_sequence_length":{"value":30,"unit":"tokens"}}}"#;
        let r = parse_record(ok).unwrap();
        assert_eq!(r.start_ns, 1_000_000_000);
        assert_eq!(r.end_ns, 1_200_000_000);
        assert_eq!(r.ttft_ms, 50.5);
        assert_eq!(r.itl_ms, 3.5);
        assert_eq!(r.latency_ms, 200.0);
        assert_eq!(r.output_tokens, 30.0);
        assert_eq!(r.schedule_lag_ms, 1.0);
        assert!(!r.error && !r.warmup);
        let err = r#"{"metadata":{"request_start_ns":5,"request_end_ns":6,"benchmark_phase":"warmup"},"metrics":{"error_isl":{"value":100,"unit":"tokens"}},"error":{"code":500,"type":"Internal Server Error","message":"x"}}"#;
        let e = parse_record(err).unwrap();
        assert!(e.error && e.warmup);
        assert!(e.ttft_ms.is_nan() && e.schedule_lag_ms.is_nan());
        assert!(parse_record(r#"{"metadata":{"request_start_ns":5}}"#).is_none());
        assert!(parse_record("not json").is_none());
    }

    #[test]
    fn blocks_end_at_line_ends_and_keep_order() {
        // Lines longer than nothing, a last line without a newline.
        let text = "a\nbb\nccc\ndddd";
        let mut blocks = Vec::new();
        read_blocks(&mut text.as_bytes(), 4, |i, b| {
            blocks.push((i, String::from_utf8(b).unwrap()));
            true
        })
        .unwrap();
        // Blocks of 4 bytes: "a\nbb" ends mid-line, so "a\n"; then "bb\nc" -> "bb\n"; ...;
        // a line longer than a block grows the block until its end.
        let got: Vec<&str> = blocks.iter().map(|b| b.1.as_str()).collect();
        assert_eq!(got.concat(), text);
        assert!(
            got.iter().all(|b| b.ends_with('\n') || *b == "dddd"),
            "{got:?}"
        );
        assert_eq!(got, vec!["a\n", "bb\n", "ccc\n", "dddd"]);
        assert_eq!(
            blocks.iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        // A whole records file read back in order, bad lines counted.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut lines: Vec<String> = (0..5000)
            .map(|i| {
                format!(
                    r#"{{"metadata":{{"request_start_ns":{i},"request_end_ns":{}}}}}"#,
                    i + 1
                )
            })
            .collect();
        lines.insert(10, "garbage".into());
        std::fs::write(&path, lines.join("\n")).unwrap();
        // Blocks of 1 KB: many blocks over several parser threads, order kept.
        let (recs, skipped) = read_records_in_blocks(&path, 1024).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(recs.len(), 5000);
        assert!(recs.iter().enumerate().all(|(i, r)| r.start_ns == i as u64));
    }

    #[test]
    fn series_names_drop_shared_labels() {
        let l = serde_json::json!({"model_name": "m", "engine": "0", "finished_reason": "stop"});
        assert_eq!(
            series_name(
                "vllm:num_requests_running",
                "http://127.0.0.1:8000/metrics",
                &l
            ),
            "vllm:num_requests_running{finished_reason=stop} @ 127.0.0.1:8000"
        );
        assert_eq!(
            series_name("x", "", &serde_json::json!({"engine": "0"})),
            "x"
        );
    }
}
