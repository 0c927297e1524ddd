//! The worker manager: decides how many workers the run needs and asks the
//! controller to start them.

use aiperf_config::ProfileConfig;
use aiperf_protocol::{ServiceType, control::ToController};
use aiperf_transport::{Service, ServiceContext, run_service};
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

    /// Runs until shutdown (see [`Service`]).
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let (addr, id) = (self.control_addr.clone(), self.service_id.clone());
        Ok(run_service(self, &addr, &id, cancel).await?)
    }
}

impl Service for WorkerManager {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::WorkerManager
    }

    /// Sends `SpawnWorkers` for the workers the controller must start (the
    /// configured count minus those started by hand).
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let wanted = config
            .workers
            .saturating_sub(config.external_count("worker"));
        ctx.control
            .send(&ToController::SpawnWorkers {
                service_id: ctx.service_id.clone(),
                num_workers: wanted,
            })
            .await
            .map_err(|e| format!("cannot ask the controller for workers: {e}"))
    }
}
