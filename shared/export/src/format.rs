//! Small formatting rules shared by the exporters: numbers, timestamps, CSV
//! cells and statistic names (secret redaction is in [`crate::redact`], re-exported
//! here).

use aiperf_protocol::results::MetricResult;
use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, Utc};

/// Percentiles exported for distribution metrics, in export order.
pub const PERCENTILES: [u8; 9] = [1, 5, 10, 25, 50, 75, 90, 95, 99];

/// Statistic columns of the summary CSV's distribution table and of the timeslice
/// CSV, in order (AIPerf 0.13 `STAT_KEYS`; `count` is not one of them).
pub const STAT_KEYS: [&str; 14] = [
    "avg", "min", "max", "sum", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "std",
];

pub use crate::redact::{REDACTED, is_secret_header, redact_cli_command};

/// The value of statistic `stat` (one of [`STAT_KEYS`], or `count`) of a metric,
/// `None` when unset or not finite.
pub fn stat(m: &MetricResult, stat: &str) -> Option<f64> {
    let v = match stat {
        "avg" => m.avg,
        "min" => m.min,
        "max" => m.max,
        "sum" => m.sum,
        "std" => m.std,
        "count" => m.count.map(|c| c as f64),
        p => p
            .strip_prefix('p')
            .and_then(|q| q.parse::<u8>().ok())
            .and_then(|q| m.percentile(q)),
    };
    v.filter(|x| x.is_finite())
}

/// Whether a metric has at least one percentile, i.e. belongs to the distribution
/// table of the summary CSV (AIPerf's rule); scalar metrics never do.
pub fn has_percentiles(m: &MetricResult) -> bool {
    !m.scalar && m.percentiles.iter().any(|(_, v)| v.is_finite())
}

/// `%.2f` as Python and C print it (round half to even on the exact binary value).
pub fn fixed2(v: f64) -> String {
    format!("{v:.2}")
}

/// A CSV number cell: `%.2f`, or empty when missing or not finite.
pub fn csv_number(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => fixed2(x),
        _ => String::new(),
    }
}

