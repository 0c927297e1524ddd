//! The service runtime: the one lifecycle every service shares.
//!
//! A service implements [`Service`] — what to do on `configure`, `start`, `cancel`
//! and at the end — and [`run_service`] does the rest: it registers with the
//! controller, sends heartbeats carrying the state, answers every command (with the
//! service id in a failure's reason) and tears the service down on `shutdown`, on
//! cancellation or when the controller goes away.
//!
//! ```text
//! register ──welcome──▶ Initialized ──configure ok──▶ Ready ──start ok──▶ Running
//!                            │                                              │
//!                            └────────────── shutdown ──▶ Stopping ◀────────┘
//! ```
//!
//! A failed `configure` or `start` is answered with `Failure` and the state stays
//! where it was. The socket work of a service runs in tasks it spawns while being
//! configured, usually with [`ServiceContext::spawn`]: such a task ends when the
//! service stops, and an error it returns is reported to the controller as
//! `ServiceFailed`, which fails the run.
//!
//! A service in its own crate depends on `aiperf-transport` and `aiperf-protocol`
//! only: its configuration type is any `serde` type with the keys it needs from the
//! configuration document (see [`aiperf_protocol::ConfigDocument`]).

use crate::{ControlClient, ControlCommand, ControlSender, Result};
use aiperf_protocol::{
    Endpoints, ServiceType,
    control::{Command, ServiceState},
};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tokio_util::sync::CancellationToken;

/// What a service is given by the runtime: who it is, where everything is, the
/// control channel, and the token that ends its tasks.
#[derive(Clone)]
pub struct ServiceContext {
    /// This service's id (its control identity), e.g. `worker_503afa03`.
    pub service_id: String,
    /// The addresses of every socket of the run, from the controller's welcome.
    pub endpoints: Endpoints,
    /// Sends to the controller (e.g. `SpawnWorkers`, `Results`).
    pub control: ControlSender,
    /// Cancelled when the service stops (shutdown, cancellation, controller gone).
    pub stop: CancellationToken,
}

impl ServiceContext {
    /// Reports a fatal error; the controller fails the run with `error`.
    pub async fn fail(&self, error: impl Into<String>) {
        self.control.fail(error).await;
    }

