//! `server_metrics_export.jsonl` (`--server-metrics-formats jsonl`): one line per
//! successful scrape, `{endpoint_url, timestamp_ns, metrics: {family: {type,
//! description, samples: [{labels, value} | {labels, buckets, sum, count} |
//! {labels, quantiles, sum, count}]}}}`.

use crate::parse::SeriesValue;
use crate::stats::{Snapshot, bound_text};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Appends scrapes to the JSONL file; write errors are kept for the end of the run.
pub struct RawWriter {
    file: Mutex<(std::io::BufWriter<std::fs::File>, Option<String>)>,
}

impl RawWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<RawWriter, String> {
        let f = std::fs::File::create(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(RawWriter {
            file: Mutex::new((std::io::BufWriter::new(f), None)),
        })
    }

    /// Writes one scrape of `endpoint_url`.
    pub fn write(&self, endpoint_url: &str, s: &Snapshot) {
        let line = scrape_line(endpoint_url, s);
        let mut g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if g.1.is_none()
            && let Err(e) = writeln!(g.0, "{line}")
        {
            g.1 = Some(e.to_string());
        }
    }

    /// Flushes; returns the first write error, if any.
    pub fn finish(&self) -> Result<(), String> {
        let mut g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = g.0.flush() {
            g.1.get_or_insert(e.to_string());
        }
        match &g.1 {
            Some(e) => Err(format!("writing the raw server metrics failed: {e}")),
            None => Ok(()),
        }
    }
}

/// The JSON line of one scrape.
pub fn scrape_line(endpoint_url: &str, s: &Snapshot) -> Value {
    let mut metrics = Map::new();
    for (name, f) in s.families.iter() {
        let samples: Vec<Value> = f
            .series
            .iter()
            .map(|(labels, v)| {
                let labels: Map<String, Value> = labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                match v {
                    SeriesValue::Scalar(x) => json!({"labels": labels, "value": x}),
                    SeriesValue::Histogram {
                        buckets,
                        sum,
                        count,
                    } => {
                        let b: Map<String, Value> = buckets
                            .iter()
                            .map(|(le, c)| (bound_text(*le), Value::from(*c)))
                            .collect();
                        json!({"labels": labels, "buckets": b, "sum": sum, "count": count})
                    }
                    SeriesValue::Summary {
                        quantiles,
                        sum,
                        count,
                    } => {
                        let q: Map<String, Value> = quantiles
                            .iter()
                            .map(|(q, v)| (bound_text(*q), Value::from(*v)))
                            .collect();
                        json!({"labels": labels, "quantiles": q, "sum": sum, "count": count})
                    }
                }
            })
            .collect();
        metrics.insert(
            name.clone(),
            json!({"type": f.kind.as_str(), "description": f.help, "samples": samples}),
        );
    }
    json!({"endpoint_url": endpoint_url, "timestamp_ns": s.ts_ns, "metrics": metrics})
}
