//! Inter-arrival intervals of open-loop load (`docs/load-modes.md` §2).

use aiperf_config::ArrivalPattern;
use rand::{Rng, rngs::StdRng};
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
        Arrivals {
            pattern,
            rate,
            smoothness,
            rng,
        }
    }

    /// The next interval in seconds.
    pub fn next_interval(&mut self) -> f64 {
        match self.pattern {
            ArrivalPattern::Constant => 1.0 / self.rate,
            ArrivalPattern::Poisson => Exp::new(self.rate)
                .map(|d| d.sample(&mut self.rng))
                .unwrap_or(1.0 / self.rate),
            ArrivalPattern::Gamma => {
                let k = self.smoothness;
                Gamma::new(k, 1.0 / (self.rate * k))
                    .map(|d| d.sample(&mut self.rng))
                    .unwrap_or(1.0 / self.rate)
            }
            ArrivalPattern::ConcurrencyBurst => 0.0,
        }
    }

    /// The current target rate (req/s).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes the target rate (request-rate ramp); later intervals use it.
    pub fn set_rate(&mut self, rate: f64) {
        self.rate = rate;
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
    /// Kolmogorov–Smirnov distance between the samples and a CDF.
    fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        let n = xs.len() as f64;
        xs.iter()
            .enumerate()
            .map(|(i, x)| {
                (cdf(*x) - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf(*x)).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn poisson_intervals_are_exponential_and_gamma_is_not() {
        // KS critical value at α = 0.001 for n = 20 000: 1.95/√n ≈ 0.0138.
        let rate = 50.0;
        let exp_cdf = |x: f64| 1.0 - (-rate * x).exp();
        let mut p = Arrivals::new(ArrivalPattern::Poisson, rate, 1.0, StdRng::seed_from_u64(7));
        let d = ks((0..20_000).map(|_| p.next_interval()).collect(), exp_cdf);
        assert!(d < 0.0138, "Poisson vs exponential: D = {d}");
        // Gamma with shape 1 is the same distribution; shape 4 is clearly not exponential.
        let mut g1 = Arrivals::new(ArrivalPattern::Gamma, rate, 1.0, StdRng::seed_from_u64(8));
        assert!(ks((0..20_000).map(|_| g1.next_interval()).collect(), exp_cdf) < 0.0138);
        let mut g4 = Arrivals::new(ArrivalPattern::Gamma, rate, 4.0, StdRng::seed_from_u64(9));
        assert!(ks((0..20_000).map(|_| g4.next_interval()).collect(), exp_cdf) > 0.1);
    }

    #[test]
    fn burstier_gamma_and_rate_changes() {
        // k = 0.5: CV = √2; mean still 1/R.
        let mut a = Arrivals::new(ArrivalPattern::Gamma, 20.0, 0.5, StdRng::seed_from_u64(3));
        let xs: Vec<f64> = (0..40_000).map(|_| a.next_interval()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let cv =
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt() / mean;
        assert!((mean - 0.05).abs() < 0.0015, "{mean}");
        assert!((cv - 2f64.sqrt()).abs() < 0.05, "{cv}");
        // set_rate applies to the next draws; the same seed gives the same stream.
        let mut b = Arrivals::new(
            ArrivalPattern::Constant,
            10.0,
            1.0,
            StdRng::seed_from_u64(1),
        );
        b.set_rate(40.0);
        assert_eq!((b.rate(), b.next_interval()), (40.0, 0.025));
        let mut x = Arrivals::new(ArrivalPattern::Poisson, 10.0, 1.0, StdRng::seed_from_u64(5));
        let mut y = Arrivals::new(ArrivalPattern::Poisson, 10.0, 1.0, StdRng::seed_from_u64(5));
        assert!((0..100).all(|_| x.next_interval() == y.next_interval()));
    }
}
