//! The service runtime against a real controller-side ROUTER on 127.0.0.1: the
//! lifecycle, failure answers and reports, and the state in heartbeats.

use aiperf_protocol::{
    ConfigDocument, Endpoints, PROTOCOL_VERSION, ServiceType,
    control::{Command, CommandStatus, FromController, ServiceState, ToController},
};
use aiperf_transport::{Router, RouterRx, RouterTx, Service, ServiceContext, run_service};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The part of the configuration the probe reads (the document may hold more).
#[derive(Serialize, Deserialize)]
struct ProbeConfig {
    name: String,
    /// Fail `configure` with this reason.
    refuse: Option<String>,
    /// Once started, a task of the service fails with this error.
    task_error: Option<String>,
    /// Once started, a task of the service panics with this message.
    task_panic: Option<String>,
}

/// What the probe saw, in order.
#[derive(Debug, PartialEq)]
enum Seen {
    Configured(String),
    Started,
    Cancelled(String),
    TaskStopped,
    ShutDown,
}

struct Probe {
    seen: mpsc::UnboundedSender<Seen>,
    task_error: Option<String>,
    task_panic: Option<String>,
}

impl Service for Probe {
    type Config = ProbeConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::RecordProcessor
    }

    async fn configure(&mut self, config: ProbeConfig, ctx: &ServiceContext) -> Result<(), String> {
        if let Some(reason) = config.refuse {
            return Err(reason);
        }
        self.task_error = config.task_error;
        self.task_panic = config.task_panic;
        // Socket work of its own: runs until the service stops.
        let seen = self.seen.clone();
        let stop = ctx.stop.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            let _ = seen.send(Seen::TaskStopped);
        });
        let _ = self.seen.send(Seen::Configured(config.name));
        Ok(())
    }

    async fn start(&mut self, ctx: &ServiceContext) -> Result<(), String> {
        if let Some(e) = self.task_error.clone() {
            ctx.spawn(async move { Err(e) });
        }
        if let Some(message) = self.task_panic.clone() {
            ctx.spawn(async move { panic!("{message}") });
        }
        let _ = self.seen.send(Seen::Started);
        Ok(())
    }

    async fn cancel(&mut self, reason: &str, _ctx: &ServiceContext) -> Result<(), String> {
        let _ = self.seen.send(Seen::Cancelled(reason.to_string()));
        Ok(())
    }

    async fn shutdown(&mut self) {
        let _ = self.seen.send(Seen::ShutDown);
    }
}

