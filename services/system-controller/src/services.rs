//! Starting services: as tokio tasks of this process or as child OS processes,
//! and noticing when one ends.

use aiperf_protocol::ServiceType;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs one service actor until it stops. The same code backs in-process mode,
/// `--service-mode multi-process` children and `aiperf-rs service`.
pub async fn run_service(
    service_type: ServiceType,
    control_addr: String,
    service_id: String,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    match service_type {
        ServiceType::DatasetManager => {
            aiperf_dataset_manager::DatasetManager::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::TimingManager => {
            aiperf_timing_manager::TimingManager::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::WorkerManager => {
            aiperf_worker::WorkerManager::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::Worker => {
            aiperf_worker::Worker::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::RecordProcessor => {
            aiperf_record_processor::RecordProcessor::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::RecordsManager => {
            aiperf_records_manager::RecordsManager::new(control_addr, service_id)
                .run(cancel)
                .await
        }
        ServiceType::SystemController => {
            anyhow::bail!("the system controller is started with `aiperf-rs profile`")
        }
    }
}

/// How long services have to exit after `shutdown` before a process is killed (a
/// task is left behind).
const STOP_WAIT: Duration = Duration::from_secs(5);

/// A service ended (its task returned or its process exited).
#[derive(Debug)]
pub struct ServiceExit {
    /// Its id.
    pub service_id: String,
    /// What it was.
    pub service_type: ServiceType,
    /// `Ok` on a clean exit, else what happened.
    pub outcome: Result<(), String>,
}

enum Handle {
    Task(tokio::task::JoinHandle<()>),
    Process(u32),
}

/// Starts services and reports their exits on one channel.
pub struct ServiceSpawner {
    control_addr: String,
    multi_process: bool,
    log_level: String,
    cancel: CancellationToken,
    exits_tx: mpsc::UnboundedSender<ServiceExit>,
    handles: Vec<(String, Handle)>,
    /// Tasks copying the children's stderr into the log (multi-process mode).
    log_readers: Vec<tokio::task::JoinHandle<()>>,
}

impl ServiceSpawner {
    /// A spawner; exits are reported on the returned receiver.
    pub fn new(
        control_addr: String,
        multi_process: bool,
        log_level: String,
    ) -> (Self, mpsc::UnboundedReceiver<ServiceExit>) {
        let (exits_tx, rx) = mpsc::unbounded_channel();
        (
            ServiceSpawner {
                control_addr,
                multi_process,
                log_level,
                cancel: CancellationToken::new(),
                exits_tx,
                handles: Vec::new(),
                log_readers: Vec::new(),
            },
            rx,
        )
    }

    /// Starts one service; returns its id.
    pub fn spawn(&mut self, service_type: ServiceType) -> anyhow::Result<String> {
        let id = service_type.new_id();
        if self.multi_process {
            let exe = std::env::current_exe()?;
            let parent_pid = std::process::id();
            let mut command = tokio::process::Command::new(exe);
            command
                .args([
                    "service",
                    "--type",
                    service_type.as_str(),
                    "--service-id",
                    &id,
                    "--control",
                    &self.control_addr,
                    "--log-level",
                    &self.log_level,
                    "--parent-pid",
                    &parent_pid.to_string(),
                ])
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            // SAFETY: the hook makes async-signal-safe calls only (prctl, getppid, _exit).
            unsafe {
                command.pre_exec(move || crate::child::set_parent_death_signal(parent_pid));
            }
            let mut child = command
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start a {service_type} process: {e}"))?;
            let pid = child.id().unwrap_or(0);
            if let Some(stderr) = child.stderr.take() {
                let sid = id.clone();
                self.log_readers.push(tokio::spawn(async move {
                    let mut lines = BufReader::new(stderr).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        crate::logging::child_line(&sid, &line);
                    }
                }));
            }
            let tx = self.exits_tx.clone();
            let sid = id.clone();
            let cancel = self.cancel.clone();
            tokio::spawn(async move {
                let outcome = tokio::select! {
                    status = child.wait() => match status {
                        Ok(s) if s.success() => Ok(()),
                        Ok(s) => Err(format!("process {pid} exited with {s}")),
                        Err(e) => Err(format!("process {pid}: {e}")),
                    },
                    _ = cancel.cancelled() => {
                        // Give the process a moment to exit on its own after `shutdown`.
                        match tokio::time::timeout(STOP_WAIT, child.wait()).await {
                            Ok(_) => Ok(()),
                            Err(_) => { let _ = child.kill().await; Ok(()) }
                        }
                    }
                };
                let _ = tx.send(ServiceExit {
                    service_id: sid,
                    service_type,
                    outcome,
                });
            });
            self.handles.push((id.clone(), Handle::Process(pid)));
        } else {
            let tx = self.exits_tx.clone();
            let sid = id.clone();
            let addr = self.control_addr.clone();
            let cancel = self.cancel.child_token();
            let task = tokio::spawn(async move {
                let inner = tokio::spawn(run_service(service_type, addr, sid.clone(), cancel));
                let outcome = match inner.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("{e:#}")),
                    Err(e) if e.is_panic() => Err(format!("panicked: {}", panic_message(e))),
                    Err(e) => Err(e.to_string()),
                };
                let _ = tx.send(ServiceExit {
                    service_id: sid,
                    service_type,
                    outcome,
                });
            });
            self.handles.push((id.clone(), Handle::Task(task)));
        }
        Ok(id)
    }

    /// OS pid of a service started as a process.
    pub fn pid(&self, service_id: &str) -> Option<u32> {
        self.handles
            .iter()
            .find(|(id, _)| id == service_id)
            .and_then(|(_, h)| match h {
                Handle::Process(pid) => Some(*pid),
                Handle::Task(_) => None,
            })
    }

    /// Stops everything still running (after `shutdown` was sent), then waits for
    /// the last log lines of the child processes. Bounded: a task that does not
    /// end within [`STOP_WAIT`] is left behind, a process is killed.
    pub async fn stop_all(&mut self) {
        self.cancel.cancel();
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        for (_, h) in self.handles.drain(..) {
            if let Handle::Task(t) = h {
                let _ = tokio::time::timeout_at(deadline, t).await;
            }
        }
        // A child's stderr closes when it exits (or is killed, STOP_WAIT after `shutdown`).
        let deadline = deadline + Duration::from_secs(1);
        for r in self.log_readers.drain(..) {
            let _ = tokio::time::timeout_at(deadline, r).await;
        }
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
