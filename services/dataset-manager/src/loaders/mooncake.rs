//! `mooncake_trace` JSONL (`docs/datasets.md` §2.4).
//!
//! ```jsonl
//! {"timestamp": 0, "input_length": 655, "output_length": 52, "hash_ids": [46, 47]}
//! {"timestamp": 10535, "input_length": 672, "output_length": 26, "hash_ids": [46, 47]}
//! {"session_id": "abc", "timestamp": 27482, "input_length": 300, "output_length": 40, "hash_ids": [123]}
//! {"session_id": "abc", "delay": 2000, "text_input": "And then?", "output_length": 20}
//! ```
//!
//! Fields: `timestamp` | `delay` (ms), `input_length` | `text_input` (exactly one),
//! `output_length` (→ `max_tokens`), `hash_ids` (only with `input_length`),
//! `session_id` (groups rows into one conversation, in file order), `extra`.
//! `input_length` rows get a synthesized prompt ([`crate::hash_prompts`]) whose length
//! is checked against the hash ids and `--isl-block-size` while parsing.

use super::fields::{Fields, Record, parse_jsonl, read_file};
use super::group_sessions;
use super::single_turn::session_field;
use crate::hash_prompts::{HashPrompts, RowSpec, check_lengths, trace_id};
use crate::synthesis::{TraceInput, TraceRow, filter_rows, synthesize};
use aiperf_config::ProfileConfig;
use aiperf_protocol::dataset::{Conversation, Turn};
use aiperf_tokenizer::Tokenizer;
use std::path::Path;
use std::sync::Arc;

/// Fields of a Mooncake line.
pub const FIELDS: &[&str] = &[
    "timestamp",
    "delay",
    "input_length",
    "text_input",
    "output_length",
    "hash_ids",
    "session_id",
    "extra",
];

const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "messages",
        "verbatim OpenAI messages are not supported by aiperf-rs; use \"text_input\" or \"input_length\"",
    ),
    ("tools", "tools are not supported by aiperf-rs"),
    (
        "payload",
        "raw payloads are not supported by aiperf-rs; use \"text_input\" or \"input_length\"",
    ),
    (
        "input_text",
        "renamed \"text_input\" in AIPerf 0.13; use \"text_input\"",
    ),
];

/// Parses Mooncake lines into trace rows; `block_size` checks `input_length` against
/// `hash_ids`.
pub fn parse_rows(records: &[Record], block_size: u64) -> Result<Vec<TraceRow>, String> {
    records
        .iter()
        .map(|r| {
            let f = Fields::of(r);
            f.check_known(FIELDS, UNSUPPORTED)?;
            let timestamp = f.opt_ms("timestamp")?;
            let delay = f.opt_ms("delay")?;
            if timestamp.is_some() && delay.is_some() {
                return Err(f.line_error("fields \"timestamp\" and \"delay\" are mutually exclusive; give one"));
            }
            let input_length = f.opt_u64("input_length", 1)?;
            let text = f.opt_str("text_input")?;
            let hash_ids = f.opt_u64_array("hash_ids")?;
            let input = match (input_length, text) {
                (Some(_), Some(_)) => {
                    return Err(f.line_error("fields \"input_length\" and \"text_input\" are mutually exclusive; give one"));
                }
                (None, None) => return Err(f.line_error("no prompt: give \"input_length\" (tokens) or \"text_input\" (text)")),
                (None, Some(_)) if hash_ids.is_some() => {
                    return Err(f.error("hash_ids", "only allowed with \"input_length\" (not with \"text_input\")"));
                }
                (None, Some(t)) => TraceInput::Text(t.to_string()),
                (Some(n), None) => {
                    let hash_ids = hash_ids.unwrap_or_default();
                    check_lengths(n, &hash_ids, block_size).map_err(|e| f.line_error(e))?;
                    TraceInput::Tokens { input_length: n, hash_ids }
                }
            };
            Ok(TraceRow {
                line: r.line,
                timestamp,
                delay,
                session_id: session_field(&f)?,
                input,
                output_length: f.opt_output_length("output_length")?.map(u64::from),
                extra: f.opt_object_json("extra")?,
            })
        })
        .collect()
}

/// Rows built per batch (bounds the memory of not-yet-assembled work).
const BATCH: usize = 512;

/// Turns trace rows into conversations: token rows get their hash-id prompts
/// (`prompts`), text rows keep their text; rows sharing a `session_id` become one
/// conversation. `file` names the trace in errors.
pub fn rows_to_conversations(
    file: &str,
    rows: &[TraceRow],
    prompts: &mut HashPrompts,
    seed: Option<u64>,
) -> Result<Vec<Conversation>, String> {
    let mut items: Vec<(Option<String>, Turn)> = Vec::with_capacity(rows.len());
    for batch in rows.chunks(BATCH) {
        let specs: Vec<(usize, &TraceRow)> = batch
            .iter()
            .enumerate()
            .filter(|(_, r)| r.input_length().is_some())
            .collect();
        let row_specs: Vec<RowSpec> = specs
            .iter()
            .map(|(_, r)| match &r.input {
                TraceInput::Tokens {
                    input_length,
                    hash_ids,
                } => (*input_length as usize, hash_ids.as_slice(), r.line as u64),
                TraceInput::Text(_) => unreachable!("filtered"),
            })
            .collect();
        let texts = prompts
            .prompts(&row_specs)
            .map_err(|(i, e)| format!("{file} line {}: {e}", specs[i].1.line))?;
        let mut texts = texts.into_iter();
        for r in batch {
            let text = match &r.input {
                TraceInput::Text(t) => t.clone(),
                TraceInput::Tokens { .. } => texts.next().expect("one text per token row"),
            };
            let turn = Turn {
                texts: vec![text],
                max_tokens: r.output_length.map(|n| n.min(u32::MAX as u64) as u32),
                timestamp_ms: r.timestamp,
                delay_ms: r.delay,
                extra_json: r.extra.clone(),
            };
            items.push((r.session_id.clone(), turn));
        }
    }
    Ok(group_sessions(items, seed))
}

/// Loads a Mooncake trace: parse, window and `--synthesis-max-isl` filters, synthesis,
/// prompts (`docs/datasets.md` §2.4, §3, §6).
pub fn load(
    path: &Path,
    config: &ProfileConfig,
    tokenizer: Arc<Tokenizer>,
) -> Result<Vec<Conversation>, String> {
    let bytes = read_file(path)?;
    let file = path.display().to_string();
    let text = std::str::from_utf8(&bytes).map_err(|e| format!("{file}: not UTF-8 text: {e}"))?;
    let block = config.isl_block_size.max(1) as u64;
    let rows = parse_rows(&parse_jsonl(&file, text)?, block)?;
    let d = &config.dataset;
    let mut rows = filter_rows(
        rows,
        d.fixed_schedule_start_offset_ms,
        d.fixed_schedule_end_offset_ms,
        d.synthesis.max_isl,
    );
    synthesize(&mut rows, &d.synthesis, block, config.random_seed)
        .map_err(|e| format!("{file} {e}"))?;
    let mut prompts = HashPrompts::new(
        tokenizer,
        block as usize,
        config.random_seed,
        &trace_id(&bytes),
    );
    rows_to_conversations(&file, &rows, &mut prompts, config.random_seed)
}
