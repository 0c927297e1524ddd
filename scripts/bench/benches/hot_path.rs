//! Per-request CPU cost of the client's hot path, piece by piece:
//! SSE parsing (worker), chunk JSON parsing and full record interpretation
//! (record processor), MessagePack encoding of a raw record (wire), and the
//! request body of a replayed 120K-token (~500 KB) prompt (worker, before a send).
//!
//! Run: `cargo bench -p aiperf-bench` (numbers go to target/criterion).

use aiperf_endpoint::PayloadBuilder;
use aiperf_protocol::{
    Phase,
    credit::Credit,
    dataset::{Conversation, Turn},
    record::{RawRecord, RawResponse},
};
use aiperf_record_processor::RecordInterpreter;
use aiperf_worker::sse::SseParser;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const TOKENS: usize = 100;

fn chunk(i: usize) -> String {
    serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "mock-model",
        "choices": [{"index": 0, "delta": {"content": format!(" w{}", i % 50)}, "finish_reason": null}]})
    .to_string()
}

fn sse_body() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..TOKENS {
        out.extend_from_slice(format!("data: {}\n\n", chunk(i)).as_bytes());
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

fn raw_record() -> RawRecord {
    let responses = (0..TOKENS)
        .map(|i| RawResponse {
            perf_ns: 1_000_000 + i as u64 * 5_000_000,
            data: chunk(i),
        })
        .collect();
    RawRecord {
        credit: Credit {
            id: 1,
            phase: Phase::Profiling,
            conversation_id: "session_000001".into(),
            x_correlation_id: "c".into(),
            turn_index: 0,
            num_turns: 1,
            issued_at_ns: 1,
            scheduled_at_ns: None,
            cancel_after_ns: None,
        },
        worker_id: "worker_0".into(),
        x_request_id: "r".into(),
        credit_received_perf_ns: 0,
        request_start_ns: 1_795_000_000_000_000_000,
        start_perf_ns: 500_000,
        ack_perf_ns: Some(600_000),
        end_perf_ns: 1_000_000 + TOKENS as u64 * 5_000_000,
        status: Some(200),
        streaming: true,
        responses,
        error: None,
        was_cancelled: false,
        cancellation_perf_ns: None,
        payload: serde_json::json!({"messages": [{"role": "user", "content": "hello ".repeat(200)}], "model": "mock-model", "stream": true, "max_completion_tokens": TOKENS}).to_string(),
        http_trace: None,
        connection_retries: 0,
        non_sse_response: false,
    }
}

/// A streaming chat run against `mock-model`, everything else defaulted.
fn streaming_config() -> aiperf_config::ProfileConfig {
    let args = aiperf_config::ProfileArgs {
        models: Some(vec!["mock-model".into()]),
        streaming: Some(true),
        ..Default::default()
    };
    let ctx = aiperf_config::Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: String::new(),
    };
    aiperf_config::resolve(&args, &ctx).unwrap()
}

fn benches(c: &mut Criterion) {
    let body = sse_body();
    let mut g = c.benchmark_group("per_request_100_tokens");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sse_parse", |b| {
        b.iter(|| {
            let mut p = SseParser::new();
            let mut n = 0;
            // Network chunks of ~1 KiB, as a socket would deliver them.
            for part in body.chunks(1024) {
                p.feed(black_box(part), |_| n += 1);
            }
            p.finish(|_| n += 1);
            n
        })
    });
    let chunks: Vec<String> = (0..TOKENS).map(chunk).collect();
    g.bench_function("chunk_json_parse", |b| {
        b.iter(|| {
            chunks
                .iter()
                .map(|c| aiperf_endpoint::parse_response(black_box(c)).text.len())
                .sum::<usize>()
        })
    });
    let raw = raw_record();
    g.bench_function("msgpack_encode_decode_raw_record", |b| {
        b.iter(|| {
            let bytes = aiperf_protocol::encode(black_box(&raw)).unwrap();
            aiperf_protocol::decode::<RawRecord>(&bytes)
                .unwrap()
                .responses
                .len()
        })
    });
    let config = streaming_config();
    let interp = RecordInterpreter::new(
        &config,
        aiperf_tokenizer::load(None).unwrap(),
        "record_processor_bench",
    )
    .unwrap();
    g.bench_function("interpret_record_builtin_tokenizer", |b| {
        b.iter(|| interp.interpret(black_box(&raw)).metrics.len())
    });
    g.finish();
}

/// A ~500 KB prompt of real ShareGPT text (quotes, newlines and non-ASCII to escape),
/// the size of the longest Mooncake prompts: the repository's ShareGPT excerpt, repeated.
fn long_prompt() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/sharegpt/sample.head200.json"
    );
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("ShareGPT sample")).unwrap();
    let mut text = String::new();
    for value in sample
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["conversations"].as_array().unwrap())
    {
        text.push_str(value["value"].as_str().unwrap_or_default());
        text.push('\n');
    }
    let mut prompt = String::with_capacity(520_000);
    while prompt.len() < 500_000 {
        prompt.push_str(&text);
    }
    prompt
}

fn request_body(c: &mut Criterion) {
    let prompt = long_prompt();
    let conversation = Conversation {
        id: "c".into(),
        turns: vec![Turn {
            texts: vec![prompt],
            max_tokens: Some(500),
            ..Default::default()
        }],
        ..Default::default()
    };
    let builder = PayloadBuilder::new(&streaming_config());
    let mut g = c.benchmark_group("request_body_500kb_prompt");
    g.throughput(Throughput::Bytes(
        conversation.turns[0].texts[0].len() as u64
    ));
    g.bench_function("worker_build", |b| {
        b.iter(|| {
            let messages = PayloadBuilder::messages(black_box(&conversation), 0, &[]);
            builder.body_json(messages, &conversation.turns[0]).len()
        })
    });
    g.finish();
}

criterion_group!(hot_path, benches, request_body);
criterion_main!(hot_path);
