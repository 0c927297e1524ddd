//! ShareGPT (`--public-dataset sharegpt`, `docs/datasets.md` §4), read from a local file —
//! aiperf-rs never downloads it.
//!
//! The file is a JSON array of `{"id": …, "conversations": [{"from": "human"|"gpt",
//! "value": "…"}, …]}`. Every human message becomes one turn (its text); the reply that
//! follows it, if any, gives the completion length. vLLM's filter keeps an entry iff
//! every turn has `4 <= prompt_len <= 1024` and `prompt_len + output_len <= 2048`, and
//! `completion_len >= 4` (tokens of the benchmark tokenizer). `output_len` is sampled
//! from `--osl` when given (the completion check is then skipped), else the reply's
//! token count. One bad turn rejects the whole entry.
//!
//! Difference from AIPerf: entries without any reply (such as those of the
//! first-turn-only sample `ShareGPT_V3_filtered_1000.json`) are kept instead of skipped; without
//! `--osl` their turns send no `max_completion_tokens` and the completion checks are
//! skipped (`prompt_len + 0 <= 2048`).

use super::IdGen;
use crate::prompt::sample_length_with;
use aiperf_config::TokenDistribution;
use aiperf_protocol::dataset::{Conversation, Turn};
use aiperf_tokenizer::Tokenizer;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File name of the ShareGPT V3 dataset.
pub const FILE_NAME: &str = "ShareGPT_V3_unfiltered_cleaned_split.json";
/// Hugging Face hub cache directory of the dataset repository.
pub const HF_REPO_DIR: &str = "datasets--anon8231489123--ShareGPT_Vicuna_unfiltered";
/// Where to get the file.
pub const URL: &str = "https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered/resolve/main/ShareGPT_V3_unfiltered_cleaned_split.json";

/// Minimum prompt tokens.
pub const MIN_PROMPT: usize = 4;
/// Maximum prompt tokens.
pub const MAX_PROMPT: usize = 1024;
/// Maximum prompt + output tokens.
pub const MAX_TOTAL: usize = 2048;
/// Minimum completion tokens (not checked with `--osl`).
pub const MIN_COMPLETION: usize = 4;

/// Offset mixed into the seed of the output-length stream.
const OSL_STREAM: u64 = 0x5348_4152_4547;

fn hub_dirs() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut dirs = Vec::new();
    dirs.extend(env("HF_HUB_CACHE"));
    dirs.extend(env("HUGGINGFACE_HUB_CACHE"));
    dirs.extend(env("HF_HOME").map(|h| h.join("hub")));
    dirs.extend(env("XDG_CACHE_HOME").map(|h| h.join("huggingface/hub")));
    dirs.extend(env("HOME").map(|h| h.join(".cache/huggingface/hub")));
    dirs.dedup();
    dirs
}

/// Finds the ShareGPT file: `--input-file` if given; else [`FILE_NAME`] in the working
/// directory; else the Hugging Face hub cache
/// (`<hub>/datasets--anon8231489123--ShareGPT_Vicuna_unfiltered/snapshots/*/…`, the
/// snapshot named by `refs/main` first). The error lists every path tried.
pub fn locate(input_file: Option<&Path>) -> Result<PathBuf, String> {
    locate_in(input_file, Path::new("."), &hub_dirs())
}

/// [`locate`] with an explicit working directory and list of hub cache directories.
pub fn locate_in(
    input_file: Option<&Path>,
    cwd: &Path,
    hubs: &[PathBuf],
) -> Result<PathBuf, String> {
    if let Some(p) = input_file {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        return Err(format!(
            "--public-dataset sharegpt: --input-file {} does not exist or is not a file",
            p.display()
        ));
    }
    let local = cwd.join(FILE_NAME);
    if local.is_file() {
        return Ok(local);
    }
    let mut tried = vec![local];
    for hub in hubs {
        let repo = hub.join(HF_REPO_DIR);
        let mut snapshots = Vec::new();
        if let Ok(main) = std::fs::read_to_string(repo.join("refs/main")) {
            snapshots.push(repo.join("snapshots").join(main.trim()));
        }
        if let Ok(rd) = std::fs::read_dir(repo.join("snapshots")) {
            let mut others: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            others.sort();
            snapshots.extend(others);
        }
        if snapshots.is_empty() {
            tried.push(repo.join("snapshots/*").join(FILE_NAME));
        }
        for s in snapshots {
            let f = s.join(FILE_NAME);
            if f.is_file() {
                return Ok(f);
            }
            tried.push(f);
        }
    }
    let list: Vec<String> = tried.iter().map(|p| format!("  {}", p.display())).collect();
    Err(format!(
        "--public-dataset sharegpt: the ShareGPT file was not found (aiperf-rs never downloads it); tried:\n{}\n\
         download {FILE_NAME} from {URL} and pass it with --input-file PATH",
        list.join("\n")
    ))
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    conversations: Option<Vec<Message>>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    from: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// Speakers counted as the user.
const USER: &[&str] = &["human", "user"];
/// Speakers counted as the assistant.
const ASSISTANT: &[&str] = &["gpt", "chatgpt", "assistant", "bard", "bing", "model"];

/// What happened to the entries of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Entries in the file.
    pub entries: usize,
    /// Entries kept.
    pub kept: usize,
    /// Entries without a usable human message or with a malformed structure.
    pub malformed: usize,
    /// Entries rejected by the length filter.
    pub filtered: usize,
}

