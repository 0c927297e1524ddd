//! The synthetic prompt corpus: real English prose, tokenized once per tokenizer.
//!
//! AIPerf cuts prompts out of Shakespeare; aiperf-rs embeds ~490 KB of real ShareGPT
//! user prompts instead (`assets/corpus.txt`, built by `scripts/build-corpus.py`, see
//! `assets/README.md` for provenance and licence).
//!
//! Tokenization follows AIPerf: the non-empty, stripped lines are grouped into chunks
//! of at least [`CHUNK_CHARS`] characters, each chunk is joined with `" "` and encoded
//! without special tokens, and the id lists are concatenated.

use std::sync::{Arc, Mutex, OnceLock};

use aiperf_tokenizer::Tokenizer;

/// The corpus text (one paragraph per line).
pub const CORPUS_TEXT: &str = include_str!("../assets/corpus.txt");

/// Minimum characters per tokenized chunk (AIPerf's chunking rule).
pub const CHUNK_CHARS: usize = 10_000;

/// The corpus lines (stripped, non-empty) grouped into chunks of at least
/// [`CHUNK_CHARS`] characters, each joined with `" "`. The last chunk may be shorter.
/// Boundaries are deterministic.
pub fn corpus_chunks() -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut chars = 0;
    for line in CORPUS_TEXT.lines().map(str::trim).filter(|l| !l.is_empty()) {
        chars += line.chars().count();
        current.push(line);
        if chars >= CHUNK_CHARS {
            chunks.push(current.join(" "));
            current.clear();
            chars = 0;
        }
    }
    if !current.is_empty() {
        chunks.push(current.join(" "));
    }
    chunks
}

/// Token ids of the whole corpus for `tokenizer`, computed on first use and then
/// cached for the life of the process (one entry per tokenizer instance).
///
/// Chunks are encoded on all available cores; the result does not depend on the
/// thread count.
pub fn corpus_tokens(tokenizer: &Arc<Tokenizer>) -> Arc<[u32]> {
    tokenized(tokenizer).ids
}

/// Start offset (in [`corpus_tokens`]) of every chunk, ascending, starting with 0.
///
/// The corpus concatenates per-chunk encodings, so a token window that crosses a chunk
/// boundary is not how its text re-encodes (`"...peaks."` + `"The..."` decode to
/// `"peaks.The"`, which may merge differently); windows that must re-encode to
/// themselves (hash-id blocks) stay inside one chunk.
pub fn corpus_chunk_starts(tokenizer: &Arc<Tokenizer>) -> Arc<[usize]> {
    tokenized(tokenizer).chunk_starts
}

#[derive(Clone)]
struct Tokenized {
    ids: Arc<[u32]>,
    chunk_starts: Arc<[usize]>,
}

fn tokenized(tokenizer: &Arc<Tokenizer>) -> Tokenized {
    type Cache = Mutex<Vec<(Arc<Tokenizer>, Tokenized)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    // The lock is held while tokenizing so concurrent callers do the work once.
    // Keeping the `Arc<Tokenizer>` in the cache keeps its address unique.
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, t)) = cache.iter().find(|(t, _)| Arc::ptr_eq(t, tokenizer)) {
        return t.clone();
    }
    let parts = tokenize_chunks(tokenizer, &corpus_chunks());
    let mut starts = Vec::with_capacity(parts.len());
    let mut offset = 0;
    for p in &parts {
        starts.push(offset);
        offset += p.len();
    }
    let t = Tokenized {
        ids: parts.concat().into(),
        chunk_starts: starts.into(),
    };
    cache.push((Arc::clone(tokenizer), t.clone()));
    t
}

/// Encodes `chunks` (one id list per chunk, in order), spread over the available cores.
fn tokenize_chunks(tokenizer: &Tokenizer, chunks: &[String]) -> Vec<Vec<u32>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    let per_thread = chunks.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Vec<Vec<u32>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .chunks(per_thread)
            .map(|group| {
                s.spawn(move || {
                    group
                        .iter()
                        .map(|c| tokenizer.encode(c))
                        .collect::<Vec<Vec<u32>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("corpus tokenizer thread panicked"))
            .collect()
    });
    parts.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_line_and_respect_the_minimum() {
        let chunks = corpus_chunks();
        assert!(chunks.len() > 10);
        for c in &chunks[..chunks.len() - 1] {
            assert!(c.chars().count() >= CHUNK_CHARS);
        }
        let lines: Vec<&str> = CORPUS_TEXT
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(chunks.join(" "), lines.join(" "));
        assert!(CORPUS_TEXT.len() > 300_000 && CORPUS_TEXT.len() < 600_000);
    }

    #[test]
    fn corpus_tokens_are_cached_per_tokenizer() {
        let tok = Tokenizer::builtin();
        let a = corpus_tokens(&tok);
        let b = corpus_tokens(&tok);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.len() > 50_000, "{}", a.len());
        let sequential: Vec<u32> = corpus_chunks().iter().flat_map(|c| tok.encode(c)).collect();
        assert_eq!(&sequential[..], &a[..]);
        let starts = corpus_chunk_starts(&tok);
        assert_eq!(starts.len(), corpus_chunks().len());
        assert_eq!(starts[0], 0);
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        assert!(*starts.last().unwrap() < a.len());
    }
}
