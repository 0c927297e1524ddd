//! aiperf-records-manager
