//! Request parsing, deterministic output tokens, chunk formatting and the
//! streaming response body.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use aiperf_clock::timer::{Sleep, sleep_until};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use crate::OUTPUT_WORDS;
use crate::metrics::ModelMetrics;
use crate::server::Shared;

/// Largest accepted `max_tokens` / `max_completion_tokens`.
pub(crate) const MAX_OUTPUT_TOKENS: u64 = 1 << 20;

/// The two inference endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `POST /v1/chat/completions`
    Chat,
    /// `POST /v1/completions`
    Completion,
}

impl Kind {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Kind::Chat => "/v1/chat/completions",
            Kind::Completion => "/v1/completions",
        }
    }
}

/// SplitMix64 finaliser: a fast, well-mixed 64-bit hash of `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over `bytes`, continuing from `h`.
pub(crate) fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Maps a hash to a fraction in `[0, 1)`.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The `i`-th output word for a prompt hash.
#[inline]
pub(crate) fn word(seed: u64, i: u32) -> &'static str {
    OUTPUT_WORDS[(splitmix64(seed ^ u64::from(i).wrapping_mul(0xD6E8_FEB8_6659_FD93))
        % OUTPUT_WORDS.len() as u64) as usize]
}

/// Prompt size and hash.
#[derive(Debug, Default, Clone)]
pub(crate) struct Prompt {
    chars: u64,
    ids: u64,
    pub(crate) hash: u64,
    /// Every text joined with one space (what the client tokenizes for ISL).
    pub(crate) joined: String,
}

impl Prompt {
    fn text(&mut self, s: &str) {
        if !self.joined.is_empty() {
            self.joined.push(' ');
        }
        self.joined.push_str(s);
        self.chars += s.chars().count() as u64;
        self.hash = fnv1a(self.hash, s.as_bytes());
        self.hash = fnv1a(self.hash, b"\n");
    }

    fn id(&mut self, v: &Value) {
        self.ids += 1;
        self.hash = fnv1a(self.hash, v.to_string().as_bytes());
        self.hash = fnv1a(self.hash, b",");
    }

    /// `ceil(chars / 4)` plus token ids given directly, at least 1.
    pub(crate) fn tokens(&self) -> u64 {
        (self.chars.div_ceil(4) + self.ids).max(1)
    }

    /// Tokens of the joined text under `tokenizer`, plus token ids given directly, at least 1.
    pub(crate) fn tokens_with(&self, tokenizer: &aiperf_tokenizer::Tokenizer) -> u64 {
        (tokenizer.count(&self.joined) as u64 + self.ids).max(1)
    }
}

/// The request fields the mock acts upon.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    /// `max_completion_tokens` or `max_tokens`, if given.
    pub(crate) max_tokens: Option<u32>,
    pub(crate) prompt: Prompt,
}

fn opt_u64(body: &Value, key: &str) -> Result<Option<u64>, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None => match v.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
                _ => Err(format!("{key} must be a non-negative integer, got {v}")),
            },
        },
    }
}

