//! Dataset files (`--input-file`, `--custom-dataset-type`) and public datasets.
//!
//! One module per format; each returns conversations with the file's own times
//! (milliseconds of the trace, before the fixed-schedule window, speed-up and offset,
//! which [`crate::schedule`] applies to every format alike):
//!
//! | module | format |
//! |---|---|
//! | [`single_turn`] | JSONL, one turn per line (`session_id` groups lines) |
//! | [`multi_turn`] | JSONL, one conversation per line (`turns`) |
//! | [`random_pool`] | JSONL file or directory, sampled with replacement |
//! | [`mooncake`] | Mooncake trace JSONL (`input_length` + `hash_ids` → text) |
//! | [`azure`] | Azure LLM inference trace CSV |
//! | [`sharegpt`] | ShareGPT JSON (`--public-dataset sharegpt`) |
//!
//! Bad input fails before the run starts with file, line, field and reason (see
//! [`fields`]).

pub mod azure;
pub mod fields;
pub mod mooncake;
pub mod multi_turn;
pub mod random_pool;
pub mod sharegpt;
pub mod single_turn;

use aiperf_config::CustomDatasetType;
use aiperf_protocol::dataset::{Conversation, Turn};
use fields::Fields;
use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use crate::synthetic::session_id;

/// Generates conversation ids for rows without a `session_id`: `session_000000`, … with
/// a random seed (skipping ids the file already uses), UUID4 otherwise.
#[derive(Debug)]
pub struct IdGen {
    seeded: bool,
    next: usize,
    taken: HashSet<String>,
}

impl IdGen {
    /// A generator that never returns one of `taken`.
    pub fn new(seed: Option<u64>, taken: impl IntoIterator<Item = String>) -> Self {
        IdGen {
            seeded: seed.is_some(),
            next: 0,
            taken: taken.into_iter().collect(),
        }
    }

