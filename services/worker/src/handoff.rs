//! Hand-off of raw records to the record stage, with backpressure to the credit.
//!
//! Each worker puts its raw records on one bounded queue of
//! [`RECORD_QUEUE_CAPACITY`] records, drained by its record writer (the PUSH to the
//! record processors). A credit is returned only once its record is on that queue,
//! so when record processing falls behind, the credit loop slows down instead of
//! raw records piling up in memory: records in flight stay bounded by the credits
//! in flight plus the queue. No record is ever dropped.
//!
//! Measurement is unaffected: every timestamp of the request is taken before the
//! hand-off. The trade-off is that a saturated record stage delays the next credit
//! (the request rate falls); the worker counts how often and how long its returns
//! waited ([`RecordBacklog`]) and publishes the counters on the event bus, so the
//! load report can say so.

use aiperf_clock::mono_ns;
use aiperf_protocol::{Phase, events::RecordBacklog, record::RawRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokio::sync::{Notify, mpsc};

/// Raw records a worker queues for its record writer before credit returns wait.
///
/// 64 records of a few kB each keep the queue under a megabyte while absorbing
/// the bursts of a concurrency-64 run; the zeromq PUSH behind it adds only socket
/// buffers (it writes through to TCP / IPC and awaits when they are full).
pub const RECORD_QUEUE_CAPACITY: usize = 64;

/// The sending side of a worker's record queue, with its backlog counters.
pub struct RecordHandoff {
    tx: mpsc::Sender<RawRecord>,
    counters: Mutex<Counters>,
    changed: Notify,
}

#[derive(Default)]
struct Counters {
    by_phase: BTreeMap<Phase, RecordBacklog>,
    /// Phases whose counters changed since the last [`RecordHandoff::take_changed`].
    dirty: BTreeSet<Phase>,
}

impl RecordHandoff {
    /// A queue of `capacity` records and its receiving end (for the record writer).
    pub fn new(capacity: usize) -> (RecordHandoff, mpsc::Receiver<RawRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let handoff = RecordHandoff {
            tx,
            counters: Mutex::new(Counters::default()),
            changed: Notify::new(),
        };
        (handoff, rx)
    }

    /// Queues `record`, waiting for room when the queue is full. Returns `false`
    /// when the record writer is gone (the worker is stopping).
    pub async fn hand_over(&self, record: RawRecord) -> bool {
        let phase = record.credit.phase;
        let (permit, waited_ns) = match self.tx.try_reserve() {
            Ok(permit) => (permit, None),
            Err(mpsc::error::TrySendError::Closed(())) => return false,
            Err(mpsc::error::TrySendError::Full(())) => {
                let start = mono_ns();
                match self.tx.reserve().await {
                    Ok(permit) => (permit, Some(mono_ns().saturating_sub(start))),
                    Err(_) => return false,
                }
            }
        };
        // Records in the queue, this one included (its slot is reserved).
        let queued = (self.tx.max_capacity() - self.tx.capacity()) as u32;
        permit.send(record);
        self.count(phase, queued, waited_ns);
        true
    }

    fn count(&self, phase: Phase, queued: u32, waited_ns: Option<u64>) {
        let mut c = self.counters.lock().expect("backlog lock");
        let b = c.by_phase.entry(phase).or_default();
        b.capacity = self.tx.max_capacity() as u32;
        let mut changed = false;
        if queued > b.peak_queued {
            b.peak_queued = queued;
            changed = true;
        }
        if let Some(ns) = waited_ns {
            b.held_back_credits += 1;
            b.held_back_ns += ns;
            changed = true;
        }
        if changed {
            c.dirty.insert(phase);
            drop(c);
            self.changed.notify_one();
        }
    }

    /// Waits until some phase's counters changed.
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// The counters of every phase that changed since the last call.
    pub fn take_changed(&self) -> Vec<(Phase, RecordBacklog)> {
        let mut c = self.counters.lock().expect("backlog lock");
        let dirty = std::mem::take(&mut c.dirty);
        dirty.into_iter().map(|p| (p, c.by_phase[&p])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal record of credit `id`, built through the wire format so this
    /// test does not depend on every field of [`RawRecord`].
    fn record(id: u64) -> RawRecord {
        serde_json::from_value(serde_json::json!({
            "credit": {"id": id, "phase": "profiling", "conversation_id": "c",
                       "x_correlation_id": "x", "turn_index": 0, "num_turns": 1,
                       "issued_at_ns": 0, "scheduled_at_ns": null, "cancel_after_ns": null},
            "worker_id": "w", "x_request_id": "r", "credit_received_perf_ns": 0,
            "request_start_ns": 0, "start_perf_ns": 0, "ack_perf_ns": null,
            "end_perf_ns": 0, "status": 200, "streaming": false, "responses": [],
            "error": null, "was_cancelled": false, "cancellation_perf_ns": null,
            "payload": ""
        }))
        .expect("a raw record")
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_hand_off_until_the_writer_takes_a_record() {
        let (h, mut rx) = RecordHandoff::new(2);
        assert!(h.hand_over(record(0)).await);
        assert!(h.hand_over(record(1)).await);
        assert_eq!(
            h.take_changed(),
            vec![(
                Phase::Profiling,
                RecordBacklog {
                    capacity: 2,
                    peak_queued: 2,
                    held_back_credits: 0,
                    held_back_ns: 0
                }
            )]
        );
        // The third waits: the queue is full (this test's runtime has one thread,
        // so the spawned hand-off runs, and blocks, when this task yields).
        let h = std::sync::Arc::new(h);
        let third = tokio::spawn({
            let h = h.clone();
            async move { h.hand_over(record(2)).await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "the third record waits for room");
        assert!(
            h.take_changed().is_empty(),
            "a wait is counted once it ends"
        );
        assert_eq!(rx.recv().await.map(|r| r.credit.id), Some(0));
        assert!(third.await.unwrap());
        let after = h.take_changed();
        assert_eq!(after.len(), 1);
        let b = after[0].1;
        assert_eq!((b.capacity, b.peak_queued, b.held_back_credits), (2, 2, 1));
        // Nothing lost, in order.
        let ids: Vec<u64> = [rx.recv().await, rx.recv().await]
            .into_iter()
            .map(|r| r.unwrap().credit.id)
            .collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[tokio::test]
    async fn a_closed_queue_refuses_the_record() {
        let (h, rx) = RecordHandoff::new(1);
        drop(rx);
        assert!(!h.hand_over(record(0)).await);
        assert!(h.take_changed().is_empty());
    }
}
