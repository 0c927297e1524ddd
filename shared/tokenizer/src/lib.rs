//! Tokenizers for client-side token counting and prompt synthesis.
//!
//! One type, [`Tokenizer`], wraps either a Hugging Face `tokenizer.json` (crate
//! `tokenizers`, pure-Rust `fancy-regex` backend) or the built-in tiktoken `o200k_base`
//! encoding, which is what AIPerf calls `builtin`.
//!
//! Loading is done by [`Tokenizer::load`] (or the free function [`load`]), which never
//! touches the network and caches every loaded tokenizer for the life of the process:
//! the Qwen `tokenizer.json` (11 MB) takes seconds to parse. A gzipped
//! `tokenizer.json.gz` loads the same way (it is unpacked in memory).
//!
//! [`default_for_model`] picks the tokenizer of a run that names none: the model's own
//! when it is in the local Hugging Face cache, else the built-in one.
//!
//! Every encode here is "no special tokens added" (AIPerf's `add_special_tokens=False`):
//! no BOS/EOS is counted.

#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tiktoken_rs::CoreBPE;

/// The spec that selects the built-in tokenizer (tiktoken `o200k_base`).
pub const BUILTIN: &str = "builtin";

/// `<|endoftext|>` of `o200k_base`, the built-in tokenizer's EOS id.
const O200K_ENDOFTEXT: u32 = 199_999;

/// Why a tokenizer could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The spec is neither `builtin`, an existing path, nor a model in the local HF cache.
    #[error(
        "tokenizer '{spec}' not found (no network access is attempted); tried:\n{}\n\
         use `--tokenizer builtin` for the built-in o200k_base tokenizer, or pass the path \
         of a tokenizer.json (or tokenizer.json.gz) file or of a directory holding one",
        format_tried(.tried)
    )]
    NotFound {
        /// The spec as given.
        spec: String,
        /// Every path that was looked at, in order.
        tried: Vec<PathBuf>,
    },
    /// The file exists but could not be read or parsed.
    #[error("cannot load tokenizer from {}: {message}", .path.display())]
    Load {
        /// The `tokenizer.json` that failed.
        path: PathBuf,
        /// The underlying error.
        message: String,
    },
}

fn format_tried(tried: &[PathBuf]) -> String {
    if tried.is_empty() {
        return "  (no candidate path: no HF cache directory could be determined)".to_string();
    }
    tried
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

enum Inner {
    /// A Hugging Face tokenizer (boxed: it is large).
    Hf(Box<tokenizers::Tokenizer>),
    /// tiktoken `o200k_base` and its special-token ids.
    Tiktoken {
        bpe: &'static CoreBPE,
        special_ids: Vec<u32>,
    },
}

/// A loaded tokenizer; share it as `Arc<Tokenizer>` (it is `Send + Sync`).
pub struct Tokenizer {
    inner: Inner,
    name: String,
    bos_or_eos: Option<u32>,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("name", &self.name)
            .field(
                "kind",
                &if self.is_builtin() {
                    "tiktoken o200k_base"
                } else {
                    "huggingface"
                },
            )
            .field("bos_or_eos", &self.bos_or_eos)
            .finish()
    }
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Tokenizer>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Tokenizer>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Same as [`Tokenizer::load`].
pub fn load(spec: Option<&str>) -> Result<Arc<Tokenizer>, TokenizerError> {
    Tokenizer::load(spec)
}

/// The tokenizer a run uses when it names none, and the console note that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultTokenizer {
    /// The spec to load: the model name, or [`BUILTIN`].
    pub spec: String,
    /// One line for the console: which tokenizer, and how to choose another.
    pub note: String,
}

/// The tokenizer for `model` when `--tokenizer` is not given, as AIPerf picks it: the
/// model's own tokenizer when `model` resolves locally (a path, or a name in the local
/// Hugging Face cache, see [`Tokenizer::load`]), else [`BUILTIN`]. Never downloads.
pub fn default_for_model(model: &str) -> DefaultTokenizer {
    default_in(model, &hub_dirs())
}

/// [`default_for_model`] with the hub cache directories given.
fn default_in(model: &str, hubs: &[PathBuf]) -> DefaultTokenizer {
    let model = model.trim();
    match resolve(model, hubs) {
        Ok(file) if !model.is_empty() && !model.eq_ignore_ascii_case(BUILTIN) => DefaultTokenizer {
            spec: model.to_string(),
            note: format!(
                "note: tokenizer of '{model}' found locally ({}); choose another with --tokenizer",
                file.display()
            ),
        },
        _ => DefaultTokenizer {
            spec: BUILTIN.to_string(),
            note: format!(
                "note: using the builtin tokenizer (tiktoken o200k_base): '{model}' has none in \
                 the local Hugging Face cache; pass --tokenizer PATH or NAME for the model's own"
            ),
        },
    }
}

