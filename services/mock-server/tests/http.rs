//! Real-HTTP tests of the mock server on 127.0.0.1 with port 0.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aiperf_mock_server::{MockConfig, MockServer, OUTPUT_WORDS, ttft_spread_fraction};
use futures_util::StreamExt;
use serde_json::{Value, json};

async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("mock server starts")
}

/// One client per tokio runtime (each test has its own runtime, and pooled
/// connections must not outlive theirs); building a client is costly.
fn client() -> reqwest::Client {
    static CLIENTS: Mutex<Vec<(tokio::runtime::Id, reqwest::Client)>> = Mutex::new(Vec::new());
    let id = tokio::runtime::Handle::current().id();
    let mut clients = CLIENTS.lock().unwrap();
    if let Some((_, c)) = clients.iter().find(|(i, _)| *i == id) {
        return c.clone();
    }
    // reqwest is built with `rustls-no-provider`: it needs a process-wide crypto
    // provider even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(2048)
        .build()
        .unwrap();
    clients.push((id, c.clone()));
    c
}

fn chat_body(prompt: &str, max_tokens: Option<u64>, stream: bool) -> Value {
    let mut b = json!({
        "model": "mock-model",
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    });
    if let Some(n) = max_tokens {
        b["max_completion_tokens"] = json!(n);
    }
    b
}

/// Splits an SSE body into its `data:` payloads.
fn sse_payloads(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            e.strip_prefix("data: ")
                .unwrap_or_else(|| panic!("event without data: {e:?}"))
                .to_string()
        })
        .collect()
}

