//! Low-priority threads for record interpretation.
//!
//! Tokenizing a 12k-token prompt costs tens of milliseconds of CPU. In the
//! in-process mode the record processors share the machine with the timing
//! manager and the workers, whose timestamps are the product: interpretation must
//! never delay a send. These threads run at nice +10, so the scheduler gives the
//! CPU to a waking timing-manager or worker thread at once.

use std::sync::{Arc, Mutex, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// Nice value of the background threads (0 = normal, 19 = lowest).
pub const BACKGROUND_NICE: i32 = 10;

/// A fixed pool of low-priority threads.
pub struct BackgroundPool {
    tx: mpsc::Sender<Job>,
}

/// The job panicked.
#[derive(Debug)]
pub struct JobPanicked;

impl BackgroundPool {
    /// Starts `threads` threads named `name-N` at [`BACKGROUND_NICE`].
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

/// Lowers the calling thread's priority (Linux: per thread; elsewhere a no-op).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the current thread; failure leaves the priority unchanged.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE);
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
        let pool = BackgroundPool::new("test-nice", 1).unwrap();
        let nice = pool
            .run(|| unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            })
            .await
            .unwrap();
        assert_eq!(nice, BACKGROUND_NICE);
    }
}
