//! A parser of the Prometheus text exposition format (version 0.0.4) and of the
//! OpenMetrics 1.0 text format, into metric families with their series folded:
//! one value per label set for counters, gauges and untyped metrics, and one
//! histogram (cumulative buckets, sum, count) or summary (quantiles, sum, count)
//! per label set.
//!
//! It is line-oriented and forgiving: a line it cannot read is skipped with a
//! warning naming its number, and the rest of the scrape is kept. Rules (those of
//! AIPerf 0.13, `docs/server-metrics.md`):
//!
//! * counter families are named without `_total` (`vllm:prompt_tokens_total` →
//!   `vllm:prompt_tokens`), whatever the `# TYPE` line says;
//! * `_created` samples are skipped; so are non-finite values (with a warning);
//! * a series seen twice in one scrape keeps the last value;
//! * a sample without a `# TYPE` line is an untyped family of its own name;
//! * OpenMetrics `unknown` is untyped, `gaugehistogram` a histogram, `info` and
//!   `stateset` gauges; exemplars and timestamps are ignored.

use aiperf_protocol::server_metrics::MetricKind;
use std::collections::BTreeMap;

/// A label set, sorted by label name.
pub type Labels = Vec<(String, String)>;

/// The value of one series in one scrape.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// Counter, gauge or untyped value.
    Scalar(f64),
    /// A histogram: `(upper bound, cumulative count)` sorted by bound (the last
    /// one `+Inf`), the sum and the count of observations.
    Histogram {
        /// Cumulative buckets.
        buckets: Vec<(f64, f64)>,
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: f64,
    },
    /// A summary: `(quantile, value)` sorted by quantile, the sum and the count.
    Summary {
        /// Quantiles as the server computed them.
        quantiles: Vec<(f64, f64)>,
        /// Sum of observations.
        sum: f64,
        /// Number of observations.
        count: f64,
    },
}

/// One metric family of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Its type.
    pub kind: MetricKind,
    /// Its `# HELP` text (empty when none).
    pub help: String,
    /// Its series by label set.
    pub series: BTreeMap<Labels, SeriesValue>,
}

/// A parsed scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    /// Families by name (counters without `_total`).
    pub families: BTreeMap<String, Family>,
    /// What was skipped and why (line numbers are 1-based).
    pub warnings: Vec<String>,
}

/// At most this many skipped lines are described one by one; the rest are counted.
const MAX_LINE_WARNINGS: usize = 5;

/// Parses `text`, in OpenMetrics when `openmetrics` (the response's content type
/// said `application/openmetrics-text`), else in the Prometheus text format.
pub fn parse(text: &str, openmetrics: bool) -> Exposition {
    let mut p = Parser::default();
    let mut skipped = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if openmetrics && line == "# EOF" {
            break;
        }
        if let Err(e) = p.line(line) {
            skipped += 1;
            if skipped <= MAX_LINE_WARNINGS {
                p.out.warnings.push(format!("line {}: {e}", i + 1));
            }
        }
    }
    if skipped > MAX_LINE_WARNINGS {
        p.out.warnings.push(format!(
            "{} more malformed lines skipped",
            skipped - MAX_LINE_WARNINGS
        ));
    }
    p.finish()
}

/// A histogram or summary being assembled from its samples.
#[derive(Default)]
struct Parts {
    /// `le` or `quantile` → value.
    points: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
}

