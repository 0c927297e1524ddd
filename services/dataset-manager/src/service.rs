//! The dataset manager actor: builds the dataset on configure, writes
//! `inputs.json`, and answers conversation and timing requests.

use crate::schedule::{self, protocol_sampling};
use crate::{inputs_json::write_inputs_json, loaders, synthetic::generate_conversations};
use aiperf_config::{CustomDatasetType, DatasetConfig, ProfileConfig, PublicDataset};
use aiperf_endpoint::PayloadBuilder;
use aiperf_protocol::{
    ServiceType,
    dataset::{
        Conversation, ConversationTiming, DatasetReply, DatasetRequest, SamplingStrategy,
        TurnTiming,
    },
};
use aiperf_transport::{Router, Service, ServiceContext, run_service};
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
    /// Whether the fixed schedule is in effect (every conversation's first turn has a
    /// `timestamp_ms`; see [`build_dataset`]).
    pub fixed_schedule: bool,
    /// Whether `inputs.json` is written (not for traces, as AIPerf 0.13).
    pub write_inputs_json: bool,
}

impl Dataset {
    /// Indexes `conversations` (not a fixed schedule; `inputs.json` written).
    pub fn new(conversations: Vec<Conversation>, sampling: SamplingStrategy) -> Self {
        let index = conversations
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Dataset {
            conversations,
            index,
            sampling,
            fixed_schedule: false,
            write_inputs_json: true,
        }
    }

    /// Answers one request.
    pub fn answer(&self, req: DatasetRequest) -> DatasetReply {
        match req {
            DatasetRequest::Conversations {
                request_id,
                ids: None,
            } => DatasetReply::Conversations {
                request_id,
                conversations: self.conversations.clone(),
            },
            DatasetRequest::Conversations {
                request_id,
                ids: Some(ids),
            } => {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    match self.index.get(id) {
                        Some(&i) => out.push(self.conversations[i].clone()),
                        None => {
                            return DatasetReply::Error {
                                request_id,
                                message: format!("conversation {id} is not in the dataset"),
                            };
                        }
                    }
                }
                DatasetReply::Conversations {
                    request_id,
                    conversations: out,
                }
            }
            DatasetRequest::Timing { request_id } => DatasetReply::Timing {
                request_id,
                conversations: self
                    .conversations
                    .iter()
                    .map(|c| ConversationTiming {
                        id: c.id.clone(),
                        turns: c
                            .turns
                            .iter()
                            .map(|t| TurnTiming {
                                timestamp_ms: t.timestamp_ms,
                                delay_ms: t.delay_ms,
                            })
                            .collect(),
                    })
                    .collect(),
                sampling: self.sampling,
            },
        }
    }
}

/// Builds the dataset the configuration asks for.
///
/// Sources (`config.dataset`): `--public-dataset sharegpt` ([`loaders::sharegpt`]);
/// `--input-file` in the format of `--custom-dataset-type` or detected
/// ([`loaders::detect_type`]); otherwise the synthetic generator
/// ([`generate_conversations`]). Sampling: `--dataset-sampling-strategy`, else
/// `shuffle` for synthetic data and `sequential` for everything else. With
/// `--system-prompt`/`--system-prompt-file` every conversation of any source gets that
/// text as its system message ([`apply_system_prompt`]).
///
/// # Fixed-schedule contract (for the timing manager)
///
/// `Turn::timestamp_ms` is set **only** when the fixed schedule is in effect, and then
/// on the first turn of **every** conversation: it is the send time in milliseconds
/// from the schedule zero (window, `--synthesis-speedup-ratio` and the start/auto
/// offset already applied), so the timing manager sends turn 0 of a conversation at
/// `phase_start + timestamp_ms` and needs no offset of its own. Conversations are in
/// ascending order of that first timestamp and the sampling is `sequential`. Later
/// turns carry either an absolute `timestamp_ms` (same zero) or a `delay_ms` (think
/// time after the previous turn returned), or neither (send on return).
/// Hence: **the first turn of conversation 0 has a timestamp ⇔ fixed-schedule mode**.
/// Otherwise no turn has a timestamp; `delay_ms` may still be set (multi-turn think
/// times). The fixed schedule is in effect with `--fixed-schedule`, or automatically
/// when every conversation of an `--input-file` starts with a timestamp, unless
/// `--no-fixed-schedule` or `--ignore-trace-delays` (see [`crate::schedule`]).
pub fn build_dataset(config: &ProfileConfig) -> Result<Dataset, String> {
    let tokenizer =
        aiperf_tokenizer::load(config.tokenizer.as_deref()).map_err(|e| e.to_string())?;
    let d = &config.dataset;
    let seed = config.random_seed;
    let (conversations, source, trace) = match (d.public_dataset, &d.input_file) {
        (Some(PublicDataset::Sharegpt), file) => (
            loaders::sharegpt::load(file.as_deref(), tokenizer, config.osl, seed)?,
            "ShareGPT".to_string(),
            false,
        ),
        (None, Some(path)) => {
            let kind = match d.custom_dataset_type {
                Some(t) => t,
                None => {
                    let t = loaders::detect_type(path)?;
                    tracing::info!(file = %path.display(), format = t.name(), "dataset format detected");
                    t
                }
            };
            d.check_type(kind).map_err(|e| e.to_string())?;
            let convs = match kind {
                CustomDatasetType::SingleTurn => loaders::single_turn::load(path, seed)?,
                CustomDatasetType::MultiTurn => loaders::multi_turn::load(path, seed)?,
                CustomDatasetType::RandomPool => loaders::random_pool::load(
                    path,
                    d.num_conversations.unwrap_or(config.num_dataset_entries),
                    seed,
                )?,
                CustomDatasetType::MooncakeTrace => {
                    loaders::mooncake::load(path, config, tokenizer)?
                }
                CustomDatasetType::AzureTrace => loaders::azure::load(path, config, tokenizer)?,
            };
            (convs, path.display().to_string(), kind.is_trace())
        }
        (None, None) => {
            let mut convs = generate_conversations(config, tokenizer)?;
            apply_system_prompt(&mut convs, d);
            return Ok(Dataset::new(
                convs,
                protocol_sampling(d.sampling_strategy_or_default()),
            ));
        }
    };
    let mut conversations = conversations;
    apply_system_prompt(&mut conversations, d);
    let scheduled = schedule::apply(conversations, d, &source)?;
    let mut dataset = Dataset::new(scheduled.conversations, scheduled.sampling);
    dataset.fixed_schedule = scheduled.fixed_schedule;
    dataset.write_inputs_json = !trace;
    if dataset.index.len() != dataset.conversations.len() {
        return Err(format!("{source}: conversation ids are not unique"));
    }
    Ok(dataset)
}

