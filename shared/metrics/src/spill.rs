//! Spill-to-disk storage: append-only logs of fixed-size items that keep their
//! newest items in memory and write older ones, in runs, to one temporary file.
//!
//! The summary accumulator ([`crate::summary`]) and the sweep line
//! ([`crate::sweep_line`]) keep what a run's exact statistics need in such logs,
//! so their memory is bounded by a byte budget ([`SpillConfig`]) whatever the run
//! length. The file is created already unlinked (`tempfile`), in the artifact
//! directory or the OS temp dir: it disappears when the last handle is dropped,
//! also when the process fails or is killed, and no name is ever left behind.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Environment variable that sets the in-memory budget of a records manager's
/// per-phase statistics store, in MB (decimals allowed; tests use tiny values to
/// force spills). Default [`DEFAULT_BUDGET_BYTES`].
pub const SPILL_BUDGET_ENV: &str = "AIPERF_SUMMARY_MEMORY_MB";

/// Default in-memory budget of one store: 8 MiB.
pub const DEFAULT_BUDGET_BYTES: usize = 8 << 20;

/// Bytes read at a time from a run on disk (a percentile merge holds one such
/// buffer per run).
const READ_CHUNK: usize = 16 << 10;

/// When and where a store spills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillConfig {
    /// Bytes of items a store keeps in memory before it writes them to disk.
    pub budget_bytes: usize,
    /// Directory of the spill file; `None`: the OS temp dir.
    pub dir: Option<PathBuf>,
}

impl Default for SpillConfig {
    fn default() -> Self {
        SpillConfig {
            budget_bytes: DEFAULT_BUDGET_BYTES,
            dir: None,
        }
    }
}

impl SpillConfig {
    /// A store that never spills (everything stays in memory).
    pub fn in_memory() -> Self {
        SpillConfig {
            budget_bytes: usize::MAX,
            dir: None,
        }
    }

    /// The default budget, or the one [`SPILL_BUDGET_ENV`] gives, with spill
    /// files in `dir`. An unparsable or negative value is an error naming the
    /// variable.
    pub fn from_env(dir: Option<PathBuf>) -> Result<Self, String> {
        let budget_bytes = match std::env::var(SPILL_BUDGET_ENV) {
            Ok(v) => parse_budget_mb(&v)?,
            Err(_) => DEFAULT_BUDGET_BYTES,
        };
        Ok(SpillConfig { budget_bytes, dir })
    }

    /// A new unlinked spill file.
    pub(crate) fn create_file(&self) -> std::io::Result<Arc<File>> {
        let file = match &self.dir {
            Some(d) => std::fs::create_dir_all(d).and_then(|()| tempfile::tempfile_in(d)),
            None => tempfile::tempfile(),
        }
        .map_err(|e| {
            let dir = self
                .dir
                .clone()
                .unwrap_or_else(std::env::temp_dir)
                .display()
                .to_string();
            std::io::Error::new(
                e.kind(),
                format!("cannot create a spill file in {dir}: {e}"),
            )
        })?;
        Ok(Arc::new(file))
    }
}

/// Bytes of a [`SPILL_BUDGET_ENV`] value (megabytes, decimals allowed).
fn parse_budget_mb(v: &str) -> Result<usize, String> {
    match v.trim().parse::<f64>() {
        Ok(mb) if mb.is_finite() && mb >= 0.0 => Ok((mb * 1024.0 * 1024.0) as usize),
        _ => Err(format!(
            "{SPILL_BUDGET_ENV}={v:?} is not a number of megabytes (e.g. 16 or 0.5)"
        )),
    }
}

/// An item of fixed encoded size.
pub(crate) trait Fixed: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Appends the encoding.
    fn put(&self, out: &mut Vec<u8>);
    /// Decodes `SIZE` bytes.
    fn get(b: &[u8]) -> Self;
}

impl Fixed for f64 {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        f64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
    }
}

impl Fixed for u32 {
    const SIZE: usize = 4;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
    }
}

/// Reads a little-endian `u64` at `at`.
pub(crate) fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads a little-endian `u32` at `at`.
pub(crate) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Items written to disk in one go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    offset: u64,
    len: usize,
}

/// An append-only sequence: runs on disk (oldest first), then an in-memory tail.
///
/// Clones share the file but not their runs: a clone that spills appends at the
/// end of the file, so neither sees the other's later items.
#[derive(Debug, Clone)]
pub(crate) struct SpillLog<T> {
    runs: Vec<Run>,
    on_disk: usize,
    tail: Vec<T>,
    file: Option<Arc<File>>,
}

impl<T> Default for SpillLog<T> {
    fn default() -> Self {
        SpillLog {
            runs: Vec::new(),
            on_disk: 0,
            tail: Vec::new(),
            file: None,
        }
    }
}

impl<T: Fixed> SpillLog<T> {
    /// Appends an item (in memory).
    pub fn push(&mut self, v: T) {
        self.tail.push(v);
    }

    /// Number of items, on disk and in memory.
    pub fn len(&self) -> usize {
        self.on_disk + self.tail.len()
    }

    /// The in-memory items (the newest ones).
    pub fn tail(&self) -> &[T] {
        &self.tail
    }

    /// Whether some items are on disk.
    pub fn has_spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Bytes of the in-memory items.
    pub fn tail_bytes(&self) -> usize {
        self.tail.len() * T::SIZE
    }

    /// The in-memory items, to reorder them (e.g. sort before writing a copy).
    pub fn tail_mut(&mut self) -> &mut [T] {
        &mut self.tail
    }

