//! `single_turn` JSONL (`docs/datasets.md` §2.1): one turn per line.
//!
//! ```jsonl
//! {"text": "What is the capital of France?"}
//! {"texts": ["Describe the weather.", "Be brief."], "output_length": 64}
//! {"timestamp": 0, "text": "first"}
//! {"session_id": "s1", "delay": 500, "text": "second turn of s1"}
//! ```
//!
//! Fields: `text` | `texts`, `timestamp` | `delay` (ms), `session_id`, `role` (`user`),
//! `output_length`, `extra`. Lines without `session_id` are independent conversations;
//! lines sharing one become the sequential turns of one conversation, in file order.
//! (AIPerf sends such turns without history; aiperf-rs workers accumulate the history
//! of every multi-turn conversation, so these turns carry it — see docs/datasets.md.)

use super::fields::{Fields, Record, UNSUPPORTED_MEDIA, read_jsonl};
use super::{TURN_FIELDS, group_sessions, parse_turn};
use aiperf_protocol::dataset::Conversation;
use std::path::Path;

/// Fields of a `single_turn` line.
pub const FIELDS: &[&str] = &[
    "text",
    "texts",
    "timestamp",
    "delay",
    "session_id",
    "role",
    "output_length",
    "extra",
];

/// Reads a `single_turn` file.
pub fn load(path: &Path, seed: Option<u64>) -> Result<Vec<Conversation>, String> {
    parse(&read_jsonl(path)?, seed)
}

/// Builds conversations from parsed lines.
pub fn parse(records: &[Record], seed: Option<u64>) -> Result<Vec<Conversation>, String> {
    debug_assert!(TURN_FIELDS.iter().all(|f| FIELDS.contains(f)));
    let mut items = Vec::with_capacity(records.len());
    for r in records {
        let f = Fields::of(r);
        f.check_known(FIELDS, UNSUPPORTED_MEDIA)?;
        let session = session_field(&f)?;
        items.push((session, parse_turn(&f)?));
    }
    Ok(group_sessions(items, seed))
}

/// An optional non-empty `session_id` string.
pub fn session_field(f: &Fields) -> Result<Option<String>, String> {
    match f.opt_str("session_id")? {
        Some("") => Err(f.error("session_id", "must not be empty")),
        other => Ok(other.map(str::to_string)),
    }
}
