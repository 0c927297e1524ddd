//! Command-line arguments and plain configuration of the mock server.

use std::time::Duration;

use serde::Serialize;

use crate::fault::Fault;

/// Command-line arguments of `aiperf-rs mock-server` (every flag can also be set
/// through the `MOCK_SERVER_*` environment variable named next to it).
#[derive(clap::Args, Debug, Clone)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, env = "MOCK_SERVER_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on (0 picks a free port).
    #[arg(long, short = 'p', env = "MOCK_SERVER_PORT", default_value_t = 8000)]
    pub port: u16,

    /// Time to first token, in milliseconds.
    #[arg(long, env = "MOCK_SERVER_TTFT_MS", default_value_t = 20.0, value_parser = non_negative)]
    pub ttft_ms: f64,

    /// Inter-token latency, in milliseconds.
    #[arg(long, env = "MOCK_SERVER_ITL_MS", default_value_t = 5.0, value_parser = non_negative)]
    pub itl_ms: f64,

    /// Respond as fast as possible: TTFT, ITL and TTFT spread are all 0.
    #[arg(long, env = "MOCK_SERVER_FAST")]
    pub fast: bool,

    /// Adds `S * f` ms to each request's TTFT, where `f` in [0, 1) is a deterministic
    /// hash of the request's `X-Request-ID` header (or of its arrival number).
    #[arg(long, env = "MOCK_SERVER_TTFT_SPREAD_MS", default_value_t = 0.0, value_parser = non_negative)]
    pub ttft_spread_ms: f64,

    /// Reasoning tokens emitted first by models whose name contains `reasoning`.
    #[arg(long, env = "MOCK_SERVER_REASONING_TOKENS", default_value_t = 10)]
    pub reasoning_tokens: u32,

    /// Percentage (0-100) of inference requests answered with HTTP 500.
    #[arg(long, env = "MOCK_SERVER_ERROR_RATE", default_value_t = 0.0, value_parser = percent)]
    pub error_rate: f64,

    /// Seed of the (deterministic) error injection.
    #[arg(long, env = "MOCK_SERVER_RANDOM_SEED", default_value_t = 0)]
    pub random_seed: u64,

    /// Output tokens when a request sets neither `max_completion_tokens` nor `max_tokens`.
    #[arg(long, env = "MOCK_SERVER_DEFAULT_MAX_TOKENS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub default_max_tokens: u32,

    /// Model names listed by `GET /v1/models` (any name is accepted for inference).
    #[arg(
        long = "model",
        env = "MOCK_SERVER_MODELS",
        value_delimiter = ',',
        default_values_t = [String::from("mock-model"), String::from("mock-reasoning")]
    )]
    pub models: Vec<String>,

    /// Keep the first 100,000 received inference requests in memory (for debugging).
    #[arg(long, env = "MOCK_SERVER_RECORD_REQUESTS")]
    pub record_requests: bool,

    /// Count `usage.prompt_tokens` with this tokenizer (a `tokenizer.json`, a directory
    /// holding one, or `builtin`), the way the client counts ISL: every text of the
    /// request joined with one space. `approx` = ceil(characters / 4), which is cheaper.
    #[arg(long, env = "MOCK_SERVER_TOKENIZER", default_value = "builtin")]
    pub tokenizer: String,

    /// Inject a fault: `CASE[=N][@WHEN]`, repeatable (the first that selects a
    /// request applies). CASE: status=CODE, reset-after=N, stall-after=N,
    /// garbage-lines, invalid-json, crlf, split, non-sse, big-chunk, slow-drip=MS.
    /// WHEN: every request (default), `@P` with probability P, `@1/N` every N-th.
    /// See docs/mock-server.md.
    #[arg(
        long = "fault",
        env = "MOCK_SERVER_FAULTS",
        value_delimiter = ',',
        value_name = "CASE[=N][@WHEN]"
    )]
    pub faults: Vec<Fault>,

    /// Close the connection after every response, although the response
    /// announces keep-alive (as llama.cpp's server does).
    #[arg(long, env = "MOCK_SERVER_CLOSE_AFTER_RESPONSE")]
    pub close_after_response: bool,

    /// Log level (`error`, `warn`, `info`, `debug`, `trace`) or a tracing filter.
    #[arg(long, env = "MOCK_SERVER_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Write the TTFT the server measured for every streamed request to this file
    /// (JSON lines; see docs/mock-server.md), for comparison with a client's figures.
    #[arg(long, env = "MOCK_SERVER_TIMING_LOG", value_name = "PATH")]
    pub timing_log: Option<std::path::PathBuf>,
}

fn non_negative(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a finite value >= 0"))
    }
}

fn percent(s: &str) -> Result<f64, String> {
    let v = non_negative(s)?;
    if v <= 100.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a percentage in [0, 100]"))
    }
}

/// Plain configuration of a [`crate::MockServer`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MockConfig {
    /// Time to first token, in milliseconds.
    pub ttft_ms: f64,
    /// Inter-token latency, in milliseconds.
    pub itl_ms: f64,
    /// Maximum extra TTFT, in milliseconds, spread deterministically over requests.
    pub ttft_spread_ms: f64,
    /// Reasoning tokens of `*reasoning*` models (at least one content token remains).
    pub reasoning_tokens: u32,
    /// Percentage (0-100) of inference requests answered with HTTP 500.
    pub error_rate: f64,
    /// Seed of the error injection.
    pub random_seed: u64,
    /// Output tokens when a request gives no `max_completion_tokens`/`max_tokens`.
    pub default_max_tokens: u32,
    /// Model names listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Keep received inference requests for [`crate::MockServer::received`].
    pub record_requests: bool,
    /// Tokenizer counting `usage.prompt_tokens` (`None` = ceil(characters / 4)).
    pub tokenizer: Option<String>,
    /// File receiving the server-measured TTFT of every streamed request
    /// (`--timing-log`; `None` = not written).
    pub timing_log: Option<std::path::PathBuf>,
    /// Injected faults (`--fault`), in order of precedence.
    pub faults: Vec<Fault>,
    /// Close every connection after its response, although it announced keep-alive.
    pub close_after_response: bool,
}