    /// Runs `work` as a task until it finishes or the service stops; an error it
    /// returns, or its panic, is reported as `ServiceFailed`.
    pub fn spawn<F>(&self, work: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = std::result::Result<(), String>> + Send + 'static,
    {
        let stop = self.stop.clone();
        let control = self.control.clone();
        tokio::spawn(async move {
            let outcome = tokio::select! {
                _ = stop.cancelled() => Ok(()),
                r = AssertUnwindSafe(work).catch_unwind() => r.unwrap_or_else(|panic| {
                    Err(format!("a task crashed (a bug: please report it): {}", panic_text(&*panic)))
                }),
            };
            if let Err(e) = outcome {
                control.fail(e).await;
            }
        })
    }
}

/// The message of a panic payload.
fn panic_text(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// A service: its answers to the controller's commands. Run it with [`run_service`].
///
/// Every hook returns `Err(reason)` to answer its command with `Failure`; the
/// runtime prefixes the reason with the service id.
pub trait Service: Send {
    /// The configuration the service reads from `configure`'s document: any type
    /// that deserializes from the keys it needs (unknown keys are ignored unless
    /// the type denies them).
    type Config: DeserializeOwned + Send;

    /// What the service registers as.
    fn service_type(&self) -> ServiceType;

    /// Prepares for the run: binds or connects its sockets, builds its state and
    /// spawns its socket work (see [`ServiceContext::spawn`]). On success the
    /// service is `Ready`.
    fn configure(
        &mut self,
        config: Self::Config,
        ctx: &ServiceContext,
    ) -> impl Future<Output = std::result::Result<(), String>> + Send;

    /// Starts the run; on success the service is `Running`. Called only once
    /// configured. Does nothing by default.
    fn start(
        &mut self,
        ctx: &ServiceContext,
    ) -> impl Future<Output = std::result::Result<(), String>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Cancels the run (stop issuing, abort in-flight work, report partial results).
    /// Does nothing by default.
    fn cancel(
        &mut self,
        reason: &str,
        ctx: &ServiceContext,
    ) -> impl Future<Output = std::result::Result<(), String>> + Send {
        let _ = (reason, ctx);
        async { Ok(()) }
    }

    /// Last call, after the service's tasks were told to stop: joins threads,
    /// flushes. Does nothing by default.
    fn shutdown(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs `service` as `service_id` against the controller at `control_addr` until
/// `shutdown`, `cancel` or the loss of the controller. An error means the service
/// could not register or could no longer answer the controller.
pub async fn run_service<S: Service>(
    mut service: S,
    control_addr: &str,
    service_id: &str,
    cancel: CancellationToken,
) -> Result<()> {
    let mut control =
        ControlClient::register(control_addr, service.service_type(), service_id).await?;
    let ctx = ServiceContext {
        service_id: service_id.to_string(),
        endpoints: control.endpoints().clone(),
        control: control.sender(),
        stop: CancellationToken::new(),
    };
    let outcome = command_loop(&mut service, &mut control, &ctx, &cancel).await;
    ctx.control.set_state(ServiceState::Stopping);
    ctx.stop.cancel();
    service.shutdown().await;
    outcome
}

/// Answers commands until `shutdown`, `cancel` or the loss of the controller. A
/// hook still running when `shutdown` arrives, `cancel` fires or the controller
/// is lost (a long `configure`: building a large dataset) is abandoned, so the
/// service stops at once in every stage; other commands that arrive during a hook
/// wait for it.
async fn command_loop<S: Service>(
    service: &mut S,
    control: &mut ControlClient,
    ctx: &ServiceContext,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut configured = false;
    let lost = control.controller_lost();
    let mut queued: VecDeque<ControlCommand> = VecDeque::new();
    loop {
        let cmd = match queued.pop_front() {
            Some(c) => c,
            None => match control.next_command_until(cancel).await {
                Some(c) => c,
                None => break,
            },
        };
        if let Command::Shutdown = cmd.command {
            ctx.control.set_state(ServiceState::Stopping);
            let _ = ctx.control.respond(cmd.id, Ok(())).await;
            break;
        }
        let hook = async {
            match cmd.command {
                Command::Configure { config } => {
                    let outcome = match config.decode::<S::Config>() {
                        Ok(config) => service.configure(config, ctx).await,
                        Err(e) => Err(format!("unreadable configuration: {e}")),
                    };
                    if outcome.is_ok() {
                        configured = true;
                        ctx.control.set_state(ServiceState::Ready);
                    }
                    outcome
                }
                Command::Start if !configured => Err("start before configure".to_string()),
                Command::Start => {
                    let outcome = service.start(ctx).await;
                    if outcome.is_ok() {
                        ctx.control.set_state(ServiceState::Running);
                    }
                    outcome
                }
                Command::Cancel { reason } => service.cancel(&reason, ctx).await,
                Command::Shutdown => Ok(()),
            }
        };
        tokio::pin!(hook);
        let outcome = loop {
            tokio::select! {
                outcome = &mut hook => break Some(outcome),
                _ = cancel.cancelled() => break None,
                _ = lost.cancelled() => break None,
                next = control.next_command() => match next {
                    Ok(c) if matches!(c.command, Command::Shutdown) => {
                        ctx.control.set_state(ServiceState::Stopping);
                        let _ = ctx.control.respond(c.id, Ok(())).await;
                        break None;
                    }
                    Ok(c) => queued.push_back(c),
                    Err(_) => break None,
                },
            }
        };
        let Some(outcome) = outcome else { break };
        let outcome = outcome.map_err(|e| format!("{}: {e}", ctx.service_id));
        ctx.control.respond(cmd.id, outcome).await?;
    }
    Ok(())
}
