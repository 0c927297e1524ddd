//! The synthetic dataset (`docs/datasets.md` §1): `--num-dataset-entries`
//! conversations of `--session-turns-mean/-stddev` turns with prompts of `--isl`
//! tokens (or `--seq-dist` pairs) and `max_tokens` from `--osl`, plus the optional
//! prefix prompt pool, shared system prompt and per-conversation user context.

use std::sync::Arc;

use aiperf_config::ProfileConfig;
use aiperf_protocol::dataset::{Conversation, Turn};
use aiperf_tokenizer::Tokenizer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::prompt::{PromptGenerator, sample_length_with};

/// Offset mixed into the seed of the length-sampling RNG, so prompt texts and sampled
/// lengths are independent streams (the ISL sequence does not depend on how many
/// top-up tokens the prompts consumed).
const LENGTH_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// Offset mixed into the seed of the structure RNG (turn counts, delays, sequence-pair
/// and prefix-pool choices), so enabling them does not change the ISL/OSL sequence.
const STRUCTURE_STREAM: u64 = 0x2545_F491_4F6C_DD1D;

/// Id of the `index`-th conversation of a seeded run: `session_000000`, ….
pub fn session_id(index: usize) -> String {
    format!("session_{index:06}")
}

/// Builds `config.num_dataset_entries` conversations.
///
/// Ids are [`session_id`]s when `config.random_seed` is set, UUID4 strings otherwise.
/// Per conversation (`d = config.dataset`):
/// * turns = `max(1, ceil(normal(d.turns)))` (AIPerf's positive-normal rule,
///   [`sample_length_with`]; 1 by default);
/// * each turn samples its prompt length from `config.isl` and its `max_tokens` from
///   `config.osl` (`None` when unset) — or, with `--seq-dist`, picks an (ISL, OSL) pair
///   by its probability and samples both from it (the OSL becomes `max_tokens`);
/// * turns ≥ 1 get `delay_ms = positive_normal(d.turn_delay_ms) * d.turn_delay_ratio`
///   when the delay mean is > 0;
/// * the first turn starts with a uniformly chosen prefix-pool prompt (pool of
///   `d.prefix_prompt_pool_size` prompts of `d.prefix_prompt_length` tokens) when the
///   pool is set: the turn text then re-encodes to prefix + ISL tokens;
/// * `system_message` = one shared prompt of `d.shared_system_prompt_length` tokens
///   (the same text for every conversation), `user_context` = a distinct prompt of
///   `d.user_context_prompt_length` tokens per conversation.
///
/// Prompts re-encode to exactly the sampled length with `tokenizer`. With a seed the
/// result is deterministic.
///
/// Errors when there are no entries to build or the ISL/OSL parameters are not finite.
pub fn generate_conversations(
    config: &ProfileConfig,
    tokenizer: Arc<Tokenizer>,
) -> Result<Vec<Conversation>, String> {
    if config.num_dataset_entries == 0 {
        return Err("--num-dataset-entries must be at least 1 for a synthetic dataset".to_string());
    }
    let finite = |d: &aiperf_config::TokenDistribution| d.mean.is_finite() && d.stddev.is_finite();
    if !finite(&config.isl) {
        return Err(format!(
            "invalid --isl {} / --isl-stddev {}",
            config.isl.mean, config.isl.stddev
        ));
    }
    if let Some(osl) = &config.osl
        && !finite(osl)
    {
        return Err(format!(
            "invalid --osl {} / --osl-stddev {}",
            osl.mean, osl.stddev
        ));
    }

    let d = &config.dataset;
    let seed = config.random_seed;
    let mut prompts = PromptGenerator::new(tokenizer, seed);
    let mut lengths = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ LENGTH_STREAM),
        None => StdRng::from_os_rng(),
    };
    let mut structure = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ STRUCTURE_STREAM),
        None => StdRng::from_os_rng(),
    };
    let system_message = d.shared_system_prompt_length.map(|n| prompts.generate(n));
    let prefix_pool: Vec<String> = (0..d.prefix_prompt_pool_size)
        .map(|_| prompts.generate(d.prefix_prompt_length))
        .collect();

    let conversations = (0..config.num_dataset_entries)
        .map(|index| {
            let id = match seed {
                Some(_) => session_id(index),
                None => uuid::Uuid::new_v4().to_string(),
            };
            let user_context = d.user_context_prompt_length.map(|n| prompts.generate(n));
            let num_turns = sample_length_with(&mut structure, d.turns);
            let turns = (0..num_turns)
                .map(|t| {
                    let (isl, max_tokens) = match &d.seq_dist {
                        Some(dist) => {
                            let pair = *dist.pick(structure.random::<f64>());
                            let isl = sample_length_with(&mut lengths, pair.isl);
                            let osl = sample_length_with(&mut lengths, pair.osl);
                            (isl, Some(osl))
                        }
                        None => {
                            let isl = sample_length_with(&mut lengths, config.isl);
                            (
                                isl,
                                config.osl.map(|osl| sample_length_with(&mut lengths, osl)),
                            )
                        }
                    };
                    let delay_ms = (t > 0 && d.turn_delay_ms.mean > 0.0).then(|| {
                        sample_length_with(&mut structure, d.turn_delay_ms) as f64
                            * d.turn_delay_ratio
                    });
                    let text = if t == 0 && !prefix_pool.is_empty() {
                        let prefix = &prefix_pool[structure.random_range(0..prefix_pool.len())];
                        prompts.generate_with_prefix(prefix, d.prefix_prompt_length, isl)
                    } else {
                        prompts.generate(isl)
                    };
                    Turn {
                        texts: vec![text],
                        max_tokens: max_tokens.map(|n| n.min(u32::MAX as usize) as u32),
                        delay_ms,
                        ..Turn::default()
                    }
                })
                .collect();
            Conversation {
                id,
                system_message: system_message.clone(),
                user_context,
                turns,
            }
        })
        .collect();
    Ok(conversations)
}

#[cfg(test)]
mod tests;
