//! Reading the fleet file: delimiter sniffing, header matching, streaming rows and validating them.
//!
//! The reader never holds the whole file: it yields one [`InputRow`] at a time from a reused
//! `csv::ByteRecord`, so memory stays flat whatever the fleet's size. Columns the tool does not use
//! are never decoded, so stray non-UTF-8 bytes there do not matter.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The three columns every fleet file must have, in the order the results file repeats them.
pub const REQUIRED: [&str; 3] = ["plant_id", "sn", "c_user_id"];

/// Longest serial number accepted; real Growatt serials are 10 to 16 characters.
pub const MAX_SN_LEN: usize = 64;

/// How much of an offending value a message quotes, so a damaged cell cannot flood the output.
const QUOTE_LIMIT: usize = 40;

/// How much of a raw cell the results file repeats for an invalid row.
const RAW_LIMIT: usize = 256;

/// A problem that makes the whole input unusable; nothing is sent when one occurs.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The input file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file has no header row at all.
    #[error("{path} is empty: expected a header row with the columns plant_id, sn, c_user_id")]
    Empty {
        /// The input file.
        path: PathBuf,
    },
    /// One or more required columns are not in the header.
    #[error(
        "{path}: missing column{plural} {missing}; the header has: {found}{hint}; rename the column, or map it with --column plant_id=\"Plant ID\"",
        plural = if missing.contains(',') { "s" } else { "" }
    )]
    MissingColumns {
        /// The input file.
        path: PathBuf,
        /// The required columns not found, comma-separated.
        missing: String,
        /// The header names that were found.
        found: String,
        /// A "did you mean" suggestion, empty when nothing is close.
        hint: String,
    },
    /// A required column appears twice, so the tool cannot know which one is meant.
    #[error("{path}: the column {name} appears twice in the header (columns {first} and {second}); keep one")]
    DuplicateColumn {
        /// The input file.
        path: PathBuf,
        /// The required column name.
        name: &'static str,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// The file is text in UTF-16, which spreadsheets call "Unicode Text".
    #[error("{path} is saved as UTF-16 (\"Unicode Text\"); save it again as \"CSV UTF-8\" (or CSV) and run again")]
    Utf16 {
        /// The input file.
        path: PathBuf,
    },
    /// A spreadsheet file that cannot be read.
    #[error("cannot read the spreadsheet {path}: {message}")]
    Sheet {
        /// The input file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The CSV reader failed part-way (an I/O error; the parser itself accepts any bytes).
    #[error("cannot read {path} near line {line}: {message}")]
    Csv {
        /// The input file.
        path: PathBuf,
        /// The physical line where reading stopped.
        line: u64,
        /// The reader's explanation.
        message: String,
    },
}

/// A device registration as it will be sent: validated and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The plant the device joins.
    pub plant_id: u64,
    /// The device's own serial number, letters and digits only, as written in the input.
    pub sn: String,
    /// The end-user account the device belongs to.
    pub c_user_id: u64,
}

/// One record of the input, with its spreadsheet row number and the validation verdict.
#[derive(Debug, Clone)]
pub struct InputRow {
    /// The row number a spreadsheet shows for this record; the header is row 1.
    pub row: u64,
    /// The `plant_id` cell, trimmed (shortened if huge), for the results file.
    pub plant_id: String,
    /// The `sn` cell, trimmed (shortened if huge).
    pub sn: String,
    /// The `c_user_id` cell, trimmed (shortened if huge).
    pub c_user_id: String,
    /// The device to send, or why the row cannot be sent.
    pub check: Result<Device, String>,
}

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
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
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
    /// Newlines before byte `pos`; `pos` must never go backwards.
    fn newlines_before(&mut self, pos: u64) -> u64 {
        while self.pending.front().is_some_and(|&p| p < pos) {
            self.pending.pop_front();
            self.consumed += 1;
        }
        self.consumed
    }
}

/// How to read the input beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The header names of plant_id, sn and c_user_id (matched case-insensitively, trimmed).
    pub columns: [String; 3],
    /// The sheet of a spreadsheet file; the first when `None`.
    pub sheet: Option<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            columns: REQUIRED.map(String::from),
            sheet: None,
        }
    }
}

