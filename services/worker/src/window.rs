//! The worker's record window: at most [`RECORD_WINDOW`] raw records pushed and
//! not yet taken in by a record processor.
//!
//! The zeromq PUSH socket queues up to 100,000 messages per peer, and so does the
//! raw-record proxy: without a window, records of a run whose processing falls
//! behind would pile up there. Record processors publish how many of each
//! worker's records they took in ([`Event::RecordsTaken`]); the worker's record
//! writer waits for room before each push, its bounded queue
//! ([`crate::handoff`]) fills, and credit returns wait.
//!
//! The window applies once a processor has reported: a custom record processor
//! that does not publish `records_taken` leaves its workers unwindowed. When the
//! window is full and no processor reports progress for [`STALL_TIMEOUT`] (e.g.
//! a run mixing such a processor with the built-in one), the writer pushes anyway
//! rather than stall the run.

use aiperf_protocol::events::Event;
use aiperf_transport::Subscriber;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

/// Raw records a worker may have pushed that no record processor has taken yet.
///
/// With the record queue in front of it, a worker holds at most
/// `RECORD_WINDOW + RECORD_QUEUE_CAPACITY` records beyond those being processed:
/// a few MB for 100-token streams.
pub const RECORD_WINDOW: u64 = 256;

/// A full window with no progress for this long is pushed through (see above).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether one more record may be pushed after `pushed`, when processors took
/// `taken` (`None`: no processor reported yet).
pub fn has_room(pushed: u64, taken: Option<u64>, window: u64) -> bool {
    match taken {
        None => true,
        Some(t) => pushed.saturating_sub(t) < window,
    }
}

/// Records taken from one worker, per record processor.
#[derive(Debug, Default)]
pub struct TakenTotals {
    by_processor: HashMap<String, u64>,
}

impl TakenTotals {
    /// Folds in one processor's cumulative count (an older, smaller count that
    /// arrives late changes nothing) and returns the total over all processors.
    pub fn update(&mut self, record_processor_id: String, taken: u64) -> u64 {
        let n = self.by_processor.entry(record_processor_id).or_default();
        *n = (*n).max(taken);
        self.by_processor.values().sum()
    }
}

/// Follows the `records_taken` events about `worker_id` and publishes the total
/// taken by all processors on `total`. Runs until the bus or the receivers go.
pub async fn follow_taken(
    mut sub: Subscriber,
    worker_id: String,
    total: watch::Sender<Option<u64>>,
) -> Result<(), String> {
    let mut totals = TakenTotals::default();
    loop {
        let ev = sub
            .recv()
            .await
            .map_err(|e| format!("lost the event bus: {e}"))?;
        if let Event::RecordsTaken {
            record_processor_id,
            worker_id: w,
            taken,
        } = ev
            && w == worker_id
            && total
                .send(Some(totals.update(record_processor_id, taken)))
                .is_err()
        {
            return Ok(());
        }
    }
}

/// Waits until the window has room for record number `pushed + 1`, or until no
/// processor made progress for [`STALL_TIMEOUT`].
pub async fn wait_for_room(taken: &mut watch::Receiver<Option<u64>>, pushed: u64) {
    loop {
        if has_room(pushed, *taken.borrow_and_update(), RECORD_WINDOW) {
            return;
        }
        match tokio::time::timeout(STALL_TIMEOUT, taken.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::warn!(
                    "no record processor took a record for {STALL_TIMEOUT:?}: pushing past the record window"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_pushed_records_no_processor_took() {
        assert!(
            has_room(1_000, None, 4),
            "no processor reported: unwindowed"
        );
        // 10 pushed, 6 taken: 4 outstanding, a window of 4 is full.
        assert!(!has_room(10, Some(6), 4));
        assert!(has_room(10, Some(7), 4));
        assert!(has_room(0, Some(0), 1));
    }

    #[test]
    fn the_total_sums_each_processors_latest_count() {
        let mut t = TakenTotals::default();
        assert_eq!(t.update("rp0".into(), 5), 5);
        assert_eq!(t.update("rp1".into(), 3), 8);
        assert_eq!(t.update("rp0".into(), 9), 12, "9 + 3");
        assert_eq!(
            t.update("rp0".into(), 7),
            12,
            "a stale count changes nothing"
        );
    }

    #[tokio::test]
    async fn the_writer_waits_until_a_processor_takes_a_record() {
        let (tx, mut rx) = watch::channel(Some(0));
        // RECORD_WINDOW pushed, none taken: full.
        let waiting = tokio::spawn(async move {
            wait_for_room(&mut rx, RECORD_WINDOW).await;
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        tx.send(Some(1)).unwrap();
        waiting.await.unwrap();
    }
}
