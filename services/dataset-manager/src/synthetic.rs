//! The synthetic dataset: `--num-dataset-entries` single-turn conversations with
//! prompts of `--isl` tokens and `max_tokens` from `--osl` (datasets.md §1.3).

use std::sync::Arc;

use aiperf_config::ProfileConfig;
use aiperf_protocol::dataset::{Conversation, Turn};
use aiperf_tokenizer::Tokenizer;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::prompt::{PromptGenerator, sample_length_with};

/// Offset mixed into the seed of the length-sampling RNG, so prompt texts and sampled
/// lengths are independent streams (the ISL sequence does not depend on how many
/// top-up tokens the prompts consumed).
const LENGTH_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// Id of the `index`-th conversation of a seeded run: `session_000000`, ….
pub fn session_id(index: usize) -> String {
    format!("session_{index:06}")
}

/// Builds `config.num_dataset_entries` single-turn conversations.
///
/// Ids are [`session_id`]s when `config.random_seed` is set, UUID4 strings otherwise.
/// Each turn's prompt length is sampled from `config.isl` and its `max_tokens` from
/// `config.osl` (`None` when unset); both with AIPerf's positive-normal rule
/// ([`sample_length_with`]). Prompts re-encode to exactly the sampled length with
/// `tokenizer`. With a seed the result is deterministic.
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

    let seed = config.random_seed;
    let mut prompts = PromptGenerator::new(tokenizer, seed);
    let mut lengths = match seed {
        Some(s) => StdRng::seed_from_u64(s ^ LENGTH_STREAM),
        None => StdRng::from_os_rng(),
    };

    let conversations = (0..config.num_dataset_entries)
        .map(|index| {
            let isl = sample_length_with(&mut lengths, config.isl);
            let max_tokens = config
                .osl
                .map(|osl| sample_length_with(&mut lengths, osl).min(u32::MAX as usize) as u32);
            let id = match seed {
                Some(_) => session_id(index),
                None => uuid::Uuid::new_v4().to_string(),
            };
            Conversation {
                id,
                system_message: None,
                user_context: None,
                turns: vec![Turn {
                    texts: vec![prompts.generate(isl)],
                    max_tokens,
                    ..Turn::default()
                }],
            }
        })
        .collect();
    Ok(conversations)
}

#[cfg(test)]
mod tests;
