//! `--goodput` parsed once: `TAG:VALUE` pairs (`TAG=VALUE` accepted), each value
//! in the metric's display unit (`docs/metrics.md` §6). Which tags are valid and
//! how a value converts to base units is the metric catalogue's business
//! (`aiperf_metrics::goodput`); this is the syntax.

use crate::{ConfigError, ProfileArgs};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One service-level objective as given: a metric tag and its threshold in the
/// metric's display unit (ms for latencies).
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// Metric tag, e.g. `time_to_first_token`.
    pub tag: String,
    /// Threshold in the metric's display unit (finite, non-negative).
    pub value: f64,
}

/// The `--goodput` specification: at least one SLO, each tag once. Serialized as
/// its text (`"time_to_first_token:300 request_latency:2000"`).
#[derive(Debug, Clone, PartialEq)]
pub struct GoodputSpec {
    slos: Vec<SloSpec>,
}

impl GoodputSpec {
    /// Parses whitespace-separated `TAG:VALUE` pairs; `None` for a blank string.
    /// Errors name the offending pair or tag: missing separator or tag, a value that
    /// is not a finite non-negative number, a tag given twice.
    pub fn parse(spec: &str) -> Result<Option<GoodputSpec>, String> {
        let mut slos: Vec<SloSpec> = Vec::new();
        for pair in spec.split_whitespace() {
            let Some((tag, value)) = pair.split_once(':').or_else(|| pair.split_once('=')) else {
                return Err(format!(
                    "malformed goodput SLO `{pair}`: expected TAG:VALUE, e.g. time_to_first_token:300"
                ));
            };
            let tag = tag.trim();
            if tag.is_empty() {
                return Err(format!(
                    "malformed goodput SLO `{pair}`: missing metric tag"
                ));
            }
            let value: f64 = value.trim().parse().map_err(|_| {
                format!(
                    "invalid goodput value `{value}` for `{tag}`: expected a number in the metric's display unit"
                )
            })?;
            if !value.is_finite() || value < 0.0 {
                return Err(format!(
                    "invalid goodput value `{value}` for `{tag}`: must be a finite, non-negative number"
                ));
            }
            if slos.iter().any(|s| s.tag == tag) {
                return Err(format!("goodput metric `{tag}` is given more than once"));
            }
            slos.push(SloSpec {
                tag: tag.to_string(),
                value,
            });
        }
        Ok((!slos.is_empty()).then_some(GoodputSpec { slos }))
    }

    /// The SLOs in the order given.
    pub fn slos(&self) -> &[SloSpec] {
        &self.slos
    }
}

/// `--goodput` of the arguments, parsed; errors quote the flag and its value.
pub(crate) fn resolve_goodput(a: &ProfileArgs) -> Result<Option<GoodputSpec>, ConfigError> {
    let Some(text) = a.goodput.as_ref().and_then(|g| g.spec()) else {
        return Ok(None);
    };
    GoodputSpec::parse(&text).map_err(|e| ConfigError::new(format!("--goodput {text:?}: {e}")))
}

impl fmt::Display for GoodputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.slos.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}:{}", s.tag, s.value)?;
        }
        Ok(())
    }
}

impl Serialize for GoodputSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoodputSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<GoodputSpec, D::Error> {
        let text = String::deserialize(d)?;
        GoodputSpec::parse(&text)
            .and_then(|g| g.ok_or_else(|| "an empty goodput specification".to_string()))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_order_with_either_separator() {
        let g =
            GoodputSpec::parse(" time_to_first_token:300  output_token_throughput_per_user=50.5 ")
                .unwrap()
                .unwrap();
        assert_eq!(
            g.slos(),
            [
                SloSpec {
                    tag: "time_to_first_token".into(),
                    value: 300.0
                },
                SloSpec {
                    tag: "output_token_throughput_per_user".into(),
                    value: 50.5
                }
            ]
        );
        assert_eq!(
            g.to_string(),
            "time_to_first_token:300 output_token_throughput_per_user:50.5"
        );
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(
            json,
            "\"time_to_first_token:300 output_token_throughput_per_user:50.5\""
        );
        assert_eq!(serde_json::from_str::<GoodputSpec>(&json).unwrap(), g);
        assert_eq!(GoodputSpec::parse("  ").unwrap(), None);
    }

    #[test]
    fn syntax_errors_name_the_pair() {
        let e = |s: &str| GoodputSpec::parse(s).unwrap_err();
        assert!(e("time_to_first_token").contains("TAG:VALUE"));
        assert!(e(":5").contains("missing metric tag"));
        let bad = e("time_to_first_token:abc");
        assert!(
            bad.contains("`abc`") && bad.contains("time_to_first_token"),
            "{bad}"
        );
        assert!(e("request_latency:-1").contains("non-negative"));
        assert!(e("request_latency:inf").contains("finite"));
        assert!(e("request_latency:1 request_latency:2").contains("more than once"));
    }
}
