//! Per-record metric computation (`docs/metrics.md` §4, applicability §9).
//!
//! [`compute_record_metrics`] turns what one request observed ([`RecordInput`])
//! into `(tag, value)` pairs in **base units** (ns, tokens, tokens/sec/user, %).
//! A metric that cannot be computed for the record is absent (never a 0
//! placeholder). Error records (and records that fail [`invalid_reason`]) only
//! get the error-only metric `error_isl`.

use crate::catalogue::{spec, tags};
use crate::context::MetricContext;
use crate::goodput::is_good;
use crate::units::NANOS_PER_SECOND;
use aiperf_endpoint::Usage;
use aiperf_protocol::record::{HttpTrace, MetricValue};

/// One parsed response (SSE message or whole body) with what it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResponseInfo {
    /// Monotonic time (ns) it was read.
    pub perf_ns: u64,
    /// Non-empty payload: text, reasoning or tool-call text (a *content response*).
    /// Role-only deltas, usage-only chunks and `[DONE]` have `false`.
    pub has_content: bool,
    /// Non-empty **non-reasoning** content (text, reasoning-object `content`, or
    /// tool-call text): the first one defines `time_to_first_output_token`.
    pub has_output_content: bool,
}

/// Everything the metrics of one request are computed from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordInput {
    /// The request asked for (and got) a stream; streaming-only metrics need
    /// this **and** [`MetricContext::streaming`].
    pub streaming: bool,
    /// Monotonic ns right before the request was sent.
    pub start_perf_ns: u64,
    /// Monotonic ns when the response headers arrived (2xx only).
    pub ack_perf_ns: Option<u64>,
    /// Monotonic ns after the last byte (or the error / cancellation).
    pub end_perf_ns: u64,
    /// Monotonic ns when the worker received the credit (`credit_drop_latency`).
    pub credit_received_perf_ns: Option<u64>,
    /// Wall-clock ns at request start.
    pub request_start_ns: u64,
    /// Wall-clock ns the schedule intended (open-loop modes), for `schedule_lag`.
    pub scheduled_ns: Option<u64>,
    /// **All** parsed responses in arrival order, content or not.
    pub responses: Vec<ResponseInfo>,
    /// Client-side input tokens (ISL), `None` when the input is not tokenizable.
    pub input_tokens: Option<u64>,
    /// Client-side non-reasoning output tokens.
    pub output_tokens: Option<u64>,
    /// Client-side reasoning tokens (`None` or 0 when there was no reasoning).
    pub reasoning_tokens: Option<u64>,
    /// Tokens in the first content response. By default the client-side count of
    /// its text; with [`MetricContext::per_chunk_usage`] the caller passes the
    /// server's per-chunk cumulative usage of the first content chunk instead.
    pub first_chunk_tokens: Option<u64>,
    /// The server `usage` object, if any.
    pub usage: Option<Usage>,
    /// `max_tokens` sent with the request (`--osl`).
    pub requested_osl: Option<u64>,
    /// The request ended in an error (HTTP, transport, cancellation, …).
    pub is_error: bool,
    /// The transport's trace of the exchange (source of the `http_req_*` metrics).
    pub http_trace: Option<HttpTrace>,
}

impl RecordInput {
    /// The content responses (see [`ResponseInfo::has_content`]), in order.
    pub fn content_responses(&self) -> impl Iterator<Item = &ResponseInfo> {
        self.responses.iter().filter(|r| r.has_content)
    }
}

/// Why a non-error record is not a *valid* record (`docs/metrics.md` §2), if it is not:
/// end not after start, no content response, or a content response stamped
/// before the request start. The caller turns such a record into an error
/// record (`InvalidInferenceResultError`, "Invalid inference result" + this note).
pub fn invalid_reason(input: &RecordInput) -> Option<String> {
    if input.end_perf_ns <= input.start_perf_ns {
        return Some("Request end time is not after its start time.".to_string());
    }
    let mut content = input.content_responses().peekable();
    if content.peek().is_none() {
        return Some("No responses with actual content were received.".to_string());
    }
    if content.any(|r| r.perf_ns < input.start_perf_ns) {
        return Some("A response timestamp precedes the request start.".to_string());
    }
    None
}

