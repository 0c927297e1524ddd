//! Inter-arrival intervals of open-loop load (timing.md §3.2).

use aiperf_config::ArrivalPattern;
use rand::{rngs::StdRng, Rng};
use rand_distr::{Distribution, Exp, Gamma};

/// Draws the gaps between successive request arrivals.
pub struct Arrivals {
    pattern: ArrivalPattern,
    rate: f64,
    smoothness: f64,
    rng: StdRng,
}

impl Arrivals {
    /// Arrivals at `rate` req/s with the given pattern; `smoothness` is the gamma shape.
    pub fn new(pattern: ArrivalPattern, rate: f64, smoothness: f64, rng: StdRng) -> Self {
        Arrivals { pattern, rate, smoothness, rng }
    }

    /// The next interval in seconds.
    pub fn next_interval(&mut self) -> f64 {
        match self.pattern {
            ArrivalPattern::Constant => 1.0 / self.rate,
            ArrivalPattern::Poisson => Exp::new(self.rate).map(|d| d.sample(&mut self.rng)).unwrap_or(1.0 / self.rate),
            ArrivalPattern::Gamma => {
                let k = self.smoothness;
                Gamma::new(k, 1.0 / (self.rate * k)).map(|d| d.sample(&mut self.rng)).unwrap_or(1.0 / self.rate)
            }
            ArrivalPattern::ConcurrencyBurst => 0.0,
        }
    }

    /// A uniform draw in [0, 1) from the same stream (used by tests).
    pub fn uniform(&mut self) -> f64 {
        self.rng.random()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn stats(pattern: ArrivalPattern, k: f64) -> (f64, f64) {
        let mut a = Arrivals::new(pattern, 100.0, k, StdRng::seed_from_u64(42));
        let xs: Vec<f64> = (0..20_000).map(|_| a.next_interval()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn constant_poisson_and_gamma_have_the_right_mean_and_cv() {
        let (m, cv) = stats(ArrivalPattern::Constant, 1.0);
        assert!((m - 0.01).abs() < 1e-12 && cv < 1e-9);
        // Poisson: mean 1/R, CV 1. 20k samples: standard error of the mean ≈ 0.7 %.
        let (m, cv) = stats(ArrivalPattern::Poisson, 1.0);
        assert!((m - 0.01).abs() < 0.0003, "{m}");
        assert!((cv - 1.0).abs() < 0.03, "{cv}");
        // Gamma shape k: CV = 1/sqrt(k).
        let (m, cv) = stats(ArrivalPattern::Gamma, 4.0);
        assert!((m - 0.01).abs() < 0.0002, "{m}");
        assert!((cv - 0.5).abs() < 0.02, "{cv}");
        let (_, cv) = stats(ArrivalPattern::Gamma, 0.25);
        assert!((cv - 2.0).abs() < 0.1, "{cv}");
    }
}
