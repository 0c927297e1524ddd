//! Synthesis transforms on small hand-made traces (block size 4), expectations worked
//! out by hand in the comments.

use super::*;
use crate::hash_prompts::check_lengths;

fn row(line: usize, n: u64, hashes: &[u64]) -> TraceRow {
    TraceRow {
        line,
        timestamp: Some(line as f64 * 100.0),
        delay: None,
        session_id: None,
        input: TraceInput::Tokens {
            input_length: n,
            hash_ids: hashes.to_vec(),
        },
        output_length: Some(10),
        extra: None,
    }
}

fn shape(rows: &[TraceRow]) -> Vec<(u64, Vec<u64>)> {
    rows.iter()
        .map(|r| match &r.input {
            TraceInput::Tokens {
                input_length,
                hash_ids,
            } => (*input_length, hash_ids.clone()),
            TraceInput::Text(t) => (0, vec![t.len() as u64]),
        })
        .collect()
}

fn cfg(m: f64, p: f64) -> SynthesisConfig {
    SynthesisConfig {
        prefix_len_multiplier: m,
        prompt_len_multiplier: p,
        ..Default::default()
    }
}

fn run(rows: &mut [TraceRow], s: SynthesisConfig) {
    synthesize(rows, &s, 4, Some(1)).unwrap();
    for r in rows.iter() {
        if let TraceInput::Tokens {
            input_length,
            hash_ids,
        } = &r.input
        {
            check_lengths(*input_length, hash_ids, 4).unwrap();
        }
    }
}

#[test]
fn prefix_multiplier_two_stretches_shared_ids() {
    // Counts: 1:2, 2:2, others 1 → shared {1, 2}; max id 6, int(M)=2, fresh from 14.
    // r1 N=10 [1,2,3]: prefix [1,2] (8 tokens), prompt 2 → [2,3,4,5] (16) + [14] → 18.
    // r2 N=12 [1,2,4]: prefix [1,2] (8), prompt 4 → [2,3,4,5] + [15] → 20.
    // r3 N=5 [5,6]: no prefix, prompt 5 → [16,17] → 5.
    let mut rows = vec![
        row(1, 10, &[1, 2, 3]),
        row(2, 12, &[1, 2, 4]),
        row(3, 5, &[5, 6]),
    ];
    run(&mut rows, cfg(2.0, 1.0));
    assert_eq!(
        shape(&rows),
        vec![
            (18, vec![2, 3, 4, 5, 14]),
            (20, vec![2, 3, 4, 5, 15]),
            (5, vec![16, 17])
        ]
    );
}

#[test]
fn fractional_prefix_multiplier_appends_shared_new_ids() {
    // Shared {1, 2}; max id 7, int(1.5)=1, fresh from 8. ceil(2*1.5)=3 blocks.
    // r1 N=12 [1,2,3]: [1,2] + extra [8] (12 tokens), prompt 4 → [9] → 16.
    // r2 N=10 [1,2,4]: same prefix → same extra [8], prompt 2 → [10] → 14.
    // r3 N=3 [7]: prompt 3 → [11] → 3.
    let mut rows = vec![
        row(1, 12, &[1, 2, 3]),
        row(2, 10, &[1, 2, 4]),
        row(3, 3, &[7]),
    ];
    run(&mut rows, cfg(1.5, 1.0));
    assert_eq!(
        shape(&rows),
        vec![
            (16, vec![1, 2, 8, 9]),
            (14, vec![1, 2, 8, 10]),
            (3, vec![11])
        ]
    );
}

#[test]
fn prefix_multiplier_below_one_keeps_leading_ids() {
    // Shared {1,2,3}; keep max(1, int(3*0.5)) = 1 id → 4 tokens; fresh from 6.
    // r1 N=16 [1,2,3,4]: prompt 4 → [6] → 8.   r2 N=15 [1,2,3,5]: prompt 3 → [7] → 7.
    let mut rows = vec![row(1, 16, &[1, 2, 3, 4]), row(2, 15, &[1, 2, 3, 5])];
    run(&mut rows, cfg(0.5, 1.0));
    assert_eq!(shape(&rows), vec![(8, vec![1, 6]), (7, vec![1, 7])]);
}

