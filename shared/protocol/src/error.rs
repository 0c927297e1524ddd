//! The error of a request record (`error` in `profile_export.jsonl`, see
//! `docs/outputs.md`) and how one is built from a Rust error and its chain of sources.
//!
//! AIPerf 0.13 writes `{"code", "type", "message"}` and, when they are not null,
//! `cause`, `cause_chain` and `details`. Its meaning, kept here:
//!
//! * `cause`: the immediate underlying cause of the error, as text;
//! * `cause_chain`: the type names of the error and of every cause beneath it,
//!   outermost first (the first element is the error's own `type`, the last the
//!   root cause);
//! * `details`: an object of extra facts about the failure.
//!
//! In Rust the chain is [`std::error::Error::source`]; [`ErrorDetails::from_error`]
//! (the error itself) and [`ErrorDetails::caused_by`] (a failure caused by an
//! error) walk it. Errors without an error value behind them (an HTTP status, an error
//! event of the stream, a cancellation) carry none of the three.
//!
//! The three fields are optional in the MessagePack encoding too (absent when
//! `None`), so messages of services built before them still decode: adding them
//! did not change [`crate::PROTOCOL_VERSION`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::error::Error;
use std::hash::{Hash, Hasher};

/// An error attached to a request record.
///
/// Two errors are equal (and hash alike) when their `code`, `type` and `message`
/// are: that is how AIPerf groups its `error_summary`, whatever the causes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetails {
    /// HTTP status, 499 for a client-side cancellation, `None` for transport errors.
    pub code: Option<u16>,
    /// Reason phrase or error class, e.g. `Internal Server Error`, `RequestCancellationError`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable message (response body for HTTP errors).
    pub message: String,
    /// The immediate underlying cause, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Type names from the error itself (`type`) down to the root cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause_chain: Option<Vec<String>>,
    /// Extra facts about the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Map<String, Value>>,
}

impl PartialEq for ErrorDetails {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code && self.kind == other.kind && self.message == other.message
    }
}

impl Eq for ErrorDetails {}

impl Hash for ErrorDetails {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
        self.kind.hash(state);
        self.message.hash(state);
    }
}

impl ErrorDetails {
    /// Builds an error with the given code, type and message (no cause, no details).
    pub fn new(code: Option<u16>, kind: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorDetails {
            code,
            kind: kind.into(),
            message: message.into(),
            cause: None,
            cause_chain: None,
            details: None,
        }
    }

