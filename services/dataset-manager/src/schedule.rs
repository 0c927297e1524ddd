//! Timestamps of file datasets → the fixed-schedule contract.
//!
//! Applied to every `--input-file` format after loading:
//! 1. **window**: turns whose timestamp is outside
//!    `[--fixed-schedule-start-offset, --fixed-schedule-end-offset]` (trace ms, bounds
//!    kept) are dropped, untimed turns share the fate of the turn before them, then
//!    conversations left without turns are dropped;
//! 2. **speed-up**: `timestamp = int(timestamp / speedup)` with `speedup` =
//!    `--synthesis-speedup-ratio` (delays are not scaled) or `--replay-speedup`
//!    (delays are divided by it as well);
//! 3. `--ignore-trace-delays` drops every timestamp and delay;
//! 4. **decision**: fixed schedule is on with `--fixed-schedule`, off with
//!    `--no-fixed-schedule`, and otherwise on iff the first turn of every conversation
//!    has a timestamp (a file where only some do is rejected);
//! 5. **fixed schedule on**: every timestamp becomes milliseconds from the schedule
//!    zero — `int(start_offset / speedup)` with a start offset, else the smallest
//!    timestamp with the auto offset (default), else 0 — and conversations are
//!    ordered by their first timestamp (stable); sampling is sequential.
//!    **Off**: every `timestamp_ms` is removed (delays stay).
//!
//! So the timing manager sees `timestamp_ms` only in fixed-schedule mode: "the first
//! turn of conversation 0 has a timestamp" ⇔ fixed schedule.

use aiperf_config::{DatasetConfig, DatasetSamplingStrategy};
use aiperf_protocol::dataset::{Conversation, SamplingStrategy};

/// The protocol value of a sampling strategy.
pub fn protocol_sampling(s: DatasetSamplingStrategy) -> SamplingStrategy {
    match s {
        DatasetSamplingStrategy::Sequential => SamplingStrategy::Sequential,
        DatasetSamplingStrategy::Random => SamplingStrategy::Random,
        DatasetSamplingStrategy::Shuffle => SamplingStrategy::Shuffle,
    }
}

/// Conversations with their final timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Conversations (ordered by first timestamp in fixed-schedule mode).
    pub conversations: Vec<Conversation>,
    /// Whether the fixed schedule is in effect.
    pub fixed_schedule: bool,
    /// How the timing manager draws conversations.
    pub sampling: SamplingStrategy,
}

fn scale(ts: f64, speedup: f64) -> f64 {
    if speedup == 1.0 {
        ts
    } else {
        (ts / speedup).trunc()
    }
}

