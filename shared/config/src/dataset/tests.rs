use super::*;
use crate::{Context, resolve};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ProfileArgs,
}

fn ctx() -> Context {
    Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "aiperf-rs profile".into(),
    }
}

/// Parses flags (after `-m m`) and resolves them.
fn run(flags: &[&str]) -> Result<crate::ProfileConfig, String> {
    let mut argv = vec!["profile", "-m", "m"];
    argv.extend_from_slice(flags);
    let cli = Cli::try_parse_from(argv).map_err(|e| format!("clap: {e}"))?;
    resolve(&cli.args, &ctx()).map_err(|e| e.to_string())
}

fn ok(flags: &[&str]) -> DatasetConfig {
    run(flags)
        .unwrap_or_else(|e| panic!("{flags:?}: {e}"))
        .dataset
}

fn fails(flags: &[&str], needle: &str) {
    match run(flags) {
        Ok(_) => panic!("{flags:?} should fail"),
        Err(e) => assert!(
            e.contains(needle),
            "{flags:?}: {e:?} does not mention {needle:?}"
        ),
    }
}

#[test]
fn defaults_are_default_and_not_serialized() {
    let c = run(&[]).unwrap();
    assert!(c.dataset.is_default());
    assert!(c.dataset.is_synthetic());
    assert_eq!(
        c.dataset.sampling_strategy_or_default(),
        DatasetSamplingStrategy::Shuffle
    );
    let v = serde_json::to_value(&c).unwrap();
    assert!(v.get("dataset").is_none(), "{v}");
    // Round trip without the key (older senders) gives the defaults.
    let back: crate::ProfileConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, c);
}

#[test]
fn file_flags_and_aliases_parse() {
    let d = ok(&[
        "--input-file",
        "t.jsonl",
        "--custom-dataset-type",
        "mooncake-trace",
        "--fixed-schedule",
        "--fixed-schedule-start-offset",
        "1000",
        "--fixed-schedule-end-offset",
        "5000",
        "--synthesis-speedup-ratio",
        "5",
        "--synthesis-prefix-len-multiplier",
        "2",
        "--synthesis-prefix-root-multiplier",
        "3",
        "--synthesis-prompt-len-multiplier",
        "0.5",
        "--synthesis-output-len-multiplier",
        "1.5",
        "--synthesis-max-isl",
        "8000",
        "--synthesis-max-osl",
        "200",
    ]);
    assert_eq!(
        d.input_file.as_deref(),
        Some(std::path::Path::new("t.jsonl"))
    );
    assert_eq!(
        d.custom_dataset_type,
        Some(CustomDatasetType::MooncakeTrace)
    );
    assert_eq!(d.fixed_schedule, Some(true));
    assert_eq!(d.fixed_schedule_start_offset_ms, Some(1000));
    assert_eq!(d.fixed_schedule_end_offset_ms, Some(5000));
    assert!(!d.auto_offset(), "a start offset turns the auto offset off");
    assert_eq!(
        d.sampling_strategy_or_default(),
        DatasetSamplingStrategy::Sequential
    );
    assert_eq!(
        d.synthesis,
        SynthesisConfig {
            speedup_ratio: 5.0,
            prefix_len_multiplier: 2.0,
            prefix_root_multiplier: 3,
            prompt_len_multiplier: 0.5,
            output_len_multiplier: 1.5,
            max_isl: Some(8000),
            max_osl: Some(200),
        }
    );
    assert!(d.synthesis.is_active() && d.synthesis.changes_hash_ids());

    let d = ok(&[
        "--num-prefix-prompts",
        "4",
        "--prefix-prompt-length",
        "100",
        "--session-turns-mean",
        "3",
        "--session-turns-stddev",
        "1",
        "--session-turn-delay-mean",
        "500",
        "--session-turn-delay-stddev",
        "50",
        "--session-delay-ratio",
        "0.5",
        "--num-sessions",
        "7",
        "--sequence-distribution",
        "100,10:50;200,20:50",
        "--dataset-sampling-strategy",
        "random",
    ]);
    assert_eq!(
        (d.prefix_prompt_pool_size, d.prefix_prompt_length),
        (4, 100)
    );
    assert_eq!(
        d.turns,
        TokenDistribution {
            mean: 3.0,
            stddev: 1.0
        }
    );
    assert_eq!(
        d.turn_delay_ms,
        TokenDistribution {
            mean: 500.0,
            stddev: 50.0
        }
    );
    assert_eq!(d.turn_delay_ratio, 0.5);
    assert_eq!(d.num_conversations, Some(7));
    assert_eq!(d.seq_dist.as_ref().unwrap().pairs.len(), 2);
    assert_eq!(
        d.sampling_strategy_or_default(),
        DatasetSamplingStrategy::Random
    );

    let d = ok(&[
        "--prompt-prefix-pool-size",
        "2",
        "--prompt-prefix-length",
        "8",
        "--conversation-turn-mean",
        "2",
        "--conversation-turn-stddev",
        "0",
        "--conversation-turn-delay-mean",
        "10",
        "--conversation-turn-delay-stddev",
        "1",
        "--conversation-turn-delay-ratio",
        "2",
        "--conversation-num",
        "3",
        "--seq-dist",
        "[(10,5):100]",
    ]);
    assert_eq!(
        (
            d.prefix_prompt_pool_size,
            d.prefix_prompt_length,
            d.num_conversations
        ),
        (2, 8, Some(3))
    );

    let d = ok(&[
        "--shared-system-prompt-length",
        "1000",
        "--user-context-prompt-length",
        "20000",
        "--num-dataset-entries",
        "10",
    ]);
    assert_eq!(d.shared_system_prompt_length, Some(1000));
    assert_eq!(d.user_context_prompt_length, Some(20000));

    let d = ok(&["--public-dataset", "sharegpt"]);
    assert_eq!(d.public_dataset, Some(PublicDataset::Sharegpt));
    assert_eq!(
        d.sampling_strategy_or_default(),
        DatasetSamplingStrategy::Sequential
    );

    let d = ok(&[
        "--input-file",
        "a.csv",
        "--no-fixed-schedule",
        "--ignore-trace-delays",
    ]);
    assert_eq!(d.fixed_schedule, Some(false));
    assert!(d.ignore_trace_delays);
    assert!(d.auto_offset());
    let d = ok(&["--input-file", "a.csv", "--fixed-schedule", "false"]);
    assert_eq!(
        d.fixed_schedule, None,
        "--fixed-schedule false is the automatic default"
    );
    let d = ok(&[
        "--input-file",
        "a.csv",
        "--fixed-schedule-auto-offset",
        "false",
    ]);
    assert!(!d.auto_offset());
    for t in ["single_turn", "multi-turn", "random_pool", "azure_trace"] {
        ok(&["--input-file", "x", "--custom-dataset-type", t]);
    }
}

