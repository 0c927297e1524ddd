//! Routing credits to workers: a new session goes to the least-loaded worker,
//! later turns of a session stick to the worker holding its history (`docs/architecture.md`, sockets).

use aiperf_protocol::{
    Phase,
    credit::{Credit, ToWorker},
};
use aiperf_transport::RouterTx;
use std::collections::HashMap;

/// Sends credits over the timing manager's ROUTER and tracks where they went.
pub struct Dispatcher {
    tx: RouterTx<ToWorker>,
    workers: Vec<(String, u64)>,
    sticky: HashMap<String, usize>,
    credit_worker: HashMap<(Phase, u64), usize>,
    seed: Option<u64>,
}

impl Dispatcher {
    /// A dispatcher over the ROUTER send half; `seed` feeds the phase RNG streams.
    pub fn new(tx: RouterTx<ToWorker>, seed: Option<u64>) -> Self {
        Dispatcher {
            tx,
            workers: Vec::new(),
            sticky: HashMap::new(),
            credit_worker: HashMap::new(),
            seed,
        }
    }

    /// The run's random seed.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// Number of workers known.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Registers a worker that announced itself.
    pub fn add_worker(&mut self, id: String) {
        if !self.workers.iter().any(|(w, _)| *w == id) {
            self.workers.push((id, 0));
        }
    }

    /// Sends `credit` to a worker.
    pub async fn dispatch(&mut self, credit: &Credit, first_turn: bool) -> Result<(), String> {
        if self.workers.is_empty() {
            return Err("no worker is connected to the timing manager".into());
        }
        let sticky = if first_turn {
            None
        } else {
            self.sticky.get(&credit.x_correlation_id).copied()
        };
        let idx = sticky.unwrap_or_else(|| {
            self.workers
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, load))| *load)
                .map(|(i, _)| i)
                .expect("non-empty")
        });
        if credit.num_turns > 1 {
            self.sticky.insert(credit.x_correlation_id.clone(), idx);
        }
        self.workers[idx].1 += 1;
        self.credit_worker.insert((credit.phase, credit.id), idx);
        let worker = self.workers[idx].0.clone();
        self.tx
            .send(&worker, &ToWorker::Credit(credit.clone()))
            .await
            .map_err(|e| format!("cannot send a credit to {worker}: {e}"))
    }

    /// Credit `credit_id` of `phase` came back from `worker_id`: its worker is
    /// forgotten (the map holds only credits in flight).
    pub fn returned(&mut self, phase: Phase, credit_id: u64, worker_id: &str) {
        self.credit_worker.remove(&(phase, credit_id));
        if let Some(w) = self.workers.iter_mut().find(|(w, _)| w == worker_id) {
            w.1 = w.1.saturating_sub(1);
        }
    }

    /// A session finished; forget its routing.
    pub fn session_ended(&mut self, x_correlation_id: &str) {
        self.sticky.remove(x_correlation_id);
    }

    /// Asks the workers holding these credits to abort them.
    pub async fn cancel(&mut self, phase: Phase, ids: Vec<u64>) {
        let mut by_worker: HashMap<usize, Vec<u64>> = HashMap::new();
        for id in ids {
            if let Some(&w) = self.credit_worker.get(&(phase, id)) {
                by_worker.entry(w).or_default().push(id);
            }
        }
        for (w, ids) in by_worker {
            let worker = self.workers[w].0.clone();
            if let Err(e) = self
                .tx
                .send(&worker, &ToWorker::CancelCredits { phase, ids })
                .await
            {
                tracing::warn!("cannot send a cancellation to {worker}: {e}");
            }
        }
    }
}
