//! `hash_ids` → prompt text (`docs/datasets.md` §3).
//!
//! A Mooncake row `{input_length: N, hash_ids: [h0 … h(m-1)]}` with block size `B`
//! becomes the decoded concatenation of one token block per hash id (plus fresh tail
//! tokens when `m*B < N`):
//!
//! * block sizes: `B` each, except the last when `m*B > N`: `last = N - (m-1)*B`, which
//!   must be in `1..=B` (else the row is rejected);
//! * a block is generated once per hash id and cached: first token = the tokenizer's
//!   BOS id, else EOS, else none (a separator so blocks do not merge across BPE
//!   boundaries; also none when the token's text does not re-encode to that one id, as
//!   with the built-in tokenizer, whose `encode` treats `<|endoftext|>` as ordinary
//!   text), then corpus tokens from a random start inside one corpus chunk, drawn with an RNG
//!   seeded from `sha256(f"{seed}:{trace_id}:{hash_id}")` (`seed` = `--random-seed`, or
//!   `None` when unset; `trace_id` = first 16 hex digits of the sha256 of the file);
//! * the same hash id requested at a different size is an error;
//! * the ids are decoded **keeping** special tokens, so the separators appear literally
//!   (`<|im_end|>` for Qwen3, `<|endoftext|>` for GPT-2 and the built-in tokenizer).
//!
//! Same seed + same file ⇒ same text, whatever the worker count; rows sharing leading
//! hash ids share the same prompt prefix (text and tokens), so a server's prefix cache
//! hits as in the original trace.

use std::collections::HashMap;
use std::sync::Arc;

use aiperf_tokenizer::Tokenizer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::corpus::{corpus_chunk_starts, corpus_tokens};

/// First 16 hex digits of the sha256 of the trace file's bytes.
pub fn trace_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Checks that `input_length` tokens can be cut into `num_hashes` blocks of
/// `block_size` (the last one partial, or followed by fresh tail tokens).
pub fn check_lengths(input_length: u64, hash_ids: &[u64], block_size: u64) -> Result<(), String> {
    let m = hash_ids.len() as u64;
    if m == 0 {
        return Ok(());
    }
    let full = (m - 1).saturating_mul(block_size);
    if input_length <= full {
        let shown: Vec<String> = hash_ids.iter().take(8).map(u64::to_string).collect();
        let more = if hash_ids.len() > 8 { ", ..." } else { "" };
        return Err(format!(
            "Input length {input_length}, Hash IDs [{}{more}] ({m} ids) and Block size {block_size} are not \
             compatible: {m} blocks need an input length above {full} (each hash id but the last stands for \
             {block_size} tokens; check --isl-block-size)",
            shown.join(", ")
        ));
    }
    Ok(())
}

/// A materialized block: its size in tokens and its text.
#[derive(Debug, Clone)]
struct Block {
    size: usize,
    text: Arc<str>,
}

/// Block sizes of a row and its number of tail tokens.
type Layout = (Vec<usize>, usize);

/// One row to build: `(input_length, hash_ids, row_key)`; `row_key` seeds the tail.
pub type RowSpec<'a> = (usize, &'a [u64], u64);

/// Materializes hash-id blocks and builds row prompts.
///
/// Block token windows are drawn inside one corpus chunk (see
/// [`crate::corpus::corpus_chunk_starts`]) when the chunk is long enough, so a block's
/// text re-encodes to its own tokens except at its two ends. Block texts are cached
/// and, when the tokenizer's decoding is compositional (checked once on a probe:
/// `decode(a ++ b ++ t) == decode(a) + decode(b) + decode(t)`, true for byte-level BPE
/// and the built-in tokenizer on this ASCII corpus), a row's prompt is the
/// concatenation of its block texts plus its decoded tail; otherwise the row's ids are
/// decoded as a whole. Both give the same text.
pub struct HashPrompts {
    tokenizer: Arc<Tokenizer>,
    corpus: Arc<[u32]>,
    chunk_starts: Arc<[usize]>,
    block_size: usize,
    tag: String,
    separator: Option<u32>,
    blocks: HashMap<u64, Block>,
    compositional: bool,
    /// Text of each corpus/separator token id when decoding is token by token
    /// (see [`HashPrompts::decode`]).
    token_text: Option<Vec<Option<Box<str>>>>,
}

