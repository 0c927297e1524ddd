//! Property-based fuzzing of every dataset loader through the real entry point
//! (`build_dataset` with `--input-file`, each `--custom-dataset-type`, and
//! ShareGPT's parser and builder): on generated files — JSONL lines made of the
//! loaders' own field names with values of every JSON type, raw garbage, CSV
//! rows of any text — loading never panics and a failure has a message.
//! `PROPTEST_CASES` sets the number of cases (16 by default: every case loads
//! a dataset; `scripts/fuzz.sh` runs many more).
//!
//! Token counts (`input_length`) are kept below 2,048 here: the loaders build a
//! prompt of that many tokens, so their memory is bounded by the counts a file
//! asks for, not by its size (`docs/reliability.md`).

use aiperf_config::{Context, CustomDatasetType, ProfileArgs, resolve};
use aiperf_dataset_manager::loaders::sharegpt;
use aiperf_dataset_manager::service::build_dataset;
use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// Field names of every JSONL format (and a few unknown or retired ones).
const FIELDS: &[&str] = &[
    "text",
    "texts",
    "text_input",
    "session_id",
    "timestamp",
    "delay",
    "input_length",
    "output_length",
    "hash_ids",
    "turns",
    "role",
    "contents",
    "type",
    "image",
    "audio",
    "name",
    "conversations",
    "from",
    "value",
    "extra",
    "input_text",
    "x",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0i64..2048).prop_map(Value::from),
        any::<i64>().prop_map(|n| Value::from(n % 4096)),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            object(inner),
        ]
    })
}

fn object(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A JSONL file: mostly objects of known fields, sometimes garbage lines.
fn jsonl() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        8 => object(json()).prop_map(|v| v.to_string()),
        1 => "\\PC{0,40}",
        1 => Just(String::new()),
    ];
    proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

/// An Azure trace CSV: the header (usually) and rows of any text.
fn csv() -> impl Strategy<Value = String> {
    let row = prop_oneof![
        (
            0u32..28,
            0u32..24,
            0u32..60,
            0u32..1000,
            0u32..2048,
            0u32..2048
        )
            .prop_map(|(d, h, m, f, i, o)| format!(
                "2023-11-{:02} {h:02}:{m:02}:00.{f:03},{i},{o}",
                d + 1
            )),
        "\\PC{0,40}",
    ];
    (any::<bool>(), proptest::collection::vec(row, 0..10)).prop_map(|(header, rows)| {
        let mut out = if header {
            "TIMESTAMP,ContextTokens,GeneratedTokens\n".to_string()
        } else {
            String::new()
        };
        out.push_str(&rows.join("\n"));
        out
    })
}

fn load(name: &str, body: &str, kind: Option<CustomDatasetType>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let args = ProfileArgs {
        models: Some(vec!["m".into()]),
        tokenizer: Some("builtin".into()),
        random_seed: Some(7),
        input_file: Some(path),
        custom_dataset_type: kind,
        ..Default::default()
    };
    let ctx = Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "fuzz".into(),
    };
    let config = resolve(&args, &ctx).map_err(|e| e.to_string())?;
    build_dataset(&config).map(|_| ()).inspect_err(|e| {
        assert!(!e.trim().is_empty(), "an empty error message");
    })
}

fn tokenizer() -> Arc<aiperf_tokenizer::Tokenizer> {
    static T: OnceLock<Arc<aiperf_tokenizer::Tokenizer>> = OnceLock::new();
    T.get_or_init(|| aiperf_tokenizer::Tokenizer::load(Some("builtin")).unwrap())
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn jsonl_formats(body in jsonl()) {
        for kind in [
            None,
            Some(CustomDatasetType::SingleTurn),
            Some(CustomDatasetType::MultiTurn),
            Some(CustomDatasetType::MooncakeTrace),
            Some(CustomDatasetType::RandomPool),
        ] {
            let _ = load("data.jsonl", &body, kind);
        }
    }

    #[test]
    fn azure_csv(body in csv()) {
        let _ = load("trace.csv", &body, None);
    }

    #[test]
    fn raw_bytes_in_any_format(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let _ = load("data.jsonl", &body, None);
        let _ = load("trace.csv", &body, None);
    }

    #[test]
    fn sharegpt_files(entries in proptest::collection::vec(json(), 0..8)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sharegpt.json");
        std::fs::write(&path, Value::Array(entries).to_string()).unwrap();
        if let Ok(parsed) = sharegpt::parse(&path) {
            let (convs, stats) = sharegpt::build(&parsed, &tokenizer(), None, Some(1));
            prop_assert!(convs.len() <= parsed.len());
            prop_assert!(stats.kept <= parsed.len());
        }
    }
}
