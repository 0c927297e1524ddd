//! Record processors: the only services that interpret responses. Each pulls raw
//! records (round robin across processors), parses them, counts tokens, computes
//! the per-request metrics and pushes a metric record to the records manager.

pub mod background;
pub mod process;
pub mod service;
pub mod taken;

pub use process::RecordInterpreter;
pub use service::RecordProcessor;
