//! The metric catalogue: one table describing every metric aiperf-rs knows for
//! LLM endpoints (`docs/metrics.md` §4–§7), with its header, units, kind, flags and
//! display order (AIPerf 0.13's).
//!
//! Decisions worth knowing (also in the crate docs):
//! * `inter_chunk_latency` is a list metric; its **pooled** summary (every chunk
//!   gap of every request is one sample) is exactly the "ITL" of vLLM's and
//!   SGLang's `bench_serving` (they append `t_chunk - t_previous_chunk` for every
//!   chunk after the first and pool the lists). AIPerf's `inter_token_latency` is
//!   vLLM's "TPOT". No separate pooled-ITL metric exists.
//! * `first_chunk_tokens` and `schedule_lag` are aiperf-rs extras (not in AIPerf).
//! * `credit_to_start_latency` and `effective_latency` are distributions computed
//!   at summary time from record metadata (as AIPerf 0.13 does), so they never
//!   appear in per-record exports.
//! * `adj_*` rows are catalogued as derived distributions whose display order is
//!   the parent's + 1 (AIPerf's rule).

use crate::units::Unit;

/// Where and how a metric is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Computed per request by the record processor; summarised as a distribution.
    Record,
    /// Folded from per-request contributions or record metadata into one value.
    Aggregate,
    /// Computed at summary time from other results.
    Derived,
}

/// Shape of a metric's summary result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A single value exported as `{unit, avg}`.
    Scalar,
    /// A distribution (avg, min, max, std, percentiles, count, sum).
    Distribution,
    /// A per-record list whose elements are pooled into one distribution.
    List,
}

/// Set of [`MetricFlags`] bits (AIPerf 0.13's metric flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MetricFlags(u32);