#[test]
fn prompt_multiplier_scales_the_unique_part() {
    // Shared {1}; max id 9, fresh from 10.
    // P=2: r1 N=10 [1,2,3]: prefix 4, prompt 6 → 12 = 3 blocks [10,11,12] → 16.
    //      r2 N=6 [1,9]: prefix 4, prompt 2 → 4 = [13] → 8.
    let mut rows = vec![row(1, 10, &[1, 2, 3]), row(2, 6, &[1, 9])];
    run(&mut rows, cfg(1.0, 2.0));
    assert_eq!(
        shape(&rows),
        vec![(16, vec![1, 10, 11, 12]), (8, vec![1, 13])]
    );
    // P=0.5: r1 prompt int(3) → [10] → 7; r2 prompt 1 → [11] → 5.
    let mut rows = vec![row(1, 10, &[1, 2, 3]), row(2, 6, &[1, 9])];
    run(&mut rows, cfg(1.0, 0.5));
    assert_eq!(shape(&rows), vec![(7, vec![1, 10]), (5, vec![1, 11])]);
    // P=0.1 on an unshared row: int(0.5) = 0 tokens → at least 1 token, one new id.
    let mut rows = vec![row(1, 5, &[1, 2])];
    run(&mut rows, cfg(1.0, 0.1));
    assert_eq!(shape(&rows), vec![(1, vec![3])]);
}

#[test]
fn fully_shared_partial_rows_and_rows_without_hashes() {
    // [1,2] at 6 tokens twice: the whole row is prefix (min(8, 6) = 6), prompt 0.
    // M=2: [2,3,4,5] → 16 tokens. A row without hash ids and a text row keep their input.
    let mut rows = vec![row(1, 6, &[1, 2]), row(2, 6, &[1, 2]), row(3, 7, &[])];
    rows.push(TraceRow {
        input: TraceInput::Text("hi".into()),
        ..row(4, 1, &[])
    });
    run(&mut rows, cfg(2.0, 1.0));
    assert_eq!(
        shape(&rows),
        vec![
            (16, vec![2, 3, 4, 5]),
            (16, vec![2, 3, 4, 5]),
            (7, vec![]),
            (0, vec![2])
        ]
    );
    // Only P set: the partial shared prefix is kept as is.
    let mut rows = vec![row(1, 6, &[1, 2]), row(2, 6, &[1, 2])];
    run(&mut rows, cfg(1.0, 3.0));
    assert_eq!(shape(&rows), vec![(6, vec![1, 2]), (6, vec![1, 2])]);
}

#[test]
fn prefix_root_multiplier_spreads_sessions_over_disjoint_trees() {
    // max id 3 → tree k adds 4k; rows of one session share the tree.
    let mut rows = vec![row(1, 8, &[1, 2]), row(2, 8, &[1, 3]), row(3, 8, &[1, 2])];
    rows[0].session_id = Some("s".into());
    rows[1].session_id = Some("s".into());
    let s = SynthesisConfig {
        prefix_root_multiplier: 3,
        ..Default::default()
    };
    synthesize(&mut rows, &s, 4, Some(5)).unwrap();
    let out = shape(&rows);
    let k0 = (out[0].1[0] - 1) / 4;
    assert!(k0 < 3);
    assert_eq!(out[0].1, vec![1 + 4 * k0, 2 + 4 * k0]);
    assert_eq!(out[1].1, vec![1 + 4 * k0, 3 + 4 * k0]);
    let k2 = (out[2].1[0] - 1) / 4;
    assert_eq!(out[2].1, vec![1 + 4 * k2, 2 + 4 * k2]);
    assert!(out.iter().all(|(n, _)| *n == 8), "lengths unchanged");

    // 3000 session-less rows of [0]: trees 0..3 each get ~1000 (binomial sd ≈ 26).
    let mut many: Vec<TraceRow> = (0..3000).map(|i| row(i, 4, &[0])).collect();
    synthesize(&mut many, &s, 4, Some(5)).unwrap();
    let mut counts = [0usize; 3];
    for (_, h) in shape(&many) {
        counts[h[0] as usize] += 1;
    }
    assert!(
        counts.iter().all(|&c| (880..=1120).contains(&c)),
        "{counts:?}"
    );
    // Seeded: reproducible.
    let mut again: Vec<TraceRow> = (0..3000).map(|i| row(i, 4, &[0])).collect();
    synthesize(&mut again, &s, 4, Some(5)).unwrap();
    assert_eq!(shape(&again), shape(&many));
}