/// Two decimals with `,` thousands separators, like Python's `f"{v:,.2f}"`
/// (`1234.567` → `1,234.57`, `-0.001` → `-0.00`). Non-finite values give `N/A`.
pub fn thousands2(v: f64) -> String {
    if !v.is_finite() {
        return "N/A".to_string();
    }
    let s = fixed2(v);
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    out.push_str(&group_thousands(int));
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// An integer with `,` thousands separators (`1234567` → `1,234,567`).
pub fn thousands_int(v: u64) -> String {
    group_thousands(&v.to_string())
}

fn group_thousands(int: &str) -> String {
    let n = int.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One CSV field, quoted like Python's `csv.writer` (QUOTE_MINIMAL): only when it
/// contains a comma, a double quote or a line break; quotes are doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line (without the line terminator) from its fields.
pub fn csv_row<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `Metric` cell of the summary CSV: the header plus ` (<unit>)`, except that
/// units `count` and `requests` (and an empty unit) are not appended.
pub fn csv_metric_cell(m: &MetricResult) -> String {
    let unit = m.unit.as_str();
    if unit.is_empty()
        || unit.eq_ignore_ascii_case("count")
        || unit.eq_ignore_ascii_case("requests")
    {
        return m.header.clone();
    }
    if m.header.is_empty() {
        format!("({unit})")
    } else {
        format!("{} ({unit})", m.header)
    }
}

/// ISO-8601 date-time without time zone, microsecond precision, like Python's
/// `datetime.fromtimestamp(ns / 1e9).isoformat()`: `2026-11-28T20:46:17.874572`
/// (the fraction is left out when it is zero, as Python does).
///
/// `offset` = `None` uses the local time zone of the machine.
pub fn iso_datetime(wall_ns: u64, offset: Option<FixedOffset>) -> String {
    let total_us = (wall_ns as u128 + 500) / 1000;
    let secs = (total_us / 1_000_000) as i64;
    let micros = (total_us % 1_000_000) as u32;
    let utc: DateTime<Utc> = DateTime::from_timestamp(secs, micros * 1000).unwrap_or_default();
    let naive: NaiveDateTime = match offset {
        Some(off) => utc.with_timezone(&off).naive_local(),
        None => utc.with_timezone(&Local).naive_local(),
    };
    let base = naive.format("%Y-%m-%dT%H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(header: &str, unit: &str) -> MetricResult {
        MetricResult {
            header: header.into(),
            unit: unit.into(),
            ..Default::default()
        }
    }

    #[test]
    fn fixed2_rounds_like_python() {
        assert_eq!(fixed2(107.7128), "107.71");
        assert_eq!(fixed2(37.0), "37.00");
        assert_eq!(fixed2(0.125), "0.12"); // exact tie: half to even
        assert_eq!(fixed2(0.375), "0.38");
        assert_eq!(fixed2(2.675), "2.67"); // binary value is below the tie
        assert_eq!(fixed2(1.005), "1.00");
        assert_eq!(fixed2(-0.001), "-0.00");
        assert_eq!(fixed2(1e20), "100000000000000000000.00");
    }

    #[test]
    fn csv_numbers() {
        assert_eq!(csv_number(None), "");
        assert_eq!(csv_number(Some(f64::INFINITY)), "");
        assert_eq!(csv_number(Some(f64::NAN)), "");
        assert_eq!(csv_number(Some(3.0)), "3.00");
        assert_eq!(csv_number(Some(3985.3747)), "3985.37");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands2(1234.567), "1,234.57");
        assert_eq!(thousands2(999.999), "1,000.00");
        assert_eq!(thousands2(0.0), "0.00");
        assert_eq!(thousands2(12.3), "12.30");
        assert_eq!(thousands2(123456789.0), "123,456,789.00");
        assert_eq!(thousands2(-1234567.891), "-1,234,567.89");
        assert_eq!(thousands2(-0.001), "-0.00");
        assert_eq!(thousands2(100.0), "100.00");
        assert_eq!(thousands2(f64::INFINITY), "N/A");
        assert_eq!(thousands_int(0), "0");
        assert_eq!(thousands_int(999), "999");
        assert_eq!(thousands_int(1000), "1,000");
        assert_eq!(thousands_int(1234567), "1,234,567");
    }

    #[test]
    fn metric_cell_rule() {
        assert_eq!(
            csv_metric_cell(&metric("Request Latency", "ms")),
            "Request Latency (ms)"
        );
        assert_eq!(
            csv_metric_cell(&metric("Request Count", "requests")),
            "Request Count"
        );
        assert_eq!(
            csv_metric_cell(&metric("Error Request Count", "requests")),
            "Error Request Count"
        );
        assert_eq!(csv_metric_cell(&metric("Things", "count")), "Things");
        assert_eq!(
            csv_metric_cell(&metric("Request Throughput", "requests/sec")),
            "Request Throughput (requests/sec)"
        );
        assert_eq!(
            csv_metric_cell(&metric("Output Sequence Length", "tokens")),
            "Output Sequence Length (tokens)"
        );
        assert_eq!(
            csv_metric_cell(&metric("Error Rate", "%")),
            "Error Rate (%)"
        );
        assert_eq!(csv_metric_cell(&metric("Bare", "")), "Bare");
        assert_eq!(csv_metric_cell(&metric("", "ms")), "(ms)");
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_row(&["x", "1,2", "y"]), "x,\"1,2\",y");
    }

    #[test]
    fn iso_datetimes() {
        let utc = Some(FixedOffset::east_opt(0).unwrap());
        assert_eq!(
            iso_datetime(1_795_898_777_874_572_000, utc),
            "2026-11-28T20:46:17.874572"
        );
        // rounding to the microsecond
        assert_eq!(
            iso_datetime(1_795_898_777_874_572_499, utc),
            "2026-11-28T20:46:17.874572"
        );
        assert_eq!(
            iso_datetime(1_795_898_777_874_572_500, utc),
            "2026-11-28T20:46:17.874573"
        );
        assert_eq!(
            iso_datetime(1_795_898_777_999_999_600, utc),
            "2026-11-28T20:46:18"
        );
        let plus2 = Some(FixedOffset::east_opt(2 * 3600).unwrap());
        assert_eq!(
            iso_datetime(1_795_898_777_000_001_000, plus2),
            "2026-11-28T22:46:17.000001"
        );
        assert_eq!(
            iso_datetime(1_795_898_777_000_000_000, utc),
            "2026-11-28T20:46:17"
        );
        // local time zone: same shape
        let local = iso_datetime(1_795_898_777_874_572_000, None);
        assert_eq!(local.len(), "2026-11-28T20:46:17.874572".len());
        assert!(local.ends_with(":17.874572"));
    }

    #[test]
    fn stats_by_name() {
        let m = MetricResult {
            avg: Some(2.0),
            min: Some(1.0),
            percentiles: vec![(50, 2.0), (99, f64::INFINITY)],
            count: Some(3),
            ..Default::default()
        };
        assert_eq!(stat(&m, "avg"), Some(2.0));
        assert_eq!(stat(&m, "p50"), Some(2.0));
        assert_eq!(stat(&m, "p99"), None);
        assert_eq!(stat(&m, "p90"), None);
        assert_eq!(stat(&m, "count"), Some(3.0));
        assert_eq!(stat(&m, "max"), None);
        assert!(has_percentiles(&m));
    }
}
