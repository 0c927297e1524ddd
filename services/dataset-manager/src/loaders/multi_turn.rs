//! `multi_turn` JSONL (`docs/datasets.md` §2.2): one conversation per line.
//!
//! ```jsonl
//! {"session_id": "s1", "turns": [{"text": "Hello", "delay": 0}, {"text": "Tell me more", "delay": 1000}]}
//! {"session_id": "s2", "turns": [{"timestamp": 0, "text": "Hi"}, {"timestamp": 1000, "text": "Who are you?"}]}
//! ```
//!
//! Line fields: `session_id` (optional; lines with the same id are merged, turns
//! appended in file order) and `turns` (non-empty array). Turn fields are those of
//! `single_turn` without `session_id`.

use super::fields::{Fields, Record, UNSUPPORTED_MEDIA, read_jsonl};
use super::single_turn::session_field;
use super::{TURN_FIELDS, group_sessions, parse_turn};
use aiperf_protocol::dataset::Conversation;
use std::path::Path;

/// Fields of a `multi_turn` line.
pub const FIELDS: &[&str] = &["session_id", "turns"];

/// Reads a `multi_turn` file.
pub fn load(path: &Path, seed: Option<u64>) -> Result<Vec<Conversation>, String> {
    parse(&read_jsonl(path)?, seed)
}

/// Builds conversations from parsed lines.
pub fn parse(records: &[Record], seed: Option<u64>) -> Result<Vec<Conversation>, String> {
    let mut items = Vec::new();
    for r in records {
        let f = Fields::of(r);
        f.check_known(FIELDS, &[("text", "a multi_turn line holds \"turns\"; put the text inside a turn (or use --custom-dataset-type single_turn)")])?;
        let session = session_field(&f)?;
        let turns = match f.opt_object_array("turns")? {
            Some(t) if !t.is_empty() => t,
            Some(_) => return Err(f.error("turns", "must not be empty")),
            None => return Err(f.line_error("missing field \"turns\" (an array of turn objects)")),
        };
        // Lines without a session id still need their turns kept together.
        let session = session.or_else(|| Some(format!("\u{0}line{}", r.line)));
        for (i, t) in turns.iter().enumerate() {
            let prefix = format!("turns[{i}].");
            let tf = Fields {
                file: f.file,
                line: f.line,
                prefix: &prefix,
                obj: t.as_object().expect("checked objects"),
            };
            tf.check_known(TURN_FIELDS, UNSUPPORTED_MEDIA)?;
            items.push((session.clone(), parse_turn(&tf)?));
        }
    }
    let mut convs = group_sessions(items, seed);
    // Replace the placeholder ids of lines without session_id.
    let taken: Vec<String> = convs
        .iter()
        .filter(|c| !c.id.starts_with('\u{0}'))
        .map(|c| c.id.clone())
        .collect();
    let mut ids = super::IdGen::new(seed, taken);
    for c in convs.iter_mut().filter(|c| c.id.starts_with('\u{0}')) {
        c.id = ids.next_id();
    }
    Ok(convs)
}
