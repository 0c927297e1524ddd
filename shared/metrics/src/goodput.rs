//! Goodput SLOs (`--goodput "tag:value tag:value"`, `docs/metrics.md` §6).

use crate::catalogue::{CATALOGUE, MetricFlags, MetricKind, MetricSpec, Shape, lookup};
use aiperf_config::GoodputSpec;
use aiperf_protocol::record::MetricValue;
use serde::{Deserialize, Serialize};

/// One service-level objective on a per-record metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Metric tag, e.g. `time_to_first_token`.
    pub tag: String,
    /// Threshold in the metric's **base** unit (ns for latencies).
    pub threshold: f64,
    /// `true`: the record is good when `value >= threshold` (throughputs, counts);
    /// `false`: when `value <= threshold` (latencies).
    pub larger_is_better: bool,
}

impl Slo {
    /// Builds an SLO on a catalogued metric from a threshold in its display unit.
    pub fn from_display(tag: &str, display_threshold: f64) -> Result<Slo, String> {
        let spec = slo_spec(tag).ok_or_else(|| unknown_tag(tag))?;
        Ok(Slo {
            tag: spec.tag.to_string(),
            threshold: spec.to_base(display_threshold),
            larger_is_better: spec.has(MetricFlags::LARGER_IS_BETTER),
        })
    }

    /// Whether a base-unit value satisfies this SLO.
    pub fn satisfied_by(&self, value: f64) -> bool {
        if self.larger_is_better {
            value >= self.threshold
        } else {
            value <= self.threshold
        }
    }
}

/// Metrics an SLO may name: per-record scalar metrics computed for valid records.
fn slo_spec(tag: &str) -> Option<&'static MetricSpec> {
    lookup(tag).filter(|s| is_slo_metric(s))
}

fn is_slo_metric(s: &MetricSpec) -> bool {
    s.kind == MetricKind::Record
        && s.shape == Shape::Distribution
        && !s.has(MetricFlags::ERROR_ONLY)
}

/// Tags accepted in a goodput specification.
pub fn valid_slo_tags() -> Vec<&'static str> {
    CATALOGUE
        .iter()
        .filter(|s| is_slo_metric(s))
        .map(|s| s.tag)
        .collect()
}

fn unknown_tag(tag: &str) -> String {
    format!(
        "unknown goodput metric `{tag}`; valid metrics: {}",
        valid_slo_tags().join(", ")
    )
}

/// The SLOs of a parsed `--goodput` ([`GoodputSpec`], the one parser of its
/// syntax): each tag must name a per-record scalar metric of the catalogue (an
/// unknown one is refused, listing the valid ones); each display-unit threshold
/// (ms for latencies, tokens/sec/user for per-user throughputs) converts to the
/// metric's base unit.
pub fn goodput_slos(spec: &GoodputSpec) -> Result<Vec<Slo>, String> {
    spec.slos()
        .iter()
        .map(|s| Slo::from_display(&s.tag, s.value))
        .collect()
}

/// [`GoodputSpec::parse`] then [`goodput_slos`]: `"time_to_first_token:300
/// request_latency:2000"` to SLOs; an empty string gives none.
pub fn parse_goodput(spec: &str) -> Result<Vec<Slo>, String> {
    match GoodputSpec::parse(spec)? {
        Some(g) => goodput_slos(&g),
        None => Ok(Vec::new()),
    }
}

/// Whether a record with these (base-unit) metrics is good: it has every SLO
/// metric as a scalar and each satisfies its threshold. A record missing any SLO
/// metric is not good. With no SLOs every record is good.
pub fn is_good(slos: &[Slo], metrics: &[(&str, MetricValue)]) -> bool {
    slos.iter().all(|slo| {
        metrics.iter().any(|(tag, v)| {
            *tag == slo.tag && matches!(v, MetricValue::Scalar(x) if slo.satisfied_by(*x))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetricValue::Scalar;

    #[test]
    fn parses_and_converts_display_units() {
        let slos = parse_goodput(
            "time_to_first_token:300  request_latency:2000 output_token_throughput_per_user=50.5",
        )
        .unwrap();
        assert_eq!(slos.len(), 3);
        // 300 ms = 300 * 1e6 ns = 3e8 ns; latency -> smaller is better
        assert_eq!(
            slos[0],
            Slo {
                tag: "time_to_first_token".into(),
                threshold: 3e8,
                larger_is_better: false
            }
        );
        // 2000 ms = 2e9 ns
        assert_eq!(slos[1].threshold, 2e9);
        // tokens/sec/user has no conversion; throughput -> larger is better
        assert_eq!(
            slos[2],
            Slo {
                tag: "output_token_throughput_per_user".into(),
                threshold: 50.5,
                larger_is_better: true
            }
        );
        assert!(parse_goodput("").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_tag() {
        let e = parse_goodput("ttft:300").unwrap_err();
        assert!(
            e.contains("`ttft`")
                && e.contains("time_to_first_token")
                && e.contains("request_latency"),
            "{e}"
        );
        let e = parse_goodput("time_to_first_token:abc").unwrap_err();
        assert!(
            e.contains("time_to_first_token") && e.contains("abc"),
            "{e}"
        );
        assert!(
            parse_goodput("time_to_first_token")
                .unwrap_err()
                .contains("TAG:VALUE")
        );
        assert!(parse_goodput("request_latency:-1").is_err());
        assert!(parse_goodput("request_latency:inf").is_err());
        assert!(
            parse_goodput("request_latency:1 request_latency:2")
                .unwrap_err()
                .contains("more than once")
        );
        // list and error-only metrics are not SLO metrics
        assert!(parse_goodput("inter_chunk_latency:5").is_err());
        assert!(parse_goodput("error_isl:5").is_err());
        assert!(parse_goodput("request_throughput:5").is_err());
    }

    #[test]
    fn direction_per_metric_and_missing_metric() {
        let slos =
            parse_goodput("request_latency:100 output_token_throughput_per_user:50").unwrap();
        // latency 100 ms = 1e8 ns: <= passes (boundary included), throughput 50 >= 50 passes
        assert!(is_good(
            &slos,
            &[
                ("request_latency", Scalar(1e8)),
                ("output_token_throughput_per_user", Scalar(50.0))
            ]
        ));
        // latency 100.000001 ms > 100 ms: fails
        assert!(!is_good(
            &slos,
            &[
                ("request_latency", Scalar(1e8 + 1.0)),
                ("output_token_throughput_per_user", Scalar(60.0))
            ]
        ));
        // throughput 49.9 < 50: fails even though latency is fine
        assert!(!is_good(
            &slos,
            &[
                ("request_latency", Scalar(5e7)),
                ("output_token_throughput_per_user", Scalar(49.9))
            ]
        ));
        // missing throughput metric (e.g. OSL = 1, no ITL): not good
        assert!(!is_good(&slos, &[("request_latency", Scalar(5e7))]));
        // ISL is LARGER_IS_BETTER in the catalogue: >= comparison
        let isl = parse_goodput("input_sequence_length:100").unwrap();
        assert!(is_good(&isl, &[("input_sequence_length", Scalar(100.0))]));
        assert!(!is_good(&isl, &[("input_sequence_length", Scalar(99.0))]));
        assert!(is_good(&[], &[]));
    }
}