async fn post(server: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", server.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn streaming_chat_chunk_shapes_done_and_usage() {
    let server = start(MockConfig::fast()).await;
    let mut body = chat_body("Hello there, how are you today?", Some(12), true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&server, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = resp.text().await.unwrap();
    let events = sse_payloads(&text);
    assert_eq!(events.len(), 12 + 2, "{text}");
    assert_eq!(events.last().unwrap(), "[DONE]");

    let chunks: Vec<Value> = events[..12]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let mut content = String::new();
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "mock-model");
        assert!(c["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(c["created"].as_u64().unwrap() > 1_700_000_000);
        let choice = &c["choices"][0];
        assert_eq!(choice["index"], 0);
        let delta = &choice["delta"];
        if i == 0 {
            assert_eq!(delta["role"], "assistant");
        } else {
            assert!(delta.get("role").is_none());
        }
        let word = delta["content"].as_str().unwrap();
        assert!(OUTPUT_WORDS.contains(&word), "{word:?}");
        content.push_str(word);
        let expected_finish = if i == 11 {
            json!("length")
        } else {
            Value::Null
        };
        assert_eq!(choice["finish_reason"], expected_finish);
    }
    assert_eq!(content.split_whitespace().count(), 12);

    let usage_chunk: Value = serde_json::from_str(&events[12]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let usage = &usage_chunk["usage"];
    // "Hello there, how are you today?" = 31 characters -> ceil(31 / 4) = 8.
    assert_eq!(usage["prompt_tokens"], 8);
    assert_eq!(usage["completion_tokens"], 12);
    assert_eq!(usage["total_tokens"], 20);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);

    // Deterministic: the same prompt yields the same text.
    let again = post(&server, "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let again_content: String = sse_payloads(&again)[..12]
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(again_content, content);

    let stats = server.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.successes, 2);
    assert_eq!(stats.completion_tokens, 24);
    assert_eq!(stats.prompt_tokens, 16);
    assert_eq!(stats.in_flight, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn streaming_without_usage_and_default_length() {
    let server = start(MockConfig::fast()).await;
    let text = post(
        &server,
        "/v1/chat/completions",
        &chat_body("abc", None, true),
    )
    .await
    .text()
    .await
    .unwrap();
    let events = sse_payloads(&text);
    // Default: 16 tokens, finish_reason "stop", no usage chunk.
    assert_eq!(events.len(), 17);
    assert_eq!(events[16], "[DONE]");
    let last: Value = serde_json::from_str(&events[15]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(server.metrics_text().contains(
        "vllm:request_success_total{finished_reason=\"stop\",model_name=\"mock-model\"} 1\n"
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn exact_token_counts_for_many_lengths() {
    let server = start(MockConfig::fast()).await;
    for n in [1u64, 2, 7, 100, 1000] {
        for stream in [false, true] {
            let mut body = chat_body(&format!("prompt {n}"), None, stream);
            body["max_tokens"] = json!(n);
            body["ignore_eos"] = json!(true);
            body["min_tokens"] = json!(n);
            let resp = post(&server, "/v1/chat/completions", &body).await;
            assert_eq!(resp.status(), 200);
            let text = resp.text().await.unwrap();
            let content = if stream {
                let events = sse_payloads(&text);
                assert_eq!(events.len() as u64, n + 1);
                events[..n as usize]
                    .iter()
                    .map(|e| {
                        serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"]["content"]
                            .as_str()
                            .unwrap()
                            .to_string()
                    })
                    .collect::<String>()
            } else {
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v["usage"]["completion_tokens"], n);
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            assert_eq!(content.split(' ').skip(1).count() as u64, n);
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn non_streaming_chat_and_completions_bodies() {
    let server = start(MockConfig::fast()).await;
    let v: Value = post(
        &server,
        "/v1/chat/completions",
        &chat_body("12345678", Some(5), false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "mock-model");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["finish_reason"], "length");
    let content = choice["message"]["content"].as_str().unwrap();
    assert!(content.starts_with(' '));
    assert_eq!(content.split_whitespace().count(), 5);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}})
    );

    let body = json!({"model": "m2", "prompt": "Once upon a time", "max_tokens": 4});
    let v: Value = post(&server, "/v1/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "m2");
    assert_eq!(
        v["choices"][0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        4
    );
    assert_eq!(v["usage"]["prompt_tokens"], 4);

    // Streaming completions.
    let mut body = json!({"model": "m2", "prompt": [1, 2, 3], "max_tokens": 3, "stream": true,
                          "stream_options": {"include_usage": true}});
    let text = post(&server, "/v1/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let events = sse_payloads(&text);
    assert_eq!(events.len(), 5);
    for (i, e) in events[..3].iter().enumerate() {
        let c: Value = serde_json::from_str(e).unwrap();
        assert_eq!(c["object"], "text_completion");
        assert!(OUTPUT_WORDS.contains(&c["choices"][0]["text"].as_str().unwrap()));
        let fr = if i == 2 { json!("length") } else { Value::Null };
        assert_eq!(c["choices"][0]["finish_reason"], fr);
    }
    let usage: Value = serde_json::from_str(&events[3]).unwrap();
    assert_eq!(usage["usage"]["prompt_tokens"], 3);
    assert_eq!(usage["usage"]["completion_tokens"], 3);

    // Bad requests.
    body = json!({"model": "m", "messages": [], "max_tokens": 0});
    let resp = post(&server, "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 400);
    let resp = client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    server.shutdown().await;
}

#[tokio::test]
async fn reasoning_models_emit_reasoning_content_first() {
    let mut cfg = MockConfig::fast();
    cfg.reasoning_tokens = 4;
    let server = start(cfg).await;
    let mut body = chat_body("think", Some(10), true);
    body["model"] = json!("mock-reasoning");
    body["stream_options"] = json!({"include_usage": true});
    let text = post(&server, "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let events = sse_payloads(&text);
    assert_eq!(events.len(), 12);
    for (i, e) in events[..10].iter().enumerate() {
        let delta = serde_json::from_str::<Value>(e).unwrap()["choices"][0]["delta"].clone();
        assert_eq!(delta.get("role").is_some(), i == 0);
        if i < 4 {
            assert!(delta["reasoning_content"].is_string(), "{delta}");
            assert!(delta.get("content").is_none());
        } else {
            assert!(delta["content"].is_string(), "{delta}");
        }
    }
    let usage: Value = serde_json::from_str(&events[10]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 10);
    assert_eq!(
        usage["usage"]["completion_tokens_details"]["reasoning_tokens"],
        4
    );

    // At least one content token remains.
    body["max_completion_tokens"] = json!(2);
    body["stream"] = json!(false);
    let v: Value = post(&server, "/v1/chat/completions", &body)
        .await
        .json()
        .await
        .unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(
        msg["reasoning_content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        1
    );
    assert_eq!(
        msg["content"].as_str().unwrap().split_whitespace().count(),
        1
    );
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        1
    );
    server.shutdown().await;
}

/// Sends a streaming request and returns (time of send, arrival time of each
/// token event).
async fn timed_stream(
    server: &MockServer,
    body: &Value,
    headers: &[(&str, &str)],
) -> (Instant, Vec<Instant>) {
    let mut req = client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let t0 = Instant::now();
    let resp = req.send().await.unwrap();
    let mut stream = resp.bytes_stream();
    let mut arrivals = Vec::new();
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        let now = Instant::now();
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(pos) = buf.find("\n\n") {
            let event: String = buf.drain(..pos + 2).collect();
            if !event.contains("[DONE]") {
                arrivals.push(now);
            }
        }
    }
    (t0, arrivals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttft_and_itl_follow_the_schedule() {
    let server = start(MockConfig::default().with_latency(30.0, 5.0)).await;
    let body = chat_body("time me", Some(21), true);
    let (t0, arrivals) = timed_stream(&server, &body, &[]).await;
    assert_eq!(arrivals.len(), 21);
    let ttft = arrivals[0] - t0;
    assert!(ttft >= Duration::from_millis(30), "ttft {ttft:?}");
    assert!(ttft < Duration::from_millis(200), "ttft {ttft:?}");
    // Absolute schedule: the last token is due at 30 + 20 * 5 = 130 ms, never earlier.
    assert!(arrivals[20] - t0 >= Duration::from_millis(130));
    // Loose bounds: a loaded machine may delay single chunks.
    let mean_itl = (arrivals[20] - arrivals[0]) / 20;
    assert!(
        mean_itl >= Duration::from_micros(2_500) && mean_itl <= Duration::from_millis(12),
        "mean itl {mean_itl:?}"
    );

    // Non-streaming: answered at ttft + (n - 1) * itl = 30 + 20 * 5 = 130 ms.
    let t = Instant::now();
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body("x", Some(21), false),
    )
    .await;
    resp.bytes().await.unwrap();
    let e2e = t.elapsed();
    assert!(e2e >= Duration::from_millis(130), "e2e {e2e:?}");
    assert!(e2e < Duration::from_millis(400), "e2e {e2e:?}");

    // Metrics saw realistic values.
    let m = server.metrics_text();
    assert!(m.contains("vllm:time_to_first_token_seconds_count{model_name=\"mock-model\"} 2\n"));
    assert!(m.contains("vllm:inter_token_latency_seconds_count{model_name=\"mock-model\"} 40\n"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_request_latency_headers_and_spread() {
    let server = start(MockConfig::default().with_latency(1.0, 0.0)).await;
    let body = chat_body("hdr", Some(3), true);
    let (t0, arrivals) = timed_stream(&server, &body, &[("X-Mock-TTFT-Ms", "60")]).await;
    assert!(arrivals[0] - t0 >= Duration::from_millis(60));
    let (t0, arrivals) = timed_stream(&server, &body, &[("X-Mock-ITL-Ms", "15")]).await;
    // Token 2 is due at ttft + 2 * itl = 31 ms: never earlier.
    assert!(arrivals[2] - t0 >= Duration::from_millis(31));
    server.shutdown().await;

    let mut cfg = MockConfig::default().with_latency(5.0, 0.0);
    cfg.ttft_spread_ms = 100.0;
    let server = start(cfg).await;
    // Pick request ids whose fraction is known: one low, one high.
    let ids: Vec<String> = (0..1000).map(|i| format!("req-{i}")).collect();
    let low = ids
        .iter()
        .find(|id| ttft_spread_fraction(id) < 0.1)
        .unwrap();
    let high = ids
        .iter()
        .find(|id| ttft_spread_fraction(id) > 0.8)
        .unwrap();
    let frac_above_half = ids
        .iter()
        .filter(|id| ttft_spread_fraction(id) > 0.5)
        .count();
    assert!((400..600).contains(&frac_above_half), "{frac_above_half}");
    let (t0, a) = timed_stream(&server, &body, &[("X-Request-ID", low)]).await;
    assert!(a[0] - t0 < Duration::from_millis(70), "{:?}", a[0] - t0);
    let (t0, a) = timed_stream(&server, &body, &[("X-Request-ID", high)]).await;
    assert!(a[0] - t0 >= Duration::from_millis(85), "{:?}", a[0] - t0);
    server.shutdown().await;
}

#[tokio::test]
async fn error_rate_100_gives_500s() {
    let mut cfg = MockConfig::fast();
    cfg.error_rate = 100.0;
    cfg.random_seed = 7;
    let server = start(cfg).await;
    for stream in [false, true] {
        let resp = post(
            &server,
            "/v1/chat/completions",
            &chat_body("x", Some(3), stream),
        )
        .await;
        assert_eq!(resp.status(), 500);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "Simulated error", "type": "internal_error", "code": 500}})
        );
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.errors, stats.successes), (2, 2, 0));
    assert!(
        server
            .metrics_text()
            .contains("aiperf_mock_requests_total{status=\"500\"} 2\n")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn error_rate_is_roughly_the_configured_share_and_seeded() {
    let run = |seed| async move {
        let mut cfg = MockConfig::fast();
        cfg.error_rate = 25.0;
        cfg.random_seed = seed;
        let server = start(cfg).await;
        let mut pattern = Vec::new();
        for _ in 0..200 {
            let resp = post(
                &server,
                "/v1/completions",
                &json!({"prompt": "p", "max_tokens": 1}),
            )
            .await;
            pattern.push(resp.status().as_u16());
        }
        server.shutdown().await;
        pattern
    };
    let a = run(1).await;
    let errors = a.iter().filter(|s| **s == 500).count();
    assert!((25..=75).contains(&errors), "{errors} errors out of 200");
    assert_eq!(a, run(1).await, "same seed, same pattern");
    assert_ne!(a, run(2).await, "different seed, different pattern");
}

#[tokio::test]
async fn forced_error_header() {
    let server = start(MockConfig::fast()).await;
    let resp = client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .header("X-Mock-Error", "429")
        .json(&chat_body("x", Some(3), true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 429);
    assert_eq!(v["error"]["message"], "Simulated error");
    let resp = client()
        .post(format!("{}/v1/completions", server.url()))
        .header("X-Mock-Error", "503")
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let m = server.metrics_text();
    assert!(m.contains("aiperf_mock_requests_total{status=\"429\"} 1\n"));
    assert!(m.contains("aiperf_mock_requests_total{status=\"503\"} 1\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn stream_error_event_after_k_tokens() {
    let server = start(MockConfig::fast()).await;
    let resp = client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .header("X-Mock-Stream-Error-After", "3")
        .json(&chat_body("x", Some(10), true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let events = sse_payloads(&resp.text().await.unwrap());
    assert_eq!(events.len(), 4, "{events:?}");
    for e in &events[..3] {
        let c: Value = serde_json::from_str(e).unwrap();
        assert!(c["choices"][0]["delta"]["content"].is_string());
    }
    let err: Value = serde_json::from_str(&events[3]).unwrap();
    assert_eq!(err["error"]["code"], 500);
    assert!(err["error"]["message"].is_string());
    assert!(err["error"]["type"].is_string());
    let stats = server.stats();
    assert_eq!(
        (stats.errors, stats.successes, stats.disconnects),
        (1, 0, 0)
    );
    assert_eq!(stats.completion_tokens, 3);
    server.shutdown().await;
}

fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{series} not in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_endpoint_exposes_vllm_families() {
    let server = start(MockConfig::fast()).await;
    for i in 0..3 {
        post(
            &server,
            "/v1/chat/completions",
            &chat_body("abcdefgh", Some(4), i % 2 == 0),
        )
        .await
        .bytes()
        .await
        .unwrap();
    }
    post(
        &server,
        "/v1/chat/completions",
        &chat_body("x", None, false),
    )
    .await
    .bytes()
    .await
    .unwrap();
    let resp = client()
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let m = resp.text().await.unwrap();
    let l = "{model_name=\"mock-model\"}";
    for family in [
        "# TYPE vllm:prompt_tokens_total counter",
        "# TYPE vllm:generation_tokens_total counter",
        "# TYPE vllm:request_success_total counter",
        "# TYPE vllm:num_requests_running gauge",
        "# TYPE vllm:num_requests_waiting gauge",
        "# TYPE vllm:time_to_first_token_seconds histogram",
        "# TYPE vllm:e2e_request_latency_seconds histogram",
        "# TYPE vllm:inter_token_latency_seconds histogram",
        "# TYPE aiperf_mock_disconnects_total counter",
        "# TYPE aiperf_mock_requests_total counter",
    ] {
        assert!(m.contains(family), "{family} missing in\n{m}");
    }
    assert_eq!(
        metric_value(&m, &format!("vllm:prompt_tokens_total{l}")),
        7.0
    );
    assert_eq!(
        metric_value(&m, &format!("vllm:generation_tokens_total{l}")),
        28.0
    );
    assert_eq!(
        metric_value(
            &m,
            "vllm:request_success_total{finished_reason=\"length\",model_name=\"mock-model\"}"
        ),
        3.0
    );
    assert_eq!(
        metric_value(
            &m,
            "vllm:request_success_total{finished_reason=\"stop\",model_name=\"mock-model\"}"
        ),
        1.0
    );
    assert_eq!(
        metric_value(&m, &format!("vllm:num_requests_running{l}")),
        0.0
    );
    assert_eq!(
        metric_value(&m, &format!("vllm:time_to_first_token_seconds_count{l}")),
        4.0
    );
    assert_eq!(
        metric_value(&m, &format!("vllm:e2e_request_latency_seconds_count{l}")),
        4.0
    );
    assert_eq!(
        metric_value(
            &m,
            "vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"mock-model\"}"
        ),
        4.0
    );
    assert_eq!(
        metric_value(&m, &format!("vllm:inter_token_latency_seconds_count{l}")),
        24.0
    );
    assert!(metric_value(&m, &format!("vllm:e2e_request_latency_seconds_sum{l}")) >= 0.0);
    assert_eq!(
        metric_value(&m, "aiperf_mock_requests_total{status=\"200\"}"),
        4.0
    );
    assert_eq!(metric_value(&m, "aiperf_mock_disconnects_total"), 0.0);
    // The preregistered reasoning model is listed with zeros.
    assert_eq!(
        metric_value(
            &m,
            "vllm:prompt_tokens_total{model_name=\"mock-reasoning\"}"
        ),
        0.0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn models_health_root_and_404() {
    let server = start(MockConfig::fast()).await;
    let c = client();
    let v: Value = c
        .get(format!("{}/v1/models", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock-model", "mock-reasoning"]);
    assert_eq!(v["data"][0]["object"], "model");

    let v: Value = c
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["config"]["ttft_ms"], 0.0);

    let v: Value = c
        .get(server.url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["endpoints"].is_array());

    let resp = c
        .get(format!("{}/nope", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(server.stats().requests_seen, 4);
    assert_eq!(server.stats().requests, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnects_are_counted() {
    let server = start(MockConfig::default().with_latency(1.0, 2.0)).await;
    let resp = post(
        &server,
        "/v1/chat/completions",
        &chat_body("x", Some(5000), true),
    )
    .await;
    let mut stream = resp.bytes_stream();
    // Read a few tokens, then drop the response (and its connection).
    for _ in 0..3 {
        stream.next().await.unwrap().unwrap();
    }
    assert_eq!(server.stats().in_flight, 1);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().disconnects == 0 {
        assert!(Instant::now() < deadline, "disconnect not detected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = server.stats();
    assert_eq!(stats.disconnects, 1);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.successes, 0);
    assert!(stats.completion_tokens < 5000);
    assert!(
        server
            .metrics_text()
            .contains("aiperf_mock_disconnects_total 1\n")
    );

    // A dropped non-streaming request is counted too.
    let c = client();
    let url = format!("{}/v1/chat/completions", server.url());
    let fut = c.post(url).json(&chat_body("x", Some(1000), false)).send();
    let _ = tokio::time::timeout(Duration::from_millis(50), fut).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().disconnects < 2 {
        assert!(
            Instant::now() < deadline,
            "non-streaming disconnect not detected"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.stats().in_flight, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thousand_concurrent_streams_complete() {
    let server = start(MockConfig::default().with_latency(20.0, 5.0)).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", server.url());
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let c = c.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let text = c
                .post(url)
                .json(&chat_body(&format!("request {i}"), Some(20), true))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            sse_payloads(&text).len()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 21);
    }
    let stats = server.stats();
    assert_eq!(stats.successes, 1000);
    assert_eq!(stats.completion_tokens, 20_000);
    assert_eq!(stats.in_flight, 0);
    assert!(stats.max_in_flight > 100, "{stats:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn received_requests_are_recorded() {
    let server = start(MockConfig::fast()).await;
    client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .header("X-Request-ID", "rid-1")
        .header("X-Correlation-ID", "cid-1")
        .header("Authorization", "Bearer sk-test")
        .header("X-Custom", "yes")
        .json(&chat_body("recorded", Some(2), false))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = server.received();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].path, "/v1/chat/completions");
    assert_eq!(r[0].header("x-request-id"), Some("rid-1"));
    assert_eq!(r[0].header("X-Correlation-ID"), Some("cid-1"));
    assert_eq!(r[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(r[0].header("x-custom"), Some("yes"));
    assert_eq!(r[0].body_json["messages"][0]["content"], "recorded");
    assert_eq!(r[0].body_json["max_completion_tokens"], 2);
    server.shutdown().await;

    let mut cfg = MockConfig::fast();
    cfg.record_requests = false;
    let server = start(cfg).await;
    post(&server, "/v1/completions", &json!({"prompt": "x"}))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(server.received().is_empty());
    server.shutdown().await;
}

/// Scale check, not run by default (`cargo test -p aiperf-mock-server --test http
/// -- --ignored many_concurrent_streams --nocapture`). The process needs two file
/// descriptors per stream (client and server side); `MOCK_STREAMS` sets the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn many_concurrent_streams() {
    let n: usize = std::env::var("MOCK_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9_000);
    let server = start(MockConfig::default().with_latency(1000.0, 100.0)).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", server.url());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = c.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let resp = c
                .post(url)
                .json(&chat_body(&format!("request {i}"), Some(10), true))
                .send()
                .await
                .unwrap();
            let headers_at = t0.elapsed();
            let text = resp.text().await.unwrap();
            (sse_payloads(&text).len(), headers_at, t0.elapsed())
        }));
    }
    let mut heads = Vec::new();
    let mut ends = Vec::new();
    for t in tasks {
        let (events, h, e) = t.await.unwrap();
        assert_eq!(events, 11);
        heads.push(h);
        ends.push(e);
    }
    heads.sort();
    ends.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() - 1) * p / 100];
    eprintln!(
        "response headers p50 {:?} p99 {:?} max {:?}; end p50 {:?} p99 {:?} max {:?}",
        pct(&heads, 50),
        pct(&heads, 99),
        pct(&heads, 100),
        pct(&ends, 50),
        pct(&ends, 99),
        pct(&ends, 100)
    );
    let stats = server.stats();
    eprintln!("{n} streams in {:?}; {stats:?}", t0.elapsed());
    assert_eq!(stats.successes as usize, n);
    server.shutdown().await;
}

#[tokio::test]
async fn prompt_tokens_are_counted_with_the_configured_tokenizer() {
    let server = start(MockConfig {
        tokenizer: Some("builtin".into()),
        ..MockConfig::fast()
    })
    .await;
    let body = json!({"model": "mock-model", "max_completion_tokens": 2, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello world, how are you today?"}]});
    let resp: Value = client()
        .post(format!("{}/v1/chat/completions", server.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The client's ISL rule: every text joined with one space, encoded once.
    let expected = aiperf_tokenizer::load(Some("builtin"))
        .unwrap()
        .count("You are terse. Hello world, how are you today?") as u64;
    assert_eq!(resp["usage"]["prompt_tokens"].as_u64(), Some(expected));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_are_counted_and_snapshotted_at_the_first_request() {
    let server = start(MockConfig::fast()).await;
    assert_eq!(server.stats().connections, 0);
    assert_eq!(server.stats().connections_at_first_request, None);
    // Three idle connections opened ahead, then one request over a fourth.
    let addr = server.addr;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // A fresh client (its own pool), so the request needs a new connection.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fresh = reqwest::Client::builder().http1_only().build().unwrap();
    // The accept loop may lag the client's connect: wait until the server saw them.
    while server.stats().connections < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resp = fresh
        .post(format!("{}/v1/chat/completions", server.url()))
        .json(&chat_body("hi", Some(2), false))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let _ = resp.bytes().await.unwrap();
    let stats = server.stats();
    assert_eq!(stats.connections, 4);
    assert_eq!(stats.connections_at_first_request, Some(4));
    // A second request over the same keep-alive connection changes neither.
    let resp = fresh
        .post(format!("{}/v1/chat/completions", server.url()))
        .json(&chat_body("hi", Some(2), false))
        .send()
        .await
        .unwrap();
    let _ = resp.bytes().await.unwrap();
    let stats = server.stats();
    assert_eq!(stats.connections, 4);
    assert_eq!(stats.connections_at_first_request, Some(4));
    drop(idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timing_log_holds_the_server_measured_ttft_of_each_stream() {
    let dir = std::env::temp_dir().join(format!("mock-timing-log-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("timing.jsonl");
    let server = start(MockConfig {
        timing_log: Some(path.clone()),
        ..MockConfig::default().with_latency(20.0, 1.0)
    })
    .await;
    let body = chat_body("log me", Some(3), true);
    let mut client_ttft = Vec::new();
    for id in ["req-a", "req-b"] {
        let (t0, arrivals) = timed_stream(&server, &body, &[("X-Request-ID", id)]).await;
        client_ttft.push(arrivals[0] - t0);
    }
    // A non-streaming request is not logged; a stream without an id is, with `null`.
    post(
        &server,
        "/v1/chat/completions",
        &chat_body("x", Some(2), false),
    )
    .await
    .bytes()
    .await
    .unwrap();
    timed_stream(&server, &body, &[]).await;
    server.shutdown().await;
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let ids: Vec<&Value> = lines.iter().map(|l| &l["x_request_id"]).collect();
    assert_eq!(ids, [&json!("req-a"), &json!("req-b"), &Value::Null]);
    let arrivals: Vec<u64> = lines
        .iter()
        .map(|l| l["request"].as_u64().unwrap())
        .collect();
    assert_eq!(arrivals, [0, 1, 3]);
    for (line, client) in lines.iter().zip(&client_ttft) {
        let server_ttft = Duration::from_nanos(line["ttft_ns"].as_u64().unwrap());
        // The schedule is never early, and the server's view is inside the client's.
        assert!(server_ttft >= Duration::from_millis(20), "{line}");
        assert!(server_ttft <= *client, "{line} vs client {client:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