/// One prompt/reply pair of an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// Human text.
    pub prompt: String,
    /// Assistant text that follows, if any.
    pub reply: Option<String>,
}

fn pairs(entry: &Entry) -> Option<Vec<Pair>> {
    let msgs = entry.conversations.as_ref()?;
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        if !USER.contains(&m.from.as_str()) {
            continue;
        }
        let prompt = m.value.as_str()?.to_string();
        let reply = match msgs.get(i + 1) {
            Some(n) if ASSISTANT.contains(&n.from.as_str()) => Some(n.value.as_str()?.to_string()),
            _ => None,
        };
        out.push(Pair { prompt, reply });
    }
    (!out.is_empty()).then_some(out)
}

/// Token counts of `texts`, computed on all cores.
fn count_parallel(tokenizer: &Tokenizer, texts: &[&str]) -> Vec<usize> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let per = texts.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .chunks(per)
            .map(|g| s.spawn(move || g.iter().map(|t| tokenizer.count(t)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("tokenizer thread panicked"))
            .collect()
    })
}

/// Applies the filter to the pairs of each entry and builds conversations.
pub fn build(
    entries: &[Option<Vec<Pair>>],
    tokenizer: &Tokenizer,
    osl: Option<TokenDistribution>,
    seed: Option<u64>,
) -> (Vec<Conversation>, Stats) {
    let texts: Vec<&str> = entries
        .iter()
        .flatten()
        .flatten()
        .flat_map(|p| std::iter::once(p.prompt.as_str()).chain(p.reply.as_deref()))
        .collect();
    let mut counts = count_parallel(tokenizer, &texts).into_iter();
    let mut rng = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ OSL_STREAM),
        None => StdRng::from_os_rng(),
    };
    let mut ids = IdGen::new(seed, []);
    let mut stats = Stats {
        entries: entries.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    for entry in entries {
        let Some(pairs) = entry else {
            stats.malformed += 1;
            continue;
        };
        let mut ok = true;
        let mut turns = Vec::with_capacity(pairs.len());
        for p in pairs {
            let prompt_len = counts.next().unwrap_or(0);
            let completion_len = p.reply.as_ref().map(|_| counts.next().unwrap_or(0));
            let output_len = match (osl, completion_len) {
                (Some(d), _) => Some(sample_length_with(&mut rng, d)),
                (None, c) => c,
            };
            let too_short_reply =
                osl.is_none() && completion_len.is_some_and(|c| c < MIN_COMPLETION);
            if !(MIN_PROMPT..=MAX_PROMPT).contains(&prompt_len)
                || prompt_len + output_len.unwrap_or(0) > MAX_TOTAL
                || too_short_reply
            {
                ok = false;
            }
            turns.push(Turn {
                texts: vec![p.prompt.clone()],
                max_tokens: output_len.map(|n| n.min(u32::MAX as usize) as u32),
                ..Default::default()
            });
        }
        if ok {
            stats.kept += 1;
            out.push(Conversation {
                id: ids.next_id(),
                turns,
                ..Default::default()
            });
        } else {
            stats.filtered += 1;
        }
    }
    (out, stats)
}

/// Parses a ShareGPT JSON file into each entry's pairs (`None` = malformed or no human
/// message).
pub fn parse(path: &Path) -> Result<Vec<Option<Vec<Pair>>>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read ShareGPT file {}: {e}", path.display()))?;
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&bytes).map_err(|e| {
        format!("{} is not a ShareGPT file (expected a JSON array of {{\"conversations\": [...]}} objects): {e}", path.display())
    })?;
    Ok(entries
        .into_iter()
        .map(|v| {
            serde_json::from_value::<Entry>(v)
                .ok()
                .and_then(|e| pairs(&e))
        })
        .collect())
}

/// Loads `--public-dataset sharegpt`.
pub fn load(
    input_file: Option<&Path>,
    tokenizer: Arc<Tokenizer>,
    osl: Option<TokenDistribution>,
    seed: Option<u64>,
) -> Result<Vec<Conversation>, String> {
    let path = locate(input_file)?;
    let entries = parse(&path)?;
    let (convs, stats) = build(&entries, &tokenizer, osl, seed);
    tracing::info!(
        file = %path.display(),
        entries = stats.entries,
        kept = stats.kept,
        filtered = stats.filtered,
        malformed = stats.malformed,
        "ShareGPT dataset loaded"
    );
    if convs.is_empty() {
        return Err(format!(
            "{}: no ShareGPT entry passed the filter ({} entries, {} without a human message, {} outside \
             {MIN_PROMPT}..={MAX_PROMPT} prompt tokens / {MAX_TOTAL} total)",
            path.display(),
            stats.entries,
            stats.malformed,
            stats.filtered
        ));
    }
    Ok(convs)
}
