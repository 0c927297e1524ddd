//! HTTP routes, handlers and the [`MockServer`] handle.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

use aiperf_clock::timer::sleep_until;
use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{MockConfig, ms};
use crate::conn::ConnControl;
use crate::fault::{self, FaultCase};
use crate::generate::{
    ChunkFmt, Kind, Lifecycle, StreamPlan, TokenStream, error_json, parse, splitmix64, unit,
    usage_json, word,
};
use crate::log::{ReceivedRequest, RequestLog};
use crate::metrics::{Counters, ModelRegistry, StatusCounts};
use crate::timing_log::TimingLog;
use crate::{MockStats, ttft_spread_fraction};

/// State shared by all handlers of one server.
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    ttft: Duration,
    itl: Duration,
    started_unix: u64,
    pub(crate) counters: Counters,
    statuses: StatusCounts,
    models: ModelRegistry,
    log: RequestLog,
    tokenizer: Option<Arc<aiperf_tokenizer::Tokenizer>>,
    /// `--timing-log`: the server-measured TTFT of every streamed request.
    pub(crate) timing_log: Option<TimingLog>,
}

impl Shared {
    fn new(
        config: MockConfig,
        tokenizer: Option<Arc<aiperf_tokenizer::Tokenizer>>,
        timing_log: Option<TimingLog>,
    ) -> Self {
        Self {
            tokenizer,
            timing_log,
            ttft: config.ttft(),
            itl: config.itl(),
            started_unix: unix_secs(),
            counters: Counters::default(),
            statuses: StatusCounts::new(),
            models: ModelRegistry::new(&config.models),
            log: RequestLog::new(),
            config,
        }
    }

    /// An OpenAI-style error response, counted as an error.
    fn error(&self, status: u16, message: &str, kind: &str) -> Response {
        self.statuses.inc(status);
        self.counters.errors.fetch_add(1, Relaxed);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, error_json(message, kind, status.as_u16()))
    }

    fn seen(&self) {
        self.counters.requests_seen.fetch_add(1, Relaxed);
    }
}

fn unix_secs() -> u64 {
    aiperf_clock::wall_ns() / 1_000_000_000
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, "application/json".parse().expect("static"));
    r
}

/// The OpenAI `type` of a simulated error status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        503 => "service_unavailable",
        500..=599 => "internal_error",
        _ => "error",
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn header_ms(h: &HeaderMap, name: &str) -> Option<Duration> {
    header(h, name)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(ms)
}

fn header_map(h: &HeaderMap) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in h {
        let v = String::from_utf8_lossy(v.as_bytes());
        m.entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    m
}

fn router(sh: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/", get(root))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(1 << 30))
        .with_state(sh)
}

/// The connection of a request (absent only when the router is driven directly).
type Conn = Option<Extension<Arc<ConnControl>>>;

async fn chat(
    State(sh): State<Arc<Shared>>,
    conn: Conn,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    infer(sh, Kind::Chat, conn.map(|c| c.0), headers, body).await
}

async fn completions(
    State(sh): State<Arc<Shared>>,
    conn: Conn,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    infer(sh, Kind::Completion, conn.map(|c| c.0), headers, body).await
}

