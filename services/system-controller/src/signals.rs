//! Terminal signals of `aiperf-rs profile` (SIGINT, SIGTERM, SIGHUP), received on a
//! thread of their own so that no busy async worker and no CPU-bound stage (the
//! dataset build) delays them.
//!
//! The first signal is published ([`subscribe`], [`received`]) and every run in
//! progress takes the one shutdown path (`docs/reliability.md`): stop issuing,
//! cancel in-flight requests, a bounded grace, write what arrived, exit with
//! `128 + signal number`. The second signal exits at once, in every stage, with
//! `128 + its number`, after removing the IPC socket directories registered with
//! [`register_ipc_dir`] (the child processes follow through their parent-death
//! signal).

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use tokio::sync::watch;

/// A terminal signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C on a terminal.
    Interrupt,
    /// SIGTERM: `kill`, `timeout`, `docker stop`, Kubernetes, Slurm.
    Terminate,
    /// SIGHUP: the terminal went away.
    Hangup,
}

impl Signal {
    /// The signals handled, in the order of [`Signal::number`].
    pub const ALL: [Signal; 3] = [Signal::Hangup, Signal::Interrupt, Signal::Terminate];

    /// The POSIX signal number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
        }
    }

    /// The signal for a POSIX number, if handled.
    pub fn from_number(n: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The exit code of a run it stopped: the shell's `128 + number`
    /// (130, 143, 129).
    pub fn exit_code(self) -> u8 {
        (128 + self.number()) as u8
    }

    /// How the user knows it: `Ctrl-C (SIGINT)`, `SIGTERM`, `SIGHUP`.
    pub fn describe(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C (SIGINT)",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

struct State {
    first: watch::Sender<Option<Signal>>,
    ipc_dirs: Mutex<Vec<PathBuf>>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(|| State {
        first: watch::channel(None).0,
        ipc_dirs: Mutex::new(Vec::new()),
    })
}

/// The signal set handled here.
fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in Signal::ALL {
            libc::sigaddset(&mut set, s.number());
        }
        set
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every thread
/// started after it: call it first, before the async runtime exists) and starts
/// the thread that receives them. Idempotent.
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let set = signal_set();
    // SAFETY: changes the calling thread's signal mask with a valid set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    let _ = state();
    std::thread::Builder::new()
        .name("aiperf-signals".into())
        .spawn(move || wait_for_signals(set))?;
    let _ = INSTALLED.set(());
    Ok(())
}

/// The signal thread: publishes the first signal, exits at once on the second.
fn wait_for_signals(set: libc::sigset_t) {
    let mut first: Option<Signal> = None;
    loop {
        let mut number: libc::c_int = 0;
        // SAFETY: waits for one of the signals of `set`, blocked in every thread.
        if unsafe { libc::sigwait(&set, &mut number) } != 0 {
            continue;
        }
        let Some(signal) = Signal::from_number(number) else {
            continue;
        };
        match first {
            None => {
                first = Some(signal);
                eprintln!(
                    "\n{}: stopping: no new requests, in-flight requests cancelled, writing what arrived (a second signal exits at once).",
                    signal.describe()
                );
                state().first.send_replace(Some(signal));
            }
            Some(_) => {
                eprintln!(
                    "\nSecond signal ({}): exiting now; files already written stay where they are.",
                    signal.describe()
                );
                remove_ipc_dirs();
                std::process::exit(i32::from(signal.exit_code()));
            }
        }
    }
}

/// The first signal received, if any.
pub fn received() -> Option<Signal> {
    *state().first.borrow()
}

/// A receiver that changes once, at the first signal.
pub fn subscribe() -> watch::Receiver<Option<Signal>> {
    state().first.subscribe()
}

/// An IPC socket directory to remove if the process exits at once.
pub fn register_ipc_dir(dir: PathBuf) {
    if let Ok(mut dirs) = state().ipc_dirs.lock() {
        dirs.push(dir);
    }
}

/// Forgets a directory registered with [`register_ipc_dir`] (removed already).
pub fn unregister_ipc_dir(dir: &std::path::Path) {
    if let Ok(mut dirs) = state().ipc_dirs.lock() {
        dirs.retain(|d| d != dir);
    }
}

fn remove_ipc_dirs() {
    let dirs = match state().ipc_dirs.try_lock() {
        Ok(d) => d.clone(),
        Err(_) => return,
    };
    for d in dirs {
        crate::ipc::remove_socket_dir(&d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_shells() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Hangup.exit_code(), 129);
        for s in Signal::ALL {
            assert_eq!(Signal::from_number(s.number()), Some(s));
        }
        assert_eq!(Signal::from_number(libc::SIGUSR1), None);
    }
}
