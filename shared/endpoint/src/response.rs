//! Parsing response messages: SSE `data:` payloads and non-streaming bodies of
//! OpenAI chat and completions endpoints.

use aiperf_protocol::ErrorDetails;
use serde_json::Value;

use crate::Usage;

/// What one response message carried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedResponse {
    /// Output text (content, completions text, tool-call name + arguments).
    pub text: String,
    /// Reasoning text (`reasoning_content` or `reasoning`).
    pub reasoning: String,
    /// Usage, when the message carried a non-empty usage object.
    pub usage: Option<Usage>,
    /// An `error` object in the payload.
    pub error: Option<ErrorDetails>,
    /// The `[DONE]` sentinel.
    pub done: bool,
    /// The message is not valid JSON (`error` then says so). One such SSE
    /// message is skipped and counted; a whole body is an error.
    pub malformed: bool,
}

impl ParsedResponse {
    /// Carries any generated text (output or reasoning): a "content response".
    pub fn has_content(&self) -> bool {
        !self.text.is_empty() || !self.reasoning.is_empty()
    }
}

fn u(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

fn parse_usage(v: &Value) -> Option<Usage> {
    let obj = v.as_object()?;
    if obj.is_empty() {
        return None;
    }
    Some(Usage {
        prompt_tokens: u(v.get("prompt_tokens")),
        completion_tokens: u(v.get("completion_tokens")),
        total_tokens: u(v.get("total_tokens")),
        reasoning_tokens: u(v.pointer("/completion_tokens_details/reasoning_tokens")),
        cached_tokens: u(v.pointer("/prompt_tokens_details/cached_tokens")),
    })
}

fn parse_error(v: &Value) -> ErrorDetails {
    let code = v
        .get("code")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|c| c as u16);
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ServerError")
        .to_string();
    let message = match v {
        Value::String(s) => s.clone(),
        _ => v
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
    };
    ErrorDetails::new(code, kind, message)
}

fn push_str(out: &mut String, v: Option<&Value>) {
    if let Some(s) = v.and_then(Value::as_str) {
        out.push_str(s);
    }
}

/// The common shape of a response message, borrowed where possible: parsing into
/// it is several times cheaper than building a `serde_json::Value` tree.
mod fast {
    use serde::Deserialize;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    pub struct Message<'a> {
        #[serde(borrow, default)]
        pub choices: Option<Vec<Choice<'a>>>,
        #[serde(default)]
        pub usage: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        pub error: Option<serde::de::IgnoredAny>,
    }

    #[derive(Deserialize)]
    pub struct Choice<'a> {
        #[serde(borrow, default)]
        pub delta: Option<Body<'a>>,
        #[serde(borrow, default)]
        pub message: Option<Body<'a>>,
        #[serde(borrow, default)]
        pub text: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct Body<'a> {
        #[serde(borrow, default)]
        pub content: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub reasoning_content: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub reasoning: Option<Cow<'a, str>>,
        #[serde(default)]
        pub tool_calls: Option<serde::de::IgnoredAny>,
    }
}

/// Fast path for the usual chunk: text content only (no usage, error or tool calls,
/// which take the general path). `None` when the message is not of that shape.
fn parse_plain(data: &str) -> Option<ParsedResponse> {
    let m: fast::Message = serde_json::from_str(data).ok()?;
    if m.usage.is_some() || m.error.is_some() {
        return None;
    }
    let mut out = ParsedResponse::default();
    if let Some(choice) = m.choices.as_ref().and_then(|c| c.first()) {
        if let Some(b) = choice.delta.as_ref().or(choice.message.as_ref()) {
            if b.tool_calls.is_some() {
                return None;
            }
            out.text.push_str(b.content.as_deref().unwrap_or(""));
            out.reasoning
                .push_str(b.reasoning_content.as_deref().unwrap_or(""));
            out.reasoning.push_str(b.reasoning.as_deref().unwrap_or(""));
        }
        out.text.push_str(choice.text.as_deref().unwrap_or(""));
    }
    Some(out)
}