    /// The next unused id.
    pub fn next_id(&mut self) -> String {
        loop {
            let id = if self.seeded {
                let id = session_id(self.next);
                self.next += 1;
                id
            } else {
                uuid::Uuid::new_v4().to_string()
            };
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// Groups turns into conversations: items with the same session id become one
/// conversation (turns in file order, conversation at its first appearance); items
/// without one are single-turn conversations with generated ids.
pub fn group_sessions(items: Vec<(Option<String>, Turn)>, seed: Option<u64>) -> Vec<Conversation> {
    let explicit: Vec<String> = items.iter().filter_map(|(s, _)| s.clone()).collect();
    let mut ids = IdGen::new(seed, explicit);
    let mut out: Vec<Conversation> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (session, turn) in items {
        match session {
            Some(s) => match index.get(&s) {
                Some(&i) => {
                    let c: &mut Conversation = &mut out[i];
                    c.turns.push(turn);
                }
                None => {
                    index.insert(s.clone(), out.len());
                    out.push(Conversation {
                        id: s,
                        turns: vec![turn],
                        ..Default::default()
                    });
                }
            },
            None => out.push(Conversation {
                id: ids.next_id(),
                turns: vec![turn],
                ..Default::default()
            }),
        }
    }
    out
}

/// The fields of a turn shared by `single_turn` lines, `multi_turn` turns and
/// `random_pool` entries.
pub const TURN_FIELDS: &[&str] = &[
    "text",
    "texts",
    "timestamp",
    "delay",
    "role",
    "output_length",
    "extra",
];

/// Parses the turn fields of `f` (the caller has rejected unknown fields):
/// exactly one of `text`/`texts`; `timestamp` xor `delay` (ms ≥ 0); `role` must be
/// `user` (the only role aiperf-rs sends for dataset turns); `output_length` ≥ 1 →
/// `max_tokens`; `extra` (object) → `extra_json`.
pub fn parse_turn(f: &Fields) -> Result<Turn, String> {
    let texts = match (f.opt_str("text")?, f.opt_str_array("texts")?) {
        (Some(_), Some(_)) => {
            return Err(
                f.line_error("fields \"text\" and \"texts\" are mutually exclusive; give one")
            );
        }
        (Some(t), None) => vec![t.to_string()],
        (None, Some(ts)) => ts,
        (None, None) => {
            return Err(f.line_error(
                "no prompt: give \"text\" (a string) or \"texts\" (an array of strings)",
            ));
        }
    };
    let timestamp_ms = f.opt_ms("timestamp")?;
    let delay_ms = f.opt_ms("delay")?;
    if timestamp_ms.is_some() && delay_ms.is_some() {
        return Err(
            f.line_error("fields \"timestamp\" and \"delay\" are mutually exclusive; give one")
        );
    }
    if let Some(role) = f.opt_str("role")?
        && role != "user"
    {
        return Err(f.error(
            "role",
            format!("only \"user\" is supported by aiperf-rs, got {role:?}"),
        ));
    }
    Ok(Turn {
        texts,
        max_tokens: f.opt_output_length("output_length")?,
        timestamp_ms,
        delay_ms,
        extra_json: f.opt_object_json("extra")?,
    })
}

/// Detects the format of `path`: a directory is a `random_pool`; a `.csv` file or one
/// whose first line starts with `TIMESTAMP,` is an `azure_trace`; otherwise the keys of
/// the first non-blank JSON line decide: `turns` → `multi_turn`; `input_length`,
/// `hash_ids` or `text_input` → `mooncake_trace`; `text`/`texts` → `single_turn`.
pub fn detect_type(path: &Path) -> Result<CustomDatasetType, String> {
    if path.is_dir() {
        return Ok(CustomDatasetType::RandomPool);
    }
    if path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        return Ok(CustomDatasetType::AzureTrace);
    }
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read --input-file {}: {e}", path.display()))?;
    let hint =
        "pass --custom-dataset-type single_turn|multi_turn|random_pool|mooncake_trace|azure_trace";
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("cannot read --input-file {}: {e}", path.display()))?;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if line.starts_with("TIMESTAMP,") {
            return Ok(CustomDatasetType::AzureTrace);
        }
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(line)
        else {
            return Err(format!(
                "cannot detect the format of {}: its first line is not a JSON object; {hint}",
                path.display()
            ));
        };
        let has = |k: &str| obj.contains_key(k);
        return if has("turns") {
            Ok(CustomDatasetType::MultiTurn)
        } else if has("input_length") || has("hash_ids") || has("text_input") {
            Ok(CustomDatasetType::MooncakeTrace)
        } else if has("text") || has("texts") {
            Ok(CustomDatasetType::SingleTurn)
        } else {
            Err(format!(
                "cannot detect the format of {} from the keys of its first line; {hint}",
                path.display()
            ))
        };
    }
    Err(format!(
        "--input-file {} is empty (no data lines)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_gen_skips_taken_ids() {
        let mut g = IdGen::new(Some(1), ["session_000001".to_string()]);
        assert_eq!(g.next_id(), "session_000000");
        assert_eq!(g.next_id(), "session_000002");
        let mut u = IdGen::new(None, []);
        assert_eq!(
            uuid::Uuid::parse_str(&u.next_id())
                .unwrap()
                .get_version_num(),
            4
        );
    }

    #[test]
    fn sessions_group_in_order_of_first_appearance() {
        let t = |s: &str| Turn {
            texts: vec![s.into()],
            ..Default::default()
        };
        let convs = group_sessions(
            vec![
                (Some("a".into()), t("a1")),
                (None, t("x")),
                (Some("b".into()), t("b1")),
                (Some("a".into()), t("a2")),
            ],
            Some(0),
        );
        let shape: Vec<(String, Vec<String>)> = convs
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.turns.iter().map(|t| t.texts[0].clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a".into(), vec!["a1".into(), "a2".into()]),
                ("session_000000".into(), vec!["x".into()]),
                ("b".into(), vec!["b1".into()]),
            ]
        );
    }
}
