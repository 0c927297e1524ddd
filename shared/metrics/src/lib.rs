//! aiperf-metrics