impl Tokenizer {
    /// Loads (or returns the cached) tokenizer named by `spec`, without network access.
    ///
    /// * `None`, `""` or `"builtin"` (any case): tiktoken `o200k_base`.
    /// * a path to a file: a Hugging Face `tokenizer.json`, gzipped when its name ends
    ///   in `.gz`;
    /// * a path to a directory: its `tokenizer.json` (Hugging Face layout), else its
    ///   `tokenizer.json.gz`;
    /// * otherwise a model name (`Qwen/Qwen3-0.6B`) looked up in the local Hugging Face
    ///   cache: `models--ORG--NAME/snapshots/*/tokenizer.json` under `$HF_HUB_CACHE`,
    ///   `$HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub` and
    ///   `~/.cache/huggingface/hub` (the snapshot named by `refs/main` first).
    ///
    /// Fails fast with [`TokenizerError::NotFound`] listing every path tried. Loaded
    /// tokenizers are cached per process, keyed by their resolved file (so a name and a
    /// path to the same file share one instance).
    pub fn load(spec: Option<&str>) -> Result<Arc<Tokenizer>, TokenizerError> {
        let spec = spec.map(str::trim).unwrap_or("");
        if spec.is_empty() || spec.eq_ignore_ascii_case(BUILTIN) {
            return Ok(Self::builtin());
        }
        let file = resolve(spec, &hub_dirs())?;
        let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let key = key.to_string_lossy().into_owned();
        // Held while loading: concurrent loads of the same file wait instead of
        // parsing it twice.
        let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = map.get(&key) {
            return Ok(Arc::clone(t));
        }
        let tok = Arc::new(Self::from_hf_file(&file, spec)?);
        map.insert(key, Arc::clone(&tok));
        Ok(tok)
    }

    /// The built-in tokenizer (tiktoken `o200k_base`), shared per process.
    pub fn builtin() -> Arc<Tokenizer> {
        static BUILTIN_TOK: OnceLock<Arc<Tokenizer>> = OnceLock::new();
        Arc::clone(BUILTIN_TOK.get_or_init(|| {
            let bpe = tiktoken_rs::o200k_base_singleton();
            let mut special_ids: Vec<u32> = bpe
                .special_tokens()
                .into_iter()
                .flat_map(|s| bpe.encode_with_special_tokens(s))
                .collect();
            special_ids.sort_unstable();
            special_ids.dedup();
            Arc::new(Tokenizer {
                inner: Inner::Tiktoken { bpe, special_ids },
                name: BUILTIN.to_string(),
                bos_or_eos: Some(O200K_ENDOFTEXT),
            })
        }))
    }

    /// Loads a Hugging Face `tokenizer.json` (gzipped if `path` ends in `.gz`) without
    /// caching; `name` is what [`Tokenizer::name`] reports. Truncation and padding
    /// stored in the file are switched off so counts are never capped.
    pub fn from_hf_file(path: &Path, name: &str) -> Result<Tokenizer, TokenizerError> {
        let load_err = |message: String| TokenizerError::Load {
            path: path.to_path_buf(),
            message,
        };
        let mut tok = if is_gzip(path) {
            let mut json = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| flate2::read::GzDecoder::new(f).read_to_end(&mut json))
                .map_err(|e| load_err(format!("cannot unpack gzip: {e}")))?;
            tokenizers::Tokenizer::from_bytes(&json)
        } else {
            tokenizers::Tokenizer::from_file(path)
        }
        .map_err(|e| load_err(e.to_string()))?;
        tok.with_truncation(None)
            .map_err(|e| load_err(e.to_string()))?;
        tok.with_padding(None);
        let bos_or_eos = hf_bos_or_eos(&tok, path.parent());
        Ok(Tokenizer {
            inner: Inner::Hf(Box::new(tok)),
            name: name.to_string(),
            bos_or_eos,
        })
    }

    /// The spec this tokenizer was loaded with (`builtin`, a path or a model name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for the built-in tiktoken `o200k_base` tokenizer.
    pub fn is_builtin(&self) -> bool {
        matches!(self.inner, Inner::Tiktoken { .. })
    }

    /// Token ids of `text`, with no special tokens added.
    ///
    /// Special-token text inside `text` (e.g. `<|im_start|>`) maps to its id with a
    /// Hugging Face tokenizer (as `transformers` does); the built-in tokenizer encodes
    /// it as ordinary text (tiktoken `disallowed_special=()`). A Hugging Face encoding
    /// error (never seen in practice) yields an empty list.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match &self.inner {
            Inner::Hf(tok) => tok
                .encode_fast(text, false)
                .map(|e| e.get_ids().to_vec())
                .unwrap_or_default(),
            Inner::Tiktoken { bpe, .. } => bpe.encode_ordinary(text),
        }
    }

    /// Number of tokens of `text` (same rules as [`Tokenizer::encode`]).
    pub fn count(&self, text: &str) -> usize {
        match &self.inner {
            Inner::Hf(tok) => tok.encode_fast(text, false).map(|e| e.len()).unwrap_or(0),
            Inner::Tiktoken { bpe, .. } => bpe.encode_ordinary(text).len(),
        }
    }

    /// Text of `ids`; special tokens are dropped when `skip_special` is true.
    ///
    /// Byte sequences that are not valid UTF-8 (a window cut inside a multi-byte
    /// character) become U+FFFD. Ids outside the vocabulary are skipped.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        match &self.inner {
            Inner::Hf(tok) => match tok.decode(ids, skip_special) {
                Ok(s) => s,
                Err(_) => {
                    let vocab = tok.get_vocab_size(true) as u32;
                    let known: Vec<u32> = ids.iter().copied().filter(|&id| id < vocab).collect();
                    tok.decode(&known, skip_special).unwrap_or_default()
                }
            },
            Inner::Tiktoken { bpe, special_ids } => {
                let mut bytes = Vec::with_capacity(ids.len() * 4);
                for &id in ids {
                    if skip_special && special_ids.binary_search(&id).is_ok() {
                        continue;
                    }
                    if let Ok(b) = bpe.decode_bytes(&[id]) {
                        bytes.extend_from_slice(&b);
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }

    /// The id used to separate `hash_id` blocks: the BOS token, or the EOS token when
    /// there is no BOS, or `None`.
    ///
    /// Hugging Face: from `tokenizer_config.json` (else `special_tokens_map.json`) next
    /// to the `tokenizer.json` (Qwen3 → `<|im_end|>` 151645, GPT-2 → `<|endoftext|>`
    /// 50256); without either file, the first of a few well-known BOS/EOS token names
    /// present in the vocabulary. Built-in: `<|endoftext|>` (199999).
    pub fn bos_or_eos_id(&self) -> Option<u32> {
        self.bos_or_eos
    }
}

/// Reads `bos_token`, then `eos_token`, from the HF config files in `dir`.
fn hf_bos_or_eos(tok: &tokenizers::Tokenizer, dir: Option<&Path>) -> Option<u32> {
    fn token_string(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => m
                .get("content")
                .and_then(|c| c.as_str())
                .map(str::to_string),
            _ => None,
        }
    }
    if let Some(dir) = dir {
        for file in ["tokenizer_config.json", "special_tokens_map.json"] {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            for key in ["bos_token", "eos_token"] {
                if let Some(id) = json
                    .get(key)
                    .and_then(token_string)
                    .and_then(|t| tok.token_to_id(&t))
                {
                    return Some(id);
                }
            }
            // The config exists but names neither: trust it (no separator).
            if file == "tokenizer_config.json" {
                return None;
            }
        }
    }
    [
        "<|begin_of_text|>",
        "<s>",
        "<|endoftext|>",
        "</s>",
        "<|end_of_text|>",
    ]
    .iter()
    .find_map(|t| tok.token_to_id(t))
}

