//! One HTTP exchange with the model server: send the body, stamp every response
//! message as its bytes are read, and turn every failure into error details.
//!
//! Timestamps (`docs/metrics.md` §1): `start` is taken right before the request
//! takes its connection (an idle or pre-opened one is at hand; a new one is dialled
//! inside the request's time, as its `http_trace` shows), `ack` when the response headers
//! arrive (2xx only), each SSE message when the network chunk completing it is
//! yielded — before any JSON parsing.
//!
//! Request cancellation (`docs/load-modes.md` §9): the timer of `cancel_after` starts when the
//! request has been **fully sent**; see [`crate::sent`] for how that is observed.
//! When the timer fires the exchange future is dropped, which closes the connection.

use crate::errors;
use crate::pool::ConnPool;
use crate::sent::{FlagBody, SentBody, SentSignal};
use crate::sse::SseParser;
use aiperf_clock::{mono_ns, wall_ns};
use aiperf_config::{ConnectionReuseStrategy, ProfileConfig};
use aiperf_export::redact::Redactor;
use aiperf_protocol::{
    ErrorDetails,
    record::{HttpTrace, RawResponse},
};
use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
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
    /// The HTTP trace (`docs/metrics.md` §13); `None` for requests that went
    /// through reqwest (`https://`), which reports none of it.
    pub http_trace: Option<HttpTrace>,
    /// Times the request was sent again on a fresh connection (see
    /// [`crate::pool::SendFailed::server_closed`]): 0 or 1.
    pub connection_retries: u32,
    /// A streaming request got a body without any SSE event, read as a whole.
    pub non_sse_response: bool,
}

impl Exchange {
    /// Stamps the request's start on both clocks.
    fn mark_start(&mut self) {
        self.request_start_ns = wall_ns();
        self.start_perf_ns = mono_ns();
    }
}

/// A pooled HTTP client bound to one endpoint.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// The worker's own connections for an `http://` endpoint (every request goes there).
    pool: Option<Arc<ConnPool>>,
    url: String,
    headers: HeaderMap,
    timeout: Duration,
    /// Longest pause between two pieces of a response body once it began.
    idle_timeout: Duration,
    /// Keeps the run's secrets out of error records.
    redact: Redactor,
}

