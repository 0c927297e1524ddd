//! Sleeps that end on time, at a bounded CPU cost.
//!
//! A plain [`crate::timer::sleep_until`] completes when the timer thread has woken
//! *and* the executor has polled the future again. On an idle virtual machine the
//! second hop alone is often 100–300 µs (a halted vCPU must be woken), far more than
//! the timer's own error. [`Punctual`] learns that latency as it goes (an
//! exponentially weighted average of how late its wakeups arrive) and asks the
//! timer to wake it that much early, then waits the rest by yielding to the
//! executor in a loop: an idle executor polls it again at once (a busy-wait that
//! costs only idle CPU), a busy one runs its other tasks in between, so a sleeper
//! does not hold up the responses being read on its thread. Only the last
//! [`FINAL_SPIN`] is busy-waited, so a due task is not sent to the back of the
//! queue at its deadline. The early wake is at most [`MAX_SPIN`] per sleep.
//!
//! ```
//! # async fn demo() {
//! use std::time::{Duration, Instant};
//! let punctual = aiperf_clock::punctual::Punctual::new();
//! let deadline = Instant::now() + Duration::from_millis(2);
//! punctual.sleep_until(deadline).await;
//! assert!(Instant::now() >= deadline);
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest early wake (and so the longest yield loop) of one sleep.
pub const MAX_SPIN: Duration = Duration::from_micros(300);

/// The last stretch before the deadline is busy-waited, not yielded: a yield can
/// put the task behind a queue of other tasks just when it is due.
pub const FINAL_SPIN: Duration = Duration::from_micros(50);

/// Weight of a new observation in the latency average, as a shift (1/8).
const EWMA_SHIFT: u32 = 3;

/// A sleeper that learns the wakeup latency of its executor (share it between the
/// tasks of one executor; it is `Sync`).
#[derive(Debug, Default)]
pub struct Punctual {
    /// Average wakeup latency in ns (0 until the first observation).
    latency_ns: AtomicU64,
}

impl Punctual {
    /// A sleeper with no latency learned yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current early-wake margin: 5/4 of the learned latency, at most [`MAX_SPIN`].
    pub fn margin(&self) -> Duration {
        let ns = self.latency_ns.load(Ordering::Relaxed);
        Duration::from_nanos(ns + ns / 4).min(MAX_SPIN)
    }

    /// Completes at `deadline` (never before), usually within a few µs of it.
    pub async fn sleep_until(&self, deadline: Instant) {
        let margin = self.margin();
        let wake_at = deadline.checked_sub(margin).unwrap_or(deadline);
        if Instant::now() < wake_at {
            crate::timer::sleep_until(wake_at).await;
            self.observe(Instant::now().saturating_duration_since(wake_at));
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if deadline - now <= FINAL_SPIN {
                while Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                break;
            }
            YieldNow(false).await;
        }
    }

    /// Folds one observed wakeup latency into the average.
    fn observe(&self, late: Duration) {
        let late = (late.as_nanos() as u64).min(4 * MAX_SPIN.as_nanos() as u64);
        let old = self.latency_ns.load(Ordering::Relaxed);
        let new = if old == 0 {
            late
        } else {
            old - (old >> EWMA_SHIFT) + (late >> EWMA_SHIFT)
        };
        self.latency_ns.store(new, Ordering::Relaxed);
    }
}

/// Returns `Pending` once after waking itself: the executor reschedules the task
/// behind whatever else is ready.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_follows_the_observed_latency_and_is_capped() {
        let p = Punctual::new();
        assert_eq!(p.margin(), Duration::ZERO);
        p.observe(Duration::from_micros(80));
        assert_eq!(p.margin(), Duration::from_micros(100));
        // 80 µs average, then 160 µs: 80 - 10 + 20 = 90 µs → margin 112.5 µs.
        p.observe(Duration::from_micros(160));
        assert_eq!(p.margin(), Duration::from_nanos(112_500));
        for _ in 0..100 {
            p.observe(Duration::from_millis(5));
        }
        assert_eq!(p.margin(), MAX_SPIN);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_completes_early() {
        let p = Punctual::new();
        for _ in 0..20 {
            let deadline = Instant::now() + Duration::from_millis(2);
            p.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        }
        assert!(p.margin() > Duration::ZERO, "latency was learned");
    }
}
