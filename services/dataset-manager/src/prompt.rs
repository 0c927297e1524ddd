//! Synthetic prompts of an exact token length, and token-length sampling.
//!
//! AIPerf 0.13's method (contract: `docs/datasets.md` §1): pick a random start in
//! the tokenized corpus, take N ids (wrapping around), decode, re-encode, and
//! truncate or top up until the text re-encodes to exactly N tokens (at most
//! [`MAX_ROUNDS`] rounds), the same contract as vLLM's benchmark prompts.

use std::sync::Arc;

use aiperf_config::TokenDistribution;
use aiperf_tokenizer::Tokenizer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::corpus::corpus_tokens;

/// Maximum decode → re-encode correction rounds per prompt.
pub const MAX_ROUNDS: usize = 10;

/// Makes synthetic prompts from the corpus with one tokenizer and one RNG stream.
pub struct PromptGenerator {
    tokenizer: Arc<Tokenizer>,
    corpus: Arc<[u32]>,
    rng: StdRng,
}

impl std::fmt::Debug for PromptGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptGenerator")
            .field("tokenizer", &self.tokenizer.name())
            .field("corpus_tokens", &self.corpus.len())
            .finish_non_exhaustive()
    }
}

impl PromptGenerator {
    /// A generator over the corpus tokenized with `tokenizer` (tokenized on first use
    /// per tokenizer, then cached). `seed: None` seeds from OS entropy; the same seed,
    /// tokenizer and call sequence give the same prompts.
    pub fn new(tokenizer: Arc<Tokenizer>, seed: Option<u64>) -> Self {
        let corpus = corpus_tokens(&tokenizer);
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        PromptGenerator {
            tokenizer,
            corpus,
            rng,
        }
    }

    /// The tokenizer prompts are measured with.
    pub fn tokenizer(&self) -> &Arc<Tokenizer> {
        &self.tokenizer
    }

    /// `n` consecutive corpus ids from a uniformly random start, wrapping around (and
    /// repeating the corpus when `n` exceeds its length).
    pub fn sample_tokens(&mut self, n: usize) -> Vec<u32> {
        let len = self.corpus.len();
        if n == 0 || len == 0 {
            return Vec::new();
        }
        let start = self.rng.random_range(0..len);
        let mut out = Vec::with_capacity(n);
        let first = (len - start).min(n);
        out.extend_from_slice(&self.corpus[start..start + first]);
        while out.len() < n {
            let take = (n - out.len()).min(len);
            out.extend_from_slice(&self.corpus[..take]);
        }
        out
    }

    /// A prompt whose text re-encodes to exactly `num_tokens` tokens (no special
    /// tokens added); `0` gives `""`.
    ///
    /// Decode → re-encode can merge or split tokens at window edges, so the ids are
    /// truncated (too many) or topped up with more corpus tokens (too few) and the
    /// round trip repeated, up to [`MAX_ROUNDS`] times. If no round hits the target
    /// (not observed with the Qwen3, GPT-2 or builtin tokenizers on this corpus: it
    /// would need a text whose every truncation re-tokenizes differently), the text
    /// closest to the target is returned, preferring the shorter one on a tie.
    pub fn generate(&mut self, num_tokens: usize) -> String {
        if num_tokens == 0 {
            return String::new();
        }
        let mut ids = self.sample_tokens(num_tokens);
        let mut best: Option<(usize, usize, String)> = None; // (distance, len, text)
        for _ in 0..=MAX_ROUNDS {
            let text = self.tokenizer.decode(&ids, false);
            let mut re = self.tokenizer.encode(&text);
            let len = re.len();
            if len == num_tokens {
                return text;
            }
            let distance = len.abs_diff(num_tokens);
            if best
                .as_ref()
                .is_none_or(|(d, l, _)| (distance, len) < (*d, *l))
            {
                best = Some((distance, len, text));
            }
            if len > num_tokens {
                re.truncate(num_tokens);
            } else {
                let extra = self.sample_tokens(num_tokens - len);
                re.extend(extra);
            }
            ids = re;
        }
        let (_, len, text) = best.expect("at least one round ran");
        tracing::debug!(
            target_tokens = num_tokens,
            got = len,
            "synthetic prompt length not exact"
        );
        text
    }

    /// `prefix` (which encodes to `prefix_tokens` tokens) followed by a fresh prompt, the
    /// whole re-encoding to exactly `prefix_tokens + num_tokens` tokens (token-level
    /// concatenation of a prefix-pool prompt, AIPerf 0.13). The prefix text is kept
    /// verbatim so every prompt that uses it shares it byte for byte; only the suffix
    /// length is corrected when the join merges or splits a token (at most
    /// [`MAX_ROUNDS`] retries, then the closest text, preferring the shorter one).
    pub fn generate_with_prefix(
        &mut self,
        prefix: &str,
        prefix_tokens: usize,
        num_tokens: usize,
    ) -> String {
        if prefix.is_empty() {
            return self.generate(num_tokens);
        }
        let target = prefix_tokens + num_tokens;
        let mut n = num_tokens;
        let mut best: Option<(usize, usize, String)> = None;
        for _ in 0..=MAX_ROUNDS {
            let text = format!("{prefix}{}", self.generate(n));
            let len = self.tokenizer.count(&text);
            if len == target {
                return text;
            }
            let distance = len.abs_diff(target);
            if best
                .as_ref()
                .is_none_or(|(d, l, _)| (distance, len) < (*d, *l))
            {
                best = Some((distance, len, text));
            }
            n = (n as i64 + target as i64 - len as i64).max(1) as usize;
        }
        let (_, len, text) = best.expect("at least one round ran");
        tracing::debug!(
            target_tokens = target,
            got = len,
            "prefixed prompt length not exact"
        );
        text
    }

    /// A token count drawn from `dist` with this generator's RNG (see [`sample_length_with`]).
    pub fn sample_length(&mut self, dist: TokenDistribution) -> usize {
        sample_length_with(&mut self.rng, dist)
    }
}

/// A token count from `dist`: `max(1, round(mean))` when the standard deviation is 0
/// (or not a positive finite number), else `max(1, ceil(x))` with `x ~ normal(mean, sd)`
/// (AIPerf's `sample_positive_normal_integer`). Rounding is half-to-even as in Python.
/// A non-finite mean gives 1 (the config layer rejects those before this point).
pub fn sample_length_with<R: Rng + ?Sized>(rng: &mut R, dist: TokenDistribution) -> usize {
    let value = if dist.stddev > 0.0 && dist.stddev.is_finite() && dist.mean.is_finite() {
        match Normal::new(dist.mean, dist.stddev) {
            Ok(normal) => normal.sample(rng).ceil(),
            Err(_) => dist.mean.round_ties_even(),
        }
    } else {
        dist.mean.round_ties_even()
    };
    if value.is_finite() && value >= 1.0 {
        // Saturating cast.
        value as usize
    } else {
        1
    }
}

#[cfg(test)]
mod tests;
