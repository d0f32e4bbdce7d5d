//! What the unit tests share: a file of their own in a folder of its own, removed when the test
//! ends.

use std::path::PathBuf;

use tempfile::TempDir;

/// A new empty folder and the path of `name` in it (no file there yet). Keep the folder while
/// the path is used: dropping it removes the folder.
pub(crate) fn path_in(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    (dir, path)
}

/// A new folder holding one file `name` with `content`, and the file's path.
pub(crate) fn file_with(name: &str, content: impl AsRef<[u8]>) -> (TempDir, PathBuf) {
    let (dir, path) = path_in(name);
    std::fs::write(&path, content).expect("a file in the temporary folder");
    (dir, path)
}
