//! End to end: without `--tokenizer`, a run uses the model's own tokenizer when the
//! local Hugging Face cache holds it, else the builtin one, and says which on the
//! console. The cache is a fake one in a temporary directory (`HF_HUB_CACHE`) holding
//! the vendored Qwen3 tokenizer; nothing is downloaded.

mod common;

use aiperf_mock_server::MockConfig;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(240);
/// Every synthetic prompt has exactly this many tokens in the tokenizer of the run.
const ISL: u64 = 64;
const QWEN3: &str = "Qwen/Qwen3-0.6B";

/// A fake hub cache holding the Qwen3 fixture as `Qwen/Qwen3-0.6B`; returns the
/// cache and the tokenizer file in it.
fn fake_hub() -> (tempfile::TempDir, PathBuf) {
    let hub = temp_dir("hf-hub");
    let snap = hub
        .path()
        .join("models--Qwen--Qwen3-0.6B/snapshots/c1899de289a04d12100db370d81485cdf75e47ca");
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(Path::new(&qwen_tokenizer()).join(f), snap.join(f)).unwrap();
    }
    (hub, snap.join("tokenizer.json.gz"))
}

/// Profiles `model` (8 requests of exactly `ISL` tokens, no `--tokenizer`) against a
/// mock that counts `usage.prompt_tokens` with `mock_tokenizer`, with `hub` as the
/// only Hugging Face cache. Returns (stderr, profiling records, input config).
async fn profile(model: &str, hub: &Path, mock_tokenizer: &str) -> (String, Vec<Value>, Value) {
    let server = mock(MockConfig {
        tokenizer: Some(mock_tokenizer.into()),
        ..MockConfig::fast()
    })
    .await;
    let dir = temp_dir("default-tokenizer");
    let isl = ISL.to_string();
    let mut args = profile_args(
        &server.url(),
        dir.path(),
        &[
            "--request-count",
            "8",
            "--isl",
            &isl,
            "--osl",
            "4",
            "--random-seed",
            "3",
        ],
    );
    args[2] = model.into();
    let home = temp_dir("home");
    let env = [
        ("HF_HUB_CACHE", Some(hub)),
        ("HUGGINGFACE_HUB_CACHE", None),
        ("HF_HOME", None),
        ("XDG_CACHE_HOME", None),
        ("HOME", Some(home.path())),
    ];
    let out = run_with_env(&args, &env, LONG).await;
    assert!(out.status.success(), "{}", text(&out));
    let records: Vec<Value> = read_jsonl(dir.path().join("profile_export.jsonl"))
        .into_iter()
        .filter(|r| r["metadata"]["benchmark_phase"] == "profiling")
        .collect();
    assert_eq!(records.len(), 8, "{}", text(&out));
    let summary = read_json(dir.path().join("profile_export_aiperf.json"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (stderr, records, summary["input_config"].clone())
}

/// Every prompt has `ISL` tokens both by the client's count and by the mock's
/// (`usage.prompt_tokens` counted with the mock's tokenizer).
fn assert_prompts_have_isl_tokens(records: &[Value]) {
    for r in records {
        let m = &r["metrics"];
        assert_eq!(
            m["input_sequence_length"]["value"].as_u64(),
            Some(ISL),
            "{r}"
        );
        assert_eq!(m["usage_prompt_tokens"]["value"].as_u64(), Some(ISL), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_in_the_hf_cache_brings_its_tokenizer() {
    let _serial = SERIAL.lock().await;
    let (hub, file) = fake_hub();
    // The mock counts with Qwen3: prompts built with another tokenizer would not
    // all come out at exactly ISL tokens.
    let (stderr, records, config) = profile(QWEN3, hub.path(), &qwen_tokenizer()).await;
    assert!(
        stderr.contains(&format!("'{QWEN3}'"))
            && stderr.contains(&file.display().to_string())
            && stderr.contains("--tokenizer"),
        "the note names the model, the file and the flag:\n{stderr}"
    );
    assert_prompts_have_isl_tokens(&records);
    assert_eq!(config["tokenizer"]["name"], QWEN3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_model_falls_back_to_builtin_with_a_note() {
    let _serial = SERIAL.lock().await;
    let (hub, _) = fake_hub();
    let model = "no-such-org/no-such-model";
    let (stderr, records, config) = profile(model, hub.path(), "builtin").await;
    let note: Vec<&str> = stderr.lines().filter(|l| l.contains("builtin")).collect();
    assert_eq!(note.len(), 1, "one line:\n{stderr}");
    assert!(
        note[0].contains(&format!("'{model}'")) && note[0].contains("--tokenizer"),
        "{stderr}"
    );
    assert_prompts_have_isl_tokens(&records);
    assert_eq!(config["tokenizer"]["name"], "builtin");
}