async fn infer(
    sh: Arc<Shared>,
    kind: Kind,
    conn: Option<Arc<ConnControl>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let t_start = Instant::now();
    sh.seen();
    let n_req = sh.counters.requests.fetch_add(1, Relaxed);
    if n_req == 0 {
        let open = sh.counters.connections.load(SeqCst);
        sh.counters
            .connections_at_first_request
            .store(open + 1, SeqCst);
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    if sh.config.record_requests {
        let body_json = match &parsed {
            Ok(v) => v.clone(),
            Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
        };
        sh.log.push(ReceivedRequest {
            path: kind.path().to_string(),
            headers: header_map(&headers),
            body_json,
        });
    }
    drop(body);
    let value = match parsed {
        Ok(v) => v,
        Err(e) => {
            return sh.error(
                400,
                &format!("invalid JSON body: {e}"),
                "invalid_request_error",
            );
        }
    };

    if let Some(forced) = header(&headers, "x-mock-error") {
        return match forced.parse::<u16>() {
            Ok(status @ 200..=599) => sh.error(status, "Simulated error", error_type(status)),
            _ => sh.error(
                400,
                &format!("X-Mock-Error must be an HTTP status in 200-599, got {forced:?}"),
                "invalid_request_error",
            ),
        };
    }
    let cfg = &sh.config;
    if cfg.error_rate > 0.0
        && unit(splitmix64(cfg.random_seed ^ splitmix64(n_req))) * 100.0 < cfg.error_rate
    {
        return sh.error(500, "Simulated error", "internal_error");
    }
    let fault = fault::pick(&cfg.faults, n_req, cfg.random_seed);
    if let Some(FaultCase::Status(status)) = fault {
        let mut r = sh.error(
            status,
            &format!("Simulated fault: HTTP {status}"),
            error_type(status),
        );
        if status == 429 {
            r.headers_mut()
                .insert(RETRY_AFTER, "1".parse().expect("static"));
        }
        return r;
    }

    let default_model = cfg.models.first().map_or("mock-model", String::as_str);
    let p = match parse(kind, &value, default_model) {
        Ok(p) => p,
        Err(m) => return sh.error(400, &m, "invalid_request_error"),
    };
    drop(value);

    let ttft = header_ms(&headers, "x-mock-ttft-ms").unwrap_or_else(|| {
        let frac = match header(&headers, "x-request-id") {
            Some(id) => ttft_spread_fraction(id),
            None => (n_req as f64 * 0.618_033_988_749_894_9).fract(),
        };
        sh.ttft + ms(cfg.ttft_spread_ms * frac)
    });
    let itl = header_ms(&headers, "x-mock-itl-ms").unwrap_or(sh.itl);
    let n = p.max_tokens.unwrap_or(cfg.default_max_tokens).max(1);
    let finish_reason = if p.max_tokens.is_some() {
        "length"
    } else {
        "stop"
    };
    let reasoning = if kind == Kind::Chat && p.model.contains("reasoning") {
        cfg.reasoning_tokens.min(n - 1)
    } else {
        0
    };
    let prompt_tokens = match &sh.tokenizer {
        Some(t) => p.prompt.tokens_with(t),
        None => p.prompt.tokens(),
    };
    let model = sh.models.get(&p.model);
    model.prompt_tokens.fetch_add(prompt_tokens, Relaxed);
    sh.counters.prompt_tokens.fetch_add(prompt_tokens, Relaxed);
    tracing::debug!(
        path = kind.path(),
        model = %p.model,
        stream = p.stream,
        prompt_tokens,
        output_tokens = n,
        ttft_ms = ttft.as_secs_f64() * 1e3,
        "request"
    );

    let mut lc = Lifecycle::begin(sh.clone(), model, t_start, prompt_tokens);
    let id = match kind {
        Kind::Chat => format!("chatcmpl-mock{n_req:012x}"),
        Kind::Completion => format!("cmpl-mock{n_req:012x}"),
    };
    let created = unix_secs();
    let seed = p.prompt.hash;

    if p.stream && fault != Some(FaultCase::NonSse) {
        let error_after =
            header(&headers, "x-mock-stream-error-after").and_then(|v| v.parse().ok());
        let plan = StreamPlan {
            fmt: ChunkFmt::new(kind, &id, created, &p.model),
            seed,
            n,
            reasoning,
            ttft,
            itl,
            error_after,
            include_usage: p.include_usage,
            prompt_tokens,
            finish_reason,
            request: n_req,
            x_request_id: sh
                .timing_log
                .as_ref()
                .and_then(|_| header(&headers, "x-request-id").map(str::to_string)),
        };
        sh.statuses.inc(200);
        let tokens = TokenStream::new(lc, plan);
        let body = match fault {
            Some(case) => Body::from_stream(fault::apply(case, true, tokens, conn)),
            None => Body::from_stream(tokens),
        };
        let mut r = Response::new(body);
        r.headers_mut()
            .insert(CONTENT_TYPE, "text/event-stream".parse().expect("static"));
        r.headers_mut()
            .insert(CACHE_CONTROL, "no-cache".parse().expect("static"));
        return r;
    }

    // Non-streaming: answer when the last token would have been sent.
    sleep_until(t_start + ttft + itl * (n - 1)).await;
    let mut reasoning_text = String::with_capacity(reasoning as usize * 6);
    let mut content = String::with_capacity((n - reasoning) as usize * 6);
    for i in 0..n {
        if i < reasoning {
            reasoning_text.push_str(word(seed, i));
        } else {
            content.push_str(word(seed, i));
        }
    }
    let usage = usage_json(prompt_tokens, u64::from(n), u64::from(reasoning));
    let model_json = serde_json::to_string(&p.model).unwrap_or_default();
    let body = match kind {
        Kind::Chat => {
            let reasoning_field = if reasoning > 0 {
                format!(",\"reasoning_content\":\"{reasoning_text}\"")
            } else {
                String::new()
            };
            format!(
                "{{\"id\":\"{id}\",\"object\":\"chat.completion\",\"created\":{created},\"model\":{model_json},\
                 \"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{content}\"{reasoning_field}}},\
                 \"logprobs\":null,\"finish_reason\":\"{finish_reason}\"}}],\"usage\":{usage}}}"
            )
        }
        Kind::Completion => format!(
            "{{\"id\":\"{id}\",\"object\":\"text_completion\",\"created\":{created},\"model\":{model_json},\
             \"choices\":[{{\"index\":0,\"text\":\"{content}\",\"logprobs\":null,\"finish_reason\":\"{finish_reason}\"}}],\
             \"usage\":{usage}}}"
        ),
    };
    lc.model.ttft.observe(ttft);
    lc.model.itl.observe_n(itl, u64::from(n - 1));
    lc.tokens(u64::from(n));
    lc.succeed(finish_reason);
    sh.statuses.inc(200);
    match fault {
        Some(case) => {
            let mut r = json_response(StatusCode::OK, String::new());
            let once =
                futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(body))]);
            *r.body_mut() = Body::from_stream(fault::apply(case, false, once, conn));
            r
        }
        None => json_response(StatusCode::OK, body),
    }
}

