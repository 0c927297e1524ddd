use super::*;
use std::path::Path;

fn hf(rel: &str) -> Arc<Tokenizer> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tokenizers")
        .join(rel);
    Tokenizer::load(Some(p.to_str().unwrap())).unwrap()
}

fn tokenizers() -> Vec<Arc<Tokenizer>> {
    vec![hf("qwen3-0.6b"), hf("gpt2"), Tokenizer::builtin()]
}

#[test]
fn prompts_reencode_to_exactly_n_tokens() {
    for tok in tokenizers() {
        let mut g = PromptGenerator::new(Arc::clone(&tok), Some(42));
        for n in [1usize, 7, 100, 550, 3000] {
            let reps = if n >= 3000 { 3 } else { 12 };
            for _ in 0..reps {
                let text = g.generate(n);
                assert_eq!(tok.count(&text), n, "{}: n={n} text={text:?}", tok.name());
            }
        }
    }
}

#[test]
fn longer_than_the_corpus_wraps_around() {
    let tok = Tokenizer::builtin();
    let mut g = PromptGenerator::new(Arc::clone(&tok), Some(1));
    let n = corpus_tokens(&tok).len() + 500;
    assert_eq!(g.sample_tokens(n).len(), n);
    assert_eq!(g.generate(0), "");
}

#[test]
fn seeded_generation_is_deterministic() {
    let tok = hf("gpt2");
    let run = |seed| {
        let mut g = PromptGenerator::new(Arc::clone(&tok), Some(seed));
        (0..5).map(|i| g.generate(50 + i * 10)).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
    // Unseeded generators differ from each other.
    let mut a = PromptGenerator::new(Arc::clone(&tok), None);
    let mut b = PromptGenerator::new(Arc::clone(&tok), None);
    assert_ne!(a.generate(200), b.generate(200));
}

#[test]
fn fixed_lengths_round_half_to_even_and_stay_positive() {
    let mut rng = StdRng::seed_from_u64(0);
    let d = |mean, stddev| TokenDistribution { mean, stddev };
    assert_eq!(sample_length_with(&mut rng, d(550.0, 0.0)), 550);
    assert_eq!(sample_length_with(&mut rng, d(2.5, 0.0)), 2);
    assert_eq!(sample_length_with(&mut rng, d(3.5, 0.0)), 4);
    assert_eq!(sample_length_with(&mut rng, d(0.0, 0.0)), 1);
    assert_eq!(sample_length_with(&mut rng, d(-5.0, 0.0)), 1);
    assert_eq!(sample_length_with(&mut rng, d(f64::NAN, 0.0)), 1);
    for _ in 0..1000 {
        assert!(sample_length_with(&mut rng, d(1.0, 50.0)) >= 1);
    }
}

#[test]
fn normal_lengths_have_the_requested_mean_and_spread() {
    let mut rng = StdRng::seed_from_u64(1234);
    let dist = TokenDistribution {
        mean: 500.0,
        stddev: 50.0,
    };
    let xs: Vec<f64> = (0..20_000)
        .map(|_| sample_length_with(&mut rng, dist) as f64)
        .collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    // ceil() shifts the mean up by ~0.5.
    assert!((mean - 500.5).abs() < 1.5, "mean {mean}");
    assert!((var.sqrt() - 50.0).abs() < 2.0, "sd {}", var.sqrt());
    // Same seed, same sequence.
    let mut r1 = StdRng::seed_from_u64(9);
    let mut r2 = StdRng::seed_from_u64(9);
    let a: Vec<usize> = (0..10).map(|_| sample_length_with(&mut r1, dist)).collect();
    let b: Vec<usize> = (0..10).map(|_| sample_length_with(&mut r2, dist)).collect();
    assert_eq!(a, b);
}

/// Prints exactness statistics and speed:
/// `cargo test -p aiperf-dataset-manager -- --ignored --nocapture prompt_report`.
#[test]
#[ignore = "report, not a check"]
fn prompt_report() {
    use std::time::Instant;
    for tok in tokenizers() {
        let t0 = Instant::now();
        let corpus = corpus_tokens(&tok);
        let t_corpus = t0.elapsed();
        let mut g = PromptGenerator::new(Arc::clone(&tok), Some(3));
        let (mut total, mut misses) = (0, 0);
        let t1 = Instant::now();
        for n in [1usize, 2, 3, 5, 7, 13, 50, 100, 256, 550, 1000, 3000] {
            for _ in 0..100 {
                total += 1;
                if tok.count(&g.generate(n)) != n {
                    misses += 1;
                }
            }
        }
        let t_gen = t1.elapsed();
        let t2 = Instant::now();
        for _ in 0..100 {
            g.generate(550);
        }
        println!(
            "{}: corpus {} tokens in {t_corpus:?}; {total} prompts ({misses} not exact) in {t_gen:?}; 100x550 in {:?}",
            tok.name(),
            corpus.len(),
            t2.elapsed()
        );
    }
}

#[test]
fn sample_tokens_is_a_cyclic_window() {
    let tok = Tokenizer::builtin();
    let corpus = corpus_tokens(&tok);
    let mut g = PromptGenerator::new(Arc::clone(&tok), Some(5));
    for n in [1, 10, corpus.len() - 1, corpus.len(), 2 * corpus.len() + 3] {
        let w = g.sample_tokens(n);
        assert_eq!(w.len(), n);
        let start = (0..corpus.len()).find(|&s| {
            corpus[s] == w[0] && (0..n.min(50)).all(|i| corpus[(s + i) % corpus.len()] == w[i])
        });
        let start = start.expect("window comes from the corpus");
        assert!(
            w.iter()
                .enumerate()
                .all(|(i, &id)| corpus[(start + i) % corpus.len()] == id)
        );
    }
}
