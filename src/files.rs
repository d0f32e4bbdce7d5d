//! How the tool opens and writes files, in one place, so every file it writes gets the same
//! permissions: created with mode 0666 less the user's umask (0644 under the usual umask 022),
//! like any other program's output. Nothing the tool writes holds the token, so no file needs to
//! be narrower; a narrower umask (077) makes every one of them private alike.
//!
//! Whole files (the summary, the reports, man pages) are written to a temporary file beside the
//! target and renamed over it, so a reader never sees half a file; that rename only ever replaces
//! a regular file or takes a name nobody uses. A named pipe or a character device (`/dev/null`,
//! a terminal) is written in place instead; a folder, a block device or a socket is refused.
//!
//! Files the tool reads back (caches, journals) must be regular files: a FIFO would block the
//! open until a writer came, and a device never ends. They are opened without waiting, checked,
//! and read no further than they can legitimately be long.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// The mode files are created with, before the umask.
#[cfg(unix)]
const MODE: u32 = 0o666;

/// What `meta` is in words when it is not a regular file (`a named pipe (FIFO)`), else `None`.
pub fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() {
            return Some("a device (character device)");
        }
        if t.is_block_device() {
            return Some("a disk (block device)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// The error for a path that is `what` where a regular file is needed.
fn not_a_file(what: &str) -> std::io::Error {
    let words = if what.starts_with("not ") {
        format!("it is {what}")
    } else {
        format!("it is {what}, not a regular file")
    };
    std::io::Error::new(std::io::ErrorKind::InvalidInput, words)
}

/// Opens `path` for reading when it is a regular file. A FIFO, a device, a socket or a folder
/// is refused at once, in words: the open itself never waits for a FIFO's writer.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Without it, opening a FIFO blocks until someone opens its other end. A regular file
        // ignores the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if let Some(what) = not_regular(&file.metadata()?) {
        return Err(not_a_file(what));
    }
    Ok(file)
}

/// `Ok` when `path` is a regular file (through any link) or does not exist yet; otherwise the
/// error says what it is. Nothing is opened, so a FIFO never blocks the check.
pub fn regular_or_missing(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) => match not_regular(&meta) {
            Some(what) => Err(not_a_file(what)),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The error for a file of `len` bytes where at most `max` make sense.
pub fn too_large(len: u64, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "it is {}, more than the {} such a file can hold; it is not one this tool wrote (or its end is damaged)",
            crate::text::size(len),
            crate::text::size(max)
        ),
    )
}

/// Reads a regular file whole ([`open_regular`]), refusing one over `max` bytes before reading it;
/// the read itself stops at `max` + 1 bytes, should the file grow meanwhile.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > max {
        return Err(too_large(len, max));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// Whether two paths name one existing file (same device and inode, or volume and index), through
/// any path or link. On Unix neither is opened, so a FIFO never blocks the comparison.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        same_file::is_same_file(a, b).unwrap_or(false)
    }
}

/// Where a whole file goes: renamed over a regular file (its real path, links resolved) or a
/// name nobody uses, or written in place into a pipe or a device already open.
enum Target {
    Rename(PathBuf),
    InPlace(File),
}

/// Decides how `path` is written whole, refusing what must not be replaced or written into.
fn target(path: &Path) -> std::io::Result<Target> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // Missing (or a link to nothing): a new file takes the name.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Target::Rename(path.to_path_buf()))
        }
        Err(e) => return Err(e),
    };
    if meta.is_file() {
        // Through a link, the file it names is replaced and the link kept.
        return Ok(Target::Rename(
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        ));
    }
    in_place(path, &meta)
}

/// Opens a named pipe or a character device to be written in place; refuses anything else.
#[cfg(unix)]
fn in_place(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<Target> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let t = meta.file_type();
    if t.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder; give a file name",
        ));
    }
    if !(t.is_fifo() || t.is_char_device()) {
        let what = not_regular(meta).unwrap_or("not a regular file");
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "it is {what}; this tool writes a whole file only over a regular file, or in place into a named pipe or a character device"
            ),
        ));
    }
    let mut options = OpenOptions::new();
    // Neither created nor truncated: it exists and is not a file. Non-blocking, so a FIFO with
    // nobody reading is refused rather than waited on.
    options.write(true).custom_flags(libc::O_NONBLOCK);
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENXIO) {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "it is a named pipe (FIFO) that nobody is reading from; start the reader first",
            )
        } else {
            e
        }
    })?;
    blocking(&file)?;
    Ok(Target::InPlace(file))
}