#[derive(Default)]
struct Parser {
    out: Exposition,
    /// Declared types by the name on the `# TYPE` line.
    declared: BTreeMap<String, MetricKind>,
    /// Help texts by the name on the `# HELP` line.
    help: BTreeMap<String, String>,
    /// Histograms and summaries by family and label set.
    parts: BTreeMap<(String, Labels), Parts>,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            return Ok(());
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            return self.comment(comment.trim_start());
        }
        self.sample(trimmed)
    }

    /// `HELP name text`, `TYPE name type`; other comments are ignored.
    fn comment(&mut self, c: &str) -> Result<(), String> {
        let (keyword, rest) = c.split_once(char::is_whitespace).unwrap_or((c, ""));
        match keyword {
            "HELP" => {
                let rest = rest.trim_start();
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                self.help.insert(name.to_string(), unescape(text, false));
            }
            "TYPE" => {
                let mut it = rest.split_whitespace();
                let (Some(name), Some(kind)) = (it.next(), it.next()) else {
                    return Err(format!("a TYPE line without name and type: `# {c}`"));
                };
                let kind = match kind {
                    "counter" => MetricKind::Counter,
                    "gauge" | "info" | "stateset" => MetricKind::Gauge,
                    "histogram" | "gaugehistogram" => MetricKind::Histogram,
                    "summary" => MetricKind::Summary,
                    _ => MetricKind::Untyped,
                };
                self.declared.insert(name.to_string(), kind);
            }
            _ => {}
        }
        Ok(())
    }

    /// `name{label="value",...} value [timestamp] [# exemplar]`.
    fn sample(&mut self, line: &str) -> Result<(), String> {
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(line.len());
        let name = &line[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("not a metric sample: `{}`", shorten(line)));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(after) = rest.strip_prefix('{') {
            let (l, after) = parse_labels(after)?;
            labels = l;
            rest = after;
        }
        let mut fields = rest.split_whitespace();
        let value = fields
            .next()
            .ok_or_else(|| format!("`{name}` has no value"))?;
        let value = parse_float(value).ok_or_else(|| format!("`{name}`: bad value `{value}`"))?;
        // A timestamp, then maybe an OpenMetrics exemplar: both ignored.
        if let Some(ts) = fields.next()
            && ts != "#"
            && parse_float(ts).is_none()
        {
            return Err(format!("`{name}`: bad timestamp `{ts}`"));
        }
        self.add(name, labels, value)
    }

    /// Files one sample under its family.
    fn add(&mut self, name: &str, mut labels: Labels, value: f64) -> Result<(), String> {
        let (family, kind, suffix) = self.family_of(name);
        if suffix == "_created" {
            return Ok(());
        }
        labels.sort();
        match kind {
            MetricKind::Histogram | MetricKind::Summary => {
                let point_label = if kind == MetricKind::Histogram {
                    "le"
                } else {
                    "quantile"
                };
                let point = take_label(&mut labels, point_label);
                let parts = self.parts.entry((family.clone(), labels)).or_default();
                match (suffix, point) {
                    ("_sum", _) => parts.sum = Some(value),
                    ("_count", _) => parts.count = Some(value),
                    ("_bucket", Some(le)) if kind == MetricKind::Histogram => {
                        let le = parse_float(&le)
                            .ok_or_else(|| format!("`{name}`: bad bucket bound le=\"{le}\""))?;
                        set_point(&mut parts.points, le, value);
                    }
                    ("", Some(q)) if kind == MetricKind::Summary => {
                        let q = parse_float(&q)
                            .ok_or_else(|| format!("`{name}`: bad quantile \"{q}\""))?;
                        if value.is_finite() {
                            set_point(&mut parts.points, q, value);
                        }
                    }
                    _ => {
                        return Err(format!(
                            "`{name}` does not belong to {} `{family}`",
                            kind.as_str()
                        ));
                    }
                }
            }
            _ => {
                if !value.is_finite() {
                    return Err(format!("`{name}`: non-finite value {value} dropped"));
                }
                let f = self.family_entry(&family, kind);
                f.series.insert(labels, SeriesValue::Scalar(value));
            }
        }
        Ok(())
    }

    /// The family a sample name belongs to: `(family name, type, suffix)`.
    fn family_of(&self, name: &str) -> (String, MetricKind, &'static str) {
        use MetricKind::{Counter, Histogram, Summary};
        if let Some(kind) = self.declared.get(name) {
            let family = if *kind == Counter {
                strip_total(name)
            } else {
                name
            };
            return (family.to_string(), *kind, "");
        }
        let suffixes: [(&str, &[MetricKind]); 5] = [
            ("_bucket", &[Histogram]),
            ("_sum", &[Histogram, Summary]),
            ("_count", &[Histogram, Summary]),
            ("_total", &[Counter]),
            ("_created", &[Counter, Histogram, Summary]),
        ];
        for (suffix, kinds) in suffixes {
            let Some(base) = name.strip_suffix(suffix) else {
                continue;
            };
            for declared in [base.to_string(), format!("{base}_total")] {
                if let Some(kind) = self.declared.get(&declared).filter(|k| kinds.contains(k)) {
                    let family = if *kind == Counter {
                        strip_total(&declared)
                    } else {
                        &declared
                    };
                    return (family.to_string(), *kind, suffix);
                }
            }
        }
        (name.to_string(), MetricKind::Untyped, "")
    }

    fn family_entry(&mut self, family: &str, kind: MetricKind) -> &mut Family {
        let help = self.help_of(family);
        self.out
            .families
            .entry(family.to_string())
            .or_insert_with(|| Family {
                kind,
                help,
                series: BTreeMap::new(),
            })
    }

    /// The help text given under the family name or its `_total` form.
    fn help_of(&self, family: &str) -> String {
        self.help
            .get(family)
            .or_else(|| self.help.get(&format!("{family}_total")))
            .cloned()
            .unwrap_or_default()
    }

    /// Folds the histograms and summaries into their families.
    fn finish(mut self) -> Exposition {
        let parts = std::mem::take(&mut self.parts);
        for ((family, labels), mut p) in parts {
            let kind = self
                .declared
                .get(&family)
                .copied()
                .unwrap_or(MetricKind::Untyped);
            p.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let value = if kind == MetricKind::Histogram {
                let inf = p
                    .points
                    .last()
                    .filter(|(le, _)| le.is_infinite())
                    .map(|(_, c)| *c);
                let Some(count) = p.count.or(inf) else {
                    self.out.warnings.push(format!(
                        "histogram `{family}` has neither a +Inf bucket nor a count: skipped"
                    ));
                    continue;
                };
                if inf.is_none() {
                    p.points.push((f64::INFINITY, count));
                }
                SeriesValue::Histogram {
                    buckets: p.points,
                    sum: p.sum.unwrap_or(0.0),
                    count,
                }
            } else {
                SeriesValue::Summary {
                    quantiles: p.points,
                    sum: p.sum.unwrap_or(0.0),
                    count: p.count.unwrap_or(0.0),
                }
            };
            self.family_entry(&family, kind)
                .series
                .insert(labels, value);
        }
        self.out
    }
}