impl std::fmt::Debug for HashPrompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPrompts")
            .field("tag", &self.tag)
            .field("block_size", &self.block_size)
            .field("blocks", &self.blocks.len())
            .field("compositional", &self.compositional)
            .finish_non_exhaustive()
    }
}

impl HashPrompts {
    /// A builder for the trace identified by `trace_id` (see [`trace_id`]).
    pub fn new(
        tokenizer: Arc<Tokenizer>,
        block_size: usize,
        seed: Option<u64>,
        trace_id: &str,
    ) -> Self {
        let corpus = corpus_tokens(&tokenizer);
        let chunk_starts = corpus_chunk_starts(&tokenizer);
        let seed = seed
            .map(|s| s.to_string())
            .unwrap_or_else(|| "None".to_string());
        // A separator that does not re-encode to itself (the built-in tokenizer encodes
        // `<|endoftext|>` as ordinary text, several tokens) would add tokens to every block.
        let separator = tokenizer
            .bos_or_eos_id()
            .filter(|&id| tokenizer.encode(&tokenizer.decode(&[id], false)) == [id]);
        let mut p = HashPrompts {
            separator,
            tokenizer,
            corpus,
            chunk_starts,
            block_size: block_size.max(1),
            tag: format!("{seed}:{trace_id}"),
            blocks: HashMap::new(),
            compositional: false,
            token_text: None,
        };
        p.token_text = p.build_token_text();
        p.compositional = p.probe_compositional();
        p
    }

    /// A table of the text of every corpus (and separator) token, used when decoding
    /// is exactly the concatenation of single-token texts: no token decodes to U+FFFD
    /// alone (no partial UTF-8), and 8 probe blocks decode identically both ways
    /// (byte-level BPE and the built-in tokenizer on this ASCII corpus; not e.g.
    /// SentencePiece decoders, which strip a leading space). `None` otherwise.
    fn build_token_text(&self) -> Option<Vec<Option<Box<str>>>> {
        let max = self.corpus.iter().copied().chain(self.separator).max()? as usize;
        let mut table: Vec<Option<Box<str>>> = vec![None; max + 1];
        for id in self.corpus.iter().copied().chain(self.separator) {
            let slot = &mut table[id as usize];
            if slot.is_none() {
                let text = self.tokenizer.decode(&[id], false);
                if text.contains('\u{FFFD}') {
                    return None;
                }
                *slot = Some(text.into_boxed_str());
            }
        }
        let concat = |ids: &[u32]| -> String {
            ids.iter()
                .map(|&id| table[id as usize].as_deref().unwrap_or(""))
                .collect()
        };
        for k in 0..8u64 {
            let ids = self.block_ids(
                u64::MAX - 16 - k,
                self.block_size.min(self.corpus.len()).max(2),
            );
            if concat(&ids) != self.tokenizer.decode(&ids, false) {
                return None;
            }
        }
        Some(table)
    }

