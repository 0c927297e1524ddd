//! The worker manager: decides how many workers the run needs and asks the
//! controller to start them.

use aiperf_protocol::{
    ServiceType,
    control::{Command, ServiceState, ToController},
};
use aiperf_transport::ControlClient;
use tokio_util::sync::CancellationToken;

/// The worker manager actor.
pub struct WorkerManager {
    control_addr: String,
    service_id: String,
}

impl WorkerManager {
    /// A worker manager that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        WorkerManager {
            control_addr: control_addr.into(),
            service_id: service_id.into(),
        }
    }

    /// Runs until shutdown. On configure it sends `SpawnWorkers` for the workers the
    /// controller must start (the configured count minus those started by hand).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut control = ControlClient::register(
            &self.control_addr,
            ServiceType::WorkerManager,
            &self.service_id,
        )
        .await?;
        let ctl = control.sender();
        loop {
            let Some(cmd) = control.next_command_until(&cancel).await else {
                break;
            };
            match cmd.command {
                Command::Configure { config } => {
                    let config = aiperf_config::ProfileConfig::from_document(&config)?;
                    let wanted = config
                        .workers
                        .saturating_sub(config.external_count("worker"));
                    ctl.send(&ToController::SpawnWorkers {
                        service_id: self.service_id.clone(),
                        num_workers: wanted,
                    })
                    .await?;
                    ctl.set_state(ServiceState::Ready);
                    ctl.respond(cmd.id, Ok(())).await?;
                }
                Command::Start => {
                    ctl.set_state(ServiceState::Running);
                    ctl.respond(cmd.id, Ok(())).await?;
                }
                Command::Cancel { .. } => ctl.respond(cmd.id, Ok(())).await?,
                Command::Shutdown => {
                    let _ = ctl.respond(cmd.id, Ok(())).await;
                    break;
                }
            }
        }
        Ok(())
    }
}
