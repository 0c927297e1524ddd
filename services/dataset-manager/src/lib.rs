//! aiperf-dataset-manager: builds the benchmark dataset and serves it to the other
//! services.
//!
//! Library modules:
//! - [`corpus`]: the embedded prompt corpus and its per-tokenizer token ids;
//! - [`prompt`]: exact-length synthetic prompts and length sampling;
//! - [`synthetic`]: the synthetic dataset (`--isl/--osl/--num-dataset-entries`);
//! - [`inputs_json`]: the `inputs.json` artifact.

#![warn(missing_docs)]

pub mod corpus;
pub mod inputs_json;
pub mod prompt;
pub mod synthetic;
pub mod service;

pub use service::DatasetManager;
