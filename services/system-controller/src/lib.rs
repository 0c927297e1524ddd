//! The system controller: the `aiperf-rs` CLI process. It parses the
//! configuration, starts every other service (as tasks or processes), drives
//! the lifecycle, watches for failures, and writes the exports and console.

pub mod child;
pub mod cli;
pub mod controller;
pub mod ipc;
pub mod load_report;
pub mod logging;
pub mod output;
pub mod progress;
pub mod run;
pub mod services;
pub mod signals;
pub mod sweep;
