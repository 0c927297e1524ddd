//! The per-request timing log (`--timing-log PATH`): the TTFT the server itself
//! measured for every streamed request, so a benchmark can compare it with what
//! the client reported (`scripts/bench/ttft_error.sh`).
//!
//! One JSON line per streamed request that reached its end:
//! `{"request":N,"x_request_id":"…","ttft_ns":T}`, where `N` is the arrival number
//! (0-based), `x_request_id` the request's `X-Request-ID` header (`null` without one)
//! and `T` the time from the request fully received (the handler starts, body read)
//! to its first token handed to the connection. Lines are written when the stream
//! ends, off the first token's path, into a buffer flushed when it fills and when the
//! server shuts down.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;

/// Buffer size: one write per few hundred lines.
const BUFFER: usize = 1 << 16;

/// An open timing log (see the module documentation).
pub(crate) struct TimingLog {
    out: Mutex<BufWriter<File>>,
}

impl TimingLog {
    /// Creates (truncates) the file at `path`.
    pub(crate) fn create(path: &Path) -> anyhow::Result<TimingLog> {
        let file = File::create(path)
            .with_context(|| format!("cannot create the timing log {}", path.display()))?;
        Ok(TimingLog {
            out: Mutex::new(BufWriter::with_capacity(BUFFER, file)),
        })
    }

    /// Appends the line of one request.
    pub(crate) fn record(&self, request: u64, x_request_id: Option<&str>, ttft: Duration) {
        let id = x_request_id.map_or_else(
            || "null".to_string(),
            |id| serde_json::to_string(id).unwrap_or_else(|_| "null".into()),
        );
        let line = format!(
            "{{\"request\":{request},\"x_request_id\":{id},\"ttft_ns\":{}}}\n",
            ttft.as_nanos()
        );
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()) {
            tracing::warn!("cannot write the timing log: {e}");
        }
    }

    /// Writes the buffered lines to the file.
    pub(crate) fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = out.flush() {
            tracing::warn!("cannot write the timing log: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_the_id_escaped() {
        let dir = std::env::temp_dir().join(format!("mock-timing-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let log = TimingLog::create(&path).unwrap();
        log.record(0, Some("a\"b"), Duration::from_micros(50_123));
        log.record(1, None, Duration::from_nanos(7));
        log.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                serde_json::json!({"request": 0, "x_request_id": "a\"b", "ttft_ns": 50_123_000}),
                serde_json::json!({"request": 1, "x_request_id": null, "ttft_ns": 7}),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
