use super::*;
use std::io::Read;

/// The real tokenizers vendored (gzipped) in the repository's `tests/fixtures`.
fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tokenizers")
        .join(rel)
}

/// Qwen3-0.6B, loaded from the path of its `tokenizer.json.gz`.
fn qwen3() -> Arc<Tokenizer> {
    Tokenizer::load(Some(data("qwen3-0.6b/tokenizer.json.gz").to_str().unwrap())).unwrap()
}

/// GPT-2, loaded from its directory (which holds only `tokenizer.json.gz`).
fn gpt2() -> Arc<Tokenizer> {
    Tokenizer::load(Some(data("gpt2").to_str().unwrap())).unwrap()
}

/// Writes the unpacked GPT-2 `tokenizer.json` (and its config) into `dir`.
fn unpack_gpt2(dir: &Path) -> PathBuf {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data("gpt2/tokenizer.json.gz")).unwrap())
        .read_to_end(&mut json)
        .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("tokenizer.json");
    std::fs::write(&file, json).unwrap();
    std::fs::copy(
        data("gpt2/tokenizer_config.json"),
        dir.join("tokenizer_config.json"),
    )
    .unwrap();
    file
}

const CHAT: &str =
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

#[test]
fn qwen3_reference_ids() {
    let t = qwen3();
    assert_eq!(t.encode("Hello world"), vec![9707, 1879]);
    assert_eq!(t.count("Hello world"), 2);
    let ids = t.encode(CHAT);
    assert_eq!(
        ids,
        vec![
            151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198, 151644, 77091, 198,
            151667, 271, 151668, 271
        ]
    );
    assert_eq!(t.decode(&ids, false), CHAT);
    // <think> is an added but non-special token: it survives skip_special.
    assert_eq!(
        t.decode(&ids, true),
        "user\nWhat is 2+2?\nassistant\n<think>\n\n</think>\n\n"
    );
    assert_eq!(t.bos_or_eos_id(), Some(151645));
    assert!(!t.is_builtin());
}

#[test]
fn gpt2_reference_ids() {
    let t = gpt2();
    assert_eq!(t.encode("Hello world"), vec![15496, 995]);
    assert_eq!(
        t.encode(" The quick brown fox"),
        vec![383, 2068, 7586, 21831]
    );
    assert_eq!(
        t.decode(&[383, 2068, 7586, 21831], true),
        " The quick brown fox"
    );
    assert_eq!(t.bos_or_eos_id(), Some(50256));
    assert_eq!(t.decode(&[15496, 50256], false), "Hello<|endoftext|>");
    assert_eq!(t.decode(&[15496, 50256], true), "Hello");
}

#[test]
fn builtin_o200k() {
    for spec in [None, Some("builtin"), Some("BUILTIN"), Some("")] {
        let t = Tokenizer::load(spec).unwrap();
        assert!(t.is_builtin());
        assert_eq!(t.name(), "builtin");
        assert_eq!(t.encode("Hello world"), vec![13225, 2375]);
        assert_eq!(t.count("Hello world"), 2);
    }
    let t = Tokenizer::builtin();
    assert_eq!(t.decode(&[13225, 2375], false), "Hello world");
    assert_eq!(t.bos_or_eos_id(), Some(199_999));
    assert_eq!(t.decode(&[13225, 199_999], false), "Hello<|endoftext|>");
    assert_eq!(t.decode(&[13225, 199_999], true), "Hello");
    // Special-token text is ordinary text for the builtin tokenizer.
    assert!(t.count("<|endoftext|>") > 1);
}

#[test]
fn loads_are_cached_per_file() {
    let a = gpt2();
    let b = Tokenizer::load(Some(data("gpt2/tokenizer.json.gz").to_str().unwrap())).unwrap();
    assert!(
        Arc::ptr_eq(&a, &b),
        "a directory and its .gz file share one instance"
    );
    assert!(Arc::ptr_eq(&Tokenizer::builtin(), &load(None).unwrap()));
}

#[test]
fn gzipped_and_plain_files_give_the_same_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let plain = unpack_gpt2(dir.path());
    let p = Tokenizer::load(Some(plain.to_str().unwrap())).unwrap();
    let g = gpt2();
    assert!(
        !Arc::ptr_eq(&p, &g),
        "different files, different cache entries"
    );
    for text in [
        "Hello world",
        " The quick brown fox",
        "naïve café <|endoftext|>",
    ] {
        assert_eq!(p.encode(text), g.encode(text), "{text:?}");
    }
    assert_eq!(p.bos_or_eos_id(), g.bos_or_eos_id());

    // A directory holding both prefers the plain file.
    std::fs::copy(
        data("gpt2/tokenizer.json.gz"),
        dir.path().join("tokenizer.json.gz"),
    )
    .unwrap();
    assert_eq!(resolve(dir.path().to_str().unwrap(), &[]).unwrap(), plain);
    std::fs::remove_file(&plain).unwrap();
    assert_eq!(
        resolve(dir.path().to_str().unwrap(), &[]).unwrap(),
        dir.path().join("tokenizer.json.gz")
    );
}

#[test]
fn a_gz_file_that_is_not_gzip_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokenizer.json.gz");
    std::fs::write(&file, "{}").unwrap();
    let err = Tokenizer::load(Some(file.to_str().unwrap())).unwrap_err();
    assert!(matches!(err, TokenizerError::Load { .. }), "{err}");
    assert!(err.to_string().contains("gzip"), "{err}");
}

#[test]
fn decode_of_a_cut_multibyte_char_is_lossy_not_an_error() {
    let t = gpt2();
    let ids = t.encode("naïve café");
    let cut = t.decode(&ids[..ids.len() - 1], false);
    assert!(cut.starts_with("na"));
    let b = Tokenizer::builtin();
    let ids = b.encode("日本語のテキスト");
    let _ = b.decode(&ids[..1], false);
}

