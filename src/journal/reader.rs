//! Reading a journal back: the header checked, a torn last line ignored, every whole record
//! handed on; what an earlier run finished.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{io_err, ResultsError, Seen, COLUMNS};
use crate::input::sn_key;
use crate::outcome::Outcome;

/// What an earlier run left: the serials already done, and how many lines were read.
#[derive(Debug, Default)]
pub struct Previous {
    /// Lines skipped as damaged.
    pub damaged: Damaged,
    /// Serials ([`sn_key`]) with a registered or already_registered line, marked done.
    pub done: Seen,
    /// Rows whose latest line is `invalid`, `duplicate` or `skipped`, to write such a line
    /// again only when it changed.
    pub unsent: Unsent,
    /// Whole lines read.
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
}

impl Previous {
    /// Notes a whole line read back, in file order: its serial done, or its row's unsent line.
    pub(super) fn note(&mut self, record: &csv::ByteRecord) {
        if let Some(sn) = done_serial(record) {
            self.done.mark_done(sn_key(sn));
        }
        self.unsent.note(record);
    }

    /// With what the read of the whole file found: lines, a torn tail, damaged lines.
    pub(super) fn opened(self, opened: Opened) -> Previous {
        Previous {
            lines: opened.lines,
            repaired_bytes: opened.repaired_bytes,
            damaged: opened.damaged,
            ..self
        }
    }
}

/// Rows whose latest line says they were not sent (`invalid`, `duplicate`, `skipped`): the line's cells as
/// a fingerprint, so an unchanged line is not appended again by every run.
#[derive(Debug, Default)]
pub struct Unsent(std::collections::HashMap<u64, u64>);

impl Unsent {
    /// Notes a record read back, in file order: a later line of a row replaces its earlier one.
    pub(super) fn note(&mut self, record: &csv::ByteRecord) {
        let Some(row) = record
            .get(0)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse::<u64>().ok())
        else {
            return;
        };
        let outcome = record
            .get(4)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(Outcome::parse);
        if outcome.is_some_and(Outcome::is_unsent) {
            self.0.insert(row, fingerprint(record.iter()));
        } else {
            self.0.remove(&row);
        }
    }

    /// Whether `line` is what its row's latest line already says.
    pub fn unchanged(&self, line: &super::ResultLine) -> bool {
        let cells = line.cells();
        self.0
            .get(&line.row)
            .is_some_and(|f| *f == fingerprint(cells.iter().map(String::as_bytes)))
    }
}

/// The cells that say what a row is and why it was not sent (not when it was written).
fn fingerprint<'a>(cells: impl Iterator<Item = &'a [u8]>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (i, c) in cells.enumerate() {
        // row, plant_id, sn, c_user_id, outcome, error_code, error_msg
        if i < 7 {
            c.hash(&mut h);
        }
    }
    h.finish()
}

/// The serial of a results record whose outcome is done.
fn done_serial(record: &csv::ByteRecord) -> Option<&str> {
    let outcome = Outcome::parse(std::str::from_utf8(record.get(4)?).ok()?)?;
    if outcome.is_done() {
        std::str::from_utf8(record.get(2)?).ok()
    } else {
        None
    }
}

/// What opening an append-only log found.
#[derive(Debug, Default, Clone)]
pub struct Opened {
    /// Whole lines read (header excluded).
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
    /// Lines that are not a whole record, skipped.
    pub damaged: Damaged,
    /// The last line is whole but has no line break after it (a re-saved file): one is added
    /// before the next line is appended.
    pub unterminated: bool,
}

/// Lines of a log that are not one whole record: a stray quote, a line cut in two, cells lost
/// or added by hand. Each is skipped on its own; the lines around it are read as usual.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// How many lines were skipped.
    pub count: u64,
    /// Their line numbers in the file (the header is line 1), the first [`DAMAGED_LISTED`].
    pub lines: Vec<u64>,
}

/// Most damaged line numbers named in a message; the rest are counted.
pub const DAMAGED_LISTED: usize = 10;

impl Damaged {
    fn add(&mut self, line: u64) {
        self.count += 1;
        if self.lines.len() < DAMAGED_LISTED {
            self.lines.push(line);
        }
    }

