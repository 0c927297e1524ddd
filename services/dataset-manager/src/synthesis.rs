//! Trace rows and their transforms: the load-time filters (fixed-schedule window,
//! `--synthesis-max-isl`) and trace synthesis (`--synthesis-*`, `docs/datasets.md` §6).
//!
//! Order (all rows of the file considered together):
//! 1. [`filter_rows`]: rows with a timestamp outside
//!    `[--fixed-schedule-start-offset, --fixed-schedule-end-offset]` (trace ms, bounds
//!    kept) and rows with `input_length > --synthesis-max-isl` are dropped;
//! 2. [`synthesize`]: prefix/prompt multipliers (rewrite `hash_ids`), prefix-root
//!    multiplier, output multiplier, then the `--synthesis-max-osl` cap and the
//!    `--synthesis-max-isl` clamp.
//!
//! The speed-up (`timestamp = int(timestamp / S)`) is applied later to every
//! timestamped format alike ([`crate::schedule`]).

use std::collections::HashMap;

use aiperf_config::SynthesisConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a trace row asks the server to read.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceInput {
    /// Synthesize `input_length` tokens from `hash_ids` (empty = all fresh tokens).
    Tokens {
        /// Prompt tokens.
        input_length: u64,
        /// One id per `block_size` tokens.
        hash_ids: Vec<u64>,
    },
    /// A literal prompt (`text_input`).
    Text(String),
}

/// One request of a trace (Mooncake line or Azure CSV row).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRow {
    /// 1-based line in the file (for errors).
    pub line: usize,
    /// Arrival time, ms of the trace.
    pub timestamp: Option<f64>,
    /// Think time after the previous turn of the session, ms.
    pub delay: Option<f64>,
    /// Session grouping.
    pub session_id: Option<String>,
    /// The prompt.
    pub input: TraceInput,
    /// Requested output tokens.
    pub output_length: Option<u64>,
    /// Extra body fields (JSON object string).
    pub extra: Option<String>,
}

impl TraceRow {
    /// `input_length` of a token row.
    pub fn input_length(&self) -> Option<u64> {
        match &self.input {
            TraceInput::Tokens { input_length, .. } => Some(*input_length),
            TraceInput::Text(_) => None,
        }
    }
}

/// Drops rows outside the timestamp window (a row without a timestamp follows the
/// previous row of its session, and is kept without a session) and rows longer than
/// `max_isl` (text rows are kept).
pub fn filter_rows(
    rows: Vec<TraceRow>,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
    max_isl: Option<u64>,
) -> Vec<TraceRow> {
    // Last window decision per session: an untimed row follows its predecessor.
    let mut session_kept: HashMap<String, bool> = HashMap::new();
    rows.into_iter()
        .filter(|r| {
            let keep = match r.timestamp {
                Some(ts) => {
                    start_ms.is_none_or(|s| ts >= s as f64) && end_ms.is_none_or(|e| ts <= e as f64)
                }
                None => r
                    .session_id
                    .as_ref()
                    .and_then(|s| session_kept.get(s).copied())
                    .unwrap_or(true),
            };
            if let Some(s) = &r.session_id {
                session_kept.insert(s.clone(), keep);
            }
            keep
        })
        .filter(|r| match (r.input_length(), max_isl) {
            (Some(n), Some(max)) => n <= max,
            _ => true,
        })
        .collect()
}

/// Offset mixed into the seed of the prefix-root assignment.
const ROOT_STREAM: u64 = 0x0052_0073_0054;

/// Python's `round` (half to even) for the output multiplier.
fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Applies trace synthesis (`docs/datasets.md` §6) to `rows` in place (see the module doc for the order).
///
/// Prefix/prompt multipliers (only when one of them differs from 1):
/// * shared hashes = ids occurring ≥ 2 times in the whole trace; a row's prefix is its
///   leading run of shared ids; `prefix_len = min(len(prefix)*B, input_length)`,
///   `prompt_len = input_length - prefix_len`;
/// * prefix multiplier `M > 1`: every prefix id `h` becomes `h*int(M) … h*int(M)+int(M)-1`,
///   then new ids are appended up to `ceil(len(prefix)*M)` blocks (the same new ids for
///   every row with the same original prefix, so sharing is kept);
///   `new_prefix_len = blocks*B`. `M < 1`: the first `max(1, int(len(prefix)*M))` ids
///   are kept (`new_prefix_len = kept*B`, or the old length when all are kept);
/// * prompt multiplier `P`: `new_prompt_len = int(prompt_len*P)` covered by
///   `ceil(new_prompt_len/B)` brand-new ids;
/// * `input_length = new_prefix_len + new_prompt_len` (at least 1).
///
/// Prefix-root multiplier `R > 1`: each session (or session-less row) is assigned one
/// of `R` trees at random (seeded); tree `k` adds `k*(max_hash_id+1)` to its ids.
/// Output multiplier `O`: `output_length = max(1, round(output_length*O))`. Then
/// `output_length` is capped at `max_osl` and `input_length` clamped to `max_isl`
/// (hash ids trimmed to match). Rows without hash ids keep their input length.
pub fn synthesize(
    rows: &mut [TraceRow],
    s: &SynthesisConfig,
    block_size: u64,
    seed: Option<u64>,
) -> Result<(), String> {
    let b = block_size.max(1);
    if s.prefix_len_multiplier != 1.0 || s.prompt_len_multiplier != 1.0 {
        scale_prefix_and_prompt(rows, s.prefix_len_multiplier, s.prompt_len_multiplier, b)?;
    }
    if s.prefix_root_multiplier > 1 {
        spread_roots(rows, s.prefix_root_multiplier, seed)?;
    }
    for r in rows.iter_mut() {
        if let Some(osl) = r.output_length.as_mut() {
            if s.output_len_multiplier != 1.0 {
                *osl = round_half_even(*osl as f64 * s.output_len_multiplier).max(1.0) as u64;
            }
            if let Some(max) = s.max_osl {
                *osl = (*osl).min(max);
            }
        }
        if let (
            Some(max),
            TraceInput::Tokens {
                input_length,
                hash_ids,
            },
        ) = (s.max_isl, &mut r.input)
            && *input_length > max
        {
            *input_length = max;
            if !hash_ids.is_empty() {
                hash_ids.truncate(max.div_ceil(b) as usize);
            }
        }
    }
    Ok(())
}

