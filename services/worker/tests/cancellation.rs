//! The worker's HTTP exchange against the real mock server: request cancellation
//! timed from "fully sent", a real connection abort, and the first-token hook.

use aiperf_clock::mono_ns;
use aiperf_config::{Context, ProfileArgs, resolve};
use aiperf_mock_server::{MockConfig, MockServer};
use aiperf_worker::http::{FirstTokenHook, HttpClient};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn setup(ttft_ms: f64, itl_ms: f64) -> (MockServer, HttpClient) {
    let server = MockServer::start(
        MockConfig::default().with_latency(ttft_ms, itl_ms),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let args = ProfileArgs {
        models: Some(vec!["mock-model".into()]),
        url: Some(server.url()),
        streaming: Some(true),
        ..Default::default()
    };
    let config = resolve(
        &args,
        &Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        },
    )
    .unwrap();
    (server, HttpClient::new(&config).unwrap())
}

fn body(max_tokens: u32) -> bytes::Bytes {
    serde_json::json!({"model": "mock-model", "stream": true, "max_completion_tokens": max_tokens,
        "messages": [{"role": "user", "content": "hello ".repeat(20_000)}]})
    .to_string()
    .into()
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_timer_starts_when_sent_and_aborts_the_connection() {
    let (server, http) = setup(400.0, 5.0).await;
    // A 120 KB body goes in several chunks; the timer counts from its last byte.
    let ex = http
        .send(
            body(20),
            "r1",
            "c1",
            true,
            Some(Duration::from_millis(80)),
            None,
        )
        .await;
    assert!(ex.was_cancelled, "{ex:?}");
    let e = ex.error.as_ref().unwrap();
    assert_eq!(
        (e.code, e.kind.as_str(), e.message.as_str()),
        (
            Some(499),
            "RequestCancellationError",
            "Request cancelled 0.080s after being sent"
        )
    );
    let elapsed = Duration::from_nanos(ex.cancellation_perf_ns.unwrap() - ex.start_perf_ns);
    assert!(
        elapsed >= Duration::from_millis(80) && elapsed < Duration::from_millis(200),
        "cancelled {elapsed:?} after start"
    );
    assert_eq!(ex.end_perf_ns, ex.cancellation_perf_ns.unwrap());
    // The server saw the whole request, framed with Content-Length, then the client went away.
    wait_for(|| server.stats().disconnects == 1).await;
    let r = &server.received()[0];
    assert_eq!(
        r.header("content-length").map(str::to_string),
        Some(body(20).len().to_string())
    );
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(
        r.body_json["max_completion_tokens"], 20,
        "the body arrived intact"
    );
    assert_eq!(server.stats().successes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_delay_sends_then_disconnects_and_fast_responses_win() {
    let (server, http) = setup(200.0, 1.0).await;
    let ex = http
        .send(body(4), "r0", "c0", true, Some(Duration::ZERO), None)
        .await;
    assert!(ex.was_cancelled);
    assert_eq!(
        ex.error.as_ref().unwrap().message,
        "Request cancelled 0.000s after being sent"
    );
    let after = Duration::from_nanos(ex.cancellation_perf_ns.unwrap() - ex.start_perf_ns);
    assert!(
        after < Duration::from_millis(50),
        "disconnected {after:?} after the start, right after sending"
    );
    // Whether the server still processes a request whose client is gone is up to the
    // server; the connection is closed either way.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.stats().successes, 0);
    assert_eq!(server.stats().in_flight, 0);
    drop(server);

    // A response that completes before the timer is a normal success.
    let (server, http) = setup(5.0, 1.0).await;
    let ex = http
        .send(
            body(4),
            "r2",
            "c2",
            true,
            Some(Duration::from_millis(500)),
            None,
        )
        .await;
    assert!(!ex.was_cancelled && ex.error.is_none(), "{ex:?}");
    assert_eq!(server.stats().successes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_token_hook_fires_once_at_the_first_content_chunk() {
    let (_server, http) = setup(100.0, 20.0).await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let hook: FirstTokenHook = Box::new(move || c.lock().unwrap().push(mono_ns()));
    let ex = http.send(body(5), "r3", "c3", true, None, Some(hook)).await;
    assert!(ex.error.is_none(), "{ex:?}");
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let ttft = Duration::from_nanos(calls[0] - ex.start_perf_ns);
    assert!(
        ttft >= Duration::from_millis(100) && ttft < Duration::from_millis(160),
        "hook at {ttft:?}, TTFT 100 ms"
    );
    let end = Duration::from_nanos(ex.end_perf_ns - ex.start_perf_ns);
    assert!(
        end >= Duration::from_millis(180),
        "the stream went on after the hook: {end:?}"
    );
}