/// The controller's side of the control channel.
struct Controller {
    tx: RouterTx<FromController>,
    rx: RouterRx<ToController>,
    next_id: u64,
    /// Holds the ipc socket; removed on drop.
    dir: std::path::PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SERVICE_ID: &str = "record_processor_probe";

impl Controller {
    /// Binds on an ipc path of its own (`name` keeps concurrent tests apart).
    async fn bind(name: &str) -> (Controller, String) {
        let dir = std::env::temp_dir().join(format!("aiperf-rt-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let addr = Endpoints::ipc_control(&dir);
        let router = Router::<FromController, ToController>::bind(&addr)
            .await
            .unwrap();
        let (tx, rx) = router.split();
        let controller = Controller {
            tx,
            rx,
            next_id: 0,
            dir,
        };
        (controller, addr)
    }

    /// The next message that is not a heartbeat.
    async fn next(&mut self) -> ToController {
        loop {
            let (identity, msg) = self.rx.recv().await.unwrap();
            assert_eq!(identity, SERVICE_ID);
            if !matches!(msg, ToController::Heartbeat { .. }) {
                return msg;
            }
        }
    }

    /// The state in the next heartbeat (other messages are not expected meanwhile).
    async fn heartbeat(&mut self) -> ServiceState {
        let (_, msg) = self.rx.recv().await.unwrap();
        match msg {
            ToController::Heartbeat { service_id, state } => {
                assert_eq!(service_id, SERVICE_ID);
                state
            }
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }

    /// Accepts the registration.
    async fn welcome(&mut self) {
        match self.next().await {
            ToController::Register {
                protocol_version,
                service_id,
                service_type,
                pid,
            } => {
                assert_eq!(protocol_version, PROTOCOL_VERSION);
                assert_eq!(service_id, SERVICE_ID);
                assert_eq!(service_type, ServiceType::RecordProcessor);
                assert_eq!(pid, std::process::id());
            }
            other => panic!("expected a registration, got {other:?}"),
        }
        let welcome = FromController::Welcome {
            protocol_version: PROTOCOL_VERSION,
            endpoints: Endpoints::tcp("127.0.0.1", 1),
        };
        self.tx.send(SERVICE_ID, &welcome).await.unwrap();
    }

    /// Sends `command`; returns its id.
    async fn send(&mut self, command: Command) -> u64 {
        self.next_id += 1;
        let msg = FromController::Command {
            command_id: self.next_id,
            command,
        };
        self.tx.send(SERVICE_ID, &msg).await.unwrap();
        self.next_id
    }

    /// Sends `command` and returns its answer.
    async fn command(&mut self, command: Command) -> (CommandStatus, Option<String>) {
        let id = self.send(command).await;
        match self.next().await {
            ToController::CommandResponse {
                service_id,
                command_id,
                status,
                error,
            } => {
                assert_eq!((service_id.as_str(), command_id), (SERVICE_ID, id));
                (status, error)
            }
            other => panic!("expected a command response, got {other:?}"),
        }
    }

    /// Waits until a heartbeat reports `state`.
    async fn until_state(&mut self, state: ServiceState) {
        while self.heartbeat().await != state {}
    }
}

/// A configuration document with more keys than the probe reads.
fn configure(refuse: Option<&str>, task_error: Option<&str>) -> Command {
    configure_full(refuse, task_error, None)
}

fn configure_full(
    refuse: Option<&str>,
    task_error: Option<&str>,
    task_panic: Option<&str>,
) -> Command {
    #[derive(Serialize)]
    struct Full<'a> {
        name: &'a str,
        refuse: Option<&'a str>,
        task_error: Option<&'a str>,
        task_panic: Option<&'a str>,
        workers: u32,
    }
    let config = ConfigDocument::encode(&Full {
        name: "probe",
        refuse,
        task_error,
        task_panic,
        workers: 3,
    })
    .unwrap();
    Command::Configure { config }
}

/// Starts the probe against a fresh controller on `port`.
async fn start_probe(
    name: &str,
) -> (
    Controller,
    mpsc::UnboundedReceiver<Seen>,
    CancellationToken,
    tokio::task::JoinHandle<aiperf_transport::Result<()>>,
) {
    let (controller, addr) = Controller::bind(name).await;
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let probe = Probe {
        seen: seen_tx,
        task_error: None,
        task_panic: None,
    };
    let c = cancel.clone();
    let service = tokio::spawn(async move { run_service(probe, &addr, SERVICE_ID, c).await });
    (controller, seen, cancel, service)
}

async fn drain(mut seen: mpsc::UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Some(s) = seen.recv().await {
        out.push(s);
    }
    out
}

fn guard<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
    // Only a guard against a hang: every wait above ends on a message.
    tokio::time::timeout(Duration::from_secs(60), f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_goes_through_the_whole_lifecycle() {
    guard(async {
        let (mut ctl, seen, _cancel, service) = start_probe("lifecycle").await;
        ctl.welcome().await;
        assert_eq!(ctl.heartbeat().await, ServiceState::Initialized);

        assert_eq!(
            ctl.command(configure(None, None)).await,
            (CommandStatus::Success, None)
        );
        ctl.until_state(ServiceState::Ready).await;
        assert_eq!(
            ctl.command(Command::Start).await,
            (CommandStatus::Success, None)
        );
        ctl.until_state(ServiceState::Running).await;
        let cancel = Command::Cancel {
            reason: "user pressed Ctrl-C".into(),
        };
        assert_eq!(ctl.command(cancel).await, (CommandStatus::Success, None));
        assert_eq!(
            ctl.command(Command::Shutdown).await,
            (CommandStatus::Success, None)
        );
        service.await.unwrap().unwrap();
        let mut seen = drain(seen).await;
        // The task stops on its own thread, before or after the shutdown hook.
        let mut end = seen.split_off(3);
        end.sort_by_key(|s| matches!(s, Seen::ShutDown));
        assert_eq!(
            seen,
            [
                Seen::Configured("probe".into()),
                Seen::Started,
                Seen::Cancelled("user pressed Ctrl-C".into()),
            ]
        );
        assert_eq!(end, [Seen::TaskStopped, Seen::ShutDown]);
    })
    .await
    .expect("lifecycle hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_configure_is_answered_with_its_reason_and_the_service_stays_unconfigured() {
    guard(async {
        let (mut ctl, seen, _cancel, service) = start_probe("refused").await;
        ctl.welcome().await;
        let (status, error) = ctl.command(configure(Some("no tokenizer"), None)).await;
        assert_eq!(status, CommandStatus::Failure);
        assert_eq!(
            error.as_deref(),
            Some("record_processor_probe: no tokenizer")
        );
        assert_eq!(ctl.heartbeat().await, ServiceState::Initialized);

        let (status, error) = ctl.command(Command::Start).await;
        assert_eq!(status, CommandStatus::Failure);
        assert_eq!(
            error.as_deref(),
            Some("record_processor_probe: start before configure")
        );

        // A document without the keys the service needs is refused the same way.
        #[derive(Serialize)]
        struct Unrelated {
            workers: u32,
        }
        let config = ConfigDocument::encode(&Unrelated { workers: 3 }).unwrap();
        let (status, error) = ctl.command(Command::Configure { config }).await;
        assert_eq!(status, CommandStatus::Failure);
        let error = error.unwrap();
        assert!(
            error.starts_with("record_processor_probe: unreadable configuration:")
                && error.contains("name"),
            "{error}"
        );

        assert_eq!(
            ctl.command(Command::Shutdown).await,
            (CommandStatus::Success, None)
        );
        service.await.unwrap().unwrap();
        assert_eq!(drain(seen).await, [Seen::ShutDown]);
    })
    .await
    .expect("hung");
}

/// Configures and starts the probe with `configure`; returns the `ServiceFailed`
/// error it reports, once heartbeats say `Failed`.
async fn failure_after_start(name: &str, configure: Command) -> String {
    let (mut ctl, _seen, cancel, service) = start_probe(name).await;
    ctl.welcome().await;
    assert_eq!(ctl.command(configure).await, (CommandStatus::Success, None));
    ctl.send(Command::Start).await;
    // The start response may come before or after the task's report.
    let mut failed = None;
    let mut started = None;
    while failed.is_none() || started.is_none() {
        match ctl.next().await {
            ToController::ServiceFailed { service_id, error } => {
                assert_eq!(service_id, SERVICE_ID);
                failed = Some(error)
            }
            ToController::CommandResponse { status, .. } => started = Some(status),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, Some(CommandStatus::Success));
    ctl.until_state(ServiceState::Failed).await;

    // Cancelling the token (the process is told to stop) ends the service.
    cancel.cancel();
    service.await.unwrap().unwrap();
    failed.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_of_a_service_task_is_reported_as_service_failed() {
    let error = guard(failure_after_start(
        "task-error",
        configure(None, Some("lost the socket")),
    ))
    .await
    .expect("hung");
    assert_eq!(error, "lost the socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_service_task_is_reported_as_service_failed() {
    let error = guard(failure_after_start(
        "task-panic",
        configure_full(None, None, Some("index out of range")),
    ))
    .await
    .expect("hung");
    assert_eq!(
        error,
        "a task crashed (a bug: please report it): index out of range"
    );
}