/// Metrics computed so far for one record (base units), filtered by the context.
struct Computed<'c> {
    ctx: &'c MetricContext,
    items: Vec<(&'static str, MetricValue)>,
}

impl Computed<'_> {
    fn put(&mut self, tag: &'static str, value: f64) {
        if value.is_finite() && self.ctx.computes(spec(tag)) {
            self.items.push((tag, MetricValue::Scalar(value)));
        }
    }

    fn put_opt(&mut self, tag: &'static str, value: Option<f64>) {
        if let Some(v) = value {
            self.put(tag, v);
        }
    }

    fn put_list(&mut self, tag: &'static str, values: Vec<f64>) {
        if self.ctx.computes(spec(tag)) {
            self.items.push((tag, MetricValue::List(values)));
        }
    }

    fn get(&self, tag: &str) -> Option<f64> {
        self.items.iter().find_map(|(t, v)| match v {
            MetricValue::Scalar(x) if *t == tag => Some(*x),
            _ => None,
        })
    }
}

fn ns(later: u64, earlier: u64) -> f64 {
    (i128::from(later) - i128::from(earlier)) as f64
}

/// Computes the per-record metrics of one request (`docs/metrics.md` §4) in base units,
/// in dependency order, applying the applicability filter of §6 via
/// [`MetricContext::computes`].
///
/// * Error records, and records for which [`invalid_reason`] is `Some`, get only
///   `error_isl` (best effort: the client ISL, or the server's prompt tokens
///   with `use_server_token_count`).
/// * Latencies use content responses only: TTFT = first − start, TTST = second −
///   first, TTFO = first non-reasoning content − start, request_latency = **last
///   content** − start (a trailing usage chunk or `[DONE]` is ignored),
///   decode_duration = latency − TTFT, ICL = consecutive content gaps.
/// * Token counts: client counts by default; with `use_server_token_count`, ISL
///   = `usage.prompt_tokens`, reasoning = `usage.reasoning_tokens`, output =
///   `completion_tokens − reasoning` (saturating at 0); no usage → no token
///   metrics. OSL = output + reasoning (absent when both are unknown).
/// * ITL = (latency − TTFT) / (OSL − 1), only when OSL ≥ 2 (with
///   `per_chunk_usage` the divisor is OSL − first_chunk_tokens when
///   0 < first_chunk_tokens < OSL); output_token_throughput_per_user =
///   1 / ITL[s], absent when ITL = 0; e2e = OSL / latency[s]; prefill = ISL / TTFT[s].
/// * Usage diffs = 100·|usage − client| / client (ISL, OSL, reasoning; client ≠ 0);
///   the `usage_discrepancy_count` contribution is 1 when any present diff exceeds
///   the threshold, else 0.
/// * `osl_mismatch_diff_pct` = 100·(OSL − requested)/requested (signed);
///   `osl_mismatch_count` contribution is 1 when |OSL − requested| >
///   min(requested·5 %, 50).
/// * `good_request_count` (0/1) when SLOs are configured.
/// * aiperf-rs extras: `first_chunk_tokens` (streaming) and `schedule_lag` =
///   request_start_ns − scheduled_ns (signed: negative = started early).
/// * `http_req_*` when the transport traced the request
///   ([`crate::http_trace::http_trace_metrics`]).
pub fn compute_record_metrics(
    input: &RecordInput,
    ctx: &MetricContext,
) -> Vec<(String, MetricValue)> {
    let mut out = Computed {
        ctx,
        items: Vec::with_capacity(24),
    };
    let usage = input.usage.unwrap_or_default();
    let u = |v: Option<u64>| v.map(|x| x as f64);

    if input.is_error || invalid_reason(input).is_some() {
        let isl = if ctx.use_server_token_count {
            usage.prompt_tokens.or(input.input_tokens)
        } else {
            input.input_tokens
        };
        out.put_opt(tags::ERROR_ISL, u(isl));
        return finish(out);
    }

    // ---- latencies ----
    let content: Vec<&ResponseInfo> = input.content_responses().collect();
    let (first, last) = (content[0].perf_ns, content[content.len() - 1].perf_ns);
    let start = input.start_perf_ns;
    out.put(tags::REQUEST_LATENCY, ns(last, start));
    if input.streaming {
        out.put(tags::TIME_TO_FIRST_TOKEN, ns(first, start));
        if content.len() >= 2 {
            out.put(tags::TIME_TO_SECOND_TOKEN, ns(content[1].perf_ns, first));
        }
        if let Some(r) = content.iter().find(|r| r.has_output_content) {
            out.put(tags::TIME_TO_FIRST_OUTPUT_TOKEN, ns(r.perf_ns, start));
        }
        if let (Some(lat), Some(ttft)) = (
            out.get(tags::REQUEST_LATENCY),
            out.get(tags::TIME_TO_FIRST_TOKEN),
        ) {
            out.put(tags::DECODE_DURATION, lat - ttft);
        }
        if content.len() >= 2 {
            out.put_list(
                tags::INTER_CHUNK_LATENCY,
                content
                    .windows(2)
                    .map(|w| ns(w[1].perf_ns, w[0].perf_ns))
                    .collect(),
            );
        }
        if let Some(ack) = input.ack_perf_ns.filter(|a| *a >= start) {
            out.put(tags::STREAM_SETUP_LATENCY, ns(ack, start));
        }
        if let (Some(ttft), Some(setup)) = (
            out.get(tags::TIME_TO_FIRST_TOKEN),
            out.get(tags::STREAM_SETUP_LATENCY),
        ) {
            out.put(tags::STREAM_PREFILL_LATENCY, ttft - setup);
        }
        out.put_opt(tags::FIRST_CHUNK_TOKENS, u(input.first_chunk_tokens));
    }

    // ---- token counts ----
    let (isl, output, reasoning) = if ctx.use_server_token_count {
        match input.usage {
            Some(us) => {
                let reasoning = us.reasoning_tokens;
                let output = us
                    .completion_tokens
                    .map(|c| c.saturating_sub(reasoning.unwrap_or(0)));
                (us.prompt_tokens, output, reasoning)
            }
            None => (None, None, None),
        }
    } else {
        (
            input.input_tokens,
            input.output_tokens,
            input.reasoning_tokens,
        )
    };
    out.put_opt(tags::INPUT_SEQUENCE_LENGTH, u(isl));
    out.put_opt(tags::OUTPUT_TOKEN_COUNT, u(output.filter(|x| *x > 0)));
    out.put_opt(tags::REASONING_TOKEN_COUNT, u(reasoning.filter(|x| *x > 0)));
    if output.is_some() || reasoning.is_some() {
        out.put(
            tags::OUTPUT_SEQUENCE_LENGTH,
            (output.unwrap_or(0) + reasoning.unwrap_or(0)) as f64,
        );
    }

    // ---- ITL and per-request throughputs ----
    let osl = out.get(tags::OUTPUT_SEQUENCE_LENGTH);
    let latency = out.get(tags::REQUEST_LATENCY);
    let ttft = out.get(tags::TIME_TO_FIRST_TOKEN);
    if let (Some(osl), Some(lat), Some(ttft)) = (osl, latency, ttft)
        && osl >= 2.0
    {
        let divisor = match input.first_chunk_tokens.map(|t| t as f64) {
            Some(fc) if ctx.per_chunk_usage && fc > 0.0 && fc < osl => osl - fc,
            _ => osl - 1.0,
        };
        out.put(tags::INTER_TOKEN_LATENCY, (lat - ttft) / divisor);
    }
    if let Some(itl) = out.get(tags::INTER_TOKEN_LATENCY).filter(|v| *v > 0.0) {
        out.put(
            tags::OUTPUT_TOKEN_THROUGHPUT_PER_USER,
            1.0 / (itl / NANOS_PER_SECOND),
        );
    }
    if let (Some(osl), Some(lat)) = (osl, latency.filter(|v| *v > 0.0)) {
        out.put(
            tags::E2E_OUTPUT_TOKEN_THROUGHPUT,
            osl / (lat / NANOS_PER_SECOND),
        );
    }
    if let (Some(isl), Some(ttft)) = (
        out.get(tags::INPUT_SEQUENCE_LENGTH),
        ttft.filter(|v| *v > 0.0),
    ) {
        out.put(
            tags::PREFILL_THROUGHPUT_PER_USER,
            isl / (ttft / NANOS_PER_SECOND),
        );
    }
    if let (Some(r), Some(o)) = (
        out.get(tags::REASONING_TOKEN_COUNT),
        out.get(tags::OUTPUT_TOKEN_COUNT),
    ) {
        out.put(tags::THINKING_EFFICIENCY, r / o);
    }

    // ---- usage fields and client/server discrepancies ----
    if let Some(us) = input.usage {
        out.put_opt(tags::USAGE_PROMPT_TOKENS, u(us.prompt_tokens));
        out.put_opt(tags::USAGE_COMPLETION_TOKENS, u(us.completion_tokens));
        out.put_opt(tags::USAGE_TOTAL_TOKENS, u(us.total_tokens));
        out.put_opt(tags::USAGE_REASONING_TOKENS, u(us.reasoning_tokens));
        out.put_opt(tags::USAGE_PROMPT_CACHE_READ_TOKENS, u(us.cached_tokens));
        let diff = |server: Option<f64>, client: Option<f64>| match (server, client) {
            (Some(s), Some(c)) if c != 0.0 => Some((s - c).abs() / c * 100.0),
            _ => None,
        };
        let diffs = [
            (
                tags::USAGE_PROMPT_TOKENS_DIFF_PCT,
                diff(
                    out.get(tags::USAGE_PROMPT_TOKENS),
                    out.get(tags::INPUT_SEQUENCE_LENGTH),
                ),
            ),
            (
                tags::USAGE_COMPLETION_TOKENS_DIFF_PCT,
                diff(
                    out.get(tags::USAGE_COMPLETION_TOKENS),
                    out.get(tags::OUTPUT_SEQUENCE_LENGTH),
                ),
            ),
            (
                tags::USAGE_REASONING_TOKENS_DIFF_PCT,
                diff(
                    out.get(tags::USAGE_REASONING_TOKENS),
                    out.get(tags::REASONING_TOKEN_COUNT),
                ),
            ),
        ];
        for (tag, d) in diffs {
            out.put_opt(tag, d);
        }
        let present: Vec<f64> = diffs.iter().filter_map(|(tag, _)| out.get(tag)).collect();
        if !present.is_empty() {
            let over = present.iter().any(|d| *d > ctx.usage_pct_diff_threshold);
            out.put(tags::USAGE_DISCREPANCY_COUNT, if over { 1.0 } else { 0.0 });
        }
    }

    // ---- requested OSL ----
    out.put_opt(tags::REQUESTED_OSL, u(input.requested_osl));
    if let (Some(req), Some(osl)) = (out.get(tags::REQUESTED_OSL).filter(|r| *r != 0.0), osl) {
        out.put(tags::OSL_MISMATCH_DIFF_PCT, (osl - req) / req * 100.0);
        let threshold = (req * (ctx.osl_mismatch_pct_threshold / 100.0))
            .min(ctx.osl_mismatch_max_token_threshold);
        out.put(
            tags::OSL_MISMATCH_COUNT,
            if (osl - req).abs() > threshold {
                1.0
            } else {
                0.0
            },
        );
    }

    // ---- client-side queueing ----
    if let Some(received) = input.credit_received_perf_ns.filter(|r| *r <= start) {
        out.put(tags::CREDIT_DROP_LATENCY, ns(start, received));
    }
    if let Some(scheduled) = input.scheduled_ns {
        out.put(tags::SCHEDULE_LAG, ns(input.request_start_ns, scheduled));
    }

    // ---- HTTP trace ----
    if let Some(trace) = &input.http_trace {
        for (tag, value) in crate::http_trace::http_trace_metrics(trace) {
            out.put(tag, value);
        }
    }

    // ---- goodput contribution ----
    if !ctx.goodput.is_empty() {
        let good = is_good(&ctx.goodput, &out.items);
        out.put(tags::GOOD_REQUEST_COUNT, if good { 1.0 } else { 0.0 });
    }
    finish(out)
}

fn finish(out: Computed<'_>) -> Vec<(String, MetricValue)> {
    out.items
        .into_iter()
        .map(|(t, v)| (t.to_string(), v))
        .collect()
}