impl Default for MockConfig {
    /// TTFT 20 ms, ITL 5 ms, no spread, 10 reasoning tokens, no errors, seed 0,
    /// 16 default output tokens, models `mock-model` and `mock-reasoning`, and
    /// request recording on (for tests).
    fn default() -> Self {
        Self {
            ttft_ms: 20.0,
            itl_ms: 5.0,
            ttft_spread_ms: 0.0,
            reasoning_tokens: 10,
            error_rate: 0.0,
            random_seed: 0,
            default_max_tokens: 16,
            models: vec!["mock-model".into(), "mock-reasoning".into()],
            record_requests: true,
            tokenizer: None,
            timing_log: None,
            faults: Vec::new(),
            close_after_response: false,
        }
    }
}

impl MockConfig {
    /// The default configuration with all latencies set to 0.
    pub fn fast() -> Self {
        Self {
            ttft_ms: 0.0,
            itl_ms: 0.0,
            ..Self::default()
        }
    }

    /// Sets TTFT and ITL in milliseconds (builder style).
    pub fn with_latency(mut self, ttft_ms: f64, itl_ms: f64) -> Self {
        self.ttft_ms = ttft_ms;
        self.itl_ms = itl_ms;
        self
    }

    /// Adds a fault (builder style); see [`Fault`] for the syntax.
    ///
    /// # Panics
    /// When `spec` is not a valid fault.
    pub fn with_fault(mut self, spec: &str) -> Self {
        self.faults
            .push(spec.parse().unwrap_or_else(|e| panic!("{e}")));
        self
    }

    /// Closes every connection after its response (builder style).
    pub fn closing_after_response(mut self) -> Self {
        self.close_after_response = true;
        self
    }

    /// The TTFT as a `Duration`.
    pub fn ttft(&self) -> Duration {
        ms(self.ttft_ms)
    }

    /// The ITL as a `Duration`.
    pub fn itl(&self) -> Duration {
        ms(self.itl_ms)
    }
}

impl From<&MockArgs> for MockConfig {
    /// Applies `--fast` (zero latencies); request recording follows
    /// `--record-requests` (off by default for the CLI server).
    fn from(a: &MockArgs) -> Self {
        let (ttft_ms, itl_ms, ttft_spread_ms) = if a.fast {
            (0.0, 0.0, 0.0)
        } else {
            (a.ttft_ms, a.itl_ms, a.ttft_spread_ms)
        };
        Self {
            ttft_ms,
            itl_ms,
            ttft_spread_ms,
            reasoning_tokens: a.reasoning_tokens,
            error_rate: a.error_rate,
            random_seed: a.random_seed,
            default_max_tokens: a.default_max_tokens.max(1),
            models: a.models.clone(),
            record_requests: a.record_requests,
            tokenizer: (a.tokenizer != "approx").then(|| a.tokenizer.clone()),
            timing_log: a.timing_log.clone(),
            faults: a.faults.clone(),
            close_after_response: a.close_after_response,
        }
    }
}

/// Milliseconds (finite, clamped at 0) to a `Duration`.
pub(crate) fn ms(v: f64) -> Duration {
    if v.is_finite() && v > 0.0 {
        Duration::from_secs_f64((v / 1000.0).min(86_400.0 * 365.0))
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MockArgs,
    }

    fn parse(argv: &[&str]) -> Result<MockConfig, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("mock").chain(argv.iter().copied()))?;
        Ok(MockConfig::from(&cli.args))
    }

    #[test]
    fn defaults_match_mock_config_default() {
        let c = parse(&[]).unwrap();
        assert_eq!(
            c,
            MockConfig {
                record_requests: false,
                tokenizer: Some("builtin".into()),
                ..MockConfig::default()
            }
        );
    }

    #[test]
    fn flags_are_applied_and_validated() {
        let c = parse(&[
            "--ttft-ms",
            "30",
            "--itl-ms",
            "2.5",
            "--ttft-spread-ms",
            "100",
            "--error-rate",
            "12.5",
            "--random-seed",
            "9",
            "--reasoning-tokens",
            "3",
            "--model",
            "a,b",
            "-p",
            "0",
        ])
        .unwrap();
        assert_eq!((c.ttft_ms, c.itl_ms, c.ttft_spread_ms), (30.0, 2.5, 100.0));
        assert_eq!(
            (c.error_rate, c.random_seed, c.reasoning_tokens),
            (12.5, 9, 3)
        );
        assert_eq!(c.models, ["a", "b"]);
        let fast = parse(&["--fast", "--ttft-ms", "30", "--ttft-spread-ms", "5"]).unwrap();
        assert_eq!(
            (fast.ttft_ms, fast.itl_ms, fast.ttft_spread_ms),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(fast.ttft(), Duration::ZERO);
        assert!(parse(&["--error-rate", "101"]).is_err());
        assert!(parse(&["--itl-ms", "-1"]).is_err());
        assert!(parse(&["--default-max-tokens", "0"]).is_err());
        let logged = parse(&["--timing-log", "/tmp/t.jsonl"]).unwrap();
        assert_eq!(
            logged.timing_log.as_deref(),
            Some(std::path::Path::new("/tmp/t.jsonl"))
        );
    }
}
