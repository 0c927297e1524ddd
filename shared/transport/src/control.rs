//! The service side of the control channel: register with the controller, learn
//! every other address, send heartbeats, receive commands, answer them.

use crate::{Dealer, DealerRx, DealerTx, Result, TransportError};
use aiperf_protocol::{
    Endpoints, PROTOCOL_VERSION, ServiceType,
    control::{Command, CommandStatus, FromController, ServiceState, ToController},
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Interval between heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

/// The control-channel watchdog: when no heartbeat could be delivered for this
/// long (the controller's socket is gone: it exited or was killed), the service
/// takes the controller for dead and stops ([`ControlClient::next_command_until`]
/// returns `None`).
pub const CONTROLLER_SILENCE: Duration = Duration::from_secs(2);

/// A command received from the controller.
#[derive(Debug)]
pub struct ControlCommand {
    /// Id to answer with.
    pub id: u64,
    /// The command.
    pub command: Command,
}

/// Cloneable handle to send messages to the controller from any task.
#[derive(Clone)]
pub struct ControlSender {
    tx: Arc<Mutex<DealerTx<ToController>>>,
    service_id: Arc<str>,
    state: Arc<AtomicU8>,
}

impl ControlSender {
    /// Sends any control message.
    pub async fn send(&self, msg: &ToController) -> Result<()> {
        self.tx.lock().await.send(msg).await
    }

    /// Answers a command.
    pub async fn respond(
        &self,
        command_id: u64,
        outcome: std::result::Result<(), String>,
    ) -> Result<()> {
        let (status, error) = match outcome {
            Ok(()) => (CommandStatus::Success, None),
            Err(e) => (CommandStatus::Failure, Some(e)),
        };
        self.send(&ToController::CommandResponse {
            service_id: self.service_id.to_string(),
            command_id,
            status,
            error,
        })
        .await
    }

    /// Reports a fatal error; the controller fails the run with this message.
    pub async fn fail(&self, error: impl Into<String>) {
        self.set_state(ServiceState::Failed);
        let _ = self
            .send(&ToController::ServiceFailed {
                service_id: self.service_id.to_string(),
                error: error.into(),
            })
            .await;
    }

    /// Sets the state reported in heartbeats. `Failed` is final: a failed service
    /// keeps reporting it whatever its command loop does next.
    pub fn set_state(&self, state: ServiceState) {
        let failed = state_code(ServiceState::Failed);
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                (current != failed).then_some(state_code(state))
            });
    }

    /// This service's id.
    pub fn service_id(&self) -> &str {
        &self.service_id
    }
}

fn state_code(s: ServiceState) -> u8 {
    match s {
        ServiceState::Initialized => 0,
        ServiceState::Ready => 1,
        ServiceState::Running => 2,
        ServiceState::Stopping => 3,
        ServiceState::Failed => 4,
    }
}

fn state_of(c: u8) -> ServiceState {
    match c {
        0 => ServiceState::Initialized,
        1 => ServiceState::Ready,
        2 => ServiceState::Running,
        3 => ServiceState::Stopping,
        _ => ServiceState::Failed,
    }
}

/// A registered service's connection to the controller.
pub struct ControlClient {
    sender: ControlSender,
    rx: DealerRx<FromController>,
    endpoints: Endpoints,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Cancelled by the heartbeat task when the controller is gone.
    controller_lost: CancellationToken,
}

impl ControlClient {
    /// Connects to the controller at `control_addr`, registers, and waits for the
    /// welcome carrying every other address. Starts the heartbeat task.
    pub async fn register(
        control_addr: &str,
        service_type: ServiceType,
        service_id: &str,
    ) -> Result<ControlClient> {
        let dealer: Dealer<ToController, FromController> =
            Dealer::connect(control_addr, service_id).await?;
        let (mut tx, mut rx) = dealer.split();
        tx.send(&ToController::Register {
            protocol_version: PROTOCOL_VERSION,
            service_id: service_id.to_string(),
            service_type,
            pid: std::process::id(),
        })
        .await?;
        let welcome = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .map_err(|_| {
                TransportError::Timeout(format!(
                    "controller at {control_addr} did not answer the registration"
                ))
            })??;
        let endpoints = match welcome {
            FromController::Welcome { endpoints, .. } => endpoints,
            FromController::Rejected { reason } => {
                return Err(TransportError::Timeout(format!(
                    "controller refused registration: {reason}"
                )));
            }
            FromController::Command { .. } => {
                return Err(TransportError::Malformed("command before welcome"));
            }
        };
        let sender = ControlSender {
            tx: Arc::new(Mutex::new(tx)),
            service_id: Arc::from(service_id),
            state: Arc::new(AtomicU8::new(state_code(ServiceState::Initialized))),
        };
        let controller_lost = CancellationToken::new();
        let heartbeat = tokio::spawn(heartbeats(sender.clone(), controller_lost.clone()));
        Ok(ControlClient {
            sender,
            rx,
            endpoints,
            heartbeat,
            controller_lost,
        })
    }

    /// Addresses of every socket of the run.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// A cloneable sender for other tasks.
    pub fn sender(&self) -> ControlSender {
        self.sender.clone()
    }

    /// The next command, or `None` when `cancel` fires or the controller is gone
    /// (its socket closed, or the watchdog found it silent): the end of every
    /// service's main loop.
    pub async fn next_command_until(
        &mut self,
        cancel: &CancellationToken,
    ) -> Option<ControlCommand> {
        let lost = self.controller_lost.clone();
        tokio::select! {
            _ = cancel.cancelled() => None,
            _ = lost.cancelled() => {
                tracing::warn!(
                    "the controller is gone (no heartbeat delivered for {} s): stopping",
                    CONTROLLER_SILENCE.as_secs()
                );
                None
            }
            c = self.next_command() => c.ok(),
        }
    }

    /// A token cancelled when the controller is gone (see [`CONTROLLER_SILENCE`]).
    pub fn controller_lost(&self) -> CancellationToken {
        self.controller_lost.clone()
    }

    /// Waits for the next command. An error means the controller is gone.
    pub async fn next_command(&mut self) -> Result<ControlCommand> {
        loop {
            match self.rx.recv().await? {
                FromController::Command {
                    command_id,
                    command,
                } => {
                    return Ok(ControlCommand {
                        id: command_id,
                        command,
                    });
                }
                FromController::Welcome { .. } | FromController::Rejected { .. } => continue,
            }
        }
    }
}

/// Sends a heartbeat every [`HEARTBEAT_INTERVAL`]; cancels `lost` once none could
/// be delivered for [`CONTROLLER_SILENCE`] (a DEALER refuses to send when its one
/// peer, the controller's ROUTER, has disconnected).
async fn heartbeats(hb: ControlSender, lost: CancellationToken) {
    let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        let msg = ToController::Heartbeat {
            service_id: hb.service_id.to_string(),
            state: state_of(hb.state.load(Ordering::Relaxed)),
        };
        let sent = tokio::time::timeout(HEARTBEAT_INTERVAL, hb.send(&msg)).await;
        if matches!(sent, Ok(Ok(()))) {
            failing_since = None;
            continue;
        }
        let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() >= CONTROLLER_SILENCE {
            lost.cancel();
            return;
        }
    }
}

impl Drop for ControlClient {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
