//! Server metrics, GPU telemetry and plot options (`--server-metrics`,
//! `--gpu-telemetry`, `--auto-plot`, …). Server metrics are collected by the server
//! metrics manager (`docs/server-metrics.md`); GPU telemetry and plots are accepted
//! so that AIPerf command lines keep working, without effect ([`crate::warnings`]
//! says so).

use crate::{ConfigError, ProfileArgs};
use serde::{Deserialize, Serialize};

/// An export format of the server metrics (`--server-metrics-formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ServerMetricsFormat {
    /// Aggregated statistics as JSON.
    Json,
    /// Aggregated statistics as CSV.
    Csv,
    /// Raw time series, one JSON object per line.
    Jsonl,
    /// Raw time series as Parquet.
    Parquet,
}

/// Resolved server-metrics options (`ProfileConfig::server_metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerMetricsConfig {
    /// Scrape the endpoint's `<url>/metrics` (AIPerf's default; off with
    /// `--no-server-metrics`).
    pub enabled: bool,
    /// Extra Prometheus endpoints from `--server-metrics`, with scheme and `/metrics`
    /// path.
    pub urls: Vec<String>,
    /// `--server-metrics-formats`.
    pub formats: Vec<ServerMetricsFormat>,
    /// `--server-metrics-interval`: seconds between two scrapes.
    pub interval_s: f64,
    /// `--server-metrics-flush`: the longest wait for final counters after the run.
    pub flush_s: f64,
}

impl Default for ServerMetricsConfig {
    fn default() -> Self {
        ServerMetricsConfig {
            enabled: true,
            urls: Vec::new(),
            formats: crate::defaults::SERVER_METRICS_FORMATS.to_vec(),
            interval_s: crate::defaults::SERVER_METRICS_INTERVAL_S,
            flush_s: crate::defaults::SERVER_METRICS_FLUSH_S,
        }
    }
}

impl ServerMetricsConfig {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == ServerMetricsConfig::default()
    }

    /// The endpoints to scrape: `url` normalised as AIPerf does (trailing `/`
    /// removed, `/metrics` appended unless already there), then every
    /// `--server-metrics` URL, without duplicates. Empty when disabled.
    pub fn endpoints(&self, url: &str) -> Vec<String> {
        if !self.enabled {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        let base = url.trim_end_matches('/');
        let base = if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        };
        let derived = if base.ends_with("/metrics") {
            base
        } else {
            format!("{base}/metrics")
        };
        for u in std::iter::once(derived).chain(self.urls.iter().cloned()) {
            if !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }
}

/// Resolved GPU-telemetry options (`ProfileConfig::gpu_telemetry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuTelemetryConfig {
    /// Collect GPU telemetry (AIPerf's default: DCGM exporters on localhost:9400 and
    /// :9401; off with `--no-gpu-telemetry`).
    pub enabled: bool,
    /// `--gpu-telemetry` values as given: `pynvml`, `amdsmi`, `dashboard`, exporter URLs
    /// or a metrics CSV file.
    pub sources: Vec<String>,
}

impl Default for GpuTelemetryConfig {
    fn default() -> Self {
        GpuTelemetryConfig {
            enabled: true,
            sources: Vec::new(),
        }
    }
}

impl GpuTelemetryConfig {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == GpuTelemetryConfig::default()
    }
}

/// A `--server-metrics` endpoint with scheme and path: `node1:8081` →
/// `http://node1:8081/metrics`; a URL with a path is kept as is.
pub fn metrics_url(given: &str) -> Result<String, ConfigError> {
    let url = crate::check_url("--server-metrics", given)?;
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
    Ok(if after_scheme.contains('/') {
        url
    } else {
        format!("{url}/metrics")
    })
}

/// Resolves the server-metrics options of `a`.
pub(crate) fn resolve_server_metrics(a: &ProfileArgs) -> Result<ServerMetricsConfig, ConfigError> {
    let mut c = ServerMetricsConfig {
        enabled: a.no_server_metrics != Some(true),
        ..ServerMetricsConfig::default()
    };
    if c.enabled {
        c.urls = a
            .server_metrics
            .iter()
            .flatten()
            .map(|u| metrics_url(u))
            .collect::<Result<_, _>>()?;
    }
    if let Some(f) = &a.server_metrics_formats {
        c.formats = f.clone();
    }
    if let Some(s) = a.server_metrics_interval {
        if !(s.is_finite() && s >= 0.01) {
            return Err(ConfigError::new(format!(
                "--server-metrics-interval {s}: give at least 0.01 seconds"
            )));
        }
        c.interval_s = s;
    }
    if let Some(s) = a.server_metrics_flush {
        if !(s.is_finite() && s >= 0.0) {
            return Err(ConfigError::new(format!(
                "--server-metrics-flush {s}: give 0 or more seconds"
            )));
        }
        c.flush_s = s;
    }
    Ok(c)
}

/// Resolves the GPU-telemetry options of `a`.
pub(crate) fn resolve_gpu_telemetry(a: &ProfileArgs) -> GpuTelemetryConfig {
    let enabled = a.no_gpu_telemetry != Some(true);
    GpuTelemetryConfig {
        enabled,
        sources: if enabled {
            a.gpu_telemetry.clone().unwrap_or_default()
        } else {
            Vec::new()
        },
    }
}

/// `--auto-plot` / `--no-auto-plot` (the last one given wins; off by default).
pub(crate) fn resolve_auto_plot(a: &ProfileArgs) -> bool {
    a.auto_plot == Some(true) && a.no_auto_plot != Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_urls_get_scheme_and_path() {
        assert_eq!(
            metrics_url("node1:8081").unwrap(),
            "http://node1:8081/metrics"
        );
        assert_eq!(
            metrics_url("https://n:9090/custom/metrics").unwrap(),
            "https://n:9090/custom/metrics"
        );
        assert!(metrics_url("ftp://x").is_err());
    }

    #[test]
    fn endpoints_start_with_the_server_url() {
        let c = ServerMetricsConfig {
            urls: vec![
                "http://node1:8081/metrics".into(),
                "http://127.0.0.1:8000/metrics".into(),
            ],
            ..ServerMetricsConfig::default()
        };
        // Duplicates dropped.
        assert_eq!(
            c.endpoints("http://127.0.0.1:8000/"),
            ["http://127.0.0.1:8000/metrics", "http://node1:8081/metrics"]
        );
        assert_eq!(c.endpoints("h:1/v1")[0], "http://h:1/v1/metrics");
        assert_eq!(
            c.endpoints("https://u:p@h:1/metrics/"),
            [
                "https://u:p@h:1/metrics",
                "http://node1:8081/metrics",
                "http://127.0.0.1:8000/metrics"
            ]
        );
        let off = ServerMetricsConfig {
            enabled: false,
            ..c
        };
        assert!(off.endpoints("http://h:1").is_empty());
    }
}
