//! aiperf-timing-manager
