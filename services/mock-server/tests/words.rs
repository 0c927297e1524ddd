//! Every output word is one token in the Qwen3 and GPT-2 tokenizers, alone and
//! concatenated, so a client counts exactly `max_tokens` output tokens.

use aiperf_mock_server::OUTPUT_WORDS;
use tokenizers::Tokenizer;

const TOKENIZERS: &[&str] = &[
    "/work/shared/data/tokenizers/qwen3-0.6b/tokenizer.json",
    "/work/shared/data/tokenizers/gpt2/tokenizer.json",
];

fn load(path: &str) -> Option<Tokenizer> {
    if !std::path::Path::new(path).exists() {
        eprintln!("skipping: {path} not found");
        return None;
    }
    Some(Tokenizer::from_file(path).unwrap_or_else(|e| panic!("loading {path}: {e}")))
}

fn count(tok: &Tokenizer, text: &str) -> usize {
    tok.encode(text, false).unwrap().get_ids().len()
}

/// A small deterministic PRNG (xorshift64*).
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn output_words_are_single_tokens_even_when_concatenated() {
    assert_eq!(OUTPUT_WORDS.len(), 64);
    let distinct: std::collections::HashSet<_> = OUTPUT_WORDS.iter().collect();
    assert_eq!(distinct.len(), OUTPUT_WORDS.len());
    for path in TOKENIZERS {
        let Some(tok) = load(path) else { continue };
        for w in OUTPUT_WORDS {
            assert!(w.starts_with(' ') && !w[1..].contains(' '), "{w:?}");
            assert_eq!(count(&tok, w), 1, "{w:?} is not one token in {path}");
        }
        let all: String = OUTPUT_WORDS.concat();
        assert_eq!(count(&tok, &all), OUTPUT_WORDS.len(), "{path}");

        let mut state = 0x1234_5678_9abc_def1u64;
        for len in [1usize, 2, 3, 10, 100, 1000] {
            for _ in 0..5 {
                let text: String = (0..len)
                    .map(|_| OUTPUT_WORDS[(next(&mut state) % 64) as usize])
                    .collect();
                assert_eq!(count(&tok, &text), len, "{path}: {text:?}");
            }
        }
        // Every ordered pair (catches merges across word boundaries).
        for a in OUTPUT_WORDS {
            for b in OUTPUT_WORDS {
                assert_eq!(count(&tok, &format!("{a}{b}")), 2, "{path}: {a:?}{b:?}");
            }
        }
    }
}

#[test]
fn output_words_are_single_tokens_in_o200k() {
    // AIPerf's `builtin` tokenizer (tiktoken o200k_base) agrees as well.
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let all: String = OUTPUT_WORDS.concat();
    assert_eq!(bpe.encode_ordinary(&all).len(), OUTPUT_WORDS.len());
    for w in OUTPUT_WORDS {
        assert_eq!(bpe.encode_ordinary(w).len(), 1, "{w:?}");
    }
}
