//! Clocks of aiperf-rs.
//!
//! Latencies are differences of [`mono_ns`] readings taken in one process; each
//! request also records one wall-clock anchor ([`wall_ns`]) so exported timestamps
//! can be derived as `anchor + (mono_x - mono_anchor)` (`docs/metrics.md` §1).

#![warn(missing_docs)]

pub mod punctual;
pub mod timer;

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since an arbitrary per-process origin.
#[inline]
pub fn mono_ns() -> u64 {
    origin().elapsed().as_nanos() as u64
}

/// The `Instant` of a [`mono_ns`] reading.
pub fn instant_of(mono: u64) -> Instant {
    origin() + std::time::Duration::from_nanos(mono)
}

/// Wall clock: nanoseconds since the Unix epoch.
#[inline]
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_is_monotonic_and_maps_to_instants() {
        let a = mono_ns();
        let b = mono_ns();
        assert!(b >= a);
        let i = instant_of(b);
        assert!(i <= Instant::now());
        assert!(wall_ns() > 1_700_000_000_000_000_000);
    }
}
