//! aiperf-dataset-manager: builds the benchmark dataset and serves it to the other
//! services.
//!
//! Library modules:
//! - [`corpus`]: the embedded prompt corpus and its per-tokenizer token ids;
//! - [`prompt`]: exact-length synthetic prompts and length sampling;
//! - [`synthetic`]: the synthetic dataset (`--isl/--osl/--num-dataset-entries`);
//! - [`inputs_json`]: the `inputs.json` artifact;
//! - [`loaders`]: dataset files and public datasets (one module per format);
//! - [`hash_prompts`]: Mooncake `hash_ids` → prompt text;
//! - [`synthesis`]: trace rows, load-time filters and `--synthesis-*` transforms;
//! - [`schedule`]: window, speed-up, offsets and the fixed-schedule decision.

#![warn(missing_docs)]

pub mod corpus;
pub mod hash_prompts;
pub mod inputs_json;
pub mod loaders;
pub mod prompt;
pub mod schedule;
pub mod service;
pub mod synthesis;
pub mod synthetic;

pub use service::DatasetManager;
