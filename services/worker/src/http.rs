//! One HTTP exchange with the model server: send the body, stamp every response
//! message as its bytes are read, and turn every failure into error details.
//!
//! Timestamps (metrics.md §1): `start` is taken right before the request is sent,
//! `ack` when the response headers arrive (2xx only), each SSE message when the
//! network chunk completing it is yielded — before any JSON parsing.

use crate::sse::SseParser;
use aiperf_clock::{mono_ns, wall_ns};
use aiperf_config::ProfileConfig;
use aiperf_protocol::{record::RawResponse, ErrorDetails};
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// Everything observed during one request.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Wall clock (ns) at request start.
    pub request_start_ns: u64,
    /// Monotonic ns at request start.
    pub start_perf_ns: u64,
    /// Monotonic ns when 2xx headers arrived.
    pub ack_perf_ns: Option<u64>,
    /// Monotonic ns at the end (last byte, error or cancellation).
    pub end_perf_ns: u64,
    /// HTTP status, if any response arrived.
    pub status: Option<u16>,
    /// Response messages.
    pub responses: Vec<RawResponse>,
    /// Failure, if any.
    pub error: Option<ErrorDetails>,
    /// Cancelled by the client on purpose.
    pub was_cancelled: bool,
    /// Monotonic ns of the cancellation.
    pub cancellation_perf_ns: Option<u64>,
}

/// A pooled HTTP client bound to one endpoint.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    timeout: Duration,
}

/// The user agent sent with every request.
pub const USER_AGENT: &str = concat!("aiperf-rs/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    /// Builds a client for the run (one per worker, reused for every request).
    pub fn new(config: &ProfileConfig) -> Result<HttpClient, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pool = config.concurrency.unwrap_or(256).max(1);
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(reqwest::header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let accept = if config.streaming { "text/event-stream" } else { "application/json" };
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(key) = &config.api_key {
            let v = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| "--api-key contains characters not allowed in a header".to_string())?;
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("--header {k}: invalid header name"))?;
            let value = HeaderValue::from_str(v).map_err(|_| format!("--header {k}: invalid header value"))?;
            headers.append(name, value);
        }
        Ok(HttpClient { client, url: config.endpoint_url(), headers, timeout: Duration::from_secs_f64(config.request_timeout_s) })
    }

    /// Sends `body` and reads the whole response. Never fails: problems become `error`.
    /// `cancel_after` aborts the connection that long after the request was sent.
    pub async fn send(&self, body: String, x_request_id: &str, x_correlation_id: &str, streaming: bool, cancel_after: Option<Duration>) -> Exchange {
        let mut ex = Exchange::default();
        let mut req = self.client.post(&self.url).headers(self.headers.clone()).body(body);
        req = req.header("X-Request-ID", x_request_id).header("X-Correlation-ID", x_correlation_id);
        ex.request_start_ns = wall_ns();
        ex.start_perf_ns = mono_ns();
        enum Outcome {
            Done,
            Cancelled,
            TimedOut,
        }
        let outcome = {
            let run = run_exchange(req, streaming, &mut ex);
            let cancel = async {
                match cancel_after {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = run => Outcome::Done,
                () = cancel => Outcome::Cancelled,
                () = tokio::time::sleep(self.timeout) => Outcome::TimedOut,
            }
        };
        match outcome {
            Outcome::Done => {}
            Outcome::Cancelled => {
                let now = mono_ns();
                let delay = cancel_after.unwrap_or_default().as_secs_f64();
                ex.was_cancelled = true;
                ex.cancellation_perf_ns = Some(now);
                ex.end_perf_ns = now;
                ex.error = Some(ErrorDetails::new(Some(499), "RequestCancellationError", format!("Request cancelled {delay:.3}s after being sent")));
            }
            Outcome::TimedOut => {
                ex.end_perf_ns = mono_ns();
                ex.error = Some(ErrorDetails::new(
                    None,
                    "RequestTimeoutError",
                    format!("no complete response within {:.3} s (--request-timeout-seconds)", self.timeout.as_secs_f64()),
                ));
            }
        }
        ex
    }
}

/// Runs the request, filling `ex` as it goes (so a cancelled exchange keeps its start).
async fn run_exchange(req: reqwest::RequestBuilder, streaming: bool, ex: &mut Exchange) {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            ex.end_perf_ns = mono_ns();
            ex.error = Some(transport_error(&e));
            return;
        }
    };
    let status = resp.status();
    ex.status = Some(status.as_u16());
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        ex.end_perf_ns = mono_ns();
        ex.error = Some(ErrorDetails::new(Some(status.as_u16()), status.canonical_reason().unwrap_or("HTTP Error"), text));
        return;
    }
    ex.ack_perf_ns = Some(mono_ns());
    if streaming {
        let mut parser = SseParser::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let t = mono_ns();
            match chunk {
                Ok(bytes) => parser.feed(&bytes, |ev| push_event(ex, t, ev)),
                Err(e) => {
                    ex.end_perf_ns = mono_ns();
                    ex.error = Some(ErrorDetails::new(None, "StreamError", format!("the response stream broke after {} messages: {}", ex.responses.len(), chain(&e))));
                    return;
                }
            }
        }
        let t = mono_ns();
        parser.finish(|ev| push_event(ex, t, ev));
        ex.end_perf_ns = t;
    } else {
        match resp.text().await {
            Ok(text) => {
                let t = mono_ns();
                ex.responses.push(RawResponse { perf_ns: t, data: text });
                ex.end_perf_ns = t;
            }
            Err(e) => {
                ex.end_perf_ns = mono_ns();
                ex.error = Some(ErrorDetails::new(None, "StreamError", format!("reading the response body failed: {}", chain(&e))));
            }
        }
    }
}

fn push_event(ex: &mut Exchange, t: u64, ev: crate::sse::SseEvent) {
    let data = if ev.event.as_deref() == Some("error") && !ev.data.contains("\"error\"") {
        // `event: error` with a bare payload: wrap it so the record processor sees an error.
        serde_json::json!({"error": {"message": ev.data, "type": "SSEError"}}).to_string()
    } else {
        ev.data
    };
    ex.responses.push(RawResponse { perf_ns: t, data });
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn transport_error(e: &reqwest::Error) -> ErrorDetails {
    let kind = if e.is_connect() {
        "ConnectionError"
    } else if e.is_timeout() {
        "RequestTimeoutError"
    } else {
        "TransportError"
    };
    ErrorDetails::new(None, kind, chain(e))
}