impl MetricFlags {
    /// No flag.
    pub const NONE: MetricFlags = MetricFlags(0);
    /// Only computed when the run streams.
    pub const STREAMING_ONLY: MetricFlags = MetricFlags(1);
    /// Only computed for endpoints that produce tokens.
    pub const PRODUCES_TOKENS_ONLY: MetricFlags = MetricFlags(1 << 1);
    /// Only computed for endpoints with a tokenizable input.
    pub const TOKENIZES_INPUT_ONLY: MetricFlags = MetricFlags(1 << 2);
    /// Only exists when goodput SLOs are configured.
    pub const GOODPUT: MetricFlags = MetricFlags(1 << 3);
    /// Computed for error records only (and only those).
    pub const ERROR_ONLY: MetricFlags = MetricFlags(1 << 4);
    /// Disabled with `--use-server-token-count`.
    pub const USAGE_DIFF_ONLY: MetricFlags = MetricFlags(1 << 5);
    /// Computed and shown only in dev mode.
    pub const EXPERIMENTAL: MetricFlags = MetricFlags(1 << 6);
    /// Computed (others need it) but exported/shown only in dev mode.
    pub const INTERNAL: MetricFlags = MetricFlags(1 << 7);
    /// Never written into per-record exports.
    pub const NO_INDIVIDUAL_RECORDS: MetricFlags = MetricFlags(1 << 8);
    /// Larger values are better (goodput SLOs compare with `>=`).
    pub const LARGER_IS_BETTER: MetricFlags = MetricFlags(1 << 9);
    /// Gets an error-adjusted `adj_` band when errors exist ("Err%", §5.3).
    pub const ERROR_ADJUSTED: MetricFlags = MetricFlags(1 << 10);
    /// Not in the console's main metrics table (not in the console group).
    pub const HIDDEN_FROM_CONSOLE: MetricFlags = MetricFlags(1 << 11);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: MetricFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two flag sets (usable in constants).
    pub const fn union(self, other: MetricFlags) -> MetricFlags {
        MetricFlags(self.0 | other.0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl std::ops::BitOr for MetricFlags {
    type Output = MetricFlags;
    fn bitor(self, rhs: MetricFlags) -> MetricFlags {
        self.union(rhs)
    }
}

/// Static description of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// Tag, e.g. `time_to_first_token`.
    pub tag: &'static str,
    /// Human header, e.g. `Time to First Token`.
    pub header: &'static str,
    /// Unit values are computed and carried in (per-record values, stats).
    pub base_unit: Unit,
    /// Unit of exports and the console.
    pub display_unit: Unit,
    /// Record, aggregate or derived.
    pub kind: MetricKind,
    /// Scalar, distribution or list.
    pub shape: Shape,
    /// Applicability and visibility flags.
    pub flags: MetricFlags,
    /// Sort key of tables (lower first).
    pub display_order: u32,
}

impl MetricSpec {
    /// Whether the metric has all of `flags`.
    pub fn has(&self, flags: MetricFlags) -> bool {
        self.flags.contains(flags)
    }

    /// The conversion factor from base to display unit: `display = base / divisor`
    /// (1e6 for ns → ms, 1e9 for ns → sec, 1 otherwise).
    pub fn display_divisor(&self) -> f64 {
        crate::units::divisor(self.base_unit, self.display_unit)
    }

    /// Converts a base-unit value into the display unit.
    pub fn to_display(&self, base_value: f64) -> f64 {
        crate::units::convert(base_value, self.base_unit, self.display_unit)
    }

    /// Converts a display-unit value (e.g. a goodput threshold) into the base unit.
    pub fn to_base(&self, display_value: f64) -> f64 {
        crate::units::convert(display_value, self.display_unit, self.base_unit)
    }

    /// Shown in the console's main table.
    pub fn console(&self) -> bool {
        !self.has(MetricFlags::HIDDEN_FROM_CONSOLE)
    }

    /// Internal or experimental: exported and shown only in dev mode.
    pub fn dev_only(&self) -> bool {
        self.has(MetricFlags::INTERNAL) || self.has(MetricFlags::EXPERIMENTAL)
    }
}

/// Tag constants of every catalogued metric.
pub mod tags {
    macro_rules! tags {
        ($($name:ident = $tag:literal;)*) => {
            $(
                #[doc = concat!("`", $tag, "`")]
                pub const $name: &str = $tag;
            )*
        };
    }
    tags! {
        TIME_TO_FIRST_TOKEN = "time_to_first_token";
        TIME_TO_SECOND_TOKEN = "time_to_second_token";
        TIME_TO_FIRST_OUTPUT_TOKEN = "time_to_first_output_token";
        REQUEST_LATENCY = "request_latency";
        DECODE_DURATION = "decode_duration";
        INTER_TOKEN_LATENCY = "inter_token_latency";
        INTER_CHUNK_LATENCY = "inter_chunk_latency";
        OUTPUT_TOKEN_THROUGHPUT_PER_USER = "output_token_throughput_per_user";
        E2E_OUTPUT_TOKEN_THROUGHPUT = "e2e_output_token_throughput";
        PREFILL_THROUGHPUT_PER_USER = "prefill_throughput_per_user";
        INPUT_SEQUENCE_LENGTH = "input_sequence_length";
        OUTPUT_TOKEN_COUNT = "output_token_count";
        REASONING_TOKEN_COUNT = "reasoning_token_count";
        OUTPUT_SEQUENCE_LENGTH = "output_sequence_length";
        ERROR_ISL = "error_isl";
        FIRST_CHUNK_TOKENS = "first_chunk_tokens";
        STREAM_SETUP_LATENCY = "stream_setup_latency";
        STREAM_PREFILL_LATENCY = "stream_prefill_latency";
        CREDIT_DROP_LATENCY = "credit_drop_latency";
        SCHEDULE_LAG = "schedule_lag";
        USAGE_PROMPT_TOKENS = "usage_prompt_tokens";
        USAGE_COMPLETION_TOKENS = "usage_completion_tokens";
        USAGE_TOTAL_TOKENS = "usage_total_tokens";
        USAGE_REASONING_TOKENS = "usage_reasoning_tokens";
        USAGE_PROMPT_CACHE_READ_TOKENS = "usage_prompt_cache_read_tokens";
        USAGE_PROMPT_TOKENS_DIFF_PCT = "usage_prompt_tokens_diff_pct";
        USAGE_COMPLETION_TOKENS_DIFF_PCT = "usage_completion_tokens_diff_pct";
        USAGE_REASONING_TOKENS_DIFF_PCT = "usage_reasoning_tokens_diff_pct";
        USAGE_DISCREPANCY_COUNT = "usage_discrepancy_count";
        REQUESTED_OSL = "requested_osl";
        OSL_MISMATCH_DIFF_PCT = "osl_mismatch_diff_pct";
        OSL_MISMATCH_COUNT = "osl_mismatch_count";
        THINKING_EFFICIENCY = "thinking_efficiency";
        GOOD_REQUEST_COUNT = "good_request_count";
        REQUEST_COUNT = "request_count";
        ERROR_REQUEST_COUNT = "error_request_count";
        CONTEXT_OVERFLOW_COUNT = "context_overflow_count";
        MIN_REQUEST_TIMESTAMP = "min_request_timestamp";
        MAX_RESPONSE_TIMESTAMP = "max_response_timestamp";
        COMPLETED_REQUEST_COUNT = "completed_request_count";
        REQUEST_ERROR_RATE = "request_error_rate";
        BENCHMARK_DURATION = "benchmark_duration";
        TOTAL_ISL = "total_isl";
        TOTAL_OSL = "total_osl";
        TOTAL_OUTPUT_TOKENS = "total_output_tokens";
        TOTAL_REASONING_TOKENS = "total_reasoning_tokens";
        TOTAL_ERROR_ISL = "total_error_isl";
        REQUEST_THROUGHPUT = "request_throughput";
        OUTPUT_TOKEN_THROUGHPUT = "output_token_throughput";
        INPUT_TOKEN_THROUGHPUT = "input_token_throughput";
        TOTAL_TOKEN_THROUGHPUT = "total_token_throughput";
        GOODPUT = "goodput";
        GOOD_REQUEST_FRACTION = "good_request_fraction";
        TOTAL_USAGE_PROMPT_TOKENS = "total_usage_prompt_tokens";
        TOTAL_USAGE_COMPLETION_TOKENS = "total_usage_completion_tokens";
        TOTAL_USAGE_TOTAL_TOKENS = "total_usage_total_tokens";
        TOTAL_USAGE_REASONING_TOKENS = "total_usage_reasoning_tokens";
        TOTAL_USAGE_PROMPT_CACHE_READ_TOKENS = "total_usage_prompt_cache_read_tokens";
        OVERALL_USAGE_PROMPT_CACHE_READ_PCT = "overall_usage_prompt_cache_read_pct";
        OVERALL_THINKING_EFFICIENCY = "overall_thinking_efficiency";
        CREDIT_TO_START_LATENCY = "credit_to_start_latency";
        EFFECTIVE_LATENCY = "effective_latency";
        ADJ_TIME_TO_FIRST_TOKEN = "adj_time_to_first_token";
        ADJ_REQUEST_LATENCY = "adj_request_latency";
        ADJ_DECODE_DURATION = "adj_decode_duration";
        ADJ_INTER_TOKEN_LATENCY = "adj_inter_token_latency";
        HTTP_REQ_BLOCKED = "http_req_blocked";
        HTTP_REQ_DNS_LOOKUP = "http_req_dns_lookup";
        HTTP_REQ_CONNECTING = "http_req_connecting";
        HTTP_REQ_SENDING = "http_req_sending";
        HTTP_REQ_WAITING = "http_req_waiting";
        HTTP_REQ_RECEIVING = "http_req_receiving";
        HTTP_REQ_CONNECTION_REUSED = "http_req_connection_reused";
        HTTP_REQ_DATA_SENT = "http_req_data_sent";
        HTTP_REQ_CHUNKS_SENT = "http_req_chunks_sent";
        HTTP_REQ_DATA_RECEIVED = "http_req_data_received";
        HTTP_REQ_CHUNKS_RECEIVED = "http_req_chunks_received";
        HTTP_REQ_CONNECTION_OVERHEAD = "http_req_connection_overhead";
        HTTP_REQ_DURATION = "http_req_duration";
        HTTP_REQ_TOTAL = "http_req_total";
        EFFECTIVE_CONCURRENCY = "effective_concurrency";
        EFFECTIVE_THROUGHPUT = "effective_throughput";
        EFFECTIVE_PREFILL_THROUGHPUT = "effective_prefill_throughput";
        EFFECTIVE_GENERATION_CONCURRENCY = "effective_generation_concurrency";
        EFFECTIVE_PREFILL_CONCURRENCY = "effective_prefill_concurrency";
        EFFECTIVE_TOTAL_THROUGHPUT = "effective_total_throughput";
        EFFECTIVE_THROUGHPUT_PER_USER = "effective_throughput_per_user";
        EFFECTIVE_PREFILL_THROUGHPUT_PER_USER = "effective_prefill_throughput_per_user";
        TOKENS_IN_FLIGHT = "tokens_in_flight";
        EFFECTIVE_DECODE_THROUGHPUT_ACTIVE = "effective_decode_throughput_active";
        EFFECTIVE_PREFILL_THROUGHPUT_ACTIVE = "effective_prefill_throughput_active";
        EFFECTIVE_DECODE_THROUGHPUT_PER_USER_ACTIVE = "effective_decode_throughput_per_user_active";
        EFFECTIVE_PREFILL_THROUGHPUT_PER_USER_ACTIVE = "effective_prefill_throughput_per_user_active";
        EFFECTIVE_TOTAL_THROUGHPUT_ACTIVE = "effective_total_throughput_active";
    }
}

use MetricKind::{Aggregate, Derived, Record};
use Shape::{Distribution, List, Scalar};
use Unit::*;

const STREAM: MetricFlags = MetricFlags::STREAMING_ONLY;
const TOKENS: MetricFlags = MetricFlags::PRODUCES_TOKENS_ONLY;
const INPUT: MetricFlags = MetricFlags::TOKENIZES_INPUT_ONLY;
const GOODPUT: MetricFlags = MetricFlags::GOODPUT;
const ERR_ONLY: MetricFlags = MetricFlags::ERROR_ONLY;
const DIFF: MetricFlags = MetricFlags::USAGE_DIFF_ONLY;
const EXPERIMENTAL: MetricFlags = MetricFlags::EXPERIMENTAL;
const INTERNAL: MetricFlags = MetricFlags::INTERNAL;
const NO_REC: MetricFlags = MetricFlags::NO_INDIVIDUAL_RECORDS;
const LARGER: MetricFlags = MetricFlags::LARGER_IS_BETTER;
const ERR_ADJ: MetricFlags = MetricFlags::ERROR_ADJUSTED;
const HIDDEN: MetricFlags = MetricFlags::HIDDEN_FROM_CONSOLE;

/// Builds a [`MetricSpec`] in a constant context.
#[allow(clippy::too_many_arguments)]
const fn m(
    tag: &'static str,
    header: &'static str,
    base_unit: Unit,
    display_unit: Unit,
    kind: MetricKind,
    shape: Shape,
    flags: &[MetricFlags],
    display_order: u32,
) -> MetricSpec {
    let mut bits = MetricFlags::NONE;
    let mut i = 0;
    while i < flags.len() {
        bits = bits.union(flags[i]);
        i += 1;
    }
    MetricSpec {
        tag,
        header,
        base_unit,
        display_unit,
        kind,
        shape,
        flags: bits,
        display_order,
    }
}

/// Every catalogued metric (AIPerf 0.13's for LLM endpoints, plus the
/// aiperf-rs extras `first_chunk_tokens` and `schedule_lag`).
///
/// Display orders 100–1100 are AIPerf 0.13's; `adj_*` rows are parent + 1;
/// everything else is ≥ 2000 in table order.
pub static CATALOGUE: &[MetricSpec] = &[
    // ---- latency (record) ----
    m(
        tags::TIME_TO_FIRST_TOKEN,
        "Time to First Token",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS, ERR_ADJ],
        100,
    ),
    m(
        tags::TIME_TO_SECOND_TOKEN,
        "Time to Second Token",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS],
        200,
    ),
    m(
        tags::TIME_TO_FIRST_OUTPUT_TOKEN,
        "Time to First Output Token",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS],
        210,
    ),
    m(
        tags::REQUEST_LATENCY,
        "Request Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[ERR_ADJ],
        300,
    ),
    m(
        tags::DECODE_DURATION,
        "Decode Duration",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS, ERR_ADJ],
        350,
    ),
    m(
        tags::INTER_TOKEN_LATENCY,
        "Inter Token Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS, ERR_ADJ],
        400,
    ),
    m(
        tags::INTER_CHUNK_LATENCY,
        "Inter Chunk Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        List,
        &[STREAM, TOKENS, HIDDEN],
        2000,
    ),
    m(
        tags::STREAM_SETUP_LATENCY,
        "Stream Setup Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, EXPERIMENTAL, HIDDEN],
        2010,
    ),
    m(
        tags::STREAM_PREFILL_LATENCY,
        "Stream Prefill Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[STREAM, TOKENS, EXPERIMENTAL, HIDDEN],
        2020,
    ),
    m(
        tags::CREDIT_DROP_LATENCY,
        "Credit Drop Latency",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[INTERNAL, HIDDEN],
        2030,
    ),
    m(
        tags::SCHEDULE_LAG,
        "Schedule Lag",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        2040,
    ),
    // ---- per-request throughput (record) ----
    m(
        tags::OUTPUT_TOKEN_THROUGHPUT_PER_USER,
        "Output Token Throughput Per User",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Record,
        Distribution,
        &[STREAM, TOKENS, LARGER],
        500,
    ),
    m(
        tags::E2E_OUTPUT_TOKEN_THROUGHPUT,
        "E2E Output Token Throughput",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Record,
        Distribution,
        &[TOKENS, LARGER],
        510,
    ),
    m(
        tags::PREFILL_THROUGHPUT_PER_USER,
        "Prefill Throughput Per User",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Record,
        Distribution,
        &[STREAM, TOKENS, INPUT, LARGER, HIDDEN],
        2100,
    ),
    // ---- token counts (record) ----
    m(
        tags::OUTPUT_SEQUENCE_LENGTH,
        "Output Sequence Length",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[TOKENS, LARGER],
        600,
    ),
    m(
        tags::INPUT_SEQUENCE_LENGTH,
        "Input Sequence Length",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[INPUT, LARGER],
        700,
    ),
    m(
        tags::OUTPUT_TOKEN_COUNT,
        "Output Token Count",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[TOKENS, LARGER, HIDDEN],
        2200,
    ),
    m(
        tags::REASONING_TOKEN_COUNT,
        "Reasoning Token Count",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[TOKENS, LARGER, HIDDEN],
        2210,
    ),
    m(
        tags::ERROR_ISL,
        "Error Input Sequence Length",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[INPUT, ERR_ONLY, LARGER, HIDDEN],
        2220,
    ),
    m(
        tags::FIRST_CHUNK_TOKENS,
        "First Chunk Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[STREAM, TOKENS, HIDDEN],
        2230,
    ),
    m(
        tags::THINKING_EFFICIENCY,
        "Thinking Efficiency",
        Ratio,
        Ratio,
        Record,
        Distribution,
        &[TOKENS, EXPERIMENTAL, HIDDEN],
        2240,
    ),
    // ---- usage fields (record) ----
    m(
        tags::USAGE_PROMPT_TOKENS,
        "Usage Prompt Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[LARGER, HIDDEN],
        2300,
    ),
    m(
        tags::USAGE_COMPLETION_TOKENS,
        "Usage Completion Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[LARGER, HIDDEN],
        2310,
    ),
    m(
        tags::USAGE_TOTAL_TOKENS,
        "Usage Total Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[LARGER, HIDDEN],
        2320,
    ),
    m(
        tags::USAGE_REASONING_TOKENS,
        "Usage Reasoning Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[LARGER, HIDDEN],
        2330,
    ),
    m(
        tags::USAGE_PROMPT_CACHE_READ_TOKENS,
        "Usage Prompt Cache Read Tokens",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[LARGER, HIDDEN],
        2340,
    ),
    m(
        tags::USAGE_PROMPT_TOKENS_DIFF_PCT,
        "Usage Prompt Diff",
        Percent,
        Percent,
        Record,
        Distribution,
        &[INPUT, DIFF, HIDDEN],
        2350,
    ),
    m(
        tags::USAGE_COMPLETION_TOKENS_DIFF_PCT,
        "Usage Completion Diff",
        Percent,
        Percent,
        Record,
        Distribution,
        &[TOKENS, DIFF, HIDDEN],
        2360,
    ),
    m(
        tags::USAGE_REASONING_TOKENS_DIFF_PCT,
        "Usage Reasoning Diff",
        Percent,
        Percent,
        Record,
        Distribution,
        &[TOKENS, DIFF, HIDDEN],
        2370,
    ),
    m(
        tags::USAGE_DISCREPANCY_COUNT,
        "Usage Discrepancy Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[DIFF, NO_REC, HIDDEN],
        2380,
    ),
    // ---- requested OSL (record) ----
    m(
        tags::REQUESTED_OSL,
        "Requested OSL",
        Tokens,
        Tokens,
        Record,
        Distribution,
        &[TOKENS, INTERNAL, HIDDEN],
        2400,
    ),
    m(
        tags::OSL_MISMATCH_DIFF_PCT,
        "OSL Mismatch Diff",
        Percent,
        Percent,
        Record,
        Distribution,
        &[TOKENS, HIDDEN],
        2410,
    ),
    m(
        tags::OSL_MISMATCH_COUNT,
        "OSL Mismatch Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[TOKENS, NO_REC, HIDDEN],
        2420,
    ),
    // ---- counts, errors and run span ----
    m(
        tags::GOOD_REQUEST_COUNT,
        "Good Request Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[GOODPUT, LARGER, HIDDEN],
        2500,
    ),
    m(
        tags::REQUEST_COUNT,
        "Request Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[NO_REC, LARGER],
        1100,
    ),
    m(
        tags::ERROR_REQUEST_COUNT,
        "Error Request Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[NO_REC, HIDDEN],
        2510,
    ),
    m(
        tags::CONTEXT_OVERFLOW_COUNT,
        "Context Overflow Count",
        Requests,
        Requests,
        Aggregate,
        Scalar,
        &[NO_REC, HIDDEN],
        2515,
    ),
    m(
        tags::MIN_REQUEST_TIMESTAMP,
        "Minimum Request Timestamp",
        Nanoseconds,
        Nanoseconds,
        Aggregate,
        Scalar,
        &[INTERNAL, NO_REC, HIDDEN],
        2520,
    ),
    m(
        tags::MAX_RESPONSE_TIMESTAMP,
        "Maximum Response Timestamp",
        Nanoseconds,
        Nanoseconds,
        Aggregate,
        Scalar,
        &[INTERNAL, NO_REC, HIDDEN],
        2530,
    ),
    m(
        tags::COMPLETED_REQUEST_COUNT,
        "Completed Requests",
        Requests,
        Requests,
        Derived,
        Scalar,
        &[NO_REC],
        1075,
    ),
    m(
        tags::REQUEST_ERROR_RATE,
        "Request Error Rate",
        Percent,
        Percent,
        Derived,
        Scalar,
        &[NO_REC],
        1080,
    ),
    m(
        tags::BENCHMARK_DURATION,
        "Benchmark Duration",
        Nanoseconds,
        Seconds,
        Derived,
        Scalar,
        &[NO_REC, HIDDEN],
        2540,
    ),
    // ---- totals (derived) ----
    m(
        tags::TOTAL_ISL,
        "Total Input Sequence Length",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[INPUT, NO_REC, LARGER, HIDDEN],
        2600,
    ),
    m(
        tags::TOTAL_OSL,
        "Total Output Sequence Length",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[TOKENS, NO_REC, LARGER, HIDDEN],
        2610,
    ),
    m(
        tags::TOTAL_OUTPUT_TOKENS,
        "Total Output Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[TOKENS, NO_REC, LARGER, HIDDEN],
        2620,
    ),
    m(
        tags::TOTAL_REASONING_TOKENS,
        "Total Reasoning Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[TOKENS, NO_REC, LARGER, HIDDEN],
        2630,
    ),
    m(
        tags::TOTAL_ERROR_ISL,
        "Total Error Input Sequence Length",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[INPUT, NO_REC, HIDDEN],
        2640,
    ),
    // ---- system throughput (derived) ----
    m(
        tags::OUTPUT_TOKEN_THROUGHPUT,
        "Output Token Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Scalar,
        &[TOKENS, NO_REC, LARGER],
        800,
    ),
    m(
        tags::INPUT_TOKEN_THROUGHPUT,
        "Input Token Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Scalar,
        &[INPUT, NO_REC, LARGER],
        805,
    ),
    m(
        tags::REQUEST_THROUGHPUT,
        "Request Throughput",
        RequestsPerSecond,
        RequestsPerSecond,
        Derived,
        Scalar,
        &[NO_REC, LARGER],
        900,
    ),
    m(
        tags::GOODPUT,
        "Goodput",
        RequestsPerSecond,
        RequestsPerSecond,
        Derived,
        Scalar,
        &[GOODPUT, NO_REC, LARGER],
        1000,
    ),
    m(
        tags::TOTAL_TOKEN_THROUGHPUT,
        "Total Token Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Scalar,
        &[TOKENS, INPUT, NO_REC, LARGER, HIDDEN],
        2700,
    ),
    m(
        tags::GOOD_REQUEST_FRACTION,
        "Good Request Fraction",
        Ratio,
        Ratio,
        Derived,
        Scalar,
        &[GOODPUT, NO_REC, LARGER, HIDDEN],
        2710,
    ),
    // ---- usage totals (derived) ----
    m(
        tags::TOTAL_USAGE_PROMPT_TOKENS,
        "Total Usage Prompt Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2800,
    ),
    m(
        tags::TOTAL_USAGE_COMPLETION_TOKENS,
        "Total Usage Completion Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2810,
    ),
    m(
        tags::TOTAL_USAGE_TOTAL_TOKENS,
        "Total Usage Total Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2820,
    ),
    m(
        tags::TOTAL_USAGE_REASONING_TOKENS,
        "Total Usage Reasoning Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2830,
    ),
    m(
        tags::TOTAL_USAGE_PROMPT_CACHE_READ_TOKENS,
        "Total Usage Prompt Cache Read Tokens",
        Tokens,
        Tokens,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2840,
    ),
    m(
        tags::OVERALL_USAGE_PROMPT_CACHE_READ_PCT,
        "Overall Usage Prompt Cache Read",
        Percent,
        Percent,
        Derived,
        Scalar,
        &[NO_REC, LARGER, HIDDEN],
        2850,
    ),
    m(
        tags::OVERALL_THINKING_EFFICIENCY,
        "Overall Thinking Efficiency",
        Ratio,
        Ratio,
        Derived,
        Scalar,
        &[TOKENS, EXPERIMENTAL, NO_REC, HIDDEN],
        2860,
    ),
    // ---- distributions derived from record metadata ----
    m(
        tags::CREDIT_TO_START_LATENCY,
        "Credit-to-Start Latency",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[NO_REC, HIDDEN],
        2900,
    ),
    m(
        tags::EFFECTIVE_LATENCY,
        "Effective Latency (CO-aware)",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[NO_REC, HIDDEN],
        2910,
    ),
    // ---- HTTP trace (record; `http_req_*`, hidden from the console) ----
    m(
        tags::HTTP_REQ_BLOCKED,
        "HTTP Blocked",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3000,
    ),
    m(
        tags::HTTP_REQ_DNS_LOOKUP,
        "HTTP DNS Lookup",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3010,
    ),
    m(
        tags::HTTP_REQ_CONNECTING,
        "HTTP Connecting",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3020,
    ),
    m(
        tags::HTTP_REQ_SENDING,
        "HTTP Sending",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3030,
    ),
    m(
        tags::HTTP_REQ_WAITING,
        "HTTP Waiting (TTFB)",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3040,
    ),
    m(
        tags::HTTP_REQ_RECEIVING,
        "HTTP Receiving",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3050,
    ),
    m(
        tags::HTTP_REQ_CONNECTION_REUSED,
        "HTTP Connection Reused",
        Ratio,
        Ratio,
        Record,
        Distribution,
        &[HIDDEN],
        3060,
    ),
    m(
        tags::HTTP_REQ_DATA_SENT,
        "HTTP Data Sent",
        Bytes,
        Kilobytes,
        Record,
        Distribution,
        &[HIDDEN],
        3070,
    ),
    m(
        tags::HTTP_REQ_CHUNKS_SENT,
        "HTTP Chunks Sent",
        Count,
        Count,
        Record,
        Distribution,
        &[HIDDEN],
        3080,
    ),
    m(
        tags::HTTP_REQ_DATA_RECEIVED,
        "HTTP Data Received",
        Bytes,
        Kilobytes,
        Record,
        Distribution,
        &[HIDDEN],
        3090,
    ),
    m(
        tags::HTTP_REQ_CHUNKS_RECEIVED,
        "HTTP Chunks Received",
        Count,
        Count,
        Record,
        Distribution,
        &[HIDDEN],
        3100,
    ),
    m(
        tags::HTTP_REQ_CONNECTION_OVERHEAD,
        "HTTP Connection Overhead",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3110,
    ),
    m(
        tags::HTTP_REQ_DURATION,
        "HTTP Duration (excl. conn)",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3120,
    ),
    m(
        tags::HTTP_REQ_TOTAL,
        "HTTP Total Time",
        Nanoseconds,
        Milliseconds,
        Record,
        Distribution,
        &[HIDDEN],
        3130,
    ),
    // ---- sweep-line concurrency and throughput (derived, time-weighted) ----
    m(
        tags::EFFECTIVE_CONCURRENCY,
        "Effective Concurrency",
        Requests,
        Requests,
        Derived,
        Distribution,
        &[NO_REC, HIDDEN],
        3200,
    ),
    m(
        tags::EFFECTIVE_THROUGHPUT,
        "Effective Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3210,
    ),
    m(
        tags::EFFECTIVE_PREFILL_THROUGHPUT,
        "Effective Prefill Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, INPUT, NO_REC, HIDDEN],
        3220,
    ),
    m(
        tags::EFFECTIVE_GENERATION_CONCURRENCY,
        "Effective Generation Concurrency",
        Requests,
        Requests,
        Derived,
        Distribution,
        &[STREAM, NO_REC, HIDDEN],
        3230,
    ),
    m(
        tags::EFFECTIVE_PREFILL_CONCURRENCY,
        "Effective Prefill Concurrency",
        Requests,
        Requests,
        Derived,
        Distribution,
        &[STREAM, NO_REC, HIDDEN],
        3240,
    ),
    m(
        tags::EFFECTIVE_TOTAL_THROUGHPUT,
        "Effective Total Throughput",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3250,
    ),
    m(
        tags::EFFECTIVE_THROUGHPUT_PER_USER,
        "Effective Throughput Per User",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3260,
    ),
    m(
        tags::EFFECTIVE_PREFILL_THROUGHPUT_PER_USER,
        "Effective Prefill Throughput Per User",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Derived,
        Distribution,
        &[STREAM, INPUT, NO_REC, HIDDEN],
        3270,
    ),
    m(
        tags::TOKENS_IN_FLIGHT,
        "Tokens In Flight",
        Tokens,
        Tokens,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3280,
    ),
    m(
        tags::EFFECTIVE_DECODE_THROUGHPUT_ACTIVE,
        "Effective Decode Throughput (Active)",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3290,
    ),
    m(
        tags::EFFECTIVE_PREFILL_THROUGHPUT_ACTIVE,
        "Effective Prefill Throughput (Active)",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, INPUT, NO_REC, HIDDEN],
        3300,
    ),
    m(
        tags::EFFECTIVE_DECODE_THROUGHPUT_PER_USER_ACTIVE,
        "Effective Decode Throughput Per User (Active)",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3310,
    ),
    m(
        tags::EFFECTIVE_PREFILL_THROUGHPUT_PER_USER_ACTIVE,
        "Effective Prefill Throughput Per User (Active)",
        TokensPerSecondPerUser,
        TokensPerSecondPerUser,
        Derived,
        Distribution,
        &[STREAM, INPUT, NO_REC, HIDDEN],
        3320,
    ),
    m(
        tags::EFFECTIVE_TOTAL_THROUGHPUT_ACTIVE,
        "Effective Total Throughput (Active)",
        TokensPerSecond,
        TokensPerSecond,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC, HIDDEN],
        3330,
    ),
    // ---- error-adjusted bands (derived, only when errors exist) ----
    m(
        tags::ADJ_TIME_TO_FIRST_TOKEN,
        "Time to First Token (error-adjusted)",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC],
        101,
    ),
    m(
        tags::ADJ_REQUEST_LATENCY,
        "Request Latency (error-adjusted)",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[NO_REC],
        301,
    ),
    m(
        tags::ADJ_DECODE_DURATION,
        "Decode Duration (error-adjusted)",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC],
        351,
    ),
    m(
        tags::ADJ_INTER_TOKEN_LATENCY,
        "Inter Token Latency (error-adjusted)",
        Nanoseconds,
        Milliseconds,
        Derived,
        Distribution,
        &[STREAM, TOKENS, NO_REC],
        401,
    ),
];

