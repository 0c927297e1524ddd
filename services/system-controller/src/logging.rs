//! Logging: warnings and errors on stderr; everything at the chosen level in
//! `<artifact-dir>/logs/aiperf.log` for profile runs.

use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

fn filter(level: &str) -> EnvFilter {
    // Quiet the HTTP and socket libraries unless asked for.
    EnvFilter::try_new(format!("{level},hyper=warn,reqwest=warn,zeromq=warn,h2=warn")).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Logs to stderr only (service processes).
pub fn init_stderr(level: &str) {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter(level)).try_init();
}

/// Logs warnings to stderr and `level` to `log_file`.
pub fn init_profile(level: &str, log_file: &Path) {
    // zeromq warns about socket files it cannot unlink at exit: not the user's concern.
    let stderr_filter = EnvFilter::try_new("warn,zeromq=error").unwrap_or_else(|_| EnvFilter::new("warn"));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(stderr_filter);
    let file = log_file.parent().and_then(|d| std::fs::create_dir_all(d).ok()).and_then(|_| std::fs::File::create(log_file).ok());
    match file {
        Some(f) => {
            let file_layer = tracing_subscriber::fmt::layer().with_writer(Mutex::new(f)).with_ansi(false).with_filter(filter(level));
            let _ = tracing_subscriber::registry().with(stderr).with(file_layer).try_init();
        }
        None => {
            let _ = tracing_subscriber::registry().with(stderr).try_init();
        }
    }
}
