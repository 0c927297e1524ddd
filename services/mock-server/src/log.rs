//! A bounded, lock-free, append-only log of received inference requests.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Maximum number of requests kept by [`crate::MockServer::received`].
pub const RECEIVED_CAP: usize = 100_000;
const SEGMENT: usize = 1024;
const SEGMENTS: usize = RECEIVED_CAP.div_ceil(SEGMENT);

/// One inference request as the mock server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    /// Request path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// All request headers, names lowercased (e.g. `x-request-id`,
    /// `x-correlation-id`, `authorization`, `user-agent`); repeated headers are
    /// joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Value::String` with the raw text if it was not valid JSON).
    pub body_json: serde_json::Value,
}

impl ReceivedRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Segments are allocated lazily so an idle server costs almost nothing.
type Segment = Box<[OnceLock<ReceivedRequest>]>;

pub(crate) struct RequestLog {
    next: AtomicUsize,
    segments: Box<[OnceLock<Segment>]>,
}

impl RequestLog {
    pub(crate) fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            segments: (0..SEGMENTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Appends `r` unless the log is full.
    pub(crate) fn push(&self, r: ReceivedRequest) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= RECEIVED_CAP {
            return;
        }
        let seg = self.segments[i / SEGMENT]
            .get_or_init(|| (0..SEGMENT).map(|_| OnceLock::new()).collect());
        let _ = seg[i % SEGMENT].set(r);
    }

    /// A copy of the entries in arrival order (entries still being written by a
    /// concurrent `push` are skipped).
    pub(crate) fn snapshot(&self) -> Vec<ReceivedRequest> {
        let n = self.next.load(Ordering::Relaxed).min(RECEIVED_CAP);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if let Some(r) = self.segments[i / SEGMENT]
                .get()
                .and_then(|seg| seg[i % SEGMENT].get())
            {
                out.push(r.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_capped_and_ordered() {
        let log = RequestLog::new();
        for i in 0..RECEIVED_CAP + 10 {
            log.push(ReceivedRequest {
                path: i.to_string(),
                headers: BTreeMap::new(),
                body_json: serde_json::Value::Null,
            });
        }
        let s = log.snapshot();
        assert_eq!(s.len(), RECEIVED_CAP);
        assert_eq!(s[0].path, "0");
        assert_eq!(s[RECEIVED_CAP - 1].path, (RECEIVED_CAP - 1).to_string());
    }
}