/// True when `path` names a gzipped file (`….gz`).
fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The tokenizer file of a Hugging Face style directory: `tokenizer.json`, else
/// `tokenizer.json.gz`. Records what it looked at in `tried`.
fn dir_tokenizer(dir: &Path, tried: &mut Vec<PathBuf>) -> Option<PathBuf> {
    for name in ["tokenizer.json", "tokenizer.json.gz"] {
        let file = dir.join(name);
        if file.is_file() {
            return Some(file);
        }
        tried.push(file);
    }
    None
}

/// Turns a non-builtin spec into the path of a `tokenizer.json` (or `.json.gz`).
fn resolve(spec: &str, hubs: &[PathBuf]) -> Result<PathBuf, TokenizerError> {
    let mut tried = Vec::new();
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        if let Some(file) = dir_tokenizer(path, &mut tried) {
            return Ok(file);
        }
        return Err(TokenizerError::NotFound {
            spec: spec.to_string(),
            tried,
        });
    }
    tried.push(path.to_path_buf());
    let repo_dir = format!("models--{}", spec.trim_matches('/').replace('/', "--"));
    for hub in hubs {
        let model = hub.join(&repo_dir);
        if let Some(file) = snapshot_tokenizer(&model, &mut tried) {
            return Ok(file);
        }
    }
    Err(TokenizerError::NotFound {
        spec: spec.to_string(),
        tried,
    })
}

/// Candidate Hugging Face hub cache directories, in priority order, deduplicated.
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
    dirs.extend(env("XDG_CACHE_HOME").map(|c| c.join("huggingface").join("hub")));
    dirs.extend(env("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")));
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let fresh = !seen.contains(d);
        seen.push(d.clone());
        fresh
    });
    dirs
}

/// Tokenizer file of a cached model (as [`dir_tokenizer`] finds it in a snapshot): the
/// `refs/main` snapshot first, then the most recently modified snapshot that has one.
/// Records what it looked at in `tried`.
fn snapshot_tokenizer(model: &Path, tried: &mut Vec<PathBuf>) -> Option<PathBuf> {
    let snapshots = model.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(model.join("refs").join("main"))
        && let Some(file) = dir_tokenizer(&snapshots.join(rev.trim()), tried)
    {
        return Some(file);
    }
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snapshots)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| dir_tokenizer(&e.path(), &mut Vec::new()))
        .map(|f| {
            (
                f.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                f,
            )
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, f)) => Some(f),
        None => {
            tried.push(snapshots.join("*").join("tokenizer.json"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
