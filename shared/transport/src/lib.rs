//! aiperf-transport
