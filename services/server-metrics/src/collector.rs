//! One collector per Prometheus endpoint: scrapes it (HTTP GET, with a timeout),
//! parses the body and keeps every successful scrape as a [`Snapshot`], with what
//! the endpoint info of the export needs (fetch latencies, updates, failures).

use crate::parse::{Exposition, Family, SeriesValue, parse};
use crate::stats::Snapshot;
use aiperf_protocol::server_metrics::{EndpointInfo, MetricKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The counter, histogram and summary values of a scrape by family, in order:
/// what the window totals depend on.
pub type Signature = Vec<(String, Vec<f64>)>;

/// A scrape that did not produce metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum ScrapeError {
    /// No answer within the timeout.
    Timeout(Duration),
    /// Connection refused, reset, DNS failure, …
    Unreachable(String),
    /// An HTTP status other than 2xx.
    Status(u16),
    /// A 2xx answer with no metric in it.
    Empty,
}

impl std::fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScrapeError::Timeout(d) => write!(f, "no answer within {:.1} s", d.as_secs_f64()),
            ScrapeError::Unreachable(e) => write!(f, "unreachable ({e})"),
            ScrapeError::Status(s) => write!(f, "answered HTTP {s}"),
            ScrapeError::Empty => write!(f, "answered without any Prometheus metric"),
        }
    }
}

/// What a collector gathered, once the run is over.
#[derive(Debug, Default)]
struct State {
    snapshots: Vec<Snapshot>,
    latencies_ms: Vec<f64>,
    /// Wall clock (ns) of the scrapes whose samples changed.
    updates_ns: Vec<u64>,
    failures: u64,
    last_error: Option<ScrapeError>,
    /// Malformed-text warnings, reported once.
    malformed: Option<String>,
}

/// The collector of one endpoint.
pub struct Collector {
    url: String,
    /// `url` without credentials, for messages and exports.
    shown: String,
    client: reqwest::Client,
    timeout: Duration,
    state: Mutex<State>,
    /// Receives each successful scrape's text rendering (`--server-metrics-formats jsonl`).
    raw: Option<Arc<crate::raw::RawWriter>>,
}

impl Collector {
    /// A collector of `url` (`shown` is the URL as it may be printed).
    pub fn new(
        url: String,
        shown: String,
        client: reqwest::Client,
        timeout: Duration,
        raw: Option<Arc<crate::raw::RawWriter>>,
    ) -> Collector {
        Collector {
            url,
            shown,
            client,
            timeout,
            state: Mutex::new(State::default()),
            raw,
        }
    }

