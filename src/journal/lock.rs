//! The run lock: one run or verify at a time per results file.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::{io_err, ResultsError};
use crate::paths::Paths;

/// An exclusive OS lock on `<results>.lock`, released when dropped or when the process dies, so a
/// crashed run never blocks the next one.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    /// The lock file's path, for messages.
    pub path: PathBuf,
}

impl RunLock {
    /// Takes the lock beside `results` or fails at once when another process has it.
    pub fn acquire(results: &Path) -> Result<RunLock, ResultsError> {
        let path = Paths::of_results(results).lock;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(ResultsError::Locked {
                results: results.to_path_buf(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
        }
    }
}
