//! The records manager: the only service that aggregates. It pulls metric
//! records, streams them to `profile_export.jsonl`, folds them into per-phase
//! summaries, knows from the timing manager's phase events when every record is
//! in, and sends the results to the controller.

pub mod jsonl;
pub mod recover;
pub mod service;

pub use service::RecordsManager;