    /// The error `err` itself, classified as `kind` (e.g. a transport error of the
    /// HTTP client named `ConnectionError`):
    ///
    /// * `message`: the messages of `err` and its sources (see [`chain_message`]);
    /// * `cause`: the message of `err`'s immediate source, when it has one;
    /// * `cause_chain`: `kind`, then the [`type_name`] of every source of `err`,
    ///   outermost first.
    ///
    /// Every text goes through `redact` (which removes secrets such as URL
    /// passwords) before it is stored.
    pub fn from_error(
        code: Option<u16>,
        kind: impl Into<String>,
        err: &(dyn Error + 'static),
        redact: &dyn Fn(&str) -> String,
    ) -> Self {
        let kind = kind.into();
        let mut names = vec![kind.clone()];
        names.extend(sources(err).map(type_name));
        ErrorDetails {
            code,
            message: redact(&chain_message(err)),
            cause: err.source().map(|s| redact(&s.to_string())),
            cause_chain: Some(names.iter().map(|n| redact(n)).collect()),
            details: None,
            kind,
        }
    }

    /// A failure of type `kind` described by `what`, caused by the error `cause`
    /// (e.g. `StreamError` "the response stream broke after 3 messages" caused by
    /// a connection reset):
    ///
    /// * `message`: `what: ` followed by [`chain_message`] of `cause`;
    /// * `cause`: the message of `cause`;
    /// * `cause_chain`: `kind`, then the [`type_name`] of `cause` and of each of its
    ///   sources, outermost first.
    ///
    /// Every text goes through `redact`.
    pub fn caused_by(
        code: Option<u16>,
        kind: impl Into<String>,
        what: &str,
        cause: &(dyn Error + 'static),
        redact: &dyn Fn(&str) -> String,
    ) -> Self {
        let kind = kind.into();
        let mut names = vec![kind.clone(), type_name(cause)];
        names.extend(sources(cause).map(type_name));
        ErrorDetails {
            code,
            message: redact(&format!("{what}: {}", chain_message(cause))),
            cause: Some(redact(&cause.to_string())),
            cause_chain: Some(names.iter().map(|n| redact(n)).collect()),
            details: None,
            kind,
        }
    }

    /// This error with every text passed through `redact` (message, cause, cause
    /// chain, string values of `details`): for texts that quote a server's answer.
    pub fn redacted(mut self, redact: &dyn Fn(&str) -> String) -> Self {
        self.message = redact(&self.message);
        self.cause = self.cause.map(|c| redact(&c));
        if let Some(chain) = self.cause_chain.as_mut() {
            for c in chain {
                *c = redact(c);
            }
        }
        if let Some(details) = self.details.as_mut() {
            for v in details.values_mut() {
                if let Value::String(s) = v {
                    *s = redact(s);
                }
            }
        }
        self
    }

    /// Adds one entry to `details`.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }
}

/// The sources beneath `err` (not `err` itself), outermost first.
pub fn sources<'a>(
    err: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> + 'a {
    std::iter::successors(err.source(), |e: &&'a (dyn Error + 'static)| (*e).source())
}

