//! Raw record → metric record: parse responses, count tokens, compute metrics.

use aiperf_config::{ExportLevel, ProfileConfig};
use aiperf_endpoint::{parse_response, payload::input_texts};
use aiperf_export::raw_jsonl::{raw_record_line, request_headers};
use aiperf_export::redact::Redactor;
use aiperf_metrics::{
    MetricContext, compute_record_metrics, metric_context,
    record::{RecordInput, ResponseInfo, invalid_reason},
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
    /// The run's secrets, removed from error texts and raw lines that quote the
    /// server's answers.
    redactor: Redactor,
}

impl RecordInterpreter {
    /// Loads the run's tokenizer (on the blocking pool: a large `tokenizer.json`
    /// takes about a second) and builds the interpreter. What every record
    /// processor does at configure time, the built-in one and custom ones alike.
    pub async fn load(
        config: &ProfileConfig,
        processor_id: impl Into<String>,
    ) -> Result<Self, String> {
        let spec = config.tokenizer.clone();
        let tokenizer =
            tokio::task::spawn_blocking(move || aiperf_tokenizer::load(spec.as_deref()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        Self::new(config, tokenizer, processor_id)
    }

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
            has_warmup: config.warmup_enabled(),
            raw_headers: (config.export_level == ExportLevel::Raw).then(|| request_headers(config)),
            redactor: Redactor::for_config(config),
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
        // An SSE message that is not JSON is skipped (and counted); a whole body
        // that is not JSON is the request's error.
        let sse = raw.streaming && !raw.non_sse_response;
        let invalid_sse = if sse {
            parsed.iter().filter(|p| p.malformed).count() as u32
        } else {
            0
        };
        let mut error = raw.error.clone().or_else(|| {
            parsed
                .iter()
                .filter(|p| !(sse && p.malformed))
                .find_map(|p| p.error.clone())
        });
        let payload: serde_json::Value =
            serde_json::from_str(&raw.payload).unwrap_or(serde_json::Value::Null);
        let inputs = input_texts(&payload);
        let input_tokens = (!inputs.is_empty()).then(|| self.count_input(&inputs.join(" ")));
        let requested_osl = payload
            .get("max_completion_tokens")
            .or_else(|| payload.get("max_tokens"))
            .and_then(|v| v.as_u64());

        // Output and reasoning are counted apart, each as one joined text (`docs/metrics.md` §3).
        let text: String = parsed.iter().map(|p| p.text.as_str()).collect();
        let reasoning: String = parsed.iter().map(|p| p.reasoning.as_str()).collect();
        // With --use-server-token-count the server's usage replaces these counts.
        let client_counts = !self.ctx.use_server_token_count;
        let first_chunk_tokens = parsed.iter().find(|p| p.has_content()).map(|p| {
            self.tokenizer.count(&p.text) as u64 + self.tokenizer.count(&p.reasoning) as u64
        });
        let usage = parsed.iter().rev().find_map(|p| p.usage);
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
            // A plain body answering a streaming request has no per-token timing.
            streaming: sse,
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
            http_trace: raw.http_trace.clone(),
        };
        if error.is_none()
            && let Some(reason) = invalid_reason(&input)
        {
            let skipped = match invalid_sse {
                0 => String::new(),
                n => format!(" ({n} SSE messages were not valid JSON and were skipped)"),
            };
            error = Some(ErrorDetails::new(
                None,
                "InvalidInferenceResultError",
                format!("Invalid inference result: {reason}{skipped}"),
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
            connection_retries: raw.connection_retries,
            invalid_sse_messages: invalid_sse,
            non_sse_response: raw.non_sse_response,
        };
        // A server may quote a credential in its answer (an error event, a body).
        let redact = |s: &str| self.redactor.apply(s);
        let raw_json = self
            .raw_headers
            .as_ref()
            .map(|h| redact(&raw_record_line(&metadata, raw, h)));
        MetricRecord {
            metadata,
            metrics,
            error: error.map(|e| e.redacted(&redact)),
            raw_json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_config::{Context, ProfileArgs, resolve};
    use aiperf_protocol::credit::Credit;
    use aiperf_protocol::record::RawResponse;

    fn config(extra: ProfileArgs) -> ProfileConfig {
        let args = ProfileArgs {
            models: Some(vec!["mock-reasoning".into()]),
            streaming: Some(true),
            ..extra
        };
        let ctx = Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        resolve(&args, &ctx).unwrap()
    }

    fn interpreter(extra: ProfileArgs) -> RecordInterpreter {
        let tokenizer = aiperf_tokenizer::load(None).unwrap();
        RecordInterpreter::new(&config(extra), tokenizer, "record_processor_t").unwrap()
    }

    /// A streamed reasoning answer: role chunk, 2 reasoning chunks, 3 content
    /// chunks (1 ms apart from 10 ms), usage chunk, `[DONE]`.
    fn raw(phase: Phase) -> RawRecord {
        let ms = 1_000_000u64;
        let chunk = |field: &str, text: &str| {
            format!(r#"{{"choices":[{{"index":0,"delta":{{"{field}":"{text}"}}}}]}}"#)
        };
        let data = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#.to_string(),
            chunk("reasoning_content", " think"),
            chunk("reasoning_content", " hard"),
            chunk("content", " the"),
            chunk("content", " answer"),
            chunk("content", " is"),
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12,"completion_tokens_details":{"reasoning_tokens":2}}}"#.to_string(),
            "[DONE]".to_string(),
        ];
        let times = [9, 10, 11, 12, 13, 14, 15, 15];
        RawRecord {
            credit: Credit {
                id: 4,
                phase,
                conversation_id: "session_000004".into(),
                x_correlation_id: "corr-4".into(),
                turn_index: 0,
                num_turns: 1,
                issued_at_ns: 1_000,
                scheduled_at_ns: None,
                cancel_after_ns: None,
            },
            worker_id: "worker_t".into(),
            x_request_id: "req-4".into(),
            credit_received_perf_ns: 0,
            request_start_ns: 1_000_000_000,
            start_perf_ns: ms,
            ack_perf_ns: Some(2 * ms),
            end_perf_ns: 15 * ms,
            status: Some(200),
            streaming: true,
            responses: times
                .iter()
                .zip(data)
                .map(|(t, data)| RawResponse {
                    perf_ns: t * ms,
                    data,
                })
                .collect(),
            error: None,
            was_cancelled: false,
            cancellation_perf_ns: None,
            payload: r#"{"messages":[{"role":"user","content":"hello there"}],"model":"mock-reasoning","stream":true,"max_completion_tokens":5}"#.into(),
            http_trace: None,
            connection_retries: 0,
            non_sse_response: false,
        }
    }

    #[test]
    fn a_secret_quoted_by_the_server_is_redacted() {
        let interp = interpreter(ProfileArgs {
            api_key: Some("sk-quoted-secret-1".into()),
            export_level: Some(ExportLevel::Raw),
            ..Default::default()
        });
        let mut r = raw(Phase::Profiling);
        r.responses[3].data =
            r#"{"error":{"message":"key sk-quoted-secret-1 is revoked","type":"auth"}}"#.into();
        let rec = interp.interpret(&r);
        let e = rec.error.expect("an error event");
        assert_eq!(e.message, "key <redacted> is revoked");
        let line = rec.raw_json.expect("a raw line");
        assert!(!line.contains("sk-quoted-secret-1"), "{line}");
        assert!(line.contains("key <redacted> is revoked"), "{line}");
    }

    fn get(r: &MetricRecord, tag: &str) -> Option<f64> {
        r.metrics.iter().find_map(|(t, v)| match v {
            aiperf_protocol::record::MetricValue::Scalar(x) if t == tag => Some(*x),
            _ => None,
        })
    }

    #[test]
    fn reasoning_is_counted_apart_and_metadata_is_complete() {
        let interp = interpreter(ProfileArgs {
            warmup_request_count: Some(2),
            ..Default::default()
        });
        let r = interp.interpret(&raw(Phase::Profiling));
        assert!(r.error.is_none(), "{:?}", r.error);
        // " think hard" = 2 tokens, " the answer is" = 3 tokens (o200k)
        assert_eq!(get(&r, "reasoning_token_count"), Some(2.0));
        assert_eq!(get(&r, "output_token_count"), Some(3.0));
        assert_eq!(get(&r, "output_sequence_length"), Some(5.0));
        // TTFT = 10 − 1 ms (first reasoning chunk), TTFO = 12 − 1 ms (first content chunk),
        // latency = 14 − 1 ms (last content chunk; the usage chunk at 15 ms is ignored)
        assert_eq!(get(&r, "time_to_first_token"), Some(9e6));
        assert_eq!(get(&r, "time_to_first_output_token"), Some(11e6));
        assert_eq!(get(&r, "request_latency"), Some(13e6));
        // ITL = (13 − 9) ms / (5 − 1)
        assert_eq!(get(&r, "inter_token_latency"), Some(1e6));
        assert_eq!(get(&r, "usage_reasoning_tokens_diff_pct"), Some(0.0));
        let m = &r.metadata;
        assert_eq!((m.phase_index, m.profiling_index), (Some(1), Some(0)));
        assert_eq!(m.phase_name.as_deref(), Some("profiling"));
        assert_eq!(m.root_correlation_id.as_deref(), Some("corr-4"));
        assert_eq!(m.request_ack_ns, Some(1_001_000_000));
        assert_eq!(m.request_end_ns, 1_014_000_000);
        assert!(r.raw_json.is_none(), "no raw line below --export-level raw");

        let w = interp.interpret(&raw(Phase::Warmup)).metadata;
        assert_eq!((w.phase_index, w.profiling_index), (Some(0), None));
    }

    #[test]
    fn server_token_counts_and_raw_line() {
        let interp = interpreter(ProfileArgs {
            use_server_token_count: Some(true),
            export_level: Some(ExportLevel::Raw),
            ..Default::default()
        });
        let r = interp.interpret(&raw(Phase::Profiling));
        assert_eq!(get(&r, "input_sequence_length"), Some(7.0));
        assert_eq!(get(&r, "reasoning_token_count"), Some(2.0));
        assert_eq!(
            get(&r, "output_token_count"),
            Some(3.0),
            "5 completion − 2 reasoning"
        );
        assert_eq!(get(&r, "usage_prompt_tokens_diff_pct"), None);
        assert_eq!(
            r.metadata.phase_index,
            Some(0),
            "no warmup: profiling is phase 0"
        );
        let line: serde_json::Value = serde_json::from_str(r.raw_json.as_deref().unwrap()).unwrap();
        assert_eq!(line["metadata"]["x_request_id"], "req-4");
        assert_eq!(line["request_headers"]["X-Request-ID"], "req-4");
        assert_eq!(line["responses"].as_array().unwrap().len(), 8);
        assert_eq!(line["payload"]["max_completion_tokens"], 5);
    }

    #[test]
    fn bad_goodput_is_refused() {
        let tokenizer = aiperf_tokenizer::load(None).unwrap();
        let c = config(ProfileArgs {
            goodput: Some("nope:1".into()),
            ..Default::default()
        });
        let e = RecordInterpreter::new(&c, tokenizer, "rp").err().unwrap();
        assert!(e.contains("--goodput"), "{e}");
    }
}
