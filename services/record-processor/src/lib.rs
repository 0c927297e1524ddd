//! aiperf-record-processor
