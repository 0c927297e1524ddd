//! Lock-free counters, gauges and histograms, rendered in the Prometheus text
//! format with vLLM-style names.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Bucket bounds (seconds) of `vllm:time_to_first_token_seconds` (as in vLLM).
pub(crate) const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
/// Bucket bounds (seconds) of `vllm:e2e_request_latency_seconds` (as in vLLM).
pub(crate) const E2E_BUCKETS: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];
/// Bucket bounds (seconds) of `vllm:inter_token_latency_seconds` (as in vLLM).
pub(crate) const ITL_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
];

/// Bucket bounds (seconds) of `vllm:request_queue_time_seconds` (as in vLLM).
pub(crate) const QUEUE_BUCKETS: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];

/// Tokens the mock's pretend KV cache holds: `vllm:kv_cache_usage_perc` is the
/// tokens of the requests in flight (prompt and generated so far) over this.
pub(crate) const KV_CACHE_TOKENS: u64 = 65_536;

/// A Prometheus histogram made of atomics.
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts; the last one is the `+Inf` bucket.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records `times` observations of `d`.
    pub(crate) fn observe_n(&self, d: Duration, times: u64) {
        if times == 0 {
            return;
        }
        let secs = d.as_secs_f64();
        let idx = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[idx].fetch_add(times, Relaxed);
        self.sum_ns
            .fetch_add((d.as_nanos() as u64).saturating_mul(times), Relaxed);
        self.count.fetch_add(times, Relaxed);
    }

    /// Records one observation.
    pub(crate) fn observe(&self, d: Duration) {
        self.observe_n(d, 1);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Relaxed);
            let le = match self.bounds.get(i) {
                Some(v) => format!("{v:?}"),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\",{labels}}} {cumulative}");
        }
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum:?}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count.load(Relaxed));
    }
}

/// Per-model vLLM-style metrics.
pub(crate) struct ModelMetrics {
    pub(crate) name: String,
    label: String,
    pub(crate) prompt_tokens: AtomicU64,
    pub(crate) generation_tokens: AtomicU64,
    pub(crate) success_length: AtomicU64,
    pub(crate) success_stop: AtomicU64,
    pub(crate) running: AtomicI64,
    /// Tokens held by the requests in flight (prompt and generated so far).
    pub(crate) kv_tokens: AtomicI64,
    /// Prompt tokens looked up in the prefix cache (the mock has none: every
    /// lookup misses, so `prefix_cache_hits` stays 0).
    pub(crate) prefix_queries: AtomicU64,
    pub(crate) queue: Histogram,
    pub(crate) ttft: Histogram,
    pub(crate) e2e: Histogram,
    pub(crate) itl: Histogram,
}

impl ModelMetrics {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            label: format!("model_name=\"{}\"", escape_label(name)),
            prompt_tokens: AtomicU64::new(0),
            generation_tokens: AtomicU64::new(0),
            success_length: AtomicU64::new(0),
            success_stop: AtomicU64::new(0),
            running: AtomicI64::new(0),
            kv_tokens: AtomicI64::new(0),
            prefix_queries: AtomicU64::new(0),
            queue: Histogram::new(QUEUE_BUCKETS),
            ttft: Histogram::new(TTFT_BUCKETS),
            e2e: Histogram::new(E2E_BUCKETS),
            itl: Histogram::new(ITL_BUCKETS),
        }
    }
}

/// Escapes a Prometheus label value.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Number of distinct model names tracked separately; later ones share the
/// `model_name="other"` series.
const MODEL_SLOTS: usize = 64;

/// A lock-free, append-only map from model name to its metrics.
pub(crate) struct ModelRegistry {
    slots: Box<[OnceLock<Arc<ModelMetrics>>]>,
    other: Arc<ModelMetrics>,
}

impl ModelRegistry {
    pub(crate) fn new(preregistered: &[String]) -> Self {
        let reg = Self {
            slots: (0..MODEL_SLOTS).map(|_| OnceLock::new()).collect(),
            other: Arc::new(ModelMetrics::new("other")),
        };
        for m in preregistered {
            reg.get(m);
        }
        reg
    }

    /// The metrics of `model`, creating them on first use.
    pub(crate) fn get(&self, model: &str) -> Arc<ModelMetrics> {
        for slot in self.slots.iter() {
            let m = slot.get_or_init(|| Arc::new(ModelMetrics::new(model)));
            if m.name == model {
                return m.clone();
            }
        }
        self.other.clone()
    }

    fn all(&self) -> impl Iterator<Item = &Arc<ModelMetrics>> {
        self.slots.iter().filter_map(|s| s.get()).chain(
            std::iter::once(&self.other)
                .filter(|o| o.prompt_tokens.load(Relaxed) > 0 || o.running.load(Relaxed) != 0),
        )
    }
}

/// Server-wide counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) requests_seen: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) successes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    pub(crate) prompt_tokens: AtomicU64,
    pub(crate) completion_tokens: AtomicU64,
    /// TCP connections accepted.
    pub(crate) connections: AtomicU64,
    /// `connections` when the first inference request arrived, plus one (0 = none yet).
    pub(crate) connections_at_first_request: AtomicU64,
}

/// Responses by HTTP status code (100-599).
pub(crate) struct StatusCounts {
    counts: Box<[AtomicU64]>,
}

