//! Worker pool: the [`WorkerManager`] sizes the pool, each [`Worker`] turns credits
//! into HTTP requests and raw records.

pub mod errors;
pub mod handoff;
pub mod http;
pub mod manager;
pub mod pool;
pub mod preopen;
pub mod sent;
pub mod sse;
pub mod window;
pub mod worker;

pub use manager::WorkerManager;
pub use worker::Worker;
