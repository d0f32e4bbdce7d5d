//! Writing a journal: opened for appending after a torn last line is cut, one whole line per
//! write; `--restart` sets the old file aside.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::reader::{read_log, whole_end};
use super::{io_err, Opened, Previous, ResultLine, ResultsError, COLUMNS};

/// Sets an existing results file aside for `--restart`: renamed with a timestamp, never deleted.
/// Returns the new name, or `None` when there was nothing to set aside.
pub fn set_aside(results: &Path) -> Result<Option<PathBuf>, ResultsError> {
    if !results.exists() {
        return Ok(None);
    }
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = results
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let aside = results.with_file_name(format!("{stem}.{stamp}{suffix}{ext}"));
        if !aside.exists() {
            std::fs::rename(results, &aside).map_err(io_err(results))?;
            return Ok(Some(aside));
        }
        n += 1;
    }
}

/// Opens the results file for appending: repairs a torn last line, reads what is done, and
/// writes the header when the file is new or empty.
pub fn open_for_append(path: &Path) -> Result<(File, Previous), ResultsError> {
    let mut previous = Previous::default();
    let (file, opened) = open_log(path, &COLUMNS, |record| previous.note(record))?;
    Ok((file, previous.opened(opened)))
}

/// Opens an append-only CSV log with the header `columns` (the results file, the verify file):
/// cuts a torn last line, refuses a file with another header, hands every whole record to `each`
/// in file order, and writes the header when the file is new or empty.
pub fn open_log(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&csv::ByteRecord),
) -> Result<(File, Opened), ResultsError> {
    let err = io_err(path);
    let mut file = crate::files::open_journal(path).map_err(&err)?;
    let mut opened = Opened::default();
    let len = file.metadata().map_err(&err)?.len();
    if len > 0 {
        let (whole, unterminated) = whole_end(&mut file, len, columns).map_err(&err)?;
        if whole < len {
            file.set_len(whole).map_err(&err)?;
            opened.repaired_bytes = len - whole;
        }
        file.seek(SeekFrom::Start(0)).map_err(&err)?;
        read_log(
            path,
            (&mut file).take(whole),
            columns,
            &mut opened,
            &mut |_, record| each(record),
        )?;
        file.seek(SeekFrom::End(0)).map_err(&err)?;
        if unterminated {
            // A whole last line without its line break: end it before appending.
            file.write_all(b"\n").map_err(&err)?;
        }
    }
    if file.metadata().map_err(&err)?.len() == 0 {
        let mut header = columns.join(",");
        header.push('\n');
        file.write_all(header.as_bytes()).map_err(&err)?;
        file.flush().map_err(&err)?;
    }
    Ok((file, opened))
}

/// Writes result lines one at a time, each flushed to the OS as it is written.
pub struct ResultsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl ResultsWriter {
    /// Wraps a file from [`open_for_append`].
    pub fn new(path: &Path, file: File) -> ResultsWriter {
        ResultsWriter {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                // Larger than any line can be (cells are capped), so each line goes out in one write.
                .buffer_capacity(16 * 1024)
                .from_writer(file),
        }
    }

    /// Appends one whole results line and hands it to the OS, so a killed process loses nothing
    /// written.
    pub fn write(&mut self, line: &ResultLine) -> Result<(), ResultsError> {
        self.write_record(line.cells())
    }

    /// Appends one whole record (cells already made safe) and hands it to the OS.
    pub fn write_record<I, T>(&mut self, cells: I) -> Result<(), ResultsError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(cells)
            .map_err(|e| io_err(&self.path)(std::io::Error::other(e.to_string())))?;
        self.writer.flush().map_err(io_err(&self.path))?;
        Ok(())
    }

    /// Forces written lines to the disk (power loss, not just a crash). A run also syncs a second
    /// handle on the file every second, off the async threads.
    pub fn sync(&mut self) -> Result<(), ResultsError> {
        self.writer.flush().map_err(io_err(&self.path))?;
        self.writer
            .get_ref()
            .sync_data()
            .map_err(io_err(&self.path))?;
        Ok(())
    }
}
