//! The HTTP trace metrics (`http_req_*`, k6 naming, AIPerf 0.13; `docs/metrics.md`
//! § HTTP trace metrics), computed from a raw record's [`HttpTrace`].
//!
//! Stages, in the order they happen: *blocked* (waiting for a pooled
//! connection), *dns_lookup*, *connecting* (TCP, TLS included), *sending*
//! (first request byte → last body byte written), *waiting* (request written →
//! first response body chunk: time to first byte), *receiving* (first → last
//! body chunk). A stage that did not happen is 0 (no pool wait, no lookup, a
//! reused connection); a stage that started but has no end is absent.

use crate::catalogue::tags;
use aiperf_protocol::record::HttpTrace;

/// `later − earlier` in ns, absent when either is missing or `later < earlier`.
fn span(earlier: Option<u64>, later: Option<u64>) -> Option<f64> {
    match (earlier, later) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as f64),
        _ => None,
    }
}

/// A stage that may not have happened: 0 without a start, else its span.
fn optional_stage(start: Option<u64>, end: Option<u64>) -> Option<f64> {
    match start {
        None => Some(0.0),
        Some(_) => span(start, end),
    }
}

/// The `http_req_*` values of one traced request in base units (ns, bytes,
/// counts, 0/1), in AIPerf's display order; values that cannot be computed are
/// left out.
///
/// * blocked = pool wait end − start (0 without a wait);
/// * dns_lookup = lookup end − start (0 without a lookup or on a reused connection);
/// * connecting = connect end − start (0 on a reused connection);
/// * sending = send end − send start; waiting = first body byte − send end;
///   receiving = last body byte − first body byte;
/// * duration = response end − send start (measured, not summed);
/// * connection_overhead = blocked + dns_lookup + connecting, and total = those
///   three + sending + waiting + receiving (a missing part counts 0, as in AIPerf);
/// * data_sent / data_received = body bytes, chunks_sent / chunks_received =
///   body writes / reads, connection_reused = 1 or 0.
pub fn http_trace_metrics(t: &HttpTrace) -> Vec<(&'static str, f64)> {
    let blocked = optional_stage(t.pool_wait_start_perf_ns, t.pool_wait_end_perf_ns);
    let (dns, connecting) = if t.connection_reused {
        (Some(0.0), Some(0.0))
    } else {
        (
            optional_stage(t.dns_start_perf_ns, t.dns_end_perf_ns),
            span(t.connect_start_perf_ns, t.connect_end_perf_ns),
        )
    };
    let sending = span(t.send_start_perf_ns, t.send_end_perf_ns);
    let waiting = span(t.send_end_perf_ns, t.first_byte_perf_ns);
    let receiving = span(t.first_byte_perf_ns, t.last_byte_perf_ns);
    let duration = span(t.send_start_perf_ns, t.receive_end_perf_ns);
    let sum = |parts: &[Option<f64>]| parts.iter().map(|p| p.unwrap_or(0.0)).sum::<f64>();
    let overhead = sum(&[blocked, dns, connecting]);
    let total = overhead + sum(&[sending, waiting, receiving]);

    let mut out = Vec::with_capacity(14);
    let mut put = |tag: &'static str, v: Option<f64>| {
        if let Some(v) = v {
            out.push((tag, v));
        }
    };
    put(tags::HTTP_REQ_BLOCKED, blocked);
    put(tags::HTTP_REQ_DNS_LOOKUP, dns);
    put(tags::HTTP_REQ_CONNECTING, connecting);
    put(tags::HTTP_REQ_SENDING, sending);
    put(tags::HTTP_REQ_WAITING, waiting);
    put(tags::HTTP_REQ_RECEIVING, receiving);
    put(
        tags::HTTP_REQ_CONNECTION_REUSED,
        Some(if t.connection_reused { 1.0 } else { 0.0 }),
    );
    put(tags::HTTP_REQ_DATA_SENT, Some(t.bytes_sent as f64));
    put(tags::HTTP_REQ_CHUNKS_SENT, Some(f64::from(t.chunks_sent)));
    put(tags::HTTP_REQ_DATA_RECEIVED, Some(t.bytes_received as f64));
    put(
        tags::HTTP_REQ_CHUNKS_RECEIVED,
        Some(f64::from(t.chunks_received)),
    );
    put(tags::HTTP_REQ_CONNECTION_OVERHEAD, Some(overhead));
    put(tags::HTTP_REQ_DURATION, duration);
    put(tags::HTTP_REQ_TOTAL, Some(total));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(m: &[(&str, f64)], tag: &str) -> Option<f64> {
        m.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    /// A new connection after a pool wait and a DNS lookup (times in µs·1000).
    #[test]
    fn new_connection_every_stage() {
        let t = HttpTrace {
            pool_wait_start_perf_ns: Some(1_000),
            pool_wait_end_perf_ns: Some(1_400), // blocked 400
            dns_start_perf_ns: Some(1_400),
            dns_end_perf_ns: Some(1_650), // dns 250
            connect_start_perf_ns: Some(1_650),
            connect_end_perf_ns: Some(2_650), // connecting 1_000
            send_start_perf_ns: Some(3_000),
            send_end_perf_ns: Some(3_500), // sending 500
            headers_received_perf_ns: Some(40_000),
            first_byte_perf_ns: Some(53_500), // waiting 53_500 - 3_500 = 50_000
            last_byte_perf_ns: Some(153_500), // receiving 100_000
            receive_end_perf_ns: Some(154_000), // duration 154_000 - 3_000 = 151_000
            bytes_sent: 2_048,
            bytes_received: 5_120,
            chunks_sent: 1,
            chunks_received: 11,
            ..HttpTrace::default()
        };
        let m = http_trace_metrics(&t);
        assert_eq!(get(&m, "http_req_blocked"), Some(400.0));
        assert_eq!(get(&m, "http_req_dns_lookup"), Some(250.0));
        assert_eq!(get(&m, "http_req_connecting"), Some(1_000.0));
        assert_eq!(get(&m, "http_req_sending"), Some(500.0));
        assert_eq!(get(&m, "http_req_waiting"), Some(50_000.0));
        assert_eq!(get(&m, "http_req_receiving"), Some(100_000.0));
        assert_eq!(get(&m, "http_req_duration"), Some(151_000.0));
        // overhead = 400 + 250 + 1_000 = 1_650
        assert_eq!(get(&m, "http_req_connection_overhead"), Some(1_650.0));
        // total = 1_650 + 500 + 50_000 + 100_000 = 152_150
        assert_eq!(get(&m, "http_req_total"), Some(152_150.0));
        assert_eq!(get(&m, "http_req_connection_reused"), Some(0.0));
        assert_eq!(get(&m, "http_req_data_sent"), Some(2_048.0));
        assert_eq!(get(&m, "http_req_data_received"), Some(5_120.0));
        assert_eq!(get(&m, "http_req_chunks_sent"), Some(1.0));
        assert_eq!(get(&m, "http_req_chunks_received"), Some(11.0));
        assert_eq!(m.len(), 14);
    }

    /// A reused connection: no pool wait, DNS and connect are 0 even if set.
    #[test]
    fn reused_connection_has_no_setup() {
        let t = HttpTrace {
            connection_reused: true,
            dns_start_perf_ns: Some(10), // ignored on reuse (AIPerf's rule)
            dns_end_perf_ns: Some(20),
            send_start_perf_ns: Some(100),
            send_end_perf_ns: Some(130),      // sending 30
            first_byte_perf_ns: Some(1_130),  // waiting 1_000
            last_byte_perf_ns: Some(1_130),   // one chunk: receiving 0
            receive_end_perf_ns: Some(1_200), // duration 1_100
            bytes_sent: 10,
            bytes_received: 20,
            chunks_sent: 1,
            chunks_received: 1,
            ..HttpTrace::default()
        };
        let m = http_trace_metrics(&t);
        assert_eq!(get(&m, "http_req_blocked"), Some(0.0));
        assert_eq!(get(&m, "http_req_dns_lookup"), Some(0.0));
        assert_eq!(get(&m, "http_req_connecting"), Some(0.0));
        assert_eq!(get(&m, "http_req_receiving"), Some(0.0));
        assert_eq!(get(&m, "http_req_connection_overhead"), Some(0.0));
        // total = 0 + 30 + 1_000 + 0 = 1_030; duration (measured) = 1_100
        assert_eq!(get(&m, "http_req_total"), Some(1_030.0));
        assert_eq!(get(&m, "http_req_duration"), Some(1_100.0));
        assert_eq!(get(&m, "http_req_connection_reused"), Some(1.0));
    }

    /// Missing ends leave their metric out; missing parts count 0 in the sums.
    #[test]
    fn unfinished_stages_are_absent() {
        let t = HttpTrace {
            pool_wait_start_perf_ns: Some(5), // never got a connection
            connect_start_perf_ns: Some(7),   // never connected
            send_start_perf_ns: Some(100),
            ..HttpTrace::default()
        };
        let m = http_trace_metrics(&t);
        for tag in [
            "http_req_blocked",
            "http_req_connecting",
            "http_req_sending",
            "http_req_waiting",
            "http_req_receiving",
            "http_req_duration",
        ] {
            assert_eq!(get(&m, tag), None, "{tag}");
        }
        assert_eq!(get(&m, "http_req_dns_lookup"), Some(0.0));
        assert_eq!(get(&m, "http_req_connection_overhead"), Some(0.0));
        assert_eq!(get(&m, "http_req_total"), Some(0.0));
    }
}
