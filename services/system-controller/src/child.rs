//! A service process started by the controller (`--service-mode multi-process`)
//! follows the controller and nothing else:
//!
//! * it ignores the terminal signals (SIGINT, SIGTERM, SIGHUP) that reach the
//!   whole process group: the controller decides how the run ends and tells it;
//! * it exits within a second when the controller dies by any means, even
//!   SIGKILL: on Linux the kernel sends it [`PARENT_DEATH_SIGNAL`] (set between
//!   fork and exec by [`set_parent_death_signal`]); everywhere, a watch of its
//!   parent pid notices the re-parenting; and the control-channel watchdog of
//!   `aiperf-transport` notices the controller's socket is gone;
//! * on the way out it removes the run's IPC socket directory, which the dead
//!   controller could not.

use std::path::PathBuf;
use std::time::Duration;

/// The signal the kernel sends a child when the controller dies (Linux).
pub const PARENT_DEATH_SIGNAL: i32 = libc::SIGUSR1;

/// How often the parent pid is checked.
const PARENT_POLL: Duration = Duration::from_millis(200);

/// Run in the forked child before `exec` (async-signal-safe calls only): asks the
/// kernel for [`PARENT_DEATH_SIGNAL`] when the parent dies, and exits at once if
/// the parent (`parent_pid`) already died between fork and here.
///
/// # Safety
/// Only call between fork and exec (`Command::pre_exec`).
pub unsafe fn set_parent_death_signal(parent_pid: u32) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with an integer signal number is async-signal-safe.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: getppid and _exit are async-signal-safe.
    unsafe {
        if libc::getppid() as u32 != parent_pid {
            libc::_exit(1);
        }
    }
    Ok(())
}

/// Ignores SIGINT, SIGTERM and SIGHUP in this process (the dispositions survive
/// into nothing: a service starts no program).
pub fn ignore_terminal_signals() {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sets a signal's disposition to SIG_IGN.
        unsafe { libc::signal(s, libc::SIG_IGN) };
    }
}

/// Watches the controller (`parent_pid`): returns when it is gone (parent-death
/// signal or re-parenting), after removing the run's IPC socket directory
/// `ipc_dir`. The caller exits.
pub async fn wait_for_parent_death(parent_pid: u32, ipc_dir: Option<PathBuf>) {
    let mut death_signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
        PARENT_DEATH_SIGNAL,
    ))
    .ok();
    let mut tick = tokio::time::interval(PARENT_POLL);
    loop {
        tokio::select! {
            _ = async {
                match death_signal.as_mut() {
                    Some(s) => { s.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => break,
            _ = tick.tick() => {
                // SAFETY: getppid cannot fail.
                if unsafe { libc::getppid() } as u32 != parent_pid {
                    break;
                }
            }
        }
    }
    if let Some(dir) = ipc_dir {
        crate::ipc::remove_socket_dir(&dir);
    }
}
