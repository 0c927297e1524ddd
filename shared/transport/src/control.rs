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

/// Interval between heartbeats.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

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
        let hb = sender.clone();
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
            loop {
                tick.tick().await;
                let state = state_of(hb.state.load(Ordering::Relaxed));
                let msg = ToController::Heartbeat {
                    service_id: hb.service_id.to_string(),
                    state,
                };
                if hb.send(&msg).await.is_err() {
                    break;
                }
            }
        });
        Ok(ControlClient {
            sender,
            rx,
            endpoints,
            heartbeat,
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

    /// The next command, or `None` when `cancel` fires or the controller is gone:
    /// the end of every service's main loop.
    pub async fn next_command_until(
        &mut self,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<ControlCommand> {
        tokio::select! {
            _ = cancel.cancelled() => None,
            c = self.next_command() => c.ok(),
        }
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

impl Drop for ControlClient {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
