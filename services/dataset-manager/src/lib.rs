//! aiperf-dataset-manager
