//! A precise async timer, independent of the async runtime.
//!
//! Tokio's timer wheel has a 1 ms resolution, which is too coarse to replay
//! inter-token latencies of a few milliseconds or to issue requests on a precise
//! schedule. This module keeps **one dedicated OS thread per process** that owns a
//! binary heap of `(deadline, waker)` entries and blocks on a condition variable
//! with `wait_timeout` until the earliest deadline, then wakes every due future.
//! On Linux the thread's timer slack is set to 1 ns (`PR_SET_TIMERSLACK`), so
//! wakeups are typically accurate to ~10 µs (plus the executor's scheduling delay).
//!
//! * Registering a timer costs one small allocation, one short mutex section and a
//!   condvar notification only when the new deadline is earlier than the earliest
//!   pending one.
//! * The futures work with any executor (they only use [`Waker`]s).
//! * Futures are cancel-safe: dropping a [`Sleep`] marks its heap entry stale and
//!   releases its waker immediately; stale entries are skipped when due, and the
//!   heap is compacted when more than half of it is stale, so cancelled timers with
//!   far deadlines cannot accumulate without bound.
//! * Optionally, [`sleep_until_spin`] wakes a little early and busy-waits the last
//!   few microseconds on the polling thread for sub-10 µs accuracy (costs CPU).
//!
//! ```
//! # async fn demo() {
//! use std::time::{Duration, Instant};
//! let deadline = Instant::now() + Duration::from_millis(5);
//! aiperf_clock::timer::sleep_until(deadline).await;
//! assert!(Instant::now() >= deadline);
//! # }
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Compaction starts only when at least this many stale entries are pending.
const COMPACT_MIN_STALE: usize = 1024;

/// Per-timer state shared between a [`Sleep`] and its heap entry.
#[derive(Default)]
struct SlotState {
    fired: bool,
    cancelled: bool,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A heap entry; ordered so that `BinaryHeap` (a max-heap) pops the earliest first.
struct Entry {
    deadline: Instant,
    seq: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .deadline
            .cmp(&self.deadline)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

struct Heap {
    entries: BinaryHeap<Entry>,
    seq: u64,
}

struct Timer {
    heap: Mutex<Heap>,
    cv: Condvar,
    /// Entries in the heap whose future was dropped before firing.
    stale: AtomicUsize,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(Heap {
                entries: BinaryHeap::with_capacity(1024),
                seq: 0,
            }),
            cv: Condvar::new(),
            stale: AtomicUsize::new(0),
        }));
        std::thread::Builder::new()
            .name("aiperf-timer".into())
            .spawn(move || t.run())
            .expect("failed to spawn the aiperf-timer thread");
        t
    })
}

