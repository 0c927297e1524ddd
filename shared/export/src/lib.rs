//! Writers of every file a profile run leaves in its artifact directory, in the
//! layouts of AIPerf 0.13 (documented in `docs/outputs.md`).
//!
//! This crate is a pure library: functions turn already-computed results
//! ([`aiperf_protocol::results`]) and records into strings; only
//! [`records_jsonl::JsonlWriter`] and the helpers of [`artifacts`] touch the disk.
//!
//! | module | file |
//! |---|---|
//! | [`summary_json`] | `profile_export_aiperf.json` |
//! | [`summary_csv`] | `profile_export_aiperf.csv` |
//! | [`console`] | the console tables, also `profile_export_console.txt` |
//! | [`records_jsonl`] | `profile_export.jsonl` (one line per record) |
//! | [`raw_jsonl`] | `profile_export_raw.jsonl` (`--export-level raw`) |
//! | [`timeslices`] | `profile_export_aiperf_timeslices.{csv,json}` |
//! | [`server_metrics`] | `server_metrics_export.{json,csv}` and the console's server section |
//! | [`sweep_aggregate`] | a sweep's `aggregate/…/profile_export_aiperf_aggregate.{json,csv}` and `sweep_aggregate/profile_export_aiperf_sweep.{json,csv}` |
//! | [`input_config`] | the `input_config` object of the summary and timeslices |
//! | [`artifacts`] | the path of every file, `.aiperf_results_ready.json` |
//! | [`redact`] | keeping API keys, secret headers and URL credentials out of files |
//!
//! Every value handed to this crate is already in its display unit (ms, tokens,
//! tokens/sec, …): conversion from base units is the metrics crate's business.

#![warn(missing_docs)]

pub mod artifacts;
pub mod console;
pub mod format;
pub mod input_config;
pub mod raw_jsonl;
pub mod records_jsonl;
/// Redaction lives with the configuration that knows the secrets (`aiperf_config::redact`).
pub use aiperf_config::redact;
pub mod server_metrics;
pub mod summary_csv;
pub mod summary_json;
pub mod sweep_aggregate;
mod table;
pub mod timeslices;

pub use artifacts::{ArtifactPaths, write_results_ready};
pub use console::{ConsoleContext, metric_warnings, render_console};
pub use records_jsonl::{DisplayValue, JsonlWriter, record_line};
pub use summary_csv::{render_metrics_csv, render_summary_csv};
pub use summary_json::{SummaryContext, render_summary_json};
pub use timeslices::{Timeslice, render_timeslices_csv, render_timeslices_json};

/// Version of the AIPerf export schema this crate writes (`schema_version`).
pub const SCHEMA_VERSION: &str = "1.4";

/// The AIPerf release whose file layouts are reproduced (`aiperf_version`), so that
/// tools reading AIPerf artifacts accept ours.
pub const AIPERF_COMPAT_VERSION: &str = "0.13.0";

/// Version of aiperf-rs that wrote the files (`aiperf_rs_version`).
pub const AIPERF_RS_VERSION: &str = env!("CARGO_PKG_VERSION");
