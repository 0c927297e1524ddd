//! Dataset channel: clients' DEALER sockets talk to the dataset manager's ROUTER.

use serde::{Deserialize, Serialize};

/// One turn of a conversation: what the user sends and how it is scheduled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Prompt texts (one content part each).
    pub texts: Vec<String>,
    /// Requested output tokens (`max_completion_tokens`), if any.
    pub max_tokens: Option<u32>,
    /// Absolute send time in ms (trace replay).
    pub timestamp_ms: Option<f64>,
    /// Think time in ms after the previous turn's response.
    pub delay_ms: Option<f64>,
    /// Extra request-body fields, as a JSON object string (merged into the payload).
    pub extra_json: Option<String>,
}

/// A dataset conversation (a session's script).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Dataset id, e.g. `session_000003`.
    pub id: String,
    /// System message sent first on every turn.
    pub system_message: Option<String>,
    /// Per-conversation user context message sent after the system message.
    pub user_context: Option<String>,
    /// The turns in order.
    pub turns: Vec<Turn>,
}

/// Scheduling facts of one turn (what the timing manager needs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnTiming {
    /// Absolute send time in ms.
    pub timestamp_ms: Option<f64>,
    /// Think time in ms.
    pub delay_ms: Option<f64>,
}

/// What the timing manager needs to know about one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationTiming {
    /// Dataset id.
    pub id: String,
    /// One entry per turn.
    pub turns: Vec<TurnTiming>,
}

/// Request to the dataset manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum DatasetRequest {
    /// Conversations by id; `ids: None` asks for the whole dataset.
    Conversations {
        /// Correlates the reply.
        request_id: u64,
        /// Ids wanted, or all.
        ids: Option<Vec<String>>,
    },
    /// Ids and scheduling facts of every conversation, in dataset order.
    Timing {
        /// Correlates the reply.
        request_id: u64,
    },
}

/// Reply from the dataset manager.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum DatasetReply {
    /// The conversations asked for.
    Conversations {
        /// From the request.
        request_id: u64,
        /// Conversations found.
        conversations: Vec<Conversation>,
    },
    /// Dataset timing facts.
    Timing {
        /// From the request.
        request_id: u64,
        /// One per conversation, in dataset order.
        conversations: Vec<ConversationTiming>,
        /// How the timing manager should draw conversations.
        sampling: SamplingStrategy,
    },
    /// The request could not be answered.
    Error {
        /// From the request.
        request_id: u64,
        /// Why.
        message: String,
    },
}

/// Order in which conversations are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplingStrategy {
    /// Dataset order, wrapping around.
    Sequential,
    /// Uniform with replacement.
    Random,
    /// Shuffled order without replacement, reshuffled when exhausted.
    Shuffle,
}
