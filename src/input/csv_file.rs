//! Delimited text (CSV, semicolons, tabs): the delimiter sniffed, Excel's `sep=` line honoured,
//! rows streamed from one reused record and numbered as a spreadsheet shows them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::columns::{header_likeness, locate};
use super::header::{cells, Found, HeaderSearch, HEADER_SEARCH};
use super::{is_blank, InputError, ReadOptions};

/// Passes bytes through to the CSV parser and notes where the newlines are, so a record's
/// physical line can be found from its end offset. The CSV parser's own line numbers point at the
/// end of the previous record and count CRLF unevenly, so they cannot give spreadsheet rows.
struct LineCounter<R> {
    inner: R,
    offset: u64,
    pending: VecDeque<u64>,
    consumed: u64,
    /// The last read ended in a CR: a line end unless the next read starts with LF.
    cr_at_end: bool,
    /// The file's last byte so far, and whether the end-of-file closing quote was added.
    last: u8,
    closed: bool,
    /// Where the record being read starts: the bytes handed on since then are bounded by
    /// [`MAX_RECORD`].
    record_start: u64,
}

/// Longest record a fleet file may hold, in bytes: far more than a row of any spreadsheet (a
/// megabyte of notes in a row reads). Past it the reader stops with a message, so a file that
/// never ends a line (`/dev/zero`, a tail of NUL bytes) cannot fill memory.
pub const MAX_RECORD: u64 = 4 << 20;

/// The parser's read buffer: the bytes it may hold beyond the record it is on.
const BUFFER: usize = 256 * 1024;

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.offset - self.record_start > MAX_RECORD + BUFFER as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a row longer than {} (a line that never ends: not a fleet file, or a damaged end, such as a tail of NUL bytes); cut the file after its last row",
                    crate::text::size(MAX_RECORD)
                ),
            ));
        }
        let mut n = self.inner.read(buf)?;
        if n > 0 {
            self.last = buf[n - 1];
        } else if !self.closed && matches!(self.last, b'\n' | b'\r') && buf.len() >= 2 {
            // A quote left open to the end swallows the file's last newline, so its record would
            // seem to end a line early. `"` + LF ends such a record on a line of its own; after a
            // whole record it only adds a blank one, which is skipped.
            self.closed = true;
            buf[..2].copy_from_slice(b"\"\n");
            n = 2;
        }
        let bytes = &buf[..n];
        // A line ends at LF, CRLF or a lone CR (old Mac exports), as the CSV parser has it.
        if std::mem::take(&mut self.cr_at_end) && bytes.first() != Some(&b'\n') {
            self.pending.push_back(self.offset - 1);
        }
        for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if bytes[i] == b'\n' || bytes.get(i + 1).is_some_and(|&b| b != b'\n') {
                self.pending.push_back(self.offset + i as u64);
            } else if i + 1 == n {
                self.cr_at_end = true;
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    /// The line the reader has come to: newlines handed on so far, plus one.
    fn line_so_far(&self) -> u64 {
        self.consumed + self.pending.len() as u64 + 1
    }

    /// Newlines before byte `pos`; `pos` must never go backwards.
    fn newlines_before(&mut self, pos: u64) -> u64 {
        while self.pending.front().is_some_and(|&p| p < pos) {
            self.pending.pop_front();
            self.consumed += 1;
        }
        self.consumed
    }
}

/// The bytes of a delimited file: the head already read, then the rest of the one open file.
type Stream = Box<dyn Read + Send>;

/// A CSV file, streamed.
pub(super) struct CsvSource {
    reader: csv::Reader<LineCounter<Stream>>,
    /// Newlines that sat inside quoted fields after row 1: each makes the physical line number
    /// run ahead of the row number a spreadsheet shows.
    embedded_newlines: u64,
    /// The physical line row 1 ends on: the first record with text, so blank lines and Excel's
    /// `sep=` line before it do not shift row numbers. `None` until that record is read.
    first_line: Option<u64>,
    /// The file starts with Excel's `sep=` line (not a row).
    excel_sep: bool,
}

