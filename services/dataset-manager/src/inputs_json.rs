//! The `inputs.json` artifact (`docs/outputs.md`): the request body of every dataset turn,
//! grouped by conversation.
//!
//! ```json
//! {
//!   "data": [
//!     {
//!       "session_id": "session_000000",
//!       "payloads": [ { "messages": [...], "model": "...", ... } ]
//!     }
//!   ]
//! }
//! ```

use std::io::Write;
use std::path::Path;

use aiperf_protocol::dataset::Conversation;
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

/// Writes `inputs.json` to `path` (pretty-printed, 2-space indent, trailing newline),
/// creating the parent directory if needed.
///
/// `build_payload(conversation, turn_index)` returns the request body of that turn in
/// isolation (system and user-context messages included, no history); the caller
/// passes the endpoint's payload builder. Entries are serialized one at a time, so a
/// large dataset is never held twice in memory.
pub fn write_inputs_json(
    path: &Path,
    conversations: &[Conversation],
    build_payload: impl Fn(&Conversation, usize) -> serde_json::Value,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer_pretty(
        &mut out,
        &Document {
            conversations,
            build: &build_payload,
        },
    )?;
    out.write_all(b"\n")?;
    out.flush()
}

struct Document<'a, F> {
    conversations: &'a [Conversation],
    build: &'a F,
}

struct Entries<'a, F> {
    conversations: &'a [Conversation],
    build: &'a F,
}

struct Entry<'a, F> {
    conversation: &'a Conversation,
    build: &'a F,
}

struct Payloads<'a, F> {
    conversation: &'a Conversation,
    build: &'a F,
}

impl<F: Fn(&Conversation, usize) -> serde_json::Value> Serialize for Document<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(
            "data",
            &Entries {
                conversations: self.conversations,
                build: self.build,
            },
        )?;
        map.end()
    }
}

impl<F: Fn(&Conversation, usize) -> serde_json::Value> Serialize for Entries<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.conversations.iter().map(|conversation| Entry {
            conversation,
            build: self.build,
        }))
    }
}

impl<F: Fn(&Conversation, usize) -> serde_json::Value> Serialize for Entry<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Entry", 2)?;
        st.serialize_field("session_id", &self.conversation.id)?;
        st.serialize_field(
            "payloads",
            &Payloads {
                conversation: self.conversation,
                build: self.build,
            },
        )?;
        st.end()
    }
}

impl<F: Fn(&Conversation, usize) -> serde_json::Value> Serialize for Payloads<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            (0..self.conversation.turns.len()).map(|i| (self.build)(self.conversation, i)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::dataset::Turn;
    use serde_json::json;

    #[test]
    fn layout_matches_aiperf() {
        let conv = |id: &str, n: usize| Conversation {
            id: id.to_string(),
            turns: (0..n)
                .map(|i| Turn {
                    texts: vec![format!("t{i}")],
                    ..Turn::default()
                })
                .collect(),
            ..Conversation::default()
        };
        let convs = vec![conv("session_000000", 1), conv("session_000001", 2)];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/inputs.json");
        write_inputs_json(&path, &convs, |c, i| {
            json!({"messages": [{"role": "user", "content": c.turns[i].texts[0]}], "model": "m"})
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"data": [
                {"session_id": "session_000000", "payloads": [
                    {"messages": [{"role": "user", "content": "t0"}], "model": "m"}]},
                {"session_id": "session_000001", "payloads": [
                    {"messages": [{"role": "user", "content": "t0"}], "model": "m"},
                    {"messages": [{"role": "user", "content": "t1"}], "model": "m"}]}
            ]})
        );
        assert!(
            text.starts_with(
                "{\n  \"data\": [\n    {\n      \"session_id\": \"session_000000\",\n"
            )
        );
        assert!(text.ends_with("}\n"));
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap() + "\n");
    }

    #[test]
    fn empty_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inputs.json");
        write_inputs_json(&path, &[], |_, _| json!({})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"data\": []\n}\n"
        );
    }
}