impl StatusCounts {
    pub(crate) fn new() -> Self {
        Self {
            counts: (100..600).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn inc(&self, status: u16) {
        if let Some(c) = self.counts.get(usize::from(status).wrapping_sub(100)) {
            c.fetch_add(1, Relaxed);
        }
    }
}

/// Renders all metric families.
pub(crate) fn render(
    models: &ModelRegistry,
    counters: &Counters,
    statuses: &StatusCounts,
) -> String {
    let models: Vec<_> = models.all().collect();
    let mut out = String::with_capacity(8192 + models.len() * 6144);

    let counter = |out: &mut String, name: &str, help: &str, f: &dyn Fn(&ModelMetrics) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for m in &models {
            let _ = writeln!(out, "{name}{{{}}} {}", m.label, f(m));
        }
    };
    counter(
        &mut out,
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &|m| m.prompt_tokens.load(Relaxed),
    );
    counter(
        &mut out,
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        &|m| m.generation_tokens.load(Relaxed),
    );

    counter(
        &mut out,
        "vllm:prefix_cache_queries_total",
        "Prefix cache queries, in terms of number of queried tokens.",
        &|m| m.prefix_queries.load(Relaxed),
    );
    counter(
        &mut out,
        "vllm:prefix_cache_hits_total",
        "Prefix cache hits, in terms of number of cached tokens.",
        &|_| 0,
    );

    let _ = writeln!(
        out,
        "# HELP vllm:request_success_total Count of successfully processed requests.\n\
         # TYPE vllm:request_success_total counter"
    );
    for m in &models {
        for (reason, v) in [("length", &m.success_length), ("stop", &m.success_stop)] {
            let _ = writeln!(
                out,
                "vllm:request_success_total{{finished_reason=\"{reason}\",{}}} {}",
                m.label,
                v.load(Relaxed)
            );
        }
    }

    let _ = writeln!(
        out,
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
         # TYPE vllm:num_requests_running gauge"
    );
    for m in &models {
        let _ = writeln!(
            out,
            "vllm:num_requests_running{{{}}} {}",
            m.label,
            m.running.load(Relaxed).max(0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n\
         # TYPE vllm:num_requests_waiting gauge"
    );
    for m in &models {
        let _ = writeln!(out, "vllm:num_requests_waiting{{{}}} 0", m.label);
    }
    let _ = writeln!(
        out,
        "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n\
         # TYPE vllm:kv_cache_usage_perc gauge"
    );
    for m in &models {
        let held = m.kv_tokens.load(Relaxed).max(0) as f64;
        let usage = (held / KV_CACHE_TOKENS as f64).min(1.0);
        let _ = writeln!(out, "vllm:kv_cache_usage_perc{{{}}} {usage:?}", m.label);
    }

    let hist =
        |out: &mut String, name: &str, help: &str, h: &dyn Fn(&ModelMetrics) -> &Histogram| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for m in &models {
                h(m).render(out, name, &m.label);
            }
        };
    hist(
        &mut out,
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        &|m| &m.queue,
    );
    hist(
        &mut out,
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        &|m| &m.ttft,
    );
    hist(
        &mut out,
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        &|m| &m.e2e,
    );
    hist(
        &mut out,
        "vllm:inter_token_latency_seconds",
        "Histogram of inter-token latency in seconds.",
        &|m| &m.itl,
    );

    let _ = writeln!(
        out,
        "# HELP aiperf_mock_disconnects_total Requests whose client disconnected before the response completed.\n\
         # TYPE aiperf_mock_disconnects_total counter\n\
         aiperf_mock_disconnects_total {}",
        counters.disconnects.load(Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP aiperf_mock_requests_total Inference requests by response status.\n\
         # TYPE aiperf_mock_requests_total counter"
    );
    for (i, c) in statuses.counts.iter().enumerate() {
        let v = c.load(Relaxed);
        if v > 0 {
            let _ = writeln!(
                out,
                "aiperf_mock_requests_total{{status=\"{}\"}} {v}",
                i + 100
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP aiperf_mock_requests_in_flight Inference requests being processed.\n\
         # TYPE aiperf_mock_requests_in_flight gauge\n\
         aiperf_mock_requests_in_flight {}",
        counters.in_flight.load(Relaxed)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_with_inf_bucket() {
        let h = Histogram::new(&[0.01, 0.1]);
        h.observe(Duration::from_millis(5));
        h.observe_n(Duration::from_millis(50), 2);
        h.observe(Duration::from_secs(3));
        let mut s = String::new();
        h.render(&mut s, "x", "model_name=\"m\"");
        assert!(
            s.contains("x_bucket{le=\"0.01\",model_name=\"m\"} 1\n"),
            "{s}"
        );
        assert!(
            s.contains("x_bucket{le=\"0.1\",model_name=\"m\"} 3\n"),
            "{s}"
        );
        assert!(
            s.contains("x_bucket{le=\"+Inf\",model_name=\"m\"} 4\n"),
            "{s}"
        );
        assert!(s.contains("x_count{model_name=\"m\"} 4\n"), "{s}");
        assert!(s.contains("x_sum{model_name=\"m\"} 3.105\n"), "{s}");
    }

    #[test]
    fn registry_is_keyed_by_name_and_escapes_labels() {
        let r = ModelRegistry::new(&["a".into()]);
        assert!(Arc::ptr_eq(&r.get("a"), &r.get("a")));
        assert!(!Arc::ptr_eq(&r.get("a"), &r.get("b\"c")));
        assert_eq!(r.get("b\"c").label, "model_name=\"b\\\"c\"");
        for i in 0..100 {
            r.get(&format!("m{i}"));
        }
        assert_eq!(r.get("m99").name, "other");
    }
}