#[test]
fn config_file_keys_use_long_names_and_aliases() {
    let a: ProfileArgs = serde_json::from_value(serde_json::json!({
        "model": ["m"],
        "input_file": "t.jsonl",
        "custom_dataset_type": "mooncake_trace",
        "num_prefix_prompts": 1,
        "prefix_prompt_length": 2,
        "session_turns_mean": 2,
        "num_sessions": 4,
        "sequence_distribution": "1,1:100",
        "fixed_schedule": true,
        "synthesis_speedup_ratio": 2.0
    }))
    .unwrap();
    assert_eq!(
        a.custom_dataset_type,
        Some(CustomDatasetType::MooncakeTrace)
    );
    assert_eq!(a.prompt_prefix_pool_size, Some(1));
    assert_eq!(a.prompt_prefix_length, Some(2));
    assert_eq!(a.conversation_turn_mean, Some(2.0));
    assert_eq!(a.conversation_num, Some(4));
    assert_eq!(a.seq_dist.as_deref(), Some("1,1:100"));
}

#[test]
fn mutual_exclusions_and_requirements_are_explained() {
    fails(&["--custom-dataset-type", "single_turn"], "--input-file");
    fails(
        &[
            "--public-dataset",
            "sharegpt",
            "--input-file",
            "x",
            "--custom-dataset-type",
            "single_turn",
        ],
        "mutually exclusive",
    );
    fails(&["--fixed-schedule"], "--input-file");
    fails(
        &["--public-dataset", "sharegpt", "--fixed-schedule"],
        "--input-file",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--fixed-schedule",
            "--no-fixed-schedule",
        ],
        "mutually exclusive",
    );
    fails(&["--fixed-schedule-start-offset", "5"], "fixed schedule");
    fails(
        &[
            "--input-file",
            "x",
            "--no-fixed-schedule",
            "--fixed-schedule-end-offset",
            "5",
        ],
        "fixed schedule",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--fixed-schedule-auto-offset",
            "--fixed-schedule-start-offset",
            "5",
        ],
        "mutually exclusive",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--fixed-schedule-start-offset",
            "9",
            "--fixed-schedule-end-offset",
            "5",
        ],
        "start must be <=",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--fixed-schedule",
            "--dataset-sampling-strategy",
            "shuffle",
        ],
        "--dataset-sampling-strategy",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--fixed-schedule",
            "--ignore-trace-delays",
        ],
        "--ignore-trace-delays",
    );
    fails(&["--ignore-trace-delays"], "--input-file");
    fails(&["--synthesis-speedup-ratio", "2"], "--input-file");
    fails(
        &["--input-file", "x", "--synthesis-speedup-ratio", "0"],
        "--synthesis-speedup-ratio",
    );
    fails(
        &["--input-file", "x", "--synthesis-speedup-ratio=-1"],
        "--synthesis-speedup-ratio",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--synthesis-prefix-root-multiplier",
            "0",
        ],
        "--synthesis-prefix-root-multiplier",
    );
    fails(
        &["--input-file", "x", "--synthesis-max-isl", "0"],
        "--synthesis-max-isl",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--custom-dataset-type",
            "single_turn",
            "--synthesis-prefix-len-multiplier",
            "2",
        ],
        "mooncake_trace",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--custom-dataset-type",
            "azure_trace",
            "--synthesis-prompt-len-multiplier",
            "2",
        ],
        "mooncake_trace",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--custom-dataset-type",
            "multi_turn",
            "--synthesis-max-osl",
            "5",
        ],
        "--synthesis-max-osl",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--custom-dataset-type",
            "random_pool",
            "--synthesis-speedup-ratio",
            "2",
        ],
        "random_pool",
    );
    fails(
        &[
            "--input-file",
            "x",
            "--custom-dataset-type",
            "random_pool",
            "--fixed-schedule",
        ],
        "random_pool",
    );
    fails(&["--num-prefix-prompts", "3"], "go together");
    fails(&["--prefix-prompt-length", "3"], "go together");
    fails(
        &[
            "--num-prefix-prompts",
            "3",
            "--prefix-prompt-length",
            "3",
            "--shared-system-prompt-length",
            "5",
        ],
        "mutually exclusive",
    );
    fails(
        &[
            "--num-prefix-prompts",
            "3",
            "--prefix-prompt-length",
            "3",
            "--user-context-prompt-length",
            "5",
            "--num-dataset-entries",
            "4",
        ],
        "mutually exclusive",
    );
    fails(
        &["--user-context-prompt-length", "5"],
        "--num-dataset-entries",
    );
    fails(
        &["--shared-system-prompt-length", "0"],
        "--shared-system-prompt-length",
    );
    fails(&["--session-turns-mean", "0"], "--session-turns-mean");
    fails(
        &["--session-turn-delay-mean=-5"],
        "--session-turn-delay-mean",
    );
    fails(&["--session-delay-ratio=-1"], "--session-delay-ratio");
    fails(&["--num-sessions", "0"], "--num-sessions");
    fails(
        &["--num-sessions", "3", "--request-count", "5"],
        "mutually exclusive",
    );
    fails(
        &["--input-file", "x", "--seq-dist", "10,10:100"],
        "--seq-dist",
    );
    fails(
        &["--input-file", "x", "--session-turns-mean", "2"],
        "synthetic",
    );
    fails(
        &[
            "--public-dataset",
            "sharegpt",
            "--shared-system-prompt-length",
            "2",
        ],
        "synthetic",
    );
    fails(&["--seq-dist", "10,10:50"], "sum to 100");
    fails(
        &["--custom-dataset-type", "parquet", "--input-file", "x"],
        "clap",
    );
    fails(&["--dataset-sampling-strategy", "roundrobin"], "clap");
}