/// An opened delimited file.
pub(super) struct Opened {
    /// The rows after the header.
    pub source: CsvSource,
    /// The header: its row, its names as found (trimmed), where the required columns are.
    pub found: Found,
    /// The delimiter chosen.
    pub delimiter: u8,
}

/// How much of the file the delimiter is sniffed from.
const HEAD: u64 = 64 * 1024;

/// The first [`HEAD`] bytes of `file` (fewer when it ends sooner): what tells a workbook from
/// text and the delimiter. The rest is read after it from the same handle.
pub(super) fn read_head(file: &File) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD as usize);
    file.take(HEAD).read_to_end(&mut head)?;
    Ok(head)
}

/// Starts reading a delimited text file from its `head` and the rest of `file` (never read twice,
/// so a pipe works too): refuses UTF-16, and picks the delimiter (Excel's `sep=` line, else
/// sniffed). Every record, from the first, then comes numbered as a spreadsheet shows it.
pub(super) fn start(
    path: &Path,
    head: Vec<u8>,
    file: File,
    names: &[String; 3],
) -> Result<(CsvSource, u8), InputError> {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(InputError::Utf16 {
            path: path.to_path_buf(),
        });
    }
    let excel_sep = excel_sep_line(&head);
    let delimiter = excel_sep.unwrap_or_else(|| pick_delimiter(&head, names));
    let stream: Stream = Box::new(std::io::Cursor::new(head).chain(file));
    let counter = LineCounter {
        inner: stream,
        offset: 0,
        pending: VecDeque::new(),
        consumed: 0,
        cr_at_end: false,
        last: 0,
        closed: false,
        record_start: 0,
    };
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(BUFFER)
        .from_reader(counter);
    let source = CsvSource {
        reader,
        embedded_newlines: 0,
        first_line: None,
        excel_sep: excel_sep.is_some(),
    };
    Ok((source, delimiter))
}

/// Opens a delimited text file (see [`start`]) and reads down to its header: the rows above it
/// are skipped, the required columns matched in it.
pub(super) fn open(
    path: &Path,
    head: Vec<u8>,
    file: File,
    options: &ReadOptions,
) -> Result<Opened, InputError> {
    let (mut source, delimiter) = start(path, head, file, &options.columns)?;
    let mut search = HeaderSearch::new(path, options);
    let mut record = csv::ByteRecord::new();
    let found = loop {
        match source.next_record(path, &mut record) {
            None => return Err(search.fail(true)),
            Some(Err(e)) => return Err(e),
            Some(Ok(None)) => {}
            Some(Ok(Some(row))) => {
                if search.past(row) {
                    return Err(search.fail(false));
                }
                if let Some(found) = search.offer(row, cells(&record))? {
                    break found;
                }
            }
        }
    };
    Ok(Opened {
        source,
        found,
        delimiter,
    })
}

impl CsvSource {
    /// Reads the next record into `record`: `Some(Ok(Some(row)))` for a record with text,
    /// `Some(Ok(None))` for a blank one (or Excel's `sep=` line), `None` at the end.
    pub(super) fn next_record(
        &mut self,
        path: &Path,
        record: &mut csv::ByteRecord,
    ) -> Option<Result<Option<u64>, InputError>> {
        match read_record(&mut self.reader, record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(Err(csv_error(path, &e))),
        }
        if is_blank(record) {
            return Some(Ok(None));
        }
        let Some(first_line) = self.first_line else {
            // Excel's `sep=;` line names the delimiter; Excel does not show it as a row.
            let sep_line = self.excel_sep
                && record.len() <= 2
                && record.get(0).is_some_and(|f| {
                    let f = f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f);
                    f.len() <= 5 && f.to_ascii_lowercase().starts_with(b"sep=")
                });
            if sep_line {
                return Some(Ok(None));
            }
            // Row 1 however many lines it takes.
            self.first_line = Some(last_line(&mut self.reader));
            return Some(Ok(Some(1)));
        };
        self.embedded_newlines += count_newlines(record);
        // Rows a spreadsheet shows: physical lines, less the extra lines quoted newlines take.
        let line = last_line(&mut self.reader);
        Some(Ok(Some(
            (line + 1).saturating_sub(first_line + self.embedded_newlines),
        )))
    }
}