    /// The URL without credentials.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// Scrapes once; a success is kept, a failure counted. Returns the outcome.
    pub async fn scrape(&self) -> Result<(), ScrapeError> {
        let started = Instant::now();
        let outcome = self.fetch().await;
        let ts_ns = aiperf_clock::wall_ns();
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(exposition) => {
                if !exposition.warnings.is_empty() && st.malformed.is_none() {
                    st.malformed = Some(exposition.warnings.join("; "));
                }
                if exposition.families.is_empty() {
                    st.failures += 1;
                    st.last_error = Some(ScrapeError::Empty);
                    return Err(ScrapeError::Empty);
                }
                let families = Arc::new(exposition.families);
                let changed = st
                    .snapshots
                    .last()
                    .is_none_or(|prev| prev.families != families);
                if changed {
                    st.updates_ns.push(ts_ns);
                }
                st.latencies_ms.push(latency_ms);
                let snapshot = Snapshot { ts_ns, families };
                if let Some(raw) = &self.raw {
                    raw.write(&self.shown, &snapshot);
                }
                st.snapshots.push(snapshot);
                Ok(())
            }
            Err(e) => {
                st.failures += 1;
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Exposition, ScrapeError> {
        let request = async {
            let response = self
                .client
                .get(&self.url)
                .header(
                    reqwest::header::ACCEPT,
                    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
                )
                .send()
                .await
                .map_err(|e| ScrapeError::Unreachable(error_chain(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(ScrapeError::Status(status.as_u16()));
            }
            let openmetrics = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/openmetrics-text"));
            let body = response
                .text()
                .await
                .map_err(|e| ScrapeError::Unreachable(error_chain(&e)))?;
            // Parsed off the async threads, which the workers' requests share
            // in-process.
            tokio::task::spawn_blocking(move || parse(&body, openmetrics))
                .await
                .map_err(|e| ScrapeError::Unreachable(format!("parsing crashed: {e}")))
        };
        match tokio::time::timeout(self.timeout, request).await {
            Ok(r) => r,
            Err(_) => Err(ScrapeError::Timeout(self.timeout)),
        }
    }

    /// The scrapes so far, in time order.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = st.snapshots.clone();
        s.sort_by_key(|s| s.ts_ns);
        s
    }

    /// The counters and histograms of the last scrape (what the totals depend
    /// on), to tell when the server has published its final values.
    pub fn cumulative_signature(&self) -> Option<Signature> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let last = st.snapshots.iter().max_by_key(|s| s.ts_ns)?;
        Some(signature(&last.families))
    }

    /// Problems to report: malformed text, failed scrapes.
    pub fn warnings(&self) -> Vec<String> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        if let Some(m) = &st.malformed {
            out.push(format!(
                "{}: malformed metrics text, lines skipped: {m}",
                self.shown
            ));
        }
        if st.failures > 0 {
            let total = st.failures + st.snapshots.len() as u64;
            out.push(format!(
                "{}: {} of {total} scrapes failed (last: {})",
                self.shown,
                st.failures,
                st.last_error
                    .as_ref()
                    .map_or(String::new(), |e| e.to_string())
            ));
        }
        out
    }

    /// The endpoint info of the export; `None` when no scrape succeeded.
    pub fn info(&self) -> Option<EndpointInfo> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let first = st.snapshots.iter().map(|s| s.ts_ns).min()?;
        let last = st.snapshots.iter().map(|s| s.ts_ns).max()?;
        let mut intervals: Vec<f64> = st
            .updates_ns
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]) as f64 / 1e6)
            .collect();
        intervals.sort_by(f64::total_cmp);
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        Some(EndpointInfo {
            endpoint_url: self.shown.clone(),
            total_fetches: st.snapshots.len() as u64,
            first_fetch_ns: first,
            last_fetch_ns: last,
            avg_fetch_latency_ms: mean(&st.latencies_ms),
            unique_updates: st.updates_ns.len() as u64,
            first_update_ns: st.updates_ns.first().copied().unwrap_or(0),
            last_update_ns: st.updates_ns.last().copied().unwrap_or(0),
            duration_seconds: last.saturating_sub(first) as f64 / 1e9,
            avg_update_interval_ms: mean(&intervals),
            median_update_interval_ms: aiperf_metrics::stats::percentile_linear(&intervals, 50.0)
                .unwrap_or(0.0),
        })
    }
}

/// Counter, histogram and summary values by family and label set.
fn signature(families: &BTreeMap<String, Family>) -> Signature {
    families
        .iter()
        .filter(|(_, f)| {
            matches!(
                f.kind,
                MetricKind::Counter | MetricKind::Histogram | MetricKind::Summary
            )
        })
        .map(|(name, f)| {
            let values = f
                .series
                .values()
                .flat_map(|v| match v {
                    SeriesValue::Scalar(x) => vec![*x],
                    SeriesValue::Histogram { count, sum, .. }
                    | SeriesValue::Summary { count, sum, .. } => vec![*count, *sum],
                })
                .collect();
            (name.clone(), values)
        })
        .collect()
}

/// An error with its causes, e.g. `error sending request: connection refused`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cause = c.source();
    }
    aiperf_export::redact::redact_urls_in(&s)
}
