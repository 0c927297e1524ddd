//! Server metrics, GPU telemetry and plot options (`--server-metrics`,
//! `--gpu-telemetry`, `--auto-plot`, …). aiperf-rs accepts and resolves them so that
//! AIPerf command lines keep working and the values are ready for the collectors;
//! until those exist the options have no effect and [`crate::warnings`] says so.

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
}

impl Default for ServerMetricsConfig {
    fn default() -> Self {
        ServerMetricsConfig {
            enabled: true,
            urls: Vec::new(),
            formats: crate::defaults::SERVER_METRICS_FORMATS.to_vec(),
        }
    }
}

impl ServerMetricsConfig {
    /// True when nothing differs from the defaults.
    pub fn is_default(&self) -> bool {
        *self == ServerMetricsConfig::default()
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
}
