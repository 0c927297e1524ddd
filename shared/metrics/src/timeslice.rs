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

use crate::context::MetricContext;
use crate::summary::{Column, Denominator, Row, SummaryAccumulator};
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

/// The rows of one slice and, per column, the values those rows own.
type SliceRecords<'a> = (Vec<&'a Row>, Vec<(&'a Column, Vec<f64>)>);

impl SummaryAccumulator {
    /// Splits the records into `slice_duration_ns` windows and summarises each
    /// non-empty one (see the module docs). Empty when there are no records or
    /// the duration is 0.
    ///
    /// # Panics
    /// On an accumulator made with [`SummaryAccumulator::without_timeslices`].
    pub fn timeslices(&self, ctx: &MetricContext, slice_duration_ns: u64) -> Vec<Timeslice> {
        assert!(
            self.keeps_timeslices(),
            "timeslices of an accumulator made without them"
        );
        let s = slice_duration_ns;
        if self.rows.is_empty() || s == 0 {
            return Vec::new();
        }
        let first = self.rows.iter().map(|r| r.start_ns).min().unwrap_or(0);
        let last = self
            .rows
            .iter()
            .map(|r| r.start_ns.max(r.end_ns))
            .max()
            .unwrap_or(first);
        let slice_of = |r: &Row| (r.start_ns - first) / s;

        // Partition rows and column values by slice in one pass each. Only
        // non-empty slices are materialised, so a tiny slice duration over a long
        // run costs memory in proportion to the records, not to the grid.
        let mut by_slice: BTreeMap<u64, SliceRecords<'_>> = BTreeMap::new();
        for r in &self.rows {
            by_slice
                .entry(slice_of(r))
                .or_insert_with(|| {
                    (
                        Vec::new(),
                        self.columns.iter().map(|c| (c, Vec::new())).collect(),
                    )
                })
                .0
                .push(r);
        }
        for (ci, col) in self.columns.iter().enumerate() {
            for (v, owner) in col.values.iter().zip(&col.owners) {
                let k = slice_of(&self.rows[*owner as usize]);
                if let Some((_, values)) = by_slice.get_mut(&k) {
                    values[ci].1.push(*v);
                }
            }
        }

        let mut out = Vec::with_capacity(by_slice.len());
        for (k, (rows, values)) in by_slice {
            let start = first + k * s;
            let grid_end = start.saturating_add(s);
            let is_complete = grid_end <= last;
            let end = if is_complete { grid_end } else { last };
            let results = self.summarize(
                &rows,
                &values,
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
        out
    }
}
