//! Dataset files end to end: every format's good lines and each kind of bad line, the
//! fixed-schedule contract, hash-id prompts on real Mooncake rows, Azure and ShareGPT.
//!
//! Fixtures under `tests/fixtures/` (this crate's) are small files written by hand or
//! cut from the real traces (first 40 rows of the Mooncake conversation trace and of
//! the Azure code trace); real tokenizers and the ShareGPT excerpt come from the
//! repository's `tests/fixtures/` (see its README for provenance).

use aiperf_config::{
    Context, CustomDatasetType, ProfileArgs, ProfileConfig, PublicDataset, resolve,
};
use aiperf_dataset_manager::loaders::{
    self, azure, detect_type, multi_turn, random_pool, sharegpt, single_turn,
};
use aiperf_dataset_manager::service::{Dataset, build_dataset};
use aiperf_protocol::dataset::{Conversation, SamplingStrategy};
use aiperf_tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Real data vendored in the repository's `tests/fixtures`.
fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

fn qwen3_path() -> String {
    data("tokenizers/qwen3-0.6b").to_string_lossy().into_owned()
}

fn qwen3() -> Arc<Tokenizer> {
    Tokenizer::load(Some(&qwen3_path())).unwrap()
}

fn config(args: ProfileArgs) -> ProfileConfig {
    let args = ProfileArgs {
        models: Some(vec!["m".into()]),
        tokenizer: args.tokenizer.clone().or(Some("builtin".into())),
        random_seed: args.random_seed.or(Some(7)),
        ..args
    };
    let ctx = Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "test".into(),
    };
    resolve(&args, &ctx).unwrap_or_else(|e| panic!("{e}"))
}

fn build(args: ProfileArgs) -> Result<Dataset, String> {
    build_dataset(&config(args))
}

fn file_args(path: PathBuf, kind: Option<CustomDatasetType>) -> ProfileArgs {
    ProfileArgs {
        input_file: Some(path),
        custom_dataset_type: kind,
        ..Default::default()
    }
}

