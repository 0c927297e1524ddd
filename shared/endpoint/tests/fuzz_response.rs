//! Property-based fuzzing of the response parsers (`parse_response` for SSE
//! payloads and whole chat / completions bodies, `payload::input_texts` for
//! request bodies): no panic on any text or any JSON; `malformed` exactly when
//! the text is not JSON. `PROPTEST_CASES` sets the number of cases (64 by
//! default; `scripts/fuzz.sh` runs many more).

use aiperf_endpoint::{parse_response, payload::input_texts};
use proptest::prelude::*;
use serde_json::Value;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Keys the parsers look at, so generated objects reach their branches.
const KEYS: &[&str] = &[
    "choices",
    "delta",
    "message",
    "content",
    "text",
    "reasoning_content",
    "reasoning",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "completion_tokens_details",
    "reasoning_tokens",
    "prompt_tokens_details",
    "cached_tokens",
    "error",
    "code",
    "type",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "messages",
    "prompt",
    "role",
    "x",
];

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_text(s in "\\PC{0,300}") {
        let p = parse_response(&s);
        let is_json = serde_json::from_str::<Value>(s.trim()).is_ok();
        prop_assert_eq!(p.malformed, !is_json && s.trim() != "[DONE]");
        prop_assert!(p.text.len() <= s.len() && p.reasoning.len() <= s.len());
    }

    #[test]
    fn any_json(v in json()) {
        let s = v.to_string();
        let p = parse_response(&s);
        prop_assert!(!p.malformed);
        prop_assert!(p.text.len() + p.reasoning.len() <= s.len());
        let texts = input_texts(&v);
        prop_assert!(texts.iter().map(|t| t.len()).sum::<usize>() <= s.len());
    }

    #[test]
    fn truncated_json(v in json(), cut in any::<usize>()) {
        let s = v.to_string();
        let mut end = cut % (s.len() + 1);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let _ = parse_response(&s[..end]);
    }
}
