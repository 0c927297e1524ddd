//! The IPC socket directory of a run (`--zmq-ipc-path`, by default a fresh
//! directory under the temp dir): removed by the controller on every exit path,
//! and by its child services when the controller died without doing it.

use std::path::{Path, PathBuf};

/// Removes the `*.ipc` socket files of `dir`, then `dir` itself if nothing else is
/// in it (a directory the user gave with other files in it stays).
pub fn remove_socket_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "ipc") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The socket directory of an `ipc://DIR/control.ipc` control address; `None`
/// for TCP.
pub fn socket_dir_of(control_addr: &str) -> Option<PathBuf> {
    let path = control_addr.strip_prefix("ipc://")?;
    Path::new(path).parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_sockets_and_the_dir_only_when_empty() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("aiperf-rs-1-2");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("control.ipc"), "").unwrap();
        std::fs::write(dir.join("records.ipc"), "").unwrap();
        remove_socket_dir(&dir);
        assert!(!dir.exists());

        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("control.ipc"), "").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        remove_socket_dir(&dir);
        assert!(!dir.join("control.ipc").exists());
        assert!(dir.join("notes.txt").exists(), "a user's file stays");
    }

    #[test]
    fn socket_dir_of_an_ipc_address() {
        assert_eq!(
            socket_dir_of("ipc:///tmp/aiperf-rs-1/control.ipc"),
            Some(PathBuf::from("/tmp/aiperf-rs-1"))
        );
        assert_eq!(socket_dir_of("tcp://127.0.0.1:5557"), None);
    }
}