fn overflow(line: usize) -> String {
    match line {
        0 => "hash ids too large for the --synthesis-* multipliers".to_string(),
        n => format!("line {n}: hash ids too large for the --synthesis-* multipliers"),
    }
}

fn scale_prefix_and_prompt(rows: &mut [TraceRow], m: f64, p: f64, b: u64) -> Result<(), String> {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    let mut max_id = 0u64;
    for r in rows.iter() {
        if let TraceInput::Tokens { hash_ids, .. } = &r.input {
            for &h in hash_ids {
                *counts.entry(h).or_default() += 1;
                max_id = max_id.max(h);
            }
        }
    }
    let k = if m > 1.0 { m.floor() as u64 } else { 1 };
    let mut next_fresh = max_id
        .checked_add(1)
        .and_then(|x| x.checked_mul(k))
        .ok_or_else(|| overflow(0))?;
    let mut fresh = |n: u64| -> Vec<u64> {
        let start = next_fresh;
        next_fresh += n;
        (start..start + n).collect()
    };
    let mut extras: HashMap<Vec<u64>, Vec<u64>> = HashMap::new();
    for r in rows.iter_mut() {
        let line = r.line;
        let TraceInput::Tokens {
            input_length,
            hash_ids,
        } = &mut r.input
        else {
            continue;
        };
        if hash_ids.is_empty() {
            continue;
        }
        let n = *input_length;
        let prefix_n = hash_ids.iter().take_while(|h| counts[h] >= 2).count();
        let prefix = &hash_ids[..prefix_n];
        let prefix_len = (prefix_n as u64 * b).min(n);
        let prompt_len = n - prefix_len;
        let (mut new_ids, new_prefix_len): (Vec<u64>, u64) = if prefix_n == 0 {
            (Vec::new(), 0)
        } else if m > 1.0 {
            let mut stretched = Vec::with_capacity((prefix_n as f64 * m).ceil() as usize);
            for &h in prefix {
                let base = h.checked_mul(k).ok_or_else(|| overflow(line))?;
                stretched.extend((0..k).map(|j| base + j));
            }
            let target = (prefix_n as f64 * m).ceil() as usize;
            if stretched.len() < target {
                let missing = (target - stretched.len()) as u64;
                let extra = extras
                    .entry(prefix.to_vec())
                    .or_insert_with(|| fresh(missing));
                stretched.extend_from_slice(extra);
            }
            let len = stretched.len() as u64 * b;
            (stretched, len)
        } else if m < 1.0 {
            let keep = ((prefix_n as f64 * m).floor() as usize)
                .max(1)
                .min(prefix_n);
            let len = if keep == prefix_n {
                prefix_len
            } else {
                keep as u64 * b
            };
            (prefix[..keep].to_vec(), len)
        } else {
            (prefix.to_vec(), prefix_len)
        };
        let mut new_prompt_len = if p == 1.0 {
            prompt_len
        } else {
            (prompt_len as f64 * p).floor() as u64
        };
        if new_prefix_len + new_prompt_len == 0 {
            new_prompt_len = 1;
        }
        new_ids.extend(fresh(new_prompt_len.div_ceil(b)));
        *input_length = new_prefix_len + new_prompt_len;
        *hash_ids = new_ids;
    }
    Ok(())
}

fn spread_roots(rows: &mut [TraceRow], r: u32, seed: Option<u64>) -> Result<(), String> {
    let max_id = rows
        .iter()
        .filter_map(|row| match &row.input {
            TraceInput::Tokens { hash_ids, .. } => hash_ids.iter().max().copied(),
            TraceInput::Text(_) => None,
        })
        .max();
    let Some(max_id) = max_id else { return Ok(()) };
    let unit = max_id.checked_add(1).ok_or_else(|| overflow(0))?;
    let mut rng = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ ROOT_STREAM),
        None => StdRng::from_os_rng(),
    };
    let mut trees: HashMap<String, u64> = HashMap::new();
    for row in rows.iter_mut() {
        let tree = match &row.session_id {
            Some(s) => *trees
                .entry(s.clone())
                .or_insert_with(|| rng.random_range(0..r as u64)),
            None => rng.random_range(0..r as u64),
        };
        if let TraceInput::Tokens { hash_ids, .. } = &mut row.input {
            let add = tree.checked_mul(unit).ok_or_else(|| overflow(row.line))?;
            for h in hash_ids.iter_mut() {
                *h = h.checked_add(add).ok_or_else(|| overflow(row.line))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
