//! Client of the dataset manager (DEALER → ROUTER request/reply).

use crate::{Dealer, Result, TransportError};
use aiperf_protocol::dataset::{
    Conversation, ConversationTiming, DatasetReply, DatasetRequest, SamplingStrategy,
};
use std::time::Duration;

/// Asks the dataset manager for conversations and timing facts. One request at a time.
pub struct DatasetClient {
    dealer: Dealer<DatasetRequest, DatasetReply>,
    next_id: u64,
}

/// How long a dataset request may take (building a large reply included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

impl DatasetClient {
    /// Connects to the dataset manager at `addr`; `identity` must be unique (the service id).
    pub async fn connect(addr: &str, identity: &str) -> Result<Self> {
        Ok(DatasetClient {
            dealer: Dealer::connect(addr, identity).await?,
            next_id: 0,
        })
    }

    async fn call(&mut self, make: impl FnOnce(u64) -> DatasetRequest) -> Result<DatasetReply> {
        self.next_id += 1;
        let id = self.next_id;
        self.dealer.send(&make(id)).await?;
        loop {
            let reply = tokio::time::timeout(REQUEST_TIMEOUT, self.dealer.recv())
                .await
                .map_err(|_| {
                    TransportError::Timeout("the dataset manager did not answer".into())
                })??;
            let rid = match &reply {
                DatasetReply::Conversations { request_id, .. }
                | DatasetReply::Timing { request_id, .. }
                | DatasetReply::Error { request_id, .. } => *request_id,
            };
            if rid == id {
                return Ok(reply);
            }
        }
    }

    /// Conversations by id (`None` = the whole dataset).
    pub async fn conversations(
        &mut self,
        ids: Option<Vec<String>>,
    ) -> std::result::Result<Vec<Conversation>, String> {
        match self
            .call(|request_id| DatasetRequest::Conversations { request_id, ids })
            .await
            .map_err(|e| e.to_string())?
        {
            DatasetReply::Conversations { conversations, .. } => Ok(conversations),
            DatasetReply::Error { message, .. } => Err(message),
            DatasetReply::Timing { .. } => Err("unexpected timing reply".into()),
        }
    }

    /// Ids and scheduling facts of every conversation, and the sampling strategy.
    pub async fn timing(
        &mut self,
    ) -> std::result::Result<(Vec<ConversationTiming>, SamplingStrategy), String> {
        match self
            .call(|request_id| DatasetRequest::Timing { request_id })
            .await
            .map_err(|e| e.to_string())?
        {
            DatasetReply::Timing {
                conversations,
                sampling,
                ..
            } => Ok((conversations, sampling)),
            DatasetReply::Error { message, .. } => Err(message),
            DatasetReply::Conversations { .. } => Err("unexpected conversations reply".into()),
        }
    }
}