/// The user agent sent with every request.
pub const USER_AGENT: &str = concat!("aiperf-rs/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    /// Builds a client for the run (one per worker, reused for every request).
    ///
    /// `--connection-reuse-strategy never` keeps no idle connection and asks the
    /// server to close after each response, so every request opens a new connection;
    /// `pooled` reuses idle connections; `sticky-user-sessions` keeps each session's
    /// connection for its next turn (keyed by `X-Correlation-ID`) and closes it at
    /// [`HttpClient::end_session`].
    /// `http://` requests go over the worker's own pool ([`crate::pool`]), `https://`
    /// ones through reqwest.
    pub fn new(config: &ProfileConfig) -> Result<HttpClient, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let never = config.connection_reuse == ConnectionReuseStrategy::Never;
        let pool = if never {
            0
        } else {
            config.concurrency.unwrap_or(256).max(1)
        };
        let client = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        let accept = if config.streaming {
            "text/event-stream"
        } else {
            "application/json"
        };
        headers.insert(reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        if never {
            headers.insert(
                reqwest::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        if let Some(key) = &config.api_key {
            let v = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| "--api-key contains characters not allowed in a header".to_string())?;
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("--header {k}: invalid header name"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("--header {k}: invalid header value"))?;
            headers.append(name, value);
        }
        let url = config.endpoint_url();
        let sticky = config.connection_reuse == ConnectionReuseStrategy::StickyUserSessions;
        let pool = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| ConnPool::for_url(&u, !never, pool.max(1)))
            .map(|p| if sticky { p.with_sticky_sessions() } else { p })
            .map(Arc::new);
        Ok(HttpClient {
            client,
            pool,
            url,
            headers,
            timeout: Duration::from_secs_f64(config.request_timeout_s),
            idle_timeout: Duration::from_secs_f64(config.request_idle_timeout_s),
            redact: Redactor::for_config(config),
        })
    }

    /// A session (conversation) had its last turn: with sticky sessions its
    /// connection is closed; otherwise nothing happens.
    pub fn end_session(&self, x_correlation_id: &str) {
        if let Some(pool) = &self.pool {
            pool.end_session(x_correlation_id);
        }
    }

    /// Opens `n` connections ahead (before the first phase) and keeps them idle;
    /// returns how many are idle. Does nothing for `https://` (reqwest dials on
    /// demand) or without connection reuse.
    pub async fn pre_open(&self, n: usize) -> Result<usize, String> {
        match &self.pool {
            Some(pool) if n > 0 => pool
                .pre_open(n)
                .await
                .map_err(|e| format!("cannot open connections ahead: {}", e.context)),
            _ => Ok(0),
        }
    }

    /// Sends `body` and reads the whole response. Never fails: problems become `error`.
    /// `cancel_after` aborts the connection that long after the request was fully
    /// sent (see [`crate::sent`]); `on_first_token` is called once, when the first
    /// SSE message carrying content (or reasoning) arrives.
    pub async fn send(
        &self,
        body: Bytes,
        x_request_id: &str,
        x_correlation_id: &str,
        streaming: bool,
        cancel_after: Option<Duration>,
        on_first_token: Option<FirstTokenHook>,
    ) -> Exchange {
        let mut ex = Exchange::default();
        let request_headers = || {
            let mut headers = self.headers.clone();
            for (name, value) in [
                ("x-request-id", x_request_id),
                ("x-correlation-id", x_correlation_id),
            ] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.insert(HeaderName::from_static(name), v);
                }
            }
            headers
        };
        let headers = request_headers();
        let idle = self.idle_timeout;
        // Every request over the pool is traced; over reqwest only a cancellable one.
        let signal = (cancel_after.is_some() || self.pool.is_some()).then(SentSignal::new);
        enum Outcome {
            Done,
            Cancelled,
            TimedOut,
        }
        let outcome = {
            let run = async {
                match (&self.pool, &signal) {
                    (Some(pool), Some(signal)) => {
                        self.run_pooled(
                            pool,
                            x_correlation_id,
                            body,
                            (headers, &request_headers),
                            streaming,
                            &mut ex,
                            on_first_token,
                            signal.clone(),
                        )
                        .await
                    }
                    (None, Some(signal)) => {
                        let body = SentBody::new(body, signal.clone());
                        let len = body.len;
                        let req = self
                            .client
                            .post(&self.url)
                            .headers(headers)
                            .header(reqwest::header::CONTENT_LENGTH, len)
                            .body(reqwest::Body::wrap_stream(body));
                        ex.mark_start();
                        run_exchange(req, streaming, &mut ex, on_first_token, &self.redact, idle)
                            .await
                    }
                    (_, None) => {
                        let req = self.client.post(&self.url).headers(headers).body(body);
                        ex.mark_start();
                        run_exchange(req, streaming, &mut ex, on_first_token, &self.redact, idle)
                            .await
                    }
                }
            };
            let cancel = async {
                match (cancel_after, &signal) {
                    (Some(d), Some(signal)) => {
                        let sent_at = signal.wait().await;
                        aiperf_clock::timer::sleep_until(aiperf_clock::instant_of(sent_at) + d)
                            .await
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                () = run => Outcome::Done,
                () = cancel => Outcome::Cancelled,
                () = tokio::time::sleep(self.timeout) => Outcome::TimedOut,
            }
        };
        if ex.start_perf_ns == 0 {
            // Ended before the request could start (e.g. a timeout while connecting).
            ex.mark_start();
        }
        match outcome {
            Outcome::Done => {}
            Outcome::Cancelled => {
                let now = mono_ns();
                ex.was_cancelled = true;
                ex.cancellation_perf_ns = Some(now);
                ex.end_perf_ns = now;
                ex.error = Some(errors::cancelled(cancel_after.unwrap_or_default()));
            }
            Outcome::TimedOut => {
                ex.end_perf_ns = mono_ns();
                ex.error = Some(errors::timed_out(self.timeout));
            }
        }
        ex
    }

    /// A request over the worker's own connections. The start is stamped before
    /// the connection is taken, so a request that has to dial pays for it (an idle
    /// or pre-opened connection costs nothing); the [`HttpTrace`] tells them apart.
    ///
    /// The safe retry rule (`docs/reliability.md`): when a **reused** connection
    /// fails the request before any response byte because the server had closed
    /// it ([`crate::pool::SendFailed::server_closed`]), the request is sent once more over a
    /// newly dialled connection, its start stamped anew (the failed attempt is
    /// nobody's latency), and `connection_retries` says so.
    #[allow(clippy::too_many_arguments)]
    async fn run_pooled(
        &self,
        pool: &ConnPool,
        session: &str,
        body: Bytes,
        (headers, request_headers): (HeaderMap, &(dyn Fn() -> HeaderMap + Sync)),
        streaming: bool,
        ex: &mut Exchange,
        on_first_token: Option<FirstTokenHook>,
        signal: Arc<SentSignal>,
    ) {
        let body_len = body.len() as u64;
        let request = |headers: HeaderMap| {
            let mut req = hyper::Request::new(FlagBody::new(body.clone(), signal.clone()));
            *req.method_mut() = hyper::Method::POST;
            *req.uri_mut() = pool.path().clone();
            let mut headers = headers;
            headers.insert(hyper::header::HOST, pool.host_header().clone());
            headers.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(body_len));
            *req.headers_mut() = headers;
            req
        };
        let mut req = request(headers);
        ex.mark_start();
        let mut acquired = pool.acquire_for(Some(session)).await;
        let (conn, response) = loop {
            let (mut conn, timing) = match acquired {
                Ok(c) => c,
                Err(e) => return self.fail(ex, &e),
            };
            let mut trace = timing.trace();
            trace.send_start_perf_ns = Some(mono_ns());
            ex.http_trace = Some(trace);
            match conn.send(req, signal.clone()).await {
                Ok(response) => break (conn, response),
                Err(failed)
                    if timing.reused && ex.connection_retries == 0 && failed.server_closed =>
                {
                    tracing::debug!(
                        "a reused connection was closed by the server before it answered ({}); sending the request again on a new connection",
                        failed.error.context
                    );
                    ex.connection_retries += 1;
                    req = failed.unsent.unwrap_or_else(|| request(request_headers()));
                    ex.mark_start();
                    acquired = pool.fresh().await;
                }
                Err(failed) => return self.fail(ex, &failed.error),
            }
        };
        if let Some(t) = ex.http_trace.as_mut() {
            t.headers_received_perf_ns = Some(mono_ns());
            t.send_end_perf_ns = signal.get();
            t.bytes_sent = body_len;
            t.chunks_sent = 1;
        }
        let status = response.status();
        let stream = http_body_util::BodyDataStream::new(response.into_body());
        read_response(
            status,
            stream,
            streaming,
            ex,
            on_first_token,
            &self.redact,
            self.idle_timeout,
        )
        .await;
        if let Some(t) = ex.http_trace.as_mut() {
            // A server may answer before reading the whole request; then it is
            // fully sent by now, or never. After a retry, the first attempt may
            // have fired the signal: never before this attempt's send.
            t.send_end_perf_ns = t
                .send_end_perf_ns
                .or(signal.get())
                .map(|s| s.max(t.send_start_perf_ns.unwrap_or(0)));
            if ex.error.is_none() {
                t.receive_end_perf_ns = Some(ex.end_perf_ns);
            }
        }
        let complete = ex.error.is_none() || !status.is_success();
        if complete {
            pool.release_for(Some(session), conn);
        }
    }

    fn fail(&self, ex: &mut Exchange, e: &crate::sent::DirectError) {
        ex.end_perf_ns = mono_ns();
        ex.error = Some(e.details(&self.redact));
    }
}

