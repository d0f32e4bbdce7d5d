//! How the tool writes files, in one place, so every file it writes gets the same permissions:
//! created with mode 0666 less the user's umask (0644 under the usual umask 022), like any other
//! program's output. Nothing the tool writes holds the token, so no file needs to be narrower;
//! a narrower umask (077) makes every one of them private alike.
//!
//! Whole files (the summary, the reports, man pages) are written to a temporary file beside the
//! target and renamed over it, so a reader never sees half a file.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

/// The mode files are created with, before the umask.
#[cfg(unix)]
const MODE: u32 = 0o666;

/// Writes `bytes` to `path` whole: a temporary file in the same folder, then a rename.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".growatt-onboard-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The temporary file's own default is 0600; the umask still applies to this.
        builder.permissions(std::fs::Permissions::from_mode(MODE));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Opens `path` for appending, creating it when missing (and, with `read`, for reading too).
pub fn open_append(path: &Path, read: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true).read(read);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(MODE);
    }
    options.open(path)
}

/// Opens (or creates) a journal for reading and writing, never emptying it. Not append-only: a
/// torn last line is cut with `set_len`, which Windows refuses through an append-only handle;
/// the caller positions the handle at the end before writing, and the run lock keeps every other
/// writer out.
pub fn open_journal(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).read(true).write(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(MODE);
    }
    options.open(path)
}
