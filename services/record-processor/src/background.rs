//! Low-priority threads for record interpretation.
//!
//! Tokenizing a 12k-token prompt costs tens of milliseconds of CPU. In the
//! in-process mode the record processors share the machine with the timing
//! manager and the workers, whose timestamps are the product: interpretation must
//! never delay a send. These threads run under Linux's `SCHED_IDLE` policy: a
//! waking timing-manager or worker thread preempts them at once (plain nice +10
//! only shrinks their share, and a waking thread could still wait a few
//! milliseconds behind one). Where `SCHED_IDLE` is refused they fall back to
//! nice +10.

use std::sync::{Arc, Mutex, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// Nice value of the background threads where `SCHED_IDLE` is refused.
pub const BACKGROUND_NICE: i32 = 10;

/// A fixed pool of low-priority threads.
pub struct BackgroundPool {
    tx: mpsc::Sender<Job>,
}

/// The job panicked.
#[derive(Debug)]
pub struct JobPanicked;

impl BackgroundPool {
    /// Starts `threads` threads named `name-N` at background priority.
    pub fn new(name: &str, threads: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(BackgroundPool { tx })
    }

    /// Runs `f` on the pool; resolves to its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobPanicked> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if let Ok(v) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let _ = done.send(v);
            }
        });
        self.tx.send(job).map_err(|_| JobPanicked)?;
        result.await.map_err(|_| JobPanicked)
    }
}

/// Lowers the calling thread's priority: `SCHED_IDLE`, else nice +10 (Linux: per
/// thread; elsewhere a no-op).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the current thread; failure leaves the priority unchanged.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let _ = libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_panics() {
        let pool = BackgroundPool::new("test-bg", 2).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        assert!(pool.run(|| -> u32 { panic!("boom") }).await.is_err());
        assert_eq!(
            pool.run(|| 1).await.unwrap(),
            1,
            "the pool still works after a panic"
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn threads_run_at_background_priority() {
        let pool = BackgroundPool::new("test-idle", 1).unwrap();
        // SAFETY: plain queries of the calling (pool) thread.
        let (policy, nice) = pool
            .run(|| unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                (
                    libc::sched_getscheduler(0),
                    libc::getpriority(libc::PRIO_PROCESS, tid),
                )
            })
            .await
            .unwrap();
        assert!(
            policy == libc::SCHED_IDLE || nice == BACKGROUND_NICE,
            "policy {policy}, nice {nice}"
        );
        // SAFETY: a plain query of the test thread.
        let own = unsafe { libc::sched_getscheduler(0) };
        assert_eq!(own, libc::SCHED_OTHER, "only the pool threads are lowered");
    }
}