/// Anything but a regular file or a folder is written in place on other systems.
#[cfg(not(unix))]
fn in_place(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<Target> {
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a folder; give a file name",
        ));
    }
    Ok(Target::InPlace(OpenOptions::new().write(true).open(path)?))
}

/// Clears `O_NONBLOCK` again: once open, a pipe is written at the reader's pace.
#[cfg(unix)]
fn blocking(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file` for the duration of both calls.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Writes `bytes` to `path` whole: see [`write_whole_with`].
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_whole_with(path, |file| file.write_all(bytes))
}

/// Writes a file whole: `fill` writes into a temporary file in the target's folder (or the
/// system's, for a pipe or a device), which is then renamed over a regular file or a missing
/// path, or copied into a named pipe or a character device. Nothing is written, and no
/// temporary file is left, when `fill` fails; a folder, a disk or a socket is refused before
/// `fill` runs.
pub fn write_whole_with<E: From<std::io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), E>,
) -> Result<(), E> {
    match target(path)? {
        Target::Rename(real) => {
            let dir = real
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = temporary().tempfile_in(dir)?;
            fill(tmp.as_file_mut())?;
            tmp.persist(&real).map_err(|e| e.error)?;
        }
        Target::InPlace(mut out) => {
            let mut tmp = temporary().tempfile()?;
            fill(tmp.as_file_mut())?;
            let file = tmp.as_file_mut();
            file.rewind()?;
            std::io::copy(file, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A temporary file's builder: the tool's prefix, and the tool's mode rather than 0600.
fn temporary() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".growatt-onboard-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The temporary file's own default is 0600; the umask still applies to this.
        builder.permissions(std::fs::Permissions::from_mode(MODE));
    }
    builder
}

/// Opens `path` for appending, creating it when missing (and, with `read`, for reading too).
/// Only a regular file is appended to: a FIFO nobody reads (which would block the open) or a
/// device is refused at once.
pub fn open_append(path: &Path, read: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true).read(read);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(MODE).custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| {
        // A FIFO without a reader refuses a non-blocking open for writing: say what it is.
        match std::fs::metadata(path).ok().as_ref().and_then(not_regular) {
            Some(what) => not_a_file(what),
            None => e,
        }
    })?;
    if let Some(what) = not_regular(&file.metadata()?) {
        return Err(not_a_file(what));
    }
    Ok(file)
}

/// Opens (or creates) a journal for reading and writing, never emptying it. Not append-only: a
/// torn last line is cut with `set_len`, which Windows refuses through an append-only handle;
/// the caller positions the handle at the end before writing, and the run lock keeps every other
/// writer out. Only a regular file is opened: a FIFO or a device is refused without waiting.
pub fn open_journal(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).read(true).write(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(MODE).custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if let Some(what) = not_regular(&file.metadata()?) {
        return Err(not_a_file(what));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_replaces_a_file_and_keeps_a_link() {
        let (dir, real) = crate::testing::file_with("real.html", "old");
        write_whole(&real, b"new").unwrap();
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.html");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            write_whole(&link, b"through").unwrap();
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(std::fs::read(&real).unwrap(), b"through");
        }
        let err = write_whole(dir.path(), b"x").unwrap_err();
        assert!(crate::text::io_reason(&err).contains("folder"));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.len() <= 2, "no temporary file left: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_in_place_and_regular_files_are_read_bounded() {
        write_whole(Path::new("/dev/null"), b"report").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        let err = read_regular(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(crate::text::io_reason(&err).contains("not a regular file"));
        let (_dir, big) = crate::testing::path_in("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let err = read_regular(&big, 1024).unwrap_err();
        assert!(crate::text::io_reason(&err).contains("1.0 MiB, more than the 1.0 KiB"));
    }
}
