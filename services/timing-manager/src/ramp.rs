//! Ramp-up of limits and rates (`docs/load-modes.md` §7).
//!
//! * Concurrency (and prefill concurrency) ramps are **stepped**: the limit starts
//!   at 1 and value `k` applies from `S·(k−1)/(target−1)` seconds on.
//! * The request-rate ramp is **continuous**, updated every [`RATE_RAMP_STEP`]:
//!   `R·0.1/S` at the start, growing linearly to `R` at `S`.

use std::time::Duration;

/// Update period of the request-rate ramp.
pub const RATE_RAMP_STEP: Duration = Duration::from_millis(100);

/// A stepped limit ramp from 1 to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRamp {
    /// Final limit.
    pub target: usize,
    /// Time to reach it.
    pub duration: Duration,
}

impl StepRamp {
    /// The limit `elapsed` after the phase start.
    pub fn limit_at(&self, elapsed: Duration) -> usize {
        if self.target <= 1 || elapsed >= self.duration {
            return self.target;
        }
        let steps = (self.target - 1) as f64;
        // Value k applies at S·(k−1)/steps; the epsilon absorbs float rounding at the step.
        let k = 1
            + (elapsed.as_secs_f64() / self.duration.as_secs_f64() * steps + 1e-9).floor() as usize;
        k.min(self.target)
    }

    /// When the limit next changes (elapsed time since the phase start), if it does.
    pub fn next_change(&self, elapsed: Duration) -> Option<Duration> {
        let now = self.limit_at(elapsed);
        if now >= self.target {
            return None;
        }
        let steps = (self.target - 1) as f64;
        Some(self.duration.mul_f64(now as f64 / steps))
    }
}

/// A linear request-rate ramp to `target` req/s over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRamp {
    /// Final rate (req/s).
    pub target: f64,
    /// Time to reach it.
    pub duration: Duration,
}

impl RateRamp {
    /// The rate in force `elapsed` after the phase start (constant within each step).
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let step = RATE_RAMP_STEP.as_secs_f64();
        let n = (elapsed.as_secs_f64() / step + 1e-9).floor() + 1.0;
        self.target * (n * step / self.duration.as_secs_f64()).min(1.0)
    }

    /// When the rate next changes, if it does.
    pub fn next_change(&self, elapsed: Duration) -> Option<Duration> {
        if self.rate_at(elapsed) >= self.target {
            return None;
        }
        let step = RATE_RAMP_STEP.as_secs_f64();
        let n = (elapsed.as_secs_f64() / step + 1e-9).floor() + 1.0;
        Some(Duration::from_secs_f64(n * step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_ramp_steps_evenly_from_one_to_target() {
        let r = StepRamp {
            target: 5,
            duration: Duration::from_secs(4),
        };
        // Value k at S·(k−1)/(target−1) = k−1 seconds.
        let at = |s: f64| r.limit_at(Duration::from_secs_f64(s));
        assert_eq!(
            [
                at(0.0),
                at(0.99),
                at(1.0),
                at(2.5),
                at(3.0),
                at(3.999),
                at(4.0),
                at(100.0)
            ],
            [1, 1, 2, 3, 4, 4, 5, 5]
        );
        assert_eq!(r.next_change(Duration::ZERO), Some(Duration::from_secs(1)));
        assert_eq!(
            r.next_change(Duration::from_millis(2500)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(r.next_change(Duration::from_secs(4)), None);
        let one = StepRamp {
            target: 1,
            duration: Duration::from_secs(4),
        };
        assert_eq!(
            (
                one.limit_at(Duration::ZERO),
                one.next_change(Duration::ZERO)
            ),
            (1, None)
        );
    }

    #[test]
    fn rate_ramp_is_linear_in_tenth_of_a_second_steps() {
        let r = RateRamp {
            target: 100.0,
            duration: Duration::from_secs(2),
        };
        let at = |s: f64| r.rate_at(Duration::from_secs_f64(s));
        assert!((at(0.0) - 5.0).abs() < 1e-9, "starts at R·0.1/S");
        assert!((at(0.05) - 5.0).abs() < 1e-9);
        assert!((at(0.1) - 10.0).abs() < 1e-9);
        assert!((at(1.0) - 55.0).abs() < 1e-9);
        assert!((at(1.9) - 100.0).abs() < 1e-9);
        assert_eq!(at(5.0), 100.0);
        assert_eq!(
            r.next_change(Duration::from_millis(1050)),
            Some(Duration::from_millis(1100))
        );
        assert_eq!(r.next_change(Duration::from_secs(2)), None);
    }
}
