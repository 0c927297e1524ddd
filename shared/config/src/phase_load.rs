//! The load plan of a run, fully resolved: one [`PhaseLoad`] per phase (warmup
//! when asked for, then profiling), built from the top-level options, `load` and
//! `load.warmup` in one place. The timing manager runs these as they are.
//!
//! Mode priority (`docs/load-modes.md`): fixed schedule > user-centric > request
//! rate > concurrency only.

use crate::{ArrivalPattern, ProfileConfig};
use aiperf_protocol::{LoadMode, Phase};
use std::time::Duration;

/// Open-loop arrivals of a request-rate phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLoad {
    /// Inter-arrival distribution (never `concurrency_burst`).
    pub pattern: ArrivalPattern,
    /// Target rate (req/s).
    pub rate: f64,
    /// Gamma shape (`--arrival-smoothness`).
    pub smoothness: f64,
    /// Linear ramp of the rate (`--request-rate-ramp-duration`).
    pub ramp: Option<Duration>,
}

/// How a phase decides send times, with the parameters of that mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Closed loop: a new session as soon as a session slot frees.
    ClosedLoop,
    /// Open-loop rate ticks.
    Rate(RateLoad),
    /// Trace replay: every conversation once, at its timestamps.
    FixedSchedule,
    /// User-centric rate: `rate` req/s over `num_users` users.
    UserCentric {
        /// Total rate Q (req/s).
        rate: f64,
        /// Number of users U.
        num_users: usize,
    },
}

impl Pacing {
    /// The mode's name as it travels in phase events and exports.
    pub fn mode(&self) -> LoadMode {
        match self {
            Pacing::ClosedLoop => LoadMode::Concurrency,
            Pacing::Rate(_) => LoadMode::RequestRate,
            Pacing::FixedSchedule => LoadMode::FixedSchedule,
            Pacing::UserCentric { .. } => LoadMode::UserCentric,
        }
    }
}

/// Request cancellation (`--request-cancellation-rate/-delay`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cancellation {
    /// Probability that a credit is cancelled (0–1).
    pub probability: f64,
    /// Delay after the request was fully sent (ns).
    pub delay_ns: u64,
}

/// Everything one phase needs, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseLoad {
    /// Which phase.
    pub phase: Phase,
    /// Scheduling mode and its parameters.
    pub pacing: Pacing,
    /// Max concurrent sessions (`None` = unlimited).
    pub concurrency: Option<usize>,
    /// Ramp of the session limit from 1 to `concurrency`.
    pub concurrency_ramp: Option<Duration>,
    /// Max requests waiting for their first token (`None` = unlimited).
    pub prefill_concurrency: Option<usize>,
    /// Ramp of the prefill limit.
    pub prefill_ramp: Option<Duration>,
    /// Requests (turns) to send.
    pub request_count: Option<u64>,
    /// Sessions to start (their remaining turns are still sent).
    pub session_count: Option<u64>,
    /// Sending window.
    pub duration: Option<Duration>,
    /// Wait for stragglers after the window (`None` = forever).
    pub grace: Option<Duration>,
    /// Request cancellation (profiling only).
    pub cancellation: Option<Cancellation>,
}

impl PhaseLoad {
    /// A closed-loop phase with only the essentials set (tests, simple runs).
    pub fn closed_loop(
        phase: Phase,
        concurrency: Option<usize>,
        request_count: Option<u64>,
    ) -> Self {
        PhaseLoad {
            phase,
            pacing: Pacing::ClosedLoop,
            concurrency,
            concurrency_ramp: None,
            prefill_concurrency: None,
            prefill_ramp: None,
            request_count,
            session_count: None,
            duration: None,
            grace: None,
            cancellation: None,
        }
    }
}