/// Sets the calling thread's timer slack to 1 ns (Linux only; a no-op elsewhere).
fn set_min_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only changes a scheduling attribute of the calling
    // thread; the extra arguments are ignored and passed as zero as documented.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, deadline: Instant, slot: Arc<Slot>) {
        let notify = {
            let mut heap = self.lock();
            let notify = heap
                .entries
                .peek()
                .is_none_or(|top| deadline < top.deadline);
            heap.seq += 1;
            let seq = heap.seq;
            heap.entries.push(Entry {
                deadline,
                seq,
                slot,
            });
            notify
        };
        if notify {
            self.cv.notify_one();
        }
    }

    fn run(&self) {
        set_min_timer_slack();
        let mut due: Vec<Arc<Slot>> = Vec::with_capacity(256);
        let mut heap = self.lock();
        loop {
            let now = Instant::now();
            while let Some(top) = heap.entries.peek() {
                if top.deadline > now {
                    break;
                }
                if let Some(entry) = heap.entries.pop() {
                    due.push(entry.slot);
                }
            }
            if !due.is_empty() {
                drop(heap);
                let mut stale = 0;
                for slot in due.drain(..) {
                    let waker = {
                        let mut st = slot.lock();
                        if st.cancelled {
                            stale += 1;
                            None
                        } else {
                            st.fired = true;
                            st.waker.take()
                        }
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
                if stale > 0 {
                    self.stale.fetch_sub(stale, AtomicOrdering::Relaxed);
                }
                heap = self.lock();
                continue;
            }
            let stale = self.stale.load(AtomicOrdering::Relaxed);
            if stale >= COMPACT_MIN_STALE && stale * 2 > heap.entries.len() {
                let mut removed = 0;
                heap.entries.retain(|e| {
                    let keep = !e.slot.lock().cancelled;
                    if !keep {
                        removed += 1;
                    }
                    keep
                });
                self.stale.fetch_sub(removed, AtomicOrdering::Relaxed);
                let keep = 1024.max(heap.entries.len() * 2);
                heap.entries.shrink_to(keep);
            }
            heap = match heap.entries.peek().map(|top| top.deadline) {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(now);
                    self.cv
                        .wait_timeout(heap, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.cv.wait(heap).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    #[cfg(test)]
    fn count_entries_at(&self, t: Instant) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.deadline == t)
            .count()
    }
}

/// Future returned by [`sleep_until`] and friends; completes once its deadline has
/// passed.
///
/// It is `Unpin` and cancel-safe: dropping it before completion releases its waker
/// at once and leaves only a small stale heap entry that the timer thread discards.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    deadline: Instant,
    spin: Duration,
    /// The slot of the current registration, or a fired slot kept for reuse.
    slot: Option<Arc<Slot>>,
    /// Whether `slot` is in the timer heap for the current deadline.
    registered: bool,
}

impl Sleep {
    /// The instant at which this future completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has already passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Re-arms this timer for a new deadline, as if it were replaced by
    /// `sleep_until_spin(deadline, spin)` with the same `spin`.
    ///
    /// A fired timer's allocation is reused when the timer thread has released it,
    /// which makes a loop of `reset` + `.await` allocation-free in the common case.
    pub fn reset(&mut self, deadline: Instant) {
        if self.registered {
            self.cancel();
        }
        if let Some(slot) = self.slot.as_mut() {
            match Arc::get_mut(slot) {
                // The heap no longer holds it: recycle.
                Some(s) => {
                    *s.state.get_mut().unwrap_or_else(|e| e.into_inner()) = SlotState::default()
                }
                None => self.slot = None,
            }
        }
        self.registered = false;
        self.deadline = deadline;
    }

    /// Marks a registered, unfired slot stale and releases its waker.
    fn cancel(&mut self) {
        self.registered = false;
        let Some(slot) = self.slot.as_ref() else {
            return;
        };
        let waker = {
            let mut st = slot.lock();
            if st.fired || st.cancelled {
                return;
            }
            st.cancelled = true;
            let t = timer();
            let stale = t.stale.fetch_add(1, AtomicOrdering::Relaxed) + 1;
            if stale >= COMPACT_MIN_STALE && stale.is_multiple_of(COMPACT_MIN_STALE) {
                // Let the timer thread consider a compaction.
                t.cv.notify_one();
            }
            st.waker.take()
        };
        drop(waker);
        // The heap still references this slot: never reuse it.
        self.slot = None;
    }

    fn spin_to_deadline(&self) {
        while Instant::now() < self.deadline {
            std::hint::spin_loop();
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let now = Instant::now();
        if now >= this.deadline {
            return Poll::Ready(());
        }
        let wake_at = this.deadline.checked_sub(this.spin).unwrap_or(now);
        if now >= wake_at {
            this.spin_to_deadline();
            return Poll::Ready(());
        }
        if !this.registered {
            let slot = match this.slot.take() {
                Some(slot) => slot,
                None => Arc::new(Slot::default()),
            };
            slot.lock().waker = Some(cx.waker().clone());
            timer().register(wake_at, slot.clone());
            this.slot = Some(slot);
            this.registered = true;
            return Poll::Pending;
        }
        let Some(slot) = this.slot.as_ref() else {
            unreachable!("a registered Sleep always has a slot");
        };
        let mut st = slot.lock();
        if st.fired {
            drop(st);
            this.spin_to_deadline();
            return Poll::Ready(());
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if self.registered {
            self.cancel();
        }
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("spin", &self.spin)
            .field("registered", &self.registered)
            .finish()
    }
}

/// Completes at `deadline` (immediately if it has passed), woken by the precise
/// timer thread.
pub fn sleep_until(deadline: Instant) -> Sleep {
    sleep_until_spin(deadline, Duration::ZERO)
}

/// Like [`sleep_until`], but the timer thread wakes the future `spin` early and the
/// future then busy-waits on the polling thread until `deadline`.
///
/// This trades CPU (and executor-thread time) for accuracy below the OS wakeup
/// latency; keep `spin` to a few microseconds. `Duration::ZERO` disables spinning.
pub fn sleep_until_spin(deadline: Instant, spin: Duration) -> Sleep {
    Sleep {
        deadline,
        spin,
        slot: None,
        registered: false,
    }
}

/// Completes when [`crate::mono_ns`] reaches `ns`.
pub fn sleep_until_mono(ns: u64) -> Sleep {
    sleep_until(crate::instant_of(ns))
}

/// Completes `duration` from now.
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(
        now.checked_add(duration)
            .unwrap_or(now + Duration::from_secs(86_400 * 365)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sleep_is_accurate_and_never_early() {
        // Loose bound, robust against a loaded CI machine: the median of 5 runs.
        let mut lates = Vec::new();
        for _ in 0..5 {
            let deadline = Instant::now() + Duration::from_millis(5);
            sleep_until(deadline).await;
            let now = Instant::now();
            assert!(now >= deadline, "woke early");
            lates.push(now - deadline);
        }
        lates.sort();
        assert!(lates[2] < Duration::from_millis(3), "woke late: {lates:?}");
    }

    #[tokio::test]
    async fn spin_and_mono_variants_complete_on_time() {
        let deadline = Instant::now() + Duration::from_millis(3);
        sleep_until_spin(deadline, Duration::from_micros(50)).await;
        assert!(Instant::now() >= deadline);

        let target = crate::mono_ns() + 2_000_000;
        sleep_until_mono(target).await;
        assert!(crate::mono_ns() >= target);

        // Past deadlines complete immediately.
        sleep_until(Instant::now() - Duration::from_millis(1)).await;
        sleep(Duration::ZERO).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_concurrent_sleeps_complete() {
        let start = Instant::now();
        let mut handles = Vec::with_capacity(10_000);
        for i in 0..10_000u64 {
            let deadline = start + Duration::from_micros(1_000 + (i * 7919) % 20_000);
            handles.push(tokio::spawn(async move {
                sleep_until(deadline).await;
                Instant::now() >= deadline
            }));
        }
        for h in handles {
            assert!(h.await.unwrap());
        }
    }

    #[tokio::test]
    async fn later_registration_of_earlier_deadline_wakes_first() {
        let far = sleep_until(Instant::now() + Duration::from_secs(30));
        let near = Instant::now() + Duration::from_millis(2);
        tokio::select! {
            _ = far => panic!("far deadline fired first"),
            _ = sleep_until(near) => {}
        }
        assert!(Instant::now() >= near);
    }

    #[test]
    fn dropped_futures_are_compacted() {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut cx = Context::from_waker(Waker::noop());
        let mut sleeps: Vec<Sleep> = (0..5_000).map(|_| sleep_until(far)).collect();
        for s in &mut sleeps {
            assert!(Pin::new(s).poll(&mut cx).is_pending());
        }
        assert!(timer().count_entries_at(far) >= 5_000);
        drop(sleeps);
        let give_up = Instant::now() + Duration::from_secs(5);
        while timer().count_entries_at(far) >= COMPACT_MIN_STALE {
            assert!(Instant::now() < give_up, "stale entries were not compacted");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[tokio::test]
    async fn reset_rearms_the_timer() {
        let start = Instant::now();
        let mut s = sleep_until(start + Duration::from_secs(3600));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        for i in 1..=5u64 {
            let deadline = start + Duration::from_millis(2 * i);
            s.reset(deadline);
            assert_eq!(s.deadline(), deadline);
            (&mut s).await;
            assert!(Instant::now() >= deadline);
        }
    }

    #[test]
    fn polling_repeatedly_does_not_duplicate_entries() {
        let deadline = Instant::now() + Duration::from_secs(1800);
        let mut cx = Context::from_waker(Waker::noop());
        let mut s = sleep_until(deadline);
        for _ in 0..100 {
            assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        }
        assert_eq!(timer().count_entries_at(deadline), 1);
        drop(s);
    }
}
