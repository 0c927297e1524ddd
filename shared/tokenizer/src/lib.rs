//! aiperf-tokenizer