impl ReadOptions {
    /// Applies `--column KEY=HEADER` mappings, e.g. `plant_id=Plant ID`.
    pub fn map_columns(&mut self, mappings: &[String]) -> Result<(), String> {
        for m in mappings {
            let Some((key, header)) = m.split_once('=') else {
                return Err(format!(
                    "--column '{m}' must look like plant_id=\"Plant ID\""
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            let Some(i) = REQUIRED.iter().position(|r| *r == key) else {
                return Err(format!(
                    "--column '{m}': '{key}' is not one of plant_id, sn, c_user_id"
                ));
            };
            let header = header.trim().trim_matches(['"', '\'']).trim();
            if header.is_empty() {
                return Err(format!("--column '{m}': the header name is empty"));
            }
            self.columns[i] = header.to_string();
        }
        Ok(())
    }
}

/// Spreadsheet formats read directly (first sheet, or the one asked for).
pub fn is_spreadsheet(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["xlsx", "xlsm", "xlsb", "xls", "ods"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Where records come from.
enum Source {
    /// A CSV file, streamed.
    Csv {
        reader: csv::Reader<LineCounter<File>>,
        /// Newlines that sat inside quoted fields so far: each makes the physical line number
        /// run ahead of the row number a spreadsheet shows.
        embedded_newlines: u64,
        /// The header's physical line, so blank lines before it do not shift row numbers.
        header_line: u64,
    },
    /// A sheet of a spreadsheet file (the format keeps it whole in memory anyway).
    Sheet {
        range: calamine::Range<calamine::Data>,
        /// Index in `range` of the next row to read.
        next: usize,
        /// The spreadsheet row number of `range`'s first row.
        first_row: u64,
    },
}

/// Streams validated rows out of a fleet file: CSV, or a spreadsheet's sheet.
pub struct FleetReader {
    path: PathBuf,
    source: Source,
    record: csv::ByteRecord,
    columns: [usize; 3],
    /// The delimiter chosen from the header (CSV).
    pub delimiter: u8,
    /// The header names as found (trimmed), for messages.
    pub headers: Vec<String>,
}

impl FleetReader {
    /// Opens `path` with the default column names, sniffs its delimiter and matches the
    /// required columns.
    pub fn open(path: &Path) -> Result<FleetReader, InputError> {
        FleetReader::open_with(path, &ReadOptions::default())
    }

    /// Opens `path` (CSV, or a spreadsheet by its extension) with `options`.
    pub fn open_with(path: &Path, options: &ReadOptions) -> Result<FleetReader, InputError> {
        if is_spreadsheet(path) {
            return FleetReader::open_sheet(path, options);
        }
        FleetReader::open_csv(path, options)
    }

    fn open_csv(path: &Path, options: &ReadOptions) -> Result<FleetReader, InputError> {
        let io_err = |source| InputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut head = Vec::with_capacity(64 * 1024);
        (&mut file)
            .take(64 * 1024)
            .read_to_end(&mut head)
            .map_err(io_err)?;
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(InputError::Utf16 {
                path: path.to_path_buf(),
            });
        }
        let excel_sep = excel_sep_line(&head);
        let delimiter = excel_sep.unwrap_or_else(|| sniff_delimiter(&head));
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;

        let counter = LineCounter {
            inner: file,
            offset: 0,
            pending: VecDeque::new(),
            consumed: 0,
            cr_at_end: false,
            last: 0,
            closed: false,
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(counter);
        let mut header = csv::ByteRecord::new();
        let header_line;
        let embedded_newlines;
        loop {
            let more = reader
                .read_byte_record(&mut header)
                .map_err(|e| csv_error(path, &e))?;
            if !more {
                return Err(InputError::Empty {
                    path: path.to_path_buf(),
                });
            }
            // Excel's `sep=;` line names the delimiter; Excel does not show it as a row.
            let sep_line = excel_sep.is_some()
                && header.len() <= 2
                && header.get(0).is_some_and(|f| {
                    let f = f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f);
                    f.len() <= 5 && f.to_ascii_lowercase().starts_with(b"sep=")
                });
            if !is_blank(&header) && !sep_line {
                // The header is row 1 however many lines it takes.
                header_line = last_line(&mut reader);
                embedded_newlines = 0;
                break;
            }
        }
        let headers: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let text = String::from_utf8_lossy(h);
                let text = if i == 0 {
                    text.trim_start_matches('\u{feff}').to_string()
                } else {
                    text.into_owned()
                };
                text.trim().to_string()
            })
            .collect();
        let columns = match_columns(path, &headers, &options.columns)?;
        Ok(FleetReader {
            path: path.to_path_buf(),
            source: Source::Csv {
                reader,
                embedded_newlines,
                header_line,
            },
            record: csv::ByteRecord::new(),
            columns,
            delimiter,
            headers,
        })
    }

    fn open_sheet(path: &Path, options: &ReadOptions) -> Result<FleetReader, InputError> {
        use calamine::Reader as _;
        let sheet_err = |message: String| InputError::Sheet {
            path: path.to_path_buf(),
            message,
        };
        if let Err(source) = File::open(path) {
            return Err(InputError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
        let mut book = calamine::open_workbook_auto(path).map_err(|e| sheet_err(e.to_string()))?;
        let names = book.sheet_names();
        let name = match &options.sheet {
            Some(want) => names
                .iter()
                .find(|n| n.as_str() == want)
                .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
                .cloned()
                .ok_or_else(|| {
                    sheet_err(format!(
                        "there is no sheet '{}'; the sheets are: {}",
                        quote(want),
                        names
                            .iter()
                            .map(|n| format!("'{}'", quote(n)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| sheet_err("the file has no sheets".into()))?,
        };
        let range = book
            .worksheet_range(&name)
            .map_err(|e| sheet_err(format!("sheet '{}': {e}", quote(&name))))?;
        let first_row = range.start().map_or(1, |(r, _)| u64::from(r) + 1);
        let mut record = csv::ByteRecord::new();
        let mut next = 0;
        loop {
            if next >= range.height() {
                return Err(InputError::Empty {
                    path: path.to_path_buf(),
                });
            }
            sheet_record(&range, next, &mut record);
            next += 1;
            if !is_blank(&record) {
                break;
            }
        }
        let headers: Vec<String> = record
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let columns = match_columns(path, &headers, &options.columns)?;
        Ok(FleetReader {
            path: path.to_path_buf(),
            source: Source::Sheet {
                range,
                next,
                first_row,
            },
            record,
            columns,
            delimiter: b',',
            headers,
        })
    }

    /// The next non-blank record, validated; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<InputRow, InputError>> {
        loop {
            let row = match self.next_record()? {
                Ok(row) => row,
                Err(e) => return Some(Err(e)),
            };
            if let Some(row) = row {
                return Some(Ok(validate_record(row, &self.record, self.columns)));
            }
        }
    }

    /// Reads the next record into `self.record`: `Some(Ok(Some(row)))` for a data record,
    /// `Some(Ok(None))` for a blank one, `None` at the end.
    fn next_record(&mut self) -> Option<Result<Option<u64>, InputError>> {
        match &mut self.source {
            Source::Csv {
                reader,
                embedded_newlines,
                header_line,
            } => {
                match reader.read_byte_record(&mut self.record) {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(Err(csv_error(&self.path, &e))),
                }
                if is_blank(&self.record) {
                    return Some(Ok(None));
                }
                *embedded_newlines += count_newlines(&self.record);
                // Rows a spreadsheet shows: physical lines, less the extra lines quoted newlines take.
                let line = last_line(reader);
                Some(Ok(Some(
                    (line + 1).saturating_sub(*header_line + *embedded_newlines),
                )))
            }
            Source::Sheet {
                range,
                next,
                first_row,
            } => {
                if *next >= range.height() {
                    return None;
                }
                sheet_record(range, *next, &mut self.record);
                let row = *first_row + *next as u64;
                *next += 1;
                Some(Ok((!is_blank(&self.record)).then_some(row)))
            }
        }
    }

    /// Counts the non-blank data records without validating them, for the progress bar's total.
    pub fn count_rows(path: &Path) -> Result<u64, InputError> {
        FleetReader::count_rows_with(path, &ReadOptions::default())
    }

    /// [`FleetReader::count_rows`] with read options.
    pub fn count_rows_with(path: &Path, options: &ReadOptions) -> Result<u64, InputError> {
        let mut reader = FleetReader::open_with(path, options)?;
        let mut n = 0;
        while let Some(r) = reader.next_record() {
            if r?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Iterator for FleetReader {
    type Item = Result<InputRow, InputError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

/// The physical line (1-based) of the last byte of the record just read.
fn last_line(reader: &mut csv::Reader<LineCounter<File>>) -> u64 {
    let end = reader.position().byte();
    // The byte before `end` is the record's terminator or its last byte; either way the lines
    // before it are the ones the record starts after or spans.
    1 + reader.get_mut().newlines_before(end.saturating_sub(1))
}

fn csv_error(path: &Path, e: &csv::Error) -> InputError {
    let line = e.position().map_or(0, |p| p.line());
    InputError::Csv {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
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

/// A record whose every cell is empty or spaces: the blank rows spreadsheets leave at the end.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

/// Picks comma, semicolon or tab: whichever the header line (outside quotes) uses most.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut counts = [0usize; 3];
    let mut quoted = false;
    let mut seen_text = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted && seen_text => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            seen_text = true;
        }
    }
    let delimiters = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    delimiters[best]
}

/// Fills `record` with row `index` of a sheet, each cell as the text a person sees.
fn sheet_record(
    range: &calamine::Range<calamine::Data>,
    index: usize,
    record: &mut csv::ByteRecord,
) {
    record.clear();
    // Direct indexing: walking `rows()` to the index each time would make a sheet quadratic.
    if index < range.height() {
        for col in 0..range.width() {
            let text = range.get((index, col)).map(cell_text).unwrap_or_default();
            record.push_field(text.as_bytes());
        }
    }
}

/// A cell as the text a person sees: whole numbers without a decimal point or exponent, so an id
/// or serial stored as a number is not damaged.
pub fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::Error(e) => e.to_string(),
    }
}

/// The delimiter named by Excel's first line `sep=;`, if the file starts with one.
fn excel_sep_line(head: &[u8]) -> Option<u8> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let rest = head
        .strip_prefix(b"sep=")
        .or_else(|| head.strip_prefix(b"SEP="))?;
    let (&d, after) = rest.split_first()?;
    let after = after.strip_prefix(b"\r").unwrap_or(after);
    (matches!(d, b',' | b';' | b'\t' | b'|') && (after.is_empty() || after[0] == b'\n'))
        .then_some(d)
}

fn match_columns(
    path: &Path,
    headers: &[String],
    names: &[String; 3],
) -> Result<[usize; 3], InputError> {
    let mut found: [Option<usize>; 3] = [None; 3];
    for (i, h) in headers.iter().enumerate() {
        for (c, name) in REQUIRED.iter().enumerate() {
            if h.eq_ignore_ascii_case(names[c].trim()) {
                if let Some(first) = found[c] {
                    return Err(InputError::DuplicateColumn {
                        path: path.to_path_buf(),
                        name,
                        first: first + 1,
                        second: i + 1,
                    });
                }
                found[c] = Some(i);
            }
        }
    }
    if let [Some(a), Some(b), Some(c)] = found {
        return Ok([a, b, c]);
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .zip(found.iter())
        .zip(names.iter())
        .filter(|((_, f), _)| f.is_none())
        .map(|((n, _), name)| {
            if name.eq_ignore_ascii_case(n) {
                n.to_string()
            } else {
                format!("{n} (looked for '{}')", quote(name))
            }
        })
        .collect();
    let shown: Vec<String> = headers.iter().map(|h| format!("'{}'", quote(h))).collect();
    let hints: Vec<String> = missing
        .iter()
        .zip(
            REQUIRED
                .iter()
                .zip(names.iter())
                .zip(found.iter())
                .filter(|(_, f)| f.is_none()),
        )
        .filter_map(|(m, ((_, name), _))| {
            closest(name, headers).map(|h| format!("{m} (did you mean '{}'?)", quote(h)))
        })
        .collect();
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", hints.join(", "))
    };
    Err(InputError::MissingColumns {
        path: path.to_path_buf(),
        missing: missing.join(", "),
        found: if shown.is_empty() {
            "(nothing)".into()
        } else {
            shown.join(", ")
        },
        hint,
    })
}

/// The header most like `want`, when it is close enough to be a likely misspelling.
fn closest<'a>(want: &str, headers: &'a [String]) -> Option<&'a String> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let w = norm(want);
    headers
        .iter()
        .map(|h| (edit_distance(&w, &norm(h)), h))
        // Fewer edits than `want` has letters: 'sn' is not a misspelling of '1' or 'id'.
        .filter(|(d, h)| *d <= 2.max(w.len() / 3) && *d < w.len() && !h.is_empty())
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn validate_record(row: u64, record: &csv::ByteRecord, columns: [usize; 3]) -> InputRow {
    let mut problems: Vec<String> = Vec::new();
    let mut cells: [String; 3] = Default::default();
    let mut texts: [Option<&str>; 3] = [None; 3];
    for (c, &idx) in columns.iter().enumerate() {
        match record.get(idx) {
            None => problems.push(format!("{} is missing (the row is too short)", REQUIRED[c])),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    let text = text.trim();
                    cells[c] = shorten(text, RAW_LIMIT);
                    texts[c] = Some(text);
                }
                Err(_) => {
                    cells[c] = shorten(String::from_utf8_lossy(bytes).trim(), RAW_LIMIT);
                    problems.push(format!(
                        "{} is not UTF-8 text; save the file as CSV UTF-8",
                        REQUIRED[c]
                    ));
                }
            },
        }
    }
    let plant_id = texts[0].map(|t| parse_id("plant_id", t));
    let sn = texts[1].map(check_sn);
    let c_user_id = texts[2].map(|t| parse_id("c_user_id", t));
    let check = match (plant_id, sn, c_user_id) {
        (Some(Ok(plant_id)), Some(Ok(sn)), Some(Ok(c_user_id))) if problems.is_empty() => {
            Ok(Device {
                plant_id,
                sn: sn.to_string(),
                c_user_id,
            })
        }
        (p, s, u) => {
            for e in [
                p.and_then(Result::err),
                s.and_then(Result::err),
                u.and_then(Result::err),
            ]
            .into_iter()
            .flatten()
            {
                problems.push(e);
            }
            Err(problems.join("; "))
        }
    };
    let [plant_id, sn, c_user_id] = cells;
    InputRow {
        row,
        plant_id,
        sn,
        c_user_id,
        check,
    }
}

/// Validates a `plant_id` or `c_user_id` cell (already trimmed): a positive integer.
pub fn parse_id(column: &str, text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!("{column} is empty"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(0) => Err(format!("{column} is 0; it must be a positive integer")),
            Ok(n) => Ok(n),
            Err(_) => Err(format!(
                "{column} '{}' is too large to be an id",
                quote(text)
            )),
        };
    }
    if looks_spreadsheet_number(text) {
        return Err(format!(
            "{column} '{}' was converted to a number by a spreadsheet; format the column as text and export again",
            quote(text)
        ));
    }
    Err(format!(
        "{column} '{}' is not a positive integer",
        quote(text)
    ))
}

/// Validates an `sn` cell (already trimmed): letters and digits only.
pub fn check_sn(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        return Err("sn is empty".into());
    }
    // Letters and digits alone ("123E45") are a serial as written, not a spreadsheet's number.
    if looks_spreadsheet_number(text) && !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "sn '{}' was converted to a number by a spreadsheet; format the column as text and export again",
            quote(text)
        ));
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
        let what = match bad {
            ' ' => "a space".to_string(),
            c if c.is_control() => format!("the control character U+{:04X}", c as u32),
            // Look-alikes and invisible characters (Cyrillic 'А', a zero-width space) need the code.
            c if !c.is_ascii() => format!("'{c}' (U+{:04X})", c as u32),
            c => format!("'{c}'"),
        };
        return Err(format!(
            "sn '{}' has {what}, but a serial is letters and digits only",
            quote(text)
        ));
    }
    if text.len() > MAX_SN_LEN {
        return Err(format!(
            "sn is {} characters long; a serial has at most {MAX_SN_LEN}",
            text.len()
        ));
    }
    Ok(text)
}

