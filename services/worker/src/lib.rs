//! aiperf-worker