    fn probe_compositional(&self) -> bool {
        let a = self.block_ids(u64::MAX, 48);
        let b = self.block_ids(u64::MAX - 1, 48);
        let mut t = Vec::new();
        self.sample_into(&mut self.rng("probe-tail"), 16, &mut t);
        let whole: Vec<u32> = [a.as_slice(), b.as_slice(), t.as_slice()].concat();
        self.decode(&whole) == format!("{}{}{}", self.decode(&a), self.decode(&b), self.decode(&t))
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Arc<Tokenizer> {
        &self.tokenizer
    }

    /// The block separator id: the tokenizer's BOS, else EOS, provided its text
    /// re-encodes to that single id (`None` for the built-in tokenizer).
    pub fn separator(&self) -> Option<u32> {
        self.separator
    }

    /// Number of distinct blocks materialized so far.
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Whether prompts are assembled from cached block texts (see the type doc).
    pub fn is_compositional(&self) -> bool {
        self.compositional
    }

    fn rng(&self, key: &str) -> StdRng {
        let digest = Sha256::digest(format!("{}:{key}", self.tag).as_bytes());
        StdRng::from_seed(digest.into())
    }

    /// Appends `n` corpus tokens from a random start: uniform over the starts whose
    /// window stays inside one corpus chunk, or over the whole corpus (wrapping) when
    /// no chunk is long enough.
    fn sample_into(&self, rng: &mut StdRng, n: usize, out: &mut Vec<u32>) {
        let len = self.corpus.len();
        if n == 0 || len == 0 {
            return;
        }
        let chunk_len =
            |i: usize| self.chunk_starts.get(i + 1).copied().unwrap_or(len) - self.chunk_starts[i];
        let fits = |i: usize| (chunk_len(i) + 1).saturating_sub(n);
        let valid: usize = (0..self.chunk_starts.len()).map(fits).sum();
        let mut pos = if valid == 0 {
            rng.random_range(0..len)
        } else {
            let mut r = rng.random_range(0..valid);
            let mut start = 0;
            for i in 0..self.chunk_starts.len() {
                let f = fits(i);
                if r < f {
                    start = self.chunk_starts[i] + r;
                    break;
                }
                r -= f;
            }
            start
        };
        for _ in 0..n {
            out.push(self.corpus[pos]);
            pos += 1;
            if pos == len {
                pos = 0;
            }
        }
    }

    /// The token ids of `hash_id`'s block at `size` tokens (deterministic; not cached).
    pub fn block_ids(&self, hash_id: u64, size: usize) -> Vec<u32> {
        let mut rng = self.rng(&hash_id.to_string());
        let mut ids = Vec::with_capacity(size);
        let body = match self.separator {
            Some(sep) if size > 0 => {
                ids.push(sep);
                size - 1
            }
            _ => size,
        };
        self.sample_into(&mut rng, body, &mut ids);
        ids
    }

    fn conflict(hash_id: u64, size: usize, cached: usize) -> String {
        format!(
            "hash_id {hash_id} requested at {size} tokens but was already materialized at {cached} tokens"
        )
    }

    /// The text of `hash_id`'s block at `size` tokens (materialized on first use); the
    /// same id at another size is an error.
    pub fn block_text(&mut self, hash_id: u64, size: usize) -> Result<Arc<str>, String> {
        match self.blocks.get(&hash_id) {
            Some(b) if b.size != size => Err(Self::conflict(hash_id, size, b.size)),
            Some(b) => Ok(Arc::clone(&b.text)),
            None => {
                let text: Arc<str> = self.decode(&self.block_ids(hash_id, size)).into();
                self.blocks.insert(
                    hash_id,
                    Block {
                        size,
                        text: Arc::clone(&text),
                    },
                );
                Ok(text)
            }
        }
    }

    /// Block sizes of a row: `B` each, the last one `N - (m-1)*B` when `m*B > N`; and
    /// the number of tail tokens (`N - m*B` when `m*B < N`).
    fn layout(&self, input_length: usize, hash_ids: &[u64]) -> Result<(Vec<usize>, usize), String> {
        let b = self.block_size;
        check_lengths(input_length as u64, hash_ids, b as u64)?;
        let m = hash_ids.len();
        let sizes: Vec<usize> = (0..m)
            .map(|i| {
                if i + 1 == m && m * b > input_length {
                    input_length - (m - 1) * b
                } else {
                    b
                }
            })
            .collect();
        let covered: usize = sizes.iter().sum();
        Ok((sizes, input_length - covered.min(input_length)))
    }

    fn tail_ids(&self, n: usize, row_key: u64) -> Vec<u32> {
        let mut ids = Vec::with_capacity(n);
        if n > 0 {
            self.sample_into(&mut self.rng(&format!("tail:{row_key}")), n, &mut ids);
        }
        ids
    }

    /// Token ids of a row: its blocks in order, then `input_length - m*B` fresh tail
    /// tokens when the blocks do not cover the input (tail RNG keyed by `row_key`).
    pub fn token_ids(
        &mut self,
        input_length: usize,
        hash_ids: &[u64],
        row_key: u64,
    ) -> Result<Vec<u32>, String> {
        let (sizes, tail) = self.layout(input_length, hash_ids)?;
        let mut ids = Vec::with_capacity(input_length);
        for (&h, &size) in hash_ids.iter().zip(&sizes) {
            self.block_text(h, size)?;
            ids.extend(self.block_ids(h, size));
        }
        ids.extend(self.tail_ids(tail, row_key));
        Ok(ids)
    }

    /// Text of `ids`, special tokens kept: the tokenizer's decoding, computed token by
    /// token from a table when that is known to give the same text (much faster).
    pub fn decode(&self, ids: &[u32]) -> String {
        if let Some(table) = &self.token_text {
            let mut out = String::with_capacity(ids.len() * 5);
            for &id in ids {
                match table.get(id as usize).and_then(|t| t.as_deref()) {
                    Some(t) => out.push_str(t),
                    None => return self.tokenizer.decode(ids, false),
                }
            }
            return out;
        }
        self.tokenizer.decode(ids, false)
    }

    /// Whether [`HashPrompts::decode`] uses the per-token table.
    pub fn decodes_by_token(&self) -> bool {
        self.token_text.is_some()
    }

    /// The prompt of a row: its [`HashPrompts::token_ids`] decoded.
    pub fn prompt(
        &mut self,
        input_length: usize,
        hash_ids: &[u64],
        row_key: u64,
    ) -> Result<String, String> {
        self.prompts(&[(input_length, hash_ids, row_key)])
            .map(|mut v| v.pop().expect("one row"))
            .map_err(|(_, e)| e)
    }

    /// The prompts of `rows`, new blocks decoded on all cores. On error, the index of
    /// the offending row and the reason.
    pub fn prompts(&mut self, rows: &[RowSpec]) -> Result<Vec<String>, (usize, String)> {
        // 1. Layouts, size checks and the new blocks, in row order.
        let mut layouts: Vec<Layout> = Vec::with_capacity(rows.len());
        let mut pending: HashMap<u64, usize> = HashMap::new();
        let mut new_blocks: Vec<(u64, usize)> = Vec::new();
        for (i, &(n, hashes, _)) in rows.iter().enumerate() {
            let (sizes, tail) = self.layout(n, hashes).map_err(|e| (i, e))?;
            for (&h, &size) in hashes.iter().zip(&sizes) {
                let known = self
                    .blocks
                    .get(&h)
                    .map(|b| b.size)
                    .or_else(|| pending.get(&h).copied());
                match known {
                    Some(k) if k != size => return Err((i, Self::conflict(h, size, k))),
                    Some(_) => {}
                    None => {
                        pending.insert(h, size);
                        new_blocks.push((h, size));
                    }
                }
            }
            layouts.push((sizes, tail));
        }
        // 2. Materialize the new blocks in parallel.
        let this = &*self;
        let texts = parallel_map(&new_blocks, |&(h, size)| {
            this.decode(&this.block_ids(h, size))
        });
        for ((h, size), text) in new_blocks.into_iter().zip(texts) {
            self.blocks.insert(
                h,
                Block {
                    size,
                    text: text.into(),
                },
            );
        }
        // 3. Assemble (or decode whole rows when decoding is not compositional).
        let this = &*self;
        let jobs: Vec<(&RowSpec, &Layout)> = rows.iter().zip(&layouts).collect();
        Ok(parallel_map(
            &jobs,
            |&(&(_, hashes, key), (sizes, tail))| {
                if this.compositional {
                    let mut text = String::with_capacity(sizes.iter().sum::<usize>() * 5);
                    for h in hashes {
                        text.push_str(&this.blocks[h].text);
                    }
                    if *tail > 0 {
                        text.push_str(&this.decode(&this.tail_ids(*tail, key)));
                    }
                    text
                } else {
                    let mut ids: Vec<u32> = Vec::with_capacity(sizes.iter().sum::<usize>() + tail);
                    for (&h, &size) in hashes.iter().zip(sizes) {
                        ids.extend(this.block_ids(h, size));
                    }
                    ids.extend(this.tail_ids(*tail, key));
                    this.decode(&ids)
                }
            },
        ))
    }
}

/// `f` over `items` on all cores (at most 8 threads), results in order.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    if items.len() < 2 || threads == 1 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|g| s.spawn(move || g.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests;
