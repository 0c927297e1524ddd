//! Counting each worker's raw records as the processor takes them in, and telling
//! the workers on the event bus ([`Event::RecordsTaken`]): a worker pushes at most
//! a window of records no processor has taken yet, so raw records waiting in the
//! sockets between workers and processors stay bounded when processing falls
//! behind (the zeromq PUSH queues up to 100,000 messages per peer by itself).

use aiperf_protocol::events::Event;
use aiperf_transport::Publisher;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Shortest interval between two publications of changed counts.
pub const TAKEN_REPORT_PERIOD: Duration = Duration::from_millis(50);
/// Every count is published again this often, so a worker that missed an event
/// (it subscribed late) catches up.
pub const TAKEN_REPEAT_PERIOD: Duration = Duration::from_secs(1);

/// Records taken in so far, by worker id.
#[derive(Default)]
pub struct TakenCounter {
    counts: Mutex<BTreeMap<String, (u64, bool)>>,
    changed: Notify,
}

impl TakenCounter {
    /// Counts one record of `worker_id`.
    pub fn take(&self, worker_id: &str) {
        let mut counts = self.counts.lock().expect("taken lock");
        match counts.get_mut(worker_id) {
            Some((n, dirty)) => {
                *n += 1;
                *dirty = true;
            }
            None => {
                counts.insert(worker_id.to_string(), (1, true));
            }
        }
        drop(counts);
        self.changed.notify_one();
    }

    /// The counts that changed since the last call (all of them with `all`).
    pub fn drain(&self, all: bool) -> Vec<(String, u64)> {
        let mut counts = self.counts.lock().expect("taken lock");
        counts
            .iter_mut()
            .filter(|(_, (_, dirty))| all || *dirty)
            .map(|(w, (n, dirty))| {
                *dirty = false;
                (w.clone(), *n)
            })
            .collect()
    }

    /// Publishes the counts as they change (at most every
    /// [`TAKEN_REPORT_PERIOD`]) and all of them every [`TAKEN_REPEAT_PERIOD`].
    /// Runs until publishing fails.
    pub async fn publish(
        &self,
        record_processor_id: String,
        mut events: Publisher,
    ) -> Result<(), String> {
        let mut repeat = tokio::time::interval(TAKEN_REPEAT_PERIOD);
        loop {
            let all = tokio::select! {
                _ = self.changed.notified() => false,
                _ = repeat.tick() => true,
            };
            for (worker_id, taken) in self.drain(all) {
                let ev = Event::RecordsTaken {
                    record_processor_id: record_processor_id.clone(),
                    worker_id,
                    taken,
                };
                events
                    .publish(&ev)
                    .await
                    .map_err(|e| format!("cannot publish the records taken: {e}"))?;
            }
            tokio::time::sleep(TAKEN_REPORT_PERIOD).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_cumulative_and_drained_once_changed() {
        let c = TakenCounter::default();
        c.take("w0");
        c.take("w0");
        c.take("w1");
        assert_eq!(c.drain(false), vec![("w0".into(), 2), ("w1".into(), 1)]);
        assert!(c.drain(false).is_empty(), "nothing changed since");
        c.take("w1");
        assert_eq!(c.drain(false), vec![("w1".into(), 2)]);
        assert_eq!(
            c.drain(true),
            vec![("w0".into(), 2), ("w1".into(), 2)],
            "the repeat sends every count"
        );
    }
}