#[test]
fn model_name_resolves_in_hf_cache() {
    let hub = tempfile::tempdir().unwrap();
    let model = hub.path().join("models--openai-community--gpt2");
    let snap = model.join("snapshots").join("0123abcd");
    unpack_gpt2(&snap);
    let hubs = vec![PathBuf::from("/nonexistent/hub"), hub.path().to_path_buf()];
    let file = resolve("openai-community/gpt2", &hubs).unwrap();
    assert_eq!(file, snap.join("tokenizer.json"));

    // refs/main wins over other snapshots.
    let other = model.join("snapshots").join("ffff");
    unpack_gpt2(&other);
    std::fs::create_dir_all(model.join("refs")).unwrap();
    std::fs::write(model.join("refs/main"), "0123abcd\n").unwrap();
    assert_eq!(
        resolve("openai-community/gpt2", &hubs).unwrap(),
        snap.join("tokenizer.json")
    );
}

#[test]
fn unknown_spec_fails_fast_listing_paths() {
    let hubs = vec![PathBuf::from("/nonexistent/hub")];
    let err = resolve("no-such-org/no-such-model", &hubs).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no-such-org/no-such-model"), "{msg}");
    assert!(
        msg.contains("/nonexistent/hub/models--no-such-org--no-such-model/snapshots"),
        "{msg}"
    );
    assert!(msg.contains("--tokenizer builtin"), "{msg}");

    let err = Tokenizer::load(Some("/definitely/not/here/tokenizer.json")).unwrap_err();
    assert!(matches!(err, TokenizerError::NotFound { .. }));

    let empty = tempfile::tempdir().unwrap();
    let err = Tokenizer::load(Some(empty.path().to_str().unwrap())).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"));
    assert!(err.to_string().contains("tokenizer.json.gz"));
}

/// A fake Hugging Face hub cache holding the Qwen3 fixture as `Qwen/Qwen3-0.6B`.
fn fake_hub_with_qwen3() -> tempfile::TempDir {
    let hub = tempfile::tempdir().unwrap();
    let snap = hub
        .path()
        .join("models--Qwen--Qwen3-0.6B/snapshots/c1899de2");
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(data("qwen3-0.6b").join(f), snap.join(f)).unwrap();
    }
    hub
}

#[test]
fn default_is_the_models_own_tokenizer_when_cached() {
    let hub = fake_hub_with_qwen3();
    let hubs = vec![PathBuf::from("/nonexistent/hub"), hub.path().to_path_buf()];
    let d = default_in("Qwen/Qwen3-0.6B", &hubs);
    assert_eq!(d.spec, "Qwen/Qwen3-0.6B");
    let file = hub
        .path()
        .join("models--Qwen--Qwen3-0.6B/snapshots/c1899de2/tokenizer.json.gz");
    assert!(d.note.contains(&file.display().to_string()), "{}", d.note);
    assert!(d.note.contains("--tokenizer"), "{}", d.note);
    assert!(!d.note.contains('\n'), "one line: {}", d.note);
    // The file it found is the real Qwen3 tokenizer.
    let t = Tokenizer::from_hf_file(&resolve(&d.spec, &hubs).unwrap(), &d.spec).unwrap();
    assert_eq!(t.encode("Hello world"), vec![9707, 1879]);
    assert_eq!(t.name(), "Qwen/Qwen3-0.6B");
}

#[test]
fn default_falls_back_to_builtin_with_a_note() {
    let hub = fake_hub_with_qwen3();
    let hubs = vec![hub.path().to_path_buf()];
    for model in ["mock-model", "meta-llama/Llama-3.1-8B", ""] {
        let d = default_in(model, &hubs);
        assert_eq!(d.spec, BUILTIN, "{model}");
        assert!(
            d.note.contains("builtin") && d.note.contains("--tokenizer"),
            "{}",
            d.note
        );
        assert!(d.note.contains(&format!("'{model}'")), "{}", d.note);
        assert!(!d.note.contains('\n'), "one line: {}", d.note);
    }
}

#[test]
fn bad_file_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokenizer.json");
    std::fs::write(&file, "{not json").unwrap();
    let err = Tokenizer::load(Some(file.to_str().unwrap())).unwrap_err();
    assert!(matches!(err, TokenizerError::Load { .. }), "{err}");
}

/// Prints load and encode timings: `cargo test -p aiperf-tokenizer -- --ignored --nocapture`.
#[test]
#[ignore = "timing report, not a check"]
fn timing_report() {
    use std::time::Instant;
    let text =
        "The quick brown fox jumps over the lazy dog, and then it writes a report. ".repeat(2000);
    for (label, path) in [
        ("qwen3", data("qwen3-0.6b/tokenizer.json.gz")),
        ("gpt2", data("gpt2/tokenizer.json.gz")),
    ] {
        let t0 = Instant::now();
        let tok = Tokenizer::from_hf_file(&path, label).unwrap();
        let load = t0.elapsed();
        let t1 = Instant::now();
        let n = tok.count(&text);
        let enc = t1.elapsed();
        println!(
            "{label}: load {load:?}; encode {} chars -> {n} tokens in {enc:?} ({:.0} tok/s)",
            text.len(),
            n as f64 / enc.as_secs_f64()
        );
    }
    let t0 = Instant::now();
    let tok = Tokenizer::builtin();
    let load = t0.elapsed();
    let t1 = Instant::now();
    let n = tok.count(&text);
    let enc = t1.elapsed();
    println!(
        "builtin: load {load:?}; encode {} chars -> {n} tokens in {enc:?} ({:.0} tok/s)",
        text.len(),
        n as f64 / enc.as_secs_f64()
    );
}
