//! Every output word is one token in the Qwen3 and GPT-2 tokenizers, alone and
//! concatenated, so a client counts exactly `max_tokens` output tokens.

use aiperf_mock_server::OUTPUT_WORDS;
use aiperf_tokenizer::Tokenizer;
use std::sync::Arc;

/// The real tokenizers vendored in the repository's `tests/fixtures`.
const TOKENIZERS: &[&str] = &["qwen3-0.6b", "gpt2"];

/// Loads a fixture tokenizer; a missing or broken fixture fails the test.
fn load(name: &str) -> Arc<Tokenizer> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tokenizers")
        .join(name);
    Tokenizer::load(Some(dir.to_str().unwrap()))
        .unwrap_or_else(|e| panic!("fixture tokenizer {name}: {e}"))
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
        let tok = load(path);
        assert!(!tok.is_builtin());
        for w in OUTPUT_WORDS {
            assert!(w.starts_with(' ') && !w[1..].contains(' '), "{w:?}");
            assert_eq!(tok.count(w), 1, "{w:?} is not one token in {path}");
        }
        let all: String = OUTPUT_WORDS.concat();
        assert_eq!(tok.count(&all), OUTPUT_WORDS.len(), "{path}");

        let mut state = 0x1234_5678_9abc_def1u64;
        for len in [1usize, 2, 3, 10, 100, 1000] {
            for _ in 0..5 {
                let text: String = (0..len)
                    .map(|_| OUTPUT_WORDS[(next(&mut state) % 64) as usize])
                    .collect();
                assert_eq!(tok.count(&text), len, "{path}: {text:?}");
            }
        }
        // Every ordered pair (catches merges across word boundaries).
        for a in OUTPUT_WORDS {
            for b in OUTPUT_WORDS {
                assert_eq!(tok.count(&format!("{a}{b}")), 2, "{path}: {a:?}{b:?}");
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
