use super::*;
use aiperf_config::{Context, ProfileArgs, TokenDistribution};
use std::path::Path;

fn config(
    entries: usize,
    isl: TokenDistribution,
    osl: Option<TokenDistribution>,
    seed: Option<u64>,
) -> ProfileConfig {
    let args = ProfileArgs {
        models: Some(vec!["test-model".into()]),
        ..ProfileArgs::default()
    };
    let ctx = Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "aiperf-rs profile".into(),
    };
    let mut c = aiperf_config::resolve(&args, &ctx).expect("valid config");
    c.num_dataset_entries = entries;
    c.isl = isl;
    c.osl = osl;
    c.random_seed = seed;
    c
}

fn fixed(mean: f64) -> TokenDistribution {
    TokenDistribution { mean, stddev: 0.0 }
}

fn qwen3() -> Arc<Tokenizer> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/tokenizers/qwen3-0.6b/tokenizer.json");
    Tokenizer::load(Some(p.to_str().unwrap())).unwrap()
}

#[test]
fn seeded_dataset_has_session_ids_exact_isl_and_osl() {
    let tok = qwen3();
    let convs = generate_conversations(
        &config(100, fixed(550.0), Some(fixed(20.0)), Some(42)),
        Arc::clone(&tok),
    )
    .unwrap();
    assert_eq!(convs.len(), 100);
    for (i, c) in convs.iter().enumerate() {
        assert_eq!(c.id, format!("session_{i:06}"));
        assert_eq!(c.turns.len(), 1);
        let turn = &c.turns[0];
        assert_eq!(turn.texts.len(), 1);
        assert_eq!(tok.count(&turn.texts[0]), 550);
        assert_eq!(turn.max_tokens, Some(20));
        assert!(turn.timestamp_ms.is_none() && turn.delay_ms.is_none());
        assert!(c.system_message.is_none() && c.user_context.is_none());
    }
    assert_eq!(convs[0].id, "session_000000");
    assert_eq!(convs[99].id, "session_000099");
}

#[test]
fn same_seed_same_dataset_different_seed_differs() {
    let tok = Tokenizer::builtin();
    let isl = TokenDistribution {
        mean: 100.0,
        stddev: 10.0,
    };
    let osl = Some(TokenDistribution {
        mean: 50.0,
        stddev: 5.0,
    });
    let a = generate_conversations(&config(20, isl, osl, Some(7)), Arc::clone(&tok)).unwrap();
    let b = generate_conversations(&config(20, isl, osl, Some(7)), Arc::clone(&tok)).unwrap();
    let c = generate_conversations(&config(20, isl, osl, Some(8)), Arc::clone(&tok)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn unseeded_ids_are_uuid4_and_osl_is_optional() {
    let convs =
        generate_conversations(&config(5, fixed(10.0), None, None), Tokenizer::builtin()).unwrap();
    let mut ids: Vec<&str> = convs.iter().map(|c| c.id.as_str()).collect();
    for id in &ids {
        let u = uuid::Uuid::parse_str(id).expect("uuid");
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(id.len(), 36);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(convs.iter().all(|c| c.turns[0].max_tokens.is_none()));
}

#[test]
fn isl_with_stddev_is_sampled_per_turn() {
    let tok = Tokenizer::builtin();
    let isl = TokenDistribution {
        mean: 200.0,
        stddev: 40.0,
    };
    let osl = Some(TokenDistribution {
        mean: 100.0,
        stddev: 20.0,
    });
    let convs = generate_conversations(&config(300, isl, osl, Some(11)), Arc::clone(&tok)).unwrap();
    let lens: Vec<f64> = convs
        .iter()
        .map(|c| tok.count(&c.turns[0].texts[0]) as f64)
        .collect();
    let mean = lens.iter().sum::<f64>() / lens.len() as f64;
    let sd =
        (lens.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (lens.len() - 1) as f64).sqrt();
    // Standard error of the mean is 40/sqrt(300) ≈ 2.3.
    assert!((mean - 200.5).abs() < 10.0, "mean {mean}");
    assert!(sd > 30.0 && sd < 50.0, "sd {sd}");
    let osls: Vec<f64> = convs
        .iter()
        .map(|c| c.turns[0].max_tokens.unwrap() as f64)
        .collect();
    let osl_mean = osls.iter().sum::<f64>() / osls.len() as f64;
    assert!((osl_mean - 100.5).abs() < 5.0, "osl mean {osl_mean}");
    assert!(osls.iter().any(|&x| x != osls[0]));
}

#[test]
fn rejects_empty_and_non_finite_configs() {
    let tok = Tokenizer::builtin();
    assert!(
        generate_conversations(&config(0, fixed(10.0), None, Some(1)), Arc::clone(&tok)).is_err()
    );
    assert!(
        generate_conversations(&config(1, fixed(f64::NAN), None, Some(1)), Arc::clone(&tok))
            .is_err()
    );
    let bad_osl = Some(TokenDistribution {
        mean: 10.0,
        stddev: f64::INFINITY,
    });
    assert!(generate_conversations(&config(1, fixed(10.0), bad_osl, Some(1)), tok).is_err());
}

#[test]
fn session_id_format() {
    assert_eq!(session_id(0), "session_000000");
    assert_eq!(session_id(123), "session_000123");
    assert_eq!(session_id(1_234_567), "session_1234567");
}
