//! Request bodies for `/v1/chat/completions` and `/v1/completions` (AIPerf 0.13's request bodies).

use aiperf_config::{EndpointType, ProfileConfig};
use aiperf_protocol::dataset::{Conversation, Turn};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One chat message that is kept: a turn of a live session's history.
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

    /// This message, borrowed for a request body.
    pub fn as_message(&self) -> Message<'_> {
        Message {
            role: self.role,
            texts: &self.texts,
        }
    }
}

/// One message of a request body, borrowing its texts (a replayed prompt can be
/// 500 KB: it is read once, when the body is written, never copied before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// Text parts (one part is sent as a plain string).
    pub texts: &'a [String],
}

impl Serialize for Message<'_> {
    /// `{"role", "content"}`; the content is a string, or an array of
    /// `{"type": "text", "text"}` parts when there are several texts.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Part<'a>(&'a str);
        impl Serialize for Part<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "text")?;
                map.serialize_entry("text", self.0)?;
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("role", self.role)?;
        match self.texts {
            [one] => map.serialize_entry("content", one)?,
            many => {
                let parts: Vec<Part<'_>> = many.iter().map(|t| Part(t)).collect();
                map.serialize_entry("content", &parts)?
            }
        }
        map.end()
    }
}

/// A request body: its fields in order, the large ones borrowed. Serializing it
/// writes the JSON body in one pass ([`PayloadBuilder::body_json`]); it is also
/// the one definition of the body's layout ([`PayloadBuilder::body`]).
#[derive(Debug)]
pub struct RequestBody<'a> {
    fields: Vec<(Cow<'a, str>, Field<'a>)>,
}