    /// Makes `run` (written to `file` by [`write_run`]) this log's next run.
    pub fn commit(&mut self, file: &Arc<File>, run: Run) {
        if run.len == 0 {
            return;
        }
        self.runs.push(run);
        self.on_disk += run.len;
        self.file = Some(file.clone());
    }

    /// Makes `run`, a copy of the tail, this log's next run and empties the
    /// tail (keeping its capacity for the next items).
    pub fn commit_tail(&mut self, file: &Arc<File>, run: Run) {
        debug_assert_eq!(run.len, self.tail.len());
        self.commit(file, run);
        self.tail.clear();
    }

    /// Replaces the tail with the items of `run` (written from it, not committed).
    ///
    /// # Panics
    /// When the file cannot be read back.
    pub fn restore_tail(&mut self, file: &File, run: Run) {
        self.tail.clear();
        self.tail.extend(RunReader::<T>::new(file, run));
    }

    /// Moves the in-memory items to disk (one run); the tail's capacity is kept
    /// for the next items.
    pub fn spill(&mut self, file: &Arc<File>) -> std::io::Result<()> {
        let run = write_run(file, &self.tail)?;
        self.commit_tail(file, run);
        Ok(())
    }

    /// Number of runs on disk.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// A reader of run `i`.
    pub fn run(&self, i: usize) -> RunReader<'_, T> {
        let file = self.file.as_deref().expect("a log with runs has a file");
        RunReader::new(file, self.runs[i])
    }

    /// Calls `f` on every item, oldest first.
    ///
    /// # Panics
    /// When the spill file cannot be read back (it is an unlinked file this
    /// process holds open: only an I/O failure of the disk itself can do that).
    pub fn for_each(&self, mut f: impl FnMut(T)) {
        for i in 0..self.runs.len() {
            self.run(i).for_each(&mut f);
        }
        self.tail.iter().copied().for_each(f);
    }

    /// Every item, oldest first (reads the runs back into memory).
    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|v| out.push(v));
        out
    }
}

/// Writes `items` at the end of `file`; the run is not part of any log until
/// committed ([`SpillLog::commit`]).
pub(crate) fn write_run<T: Fixed>(file: &Arc<File>, items: &[T]) -> std::io::Result<Run> {
    if items.is_empty() {
        return Ok(Run { offset: 0, len: 0 });
    }
    let mut bytes = Vec::with_capacity(items.len() * T::SIZE);
    for v in items {
        v.put(&mut bytes);
    }
    let mut f: &File = file;
    let offset = f.seek(SeekFrom::End(0))?;
    f.write_all(&bytes)?;
    Ok(Run {
        offset,
        len: items.len(),
    })
}

/// Streams the items of one run, [`READ_CHUNK`] bytes at a time.
pub(crate) struct RunReader<'a, T> {
    file: &'a File,
    run: Run,
    /// Items of the run read so far.
    next: usize,
    buf: Vec<u8>,
    pos: usize,
    _item: std::marker::PhantomData<T>,
}

impl<'a, T> RunReader<'a, T> {
    fn new(file: &'a File, run: Run) -> Self {
        RunReader {
            file,
            run,
            next: 0,
            buf: Vec::new(),
            pos: 0,
            _item: std::marker::PhantomData,
        }
    }
}

impl<T: Fixed> Iterator for RunReader<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.pos >= self.buf.len() {
            let left = self.run.len - self.next;
            if left == 0 {
                return None;
            }
            let n = left.min((READ_CHUNK / T::SIZE).max(1));
            self.buf.resize(n * T::SIZE, 0);
            let at = self.run.offset + (self.next * T::SIZE) as u64;
            if let Err(e) = self.file.read_exact_at(&mut self.buf, at) {
                panic!("cannot read back the metrics spill file: {e}");
            }
            self.next += n;
            self.pos = 0;
        }
        let v = T::get(&self.buf[self.pos..self.pos + T::SIZE]);
        self.pos += T::SIZE;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_across_runs_and_tail() {
        let file = SpillConfig::default().create_file().unwrap();
        let mut log: SpillLog<f64> = SpillLog::default();
        for i in 0..10_000 {
            log.push(i as f64);
            if i % 3_001 == 3_000 {
                log.spill(&file).unwrap();
            }
        }
        assert_eq!(log.run_count(), 3);
        assert!(log.has_spilled());
        assert_eq!(log.len(), 10_000);
        assert_eq!(log.tail().len(), 10_000 - 3 * 3_001);
        let back = log.to_vec();
        assert_eq!(back, (0..10_000).map(|i| i as f64).collect::<Vec<_>>());
        // a clone that spills does not disturb the original
        let mut clone = log.clone();
        clone.push(-1.0);
        clone.spill(&file).unwrap();
        assert_eq!(log.to_vec().len(), 10_000);
        assert_eq!(clone.to_vec().last(), Some(&-1.0));
    }

    #[test]
    fn budget_values() {
        assert_eq!(parse_budget_mb("16"), Ok(16 << 20));
        assert_eq!(parse_budget_mb(" 0.5 "), Ok(512 << 10));
        assert_eq!(parse_budget_mb("0"), Ok(0));
        let e = parse_budget_mb("-1").unwrap_err();
        assert!(
            e.contains(SPILL_BUDGET_ENV) && e.contains("megabytes"),
            "{e}"
        );
        assert!(parse_budget_mb("lots").is_err());
    }
}