/// Parses one response message (an SSE `data:` payload or a whole JSON body).
/// Unparseable JSON yields an error so a broken stream is never silently counted.
pub fn parse_response(data: &str) -> ParsedResponse {
    let trimmed = data.trim();
    if trimmed == "[DONE]" {
        return ParsedResponse {
            done: true,
            ..Default::default()
        };
    }
    if let Some(p) = parse_plain(trimmed) {
        return p;
    }
    let v: Value = match serde_json::from_str(trimmed) {
        Ok(v) => v,
        Err(e) => {
            return ParsedResponse {
                error: Some(ErrorDetails::new(
                    None,
                    "InvalidResponse",
                    format!(
                        "response is not valid JSON ({e}): {}",
                        truncate(trimmed, 200)
                    ),
                )),
                malformed: true,
                ..Default::default()
            };
        }
    };
    let mut out = ParsedResponse::default();
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        out.error = Some(parse_error(e));
        return out;
    }
    if let Some(choice) = v
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        // Streaming chat uses `delta`, non-streaming chat `message`, completions `text`.
        let body = choice.get("delta").or_else(|| choice.get("message"));
        if let Some(m) = body {
            push_str(&mut out.text, m.get("content"));
            push_str(&mut out.reasoning, m.get("reasoning_content"));
            push_str(&mut out.reasoning, m.get("reasoning"));
            if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    push_str(&mut out.text, call.pointer("/function/name"));
                    push_str(&mut out.text, call.pointer("/function/arguments"));
                }
            }
        }
        push_str(&mut out.text, choice.get("text"));
    }
    if let Some(usage) = v.get("usage") {
        out.usage = parse_usage(usage);
    }
    out
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_delta_content_and_role_only_chunk() {
        let r = parse_response(
            r#"{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        );
        assert!(!r.has_content());
        let r = parse_response(
            r#"{"choices":[{"index":0,"delta":{"content":" the"},"finish_reason":null}]}"#,
        );
        assert_eq!(r.text, " the");
        assert!(r.has_content());
    }

    #[test]
    fn reasoning_is_kept_apart() {
        let r = parse_response(r#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#);
        assert_eq!((r.text.as_str(), r.reasoning.as_str()), ("", "hmm"));
        let r = parse_response(r#"{"choices":[{"delta":{"reasoning":"ok"}}]}"#);
        assert_eq!(r.reasoning, "ok");
    }

    #[test]
    fn usage_only_chunk_has_no_content() {
        let r = parse_response(
            r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}"#,
        );
        assert!(!r.has_content());
        assert_eq!(
            r.usage,
            Some(Usage {
                prompt_tokens: Some(10),
                completion_tokens: Some(5),
                total_tokens: Some(15),
                reasoning_tokens: Some(1),
                cached_tokens: Some(2)
            })
        );
    }

    #[test]
    fn completions_text_tool_calls_done_and_errors() {
        assert_eq!(
            parse_response(r#"{"choices":[{"text":"abc"}]}"#).text,
            "abc"
        );
        let r = parse_response(
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}"#,
        );
        assert_eq!(r.text, "f{}");
        assert!(parse_response("[DONE]").done);
        let e =
            parse_response(r#"{"error":{"message":"boom","type":"internal_error","code":500}}"#)
                .error
                .unwrap();
        assert_eq!(e, ErrorDetails::new(Some(500), "internal_error", "boom"));
        let bad = parse_response("{not json");
        assert_eq!(bad.error.unwrap().kind, "InvalidResponse");
        assert!(bad.malformed);
        assert!(!parse_response(r#"{"error":"x"}"#).malformed);
    }

    #[test]
    fn non_streaming_chat_body() {
        let r = parse_response(
            r#"{"choices":[{"message":{"role":"assistant","content":"hi there"}}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        );
        assert_eq!(r.text, "hi there");
        assert_eq!(r.usage.unwrap().completion_tokens, Some(2));
    }
}