#[test]
fn output_multiplier_rounds_half_to_even_then_caps() {
    let osl = |v: &[u64], s: SynthesisConfig| -> Vec<u64> {
        let mut rows: Vec<TraceRow> = v
            .iter()
            .enumerate()
            .map(|(i, &o)| TraceRow {
                output_length: Some(o),
                ..row(i, 4, &[1])
            })
            .collect();
        synthesize(&mut rows, &s, 4, Some(1)).unwrap();
        rows.iter().map(|r| r.output_length.unwrap()).collect()
    };
    let mult = SynthesisConfig {
        output_len_multiplier: 1.5,
        ..Default::default()
    };
    // 3*1.5 = 4.5 → 4 (even), 5*1.5 = 7.5 → 8, 1*1.5 = 1.5 → 2, 10 → 15.
    assert_eq!(osl(&[3, 5, 1, 10], mult), vec![4, 8, 2, 15]);
    let tiny = SynthesisConfig {
        output_len_multiplier: 0.1,
        ..Default::default()
    };
    assert_eq!(osl(&[1, 4, 15], tiny), vec![1, 1, 2]);
    let capped = SynthesisConfig {
        output_len_multiplier: 1.5,
        max_osl: Some(6),
        ..Default::default()
    };
    assert_eq!(osl(&[3, 5, 10], capped), vec![4, 6, 6]);
    let cap_only = SynthesisConfig {
        max_osl: Some(5),
        ..Default::default()
    };
    assert!(!cap_only.is_active());
    assert_eq!(osl(&[3, 5, 10], cap_only), vec![3, 5, 5]);
}

#[test]
fn max_isl_clamps_synthesized_rows_and_trims_hash_ids() {
    // M=2 turns r1 into 18 tokens / 5 ids; max_isl 12 → 12 tokens, ceil(12/4) = 3 ids.
    let mut rows = vec![row(1, 10, &[1, 2, 3]), row(2, 12, &[1, 2, 4])];
    let s = SynthesisConfig {
        prefix_len_multiplier: 2.0,
        max_isl: Some(12),
        ..Default::default()
    };
    run(&mut rows, s);
    assert_eq!(shape(&rows), vec![(12, vec![2, 3, 4]), (12, vec![2, 3, 4])]);
}

#[test]
fn filter_rows_window_and_max_isl() {
    let mut rows: Vec<TraceRow> = [50.0, 100.0, 150.0, 200.0, 250.0]
        .iter()
        .enumerate()
        .map(|(i, &ts)| TraceRow {
            timestamp: Some(ts),
            ..row(i + 1, 4 + i as u64, &[])
        })
        .collect();
    // Untimed follower of a dropped session row is dropped; of a kept one, kept;
    // untimed rows without a session are kept.
    let follower = |line, session: &str| TraceRow {
        timestamp: None,
        delay: Some(10.0),
        session_id: Some(session.into()),
        ..row(line, 4, &[])
    };
    rows[0].session_id = Some("early".into());
    rows[2].session_id = Some("mid".into());
    rows.push(follower(6, "early"));
    rows.push(follower(7, "mid"));
    rows.push(TraceRow {
        timestamp: None,
        ..row(8, 4, &[])
    });
    let kept: Vec<usize> = filter_rows(rows.clone(), Some(100), Some(200), None)
        .iter()
        .map(|r| r.line)
        .collect();
    assert_eq!(kept, vec![2, 3, 4, 7, 8], "bounds inclusive");
    let kept: Vec<usize> = filter_rows(rows.clone(), None, None, Some(6))
        .iter()
        .map(|r| r.line)
        .collect();
    assert_eq!(kept, vec![1, 2, 3, 6, 7, 8], "input_length 7 and 8 dropped");
    let text = TraceRow {
        input: TraceInput::Text("long".into()),
        ..row(9, 1, &[])
    };
    assert_eq!(
        filter_rows(vec![text], None, None, Some(1)).len(),
        1,
        "text rows have no input_length"
    );
}
