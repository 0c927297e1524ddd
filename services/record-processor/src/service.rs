//! The record processor actor.

use crate::{background::BackgroundPool, process::RecordInterpreter, taken::TakenCounter};
use aiperf_config::ProfileConfig;
use aiperf_protocol::{
    ServiceType,
    record::{MetricRecord, RawRecord},
};
use aiperf_transport::{Publisher, Pull, Push, Service, ServiceContext, run_service};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Test hook: a record processor whose environment sets this variable to a number
/// of milliseconds spends that long on every record (on its background threads),
/// so that tests can make record processing fall behind the workers. Not a user
/// option.
pub const TEST_DELAY_ENV: &str = "AIPERF_TEST_RECORD_DELAY_MS";

/// The per-record delay of [`TEST_DELAY_ENV`], if set.
fn test_delay() -> Option<Duration> {
    let ms: u64 = std::env::var(TEST_DELAY_ENV).ok()?.parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// A record processor actor.
pub struct RecordProcessor {
    control_addr: String,
    service_id: String,
}

impl RecordProcessor {
    /// A record processor that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        RecordProcessor {
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

impl Service for RecordProcessor {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::RecordProcessor
    }

    /// Loads the tokenizer, connects to the raw-record proxy and the records
    /// manager, and starts interpreting.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let interp = RecordInterpreter::load(&config, ctx.service_id.clone()).await?;
        let pull: Pull<RawRecord> = Pull::connect(&ctx.endpoints.raw_records_backend)
            .await
            .map_err(|e| e.to_string())?;
        let push: Push<MetricRecord> = Push::connect(&ctx.endpoints.records)
            .await
            .map_err(|e| e.to_string())?;
        let events = Publisher::connect(&ctx.endpoints.event_frontend)
            .await
            .map_err(|e| e.to_string())?;
        let taken = Arc::new(TakenCounter::default());
        let t = taken.clone();
        let id = ctx.service_id.clone();
        ctx.spawn(async move { t.publish(id, events).await });
        ctx.spawn(process_loop(
            Arc::new(interp),
            pull,
            push,
            taken,
            test_delay(),
        ));
        Ok(())
    }
}

/// Interprets records as they arrive. Tokenizing is CPU work: it runs on the
/// blocking pool, several records at once, so the socket never stalls. Runs until
/// the service stops; an error ends the run. Every record taken in is counted for
/// its worker's record window (`taken`). `delay` is the [`TEST_DELAY_ENV`] hook.
async fn process_loop(
    interp: Arc<RecordInterpreter>,
    mut pull: Pull<RawRecord>,
    mut push: Push<MetricRecord>,
    taken: Arc<TakenCounter>,
    delay: Option<Duration>,
) -> Result<(), String> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let limit = 2 * cpus;
    let pool = BackgroundPool::new("aiperf-rp", cpus)
        .map(Arc::new)
        .map_err(|e| format!("record processor cannot start its threads: {e}"))?;
    let mut running = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            raw = pull.recv(), if running.len() < limit => match raw {
                Ok(raw) => {
                    taken.take(&raw.worker_id);
                    let i = interp.clone();
                    let p = pool.clone();
                    running.spawn(async move {
                        p.run(move || {
                            if let Some(d) = delay {
                                std::thread::sleep(d);
                            }
                            i.interpret(&raw)
                        })
                        .await
                    });
                }
                Err(e) => return Err(format!("record processor cannot read raw records: {e}")),
            },
            Some(done) = running.join_next() => {
                let record = match done {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => {
                        return Err("record processor crashed on a record (a bug: please report it)".into());
                    }
                    Err(e) => return Err(format!("record processor crashed on a record: {e}")),
                };
                push.send(&record)
                    .await
                    .map_err(|e| format!("record processor cannot push to the records manager: {e}"))?;
            }
        }
    }
}