    /// A warning naming the damaged lines of `path`, or `None` when there are none.
    pub fn describe(&self, path: &Path) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let listed: Vec<String> = self.lines.iter().map(u64::to_string).collect();
        let more = if self.count > self.lines.len() as u64 {
            format!(" and {} more", self.count - self.lines.len() as u64)
        } else {
            String::new()
        };
        Some(format!(
            "{}: {} damaged line{} skipped (line {}{more}): not one whole record; each line around it was read as usual, and a row whose only line is damaged counts as not done",
            path.display(),
            self.count,
            if self.count == 1 { "" } else { "s" },
            listed.join(", "),
        ))
    }
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

/// Where the log's whole lines end: after the last newline, or at the end of the file when the
/// bytes after it are themselves a whole record (a file re-saved without a final line break).
/// Returns that length and whether the last line lacks its line break.
pub(super) fn whole_end(
    file: &mut File,
    len: u64,
    columns: &[&str],
) -> std::io::Result<(u64, bool)> {
    let whole = whole_length(file, len)?;
    let tail_len = len - whole;
    // A line longer than any the tool writes cannot be whole; nor can a lone header-less tail.
    if tail_len == 0 || tail_len > MAX_LINE as u64 || whole == 0 {
        return Ok((whole, false));
    }
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(whole))?;
    file.read_exact(&mut tail)?;
    let tail_whole =
        parse_line(&tail).is_some_and(|r| r.len() == columns.len() && has_timestamp(&r, columns));
    if tail_whole {
        Ok((len, true))
    } else {
        Ok((whole, false))
    }
}

/// Every log the tool keeps has a timestamp in each record (`finished_at`, `checked_at`): a line
/// cut short before it, or in it, has lost at least its `Z`.
fn has_timestamp(record: &csv::ByteRecord, columns: &[&str]) -> bool {
    columns
        .iter()
        .position(|c| *c == "finished_at" || *c == "checked_at")
        .and_then(|i| record.get(i))
        .and_then(|b| std::str::from_utf8(b).ok())
        .is_some_and(|t| humantime::parse_rfc3339(t.trim()).is_ok())
}

/// One line (without its line break) as a record, or `None` when it is not one: a stray or
/// unbalanced quote, text after a closing quote. Callers check the number of cells.
/// The tool never writes a line break inside a cell, so a line is a record or it is damaged.
///
/// Parsed strictly by hand (RFC 4180 quoting, as the writer quotes): cheaper than a CSV reader
/// per line, and nothing is guessed about a damaged line.
fn parse_line(line: &[u8]) -> Option<csv::ByteRecord> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut record = csv::ByteRecord::with_capacity(line.len(), 16);
    let mut cell = Vec::new();
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            cell.clear();
            i += 1;
            loop {
                match line.get(i) {
                    None => return None,
                    Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                        cell.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        cell.push(b);
                        i += 1;
                    }
                }
            }
            record.push_field(&cell);
            match line.get(i) {
                None => break,
                Some(b',') => i += 1,
                Some(_) => return None,
            }
        } else {
            let end = line[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(line.len(), |p| i + p);
            let text = &line[i..end];
            if text.contains(&b'"') {
                return None;
            }
            record.push_field(text);
            if end == line.len() {
                break;
            }
            i = end + 1;
        }
    }
    Some(record)
}

/// Reads what an earlier run left without changing the file (for `check`): a torn last line is
/// ignored, as `run` would cut it. A missing file reads as nothing done.
pub fn read_done(path: &Path) -> Result<Previous, ResultsError> {
    let mut previous = Previous::default();
    let opened = scan_log(path, &COLUMNS, |record| previous.note(record))?;
    Ok(previous.opened(opened))
}

/// Reads a log without changing it: checks the header, hands every whole record to `each`, and
/// ignores a torn last line (a last line without its line break is read when it is whole). A
/// missing file reads as empty; a FIFO or a device is refused without waiting on it.
pub fn scan_log(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&csv::ByteRecord),
) -> Result<Opened, ResultsError> {
    scan_log_at(path, columns, |_, record| each(record))
}

