//! Per-request CPU cost of the client's hot path, piece by piece:
//! SSE parsing (worker), chunk JSON parsing and full record interpretation
//! (record processor), MessagePack encoding of a raw record (wire).
//!
//! Run: `cargo bench -p aiperf-bench` (numbers go to target/criterion).

use aiperf_protocol::{
    Phase,
    credit::Credit,
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
    }
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
    let config = aiperf_config::resolve(&args, &ctx).unwrap();
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

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