/// The catalogue entry of `tag`, if catalogued.
pub fn lookup(tag: &str) -> Option<&'static MetricSpec> {
    CATALOGUE.iter().find(|s| s.tag == tag)
}

/// The catalogue entry of a tag known to be catalogued (crate-internal use).
pub(crate) fn spec(tag: &str) -> &'static MetricSpec {
    lookup(tag).unwrap_or_else(|| panic!("metric `{tag}` is not catalogued"))
}

/// The `adj_<tag>` entry of an error-adjusted ("Err%") metric.
pub fn adjusted_of(tag: &str) -> Option<&'static MetricSpec> {
    let parent = lookup(tag)?;
    if !parent.has(MetricFlags::ERROR_ADJUSTED) {
        return None;
    }
    CATALOGUE
        .iter()
        .find(|s| s.tag.strip_prefix("adj_") == Some(tag))
}

/// Whether a per-record metric is written into per-request exports
/// (`profile_export.jsonl`): catalogued record metrics and the 0/1
/// `good_request_count` contribution, minus `NO_INDIVIDUAL_RECORDS` metrics and,
/// unless `dev_mode`, internal/experimental ones. Unknown tags are exported.
pub fn exported_per_record(tag: &str, dev_mode: bool) -> bool {
    match lookup(tag) {
        None => true,
        Some(s) => {
            !s.has(MetricFlags::NO_INDIVIDUAL_RECORDS)
                && matches!(s.kind, Record | Aggregate)
                && (dev_mode || !s.dev_only())
        }
    }
}

