//! Rebuilding a run's results from `profile_export.jsonl` when the records
//! manager died (or never answered) before sending them. The file is the durable
//! record of the run: the records manager writes each record's line as it
//! arrives and flushes them to disk every 250 ms, so what it had folded into its
//! summaries is on disk but for the last fraction of a second.
//!
//! The lines are read back into the same collector the records manager uses
//! (`Collector`, with no file of its own), so the rebuilt summary is computed by
//! the same code as a normal one. The metrics a line leaves out (internal and
//! experimental ones, outside `--dev-mode`) are absent from it.

use crate::jsonl::parse_line;
use crate::service::Collector;
use aiperf_config::{ExportLevel, ProfileConfig};
use aiperf_export::artifacts::ArtifactPaths;
use aiperf_protocol::{
    Phase,
    events::{Event, PhaseStats},
    results::ProfileResults,
};
use std::io::BufRead;

/// Results rebuilt from the per-request file.
#[derive(Debug)]
pub struct Recovered {
    /// The results (marked cancelled: the run did not end normally).
    pub results: ProfileResults,
    /// Lines read back.
    pub lines: u64,
    /// Lines that could not be read (a line cut short by the kill), skipped.
    pub unreadable: u64,
}

/// Rebuilds the results of `config`'s run from its `profile_export.jsonl`, with the
/// phase counters the controller saw (`phases`: the timing manager's latest
/// [`PhaseStats`] of each phase, `complete` when the phase ended). Also writes
/// the timeslice files when `--slice-duration` asks for them.
pub fn results_from_jsonl(
    config: &ProfileConfig,
    phases: &[(Phase, PhaseStats, bool)],
) -> Result<Recovered, String> {
    if config.export_level == ExportLevel::Summary {
        return Err(
            "--export-level summary writes no per-request file to rebuild them from".into(),
        );
    }
    let path = ArtifactPaths::from_config(config).records_jsonl;
    let file =
        std::fs::File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut collector = Collector::open(config, false)?;
    for (phase, stats, complete) in phases {
        let ev = if *complete {
            Event::PhaseComplete {
                phase: *phase,
                stats: stats.clone(),
            }
        } else {
            Event::PhaseProgress {
                phase: *phase,
                stats: stats.clone(),
            }
        };
        collector.on_event(&ev);
    }
    let (mut lines, mut unreadable) = (0, 0);
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(record) => {
                lines += 1;
                // No file of its own: adding cannot fail.
                let _ = collector.add(record);
            }
            Err(e) => {
                unreadable += 1;
                tracing::warn!("{}: skipping an unreadable line: {e}", path.display());
            }
        }
    }
    Ok(Recovered {
        results: collector.results(true),
        lines,
        unreadable,
    })
}
