//! The built-in OpenAI-compatible mock LLM server of aiperf-rs.
//!
//! It serves `POST /v1/chat/completions` and `POST /v1/completions` (streaming and
//! non-streaming), `GET /v1/models`, `GET /health` and `GET /metrics` (Prometheus
//! text with vLLM-style names). Responses are deterministic and their timing follows
//! an absolute schedule driven by the precise timer of [`aiperf_clock::timer`]:
//!
//! * token `i` (0-based, reasoning and content tokens alike) of a streaming response
//!   is sent at `t_start + ttft + i * itl`, where `t_start` is when the request was
//!   received; a non-streaming response is sent at `t_start + ttft + (n - 1) * itl`;
//! * the output has exactly `max_completion_tokens` (else `max_tokens`, else
//!   [`MockConfig::default_max_tokens`]) tokens, each one word of [`OUTPUT_WORDS`]
//!   chosen by a hash of the prompt, so that a Qwen3 or GPT-2 tokenizer counts
//!   exactly that many tokens in the joined text;
//! * `usage.prompt_tokens` is `ceil(characters / 4)` over all message contents
//!   (chat) or the prompt text (completions; token-id prompts count one per id),
//!   at least 1.
//!
//! Request headers for tests: `X-Mock-TTFT-Ms` / `X-Mock-ITL-Ms` override the
//! latencies of one request, `X-Mock-Error: <status>` answers with that status, and
//! `X-Mock-Stream-Error-After: K` ends a stream with an SSE error event after `K`
//! tokens. See `docs/mock-server.md` for the full description.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use aiperf_mock_server::{MockConfig, MockServer};
//! let server = MockServer::start(MockConfig::fast(), "127.0.0.1:0".parse()?).await?;
//! let url = format!("{}/v1/chat/completions", server.url());
//! // ... send requests to `url` ...
//! assert_eq!(server.stats().errors, 0);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod config;
mod conn;
mod fault;
mod generate;
mod log;
mod metrics;
mod server;
mod timing_log;

pub use config::{MockArgs, MockConfig};
pub use fault::{Fault, FaultCase, FaultWhen};
pub use log::{RECEIVED_CAP, ReceivedRequest};
pub use server::MockServer;

/// The output vocabulary: 64 very common lowercase English words, each with a
/// leading space, each a single token in both the Qwen3 and the GPT-2 tokenizers
/// even when concatenated (verified by this crate's tests against the real
/// tokenizer files). Output token `i` of a request is one of these words.
pub const OUTPUT_WORDS: &[&str] = &[
    " the", " of", " and", " to", " in", " is", " that", " it", " was", " for", " on", " are",
    " with", " as", " be", " at", " this", " have", " from", " or", " one", " had", " by", " but",
    " not", " what", " all", " were", " we", " when", " your", " can", " said", " there", " use",
    " an", " each", " which", " she", " do", " how", " their", " if", " will", " up", " other",
    " about", " out", " many", " then", " them", " these", " so", " some", " her", " would",
    " make", " like", " him", " into", " time", " has", " look", " two",
];

/// A snapshot of a [`MockServer`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockStats {
    /// HTTP requests of any kind (inference, `/metrics`, `/health`, ...).
    pub requests_seen: u64,
    /// Inference requests (`/v1/chat/completions`, `/v1/completions`) received.
    pub requests: u64,
    /// Inference requests completed successfully (the last byte was produced).
    pub successes: u64,
    /// Error responses (4xx/5xx, injected or not) plus streams ended by an
    /// injected error event.
    pub errors: u64,
    /// Requests whose client went away before the response was complete.
    pub disconnects: u64,
    /// Inference requests currently being answered.
    pub in_flight: u64,
    /// The largest `in_flight` seen.
    pub max_in_flight: u64,
    /// Sum of `usage.prompt_tokens` of accepted requests.
    pub prompt_tokens: u64,
    /// Output tokens generated (reasoning included; partial streams count what
    /// was produced).
    pub completion_tokens: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// TCP connections accepted when the first inference request arrived
    /// (`None` before any): a client that opened its connections ahead shows
    /// them all here.
    pub connections_at_first_request: Option<u64>,
}

/// The fraction in `[0, 1)` of `--ttft-spread-ms` added to the TTFT of a request
/// carrying `X-Request-ID: request_id` (a hash of the header value).
///
/// Requests without the header use the golden-ratio sequence of their arrival
/// number instead, which spreads evenly over `[0, 1)`.
pub fn ttft_spread_fraction(request_id: &str) -> f64 {
    generate::unit(generate::splitmix64(generate::fnv1a(
        0xcbf2_9ce4_8422_2325,
        request_id.as_bytes(),
    )))
}

/// Runs a mock server in the foreground (the `aiperf-rs mock-server` command):
/// prints `aiperf-rs mock server listening on http://HOST:PORT` and serves until
/// Ctrl-C (or SIGTERM).
pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    let config = MockConfig::from(&args);
    let addr = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot resolve --host {}: {e}", args.host))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("--host {} resolves to no address", args.host))?;
    let server = MockServer::start(config, addr).await?;
    println!("aiperf-rs mock server listening on {}", server.url());
    tracing::info!(config = ?server.config(), "mock server started");

    shutdown_signal().await;
    tracing::info!(stats = ?server.stats(), "mock server shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