/// Reads the next record, then marks where the one after it starts, for the [`MAX_RECORD`] bound.
/// An error the parser has no position for (the bound, a failed read) is placed at the line the
/// reader had come to.
fn read_record(
    reader: &mut csv::Reader<LineCounter<Stream>>,
    record: &mut csv::ByteRecord,
) -> Result<bool, (u64, csv::Error)> {
    match reader.read_byte_record(record) {
        Ok(more) => {
            let end = reader.position().byte();
            reader.get_mut().record_start = end;
            Ok(more)
        }
        Err(e) => {
            let line = e
                .position()
                .map_or_else(|| reader.get_ref().line_so_far(), |p| p.line());
            Err((line, e))
        }
    }
}

/// The physical line (1-based) of the last byte of the record just read.
fn last_line(reader: &mut csv::Reader<LineCounter<Stream>>) -> u64 {
    let end = reader.position().byte();
    // The byte before `end` is the record's terminator or its last byte; either way the lines
    // before it are the ones the record starts after or spans.
    1 + reader.get_mut().newlines_before(end.saturating_sub(1))
}

fn csv_error(path: &Path, (line, e): &(u64, csv::Error)) -> InputError {
    InputError::Csv {
        path: path.to_path_buf(),
        line: *line,
        message: match e.kind() {
            csv::ErrorKind::Io(io) => crate::text::io_reason(io),
            _ => e.to_string(),
        },
    }
}

fn count_newlines(record: &csv::ByteRecord) -> u64 {
    record
        .iter()
        .map(|f| {
            let lone_cr = |i: usize| f.get(i + 1) != Some(&b'\n');
            (0..f.len())
                .filter(|&i| f[i] == b'\n' || (f[i] == b'\r' && lone_cr(i)))
                .count() as u64
        })
        .sum()
}

/// Picks comma, semicolon or tab: whichever the first line using any of them uses most (outside
/// quotes). A title line above the header often has none; a line without any is passed over.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut counts = [0usize; 3];
    let mut quoted = false;
    let mut seen_text = false;
    let mut lines = 0;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted && seen_text => {
                lines += 1;
                if counts != [0; 3] || lines >= HEADER_SEARCH {
                    break;
                }
                seen_text = false;
            }
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            seen_text = true;
        }
    }
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// The delimiters a fleet file may use, in the order a tie is settled.
const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

/// The delimiter of the header line: the first of the top lines that, split by comma, semicolon
/// or tab, holds all three column `names`; else the split that looks most like a header (a title
/// line above it may hold a comma of its own in a semicolon file); else [`sniff_delimiter`]'s.
fn pick_delimiter(head: &[u8], names: &[String; 3]) -> u8 {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let lines = text
        .split(|&b| b == b'\n' || b == b'\r')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(HEADER_SEARCH as usize);
    let mut likeliest = (0, None);
    for line in lines {
        for d in DELIMITERS {
            let cells: Vec<String> = line
                .split(|&b| b == d)
                .map(|c| {
                    String::from_utf8_lossy(c)
                        .trim()
                        .trim_matches('"')
                        .trim()
                        .to_string()
                })
                .collect();
            if locate(&cells, names).all().is_some() {
                return d;
            }
            let score = header_likeness(&cells, names);
            if score > likeliest.0 {
                likeliest = (score, Some(d));
            }
        }
    }
    likeliest.1.unwrap_or_else(|| sniff_delimiter(head))
}

/// The delimiter named by Excel's first line `sep=;`, if the file starts with one.
pub(super) fn excel_sep_line(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let rest = head
        .strip_prefix(b"sep=")
        .or_else(|| head.strip_prefix(b"SEP="))?;
    let (&d, after) = rest.split_first()?;
    let after = after.strip_prefix(b"\r").unwrap_or(after);
    (matches!(d, b',' | b';' | b'\t' | b'|') && (after.is_empty() || after[0] == b'\n'))
        .then_some(d)
}
