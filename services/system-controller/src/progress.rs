//! Progress display driven by bus events: bars on a terminal (`--ui simple`), a
//! log line every few seconds otherwise (`--ui none`, for CI logs).

use aiperf_config::UiType;
use aiperf_protocol::{Phase, events::Event};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The run's progress display.
pub struct Progress {
    ui: UiType,
    multi: MultiProgress,
    bars: Vec<(Phase, ProgressBar, ProgressBar)>,
    last_line: Instant,
    /// Error records per phase (the records manager's count: it includes the
    /// errors found while parsing responses, which no credit return reports).
    record_errors: HashMap<Phase, u64>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Progress {
    /// A display of the given kind.
    pub fn new(ui: UiType) -> Self {
        Progress {
            ui,
            multi: MultiProgress::new(),
            bars: Vec::new(),
            last_line: Instant::now(),
            record_errors: HashMap::new(),
        }
    }

    fn bars_for(&mut self, phase: Phase, total: Option<u64>) -> &(Phase, ProgressBar, ProgressBar) {
        if !self.bars.iter().any(|(p, _, _)| *p == phase) {
            let style = ProgressStyle::with_template("{prefix:>20} {bar:36.cyan/blue} {pos:>7}/{len:7} {per_sec:>10} [{elapsed_precise}<{eta}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
            let sent = self.multi.add(
                ProgressBar::new(total.unwrap_or(0))
                    .with_style(style.clone())
                    .with_prefix(format!("{} requests", phase.as_str())),
            );
            let recs = self.multi.add(
                ProgressBar::new(total.unwrap_or(0))
                    .with_style(style)
                    .with_prefix(format!("{} records", phase.as_str())),
            );
            self.bars.push((phase, sent, recs));
        }
        self.bars
            .iter()
            .find(|(p, _, _)| *p == phase)
            .expect("inserted")
    }

    /// Updates the display from a bus event.
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::PhaseStarted { phase, stats }
            | Event::PhaseProgress { phase, stats }
            | Event::PhaseSendingComplete { phase, stats }
            | Event::PhaseComplete { phase, stats } => {
                let total = stats.expected_requests;
                let errors = self.errors(*phase, stats.errors);
                let mut line = format!(
                    "{}: {} sent, {} completed, {} in flight, {errors} errors",
                    phase.as_str(),
                    stats.sent,
                    stats.completed,
                    stats.in_flight,
                );
                if stats.cancelled > 0 {
                    line.push_str(&format!(", {} cancelled", stats.cancelled));
                }
                match self.ui {
                    UiType::Simple | UiType::Dashboard => {
                        let (_, sent, _) = self.bars_for(*phase, total);
                        sent.set_length(total.unwrap_or(stats.sent).max(stats.sent));
                        sent.set_position(stats.completed + stats.cancelled);
                        sent.set_message(format!("{} in flight, {errors} errors", stats.in_flight));
                    }
                    UiType::None => {
                        let important =
                            matches!(ev, Event::PhaseStarted { .. } | Event::PhaseComplete { .. });
                        if important || self.last_line.elapsed() >= LINE_INTERVAL {
                            self.last_line = Instant::now();
                            eprintln!("[aiperf-rs] {line}");
                        }
                    }
                }
            }
            Event::RecordsProgress {
                phase,
                records,
                errors,
            } => {
                self.record_errors.insert(*phase, *errors);
                if matches!(self.ui, UiType::Simple | UiType::Dashboard) {
                    let (_, sent, recs) = self.bars_for(*phase, None);
                    recs.set_length(sent.length().unwrap_or(0).max(*records));
                    recs.set_position(*records);
                    recs.set_message(format!("{errors} error records"));
                }
            }
            _ => {}
        }
    }

    /// The live error count of `phase`: the larger of the errors the credits
    /// reported (`credit_errors`, failed requests) and the error records (which add
    /// the responses that failed to parse, counted a little later).
    fn errors(&self, phase: Phase, credit_errors: u64) -> u64 {
        credit_errors.max(self.record_errors.get(&phase).copied().unwrap_or(0))
    }

    /// Clears the bars before the results are printed.
    pub fn finish(&mut self) {
        for (_, a, b) in self.bars.drain(..) {
            a.finish_and_clear();
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_count_includes_errors_found_while_parsing() {
        let mut p = Progress::new(UiType::None);
        // 2 failed requests reported by their credits.
        assert_eq!(p.errors(Phase::Profiling, 2), 2);
        // The records manager counted 5 error records (3 responses did not parse).
        p.on_event(&Event::RecordsProgress {
            phase: Phase::Profiling,
            records: 40,
            errors: 5,
        });
        assert_eq!(p.errors(Phase::Profiling, 2), 5);
        assert_eq!(p.errors(Phase::Warmup, 1), 1);
        // Credits ahead of the records: the credits' count.
        assert_eq!(p.errors(Phase::Profiling, 7), 7);
    }
}