fn secs(s: Option<f64>) -> Option<Duration> {
    s.filter(|x| x.is_finite() && *x >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Rate pacing at `rate` (closed loop without one); `concurrency_burst` with a
/// rate means poisson.
fn rate_pacing(
    pattern: ArrivalPattern,
    rate: Option<f64>,
    smoothness: f64,
    ramp: Option<f64>,
) -> Pacing {
    let Some(rate) = rate else {
        return Pacing::ClosedLoop;
    };
    let pattern = if pattern == ArrivalPattern::ConcurrencyBurst {
        ArrivalPattern::Poisson
    } else {
        pattern
    };
    Pacing::Rate(RateLoad {
        pattern,
        rate,
        smoothness,
        ramp: secs(ramp),
    })
}

impl ProfileConfig {
    /// The phases of the run: warmup (when asked for), then profiling. `trace` says
    /// whether the dataset is a timestamped trace (the dataset manager decides,
    /// from the file and `--fixed-schedule`): then profiling replays it.
    pub fn phases(&self, trace: bool) -> Vec<PhaseLoad> {
        let mut phases = Vec::new();
        if self.warmup_enabled() {
            phases.push(self.warmup_phase());
        }
        phases.push(self.profiling_phase(trace));
        phases
    }

    /// Whether some phase limits prefill concurrency (workers then report first tokens).
    pub fn limits_prefill(&self) -> bool {
        self.phases(false)
            .iter()
            .any(|p| p.prefill_concurrency.is_some())
    }

    /// Warmup always paces by rate or closed loop, with its own overrides.
    fn warmup_phase(&self) -> PhaseLoad {
        let load = &self.load;
        let w = &load.warmup;
        let pattern = w.arrival_pattern.unwrap_or(self.arrival_pattern);
        let pacing = if pattern == ArrivalPattern::ConcurrencyBurst && w.request_rate.is_none() {
            Pacing::ClosedLoop
        } else {
            rate_pacing(
                pattern,
                w.request_rate.or(self.request_rate),
                self.arrival_smoothness,
                w.request_rate_ramp_s.or(load.request_rate_ramp_s),
            )
        };
        // A closed loop needs a limit: one session unless told otherwise.
        let concurrency = w
            .concurrency
            .or(self.concurrency)
            .or(if pacing == Pacing::ClosedLoop {
                Some(1)
            } else {
                None
            });
        PhaseLoad {
            phase: Phase::Warmup,
            pacing,
            concurrency,
            concurrency_ramp: secs(w.concurrency_ramp_s.or(load.concurrency_ramp_s)),
            prefill_concurrency: w.prefill_concurrency.or(load.prefill_concurrency),
            prefill_ramp: secs(
                w.prefill_concurrency_ramp_s
                    .or(load.prefill_concurrency_ramp_s),
            ),
            request_count: (self.warmup_request_count > 0).then_some(self.warmup_request_count),
            session_count: w.num_sessions,
            duration: secs(w.duration_s),
            grace: secs(w.grace_period_s),
            cancellation: None,
        }
    }

    fn profiling_phase(&self, trace: bool) -> PhaseLoad {
        let load = &self.load;
        let pacing = if trace {
            Pacing::FixedSchedule
        } else if let (Some(rate), Some(num_users)) = (load.user_centric_rate, load.num_users) {
            Pacing::UserCentric { rate, num_users }
        } else {
            rate_pacing(
                self.arrival_pattern,
                self.request_rate
                    .filter(|_| self.arrival_pattern != ArrivalPattern::ConcurrencyBurst),
                self.arrival_smoothness,
                load.request_rate_ramp_s,
            )
        };
        // Slot ramps apply to the closed loop and rate modes only.
        let ramps = matches!(pacing, Pacing::ClosedLoop | Pacing::Rate(_));
        PhaseLoad {
            phase: Phase::Profiling,
            pacing,
            // A replay is open loop: only a --concurrency the user gave caps it.
            concurrency: if trace && self.concurrency_defaulted {
                None
            } else {
                self.concurrency
            },
            concurrency_ramp: secs(load.concurrency_ramp_s).filter(|_| ramps),
            prefill_concurrency: load.prefill_concurrency,
            prefill_ramp: secs(load.prefill_concurrency_ramp_s).filter(|_| ramps),
            // A fixed schedule sends every row of the trace.
            request_count: if trace { None } else { self.request_count },
            session_count: if trace { None } else { self.num_sessions() },
            duration: secs(self.benchmark_duration_s),
            grace: secs(Some(self.benchmark_grace_period_s)),
            cancellation: load
                .request_cancellation_rate
                .filter(|p| *p > 0.0)
                .map(|p| Cancellation {
                    probability: p / 100.0,
                    delay_ns: (load.request_cancellation_delay_s * 1e9).round() as u64,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, ProfileArgs, resolve};

    fn config(a: ProfileArgs) -> ProfileConfig {
        let ctx = Context {
            cpus: 2,
            stdout_is_tty: false,
            cli_command: "aiperf-rs profile".into(),
        };
        resolve(
            &ProfileArgs {
                models: Some(vec!["m".into()]),
                ..a
            },
            &ctx,
        )
        .unwrap()
    }

    #[test]
    fn warmup_inherits_profiling_load_unless_overridden() {
        let c = config(ProfileArgs {
            request_rate: Some(vec![5.0]),
            arrival_pattern: Some(ArrivalPattern::Constant),
            concurrency: Some(vec![4]),
            warmup_request_count: Some(3),
            request_count: Some(20),
            ..Default::default()
        });
        let phases = c.phases(false);
        assert_eq!(phases.len(), 2);
        let (w, p) = (&phases[0], &phases[1]);
        assert_eq!(w.phase, Phase::Warmup);
        assert_eq!(p.phase, Phase::Profiling);
        let rate = Pacing::Rate(RateLoad {
            pattern: ArrivalPattern::Constant,
            rate: 5.0,
            smoothness: c.arrival_smoothness,
            ramp: None,
        });
        assert_eq!((w.pacing, p.pacing), (rate, rate));
        assert_eq!((w.concurrency, p.concurrency), (Some(4), Some(4)));
        assert_eq!((w.request_count, p.request_count), (Some(3), Some(20)));
        assert_eq!(p.pacing.mode(), LoadMode::RequestRate);
    }

    #[test]
    fn a_burst_warmup_is_a_closed_loop_of_one_session_at_least() {
        let c = config(ProfileArgs {
            request_rate: Some(vec![10.0]),
            warmup_request_count: Some(2),
            warmup_arrival_pattern: Some(ArrivalPattern::ConcurrencyBurst),
            ..Default::default()
        });
        let w = &c.phases(false)[0];
        assert_eq!(w.pacing, Pacing::ClosedLoop);
        assert_eq!(w.concurrency, Some(1));
        assert_eq!(w.pacing.mode(), LoadMode::Concurrency);
    }

    #[test]
    fn a_trace_replays_every_row_without_the_default_concurrency() {
        let c = config(ProfileArgs::default());
        assert!(c.concurrency_defaulted);
        let p = &c.phases(true)[0];
        assert_eq!(p.pacing, Pacing::FixedSchedule);
        assert_eq!((p.concurrency, p.request_count), (None, None));
        let p = &c.phases(false)[0];
        assert_eq!(p.pacing, Pacing::ClosedLoop);
        assert_eq!(p.concurrency, c.concurrency);
    }

    #[test]
    fn user_centric_and_cancellation_are_resolved() {
        let c = config(ProfileArgs {
            user_centric_rate: Some(2.0),
            num_users: Some(4),
            conversation_turn_mean: Some(3.0),
            benchmark_duration: Some(5.0),
            request_cancellation_rate: Some(25.0),
            request_cancellation_delay: Some(1.5),
            ..Default::default()
        });
        let p = &c.phases(false)[0];
        assert_eq!(
            p.pacing,
            Pacing::UserCentric {
                rate: 2.0,
                num_users: 4
            }
        );
        assert_eq!(p.duration, Some(Duration::from_secs(5)));
        assert_eq!(p.grace, None, "user-centric waits for every response");
        assert_eq!(
            p.cancellation,
            Some(Cancellation {
                probability: 0.25,
                delay_ns: 1_500_000_000
            })
        );
        assert!(!c.limits_prefill());
    }
}