/// Writes `body` to a fresh `name` and returns (dir guard, path).
fn temp_file(name: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

/// (timestamp_ms, delay_ms, max_tokens) of a turn.
type TurnShape = (Option<f64>, Option<f64>, Option<u32>);

fn texts(c: &Conversation) -> Vec<String> {
    c.turns.iter().map(|t| t.texts.join("|")).collect()
}

// ------------------------------------------------------------------ single_turn

#[test]
fn single_turn_good_lines() {
    let convs = single_turn::load(&fixture("single_turn.jsonl"), Some(1)).unwrap();
    let shape: Vec<(String, Vec<String>)> =
        convs.iter().map(|c| (c.id.clone(), texts(c))).collect();
    assert_eq!(
        shape,
        vec![
            (
                "session_000000".into(),
                vec!["What is the capital of France?".into()]
            ),
            (
                "session_000001".into(),
                vec!["Describe the weather.|Be brief.".into()]
            ),
            (
                "s1".into(),
                vec!["first turn of s1".into(), "second turn of s1".into()]
            ),
            ("session_000002".into(), vec!["independent".into()]),
        ]
    );
    assert_eq!(convs[1].turns[0].max_tokens, Some(64));
    assert_eq!(convs[2].turns[0].max_tokens, Some(8));
    assert_eq!(
        convs[2].turns[0].extra_json.as_deref(),
        Some(r#"{"temperature":0.5}"#)
    );
    assert_eq!(convs[2].turns[1].delay_ms, Some(500.0));
    assert!(
        convs
            .iter()
            .flat_map(|c| &c.turns)
            .all(|t| t.timestamp_ms.is_none())
    );

    // Through build_dataset: detected, sequential, not a fixed schedule, inputs.json written.
    let d = build(file_args(fixture("single_turn.jsonl"), None)).unwrap();
    assert_eq!(d.sampling, SamplingStrategy::Sequential);
    assert!(!d.fixed_schedule && d.write_inputs_json);
    assert_eq!(d.conversations.len(), 4);
    let d = build(ProfileArgs {
        dataset_sampling_strategy: Some(aiperf_config::DatasetSamplingStrategy::Random),
        ..file_args(
            fixture("single_turn.jsonl"),
            Some(CustomDatasetType::SingleTurn),
        )
    })
    .unwrap();
    assert_eq!(d.sampling, SamplingStrategy::Random);
}

#[test]
fn single_turn_timestamps_make_a_fixed_schedule() {
    let d = build(file_args(fixture("single_turn_timed.jsonl"), None)).unwrap();
    assert!(d.fixed_schedule);
    assert_eq!(d.sampling, SamplingStrategy::Sequential);
    let got: Vec<(String, Option<f64>)> = d
        .conversations
        .iter()
        .map(|c| (c.turns[0].texts[0].clone(), c.turns[0].timestamp_ms))
        .collect();
    assert_eq!(
        got,
        vec![
            ("first".into(), Some(0.0)),
            ("third".into(), Some(200.5)),
            ("second".into(), Some(500.0))
        ],
        "auto offset (zero = 1000 ms), sorted by timestamp"
    );
    // --no-fixed-schedule: file order, no timestamps.
    let d = build(ProfileArgs {
        no_fixed_schedule: Some(true),
        ..file_args(fixture("single_turn_timed.jsonl"), None)
    })
    .unwrap();
    assert!(!d.fixed_schedule);
    assert!(
        d.conversations
            .iter()
            .all(|c| c.turns[0].timestamp_ms.is_none())
    );
    assert_eq!(d.conversations[2].turns[0].texts[0], "third");
    // Explicit start offset 1200 → zero 1200; 1000 is dropped; speed-up 2 divides.
    let d = build(ProfileArgs {
        fixed_schedule: Some(true),
        fixed_schedule_start_offset: Some(1200),
        synthesis_speedup_ratio: Some(2.0),
        ..file_args(fixture("single_turn_timed.jsonl"), None)
    })
    .unwrap();
    let got: Vec<Option<f64>> = d
        .conversations
        .iter()
        .map(|c| c.turns[0].timestamp_ms)
        .collect();
    // int(1200.5/2) - int(1200/2) = 600 - 600 = 0; int(1500/2) - 600 = 150.
    assert_eq!(got, vec![Some(0.0), Some(150.0)]);
    // A strategy with a detected fixed schedule is rejected before the run.
    let e = build(ProfileArgs {
        dataset_sampling_strategy: Some(aiperf_config::DatasetSamplingStrategy::Shuffle),
        ..file_args(fixture("single_turn_timed.jsonl"), None)
    })
    .err()
    .unwrap();
    assert!(e.contains("--dataset-sampling-strategy"), "{e}");
}

const GOOD: &str = r#"{"text": "fine"}"#;

/// (bad line, expected error after "bad.jsonl line 3: ").
const SINGLE_TURN_BAD: &[(&str, &str)] = &[
    ("{oops", "invalid JSON"),
    ("[1, 2]", "expected a JSON object, got [1,2]"),
    (
        r#"{"text": 5}"#,
        r#"field "text": expected a string, got 5"#,
    ),
    (
        r#"{"texts": "a"}"#,
        r#"field "texts": expected an array of strings, got "a""#,
    ),
    (
        r#"{"texts": []}"#,
        r#"field "texts": expected a non-empty array of strings, got []"#,
    ),
    (
        r#"{"texts": ["a", 1]}"#,
        r#"field "texts": expected an array of strings, got ["a",1]"#,
    ),
    (
        r#"{"text": "a", "texts": ["b"]}"#,
        r#"fields "text" and "texts" are mutually exclusive"#,
    ),
    (r#"{"output_length": 5}"#, r#"no prompt: give "text""#),
    (
        r#"{"text": "a", "timestamp": 1, "delay": 2}"#,
        r#"fields "timestamp" and "delay" are mutually exclusive"#,
    ),
    (
        r#"{"text": "a", "timestamp": -5}"#,
        r#"field "timestamp": expected a number of milliseconds >= 0, got -5"#,
    ),
    (
        r#"{"text": "a", "delay": "soon"}"#,
        r#"field "delay": expected a number of milliseconds >= 0, got "soon""#,
    ),
    (
        r#"{"text": "a", "output_length": 0}"#,
        r#"field "output_length": expected an integer >= 1, got 0"#,
    ),
    (
        r#"{"text": "a", "output_length": 2.5}"#,
        r#"field "output_length": expected an integer >= 1, got 2.5"#,
    ),
    (
        r#"{"text": "a", "output_length": 99999999999}"#,
        r#"field "output_length": 99999999999 is too large"#,
    ),
    (
        r#"{"text": "a", "extra": [1]}"#,
        r#"field "extra": expected a JSON object, got [1]"#,
    ),
    (
        r#"{"text": "a", "role": "assistant"}"#,
        r#"field "role": only "user" is supported by aiperf-rs, got "assistant""#,
    ),
    (
        r#"{"text": "a", "session_id": ""}"#,
        r#"field "session_id": must not be empty"#,
    ),
    (
        r#"{"text": "a", "session_id": 7}"#,
        r#"field "session_id": expected a string, got 7"#,
    ),
    (
        r#"{"text": "a", "image": "x.png"}"#,
        r#"field "image": images are not supported by aiperf-rs"#,
    ),
    (
        r#"{"text": "a", "timestmap": 5}"#,
        r#"field "timestmap": unknown field; expected one of: text, texts, timestamp"#,
    ),
];

#[test]
fn single_turn_bad_lines_fail_with_file_line_field_and_reason() {
    for (bad, want) in SINGLE_TURN_BAD {
        let (_dir, path) = temp_file("bad.jsonl", &format!("{GOOD}\n\n{bad}\n{GOOD}\n"));
        let e = single_turn::load(&path, Some(1)).unwrap_err();
        let want = format!("{} line 3: {want}", path.display());
        assert!(e.starts_with(&want), "{bad}\n  got:  {e}\n  want: {want}");
        // And through build_dataset (before the run starts).
        let e2 = build(file_args(path.clone(), Some(CustomDatasetType::SingleTurn)))
            .err()
            .unwrap();
        assert!(e2.starts_with(&want), "{e2}");
    }
}

// ------------------------------------------------------------------ multi_turn

#[test]
fn multi_turn_good_lines() {
    let convs = multi_turn::load(&fixture("multi_turn.jsonl"), Some(3)).unwrap();
    let shape: Vec<(String, Vec<String>)> =
        convs.iter().map(|c| (c.id.clone(), texts(c))).collect();
    assert_eq!(
        shape,
        vec![
            (
                "s1".into(),
                vec!["Hello".into(), "Tell me more".into(), "And then?".into()]
            ),
            ("session_000000".into(), vec!["a|b".into()]),
            ("s2".into(), vec!["What is deep learning?".into()]),
        ]
    );
    assert_eq!(convs[0].turns[0].delay_ms, Some(0.0));
    assert_eq!(convs[0].turns[1].delay_ms, Some(1000.0));
    assert_eq!(convs[0].turns[1].max_tokens, Some(32));
    assert_eq!(
        convs[2].turns[0].extra_json.as_deref(),
        Some(r#"{"top_p":0.9}"#)
    );

    let d = build(file_args(fixture("multi_turn_timed.jsonl"), None)).unwrap();
    assert!(d.fixed_schedule);
    let t: Vec<Vec<(Option<f64>, Option<f64>)>> = d
        .conversations
        .iter()
        .map(|c| {
            c.turns
                .iter()
                .map(|t| (t.timestamp_ms, t.delay_ms))
                .collect()
        })
        .collect();
    assert_eq!(
        t,
        vec![
            vec![(Some(0.0), None), (Some(1000.0), None)],
            vec![(Some(300.0), None), (None, Some(200.0))]
        ]
    );
}

#[test]
fn multi_turn_bad_lines() {
    let good = r#"{"turns": [{"text": "ok"}]}"#;
    for (bad, want) in [
        (r#"{"session_id": "x"}"#, r#"missing field "turns""#),
        (r#"{"turns": []}"#, r#"field "turns": must not be empty"#),
        (
            r#"{"turns": "hello"}"#,
            r#"field "turns": expected an array of objects, got "hello""#,
        ),
        (
            r#"{"turns": [{"text": "a"}, 3]}"#,
            r#"field "turns": expected an array of objects, got an item 3"#,
        ),
        (
            r#"{"turns": [{"text": "a"}, {"text": 3}]}"#,
            r#"field "turns[1].text": expected a string, got 3"#,
        ),
        (
            r#"{"turns": [{"text": "a"}, {"delay": 3}]}"#,
            r#"turns[1]: no prompt"#,
        ),
        (
            r#"{"turns": [{"text": "a", "session_id": "s"}]}"#,
            r#"field "turns[0].session_id": unknown field"#,
        ),
        (
            r#"{"text": "a"}"#,
            r#"field "text": a multi_turn line holds "turns""#,
        ),
    ] {
        let (_dir, path) = temp_file("bad.jsonl", &format!("{good}\n{good}\n{bad}\n"));
        let e = multi_turn::load(&path, None).unwrap_err();
        let want = format!("{} line 3: {want}", path.display());
        assert!(e.starts_with(&want), "{bad}\n  got:  {e}\n  want: {want}");
    }
}

// ------------------------------------------------------------------ random_pool

#[test]
fn random_pool_file_and_directory() {
    let convs = random_pool::load(&fixture("random_pool/a_questions.jsonl"), 300, Some(5)).unwrap();
    assert_eq!(convs.len(), 300);
    let mut counts = std::collections::HashMap::new();
    for c in &convs {
        assert_eq!(c.turns.len(), 1);
        *counts.entry(c.turns[0].texts[0].clone()).or_insert(0usize) += 1;
    }
    // Uniform with replacement over 3 entries: ~100 each (sd ≈ 8).
    assert_eq!(counts.len(), 3);
    assert!(
        counts.values().all(|&n| (60..=140).contains(&n)),
        "{counts:?}"
    );

    let convs = random_pool::load(&fixture("random_pool"), 200, Some(5)).unwrap();
    let mut pairs = std::collections::HashSet::new();
    for c in &convs {
        let t = &c.turns[0];
        assert_eq!(t.texts.len(), 2, "one entry per pool");
        match t.texts[1].as_str() {
            "Answer in one line." => {
                assert_eq!((t.max_tokens, t.extra_json.as_deref()), (Some(16), None))
            }
            "Answer in French." => assert_eq!(
                (t.max_tokens, t.extra_json.as_deref()),
                (None, Some(r#"{"temperature":0.2}"#))
            ),
            other => panic!("unexpected {other}"),
        }
        pairs.insert(t.texts.clone());
    }
    assert_eq!(pairs.len(), 6, "all 3x2 combinations drawn");
    // Seeded: reproducible; through build_dataset --num-sessions decides the count.
    assert_eq!(
        random_pool::load(&fixture("random_pool"), 200, Some(5)).unwrap(),
        convs
    );
    let d = build(ProfileArgs {
        conversation_num: Some(12),
        ..file_args(fixture("random_pool"), None)
    })
    .unwrap();
    assert_eq!(d.conversations.len(), 12);
    let d = build(file_args(fixture("random_pool"), None)).unwrap();
    assert_eq!(d.conversations.len(), 100, "default --num-dataset-entries");
    assert!(!d.fixed_schedule);
}

#[test]
fn random_pool_rejects_schedules_and_empty_pools() {
    let (_dir, path) = temp_file(
        "pool.jsonl",
        "{\"text\": \"a\"}\n{\"text\": \"b\", \"timestamp\": 5}\n",
    );
    let e = random_pool::load(&path, 3, None).unwrap_err();
    assert!(
        e.contains("pool.jsonl line 2: field \"timestamp\": random_pool entries"),
        "{e}"
    );
    let (_dir, path) = temp_file("pool.jsonl", "\n\n");
    assert!(
        random_pool::load(&path, 3, None)
            .unwrap_err()
            .contains("the pool is empty")
    );
    let empty = tempfile::tempdir().unwrap();
    assert!(
        random_pool::load(empty.path(), 3, None)
            .unwrap_err()
            .contains("holds no pool files")
    );
}

// ------------------------------------------------------------------ detection

#[test]
fn format_detection() {
    assert_eq!(
        detect_type(&fixture("single_turn.jsonl")).unwrap(),
        CustomDatasetType::SingleTurn
    );
    assert_eq!(
        detect_type(&fixture("multi_turn.jsonl")).unwrap(),
        CustomDatasetType::MultiTurn
    );
    assert_eq!(
        detect_type(&fixture("random_pool")).unwrap(),
        CustomDatasetType::RandomPool
    );
    assert_eq!(
        detect_type(&fixture("mooncake_sessions.jsonl")).unwrap(),
        CustomDatasetType::MooncakeTrace
    );
    assert_eq!(
        detect_type(&fixture("azure_code_head40.csv")).unwrap(),
        CustomDatasetType::AzureTrace
    );
    let (_d, p) = temp_file("trace.txt", "TIMESTAMP,ContextTokens,GeneratedTokens\n");
    assert_eq!(detect_type(&p).unwrap(), CustomDatasetType::AzureTrace);
    let (_d, p) = temp_file("x.jsonl", "\n{\"text_input\": \"hi\"}\n");
    assert_eq!(detect_type(&p).unwrap(), CustomDatasetType::MooncakeTrace);
    let (_d, p) = temp_file("x.jsonl", "{\"prompt\": \"hi\"}\n");
    assert!(
        detect_type(&p)
            .unwrap_err()
            .contains("--custom-dataset-type")
    );
    let (_d, p) = temp_file("x.jsonl", "\n\n");
    assert!(detect_type(&p).unwrap_err().contains("is empty"));
    assert!(
        detect_type(Path::new("/nonexistent/file.jsonl"))
            .unwrap_err()
            .contains("cannot read")
    );
    // Type-specific options are checked once the type is detected.
    let e = build(ProfileArgs {
        synthesis_prefix_len_multiplier: Some(2.0),
        ..file_args(fixture("single_turn.jsonl"), None)
    })
    .err()
    .unwrap();
    assert!(
        e.contains("mooncake_trace") && e.contains("single_turn"),
        "{e}"
    );
}

// ------------------------------------------------------------------ mooncake_trace

#[test]
fn mooncake_real_rows_have_exact_isl_and_the_fixed_schedule_contract() {
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(fixture("mooncake_conversation_head40.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let tok = qwen3();
    let d = build(ProfileArgs {
        tokenizer: Some(qwen3_path()),
        ..file_args(
            fixture("mooncake_conversation_head40.jsonl"),
            Some(CustomDatasetType::MooncakeTrace),
        )
    })
    .unwrap();
    assert!(d.fixed_schedule && !d.write_inputs_json);
    assert_eq!(d.sampling, SamplingStrategy::Sequential);
    assert_eq!(d.conversations.len(), 40);
    // Already sorted by timestamp (first is 0): order and values unchanged.
    for (c, r) in d.conversations.iter().zip(&rows) {
        let t = &c.turns[0];
        assert_eq!(t.timestamp_ms, r["timestamp"].as_f64());
        assert_eq!(t.max_tokens, r["output_length"].as_u64().map(|n| n as u32));
        assert_eq!(
            tok.count(&t.texts[0]) as u64,
            r["input_length"].as_u64().unwrap(),
            "ISL exact"
        );
    }
    // Rows 0..3 all start with hash id 0: same first block, same leading text.
    let first: Vec<&str> = d.conversations[..3]
        .iter()
        .map(|c| c.turns[0].texts[0].as_str())
        .collect();
    let common = first[0]
        .chars()
        .zip(first[1].chars())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        common > 1000,
        "shared 512-token block: {common} common chars"
    );
    assert!(first[2].starts_with(&first[0][..common]));
    // Same seed, same text; another seed, another text.
    let again = build(ProfileArgs {
        tokenizer: Some(qwen3_path()),
        ..file_args(fixture("mooncake_conversation_head40.jsonl"), None)
    })
    .unwrap();
    assert_eq!(
        again.conversations[5].turns[0].texts,
        d.conversations[5].turns[0].texts
    );
}

#[test]
fn mooncake_window_speedup_and_synthesis_caps() {
    let all = build(file_args(
        fixture("mooncake_conversation_head40.jsonl"),
        None,
    ))
    .unwrap();
    let d = build(ProfileArgs {
        fixed_schedule_start_offset: Some(3000),
        fixed_schedule_end_offset: Some(9000),
        synthesis_speedup_ratio: Some(4.0),
        synthesis_max_osl: Some(300),
        synthesis_max_isl: Some(20_000),
        ..file_args(fixture("mooncake_conversation_head40.jsonl"), None)
    })
    .unwrap();
    // Timestamps 3000 (16 rows), 5999 (3), 9000 (9) are kept, minus rows above 20k tokens.
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(fixture("mooncake_conversation_head40.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    let kept: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| {
            (3000..=9000).contains(&r["timestamp"].as_u64().unwrap())
                && r["input_length"].as_u64().unwrap() <= 20_000
        })
        .collect();
    assert!(kept.len() >= 20 && kept.len() < 28, "{}", kept.len());
    assert_eq!(d.conversations.len(), kept.len());
    for (c, r) in d.conversations.iter().zip(&kept) {
        // zero = int(3000/4) = 750: 3000 → 0, 5999 → 1499 - 750 = 749, 9000 → 1500.
        let want = (r["timestamp"].as_f64().unwrap() / 4.0).trunc() - 750.0;
        assert_eq!(c.turns[0].timestamp_ms, Some(want));
        assert_eq!(
            c.turns[0].max_tokens,
            Some(r["output_length"].as_u64().unwrap().min(300) as u32)
        );
    }
    // Same rows keep the same text whatever the filtering (blocks depend on the file).
    let by_text: std::collections::HashSet<&str> = all
        .conversations
        .iter()
        .map(|c| c.turns[0].texts[0].as_str())
        .collect();
    assert!(
        d.conversations
            .iter()
            .all(|c| by_text.contains(c.turns[0].texts[0].as_str()))
    );
}

#[test]
fn mooncake_sessions_text_input_and_delays() {
    let gpt2 = data("tokenizers/gpt2").to_string_lossy().into_owned();
    let d = build(ProfileArgs {
        tokenizer: Some(gpt2.clone()),
        ..file_args(fixture("mooncake_sessions.jsonl"), None)
    })
    .unwrap();
    assert!(d.fixed_schedule);
    let shape: Vec<(usize, Vec<TurnShape>)> = d
        .conversations
        .iter()
        .map(|c| {
            (
                c.turns.len(),
                c.turns
                    .iter()
                    .map(|t| (t.timestamp_ms, t.delay_ms, t.max_tokens))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (1, vec![(Some(0.0), None, Some(52))]),
            (1, vec![(Some(10535.0), None, Some(26))]),
            (
                3,
                vec![
                    (Some(27482.0), None, Some(40)),
                    (None, Some(2000.0), Some(20)),
                    (None, Some(500.0), Some(20))
                ]
            ),
        ]
    );
    let abc = &d.conversations[2];
    assert_eq!(abc.id, "abc");
    assert_eq!(abc.turns[2].texts[0], "And then?");
    assert_eq!(
        abc.turns[2].extra_json.as_deref(),
        Some(r#"{"temperature":0}"#)
    );
    let tok = Tokenizer::load(Some(&gpt2)).unwrap();
    assert_eq!(
        tok.count(&abc.turns[1].texts[0]),
        150,
        "no hash ids: 150 fresh tokens"
    );
    // Rows 1 and 2 share block 46.
    let (a, b) = (
        &d.conversations[0].turns[0].texts[0],
        &d.conversations[1].turns[0].texts[0],
    );
    let block46 = a.split("<|endoftext|>").nth(1).unwrap();
    assert!(block46.len() > 500 && b.starts_with(&format!("<|endoftext|>{block46}<|endoftext|>")));
}

#[test]
fn mooncake_bad_lines() {
    let good = r#"{"timestamp": 0, "input_length": 10, "hash_ids": [1]}"#;
    for (bad, want) in [
        (
            r#"{"timestamp": 0, "input_length": 10, "hash_ids": "abc"}"#,
            r#"field "hash_ids": expected an array of integers, got "abc""#,
        ),
        (
            r#"{"timestamp": 0, "input_length": 10, "hash_ids": [1, -2]}"#,
            r#"field "hash_ids": expected an array of integers >= 0, got [1,-2]"#,
        ),
        (
            r#"{"timestamp": 0, "input_length": 0}"#,
            r#"field "input_length": expected an integer >= 1, got 0"#,
        ),
        (
            r#"{"timestamp": 0, "input_length": "ten"}"#,
            r#"field "input_length": expected an integer >= 1, got "ten""#,
        ),
        (r#"{"timestamp": 0}"#, r#"no prompt: give "input_length""#),
        (
            r#"{"input_length": 5, "text_input": "x"}"#,
            r#"fields "input_length" and "text_input" are mutually exclusive"#,
        ),
        (
            r#"{"text_input": "x", "hash_ids": [1]}"#,
            r#"field "hash_ids": only allowed with "input_length""#,
        ),
        (
            r#"{"timestamp": 5, "delay": 5, "input_length": 5}"#,
            r#"fields "timestamp" and "delay" are mutually exclusive"#,
        ),
        (
            r#"{"input_length": 5, "output_length": -1}"#,
            r#"field "output_length": expected an integer >= 1, got -1"#,
        ),
        (
            r#"{"input_length": 512, "hash_ids": [1, 2]}"#,
            "Input length 512, Hash IDs [1, 2] (2 ids) and Block size 512 are not compatible",
        ),
        (
            r#"{"messages": []}"#,
            r#"field "messages": verbatim OpenAI messages are not supported"#,
        ),
        (
            r#"{"input_text": "x"}"#,
            r#"field "input_text": renamed "text_input""#,
        ),
        (
            r#"{"input_length": 5, "hashids": [1]}"#,
            r#"field "hashids": unknown field; expected one of: timestamp"#,
        ),
    ] {
        let (_dir, path) = temp_file("trace.jsonl", &format!("{good}\n{good}\n{bad}\n"));
        let e = build(file_args(
            path.clone(),
            Some(CustomDatasetType::MooncakeTrace),
        ))
        .err()
        .unwrap();
        let want = format!("{} line 3: {want}", path.display());
        assert!(e.starts_with(&want), "{bad}\n  got:  {e}\n  want: {want}");
    }
    // The same hash id at two sizes: rejected with the line of the second use.
    let (_dir, path) = temp_file(
        "trace.jsonl",
        "{\"timestamp\": 0, \"input_length\": 655, \"hash_ids\": [46, 47]}\n\
         {\"timestamp\": 1, \"input_length\": 672, \"hash_ids\": [46, 47]}\n",
    );
    let e = build(file_args(path.clone(), None)).err().unwrap();
    assert_eq!(
        e,
        format!(
            "{} line 2: hash_id 47 requested at 160 tokens but was already materialized at 143 tokens",
            path.display()
        )
    );
    // --isl-block-size changes the rule.
    let (_dir, path) = temp_file(
        "trace.jsonl",
        "{\"timestamp\": 0, \"input_length\": 300, \"hash_ids\": [1, 2, 3]}\n",
    );
    assert!(build(file_args(path.clone(), None)).is_err());
    let d = build(ProfileArgs {
        prompt_input_tokens_block_size: Some(128),
        tokenizer: Some(qwen3_path()),
        ..file_args(path, None)
    })
    .unwrap();
    assert_eq!(qwen3().count(&d.conversations[0].turns[0].texts[0]), 300);
}

#[test]
fn mooncake_synthesis_through_build() {
    // M=2 on rows sharing [46]: 46 → [92, 93]; lengths as computed in synthesis tests.
    let (_dir, path) = temp_file(
        "trace.jsonl",
        "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 10, \"hash_ids\": [46, 47]}\n\
         {\"timestamp\": 10, \"input_length\": 700, \"output_length\": 11, \"hash_ids\": [46, 48]}\n",
    );
    let d = build(ProfileArgs {
        synthesis_prefix_len_multiplier: Some(2.0),
        synthesis_output_len_multiplier: Some(2.0),
        tokenizer: Some(qwen3_path()),
        ..file_args(path, None)
    })
    .unwrap();
    let tok = qwen3();
    // r1: prefix 512 → 1024, prompt 88 → 600 → 1112; r2: 1024 + 188 = 1212.
    let got: Vec<(usize, Option<u32>)> = d
        .conversations
        .iter()
        .map(|c| (tok.count(&c.turns[0].texts[0]), c.turns[0].max_tokens))
        .collect();
    assert_eq!(got, vec![(1112, Some(20)), (1212, Some(22))]);
    let (a, b) = (
        &d.conversations[0].turns[0].texts[0],
        &d.conversations[1].turns[0].texts[0],
    );
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert!(
        shared > 3000,
        "two stretched prefix blocks shared ({shared} chars)"
    );
}

// ------------------------------------------------------------------ azure_trace

#[test]
fn azure_wall_clock_parsing() {
    assert_eq!(azure::parse_wall_clock("1970-01-01 00:00:00"), Some(0));
    assert_eq!(
        azure::parse_wall_clock("2000-03-01 00:00:00"),
        Some(951_868_800 * 1_000_000_000)
    );
    assert_eq!(
        azure::parse_wall_clock("1970-01-01T00:00:01.5"),
        Some(1_500_000_000)
    );
    let a = azure::parse_wall_clock("2023-11-16 18:17:03.9799600").unwrap();
    let b = azure::parse_wall_clock("2023-11-16 18:17:04.0319600").unwrap();
    assert_eq!(b - a, 52_000_000);
    let c = azure::parse_wall_clock("2023-11-16 19:14:19.9346123").unwrap();
    assert_eq!(c - a, 3_435_954_652_300_i128, "100 ns resolution kept");
    assert!(azure::parse_wall_clock("2024-02-29 00:00:00").is_some());
    for bad in [
        "2023-02-29 00:00:00",
        "2023-13-01 00:00:00",
        "2023-11-16 24:00:00",
        "2023-11-16 18:60:00",
        "2023-11-16",
        "abc",
        "2023-11-16 18:17:03.",
        "2023-11-16 18:17:03.1234567890",
        "2023-11-16 18:17:03.12a",
        "23-11-16 18:17:03",
        "2023-11-16 8:17:03",
    ] {
        assert_eq!(azure::parse_wall_clock(bad), None, "{bad}");
    }
}

#[test]
fn azure_real_rows() {
    let tok = qwen3();
    let d = build(ProfileArgs {
        tokenizer: Some(qwen3_path()),
        ..file_args(fixture("azure_code_head40.csv"), None)
    })
    .unwrap();
    assert!(d.fixed_schedule && !d.write_inputs_json);
    assert_eq!(d.conversations.len(), 40);
    let csv = std::fs::read_to_string(fixture("azure_code_head40.csv")).unwrap();
    let first =
        azure::parse_wall_clock(csv.lines().nth(1).unwrap().split(',').next().unwrap()).unwrap();
    for (c, line) in d.conversations.iter().zip(csv.lines().skip(1)) {
        let cols: Vec<&str> = line.split(',').collect();
        let t = &c.turns[0];
        let ms = (azure::parse_wall_clock(cols[0]).unwrap() - first) as f64 / 1e6;
        assert_eq!(t.timestamp_ms, Some(ms));
        assert_eq!(
            tok.count(&t.texts[0]),
            cols[1].parse::<usize>().unwrap(),
            "ISL exact"
        );
        assert_eq!(t.max_tokens, Some(cols[2].parse().unwrap()));
    }
    assert_eq!(d.conversations[1].turns[0].timestamp_ms, Some(52.0));
}

#[test]
fn azure_caps_filters_and_bad_rows() {
    let d = build(ProfileArgs {
        synthesis_max_isl: Some(2000),
        synthesis_max_osl: Some(9),
        synthesis_output_len_multiplier: Some(0.5),
        ..file_args(fixture("azure_code_head40.csv"), None)
    })
    .unwrap();
    let csv = std::fs::read_to_string(fixture("azure_code_head40.csv")).unwrap();
    let rows: Vec<(usize, u64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].parse().unwrap(), c[2].parse().unwrap())
        })
        .filter(|(isl, _)| *isl <= 2000)
        .collect();
    assert_eq!(d.conversations.len(), rows.len());
    for (c, (_, osl)) in d.conversations.iter().zip(&rows) {
        let want = ((*osl as f64 * 0.5).round_ties_even().max(1.0) as u32).min(9);
        assert_eq!(c.turns[0].max_tokens, Some(want));
    }
    let header = azure::HEADER;
    for (body, want) in [
        ("time,a,b\n".to_string(), "line 1: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, got \"time,a,b\"".to_string()),
        (format!("{header}\n2023-11-16 18:17:03.9799600,5\n"), "line 2: expected 3 columns".into()),
        (
            format!("{header}\n2023-11-16 18:17:03.9799600,5,5\n16/11/2023 18:17,5,5\n"),
            "line 3: field \"TIMESTAMP\": expected YYYY-MM-DD HH:MM:SS[.fffffff], got \"16/11/2023 18:17\"".into(),
        ),
        (format!("{header}\n2023-11-16 18:17:03,0,5\n"), "line 2: field \"ContextTokens\": expected an integer >= 1, got \"0\"".into()),
        (format!("{header}\n2023-11-16 18:17:03,5,x\n"), "line 2: field \"GeneratedTokens\": expected an integer >= 1, got \"x\"".into()),
        (format!("{header}\n"), "has a header but no rows".into()),
    ] {
        let (_dir, path) = temp_file("trace.csv", &body);
        let e = build(file_args(path.clone(), None)).err().unwrap();
        assert!(e.contains(&want) && e.contains("trace.csv"), "{body:?}: {e}");
    }
}

// ------------------------------------------------------------------ sharegpt

#[test]
fn sharegpt_filter() {
    let tok = qwen3();
    let entries = sharegpt::parse(&fixture("sharegpt_small.json")).unwrap();
    let (convs, stats) = sharegpt::build(&entries, &tok, None, Some(1));
    assert_eq!(
        stats,
        sharegpt::Stats {
            entries: 10,
            kept: 4,
            filtered: 5,
            malformed: 1
        }
    );
    let kept: Vec<Vec<String>> = convs.iter().map(texts).collect();
    assert_eq!(
        kept[0],
        vec!["Explain how a transformer model processes a sentence, step by step.".to_string()]
    );
    assert_eq!(kept[1].len(), 2, "every human→gpt pair is a turn");
    assert_eq!(
        kept[2],
        vec!["Write a short poem about autumn leaves falling.".to_string()]
    );
    assert_eq!(
        kept[3],
        vec!["What is the boiling point of water at sea level?".to_string()]
    );
    let reply = "First the sentence is split into tokens, then each token is embedded and passed through attention layers.";
    assert_eq!(
        convs[0].turns[0].max_tokens,
        Some(tok.count(reply) as u32),
        "max_tokens = reply tokens"
    );
    assert_eq!(
        convs[2].turns[0].max_tokens, None,
        "no reply and no --osl: no max_tokens"
    );

    // With --osl: the completion check is skipped and the total uses the OSL.
    let osl = aiperf_config::TokenDistribution {
        mean: 100.0,
        stddev: 0.0,
    };
    let (convs, stats) = sharegpt::build(&entries, &tok, Some(osl), Some(1));
    assert_eq!(
        stats,
        sharegpt::Stats {
            entries: 10,
            kept: 6,
            filtered: 3,
            malformed: 1
        }
    );
    assert!(
        convs
            .iter()
            .flat_map(|c| &c.turns)
            .all(|t| t.max_tokens == Some(100))
    );

    // Through build_dataset: sequential, no schedule, inputs.json written.
    let d = build(ProfileArgs {
        public_dataset: Some(PublicDataset::Sharegpt),
        input_file: Some(fixture("sharegpt_small.json")),
        tokenizer: Some(qwen3_path()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(d.conversations.len(), 4);
    assert_eq!(d.sampling, SamplingStrategy::Sequential);
    assert!(!d.fixed_schedule && d.write_inputs_json);
}

#[test]
fn sharegpt_real_sample_first_turns_only() {
    let tok = qwen3();
    // The first 200 of the 1,000 real ShareGPT first-turn prompts.
    let entries = sharegpt::parse(&data("sharegpt/sample.head200.json")).unwrap();
    assert_eq!(entries.len(), 200);
    let expected = entries
        .iter()
        .filter(|e| {
            let n = tok.count(&e.as_ref().unwrap()[0].prompt);
            (4..=1024).contains(&n)
        })
        .count();
    let osl = aiperf_config::TokenDistribution {
        mean: 128.0,
        stddev: 0.0,
    };
    let (convs, stats) = sharegpt::build(&entries, &tok, Some(osl), Some(1));
    assert_eq!(stats.kept, expected);
    // Qwen3 lengths of the sample's prompts range from 2 to 712 tokens, so only the
    // 4-token minimum drops any. Listing every prompt of the excerpt under 8 tokens
    // shows three under 4: "hey chat" (2), "Open API skeleton" (3) and "intervention
    // descriptions" (3).
    assert_eq!(expected, 197);
    assert!(
        convs
            .iter()
            .all(|c| c.turns.len() == 1 && c.turns[0].max_tokens == Some(128))
    );
    let (convs, _) = sharegpt::build(&entries, &tok, None, Some(1));
    assert_eq!(convs.len(), expected);
    assert!(convs.iter().all(|c| c.turns[0].max_tokens.is_none()));
}

#[test]
fn sharegpt_file_lookup() {
    let e = sharegpt::locate(Some(Path::new("/nonexistent/sg.json"))).unwrap_err();
    assert!(
        e.contains("--input-file /nonexistent/sg.json does not exist"),
        "{e}"
    );
    let cwd = tempfile::tempdir().unwrap();
    let hub = tempfile::tempdir().unwrap();
    let e = sharegpt::locate_in(None, cwd.path(), &[hub.path().to_path_buf()]).unwrap_err();
    assert!(
        e.contains("never downloads")
            && e.contains(sharegpt::FILE_NAME)
            && e.contains("--input-file"),
        "{e}"
    );
    assert!(
        e.contains(&cwd.path().join(sharegpt::FILE_NAME).display().to_string()),
        "{e}"
    );
    assert!(
        e.contains(&hub.path().join(sharegpt::HF_REPO_DIR).display().to_string()),
        "{e}"
    );
    // Found in the hub cache (snapshot named by refs/main).
    let repo = hub.path().join(sharegpt::HF_REPO_DIR);
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots/abc123")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123\n").unwrap();
    let file = repo.join("snapshots/abc123").join(sharegpt::FILE_NAME);
    std::fs::write(&file, "[]").unwrap();
    assert_eq!(
        sharegpt::locate_in(None, cwd.path(), &[hub.path().to_path_buf()]).unwrap(),
        file
    );
    // The working directory wins.
    std::fs::write(cwd.path().join(sharegpt::FILE_NAME), "[]").unwrap();
    assert_eq!(
        sharegpt::locate_in(None, cwd.path(), &[hub.path().to_path_buf()]).unwrap(),
        cwd.path().join(sharegpt::FILE_NAME)
    );
    // Not a ShareGPT file / nothing kept.
    let (_d, p) = temp_file("sg.json", "{\"a\": 1}");
    assert!(
        sharegpt::parse(&p)
            .unwrap_err()
            .contains("is not a ShareGPT file")
    );
    let (_d, p) = temp_file(
        "sg.json",
        "[{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}]}]",
    );
    let e = sharegpt::load(Some(&p), Tokenizer::builtin(), None, None).unwrap_err();
    assert!(e.contains("no ShareGPT entry passed the filter"), "{e}");
}

// ------------------------------------------------------------------ ids

#[test]
fn generated_ids_never_collide_with_file_ids() {
    let (_d, p) = temp_file(
        "f.jsonl",
        "{\"text\": \"a\"}\n{\"text\": \"b\", \"session_id\": \"session_000000\"}\n{\"text\": \"c\"}\n",
    );
    let convs = single_turn::load(&p, Some(1)).unwrap();
    let ids: Vec<&str> = convs.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["session_000001", "session_000000", "session_000002"]
    );
    let _ = loaders::IdGen::new(None, []);
}

// ------------------------------------------------------------------ full files

/// Loads a Mooncake conversation trace with Qwen3 and prints the time:
/// `MOONCAKE_TRACE=path/to/conversation_trace.jsonl cargo test -p aiperf-dataset-manager
/// --test loaders -- --ignored --nocapture full_mooncake_trace`. The full trace
/// (12,031 rows, 145 M prompt tokens) is not in the repository (see
/// tests/fixtures/README.md for its source); without `MOONCAKE_TRACE` this loads the
/// 1,000-row excerpt.
#[test]
#[ignore = "slow with the full trace: loads 145 M tokens of prompts (report, run by hand)"]
fn full_mooncake_trace_load_time() {
    let trace = std::env::var_os("MOONCAKE_TRACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| data("mooncake/conversation_trace.head1000.jsonl"));
    let cfg = config(ProfileArgs {
        tokenizer: Some(qwen3_path()),
        ..file_args(trace.clone(), None)
    });
    let _ = qwen3();
    let _ = aiperf_dataset_manager::corpus::corpus_tokens(&qwen3());
    let t0 = std::time::Instant::now();
    let d = build_dataset(&cfg).unwrap();
    let elapsed = t0.elapsed();
    let chars: usize = d
        .conversations
        .iter()
        .map(|c| c.turns[0].texts[0].len())
        .sum();
    println!(
        "{}: {} conversations, {} MB of prompt text, fixed_schedule={}, built in {elapsed:?}",
        trace.display(),
        d.conversations.len(),
        chars / 1_000_000,
        d.fixed_schedule
    );
    // Spot-check ISL exactness on every 500th row.
    let tok = qwen3();
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(d.conversations.len(), rows.len());
    let mut worst = 0;
    for i in (0..rows.len()).step_by(500) {
        let n = tok.count(&d.conversations[i].turns[0].texts[0]);
        worst = worst.max(n.abs_diff(rows[i]["input_length"].as_u64().unwrap() as usize));
    }
    println!("max ISL deviation on every 500th row: {worst}");
}

#[test]
fn synthetic_dataset_sampling_defaults_and_override() {
    let small = ProfileArgs {
        num_dataset_entries: Some(3),
        prompt_input_tokens_mean: Some(5.0),
        ..Default::default()
    };
    let d = build(small.clone()).unwrap();
    assert_eq!(d.sampling, SamplingStrategy::Shuffle);
    assert!(!d.fixed_schedule && d.write_inputs_json);
    assert_eq!(d.conversations.len(), 3);
    let d = build(ProfileArgs {
        dataset_sampling_strategy: Some(aiperf_config::DatasetSamplingStrategy::Sequential),
        ..small
    })
    .unwrap();
    assert_eq!(d.sampling, SamplingStrategy::Sequential);
    assert!(
        d.conversations
            .iter()
            .all(|c| c.turns[0].timestamp_ms.is_none())
    );
}
