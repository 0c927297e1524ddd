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
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tokenizers/qwen3-0.6b");
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

fn shaped(
    entries: usize,
    seed: u64,
    f: impl FnOnce(&mut aiperf_config::DatasetConfig),
) -> ProfileConfig {
    let mut c = config(entries, fixed(30.0), None, Some(seed));
    f(&mut c.dataset);
    c
}

#[test]
fn prefix_pool_prompts_lead_first_turns_at_token_level() {
    let tok = qwen3();
    let c = shaped(30, 5, |d| {
        d.prefix_prompt_pool_size = 3;
        d.prefix_prompt_length = 20;
        d.turns = fixed(2.0);
    });
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    // The pool is the generator's first three prompts.
    let mut g = PromptGenerator::new(Arc::clone(&tok), Some(5));
    let pool: Vec<String> = (0..3).map(|_| g.generate(20)).collect();
    let mut used = [0usize; 3];
    for conv in &convs {
        assert_eq!(conv.turns.len(), 2);
        let first = &conv.turns[0].texts[0];
        assert_eq!(tok.count(first), 50, "prefix 20 + ISL 30 tokens");
        let which = pool
            .iter()
            .position(|p| first.starts_with(p.as_str()))
            .expect("starts with a pool prompt");
        used[which] += 1;
        assert_eq!(
            tok.count(&conv.turns[1].texts[0]),
            30,
            "later turns have no prefix"
        );
        assert!(
            !pool
                .iter()
                .any(|p| conv.turns[1].texts[0].starts_with(p.as_str()))
        );
    }
    assert!(
        used.iter().all(|&n| n > 0),
        "uniform choice uses every prompt: {used:?}"
    );
}

#[test]
fn shared_system_prompt_and_user_context() {
    let tok = qwen3();
    let c = shaped(10, 6, |d| {
        d.shared_system_prompt_length = Some(40);
        d.user_context_prompt_length = Some(25);
    });
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    let system = convs[0].system_message.clone().unwrap();
    assert_eq!(tok.count(&system), 40);
    let mut contexts = std::collections::HashSet::new();
    for conv in &convs {
        assert_eq!(
            conv.system_message.as_deref(),
            Some(system.as_str()),
            "one system prompt per run"
        );
        let ctx = conv.user_context.clone().unwrap();
        assert_eq!(tok.count(&ctx), 25);
        contexts.insert(ctx);
        assert_eq!(tok.count(&conv.turns[0].texts[0]), 30);
    }
    assert_eq!(contexts.len(), 10, "one distinct context per conversation");
}

#[test]
fn multi_turn_sessions_turn_counts_and_delays() {
    let tok = Tokenizer::builtin();
    let c = shaped(20, 7, |d| {
        d.turns = fixed(3.0);
        d.turn_delay_ms = fixed(1000.0);
        d.turn_delay_ratio = 0.5;
    });
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    for conv in &convs {
        let delays: Vec<Option<f64>> = conv.turns.iter().map(|t| t.delay_ms).collect();
        assert_eq!(delays, vec![None, Some(500.0), Some(500.0)]);
        assert!(conv.turns.iter().all(|t| t.timestamp_ms.is_none()));
    }
    // No delay mean: no delays.
    let c = shaped(5, 7, |d| d.turns = fixed(2.0));
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    assert!(
        convs
            .iter()
            .flat_map(|c| &c.turns)
            .all(|t| t.delay_ms.is_none())
    );
    // Sampled turn counts: max(1, ceil(N(3, 1))) has mean ≈ 3.5; 400 draws, sd of the
    // mean ≈ 0.05. Delays N(1000, 100) * 1.0: mean ≈ 1000.5.
    let c = shaped(400, 8, |d| {
        d.turns = TokenDistribution {
            mean: 3.0,
            stddev: 1.0,
        };
        d.turn_delay_ms = TokenDistribution {
            mean: 1000.0,
            stddev: 100.0,
        };
    });
    let c = ProfileConfig {
        isl: fixed(2.0),
        ..c
    };
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    let counts: Vec<f64> = convs.iter().map(|c| c.turns.len() as f64).collect();
    let mean = counts.iter().sum::<f64>() / counts.len() as f64;
    assert!((mean - 3.5).abs() < 0.25, "turn mean {mean}");
    assert!(counts.contains(&1.0) && counts.iter().any(|&n| n >= 5.0));
    let delays: Vec<f64> = convs
        .iter()
        .flat_map(|c| c.turns.iter().filter_map(|t| t.delay_ms))
        .collect();
    let dmean = delays.iter().sum::<f64>() / delays.len() as f64;
    assert!(
        (dmean - 1000.5).abs() < 15.0,
        "delay mean {dmean} over {}",
        delays.len()
    );
}