/// The message of `err` followed by those of its sources, joined with `: `; a
/// source whose message is already part of the text is left out (many errors
/// repeat their source in their own message).
pub fn chain_message(err: &(dyn Error + 'static)) -> String {
    let mut s = err.to_string();
    for source in sources(err) {
        let m = source.to_string();
        if !m.is_empty() && !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
    }
    s
}

/// A name for the type of an error in a chain: `io::Error(<kind>)` for an I/O
/// error (the kind says what failed: `ConnectionRefused`, `TimedOut`, …), else the
/// type path its `Debug` output starts with (`reqwest::Error`, `hyper::Error`,
/// `ConnectError`, …), else `Error`.
pub fn type_name(err: &(dyn Error + 'static)) -> String {
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        return format!("io::Error({:?})", io.kind());
    }
    let debug = format!("{err:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let name = name.trim_end_matches(':');
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        "Error".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message, a `Debug` naming it and an optional source.
    struct Layer {
        name: &'static str,
        msg: &'static str,
        source: Option<Box<dyn Error + 'static>>,
    }

    impl std::fmt::Debug for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}({:?})", self.name, self.msg)
        }
    }

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.msg)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref()
        }
    }

    fn refused() -> Layer {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let connect = Layer {
            name: "ConnectError",
            msg: "tcp connect error",
            source: Some(Box::new(io)),
        };
        Layer {
            name: "client::Error",
            msg: "error sending request for url (http://bob:hunter2@127.0.0.1:1/v1)",
            source: Some(Box::new(connect)),
        }
    }

    #[test]
    fn the_chain_runs_from_the_type_to_the_root_cause() {
        let e = refused();
        let d = ErrorDetails::from_error(None, "ConnectionError", &e, &|s| s.to_string());
        assert_eq!(
            d.cause_chain.as_deref().unwrap(),
            [
                "ConnectionError",
                "ConnectError",
                "io::Error(ConnectionRefused)"
            ]
        );
        assert_eq!(d.cause.as_deref(), Some("tcp connect error"));
        assert_eq!(
            d.message,
            "error sending request for url (http://bob:hunter2@127.0.0.1:1/v1): \
             tcp connect error: Connection refused"
        );
        assert_eq!(d.kind, "ConnectionError");
        assert_eq!(d.code, None);
    }

    #[test]
    fn a_wrapped_cause_heads_the_chain_below_the_type() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let d =
            ErrorDetails::caused_by(None, "StreamError", "the stream broke", &io, &|s| s.into());
        assert_eq!(d.message, "the stream broke: reset by peer");
        assert_eq!(d.cause.as_deref(), Some("reset by peer"));
        assert_eq!(
            d.cause_chain.as_deref().unwrap(),
            ["StreamError", "io::Error(ConnectionReset)"]
        );
    }

    #[test]
    fn every_text_is_redacted() {
        let e = refused();
        let redact = |s: &str| s.replace("hunter2", "<redacted>");
        let d = ErrorDetails::caused_by(None, "TransportError", "POST failed", &e, &redact);
        assert!(d.message.starts_with("POST failed: error sending request"));
        assert!(!d.cause.as_deref().unwrap().contains("hunter2"));
        assert!(!d.message.contains("hunter2"), "{}", d.message);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }

    #[test]
    fn an_error_without_source_has_a_one_element_chain_and_no_cause() {
        let e = Layer {
            name: "Elapsed",
            msg: "deadline has elapsed",
            source: None,
        };
        let d = ErrorDetails::from_error(None, "RequestTimeoutError", &e, &|s| s.into());
        assert_eq!(d.cause, None);
        assert_eq!(
            d.cause_chain.as_deref().unwrap(),
            ["RequestTimeoutError".to_string()]
        );
    }

    #[test]
    fn type_names_come_from_debug_or_the_io_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert_eq!(type_name(&io), "io::Error(TimedOut)");
        let e = Layer {
            name: "hyper::Error",
            msg: "x",
            source: None,
        };
        assert_eq!(type_name(&e), "hyper::Error");
        let odd = Layer {
            name: "",
            msg: "x",
            source: None,
        };
        assert_eq!(type_name(&odd), "Error");
    }

    #[test]
    fn null_fields_are_omitted_and_details_written_when_set() {
        let plain = ErrorDetails::new(Some(500), "Internal Server Error", "boom");
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"code":500,"type":"Internal Server Error","message":"boom"}"#
        );
        let d =
            ErrorDetails::new(None, "StreamError", "broke").with_detail("responses_received", 3);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"code":null,"type":"StreamError","message":"broke","details":{"responses_received":3}}"#
        );
    }

    #[test]
    fn msgpack_round_trip_keeps_every_field_and_reads_old_messages() {
        let e = refused();
        let d = ErrorDetails::from_error(None, "ConnectionError", &e, &|s| s.into())
            .with_detail("timeout_s", 1.5);
        let back: ErrorDetails = crate::decode(&crate::encode(&d).unwrap()).unwrap();
        assert_eq!(back.cause, d.cause);
        assert_eq!(back.cause_chain, d.cause_chain);
        assert_eq!(back.details, d.details);
        assert_eq!(
            (back.code, &back.kind, &back.message),
            (d.code, &d.kind, &d.message)
        );

        // A message from before the cause fields: only code, type and message.
        #[derive(Serialize)]
        struct Old {
            code: Option<u16>,
            #[serde(rename = "type")]
            kind: String,
            message: String,
        }
        let old = Old {
            code: Some(500),
            kind: "Internal Server Error".into(),
            message: "boom".into(),
        };
        let back: ErrorDetails = crate::decode(&crate::encode(&old).unwrap()).unwrap();
        assert_eq!(
            back,
            ErrorDetails::new(Some(500), "Internal Server Error", "boom")
        );
        assert!(back.cause.is_none() && back.cause_chain.is_none() && back.details.is_none());
    }

    #[test]
    fn equality_ignores_causes_like_aiperf_error_grouping() {
        let a = ErrorDetails::new(None, "ConnectionError", "refused");
        let b = ErrorDetails {
            cause: Some("tcp connect error".into()),
            ..a.clone()
        };
        assert_eq!(a, b);
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(!set.insert(b));
    }
}