/// Called once when the first content token of a streamed response arrives.
pub type FirstTokenHook = Box<dyn FnOnce() + Send>;

/// Runs the request, filling `ex` as it goes (so a cancelled exchange keeps its start).
async fn run_exchange(
    req: reqwest::RequestBuilder,
    streaming: bool,
    ex: &mut Exchange,
    on_first_token: Option<FirstTokenHook>,
    redact: &Redactor,
    idle: Duration,
) {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            ex.end_perf_ns = mono_ns();
            ex.error = Some(errors::transport(&e, redact));
            return;
        }
    };
    let status = resp.status();
    read_response(
        status,
        resp.bytes_stream(),
        streaming,
        ex,
        on_first_token,
        redact,
        idle,
    )
    .await;
}

/// Reads a response body: SSE messages stamped as their chunk arrives (streaming),
/// the whole text otherwise, the body text as the message of a non-2xx status.
///
/// A streaming request whose body holds no SSE event at all (a server that
/// answered with plain JSON) gets the whole body as its one response message and
/// `non_sse_response` set. Once the body has begun, a pause longer than `idle`
/// between two of its pieces ends the request with a timeout error; the
/// messages read until then stay in the record.
async fn read_response<S, E>(
    status: reqwest::StatusCode,
    mut stream: S,
    streaming: bool,
    ex: &mut Exchange,
    mut on_first_token: Option<FirstTokenHook>,
    redact: &Redactor,
    idle: Duration,
) where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
{
    ex.status = Some(status.as_u16());
    let mut watch = IdleWatch::new(idle);
    if !status.is_success() {
        let trace = &mut ex.http_trace;
        let text = collect_text(&mut stream, &mut watch, |n| body_chunk(trace, mono_ns(), n))
            .await
            .unwrap_or_default();
        ex.end_perf_ns = mono_ns();
        ex.error = Some(errors::http_status(status, &text, redact));
        return;
    }
    ex.ack_perf_ns = Some(mono_ns());
    if streaming {
        let mut parser = SseParser::new();
        // The body until the first SSE event: without any event, it is the response.
        let mut unparsed: Option<Vec<u8>> = Some(Vec::new());
        loop {
            let chunk = match watch.next(&mut stream).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(idle) => {
                    ex.end_perf_ns = mono_ns();
                    ex.error = Some(errors::stalled(idle, ex.responses.len()));
                    return;
                }
            };
            let t = mono_ns();
            match chunk {
                Ok(bytes) => {
                    body_chunk(&mut ex.http_trace, t, bytes.len());
                    let before = ex.responses.len();
                    parser.feed(&bytes, |ev| push_event(ex, t, ev));
                    if let Some(buf) = &mut unparsed {
                        if ex.responses.is_empty() {
                            buf.extend_from_slice(&bytes);
                        } else {
                            unparsed = None;
                        }
                    }
                    if on_first_token.is_some()
                        && ex.responses[before..].iter().any(|r| has_token(&r.data))
                    {
                        (on_first_token.take().expect("checked"))();
                    }
                }
                Err(e) => {
                    ex.end_perf_ns = mono_ns();
                    ex.error = Some(errors::stream_broke(&e, ex.responses.len(), redact));
                    return;
                }
            }
        }
        let t = mono_ns();
        parser.finish(|ev| push_event(ex, t, ev));
        if let Some(body) =
            unparsed.filter(|b| ex.responses.is_empty() && !b.trim_ascii().is_empty())
        {
            let data = String::from_utf8(body)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            if let Some(hook) = on_first_token.take().filter(|_| has_token(&data)) {
                hook();
            }
            ex.non_sse_response = true;
            ex.responses.push(RawResponse { perf_ns: t, data });
        }
        ex.end_perf_ns = t;
    } else {
        let trace = &mut ex.http_trace;
        match collect_text(&mut stream, &mut watch, |n| body_chunk(trace, mono_ns(), n)).await {
            Ok(text) => {
                let t = mono_ns();
                ex.responses.push(RawResponse {
                    perf_ns: t,
                    data: text,
                });
                ex.end_perf_ns = t;
            }
            Err(BodyError::Stalled(idle)) => {
                ex.end_perf_ns = mono_ns();
                ex.error = Some(errors::stalled(idle, 0));
            }
            Err(BodyError::Read(e)) => {
                ex.end_perf_ns = mono_ns();
                ex.error = Some(errors::body_read(&e, redact));
            }
        }
    }
}