/// Extracts [`Params`] from a request body; `Err` is a 400 message.
pub(crate) fn parse(kind: Kind, body: &Value, default_model: &str) -> Result<Params, String> {
    if !body.is_object() {
        return Err("request body must be a JSON object".into());
    }
    let model = match body.get("model") {
        Some(Value::String(m)) => m.clone(),
        None | Some(Value::Null) => default_model.to_string(),
        Some(v) => return Err(format!("model must be a string, got {v}")),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max = match opt_u64(body, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => opt_u64(body, "max_tokens")?,
    };
    let max_tokens = match max {
        None => None,
        Some(0) => return Err("max_tokens must be at least 1, got 0.".into()),
        Some(n) if n > MAX_OUTPUT_TOKENS => {
            return Err(format!(
                "max_tokens {n} exceeds the mock server's limit of {MAX_OUTPUT_TOKENS}"
            ));
        }
        Some(n) => Some(n as u32),
    };
    // Accepted and validated for type only: the output is always exactly the budget.
    opt_u64(body, "min_tokens")?;

    let mut prompt = Prompt {
        hash: FNV_OFFSET,
        ..Prompt::default()
    };
    match kind {
        Kind::Chat => {
            let Some(messages) = body.get("messages").and_then(Value::as_array) else {
                return Err("messages must be an array".into());
            };
            for m in messages {
                match m.get("content") {
                    Some(Value::String(s)) => prompt.text(s),
                    Some(Value::Array(parts)) => {
                        for p in parts {
                            match p {
                                Value::String(s) => prompt.text(s),
                                p => {
                                    if let Some(s) = p.get("text").and_then(Value::as_str) {
                                        prompt.text(s);
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Kind::Completion => match body.get("prompt") {
            Some(Value::String(s)) => prompt.text(s),
            Some(Value::Array(items)) => {
                for it in items {
                    match it {
                        Value::String(s) => prompt.text(s),
                        Value::Number(_) => prompt.id(it),
                        Value::Array(ids) => ids.iter().for_each(|id| prompt.id(id)),
                        _ => return Err("prompt items must be strings or token ids".into()),
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err("prompt must be a string or an array".into()),
        },
    }
    Ok(Params {
        model,
        stream,
        include_usage,
        max_tokens,
        prompt,
    })
}

/// The `usage` object.
pub(crate) fn usage_json(prompt: u64, completion: u64, reasoning: u64) -> String {
    format!(
        "{{\"prompt_tokens\":{prompt},\"completion_tokens\":{completion},\"total_tokens\":{},\
         \"prompt_tokens_details\":{{\"cached_tokens\":0}},\
         \"completion_tokens_details\":{{\"reasoning_tokens\":{reasoning}}}}}",
        prompt + completion
    )
}

/// Preformatted chunk heads of one streaming response.
pub(crate) struct ChunkFmt {
    kind: Kind,
    /// `{"id":...,"object":...,"created":...,"model":...,`
    head: String,
}

impl ChunkFmt {
    pub(crate) fn new(kind: Kind, id: &str, created: u64, model: &str) -> Self {
        let object = match kind {
            Kind::Chat => "chat.completion.chunk",
            Kind::Completion => "text_completion",
        };
        let model = serde_json::to_string(model).unwrap_or_else(|_| "\"\"".into());
        Self {
            kind,
            head: format!(
                "{{\"id\":\"{id}\",\"object\":\"{object}\",\"created\":{created},\"model\":{model},"
            ),
        }
    }

    /// One token event.
    pub(crate) fn token(
        &self,
        word: &str,
        role: bool,
        reasoning: bool,
        finish: Option<&str>,
    ) -> Bytes {
        let mut s = String::with_capacity(self.head.len() + 128);
        s.push_str("data: ");
        s.push_str(&self.head);
        s.push_str("\"choices\":[{\"index\":0,");
        match self.kind {
            Kind::Chat => {
                s.push_str("\"delta\":{");
                if role {
                    s.push_str("\"role\":\"assistant\",");
                }
                s.push_str(if reasoning {
                    "\"reasoning_content\":\""
                } else {
                    "\"content\":\""
                });
                s.push_str(word);
                s.push_str("\"}");
            }
            Kind::Completion => {
                s.push_str("\"text\":\"");
                s.push_str(word);
                s.push('"');
            }
        }
        s.push_str(",\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(f) => {
                s.push('"');
                s.push_str(f);
                s.push('"');
            }
            None => s.push_str("null"),
        }
        s.push_str("}]}\n\n");
        Bytes::from(s)
    }

    /// The final usage event (`"choices": []`).
    pub(crate) fn usage(&self, usage: &str) -> Bytes {
        Bytes::from(format!(
            "data: {}\"choices\":[],\"usage\":{usage}}}\n\n",
            self.head
        ))
    }
}

/// The `[DONE]` sentinel event.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// An OpenAI-style error object.
pub(crate) fn error_json(message: &str, kind: &str, code: u16) -> String {
    serde_json::json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}

/// Per-request accounting: in-flight gauges on creation, and on drop a
/// disconnect unless the request was completed or failed.
pub(crate) struct Lifecycle {
    sh: Arc<Shared>,
    pub(crate) model: Arc<ModelMetrics>,
    pub(crate) t_start: Instant,
    /// Tokens this request holds in the KV-cache gauge.
    kv_tokens: std::sync::atomic::AtomicI64,
    done: bool,
}

impl Lifecycle {
    pub(crate) fn begin(
        sh: Arc<Shared>,
        model: Arc<ModelMetrics>,
        t_start: Instant,
        prompt_tokens: u64,
    ) -> Self {
        let n = sh.counters.in_flight.fetch_add(1, Relaxed) + 1;
        sh.counters.max_in_flight.fetch_max(n, Relaxed);
        model.running.fetch_add(1, Relaxed);
        // No queue in the mock: every request is admitted at once.
        model.queue.observe(Duration::ZERO);
        model.prefix_queries.fetch_add(prompt_tokens, Relaxed);
        let prompt = prompt_tokens as i64;
        model.kv_tokens.fetch_add(prompt, Relaxed);
        Self {
            sh,
            model,
            t_start,
            kv_tokens: std::sync::atomic::AtomicI64::new(prompt),
            done: false,
        }
    }

    /// Records a generated token.
    #[inline]
    pub(crate) fn tokens(&self, n: u64) {
        self.model.kv_tokens.fetch_add(n as i64, Relaxed);
        self.kv_tokens.fetch_add(n as i64, Relaxed);
        self.model.generation_tokens.fetch_add(n, Relaxed);
        self.sh.counters.completion_tokens.fetch_add(n, Relaxed);
    }

    /// The request completed successfully.
    pub(crate) fn succeed(&mut self, finish_reason: &str) {
        if self.done {
            return;
        }
        self.sh.counters.successes.fetch_add(1, Relaxed);
        if finish_reason == "length" {
            &self.model.success_length
        } else {
            &self.model.success_stop
        }
        .fetch_add(1, Relaxed);
        self.model.e2e.observe(self.t_start.elapsed());
        self.end();
    }

    /// The request ended with an (injected) error.
    pub(crate) fn fail(&mut self) {
        if self.done {
            return;
        }
        self.sh.counters.errors.fetch_add(1, Relaxed);
        self.end();
    }

    fn end(&mut self) {
        self.done = true;
        self.sh.counters.in_flight.fetch_sub(1, Relaxed);
        self.model.running.fetch_sub(1, Relaxed);
        self.model
            .kv_tokens
            .fetch_sub(self.kv_tokens.load(Relaxed), Relaxed);
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        if !self.done {
            self.sh.counters.disconnects.fetch_add(1, Relaxed);
            self.end();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Tokens,
    Usage,
    Done,
    End,
}

/// The body of a streaming response: one SSE event per token, each released at
/// `first_at + i * itl` by the precise timer.
pub(crate) struct TokenStream {
    lc: Lifecycle,
    fmt: ChunkFmt,
    seed: u64,
    n: u32,
    reasoning: u32,
    next: u32,
    first_at: Instant,
    itl: Duration,
    sleep: Sleep,
    last_emit: Instant,
    error_after: Option<u32>,
    include_usage: bool,
    prompt_tokens: u64,
    finish_reason: &'static str,
    phase: Phase,
    /// Arrival number, for the timing log.
    request: u64,
    /// `X-Request-ID`, kept only when there is a timing log.
    x_request_id: Option<String>,
    /// When the first token was handed over, after `t_start`.
    measured_ttft: Duration,
}

/// What a [`TokenStream`] emits.
pub(crate) struct StreamPlan {
    pub(crate) fmt: ChunkFmt,
    pub(crate) seed: u64,
    pub(crate) n: u32,
    pub(crate) reasoning: u32,
    pub(crate) ttft: Duration,
    pub(crate) itl: Duration,
    pub(crate) error_after: Option<u32>,
    pub(crate) include_usage: bool,
    pub(crate) prompt_tokens: u64,
    pub(crate) finish_reason: &'static str,
    /// Arrival number of the request (0-based).
    pub(crate) request: u64,
    /// The request's `X-Request-ID` when the server keeps a timing log.
    pub(crate) x_request_id: Option<String>,
}

impl TokenStream {
    pub(crate) fn new(lc: Lifecycle, p: StreamPlan) -> Self {
        let first_at = lc.t_start + p.ttft;
        Self {
            fmt: p.fmt,
            seed: p.seed,
            n: p.n,
            reasoning: p.reasoning,
            next: 0,
            first_at,
            itl: p.itl,
            sleep: sleep_until(first_at),
            last_emit: lc.t_start,
            error_after: p.error_after,
            include_usage: p.include_usage,
            prompt_tokens: p.prompt_tokens,
            finish_reason: p.finish_reason,
            phase: Phase::Tokens,
            request: p.request,
            x_request_id: p.x_request_id,
            measured_ttft: Duration::ZERO,
            lc,
        }
    }
}

impl Stream for TokenStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Tokens => {
                    let error_now = this.error_after.is_some_and(|k| this.next >= k);
                    if this.next >= this.n && !error_now {
                        this.phase = Phase::Usage;
                        continue;
                    }
                    ready!(Pin::new(&mut this.sleep).poll(cx));
                    if error_now {
                        this.phase = Phase::End;
                        this.lc.fail();
                        let msg = format!("Simulated stream error after {} tokens", this.next);
                        let ev = format!("data: {}\n\n", error_json(&msg, "internal_error", 500));
                        return Poll::Ready(Some(Ok(Bytes::from(ev))));
                    }
                    let now = Instant::now();
                    let i = this.next;
                    let last = i + 1 == this.n;
                    let chunk = this.fmt.token(
                        word(this.seed, i),
                        i == 0,
                        i < this.reasoning,
                        last.then_some(this.finish_reason),
                    );
                    if i == 0 {
                        this.measured_ttft = now - this.lc.t_start;
                        this.lc.model.ttft.observe(this.measured_ttft);
                    } else {
                        this.lc.model.itl.observe(now - this.last_emit);
                    }
                    this.last_emit = now;
                    this.lc.tokens(1);
                    this.next += 1;
                    if this.next < this.n {
                        this.sleep.reset(this.first_at + this.itl * this.next);
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Phase::Usage => {
                    this.phase = Phase::Done;
                    if this.include_usage {
                        let u = usage_json(
                            this.prompt_tokens,
                            u64::from(this.n),
                            u64::from(this.reasoning),
                        );
                        return Poll::Ready(Some(Ok(this.fmt.usage(&u))));
                    }
                }
                Phase::Done => {
                    this.phase = Phase::End;
                    this.lc.succeed(this.finish_reason);
                    if let Some(log) = &this.lc.sh.timing_log {
                        log.record(
                            this.request,
                            this.x_request_id.as_deref(),
                            this.measured_ttft,
                        );
                    }
                    return Poll::Ready(Some(Ok(Bytes::from_static(DONE))));
                }
                Phase::End => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prompt_tokens_are_a_quarter_of_the_characters() {
        let p = parse(
            Kind::Chat,
            &json!({"messages": [{"role": "system", "content": "abcd"},
                                 {"role": "user", "content": [{"type": "text", "text": "abcde"}]}]}),
            "m",
        )
        .unwrap();
        assert_eq!(p.prompt.tokens(), 1 + 2);
        assert_eq!(p.model, "m");
        let p = parse(
            Kind::Completion,
            &json!({"prompt": [1, 2, 3], "model": "x"}),
            "m",
        )
        .unwrap();
        assert_eq!(p.prompt.tokens(), 3);
        let p = parse(Kind::Completion, &json!({"prompt": ""}), "m").unwrap();
        assert_eq!(p.prompt.tokens(), 1);
    }

    #[test]
    fn max_tokens_rules() {
        let chat = |b: Value| parse(Kind::Chat, &b, "m");
        let m = json!([]);
        assert_eq!(
            chat(json!({"messages": m, "max_tokens": 7}))
                .unwrap()
                .max_tokens,
            Some(7)
        );
        assert_eq!(
            chat(json!({"messages": m, "max_tokens": 7, "max_completion_tokens": 9}))
                .unwrap()
                .max_tokens,
            Some(9)
        );
        assert_eq!(chat(json!({"messages": m})).unwrap().max_tokens, None);
        assert!(chat(json!({"messages": m, "max_tokens": 0})).is_err());
        assert!(chat(json!({"messages": m, "max_tokens": -1})).is_err());
        assert!(chat(json!({"messages": m, "max_tokens": "x"})).is_err());
        assert!(chat(json!({"max_tokens": 3})).is_err());
    }

    #[test]
    fn words_are_deterministic_and_spread() {
        let a: Vec<_> = (0..100).map(|i| word(42, i)).collect();
        let b: Vec<_> = (0..100).map(|i| word(42, i)).collect();
        let c: Vec<_> = (0..100).map(|i| word(43, i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 30);
    }

    #[test]
    fn chunks_are_valid_json() {
        let f = ChunkFmt::new(Kind::Chat, "chatcmpl-1", 7, "we\"ird");
        let c = f.token(" the", true, false, Some("length"));
        let s = std::str::from_utf8(&c).unwrap();
        let v: Value = serde_json::from_str(s.strip_prefix("data: ").unwrap().trim_end()).unwrap();
        assert_eq!(v["model"], "we\"ird");
        assert_eq!(v["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(v["choices"][0]["delta"]["content"], " the");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let u = f.usage(&usage_json(3, 4, 1));
        let v: Value = serde_json::from_slice(&u[6..]).unwrap();
        assert_eq!(v["usage"]["total_tokens"], 7);
        assert_eq!(v["choices"], json!([]));
    }
}
