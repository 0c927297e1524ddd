//! Which dataset conversation the next session uses.

use aiperf_protocol::dataset::SamplingStrategy;
use rand::{Rng, rngs::StdRng, seq::SliceRandom};

/// Draws conversation indices with a sampling strategy.
pub struct Sampler {
    strategy: SamplingStrategy,
    len: usize,
    order: Vec<usize>,
    pos: usize,
    rng: StdRng,
}

impl Sampler {
    /// A sampler over `len` conversations.
    pub fn new(strategy: SamplingStrategy, len: usize, rng: StdRng) -> Self {
        let mut s = Sampler {
            strategy,
            len,
            order: (0..len).collect(),
            pos: 0,
            rng,
        };
        if strategy == SamplingStrategy::Shuffle {
            s.order.shuffle(&mut s.rng);
        }
        s
    }

    /// Index of the next conversation.
    pub fn next_index(&mut self) -> usize {
        match self.strategy {
            SamplingStrategy::Sequential => {
                let i = self.pos % self.len;
                self.pos += 1;
                i
            }
            SamplingStrategy::Random => self.rng.random_range(0..self.len),
            SamplingStrategy::Shuffle => {
                if self.pos == self.len {
                    self.order.shuffle(&mut self.rng);
                    self.pos = 0;
                }
                let i = self.order[self.pos];
                self.pos += 1;
                i
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn shuffle_visits_each_once_per_round() {
        let mut s = Sampler::new(SamplingStrategy::Shuffle, 5, StdRng::seed_from_u64(1));
        let mut round: Vec<usize> = (0..5).map(|_| s.next_index()).collect();
        round.sort();
        assert_eq!(round, vec![0, 1, 2, 3, 4]);
        let mut round: Vec<usize> = (0..5).map(|_| s.next_index()).collect();
        round.sort();
        assert_eq!(round, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn sequential_wraps() {
        let mut s = Sampler::new(SamplingStrategy::Sequential, 3, StdRng::seed_from_u64(1));
        assert_eq!(
            (0..7).map(|_| s.next_index()).collect::<Vec<_>>(),
            vec![0, 1, 2, 0, 1, 2, 0]
        );
    }
}
