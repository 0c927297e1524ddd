//! Logging: warnings and errors on stderr; everything at the chosen level in
//! `<artifact-dir>/logs/aiperf.log` for profile runs.

use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

fn filter(level: &str) -> EnvFilter {
    // Quiet the HTTP and socket libraries unless asked for.
    EnvFilter::try_new(format!(
        "{level},hyper=warn,reqwest=warn,zeromq=warn,h2=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Logs to stderr only (service processes).
pub fn init_stderr(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter(level))
        .try_init();
}

/// The current profile log file; every profile run of a process (the runs of a
/// sweep) re-points it, so each run's `logs/aiperf.log` holds that run's log.
static LOG_FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Writes to [`LOG_FILE`].
struct CurrentLogFile;

impl std::io::Write for CurrentLogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE
            .lock()
            .map(|mut f| f.as_mut().map(|f| f.write(buf)))
        {
            Ok(Some(r)) => r,
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().map(|mut f| f.as_mut().map(|f| f.flush())) {
            Ok(Some(r)) => r,
            _ => Ok(()),
        }
    }
}

/// Logs warnings to stderr and `level` to `log_file`. A later call (the next run of
/// a sweep) sends the log to its own `log_file`.
pub fn init_profile(level: &str, log_file: &Path) {
    let file = log_file
        .parent()
        .and_then(|d| std::fs::create_dir_all(d).ok())
        .and_then(|_| std::fs::File::create(log_file).ok());
    if let Ok(mut current) = LOG_FILE.lock() {
        *current = file;
    }
    // zeromq warns about socket files it cannot unlink at exit: not the user's concern.
    let stderr_filter =
        EnvFilter::try_new("warn,zeromq=error").unwrap_or_else(|_| EnvFilter::new("warn"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(stderr_filter);
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(|| CurrentLogFile)
        .with_ansi(false)
        .with_filter(filter(level));
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
}
