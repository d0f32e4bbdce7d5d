//! The run lock: one run or verify at a time per results file, whatever path or link names it.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::{io_err, ResultsError};
use crate::paths::Paths;

/// An exclusive OS lock on `<results>.lock` beside the results file's real location (symbolic
/// links resolved), and on Unix on the results file itself too (so a hard link is caught as
/// well). Released when dropped or when the process dies, so a crashed run never blocks the next
/// one.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    /// A lock on the results file itself, when it exists (Unix).
    _results: Option<File>,
    /// The lock file's path, for messages.
    pub path: PathBuf,
    hint: &'static str,
}

/// What `run` can do when the lock is held.
pub const RUN_HINT: &str = ", or pass -o to write elsewhere";
/// What `verify` can do when the lock is held.
pub const VERIFY_HINT: &str = ", then verify again";

/// The results path with symbolic links resolved: the file itself when it exists, else its
/// folder, so every name of one file finds the same lock.
fn canonical(results: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(results) {
        return real;
    }
    let parent = results
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), results.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => results.to_path_buf(),
    }
}

/// The lock file of `file`: `<file>.lock` beside its real location (symbolic links resolved),
/// so every name of one file finds the same lock.
pub fn lock_path(file: &Path) -> PathBuf {
    Paths::of_results(&canonical(file)).lock
}

/// Takes an exclusive OS lock on `path` (created when missing, never truncated) without
/// waiting; `Ok(None)` when another process holds it. The lock lasts as long as the returned
/// file: until it is dropped or the process dies, so a crash never leaves a lock behind. The
/// same on every platform (`flock` on Unix, `LockFileEx` on Windows).
pub fn try_exclusive(path: &Path) -> std::io::Result<Option<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

impl RunLock {
    /// Takes the lock of `results` or fails at once when another process has it. `hint` ends
    /// the message then ([`RUN_HINT`], [`VERIFY_HINT`]).
    pub fn acquire(results: &Path, hint: &'static str) -> Result<RunLock, ResultsError> {
        let path = lock_path(results);
        let locked = || ResultsError::Locked {
            results: results.to_path_buf(),
            lock: path.clone(),
            hint,
        };
        let file = try_exclusive(&path)
            .map_err(io_err(&path))?
            .ok_or_else(locked)?;
        let results_lock = lock_file_itself(results).map_err(|e| match e {
            None => locked(),
            Some(e) => io_err(results)(e),
        })?;
        Ok(RunLock {
            _file: file,
            _results: results_lock,
            path,
            hint,
        })
    }

    /// Locks the results file itself once it exists (a first run creates it after taking the
    /// lock, `--restart` replaces it), so a run through a hard link made meanwhile is refused too.
    pub fn cover(&mut self, results: &Path) -> Result<(), ResultsError> {
        // A second lock from this process on the same file would conflict with the first.
        self._results = None;
        self._results = lock_file_itself(results).map_err(|e| match e {
            None => ResultsError::Locked {
                results: results.to_path_buf(),
                lock: self.path.clone(),
                hint: self.hint,
            },
            Some(e) => io_err(results)(e),
        })?;
        Ok(())
    }
}

/// On Unix, an advisory lock on the results file itself (when it exists): a hard link has its
/// own path, so only the file can tell two names apart. `Err(None)` when another process holds
/// it. Elsewhere file locks are mandatory and would stop the run's own writes, so the lock file
/// alone guards it.
#[cfg(unix)]
fn lock_file_itself(results: &Path) -> Result<Option<File>, Option<std::io::Error>> {
    let file = match File::open(results) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Some(e)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Some(e)),
    }
}

#[cfg(not(unix))]
fn lock_file_itself(_results: &Path) -> Result<Option<File>, Option<std::io::Error>> {
    Ok(None)
}

/// Whether `input` and `results` are one file (same device and inode, or volume and index),
/// through any path or link.
pub fn same_file(input: &Path, results: &Path) -> bool {
    same_file::is_same_file(input, results).unwrap_or(false)
}
