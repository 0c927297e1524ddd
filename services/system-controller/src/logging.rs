//! Logging: warnings and errors on stderr; everything at the chosen level in
//! `<artifact-dir>/logs/aiperf.log` for profile runs. Colours only on a terminal:
//! a pipe, a file or a CI log gets plain text.
//!
//! In `--service-mode multi-process` the children log to their stderr, which is a
//! pipe to this process: [`child_line`] copies each line into the run's log file and
//! shows the warnings and errors on this process's stderr, as in-process services do.
//!
//! Every line written to the log file or to stderr through this module passes the
//! run's [`Redactor`] (set with [`set_redactor`]): no API key, secret header value
//! or URL password reaches a log, whichever service logged it.

use aiperf_config::redact::Redactor;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Mutex, RwLock};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// Target of events that go to the log file only: the caller already told the
/// user on the console (see [`report_error`]).
pub const FILE_ONLY: &str = "aiperf_rs::file_only";

fn filter(level: &str) -> EnvFilter {
    // Quiet the HTTP and socket libraries unless asked for.
    EnvFilter::try_new(format!(
        "{level},hyper=warn,reqwest=warn,zeromq=warn,h2=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether stderr is a terminal (and so may get colours).
fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The secrets of the current run, removed from every log line and error message.
static REDACTOR: RwLock<Option<Redactor>> = RwLock::new(None);

/// Sets the redactor of the current run (each run of a sweep sets its own).
pub fn set_redactor(redactor: Redactor) {
    if let Ok(mut r) = REDACTOR.write() {
        *r = Some(redactor);
    }
}

/// `text` without the current run's secrets (URL credentials are removed even
/// before a run set its redactor).
pub fn redact(text: &str) -> String {
    match REDACTOR.read() {
        Ok(r) => match r.as_ref() {
            Some(r) => r.apply(text),
            None => Redactor::default().apply(text),
        },
        Err(_) => Redactor::default().apply(text),
    }
}

/// Redacts each formatted event (the fmt layer writes an event in one call) before
/// writing it to `W`.
struct Redacting<W>(W);

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Stderr through the run's redactor.
fn redacted_stderr() -> Redacting<std::io::Stderr> {
    Redacting(std::io::stderr())
}

/// Logs to stderr only (service processes).
pub fn init_stderr(level: &str) {
    let _ = tracing_subscriber::fmt()
        .with_writer(redacted_stderr)
        .with_ansi(stderr_is_terminal())
        .with_env_filter(filter(level))
        .try_init();
}

/// The current profile log file; every profile run of a process (the runs of a
/// sweep) re-points it, so each run's `logs/aiperf.log` holds that run's log.
static LOG_FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Writes to [`LOG_FILE`].
struct CurrentLogFile;

impl Write for CurrentLogFile {
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
    let stderr_filter = EnvFilter::try_new(format!("warn,zeromq=error,{FILE_ONLY}=off"))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(redacted_stderr)
        .with_ansi(stderr_is_terminal())
        .with_target(false)
        .with_filter(stderr_filter);
    let file_layer = tracing_subscriber::fmt::layer()
        .with_writer(|| Redacting(CurrentLogFile))
        .with_ansi(false)
        .with_filter(filter(level));
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
}

/// Closes the current log file: nothing is written to it any more (before a run
/// that produced nothing removes its artifact directory).
pub fn close_profile_log() {
    if let Ok(mut current) = LOG_FILE.lock() {
        *current = None;
    }
}

/// Prints `error: <message>` on stderr, once, and records it in the log file
/// (secrets removed).
pub fn report_error(message: &str) {
    let message = redact(message);
    eprintln!("error: {message}");
    tracing::error!(target: FILE_ONLY, "{message}");
}

/// Handles one stderr line of a child service process: into the log file (tagged
/// with the service id, escape codes removed), and onto this process's stderr when
/// it is a warning or an error, or not a log line at all (a panic message).
pub fn child_line(service_id: &str, line: &str) {
    let line = redact(&strip_ansi(line));
    if let Ok(mut current) = LOG_FILE.lock()
        && let Some(f) = current.as_mut()
    {
        let _ = writeln!(f, "[{service_id}] {line}");
    }
    if shown_on_console(&line) {
        eprintln!("[{service_id}] {line}");
    }
}

/// Whether a child's stderr line belongs on the console: the rule of the parent's
/// own console layer (warnings and errors; zeromq's errors only), and every line
/// that is not a log line.
fn shown_on_console(line: &str) -> bool {
    // `<timestamp> <LEVEL> <target>: <message>` (tracing's default format).
    let mut words = line.split_whitespace();
    let (Some(_time), Some(level), Some(target)) = (words.next(), words.next(), words.next())
    else {
        return !line.trim().is_empty();
    };
    match level {
        "ERROR" => true,
        "WARN" => !target.starts_with("zeromq"),
        "INFO" | "DEBUG" | "TRACE" => false,
        _ => true,
    }
}

/// `text` without ANSI escape sequences: CSI (`ESC [`, parameters, one final byte
/// in `@`..=`~`) and the other `ESC` sequences (intermediate bytes in ` `..=`/`,
/// then one final byte).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(c) if (' '..='/').contains(&c) => {
                for c in chars.by_ref() {
                    if !(' '..='/').contains(&c) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_line_loses_the_runs_secrets() {
        set_redactor(Redactor::new(["sk-log-secret-1".to_string()]));
        let mut out = Redacting(Vec::new());
        let line = "2025-01-01T00:00:00Z DEBUG w: POST http://u:pw-77@h/v1 key sk-log-secret-1\n";
        assert_eq!(out.write(line.as_bytes()).unwrap(), line.len());
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "2025-01-01T00:00:00Z DEBUG w: POST http://<redacted>@h/v1 key <redacted>\n"
        );
        assert_eq!(redact("x sk-log-secret-1"), "x <redacted>");
    }

    #[test]
    fn escape_codes_are_removed() {
        assert_eq!(
            strip_ansi("\x1b[2m2025-01-01T00:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m x: hi"),
            "2025-01-01T00:00:00Z  INFO x: hi"
        );
        assert_eq!(strip_ansi("plain"), "plain");
        assert_eq!(strip_ansi("a\x1b(Bb"), "ab");
    }

    #[test]
    fn console_shows_warnings_errors_and_non_log_lines() {
        let t = "2025-01-01T00:00:00.000001Z";
        assert!(shown_on_console(&format!(
            "{t} ERROR aiperf_worker::http: boom"
        )));
        assert!(shown_on_console(&format!("{t}  WARN aiperf_worker: slow")));
        assert!(!shown_on_console(&format!("{t}  WARN zeromq::ipc: unlink")));
        assert!(!shown_on_console(&format!(
            "{t}  INFO aiperf_worker: ready"
        )));
        assert!(!shown_on_console(&format!("{t} DEBUG aiperf_worker: x")));
        assert!(shown_on_console(
            "thread 'main' panicked at services/worker/src/lib.rs:1:1:"
        ));
        assert!(!shown_on_console("   "));
    }
}