/// The display unit string of `tag` (empty for an unknown tag).
pub fn display_unit_of(tag: &str) -> &'static str {
    lookup(tag).map(|s| s.display_unit.symbol()).unwrap_or("")
}

/// Converts a per-record value of `tag` from its base unit to its display unit
/// (unknown tags are returned unchanged).
pub fn value_to_display(
    tag: &str,
    value: &aiperf_protocol::record::MetricValue,
) -> aiperf_protocol::record::MetricValue {
    use aiperf_protocol::record::MetricValue;
    let Some(spec) = lookup(tag) else {
        return value.clone();
    };
    match value {
        MetricValue::Scalar(v) => MetricValue::Scalar(spec.to_display(*v)),
        MetricValue::List(vs) => {
            MetricValue::List(vs.iter().map(|v| spec.to_display(*v)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_orders_sane() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            for b in &CATALOGUE[i + 1..] {
                assert_ne!(a.tag, b.tag);
                assert_ne!(a.display_order, b.display_order, "{} vs {}", a.tag, b.tag);
            }
        }
    }

    #[test]
    fn console_group_is_metrics_md_section_6() {
        let mut console: Vec<(&str, u32)> = CATALOGUE
            .iter()
            .filter(|s| s.console() && !s.tag.starts_with("adj_"))
            .map(|s| (s.tag, s.display_order))
            .collect();
        console.sort_by_key(|(_, o)| *o);
        assert_eq!(
            console,
            vec![
                ("time_to_first_token", 100),
                ("time_to_second_token", 200),
                ("time_to_first_output_token", 210),
                ("request_latency", 300),
                ("decode_duration", 350),
                ("inter_token_latency", 400),
                ("output_token_throughput_per_user", 500),
                ("e2e_output_token_throughput", 510),
                ("output_sequence_length", 600),
                ("input_sequence_length", 700),
                ("output_token_throughput", 800),
                ("input_token_throughput", 805),
                ("request_throughput", 900),
                ("goodput", 1000),
                ("completed_request_count", 1075),
                ("request_error_rate", 1080),
                ("request_count", 1100),
            ]
        );
    }

    #[test]
    fn adjusted_rows_follow_parents() {
        for parent in [
            "time_to_first_token",
            "request_latency",
            "decode_duration",
            "inter_token_latency",
        ] {
            let adj = adjusted_of(parent).unwrap();
            assert_eq!(adj.tag, format!("adj_{parent}"));
            assert_eq!(adj.display_order, spec(parent).display_order + 1);
            assert!(adj.console());
        }
        assert!(adjusted_of("time_to_second_token").is_none());
    }

    #[test]
    fn units_and_conversions() {
        let ttft = spec(tags::TIME_TO_FIRST_TOKEN);
        // 71_815_784 ns -> 71.815784 ms
        assert_eq!(ttft.to_display(71_815_784.0), 71.815784);
        // goodput threshold 300 ms -> 3e8 ns
        assert_eq!(ttft.to_base(300.0), 3e8);
        assert_eq!(spec(tags::BENCHMARK_DURATION).display_unit.symbol(), "sec");
        assert_eq!(display_unit_of(tags::REQUEST_THROUGHPUT), "requests/sec");
        assert_eq!(ttft.display_divisor(), 1e6);
        assert_eq!(spec(tags::BENCHMARK_DURATION).display_divisor(), 1e9);
        assert_eq!(spec(tags::OUTPUT_SEQUENCE_LENGTH).display_divisor(), 1.0);
    }

    #[test]
    fn per_record_export_filter() {
        assert!(exported_per_record(tags::TIME_TO_FIRST_TOKEN, false));
        assert!(exported_per_record(tags::GOOD_REQUEST_COUNT, false));
        assert!(exported_per_record(tags::ERROR_ISL, false));
        assert!(!exported_per_record(tags::OSL_MISMATCH_COUNT, false));
        assert!(!exported_per_record(tags::USAGE_DISCREPANCY_COUNT, true));
        assert!(!exported_per_record(tags::REQUESTED_OSL, false));
        assert!(exported_per_record(tags::REQUESTED_OSL, true));
        assert!(!exported_per_record(tags::STREAM_SETUP_LATENCY, false));
        assert!(!exported_per_record(tags::REQUEST_COUNT, false));
    }
}
