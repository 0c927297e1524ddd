//! aiperf-mock-server