/// Sets the verbatim `--system-prompt` text as the system message of every
/// conversation: the payload builder sends it first in `messages`, as it does the
/// generated `--shared-system-prompt-length` prompt (the two exclude each other).
pub fn apply_system_prompt(conversations: &mut [Conversation], d: &DatasetConfig) {
    if let Some(text) = &d.system_prompt {
        for c in conversations {
            c.system_message = Some(text.clone());
        }
    }
}

impl DatasetManager {
    /// A dataset manager that will register at `control_addr`.
    pub fn new(control_addr: impl Into<String>, service_id: impl Into<String>) -> Self {
        DatasetManager {
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

impl Service for DatasetManager {
    type Config = ProfileConfig;

    fn service_type(&self) -> ServiceType {
        ServiceType::DatasetManager
    }

    /// Builds the dataset, writes `inputs.json` and starts answering requests.
    async fn configure(
        &mut self,
        config: ProfileConfig,
        ctx: &ServiceContext,
    ) -> Result<(), String> {
        let cfg = config.clone();
        let dataset = tokio::task::spawn_blocking(move || build_dataset(&cfg))
            .await
            .map_err(|e| e.to_string())??;
        tracing::info!(
            conversations = dataset.conversations.len(),
            turns = dataset.conversations.iter().map(|c| c.turns.len()).sum::<usize>(),
            fixed_schedule = dataset.fixed_schedule,
            sampling = ?dataset.sampling,
            "dataset built"
        );
        if dataset.write_inputs_json {
            let inputs_path = config.artifact_dir.join("inputs.json");
            let builder = PayloadBuilder::new(&config);
            write_inputs_json(&inputs_path, &dataset.conversations, |c, i| {
                builder.turn_body(c, i)
            })
            .map_err(|e| format!("cannot write {}: {e}", inputs_path.display()))?;
        }
        let addr = &ctx.endpoints.dataset;
        let router: Router<DatasetReply, DatasetRequest> = Router::bind(addr)
            .await
            .map_err(|e| format!("cannot bind {addr}: {e}"))?;
        let dataset = Arc::new(dataset);
        ctx.spawn(serve(router, dataset));
        Ok(())
    }
}

/// Answers dataset requests until the service stops; an error ends the run.
async fn serve(
    router: Router<DatasetReply, DatasetRequest>,
    dataset: Arc<Dataset>,
) -> Result<(), String> {
    let (mut tx, mut rx) = router.split();
    loop {
        let (identity, req) = rx
            .recv()
            .await
            .map_err(|e| format!("dataset manager lost its socket: {e}"))?;
        let d = dataset.clone();
        let reply = tokio::task::spawn_blocking(move || d.answer(req))
            .await
            .map_err(|e| format!("dataset manager crashed answering a request: {e}"))?;
        if let Err(e) = tx.send(&identity, &reply).await {
            tracing::warn!("cannot answer {identity}: {e}");
        }
    }
}
