//! `random_pool` (`docs/datasets.md` §2.3): a JSONL file (one pool) or a directory (one pool
//! per file, files in name order) of entries; conversations are built by sampling
//! uniformly with replacement.
//!
//! ```jsonl
//! {"text": "Who are you?"}
//! {"texts": ["Explain the meaning of life.", "In one line."], "output_length": 32}
//! ```
//!
//! Entry fields: `text` | `texts`, `role` (`user`), `output_length`, `extra`; no
//! timestamps, delays or sessions. Each conversation is one turn: one entry drawn from
//! every pool, texts concatenated in pool order, the first `output_length` found, the
//! `extra` objects merged (later pools win). `--conversation-num` (else
//! `--num-dataset-entries`, default 100) sets how many conversations are built.

use super::fields::{Fields, UNSUPPORTED_MEDIA, read_jsonl};
use super::{IdGen, parse_turn};
use aiperf_protocol::dataset::{Conversation, Turn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Fields of a pool entry.
pub const FIELDS: &[&str] = &["text", "texts", "role", "output_length", "extra"];

const NO_SCHEDULE: &str = "random_pool entries are sampled at random and cannot have timestamps, delays or sessions; \
use --custom-dataset-type single_turn or multi_turn for those";

/// Offset mixed into the seed so pool sampling is its own stream.
const POOL_STREAM: u64 = 0x5EED_9001;

/// The pool files of `path`: the file itself, or the regular files of the directory in
/// name order (hidden files skipped).
pub fn pool_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot list --input-file directory {}: {e}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "--input-file directory {} holds no pool files",
            path.display()
        ));
    }
    Ok(files)
}

/// Reads one pool file.
pub fn load_pool(path: &Path) -> Result<Vec<Turn>, String> {
    let records = read_jsonl(path)?;
    let mut pool = Vec::with_capacity(records.len());
    for r in &records {
        let f = Fields::of(r);
        let mut unsupported: Vec<(&str, &str)> = UNSUPPORTED_MEDIA.to_vec();
        unsupported.extend([
            ("timestamp", NO_SCHEDULE),
            ("delay", NO_SCHEDULE),
            ("session_id", NO_SCHEDULE),
        ]);
        f.check_known(FIELDS, &unsupported)?;
        pool.push(parse_turn(&f)?);
    }
    if pool.is_empty() {
        return Err(format!(
            "{}: the pool is empty (no data lines)",
            path.display()
        ));
    }
    Ok(pool)
}

/// Builds `count` single-turn conversations from the pool(s) at `path`.
pub fn load(path: &Path, count: usize, seed: Option<u64>) -> Result<Vec<Conversation>, String> {
    let pools = pool_files(path)?
        .iter()
        .map(|p| load_pool(p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sample(&pools, count, seed))
}

/// Samples `count` conversations from `pools` (uniform, with replacement).
pub fn sample(pools: &[Vec<Turn>], count: usize, seed: Option<u64>) -> Vec<Conversation> {
    let mut rng = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ POOL_STREAM),
        None => StdRng::from_os_rng(),
    };
    let mut ids = IdGen::new(seed, []);
    (0..count)
        .map(|_| {
            let mut turn = Turn::default();
            let mut extra = serde_json::Map::new();
            for pool in pools {
                let e = &pool[rng.random_range(0..pool.len())];
                turn.texts.extend(e.texts.iter().cloned());
                turn.max_tokens = turn.max_tokens.or(e.max_tokens);
                if let Some(Ok(serde_json::Value::Object(m))) =
                    e.extra_json.as_deref().map(serde_json::from_str)
                {
                    extra.extend(m);
                }
            }
            if !extra.is_empty() {
                turn.extra_json = Some(serde_json::Value::Object(extra).to_string());
            }
            Conversation {
                id: ids.next_id(),
                turns: vec![turn],
                ..Default::default()
            }
        })
        .collect()
}