/// `vllm:prompt_tokens_total` → `vllm:prompt_tokens`.
fn strip_total(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// Replaces the value at `x`, or adds it.
fn set_point(points: &mut Vec<(f64, f64)>, x: f64, v: f64) {
    match points.iter_mut().find(|(px, _)| *px == x) {
        Some(p) => p.1 = v,
        None => points.push((x, v)),
    }
}

/// Removes the label `name` and returns its value.
fn take_label(labels: &mut Labels, name: &str) -> Option<String> {
    let i = labels.iter().position(|(k, _)| k == name)?;
    Some(labels.remove(i).1)
}

/// Parses `label="value",...}` (after the `{`); returns the labels and what
/// follows the `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let name_end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("unterminated label set")?;
        let name = &s[..name_end];
        if name.is_empty() {
            return Err(format!("bad label name at `{}`", shorten(s)));
        }
        s = s[name_end..].trim_start();
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("label `{name}` without `=`"))?
            .trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("label `{name}`: value not quoted"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("label `{name}`: unterminated value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label `{name}`: unterminated value")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_string(), value));
        s = s[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label `{name}`"));
        }
    }
}

/// A Go-style float: `1.5`, `1e3`, `+Inf`, `-Inf`, `NaN`.
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Undoes `\\` and `\n` (and `\"` when `quotes`) escapes of a help text.
fn unescape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The first 60 characters of `s`, for messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const VLLM: &str = r#"# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{model_name="m",engine="0"} 120.0
vllm:prompt_tokens_created{model_name="m",engine="0"} 1.7e9
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 4
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{le="0.01",model_name="m"} 0
vllm:time_to_first_token_seconds_bucket{le="0.02",model_name="m"} 20
vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"} 40
vllm:time_to_first_token_seconds_sum{model_name="m"} 0.84
vllm:time_to_first_token_seconds_count{model_name="m"} 40
vllm:time_to_first_token_seconds_bucket{le="0.01",model_name="other"} 1
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="other"} 2
vllm:time_to_first_token_seconds_count{model_name="other"} 2
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 0.2
rpc_duration_seconds{quantile="0.99"} 0.9
rpc_duration_seconds_sum 17
rpc_duration_seconds_count 30
process_open_fds 12
"#;

    #[test]
    fn families_are_folded_per_label_set() {
        let e = parse(VLLM, false);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        let names: Vec<&str> = e.families.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "process_open_fds",
                "rpc_duration_seconds",
                "vllm:num_requests_running",
                "vllm:prompt_tokens",
                "vllm:time_to_first_token_seconds"
            ]
        );
        let c = &e.families["vllm:prompt_tokens"];
        assert_eq!(c.kind, MetricKind::Counter);
        assert_eq!(c.help, "Number of prefill tokens processed.");
        // `_created` skipped; labels sorted.
        assert_eq!(c.series.len(), 1);
        assert_eq!(
            c.series[&labels(&[("engine", "0"), ("model_name", "m")])],
            SeriesValue::Scalar(120.0)
        );
        let h = &e.families["vllm:time_to_first_token_seconds"];
        assert_eq!(h.kind, MetricKind::Histogram);
        assert_eq!(h.series.len(), 2);
        assert_eq!(
            h.series[&labels(&[("model_name", "m")])],
            SeriesValue::Histogram {
                buckets: vec![(0.01, 0.0), (0.02, 20.0), (f64::INFINITY, 40.0)],
                sum: 0.84,
                count: 40.0
            }
        );
        // No sum: 0; count from the +Inf bucket when given.
        assert_eq!(
            h.series[&labels(&[("model_name", "other")])],
            SeriesValue::Histogram {
                buckets: vec![(0.01, 1.0), (f64::INFINITY, 2.0)],
                sum: 0.0,
                count: 2.0
            }
        );
        assert_eq!(
            e.families["rpc_duration_seconds"].series[&vec![]],
            SeriesValue::Summary {
                quantiles: vec![(0.5, 0.2), (0.99, 0.9)],
                sum: 17.0,
                count: 30.0
            }
        );
        assert_eq!(e.families["process_open_fds"].kind, MetricKind::Untyped);
    }

    #[test]
    fn openmetrics_counters_escapes_exemplars_and_eof() {
        let text = "# TYPE requests counter\n# HELP requests Requests \\\\ done.\n\
requests_total{path=\"/a\\\"b\",note=\"x,y=z\"} 7 1700000000 # {trace_id=\"1\"} 1\n\
requests_created{path=\"/a\\\"b\"} 1700000000\n# EOF\nignored 1\n";
        let e = parse(text, true);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert_eq!(e.families.len(), 1);
        let f = &e.families["requests"];
        assert_eq!(f.help, "Requests \\ done.");
        assert_eq!(
            f.series[&labels(&[("note", "x,y=z"), ("path", "/a\"b")])],
            SeriesValue::Scalar(7.0)
        );
    }

    #[test]
    fn malformed_lines_are_skipped_with_a_warning_and_the_rest_kept() {
        let text = "# TYPE g gauge\ng 1\ng{a=\"unterminated} 2\nthis is not a metric\n\
g{b=\"1\"} NaN\ng{c=\"2\"} 3\n";
        let e = parse(text, false);
        assert_eq!(e.warnings.len(), 3, "{:?}", e.warnings);
        assert!(e.warnings[0].starts_with("line 3: "), "{:?}", e.warnings);
        assert!(e.warnings[2].contains("non-finite"), "{:?}", e.warnings);
        let g = &e.families["g"];
        assert_eq!(g.series.len(), 2);
        assert_eq!(g.series[&labels(&[("c", "2")])], SeriesValue::Scalar(3.0));
    }

    #[test]
    fn a_duplicate_series_keeps_the_last_value_and_warnings_are_capped() {
        let mut text = String::from("# TYPE g gauge\ng 1\ng 2\n");
        for _ in 0..9 {
            text.push_str("{{{\n");
        }
        let e = parse(&text, false);
        assert_eq!(e.families["g"].series[&vec![]], SeriesValue::Scalar(2.0));
        assert_eq!(e.warnings.len(), MAX_LINE_WARNINGS + 1);
        assert_eq!(e.warnings.last().unwrap(), "4 more malformed lines skipped");
    }

    #[test]
    fn floats_in_go_syntax() {
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-Inf"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("1.5e-3"), Some(0.0015));
        assert_eq!(parse_float("x"), None);
    }
}