#[test]
fn check_type_rules() {
    let mut d = DatasetConfig::default();
    d.synthesis.speedup_ratio = 2.0;
    d.synthesis.max_isl = Some(5);
    assert!(d.check_type(CustomDatasetType::AzureTrace).is_ok());
    assert!(d.check_type(CustomDatasetType::MooncakeTrace).is_ok());
    assert!(d.check_type(CustomDatasetType::SingleTurn).is_err());
    d.synthesis.max_isl = None;
    assert!(
        d.check_type(CustomDatasetType::SingleTurn).is_ok(),
        "speed-up applies to any timestamped file"
    );
    assert!(d.check_type(CustomDatasetType::RandomPool).is_err());
}

fn pair(isl: f64, isl_sd: f64, osl: f64, osl_sd: f64, p: f64) -> SequencePair {
    SequencePair {
        isl: TokenDistribution {
            mean: isl,
            stddev: isl_sd,
        },
        osl: TokenDistribution {
            mean: osl,
            stddev: osl_sd,
        },
        probability: p,
    }
}

#[test]
fn seq_dist_formats() {
    let d = SequenceDistribution::parse("128,64:25;512,128:50;1024,256:25").unwrap();
    assert_eq!(
        d.pairs,
        vec![
            pair(128.0, 0.0, 64.0, 0.0, 25.0),
            pair(512.0, 0.0, 128.0, 0.0, 50.0),
            pair(1024.0, 0.0, 256.0, 0.0, 25.0)
        ]
    );
    let d = SequenceDistribution::parse("256|10,128|5:40;512|20,256|10:60").unwrap();
    assert_eq!(
        d.pairs,
        vec![
            pair(256.0, 10.0, 128.0, 5.0, 40.0),
            pair(512.0, 20.0, 256.0, 10.0, 60.0)
        ]
    );
    let d = SequenceDistribution::parse("[(256,128):40,(512,256):60]").unwrap();
    assert_eq!(
        d.pairs,
        vec![
            pair(256.0, 0.0, 128.0, 0.0, 40.0),
            pair(512.0, 0.0, 256.0, 0.0, 60.0)
        ]
    );
    let d = SequenceDistribution::parse(" [ (256|10, 128|5) : 60 , (512|20,256|15):40 ] ").unwrap();
    assert_eq!(
        d.pairs,
        vec![
            pair(256.0, 10.0, 128.0, 5.0, 60.0),
            pair(512.0, 20.0, 256.0, 15.0, 40.0)
        ]
    );
    let d = SequenceDistribution::parse(
        r#"{"pairs":[{"isl":256,"isl_stddev":10,"osl":128,"osl_stddev":5,"prob":40},{"isl":512,"osl":256,"prob":60}]}"#,
    )
    .unwrap();
    assert_eq!(
        d.pairs,
        vec![
            pair(256.0, 10.0, 128.0, 5.0, 40.0),
            pair(512.0, 0.0, 256.0, 0.0, 60.0)
        ]
    );
    // Trailing separator and float tolerance.
    let d = SequenceDistribution::parse("100,10:33.333;200,20:66.667;").unwrap();
    assert_eq!(d.pairs.len(), 2);
}