/// [`scan_log`], handing `each` the byte offset where each record's line starts too, so a
/// reader can come back for that one line ([`read_line_at`]) rather than keep it.
pub fn scan_log_at(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(u64, &csv::ByteRecord),
) -> Result<Opened, ResultsError> {
    let err = io_err(path);
    let mut file = match crate::files::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::default()),
        Err(e) => return Err(err(e)),
    };
    let len = file.metadata().map_err(&err)?.len();
    let (whole, unterminated) = whole_end(&mut file, len, columns).map_err(&err)?;
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    let mut opened = Opened {
        repaired_bytes: len - whole,
        unterminated,
        ..Opened::default()
    };
    if whole > 0 {
        read_log(path, file.take(whole), columns, &mut opened, &mut each)?;
    }
    Ok(opened)
}

/// Longest line a log can hold: the tool caps every cell, so the lines it writes stay under
/// 16 KiB. A longer line (a hand edit, a tail of NUL bytes) is damaged, and is skipped without
/// ever being held whole.
pub const MAX_LINE: usize = 64 * 1024;

/// Reads one line (with its line break) into `line`, keeping at most [`MAX_LINE`] bytes of it.
/// Returns the bytes it spans in the file and whether it was longer than that.
fn read_bounded_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<(u64, bool)> {
    line.clear();
    let (mut spans, mut too_long) = (0u64, false);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (n, ended) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long && line.len() + n <= MAX_LINE {
            line.extend_from_slice(&buf[..n]);
        } else {
            too_long = true;
        }
        reader.consume(n);
        spans += n as u64;
        if ended {
            break;
        }
    }
    Ok((spans, too_long))
}

/// The record on the line starting at byte `offset` of a log (as [`scan_log_at`] gave it), or
/// `None` when that line is no longer one whole record. `reader` may be reused across calls;
/// offsets in increasing order read the file once.
pub fn read_line_at(
    reader: &mut BufReader<File>,
    at: &mut u64,
    offset: u64,
) -> std::io::Result<Option<csv::ByteRecord>> {
    if offset != *at {
        // Forward within the buffer keeps it; anywhere else reads afresh.
        reader.seek_relative(offset as i64 - *at as i64)?;
    }
    let mut line = Vec::new();
    let (spans, too_long) = read_bounded_line(reader, &mut line)?;
    *at = offset + spans;
    if too_long {
        return Ok(None);
    }
    let text = line.strip_suffix(b"\n").unwrap_or(&line);
    Ok(parse_line(text))
}

/// Reads a log line by line after checking its header: each line that is one whole record goes
/// to `each` with the offset its line starts at, each other line is counted as damaged in
/// `opened` and skipped on its own.
pub(super) fn read_log(
    path: &Path,
    file: impl Read,
    columns: &[&str],
    opened: &mut Opened,
    each: &mut dyn FnMut(u64, &csv::ByteRecord),
) -> Result<(), ResultsError> {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let read_line = |reader: &mut BufReader<_>, line: &mut Vec<u8>| {
        read_bounded_line(reader, line).map_err(|e| io_err(path)(e))
    };
    let (mut offset, _) = read_line(&mut reader, &mut line)?;
    let head = line.strip_suffix(b"\n").unwrap_or(&line);
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let names: Vec<String> = parse_line(head)
        .map(|h| {
            h.iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect()
        })
        .unwrap_or_else(|| {
            vec![String::from_utf8_lossy(head)
                .trim_end_matches('\r')
                .to_string()]
        });
    // A verify file from before `--locate` has the same columns but the last three.
    let older_verify = columns == super::VERIFY_COLUMNS.as_slice()
        && names
            .iter()
            .map(String::as_str)
            .eq(columns[..super::VERIFY_COLUMNS_BEFORE_LOCATE]
                .iter()
                .copied());
    if head.is_empty()
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
    // Lines of an older verify file, and the full lines appended to it since, are both whole.
    let widths = [names.len(), columns.len()];
    let mut number = 1u64;
    loop {
        let at = offset;
        let (spans, too_long) = read_line(&mut reader, &mut line)?;
        if spans == 0 {
            return Ok(());
        }
        offset += spans;
        number += 1;
        if too_long {
            opened.damaged.add(number);
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match parse_line(text).filter(|r| widths.contains(&r.len())) {
            Some(record) => {
                opened.lines += 1;
                each(at, &record);
            }
            None => opened.damaged.add(number),
        }
    }
}
