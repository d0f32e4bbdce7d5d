//! One pull at a time per account cache: the daily cap of listing calls is counted in the cache,
//! so two pulls writing one cache at once would each count only their own calls and spend the
//! day's calls twice. The lock is the results file's kind (an OS lock on `<cache>.lock`, let go
//! when the pull ends or its process dies).

use std::fs::File;
use std::path::{Path, PathBuf};

use super::{CacheError, CacheKey};
use crate::journal::{lock_path, try_exclusive};

/// The lock of one account cache, held while a pull reads, calls and writes it.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
    /// The lock file, for messages.
    pub path: PathBuf,
}

impl CacheKey {
    /// Takes this cache's lock, or fails at once when another process holds it. Taken before
    /// the cache is read, so the pull counts every call the one before it made.
    pub fn lock(&self) -> Result<CacheLock, CacheError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = lock_path(&self.path);
        match try_exclusive(&path).map_err(io(&path))? {
            Some(file) => Ok(CacheLock { _file: file, path }),
            None => Err(CacheError::Busy {
                cache: self.path.clone(),
                lock: path,
            }),
        }
    }
}