async fn models(State(sh): State<Arc<Shared>>) -> Response {
    sh.seen();
    let data: Vec<Value> = sh
        .config
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": sh.started_unix, "owned_by": "aiperf-mock"}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": data}).to_string(),
    )
}

async fn health(State(sh): State<Arc<Shared>>) -> Response {
    sh.seen();
    json_response(
        StatusCode::OK,
        json!({"status": "healthy", "config": sh.config}).to_string(),
    )
}

async fn metrics(State(sh): State<Arc<Shared>>) -> Response {
    sh.seen();
    let mut r = Response::new(Body::from(sh.metrics_text()));
    r.headers_mut().insert(
        CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8"
            .parse()
            .expect("static"),
    );
    r
}

async fn root(State(sh): State<Arc<Shared>>) -> Response {
    sh.seen();
    json_response(
        StatusCode::OK,
        json!({
            "name": "aiperf-rs mock server",
            "version": env!("CARGO_PKG_VERSION"),
            "endpoints": ["/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"],
            "config": sh.config,
        })
        .to_string(),
    )
}

async fn not_found(State(sh): State<Arc<Shared>>) -> Response {
    sh.seen();
    json_response(
        StatusCode::NOT_FOUND,
        error_json("Not Found", "not_found_error", 404),
    )
}

impl Shared {
    fn metrics_text(&self) -> String {
        crate::metrics::render(&self.models, &self.counters, &self.statuses)
    }
}

/// A running mock server (see the crate documentation).
///
/// Dropping it without [`MockServer::shutdown`] also stops accepting connections.
pub struct MockServer {
    /// The bound address (the real port when started with port 0).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl MockServer {
    /// Binds `addr` (port 0 picks a free port), spawns the server on the current
    /// tokio runtime and returns at once; the server is accepting connections when
    /// this returns.
    pub async fn start(config: MockConfig, addr: SocketAddr) -> anyhow::Result<MockServer> {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }?;
        socket.set_reuseaddr(true)?;
        socket
            .bind(addr)
            .with_context(|| format!("cannot bind the mock server to {addr}"))?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let tokenizer = match config.tokenizer.clone() {
            Some(spec) => Some(
                tokio::task::spawn_blocking(move || aiperf_tokenizer::load(Some(&spec)))
                    .await?
                    .map_err(|e| anyhow::anyhow!("mock server tokenizer: {e}"))?,
            ),
            None => None,
        };
        let timing_log = config
            .timing_log
            .as_deref()
            .map(TimingLog::create)
            .transpose()?;
        let shared = Arc::new(Shared::new(config, tokenizer, timing_log));
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::conn::serve(listener, app, shared.clone(), rx));
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:8000` (a wildcard bind address is
    /// replaced by the loopback address).
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The server's configuration.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> MockStats {
        let c = &self.shared.counters;
        MockStats {
            requests_seen: c.requests_seen.load(Relaxed),
            requests: c.requests.load(Relaxed),
            successes: c.successes.load(Relaxed),
            errors: c.errors.load(Relaxed),
            disconnects: c.disconnects.load(Relaxed),
            in_flight: c.in_flight.load(Relaxed),
            max_in_flight: c.max_in_flight.load(Relaxed),
            prompt_tokens: c.prompt_tokens.load(Relaxed),
            completion_tokens: c.completion_tokens.load(Relaxed),
            connections: c.connections.load(SeqCst),
            connections_at_first_request: c
                .connections_at_first_request
                .load(SeqCst)
                .checked_sub(1),
        }
    }

    /// The inference requests received so far, in arrival order: the first
    /// [`crate::RECEIVED_CAP`] (100,000) of them. Empty when
    /// [`MockConfig::record_requests`] is off.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.log.snapshot()
    }

    /// The current `GET /metrics` text.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics_text()
    }

    /// Stops accepting connections, waits (at most 2 s) for open connections
    /// to finish and writes out the timing log.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(log) = &self.shared.timing_log {
            log.flush();
        }
    }
}
