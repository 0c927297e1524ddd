//! The dataset manager actor: builds the dataset on configure, writes
//! `inputs.json`, and answers conversation and timing requests.

use crate::{inputs_json::write_inputs_json, synthetic::generate_conversations};
use aiperf_config::ProfileConfig;
use aiperf_endpoint::PayloadBuilder;
use aiperf_protocol::{
    control::{Command, ServiceState},
    dataset::{Conversation, ConversationTiming, DatasetReply, DatasetRequest, SamplingStrategy, TurnTiming},
    ServiceType,
};
use aiperf_transport::{ControlClient, ControlSender, Router};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The dataset manager actor.
pub struct DatasetManager {
    control_addr: String,
    service_id: String,
}

/// A built dataset, indexed by conversation id.
pub struct Dataset {
    /// Conversations in dataset order.
    pub conversations: Vec<Conversation>,
    /// Position of each id.
    pub index: HashMap<String, usize>,
    /// How sessions draw conversations.
    pub sampling: SamplingStrategy,
}

impl Dataset {
    /// Indexes `conversations`.
    pub fn new(conversations: Vec<Conversation>, sampling: SamplingStrategy) -> Self {
        let index = conversations.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        Dataset { conversations, index, sampling }
    }

    /// Answers one request.
    pub fn answer(&self, req: DatasetRequest) -> DatasetReply {
        match req {
            DatasetRequest::Conversations { request_id, ids: None } => DatasetReply::Conversations { request_id, conversations: self.conversations.clone() },
            DatasetRequest::Conversations { request_id, ids: Some(ids) } => {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    match self.index.get(id) {
                        Some(&i) => out.push(self.conversations[i].clone()),
                        None => return DatasetReply::Error { request_id, message: format!("conversation {id} is not in the dataset") },
                    }
                }
                DatasetReply::Conversations { request_id, conversations: out }
            }
            DatasetRequest::Timing { request_id } => DatasetReply::Timing {
                request_id,
                conversations: self
                    .conversations
                    .iter()
                    .map(|c| ConversationTiming {
                        id: c.id.clone(),
                        turns: c.turns.iter().map(|t| TurnTiming { timestamp_ms: t.timestamp_ms, delay_ms: t.delay_ms }).collect(),
                    })
                    .collect(),
                sampling: self.sampling,
            },
        }
    }
}

/// Builds the dataset the configuration asks for.
pub fn build_dataset(config: &ProfileConfig) -> Result<Dataset, String> {
    let tokenizer = aiperf_tokenizer::load(config.tokenizer.as_deref()).map_err(|e| e.to_string())?;
    let conversations = generate_conversations(config, tokenizer)?;
    Ok(Dataset::new(conversations, SamplingStrategy::Shuffle))
}

impl DatasetManager {
    /// A dataset manager that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        DatasetManager { control_addr: control_addr.into(), service_id: service_id.into() }
    }

    /// Runs until shutdown.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut control = ControlClient::register(&self.control_addr, ServiceType::DatasetManager, &self.service_id).await?;
        let ctl = control.sender();
        let stop = CancellationToken::new();
        loop {
            let cmd = tokio::select! {
                _ = cancel.cancelled() => break,
                c = control.next_command() => match c { Ok(c) => c, Err(_) => break },
            };
            match cmd.command {
                Command::Configure { config } => {
                    let result = self.configure(&control, *config, ctl.clone(), stop.clone()).await;
                    if result.is_ok() {
                        ctl.set_state(ServiceState::Ready);
                    }
                    ctl.respond(cmd.id, result.map_err(|e| format!("dataset manager: {e}"))).await?;
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
        stop.cancel();
        Ok(())
    }

    async fn configure(&self, control: &ControlClient, config: ProfileConfig, ctl: ControlSender, stop: CancellationToken) -> Result<(), String> {
        let cfg = config.clone();
        let dataset = tokio::task::spawn_blocking(move || build_dataset(&cfg)).await.map_err(|e| e.to_string())??;
        let inputs_path = config.artifact_dir.join("inputs.json");
        let builder = PayloadBuilder::new(&config);
        write_inputs_json(&inputs_path, &dataset.conversations, |c, i| builder.turn_body(c, i))
            .map_err(|e| format!("cannot write {}: {e}", inputs_path.display()))?;
        let addr = control.endpoints().dataset.clone();
        let router: Router<DatasetReply, DatasetRequest> = Router::bind(&addr).await.map_err(|e| format!("cannot bind {addr}: {e}"))?;
        let dataset = Arc::new(dataset);
        tokio::spawn(serve(router, dataset, ctl, stop));
        Ok(())
    }
}

async fn serve(router: Router<DatasetReply, DatasetRequest>, dataset: Arc<Dataset>, ctl: ControlSender, stop: CancellationToken) {
    let (mut tx, mut rx) = router.split();
    loop {
        let msg = tokio::select! { _ = stop.cancelled() => break, m = rx.recv() => m };
        match msg {
            Ok((identity, req)) => {
                let d = dataset.clone();
                let reply = match tokio::task::spawn_blocking(move || d.answer(req)).await {
                    Ok(r) => r,
                    Err(e) => {
                        ctl.fail(format!("dataset manager crashed answering a request: {e}")).await;
                        break;
                    }
                };
                if let Err(e) = tx.send(&identity, &reply).await {
                    tracing::warn!("cannot answer {identity}: {e}");
                }
            }
            Err(e) => {
                ctl.fail(format!("dataset manager lost its socket: {e}")).await;
                break;
            }
        }
    }
}
