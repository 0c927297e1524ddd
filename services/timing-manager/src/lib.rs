//! The timing manager: the only service that decides when a request goes.
//! It runs the phases (warmup, then profiling), issues credits to workers,
//! enforces concurrency, and publishes phase events.

pub mod arrivals;
pub mod dispatch;
pub mod phase;
pub mod ramp;
pub mod sampler;
mod schedule;
pub mod service;
pub mod user_centric;

pub use service::TimingManager;

use rand::{SeedableRng, rngs::StdRng};

/// An independent RNG stream named `name`, derived from the run seed (or entropy).
pub fn rng(name: &str, seed: Option<u64>) -> StdRng {
    match seed {
        Some(s) => {
            // FNV-1a of the stream name mixed with the seed: streams differ, runs repeat.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in name.bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
            StdRng::seed_from_u64(h ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        }
        None => StdRng::from_os_rng(),
    }
}
