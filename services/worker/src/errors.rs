//! Every error of a request, as it goes into the record (`error` of
//! `profile_export.jsonl`, see `docs/outputs.md`). One function per kind of failure:
//!
//! | failure | `code` | `type` | `cause` / `cause_chain` |
//! |---|---|---|---|
//! | non-2xx status | status | reason phrase | — (no error value: the server answered) |
//! | could not connect / send | `null` | `ConnectionError`, `RequestTimeoutError`, `TransportError` | the transport error's sources |
//! | response stream broke | `null` | `StreamError` | the read error's sources |
//! | no response within `--request-timeout-seconds` | `null` | `RequestTimeoutError` | — |
//! | the body paused longer than `--request-idle-timeout-seconds` | `null` | `RequestTimeoutError` | — |
//! | cancelled by the client | 499 | `RequestCancellationError` | — |
//!
//! `cause_chain` starts with the `type` and lists the type of every source below
//! it down to the root (e.g. `["ConnectionError", "hyper_util::…::Error",
//! "ConnectError", "io::Error(ConnectionRefused)"]`); `cause` is the message of
//! the immediate source. Every text passes through the run's [`Redactor`], so no
//! URL password, API key or secret header value reaches a record. An error event
//! in the SSE stream is not built here: the record processor reads it from the
//! response messages.

use aiperf_export::redact::Redactor;
use aiperf_protocol::ErrorDetails;
use std::error::Error;
use std::time::Duration;

/// A non-2xx response: its status, reason phrase and body.
pub fn http_status(status: reqwest::StatusCode, body: &str, redact: &Redactor) -> ErrorDetails {
    ErrorDetails::new(
        Some(status.as_u16()),
        status.canonical_reason().unwrap_or("HTTP Error"),
        redact.apply(body),
    )
}

/// The request could not be sent or its response head not read (reqwest).
pub fn transport(e: &reqwest::Error, redact: &Redactor) -> ErrorDetails {
    let kind = if e.is_connect() {
        "ConnectionError"
    } else if e.is_timeout() {
        "RequestTimeoutError"
    } else {
        "TransportError"
    };
    ErrorDetails::from_error(None, kind, e, &|s| redact.apply(s))
}

/// The dedicated connection of a cancellable request failed: `connect` tells
/// whether before the request could be written.
pub fn direct(
    connect: bool,
    context: &str,
    source: Option<&(dyn Error + 'static)>,
    redact: &Redactor,
) -> ErrorDetails {
    let kind = if connect {
        "ConnectionError"
    } else {
        "TransportError"
    };
    match source {
        Some(e) => ErrorDetails::caused_by(None, kind, context, e, &|s| redact.apply(s)),
        None => ErrorDetails::new(None, kind, redact.apply(context)),
    }
}

/// The response stream broke after `received` messages.
pub fn stream_broke(e: &(dyn Error + 'static), received: usize, redact: &Redactor) -> ErrorDetails {
    let what = format!("the response stream broke after {received} messages");
    ErrorDetails::caused_by(None, "StreamError", &what, e, &|s| redact.apply(s))
        .with_detail("responses_received", received)
}

/// Reading a non-streamed response body failed.
pub fn body_read(e: &(dyn Error + 'static), redact: &Redactor) -> ErrorDetails {
    ErrorDetails::caused_by(
        None,
        "StreamError",
        "reading the response body failed",
        e,
        &|s| redact.apply(s),
    )
}

/// No complete response within the request timeout.
pub fn timed_out(timeout: Duration) -> ErrorDetails {
    ErrorDetails::new(
        None,
        "RequestTimeoutError",
        format!(
            "no complete response within {:.3} s (--request-timeout-seconds)",
            timeout.as_secs_f64()
        ),
    )
    .with_detail("timeout_s", timeout.as_secs_f64())
}

/// The response body began, then nothing came for `idle` (after `received`
/// SSE messages; 0 for a non-streaming body).
pub fn stalled(idle: Duration, received: usize) -> ErrorDetails {
    ErrorDetails::new(
        None,
        "RequestTimeoutError",
        format!(
            "the server stopped sending: nothing for {:.3} s after {received} messages of the response (--request-idle-timeout-seconds)",
            idle.as_secs_f64()
        ),
    )
    .with_detail("idle_timeout_s", idle.as_secs_f64())
    .with_detail("responses_received", received)
}

/// The client cancelled the request `delay` after it was fully sent (AIPerf's
/// exact record: code 499, no details).
pub fn cancelled(delay: Duration) -> ErrorDetails {
    ErrorDetails::new(
        Some(499),
        "RequestCancellationError",
        format!(
            "Request cancelled {:.3}s after being sent",
            delay.as_secs_f64()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        port
    }

    /// A real connection refused, through reqwest: the chain names every layer
    /// down to the OS error, and the URL password never appears.
    #[tokio::test]
    async fn connection_refused_has_its_cause_chain_and_no_password() {
        let url = format!(
            "http://bob:hunter2@127.0.0.1:{}/v1/chat/completions",
            closed_port()
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let e = reqwest::Client::new()
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap_err();
        let d = transport(&e, &Redactor::new(["sk-key".to_string()]));
        assert_eq!(d.kind, "ConnectionError");
        assert_eq!(d.code, None);
        let chain = d.cause_chain.clone().unwrap();
        assert_eq!(chain[0], "ConnectionError");
        assert_eq!(
            chain.last().map(String::as_str),
            Some("io::Error(ConnectionRefused)"),
            "{chain:?}"
        );
        assert!(
            chain.len() >= 3,
            "reqwest → hyper-util → connect → io: {chain:?}"
        );
        let cause = d.cause.clone().unwrap();
        assert!(!cause.is_empty());
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(
            d.message.contains("127.0.0.1") && d.message.contains("Connection refused"),
            "{}",
            d.message
        );
    }

    #[test]
    fn secrets_in_an_error_body_are_redacted() {
        let r = Redactor::new(["sk-key".to_string()]);
        let d = http_status(reqwest::StatusCode::UNAUTHORIZED, "invalid key sk-key", &r);
        assert_eq!(d.code, Some(401));
        assert_eq!(d.kind, "Unauthorized");
        assert_eq!(d.message, "invalid key <redacted>");
        assert!(d.cause.is_none() && d.cause_chain.is_none() && d.details.is_none());
    }

    #[test]
    fn stream_errors_carry_the_count_and_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let d = stream_broke(&io, 4, &Redactor::default());
        assert_eq!(
            d.message,
            "the response stream broke after 4 messages: reset by peer"
        );
        assert_eq!(
            d.cause_chain.as_deref().unwrap(),
            ["StreamError", "io::Error(ConnectionReset)"]
        );
        assert_eq!(d.cause.as_deref(), Some("reset by peer"));
        assert_eq!(d.details.unwrap()["responses_received"], 4);
    }

    #[test]
    fn cancellation_and_timeout_records() {
        let c = cancelled(Duration::from_millis(10));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"code":499,"type":"RequestCancellationError","message":"Request cancelled 0.010s after being sent"}"#
        );
        let t = timed_out(Duration::from_secs(2));
        assert_eq!(t.kind, "RequestTimeoutError");
        assert_eq!(t.details.unwrap()["timeout_s"], 2.0);
    }
}
