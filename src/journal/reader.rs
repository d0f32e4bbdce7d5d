//! Reading a journal back: the header checked, a torn last line ignored, every whole record
//! handed on; what an earlier run finished.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{io_err, ResultsError, Seen, COLUMNS};
use crate::input::sn_key;
use crate::outcome::Outcome;

/// What an earlier run left: the serials already done, and how many lines were read.
#[derive(Debug, Default)]
pub struct Previous {
    /// Serials ([`sn_key`]) with a registered or already_registered line, marked done.
    pub done: Seen,
    /// Whole lines read.
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
}

/// The serial of a results record whose outcome is done.
pub(super) fn done_serial(record: &csv::ByteRecord) -> Option<&str> {
    let outcome = Outcome::parse(std::str::from_utf8(record.get(4)?).ok()?)?;
    if outcome.is_done() {
        std::str::from_utf8(record.get(2)?).ok()
    } else {
        None
    }
}

/// What opening an append-only log found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Opened {
    /// Whole lines read (header excluded).
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
}

/// Length of the file up to and including its last newline.
pub(super) fn whole_length(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Reads what an earlier run left without changing the file (for `check`): a torn last line is
/// ignored, as `run` would cut it. A missing file reads as nothing done.
pub fn read_done(path: &Path) -> Result<Previous, ResultsError> {
    let mut done = Seen::default();
    let opened = scan_log(path, &COLUMNS, |record| {
        if let Some(sn) = done_serial(record) {
            done.mark_done(sn_key(sn));
        }
    })?;
    Ok(Previous {
        done,
        lines: opened.lines,
        repaired_bytes: opened.repaired_bytes,
    })
}

/// Reads a log without changing it: checks the header, hands every whole record to `each`, and
/// ignores a torn last line. A missing file reads as empty.
pub fn scan_log(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&csv::ByteRecord),
) -> Result<Opened, ResultsError> {
    let err = io_err(path);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::default()),
        Err(e) => return Err(err(e)),
    };
    let len = file.metadata().map_err(&err)?.len();
    let whole = whole_length(&mut file, len).map_err(&err)?;
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    let mut opened = Opened {
        lines: 0,
        repaired_bytes: len - whole,
    };
    if whole > 0 {
        opened.lines = read_log(path, file.take(whole), columns, &mut each)?;
    }
    Ok(opened)
}

/// Reads a log's records after checking its header; returns how many there were.
pub(super) fn read_log(
    path: &Path,
    file: impl Read,
    columns: &[&str],
    each: &mut dyn FnMut(&csv::ByteRecord),
) -> Result<u64, ResultsError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let header = reader
        .byte_headers()
        .map_err(|e| io_err(path)(std::io::Error::other(e.to_string())))?
        .clone();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    // A verify file from before `--locate` has the same columns but the last three.
    let older_verify = columns == super::VERIFY_COLUMNS.as_slice()
        && names
            .iter()
            .map(String::as_str)
            .eq(columns[..super::VERIFY_COLUMNS_BEFORE_LOCATE]
                .iter()
                .copied());
    if header.is_empty()
        || (!older_verify && names.iter().map(String::as_str).ne(columns.iter().copied()))
    {
        let joined = names.join(",").to_lowercase();
        let fleet = crate::input::Kind::of(path).is_ok_and(crate::input::Kind::is_workbook)
            || (["plant", "sn", "serial"].iter().any(|w| joined.contains(w))
                && !joined.contains("outcome"));
        return Err(ResultsError::Foreign {
            path: path.to_path_buf(),
            header: crate::text::quote(&names.join(",")),
            fleet,
        });
    }
    let mut record = csv::ByteRecord::new();
    let mut lines = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(lines),
            Err(e) => return Err(io_err(path)(std::io::Error::other(e.to_string()))),
        }
        lines += 1;
        each(&record);
    }
}
