//! Knowledge of the OpenAI-compatible API, in one place: how a turn becomes a
//! request body ([`payload`]) and how response bytes become text, reasoning and
//! usage ([`response`]). Workers build payloads; record processors parse responses;
//! the dataset manager writes `inputs.json` with the same payload builder.

pub mod payload;
pub mod response;
pub mod usage;

pub use payload::{ChatMessage, PayloadBuilder};
pub use response::{ParsedResponse, parse_response};
pub use usage::Usage;
