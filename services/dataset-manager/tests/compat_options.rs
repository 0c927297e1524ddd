//! AIPerf 0.13 options added for command-line compatibility, end to end through
//! `build_dataset`: `--system-prompt`/`--system-prompt-file` (a verbatim system
//! message on every conversation of any source) and `--replay-speedup` (file
//! timestamps and delays divided by the factor).

use aiperf_config::{Context, ProfileArgs, ProfileConfig, resolve};
use aiperf_dataset_manager::service::{Dataset, build_dataset};
use std::io::Write;
use std::path::Path;

fn build(flags: &[&str]) -> Dataset {
    let mut argv = vec!["-m", "m", "--tokenizer", "builtin", "--random-seed", "7"];
    argv.extend_from_slice(flags);
    let args = ProfileArgs::try_parse_args(&argv).unwrap_or_else(|e| panic!("{e}"));
    let ctx = Context {
        cpus: 2,
        stdout_is_tty: false,
        cli_command: "test".into(),
    };
    let config: ProfileConfig = resolve(&args, &ctx).unwrap_or_else(|e| panic!("{e}"));
    build_dataset(&config).unwrap_or_else(|e| panic!("{e}"))
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn system_prompt_is_the_system_message_of_every_synthetic_conversation() {
    let d = build(&[
        "--num-dataset-entries",
        "5",
        "--isl",
        "20",
        "--system-prompt",
        "You are a terse assistant.",
    ]);
    assert_eq!(d.conversations.len(), 5);
    for c in &d.conversations {
        assert_eq!(
            c.system_message.as_deref(),
            Some("You are a terse assistant.")
        );
    }
    // Without the option there is no system message.
    let d = build(&["--num-dataset-entries", "5", "--isl", "20"]);
    assert!(d.conversations.iter().all(|c| c.system_message.is_none()));
}

#[test]
fn system_prompt_file_applies_to_file_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = write(
        dir.path(),
        "system.txt",
        "Line one.\n  Line two keeps its indent.\n",
    );
    let data = write(
        dir.path(),
        "data.jsonl",
        "{\"text\": \"first\"}\n{\"text\": \"second\"}\n{\"text\": \"third\"}\n",
    );
    let d = build(&[
        "--input-file",
        &data,
        "--custom-dataset-type",
        "single_turn",
        "--system-prompt-file",
        &prompt,
    ]);
    assert_eq!(d.conversations.len(), 3);
    for c in &d.conversations {
        assert_eq!(
            c.system_message.as_deref(),
            Some("Line one.\n  Line two keeps its indent.")
        );
    }
}

/// Two sessions: `a` at 1000 ms with a second turn 500 ms after the first returns,
/// `b` at 3000 ms.
const TIMED: &str = concat!(
    "{\"session_id\": \"a\", \"turns\": [{\"timestamp\": 1000, \"text\": \"x\"}, {\"delay\": 500, \"text\": \"y\"}]}\n",
    "{\"session_id\": \"b\", \"turns\": [{\"timestamp\": 3000, \"text\": \"z\"}]}\n",
);

/// `(timestamp_ms, delay_ms)` of one turn.
type TurnTiming = (Option<f64>, Option<f64>);

/// `(id, turn timings)` of every conversation.
fn timing(d: &Dataset) -> Vec<(String, Vec<TurnTiming>)> {
    d.conversations
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                c.turns
                    .iter()
                    .map(|t| (t.timestamp_ms, t.delay_ms))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn replay_speedup_divides_timestamps_and_delays() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "timed.jsonl", TIMED);
    let base = [
        "--input-file",
        data.as_str(),
        "--custom-dataset-type",
        "multi_turn",
    ];

    // Recorded speed: zero = first timestamp (1000), so a starts at 0 and b at 2000.
    let d = build(&base);
    assert!(d.fixed_schedule);
    assert_eq!(
        timing(&d),
        vec![
            ("a".into(), vec![(Some(0.0), None), (None, Some(500.0))]),
            ("b".into(), vec![(Some(2000.0), None)]),
        ]
    );

    // --replay-speedup 4: 1000/4 = 250 and 3000/4 = 750, zero 250 → 0 and 500; the
    // delay 500/4 = 125.
    let mut flags = base.to_vec();
    flags.extend(["--replay-speedup", "4"]);
    let d = build(&flags);
    assert!(d.fixed_schedule);
    assert_eq!(
        timing(&d),
        vec![
            ("a".into(), vec![(Some(0.0), None), (None, Some(125.0))]),
            ("b".into(), vec![(Some(500.0), None)]),
        ]
    );

    // --synthesis-speedup-ratio 4 scales the timestamps only.
    let mut flags = base.to_vec();
    flags.extend(["--synthesis-speedup-ratio", "4"]);
    let d = build(&flags);
    assert_eq!(
        timing(&d),
        vec![
            ("a".into(), vec![(Some(0.0), None), (None, Some(500.0))]),
            ("b".into(), vec![(Some(500.0), None)]),
        ]
    );
}

#[test]
fn replay_speedup_scales_delays_without_a_fixed_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "timed.jsonl", TIMED);
    let d = build(&[
        "--input-file",
        &data,
        "--custom-dataset-type",
        "multi_turn",
        "--no-fixed-schedule",
        "--replay-speedup",
        "2",
    ]);
    assert!(!d.fixed_schedule);
    // Timestamps are removed without a fixed schedule; the delay is halved.
    assert_eq!(
        timing(&d),
        vec![
            ("a".into(), vec![(None, None), (None, Some(250.0))]),
            ("b".into(), vec![(None, None)]),
        ]
    );
}