/// True for the shapes a spreadsheet gives a number it formatted: `12345.0`, `1.23E+10`,
/// `1,23457E+11` (decimal comma locales).
fn looks_spreadsheet_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    let (int, frac) = match mantissa.find(['.', ',']) {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let int_ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()));
    let decorated = exponent.is_some() || frac.is_some();
    exp_ok && int_ok && frac_ok && decorated
}

/// A value fit to quote inside a message: control characters escaped, long values cut.
pub fn quote(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == QUOTE_LIMIT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A compact, exact-where-possible identity of a serial, case-insensitive.
///
/// Serials of up to 12 letters and digits (every real Growatt serial) pack losslessly into 63
/// bits, base 37; longer ones fall back to a 64-bit hash with the top bit set. Eight bytes a row
/// keeps duplicate detection and resume within a few bytes per row on a million-row fleet.
pub fn sn_key(sn: &str) -> u64 {
    if sn.len() <= 12 && sn.bytes().all(|b| b.is_ascii_alphanumeric()) {
        sn.bytes().fold(0u64, |acc, b| {
            let digit = match b {
                b'0'..=b'9' => u64::from(b - b'0') + 1,
                _ => u64::from(b.to_ascii_uppercase() - b'A') + 11,
            };
            acc * 37 + digit
        })
    } else {
        use std::hash::{Hash, Hasher};
        // Keys only need to agree within one process: resume recomputes them from the text.
        let mut h = std::hash::DefaultHasher::new();
        sn.to_ascii_uppercase().hash(&mut h);
        h.finish() | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(content: &[u8]) -> Result<Vec<InputRow>, InputError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        FleetReader::open(f.path())?.collect()
    }

    #[test]
    fn reads_comma_file_with_extra_columns_in_any_order() {
        let rows = read_all(b"site,SN,C_User_Id,Plant_ID\nroof,ABC123,7,42\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row, 2);
        assert_eq!(
            rows[0].check,
            Ok(Device {
                plant_id: 42,
                sn: "ABC123".into(),
                c_user_id: 7
            })
        );
    }

    #[test]
    fn bom_semicolons_crlf_and_spaces() {
        let rows = read_all(b"\xEF\xBB\xBF plant_id ; sn ;c_user_id\r\n 1 ; X1 ; 2 \r\n").unwrap();
        assert_eq!(rows[0].check.as_ref().unwrap().sn, "X1");
        let rows = read_all(b"plant_id\tsn\tc_user_id\n1\tX1\t2\n").unwrap();
        assert_eq!(rows[0].check.as_ref().unwrap().plant_id, 1);
    }

    #[test]
    fn row_numbers_follow_the_spreadsheet_with_quoted_newlines_and_blank_lines() {
        let rows = read_all(
            b"plant_id,sn,c_user_id,note\n1,A1,2,\"two\nlines\"\n\n1,A2,2,x\n,,,\n1,A3,2,x",
        )
        .unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
        assert_eq!(numbers, vec![2, 4, 6]);
        let rows = read_all(
            b"\r\nplant_id,sn,c_user_id,note\r\n\r\n\r\n1,A2,2,\"x\r\ny\"\r\n1,A3,2,x\r\n",
        )
        .unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
        assert_eq!(numbers, vec![4, 5]);
        let rows = read_all(b"plant_id,sn,c_user_id\n1,A1,2\n1,A2,2\n").unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
        assert_eq!(numbers, vec![2, 3]);
    }

    #[test]
    fn non_utf8_in_unused_column_is_ignored() {
        let rows = read_all(b"plant_id,sn,c_user_id,name\n1,A1,2,M\xfcller\n").unwrap();
        assert!(rows[0].check.is_ok());
        let rows = read_all(b"plant_id,sn,c_user_id\n1,A\xfc1,2\n").unwrap();
        assert!(rows[0].check.as_ref().unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn missing_columns_name_what_was_found_and_the_closest() {
        let err = read_all(b"plant id,serial,c_user_id\n1,2,3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("missing columns plant_id, sn"), "{msg}");
        assert!(msg.contains("'plant id'"), "{msg}");
        assert!(msg.contains("did you mean 'plant id'"), "{msg}");
    }

    #[test]
    fn empty_and_blank_files_are_fatal() {
        assert!(matches!(read_all(b""), Err(InputError::Empty { .. })));
        assert!(matches!(read_all(b"\n\n"), Err(InputError::Empty { .. })));
    }

    #[test]
    fn short_row_is_invalid() {
        let rows = read_all(b"plant_id,sn,c_user_id\n1,A1\n").unwrap();
        assert!(rows[0]
            .check
            .as_ref()
            .unwrap_err()
            .contains("c_user_id is missing"));
    }

    #[test]
    fn ids_must_be_positive_integers_with_spreadsheet_hints() {
        assert_eq!(parse_id("plant_id", "42"), Ok(42));
        assert_eq!(parse_id("plant_id", "007"), Ok(7));
        assert!(parse_id("plant_id", "0").unwrap_err().contains("positive"));
        assert!(parse_id("plant_id", "-3")
            .unwrap_err()
            .contains("not a positive integer"));
        assert!(parse_id("plant_id", "abc")
            .unwrap_err()
            .contains("'abc' is not a positive"));
        assert!(parse_id("plant_id", "").unwrap_err().contains("empty"));
        assert!(parse_id("c_user_id", "12345.0")
            .unwrap_err()
            .contains("converted to a number by a spreadsheet"));
        assert!(parse_id("plant_id", "99999999999999999999999")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn serials_are_letters_and_digits() {
        assert_eq!(check_sn("BQC0A1234F"), Ok("BQC0A1234F"));
        assert!(check_sn("AB-12").unwrap_err().contains("'-'"));
        assert!(check_sn("AB 12").unwrap_err().contains("a space"));
        assert!(check_sn("1.23E+10").unwrap_err().contains("spreadsheet"));
        assert!(check_sn("123456789.0").unwrap_err().contains("spreadsheet"));
        assert!(check_sn("1,23457E+11").unwrap_err().contains("spreadsheet"));
        assert!(check_sn(&"A".repeat(65))
            .unwrap_err()
            .contains("65 characters"));
        assert!(check_sn("=HYPERLINK(1)").is_err());
    }

    #[test]
    fn long_values_are_quoted_short() {
        let long = "x".repeat(10_000);
        let msg = parse_id("plant_id", &long).unwrap_err();
        assert!(msg.len() < 200, "{}", msg.len());
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3"), b';');
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(sniff_delimiter(b"\"x;y\",b,c\n"), b',');
        assert_eq!(sniff_delimiter(b""), b',');
    }

    #[test]
    fn spreadsheet_cells_read_as_a_person_sees_them() {
        use calamine::Data;
        assert_eq!(cell_text(&Data::Float(1234567890.0)), "1234567890");
        assert_eq!(cell_text(&Data::Float(123456789012.0)), "123456789012");
        assert_eq!(cell_text(&Data::Float(12.5)), "12.5");
        assert_eq!(cell_text(&Data::Int(42)), "42");
        assert_eq!(cell_text(&Data::String(" AB12 ".into())), " AB12 ");
        assert_eq!(cell_text(&Data::Empty), "");
        assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
    }

    #[test]
    fn column_mapping_and_excel_sep_line() {
        let mut o = ReadOptions::default();
        o.map_columns(&["plant_id=\"Plant ID\"".into(), "SN = Serial".into()])
            .unwrap();
        assert_eq!(
            o.columns,
            ["Plant ID".to_string(), "Serial".into(), "c_user_id".into()]
        );
        assert!(o.map_columns(&["plant=Plant".into()]).is_err());
        assert!(o.map_columns(&["sn".into()]).is_err());
        assert!(o.map_columns(&["sn=".into()]).is_err());
        assert_eq!(excel_sep_line(b"sep=;\r\nx"), Some(b';'));
        assert_eq!(excel_sep_line(b"\xEF\xBB\xBFsep=\t\n"), Some(b'\t'));
        assert_eq!(excel_sep_line(b"sep=;x\n"), None);
        assert_eq!(excel_sep_line(b"plant_id,sn"), None);
    }

    #[test]
    fn sn_keys_are_case_insensitive_and_distinct() {
        assert_eq!(sn_key("abc123"), sn_key("ABC123"));
        assert_ne!(sn_key("ABC123"), sn_key("ABC124"));
        assert_ne!(sn_key("A"), sn_key("0A"));
        assert_ne!(sn_key("0"), sn_key("00"));
        assert_eq!(sn_key(&"Z".repeat(20)), sn_key(&"z".repeat(20)));
        assert!(sn_key("ZZZZZZZZZZZZ") < 1 << 63);
        assert!(sn_key(&"Z".repeat(13)) >= 1 << 63);
    }
}