/// Applies the module's steps to the conversations of `source` (named in errors).
pub fn apply(
    mut convs: Vec<Conversation>,
    d: &DatasetConfig,
    source: &str,
) -> Result<Scheduled, String> {
    let (start, end) = (
        d.fixed_schedule_start_offset_ms,
        d.fixed_schedule_end_offset_ms,
    );
    if start.is_some() || end.is_some() {
        for c in convs.iter_mut() {
            // An untimed turn follows the fate of the turn before it.
            let mut keep = true;
            c.turns.retain(|t| {
                if let Some(ts) = t.timestamp_ms {
                    keep =
                        start.is_none_or(|s| ts >= s as f64) && end.is_none_or(|e| ts <= e as f64);
                }
                keep
            });
        }
        convs.retain(|c| !c.turns.is_empty());
    }
    let speedup = d.timestamp_speedup();
    for t in convs.iter_mut().flat_map(|c| c.turns.iter_mut()) {
        if d.ignore_trace_delays {
            t.timestamp_ms = None;
            t.delay_ms = None;
        }
        if let Some(ts) = t.timestamp_ms.as_mut() {
            *ts = scale(*ts, speedup);
        }
        if let (Some(delay), Some(r)) = (t.delay_ms.as_mut(), d.replay_speedup) {
            *delay /= r;
        }
    }
    if convs.is_empty() {
        return Err(format!(
            "{source}: no requests left to send (the file is empty or every row is outside the \
             --fixed-schedule-start-offset/--fixed-schedule-end-offset window or above --synthesis-max-isl)"
        ));
    }
    let with_ts = convs
        .iter()
        .filter(|c| c.turns[0].timestamp_ms.is_some())
        .count();
    let all = with_ts == convs.len();
    let fixed = match d.fixed_schedule {
        Some(false) => false,
        _ if d.ignore_trace_delays => false,
        Some(true) if !all => {
            return Err(format!(
                "{source}: --fixed-schedule needs a \"timestamp\" on the first turn of every conversation, \
                 but {} of {} have none",
                convs.len() - with_ts,
                convs.len()
            ));
        }
        Some(true) => true,
        None if with_ts == 0 => false,
        None if !all => {
            return Err(format!(
                "{source}: {with_ts} of {} conversations have a \"timestamp\" on their first turn and the others \
                 do not; give every first turn a timestamp (fixed schedule) or none, or pass --no-fixed-schedule \
                 (timestamps are then ignored)",
                convs.len()
            ));
        }
        None => true,
    };
    if !fixed {
        for t in convs.iter_mut().flat_map(|c| c.turns.iter_mut()) {
            t.timestamp_ms = None;
        }
        return Ok(Scheduled {
            conversations: convs,
            fixed_schedule: false,
            sampling: protocol_sampling(d.sampling_strategy_or_default()),
        });
    }
    if d.sampling_strategy.is_some() {
        return Err(format!(
            "--dataset-sampling-strategy cannot be used with a fixed schedule ({source} has timestamps, so it is \
             replayed in timestamp order); drop the strategy, or pass --no-fixed-schedule to ignore the timestamps"
        ));
    }
    let zero = match d.fixed_schedule_start_offset_ms {
        Some(s) => scale(s as f64, speedup),
        None if d.auto_offset() => convs
            .iter()
            .flat_map(|c| c.turns.iter().filter_map(|t| t.timestamp_ms))
            .fold(f64::INFINITY, f64::min),
        None => 0.0,
    };
    for ts in convs
        .iter_mut()
        .flat_map(|c| c.turns.iter_mut().filter_map(|t| t.timestamp_ms.as_mut()))
    {
        *ts = (*ts - zero).max(0.0);
    }
    convs.sort_by(|a, b| {
        a.turns[0]
            .timestamp_ms
            .unwrap_or(0.0)
            .total_cmp(&b.turns[0].timestamp_ms.unwrap_or(0.0))
    });
    Ok(Scheduled {
        conversations: convs,
        fixed_schedule: true,
        sampling: SamplingStrategy::Sequential,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiperf_protocol::dataset::Turn;

    fn conv(id: &str, turns: &[(Option<f64>, Option<f64>)]) -> Conversation {
        Conversation {
            id: id.into(),
            turns: turns
                .iter()
                .map(|&(ts, delay)| Turn {
                    texts: vec!["x".into()],
                    timestamp_ms: ts,
                    delay_ms: delay,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn stamps(s: &Scheduled) -> Vec<(String, Vec<Option<f64>>)> {
        s.conversations
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    c.turns.iter().map(|t| t.timestamp_ms).collect(),
                )
            })
            .collect()
    }

    fn trace() -> Vec<Conversation> {
        vec![
            conv("a", &[(Some(1500.0), None)]),
            conv("b", &[(Some(1000.0), None), (None, Some(200.0))]),
            conv("c", &[(Some(9000.0), None)]),
            conv("d", &[(Some(4001.0), None), (Some(4999.0), None)]),
        ]
    }

    #[test]
    fn auto_offset_is_the_default_and_sorts_by_first_timestamp() {
        let s = apply(trace(), &DatasetConfig::default(), "t").unwrap();
        assert!(s.fixed_schedule);
        assert_eq!(s.sampling, SamplingStrategy::Sequential);
        assert_eq!(
            stamps(&s),
            vec![
                ("b".into(), vec![Some(0.0), None]),
                ("a".into(), vec![Some(500.0)]),
                ("d".into(), vec![Some(3001.0), Some(3999.0)]),
                ("c".into(), vec![Some(8000.0)]),
            ]
        );
        assert_eq!(
            s.conversations[0].turns[1].delay_ms,
            Some(200.0),
            "delays are kept and not scaled"
        );
    }

    #[test]
    fn window_speedup_and_start_offset() {
        // Window [1200, 5000] in trace ms; speed-up 2; zero = int(1200/2) = 600.
        let mut d = DatasetConfig {
            fixed_schedule_start_offset_ms: Some(1200),
            fixed_schedule_end_offset_ms: Some(5000),
            ..Default::default()
        };
        d.synthesis.speedup_ratio = 2.0;
        let s = apply(trace(), &d, "t").unwrap();
        // b's first turn (1000) is dropped and its untimed second turn with it; c (9000)
        // is after the end. Kept: a 1500 → 750 → 150; d 4001 → 2000 → 1400,
        // 4999 → 2499 → 1899.
        assert_eq!(
            stamps(&s),
            vec![
                ("a".into(), vec![Some(150.0)]),
                ("d".into(), vec![Some(1400.0), Some(1899.0)])
            ]
        );
    }

    #[test]
    fn no_auto_offset_keeps_trace_time() {
        let d = DatasetConfig {
            fixed_schedule_auto_offset: Some(false),
            ..Default::default()
        };
        let s = apply(trace(), &d, "t").unwrap();
        assert_eq!(s.conversations[0].turns[0].timestamp_ms, Some(1000.0));
    }

    #[test]
    fn off_modes_strip_timestamps() {
        for d in [
            DatasetConfig {
                fixed_schedule: Some(false),
                sampling_strategy: Some(DatasetSamplingStrategy::Random),
                input_file: Some("t".into()),
                ..Default::default()
            },
            DatasetConfig {
                ignore_trace_delays: true,
                input_file: Some("t".into()),
                ..Default::default()
            },
        ] {
            let s = apply(trace(), &d, "t").unwrap();
            assert!(!s.fixed_schedule);
            assert!(
                s.conversations
                    .iter()
                    .flat_map(|c| &c.turns)
                    .all(|t| t.timestamp_ms.is_none())
            );
            assert_eq!(s.conversations[0].id, "a", "file order is kept");
            let delays = s.conversations[1].turns[1].delay_ms;
            assert_eq!(
                delays,
                if d.ignore_trace_delays {
                    None
                } else {
                    Some(200.0)
                }
            );
        }
        let d = DatasetConfig {
            fixed_schedule: Some(false),
            input_file: Some("t".into()),
            ..Default::default()
        };
        assert_eq!(
            apply(trace(), &d, "t").unwrap().sampling,
            SamplingStrategy::Sequential
        );
    }

    #[test]
    fn untimed_files_are_not_fixed_and_mixed_files_are_rejected() {
        let untimed = vec![conv("a", &[(None, None)]), conv("b", &[(None, Some(5.0))])];
        let s = apply(
            untimed.clone(),
            &DatasetConfig {
                input_file: Some("f".into()),
                ..Default::default()
            },
            "f",
        )
        .unwrap();
        assert!(!s.fixed_schedule);
        let e = apply(
            untimed,
            &DatasetConfig {
                fixed_schedule: Some(true),
                ..Default::default()
            },
            "f",
        )
        .unwrap_err();
        assert!(
            e.contains("--fixed-schedule") && e.contains("2 of 2"),
            "{e}"
        );
        let mixed = vec![conv("a", &[(Some(1.0), None)]), conv("b", &[(None, None)])];
        let e = apply(mixed, &DatasetConfig::default(), "f.jsonl").unwrap_err();
        assert!(
            e.contains("f.jsonl: 1 of 2") && e.contains("--no-fixed-schedule"),
            "{e}"
        );
    }

    #[test]
    fn sampling_strategy_conflicts_with_detected_fixed_schedule() {
        let d = DatasetConfig {
            sampling_strategy: Some(DatasetSamplingStrategy::Shuffle),
            ..Default::default()
        };
        let e = apply(trace(), &d, "t").unwrap_err();
        assert!(e.contains("--dataset-sampling-strategy"), "{e}");
    }

    #[test]
    fn empty_after_window_is_an_error() {
        let d = DatasetConfig {
            fixed_schedule_start_offset_ms: Some(100_000),
            ..Default::default()
        };
        let e = apply(trace(), &d, "t.jsonl").unwrap_err();
        assert!(e.contains("t.jsonl: no requests left"), "{e}");
    }
}