/// The idle timeout of one response body: armed by its first piece, it fires
/// when no further piece came for `idle`. One timer per request, re-armed only
/// when it fires early (not at every piece).
struct IdleWatch {
    idle: Duration,
    last: tokio::time::Instant,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl IdleWatch {
    fn new(idle: Duration) -> Self {
        IdleWatch {
            idle,
            last: tokio::time::Instant::now(),
            timer: None,
        }
    }

    /// The next piece of `stream` (`Ok(None)` at its end), or `Err(idle)` when
    /// the body had begun and nothing came for `idle`.
    async fn next<S: futures_util::Stream + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<Option<S::Item>, Duration> {
        loop {
            let Some(timer) = self.timer.as_mut() else {
                let item = stream.next().await;
                self.last = tokio::time::Instant::now();
                self.timer = Some(Box::pin(tokio::time::sleep_until(self.last + self.idle)));
                return Ok(item);
            };
            tokio::select! {
                biased;
                item = stream.next() => {
                    self.last = tokio::time::Instant::now();
                    return Ok(item);
                }
                () = timer.as_mut() => {
                    let due = self.last + self.idle;
                    if tokio::time::Instant::now() >= due {
                        return Err(self.idle);
                    }
                    timer.as_mut().reset(due);
                }
            }
        }
    }
}

/// A response body chunk of `len` bytes arrived at `t`: counted in the trace.
fn body_chunk(trace: &mut Option<HttpTrace>, t: u64, len: usize) {
    if let Some(tr) = trace {
        tr.first_byte_perf_ns.get_or_insert(t);
        tr.last_byte_perf_ns = Some(t);
        tr.bytes_received += len as u64;
        tr.chunks_received += 1;
    }
}

/// Why a whole body could not be read.
enum BodyError<E> {
    /// Reading failed.
    Read(E),
    /// The body stalled for this long.
    Stalled(Duration),
}

/// The whole body as text; `on_chunk` is told the length of every chunk read.
async fn collect_text<S, E>(
    stream: &mut S,
    watch: &mut IdleWatch,
    mut on_chunk: impl FnMut(usize),
) -> Result<String, BodyError<E>>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error,
{
    let mut buf = Vec::new();
    while let Some(chunk) = watch.next(stream).await.map_err(BodyError::Stalled)? {
        let chunk = chunk.map_err(BodyError::Read)?;
        on_chunk(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Whether an SSE message carries generated text (content or reasoning).
fn has_token(data: &str) -> bool {
    let p = aiperf_endpoint::parse_response(data);
    !p.text.is_empty() || !p.reasoning.is_empty()
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

#[cfg(test)]
mod connection_reuse_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A keep-alive HTTP/1.1 server answering every request with a small JSON body;
    /// returns its URL and the number of connections it accepted.
    async fn counting_server() -> (String, Arc<AtomicUsize>) {
        let (url, accepted, _) = logging_server().await;
        (url, accepted)
    }

    /// [`counting_server`] that also logs the size of every request and reply.
    async fn logging_server() -> (String, Arc<AtomicUsize>, Sizes) {
        serve(false).await
    }

    /// Bytes of one exchange as the server saw them: (request, reply).
    type Sizes = Arc<std::sync::Mutex<Vec<(usize, usize)>>>;

    /// The test server; `hang_up`: it closes every connection right after its
    /// first reply without saying so (as a server whose keep-alive timed out), and
    /// logs `(0, 0)` once the socket is closed.
    async fn serve(hang_up: bool) -> (String, Arc<AtomicUsize>, Sizes) {
        let sizes: Sizes = Arc::default();
        let log = Arc::clone(&sizes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request: headers up to the blank line, then its body.
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..end + 4 + len);
                        let close = head.contains("connection: close");
                        let body = "{}";
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n{body}",
                            body.len(),
                            if close { "connection: close\r\n" } else { "" }
                        );
                        log.lock().unwrap().push((end + 4 + len, reply.len()));
                        if sock.write_all(reply.as_bytes()).await.is_err() || close {
                            return;
                        }
                        if hang_up {
                            drop(sock);
                            log.lock().unwrap().push((0, 0));
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted, sizes)
    }

    fn config(url: &str, strategy: &str) -> ProfileConfig {
        config_with(url, &["--connection-reuse-strategy", strategy])
    }

    fn config_with(url: &str, extra: &[&str]) -> ProfileConfig {
        let mut all = vec!["-m", "m", "--url", url];
        all.extend_from_slice(extra);
        let args = aiperf_config::ProfileArgs::try_parse_args(all).unwrap();
        let ctx = aiperf_config::Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        aiperf_config::resolve(&args, &ctx).unwrap()
    }

    /// Connections the server accepted for three requests sent one after the other.
    async fn connections_for_three_requests(strategy: &str) -> usize {
        let (url, accepted) = counting_server().await;
        let client = HttpClient::new(&config(&url, strategy)).unwrap();
        for i in 0..3 {
            let ex = client
                .send(
                    Bytes::from_static(b"{}"),
                    &format!("r{i}"),
                    "c",
                    false,
                    None,
                    None,
                )
                .await;
            assert_eq!(ex.status, Some(200), "{:?}", ex.error);
            assert!(ex.error.is_none(), "{:?}", ex.error);
        }
        accepted.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn pooled_reuses_one_connection() {
        assert_eq!(connections_for_three_requests("pooled").await, 1);
        assert_eq!(
            connections_for_three_requests("sticky-user-sessions").await,
            1
        );
    }

    #[tokio::test]
    async fn never_opens_a_connection_per_request() {
        assert_eq!(connections_for_three_requests("never").await, 3);
    }

    /// Waits until the server has accepted `n` connections (its accept loop may
    /// lag the client's connect).
    async fn accepted_reaches(accepted: &AtomicUsize, n: usize) {
        while accepted.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn send_one(client: &HttpClient, id: &str) -> Exchange {
        let ex = client
            .send(Bytes::from_static(b"{}"), id, "c", false, None, None)
            .await;
        assert_eq!(ex.status, Some(200), "{:?}", ex.error);
        ex
    }

    #[tokio::test]
    async fn pre_opened_connections_carry_the_first_requests() {
        let (url, accepted, _) = logging_server().await;
        let client = HttpClient::new(&config_with(&url, &["--concurrency", "4"])).unwrap();
        assert_eq!(client.pre_open(4).await.unwrap(), 4);
        accepted_reaches(&accepted, 4).await;
        let first = futures_util::future::join_all((0..4).map(|i| {
            let client = &client;
            async move { send_one(client, &format!("r{i}")).await }
        }))
        .await;
        assert_eq!(accepted.load(Ordering::SeqCst), 4, "no connection dialled");
        for ex in &first {
            let t = ex.http_trace.clone().expect("traced");
            assert!(t.connection_reused && t.connection_preopened, "{t:?}");
            assert_eq!((t.connect_start_perf_ns, t.dns_start_perf_ns), (None, None));
        }
        // The next request reuses one of them; it is no longer "pre-opened".
        let t = send_one(&client, "r4").await.http_trace.unwrap();
        assert!(t.connection_reused && !t.connection_preopened, "{t:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_dialled_request_times_its_connection_and_counts_its_body_bytes() {
        let (url, _, sizes) = logging_server().await;
        let client = HttpClient::new(&config(&url, "pooled")).unwrap();
        let ex = send_one(&client, "r0").await;
        let t = ex.http_trace.clone().unwrap();
        assert!(!t.connection_reused && !t.connection_preopened);
        // 127.0.0.1 is an address: no lookup.
        assert_eq!(t.dns_start_perf_ns, None);
        // start <= connect <= send <= headers <= first byte <= last byte <= end.
        let order = [
            Some(ex.start_perf_ns),
            t.connect_start_perf_ns,
            t.connect_end_perf_ns,
            t.send_start_perf_ns,
            t.send_end_perf_ns,
            t.headers_received_perf_ns,
            t.first_byte_perf_ns,
            t.last_byte_perf_ns,
            t.receive_end_perf_ns,
            Some(ex.end_perf_ns),
        ];
        let order: Vec<u64> = order.iter().map(|x| x.expect("every stage")).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
        // The body is `{}` each way (the server's reply body is `{}` too).
        assert_eq!((t.bytes_sent, t.chunks_sent), (2, 1));
        assert_eq!(t.bytes_received, 2);
        assert_eq!(t.chunks_received, 1);
        let (req_bytes, reply_bytes) = sizes.lock().unwrap()[0];
        assert!(req_bytes > 2 && reply_bytes > 2, "headers are not counted");
        // The second request goes over the same connection: nothing to open.
        let t = send_one(&client, "r1").await.http_trace.unwrap();
        assert!(t.connection_reused && !t.connection_preopened);
        assert_eq!(
            (t.connect_start_perf_ns, t.connect_end_perf_ns),
            (None, None)
        );
        assert_eq!(t.bytes_received, 2);
    }

    #[tokio::test]
    async fn never_reuse_opens_nothing_ahead() {
        let (url, accepted) = counting_server().await;
        let client = HttpClient::new(&config(&url, "never")).unwrap();
        assert_eq!(client.pre_open(4).await.unwrap(), 0);
        let t = send_one(&client, "r0").await.http_trace.unwrap();
        assert!(!t.connection_reused && t.connect_start_perf_ns.is_some());
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_replaced() {
        let (url, accepted, log) = serve(true).await;
        let client = HttpClient::new(&config(&url, "pooled")).unwrap();
        send_one(&client, "r0").await;
        // Wait until the server has closed the connection the pool keeps.
        while !log.lock().unwrap().contains(&(0, 0)) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ex = send_one(&client, "r1").await;
        assert!(ex.error.is_none(), "{:?}", ex.error);
        let t = ex.http_trace.unwrap();
        assert!(
            !t.connection_reused && t.connect_start_perf_ns.is_some(),
            "{t:?}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    /// A server that, on its `i`-th connection, reads one request after the
    /// other and answers it or not as `plans[i]` (the last plan for later
    /// connections) says; a request not answered is read whole and the
    /// connection closed without a byte of answer (a server closing a kept-alive
    /// connection under a request that was already on its way). Returns its URL,
    /// the connections accepted and the requests read.
    async fn closing_server(
        plans: &'static [&'static [bool]],
    ) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (a, r) = (Arc::clone(&accepted), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let i = a.fetch_add(1, Ordering::SeqCst);
                let plan = plans[i.min(plans.len() - 1)];
                let r = Arc::clone(&r);
                tokio::spawn(async move {
                    for &answer in plan {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        // Headers and the 2-byte body `{}`.
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") || !buf.ends_with(b"{}") {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        r.fetch_add(1, Ordering::SeqCst);
                        if !answer {
                            return;
                        }
                        let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted, requests)
    }

    #[tokio::test]
    async fn a_request_the_server_closed_a_reused_connection_under_is_sent_once_more() {
        let (url, accepted, requests) = closing_server(&[&[true, false]]).await;
        let client = HttpClient::new(&config(&url, "pooled")).unwrap();
        let first = send_one(&client, "r0").await;
        assert_eq!(first.connection_retries, 0);
        // The pool still holds the connection: the server is waiting on it.
        let ex = send_one(&client, "r1").await;
        assert!(ex.error.is_none(), "{:?}", ex.error);
        assert_eq!(ex.connection_retries, 1);
        let t = ex.http_trace.clone().unwrap();
        assert!(
            !t.connection_reused && t.connect_start_perf_ns.is_some(),
            "{t:?}"
        );
        // Timed from the new attempt: its start is the dial's start or before.
        assert!(ex.start_perf_ns <= t.connect_start_perf_ns.unwrap());
        assert!(first.end_perf_ns <= ex.start_perf_ns);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_request_is_sent_again_at_most_once_and_never_after_a_new_connection_failed() {
        // A new connection that fails its first request: an error, no retry.
        let (url, accepted, requests) = closing_server(&[&[false]]).await;
        let client = HttpClient::new(&config(&url, "pooled")).unwrap();
        let ex = client
            .send(Bytes::from_static(b"{}"), "r0", "c", false, None, None)
            .await;
        let e = ex.error.expect("the server closed without answering");
        assert_eq!(e.kind, "TransportError");
        assert!(e.message.contains("sending the request failed"), "{e:?}");
        assert_eq!(ex.connection_retries, 0);
        assert_eq!(
            (
                accepted.load(Ordering::SeqCst),
                requests.load(Ordering::SeqCst)
            ),
            (1, 1)
        );
        // A reused connection fails, then its retry's new connection fails too:
        // one retry, then the error.
        let (url, accepted, requests) = closing_server(&[&[true, false], &[false]]).await;
        let client = HttpClient::new(&config(&url, "pooled")).unwrap();
        send_one(&client, "r0").await;
        let ex = client
            .send(Bytes::from_static(b"{}"), "r1", "c", false, None, None)
            .await;
        assert!(ex.error.is_some());
        assert_eq!(ex.connection_retries, 1);
        assert_eq!(
            (
                accepted.load(Ordering::SeqCst),
                requests.load(Ordering::SeqCst)
            ),
            (2, 3)
        );
    }

    #[tokio::test]
    async fn sticky_sessions_keep_one_connection_per_conversation() {
        let (url, accepted) = counting_server().await;
        let client = HttpClient::new(&config(&url, "sticky-user-sessions")).unwrap();
        let turn = |session: &'static str| {
            let client = &client;
            async move {
                let ex = client
                    .send(Bytes::from_static(b"{}"), "r", session, false, None, None)
                    .await;
                assert!(ex.error.is_none(), "{:?}", ex.error);
                ex.http_trace.unwrap().connection_reused
            }
        };
        // Two conversations interleaved: each keeps its own connection.
        assert!(!turn("a").await);
        assert!(!turn("b").await);
        assert!(turn("a").await);
        assert!(turn("b").await);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // A conversation that ended has its connection closed; a new one dials.
        client.end_session("a");
        assert!(!turn("c").await);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        // Pooled would have used one connection for all of it.
        assert_eq!(connections_for_three_requests("pooled").await, 1);
    }
}
