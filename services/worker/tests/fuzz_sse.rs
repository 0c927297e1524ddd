//! Property-based fuzzing of the SSE parser (`aiperf_worker::sse`): on any bytes,
//! cut into network chunks anywhere (inside `data:`, inside a UTF-8 character,
//! between `\r` and `\n`), it never panics, yields the same events however the
//! bytes were cut, and never holds more than it was given. `PROPTEST_CASES`
//! sets the number of cases (64 by default; `scripts/fuzz.sh` runs many more).

use aiperf_worker::sse::{SseEvent, SseParser};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// The events of `bytes` fed as the chunks that `cuts` (positions modulo the
/// length) make.
fn events(bytes: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| if bytes.is_empty() { 0 } else { c % bytes.len() })
        .collect();
    at.sort_unstable();
    let mut p = SseParser::new();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in at {
        p.feed(&bytes[from..cut], |e| out.push(e));
        from = cut;
    }
    p.feed(&bytes[from..], |e| out.push(e));
    p.finish(|e| out.push(e));
    out
}

/// One line of an SSE-like stream: real fields, comments, JSON payloads,
/// garbage and non-UTF-8 bytes.
fn sse_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(|s| format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{s}\"}}}}]}}"
        )
        .into_bytes()),
        "\\PC{0,20}".prop_map(|s| format!("data:{s}").into_bytes()),
        Just(b"data: [DONE]".to_vec()),
        Just(Vec::new()),
        "\\PC{0,20}".prop_map(|s| format!(": {s}").into_bytes()),
        prop_oneof![Just("error"), Just("message"), Just("")]
            .prop_map(|e| format!("event: {e}").into_bytes()),
        Just(b"id: 7".to_vec()),
        Just(b"retry: 10".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..30),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_bytes_any_cuts(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let whole = events(&bytes, &[]);
        prop_assert_eq!(&whole, &events(&bytes, &cuts));
        let held: usize = whole.iter().map(|e| e.data.len() + e.event.as_ref().map_or(0, String::len)).sum();
        // Lossy UTF-8 can triple a byte (U+FFFD); nothing else is invented.
        prop_assert!(held <= 3 * bytes.len());
    }

    #[test]
    fn sse_shaped_streams_any_cuts(
        lines in proptest::collection::vec(sse_line(), 0..64),
        crlf in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let bytes: Vec<u8> = lines.iter().flat_map(|l| l.iter().chain(eol)).copied().collect();
        let whole = events(&bytes, &[]);
        prop_assert_eq!(&whole, &events(&bytes, &cuts));
        // No more events than `data:` lines.
        let data_lines = lines.iter().filter(|l| l.starts_with(b"data")).count();
        prop_assert!(whole.len() <= data_lines);
        for e in &whole {
            prop_assert!(!e.data.contains('\r'));
        }
    }
}
