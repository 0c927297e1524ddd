//! Timeslices (`--slice-duration`, `docs/metrics.md` §11): the same summary computed per
//! fixed-length time window of a phase.
//!
//! Rules (AIPerf 0.13): the grid starts at the earliest request start of all
//! records (valid and error); it has `n = floor((last − first_start) / S) + 1`
//! slices of length `S`, where `last` is the latest request end (or start) of any
//! record; each record belongs, whole, to the slice containing its **request
//! start**; empty slices are skipped (the list stays dense); a slice whose grid
//! end lies beyond `last` is clipped to `last` and flagged incomplete.
//! Throughputs inside a slice are divided by the slice's (clipped) window length;
//! every other metric is computed exactly like the phase summary. Arithmetic is
//! exact integer nanoseconds.
//!
//! Memory: the slices are summarised in batches whose values fit the
//! accumulator's spill budget (a slice larger than the budget is a batch of its
//! own); each batch reads the rows and the columns (from memory or the spill
//! file) once. Besides the batch, 8 bytes per record (its slice) are held.

use crate::context::MetricContext;
use crate::stats::ValueSet;
use crate::summary::{Column, Denominator, RowTotals, SummaryAccumulator};
use aiperf_protocol::results::PhaseResults;
use std::collections::BTreeMap;

/// The results of one time window.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeslice {
    /// Window start, wall-clock ns (inclusive).
    pub start_ns: u64,
    /// Window end, wall-clock ns (exclusive; clipped for the last slice).
    pub end_ns: u64,
    /// `false` for a slice clipped at the end of the run.
    pub is_complete: bool,
    /// Metrics of the records that started in the window (its `start_ns` and
    /// `end_ns` are the window bounds).
    pub results: PhaseResults,
}

/// The records of one slice: totals of its rows, and per column (then per
/// derived distribution) the values those rows own.
#[derive(Default)]
struct SliceRecords {
    totals: RowTotals,
    columns: Vec<Vec<f64>>,
    derived: [Vec<f64>; 2],
}

impl SummaryAccumulator {
    /// Splits the records into `slice_duration_ns` windows and summarises each
    /// non-empty one (see the module docs). Empty when there are no records or
    /// the duration is 0.
    ///
    /// # Panics
    /// On an accumulator made with [`SummaryAccumulator::without_timeslices`].
    pub fn timeslices(&self, ctx: &MetricContext, slice_duration_ns: u64) -> Vec<Timeslice> {
        let rows = self
            .rows
            .as_ref()
            .expect("timeslices of an accumulator made without them");
        let s = slice_duration_ns;
        if self.is_empty() || s == 0 {
            return Vec::new();
        }
        let first = self.totals.first_start.unwrap_or(0);
        let mut last = first;
        rows.for_each(|r| last = last.max(r.start_ns.max(r.end_ns)));
        // The slice of every record, and the values each non-empty slice holds.
        let mut slice_of: Vec<u64> = Vec::with_capacity(rows.len());
        rows.for_each(|r| slice_of.push((r.start_ns - first) / s));
        let mut weight: BTreeMap<u64, usize> = BTreeMap::new();
        for k in &slice_of {
            *weight.entry(*k).or_default() += 1;
        }
        for col in self.columns.iter().chain(&self.derived) {
            col.for_each_owned(|_, owner| {
                *weight.entry(slice_of[owner as usize]).or_default() += 1;
            });
        }
        // Batches of consecutive slices whose values fit the budget (8 bytes each).
        let budget = self.spill_budget().max(1);
        let mut batches: Vec<Vec<u64>> = Vec::new();
        let mut used = usize::MAX;
        for (k, w) in &weight {
            let bytes = w.saturating_mul(8);
            if used.saturating_add(bytes) > budget || batches.is_empty() {
                batches.push(Vec::new());
                used = 0;
            }
            used = used.saturating_add(bytes);
            batches.last_mut().expect("a batch").push(*k);
        }
        drop(weight);

        let mut out = Vec::new();
        for keys in batches {
            let (lo, hi) = (keys[0], keys[keys.len() - 1]);
            let mut by_slice: BTreeMap<u64, SliceRecords> = keys
                .iter()
                .map(|k| {
                    let rec = SliceRecords {
                        columns: vec![Vec::new(); self.columns.len()],
                        ..SliceRecords::default()
                    };
                    (*k, rec)
                })
                .collect();
            let mut idx = 0usize;
            rows.for_each(|r| {
                let k = slice_of[idx];
                idx += 1;
                if (lo..=hi).contains(&k) {
                    by_slice.get_mut(&k).expect("a slice").totals.add(&r);
                }
            });
            let mut collect = |col: &Column, pick: &dyn Fn(&mut SliceRecords) -> &mut Vec<f64>| {
                col.for_each_owned(|v, owner| {
                    let k = slice_of[owner as usize];
                    if (lo..=hi).contains(&k) {
                        pick(by_slice.get_mut(&k).expect("a slice")).push(v);
                    }
                });
            };
            for (ci, col) in self.columns.iter().enumerate() {
                collect(col, &|rec| &mut rec.columns[ci]);
            }
            for (di, col) in self.derived.iter().enumerate() {
                collect(col, &|rec| &mut rec.derived[di]);
            }
            for (k, rec) in by_slice {
                let start = first + k * s;
                let grid_end = start.saturating_add(s);
                let is_complete = grid_end <= last;
                let end = if is_complete { grid_end } else { last };
                let columns: Vec<(&Column, &dyn ValueSet)> = self
                    .columns
                    .iter()
                    .zip(&rec.columns)
                    .map(|(c, v)| (c, v as &dyn ValueSet))
                    .collect();
                let results = self.summarize(
                    &rec.totals,
                    &columns,
                    [&rec.derived[0], &rec.derived[1]],
                    ctx,
                    Denominator::Window(end - start),
                    start,
                    end,
                );
                out.push(Timeslice {
                    start_ns: start,
                    end_ns: end,
                    is_complete,
                    results,
                });
            }
        }
        out
    }
}