#[test]
fn seq_dist_pairs_are_drawn_by_probability() {
    let tok = Tokenizer::builtin();
    let mut c = shaped(2000, 9, |d| {
        d.seq_dist =
            Some(aiperf_config::SequenceDistribution::parse("10,1:20;20,2:50;30,3:30").unwrap());
    });
    c.osl = Some(fixed(999.0));
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    let mut by_osl = [0usize; 4];
    for conv in &convs {
        let t = &conv.turns[0];
        let osl = t.max_tokens.unwrap() as usize;
        assert!((1..=3).contains(&osl), "--seq-dist overrides --osl: {osl}");
        assert_eq!(tok.count(&t.texts[0]), osl * 10, "ISL of the same pair");
        by_osl[osl] += 1;
    }
    // Expected 400/1000/600; binomial sd ≈ 18/22/20 → ±80 is about 4 sd, while a
    // uniform pick (667 each) or ignoring the pairs fails.
    for (got, want) in by_osl[1..].iter().zip([400usize, 1000, 600]) {
        assert!(got.abs_diff(want) <= 80, "{by_osl:?}");
    }
    // With stddevs: ISL ~ max(1, ceil(N(100, 10))) → mean ≈ 100.5.
    let c = shaped(400, 10, |d| {
        d.seq_dist = Some(aiperf_config::SequenceDistribution::parse("100|10,5|0:100").unwrap());
    });
    let convs = generate_conversations(&c, Arc::clone(&tok)).unwrap();
    let isls: Vec<f64> = convs
        .iter()
        .map(|c| tok.count(&c.turns[0].texts[0]) as f64)
        .collect();
    let mean = isls.iter().sum::<f64>() / isls.len() as f64;
    assert!((mean - 100.5).abs() < 2.5, "{mean}");
    assert!(isls.iter().any(|&x| x < 90.0) && isls.iter().any(|&x| x > 110.0));
    assert!(convs.iter().all(|c| c.turns[0].max_tokens == Some(5)));
}

#[test]
fn defaults_keep_the_single_turn_dataset_unchanged() {
    // The structure stream is separate: default shape gives the same ISL/OSL sequence
    // and texts as before the extensions (no extra RNG draws).
    let tok = Tokenizer::builtin();
    let isl = TokenDistribution {
        mean: 50.0,
        stddev: 10.0,
    };
    let osl = TokenDistribution {
        mean: 20.0,
        stddev: 5.0,
    };
    let a = generate_conversations(&config(10, isl, Some(osl), Some(3)), Arc::clone(&tok)).unwrap();
    let mut lengths = StdRng::seed_from_u64(3 ^ LENGTH_STREAM);
    let mut g = PromptGenerator::new(Arc::clone(&tok), Some(3));
    for conv in &a {
        let n = sample_length_with(&mut lengths, isl);
        let m = sample_length_with(&mut lengths, osl);
        assert_eq!(conv.turns[0].texts[0], g.generate(n));
        assert_eq!(conv.turns[0].max_tokens, Some(m as u32));
        assert!(conv.system_message.is_none() && conv.user_context.is_none());
    }
}
