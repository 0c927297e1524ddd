//! aiperf-endpoint
