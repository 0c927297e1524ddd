//! The token counts a server reports about one response.

/// The server's `usage` object (the last non-empty one of the response): parsed
/// here from response messages, consumed by the usage metrics of `aiperf-metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// `prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `completion_tokens` (reasoning included).
    pub completion_tokens: Option<u64>,
    /// `total_tokens`.
    pub total_tokens: Option<u64>,
    /// `completion_tokens_details.reasoning_tokens` (or equivalent).
    pub reasoning_tokens: Option<u64>,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: Option<u64>,
}