/// The value of one body field.
#[derive(Debug)]
enum Field<'a> {
    Messages(Vec<Message<'a>>),
    Text(Cow<'a, str>),
    Bool(bool),
    Uint(u64),
    Json(Cow<'a, Value>),
}

impl<'a> RequestBody<'a> {
    /// Sets `key`; a key already present keeps its place and takes the new value
    /// (as inserting into an order-preserving JSON object does).
    fn set(&mut self, key: impl Into<Cow<'a, str>>, value: Field<'a>) {
        let key = key.into();
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.fields.push((key, value)),
        }
    }
}

impl Serialize for RequestBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in &self.fields {
            match value {
                Field::Messages(m) => map.serialize_entry(key, m)?,
                Field::Text(t) => map.serialize_entry(key, t)?,
                Field::Bool(b) => map.serialize_entry(key, b)?,
                Field::Uint(n) => map.serialize_entry(key, n)?,
                Field::Json(v) => map.serialize_entry(key, v)?,
            }
        }
        map.end()
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
    pub fn messages<'a>(
        conversation: &'a Conversation,
        turn_index: usize,
        history: &'a [ChatMessage],
    ) -> Vec<Message<'a>> {
        let mut out = Vec::with_capacity(history.len() + 3);
        if let Some(s) = &conversation.system_message {
            out.push(Message {
                role: "system",
                texts: std::slice::from_ref(s),
            });
        }
        if let Some(u) = &conversation.user_context {
            out.push(Message {
                role: "user",
                texts: std::slice::from_ref(u),
            });
        }
        out.extend(history.iter().map(ChatMessage::as_message));
        if let Some(turn) = conversation.turns.get(turn_index) {
            out.push(Message {
                role: "user",
                texts: &turn.texts,
            });
        }
        out
    }

    /// The body of a request carrying `messages` for `turn`: the messages (chat) or
    /// the prompt (completions), model, stream, the turn's max tokens, stream
    /// options, then the turn's `extra` and the run's `--extra-inputs`, which
    /// override fields of the same name in place.
    pub fn request<'a>(&'a self, messages: Vec<Message<'a>>, turn: &'a Turn) -> RequestBody<'a> {
        let mut body = RequestBody {
            fields: Vec::with_capacity(8 + self.extra.len()),
        };
        match self.endpoint_type {
            EndpointType::Chat => body.set("messages", Field::Messages(messages)),
            EndpointType::Completions => {
                let prompt: Vec<&str> = messages
                    .iter()
                    .flat_map(|m| m.texts.iter().map(String::as_str))
                    .collect();
                body.set("prompt", Field::Text(Cow::Owned(prompt.join(" "))));
            }
        }
        body.set("model", Field::Text(Cow::Borrowed(&self.model)));
        body.set("stream", Field::Bool(self.streaming));
        if let Some(n) = turn.max_tokens {
            let key = match (self.endpoint_type, self.legacy_max_tokens) {
                (EndpointType::Chat, false) => "max_completion_tokens",
                _ => "max_tokens",
            };
            body.set(key, Field::Uint(n.into()));
        }
        if self.streaming {
            let options = serde_json::json!({"include_usage": true});
            body.set("stream_options", Field::Json(Cow::Owned(options)));
        }
        if let Some(extra) = turn
            .extra_json
            .as_deref()
            .and_then(|s| serde_json::from_str::<Map<String, Value>>(s).ok())
        {
            for (k, v) in extra {
                body.set(k, Field::Json(Cow::Owned(v)));
            }
        }
        for (k, v) in &self.extra {
            body.set(k.as_str(), Field::Json(Cow::Borrowed(v)));
        }
        body
    }

    /// [`PayloadBuilder::request`] as a JSON value (for `inputs.json`).
    pub fn body(&self, messages: Vec<Message<'_>>, turn: &Turn) -> Value {
        serde_json::to_value(self.request(messages, turn))
            .expect("a request body always serializes to JSON")
    }

    /// [`PayloadBuilder::request`] serialized in one pass, into a buffer sized for
    /// it up front: a replayed 500 KB prompt is read once and written once, without
    /// regrowing (and page-faulting) its buffer on the way to the wire.
    pub fn body_json(&self, messages: Vec<Message<'_>>, turn: &Turn) -> String {
        let texts: usize = messages
            .iter()
            .flat_map(|m| m.texts)
            .map(|t| t.len() + 32)
            .sum();
        let mut out = Vec::with_capacity(texts + texts / 32 + 512);
        serde_json::to_writer(&mut out, &self.request(messages, turn))
            .expect("a request body always serializes into a Vec");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// The body of a conversation's turn in isolation (no live history), as in `inputs.json`.
    pub fn turn_body(&self, conversation: &Conversation, turn_index: usize) -> Value {
        let default = Turn::default();
        let turn = conversation.turns.get(turn_index).unwrap_or(&default);
        self.body(Self::messages(conversation, turn_index, &[]), turn)
    }
}

/// Every text of a request body, in order (the input whose tokens are the ISL,
/// `docs/metrics.md` §3: joined with a single space and encoded once).
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
            serde_json::to_string(&m.as_message()).unwrap(),
            r#"{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}"#
        );
    }

    #[test]
    fn body_json_is_the_serialized_body() {
        let b = PayloadBuilder::new(&config(EndpointType::Chat, true));
        let conv = conversation();
        let history = [ChatMessage::new("assistant", "a \"quoted\" reply\n")];
        let msgs = PayloadBuilder::messages(&conv, 0, &history);
        let json = b.body_json(msgs.clone(), &conv.turns[0]);
        assert_eq!(json, b.body(msgs, &conv.turns[0]).to_string());
        assert!(json.contains(r#"a \"quoted\" reply\n"#));
    }

    #[test]
    fn extra_fields_override_in_place_and_new_ones_follow() {
        let b = PayloadBuilder::new(&config(EndpointType::Chat, false));
        let mut conv = conversation();
        conv.turns[0].extra_json = Some(r#"{"model":"other","seed":7}"#.into());
        assert_eq!(
            b.turn_body(&conv, 0).to_string(),
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"model":"other","stream":false,"max_completion_tokens":20,"seed":7,"ignore_eos":true}"#
        );
    }
}