#[test]
fn seq_dist_errors() {
    for (text, needle) in [
        ("", "empty"),
        ("128,64:25;512,128:50", "sum to 100"),
        ("128,64:101", "sum to 100"),
        ("128:100", "ISL,OSL"),
        ("128,64", "PERCENT"),
        ("abc,64:100", "not a number"),
        ("0,64:100", "at least 1"),
        ("128|-1,64:100", "stddev"),
        ("128,64:-5;128,64:105", "probability"),
        ("[(128,64):100", "']'"),
        ("[128,64:100]", "'('"),
        (r#"{"pairs":[{"isl":1,"prob":100}]}"#, "\"osl\""),
        (
            r#"{"pairs":[{"isl":"x","osl":1,"prob":100}]}"#,
            "must be a number",
        ),
        (r#"{"nope":1}"#, "pairs"),
        ("{bad json", "invalid JSON"),
    ] {
        let e = SequenceDistribution::parse(text).unwrap_err().to_string();
        assert!(
            e.contains(needle) && e.contains("--seq-dist"),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn seq_dist_pick_uses_cumulative_probabilities() {
    let d = SequenceDistribution::parse("1,1:25;2,2:50;3,3:25").unwrap();
    let isl = |u: f64| d.pick(u).isl.mean;
    assert_eq!(isl(0.0), 1.0);
    assert_eq!(isl(0.2499), 1.0);
    assert_eq!(isl(0.25), 2.0);
    assert_eq!(isl(0.7499), 2.0);
    assert_eq!(isl(0.75), 3.0);
    assert_eq!(isl(0.999_999), 3.0);
    assert_eq!(isl(1.0), 3.0);
}
