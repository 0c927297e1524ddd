//! aiperf-export
