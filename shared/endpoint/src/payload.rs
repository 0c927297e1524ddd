//! Request bodies for `/v1/chat/completions` and `/v1/completions` (datasets.md §7).

use aiperf_config::{EndpointType, ProfileConfig};
use aiperf_protocol::dataset::{Conversation, Turn};
use serde_json::{Map, Value, json};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// Text parts (one part is sent as a plain string).
    pub texts: Vec<String>,
}

impl ChatMessage {
    /// A message with one text.
    pub fn new(role: &'static str, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            texts: vec![text.into()],
        }
    }

    fn content(&self) -> Value {
        match self.texts.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::Array(
                many.iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect(),
            ),
        }
    }
}

/// Builds request bodies from turns with the run's settings.
#[derive(Debug, Clone)]
pub struct PayloadBuilder {
    endpoint_type: EndpointType,
    model: String,
    streaming: bool,
    legacy_max_tokens: bool,
    extra: Map<String, Value>,
}

impl PayloadBuilder {
    /// Settings from the run configuration.
    pub fn new(config: &ProfileConfig) -> Self {
        PayloadBuilder {
            endpoint_type: config.endpoint_type,
            model: config.model().to_string(),
            streaming: config.streaming,
            legacy_max_tokens: config.use_legacy_max_tokens,
            extra: config.extra_inputs(),
        }
    }

    /// Whether requests ask for a stream.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// The messages of turn `turn_index`: system message, user context, `history`
    /// (earlier turns and the replies actually received), then the turn itself.
    pub fn messages(
        conversation: &Conversation,
        turn_index: usize,
        history: &[ChatMessage],
    ) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(history.len() + 3);
        if let Some(s) = &conversation.system_message {
            out.push(ChatMessage::new("system", s.clone()));
        }
        if let Some(u) = &conversation.user_context {
            out.push(ChatMessage::new("user", u.clone()));
        }
        out.extend_from_slice(history);
        if let Some(turn) = conversation.turns.get(turn_index) {
            out.push(ChatMessage {
                role: "user",
                texts: turn.texts.clone(),
            });
        }
        out
    }

    /// The JSON body of a request carrying `messages` for `turn`.
    pub fn body(&self, messages: &[ChatMessage], turn: &Turn) -> Value {
        let mut body = Map::new();
        match self.endpoint_type {
            EndpointType::Chat => {
                let msgs: Vec<Value> = messages
                    .iter()
                    .map(|m| json!({"role": m.role, "content": m.content()}))
                    .collect();
                body.insert("messages".into(), Value::Array(msgs));
            }
            EndpointType::Completions => {
                let prompt: Vec<&str> = messages
                    .iter()
                    .flat_map(|m| m.texts.iter().map(String::as_str))
                    .collect();
                body.insert("prompt".into(), Value::String(prompt.join(" ")));
            }
        }
        body.insert("model".into(), Value::String(self.model.clone()));
        body.insert("stream".into(), Value::Bool(self.streaming));
        if let Some(n) = turn.max_tokens {
            let key = match (self.endpoint_type, self.legacy_max_tokens) {
                (EndpointType::Chat, false) => "max_completion_tokens",
                _ => "max_tokens",
            };
            body.insert(key.into(), Value::from(n));
        }
        if self.streaming {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if let Some(extra) = turn
            .extra_json
            .as_deref()
            .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
        {
            body.extend(extra);
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }

    /// [`PayloadBuilder::body`] serialized, into a buffer sized for it up front: a
    /// replayed 500 KB prompt is written once, without regrowing (and page-faulting)
    /// its buffer on the way to the wire.
    pub fn body_json(&self, messages: &[ChatMessage], turn: &Turn) -> String {
        let texts: usize = messages
            .iter()
            .flat_map(|m| &m.texts)
            .map(|t| t.len() + 32)
            .sum();
        let mut out = Vec::with_capacity(texts + texts / 32 + 512);
        serde_json::to_writer(&mut out, &self.body(messages, turn))
            .expect("a JSON value always serializes into a Vec");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// The body of a conversation's turn in isolation (no live history), as in `inputs.json`.
    pub fn turn_body(&self, conversation: &Conversation, turn_index: usize) -> Value {
        let msgs = Self::messages(conversation, turn_index, &[]);
        let turn = conversation
            .turns
            .get(turn_index)
            .cloned()
            .unwrap_or_default();
        self.body(&msgs, &turn)
    }
}

/// Every text of a request body, in order (the input whose tokens are the ISL,
/// metrics.md §2.1: joined with a single space and encoded once).
pub fn input_texts(body: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(p) = body.get("prompt") {
        match p {
            Value::String(s) => out.push(s.as_str()),
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    if let Some(Value::Array(msgs)) = body.get("messages") {
        for m in msgs {
            match m.get("content") {
                Some(Value::String(s)) => out.push(s.as_str()),
                Some(Value::Array(parts)) => out.extend(
                    parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str)),
                ),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint_type: EndpointType, streaming: bool) -> ProfileConfig {
        let args = aiperf_config::ProfileArgs {
            models: Some(vec!["mock-model".into()]),
            streaming: Some(streaming),
            endpoint_type: Some(endpoint_type),
            extra_inputs: Some(vec!["ignore_eos:true".into()]),
            ..Default::default()
        };
        let ctx = aiperf_config::Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: String::new(),
        };
        aiperf_config::resolve(&args, &ctx).unwrap()
    }

    fn conversation() -> Conversation {
        Conversation {
            id: "session_000000".into(),
            system_message: Some("be brief".into()),
            user_context: None,
            turns: vec![Turn {
                texts: vec!["hello there".into()],
                max_tokens: Some(20),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn chat_streaming_body_matches_aiperf_layout() {
        let b = PayloadBuilder::new(&config(EndpointType::Chat, true));
        let body = b.turn_body(&conversation(), 0);
        assert_eq!(
            body.to_string(),
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"model":"mock-model","stream":true,"max_completion_tokens":20,"stream_options":{"include_usage":true},"ignore_eos":true}"#
        );
        assert_eq!(input_texts(&body), vec!["be brief", "hello there"]);
    }

    #[test]
    fn completions_body_uses_prompt_and_max_tokens() {
        let b = PayloadBuilder::new(&config(EndpointType::Completions, false));
        let body = b.turn_body(&conversation(), 0);
        assert_eq!(
            body.to_string(),
            r#"{"prompt":"be brief hello there","model":"mock-model","stream":false,"max_tokens":20,"ignore_eos":true}"#
        );
        assert_eq!(input_texts(&body), vec!["be brief hello there"]);
    }

    #[test]
    fn multiple_texts_become_content_parts() {
        let m = ChatMessage {
            role: "user",
            texts: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            m.content().to_string(),
            r#"[{"type":"text","text":"a"},{"type":"text","text":"b"}]"#
        );
    }

    #[test]
    fn body_json_is_the_serialized_body() {
        let b = PayloadBuilder::new(&config(EndpointType::Chat, true));
        let conv = conversation();
        let msgs = PayloadBuilder::messages(
            &conv,
            0,
            &[ChatMessage::new("assistant", "a \"quoted\" reply\n")],
        );
        let json = b.body_json(&msgs, &conv.turns[0]);
        assert_eq!(json, b.body(&msgs, &conv.turns[0]).to_string());
        assert!(json.contains(r#"a \"quoted\" reply\n"#));
    }
}
