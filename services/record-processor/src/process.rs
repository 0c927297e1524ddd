//! Raw record → metric record: parse responses, count tokens, compute metrics.

use aiperf_config::{ExportLevel, ProfileConfig};
use aiperf_endpoint::{parse_response, payload::input_texts};
use aiperf_export::raw_jsonl::{raw_record_line, request_headers};
use aiperf_metrics::{
    MetricContext, compute_record_metrics, metric_context,
    record::{RecordInput, ResponseInfo, Usage, invalid_reason},
};
use aiperf_protocol::Phase;
use aiperf_protocol::{
    ErrorDetails,
    record::{MetricRecord, RawRecord, RecordMetadata},
};
use aiperf_tokenizer::Tokenizer;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// Entries kept in the input-token cache before it is cleared.
const ISL_CACHE_LIMIT: usize = 100_000;

/// Turns raw records into metric records with one tokenizer and metric context.
pub struct RecordInterpreter {
    tokenizer: Arc<Tokenizer>,
    /// Input token counts by text hash: prompts repeat across requests.
    isl_cache: Mutex<HashMap<u64, u64>>,
    ctx: MetricContext,
    processor_id: String,
    /// The run has a warmup phase (profiling is then phase 1).
    has_warmup: bool,
    /// `--export-level raw`: the static request headers of the raw export line.
    raw_headers: Option<Vec<(String, String)>>,
}

impl RecordInterpreter {
    /// An interpreter for `config`'s run; `processor_id` is written into every record.
    /// Fails when the metric settings are invalid (a bad `--goodput`).
    pub fn new(
        config: &ProfileConfig,
        tokenizer: Arc<Tokenizer>,
        processor_id: impl Into<String>,
    ) -> Result<Self, String> {
        Ok(RecordInterpreter {
            tokenizer,
            isl_cache: Mutex::new(HashMap::new()),
            ctx: metric_context(config)?,
            processor_id: processor_id.into(),
            has_warmup: config.warmup_request_count > 0,
            raw_headers: (config.export_level == ExportLevel::Raw).then(|| request_headers(config)),
        })
    }

    /// The metric context records are computed with.
    pub fn context(&self) -> &MetricContext {
        &self.ctx
    }

    /// Token count of an input text, cached by hash.
    fn count_input(&self, text: &str) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let key = h.finish();
        if let Some(n) = self.isl_cache.lock().expect("cache lock").get(&key) {
            return *n;
        }
        let n = self.tokenizer.count(text) as u64;
        let mut cache = self.isl_cache.lock().expect("cache lock");
        if cache.len() >= ISL_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, n);
        n
    }

    /// Interprets one raw record.
    pub fn interpret(&self, raw: &RawRecord) -> MetricRecord {
        let parsed: Vec<_> = raw
            .responses
            .iter()
            .map(|r| parse_response(&r.data))
            .collect();
        let mut error = raw
            .error
            .clone()
            .or_else(|| parsed.iter().find_map(|p| p.error.clone()));
        let payload: serde_json::Value =
            serde_json::from_str(&raw.payload).unwrap_or(serde_json::Value::Null);
        let inputs = input_texts(&payload);
        let input_tokens = (!inputs.is_empty()).then(|| self.count_input(&inputs.join(" ")));
        let requested_osl = payload
            .get("max_completion_tokens")
            .or_else(|| payload.get("max_tokens"))
            .and_then(|v| v.as_u64());

        // Output and reasoning are counted apart, each as one joined text (metrics.md §2.1).
        let text: String = parsed.iter().map(|p| p.text.as_str()).collect();
        let reasoning: String = parsed.iter().map(|p| p.reasoning.as_str()).collect();
        // With --use-server-token-count the server's usage replaces these counts.
        let client_counts = !self.ctx.use_server_token_count;
        let first_chunk_tokens = parsed.iter().find(|p| p.has_content()).map(|p| {
            self.tokenizer.count(&p.text) as u64 + self.tokenizer.count(&p.reasoning) as u64
        });
        let usage = parsed
            .iter()
            .rev()
            .find_map(|p| p.usage.clone())
            .map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                total_tokens: u.total_tokens,
                reasoning_tokens: u.reasoning_tokens,
                cached_tokens: u.cached_tokens,
            });
        let responses = raw
            .responses
            .iter()
            .zip(&parsed)
            .map(|(r, p)| ResponseInfo {
                perf_ns: r.perf_ns,
                has_content: p.has_content(),
                has_output_content: !p.text.is_empty(),
            })
            .collect();
        let mut input = RecordInput {
            streaming: raw.streaming,
            start_perf_ns: raw.start_perf_ns,
            ack_perf_ns: raw.ack_perf_ns,
            end_perf_ns: raw.end_perf_ns,
            credit_received_perf_ns: Some(raw.credit_received_perf_ns),
            request_start_ns: raw.request_start_ns,
            scheduled_ns: raw.credit.scheduled_at_ns,
            responses,
            input_tokens,
            output_tokens: (client_counts && error.is_none())
                .then(|| self.tokenizer.count(&text) as u64),
            reasoning_tokens: (client_counts && !reasoning.is_empty())
                .then(|| self.tokenizer.count(&reasoning) as u64),
            first_chunk_tokens,
            usage,
            requested_osl,
            is_error: error.is_some(),
        };
        if error.is_none()
            && let Some(reason) = invalid_reason(&input)
        {
            error = Some(ErrorDetails::new(
                None,
                "InvalidInferenceResultError",
                format!("Invalid inference result: {reason}"),
            ));
            input.is_error = true;
        }
        let metrics = compute_record_metrics(&input, &self.ctx);
        let credit = &raw.credit;
        let (phase_index, profiling_index) = match credit.phase {
            Phase::Warmup => (0, None),
            Phase::Profiling => (u32::from(self.has_warmup), Some(0)),
        };
        let metadata = RecordMetadata {
            session_num: credit.id,
            x_request_id: raw.x_request_id.clone(),
            x_correlation_id: credit.x_correlation_id.clone(),
            conversation_id: credit.conversation_id.clone(),
            turn_index: credit.turn_index,
            credit_issued_ns: credit.issued_at_ns,
            scheduled_ns: credit.scheduled_at_ns,
            request_start_ns: raw.request_start_ns,
            request_ack_ns: raw
                .ack_perf_ns
                .filter(|_| raw.error.is_none())
                .map(|t| raw.wall_ns(t)),
            request_end_ns: raw.wall_ns(raw.end_perf_ns),
            worker_id: raw.worker_id.clone(),
            record_processor_id: self.processor_id.clone(),
            benchmark_phase: credit.phase,
            phase_index: Some(phase_index),
            profiling_index,
            phase_name: Some(credit.phase.as_str().to_string()),
            phase_kind: Some(credit.phase.as_str().to_string()),
            was_cancelled: raw.was_cancelled,
            cancellation_time_ns: raw.cancellation_perf_ns.map(|t| raw.wall_ns(t)),
            context_overflow_skip: Some(false),
            agent_depth: Some(0),
            root_correlation_id: Some(credit.x_correlation_id.clone()),
        };
        let raw_json = self
            .raw_headers
            .as_ref()
            .map(|h| raw_record_line(&metadata, raw, h));
        MetricRecord {
            metadata,
            metrics,
            error,
            raw_json,
        }
    }
}
