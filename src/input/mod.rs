//! Reading the fleet file: delimiter sniffing, header matching, streaming rows and validating them.
//!
//! The reader never holds the whole file: it yields one [`InputRow`] at a time from a reused
//! `csv::ByteRecord`, so memory stays flat whatever the fleet's size. Columns the tool does not use
//! are never decoded, so stray non-UTF-8 bytes there do not matter.

use std::path::{Path, PathBuf};

mod columns;
mod csv_file;
mod header;
mod kind;
mod preview;
mod sheet;
pub mod suspect;
mod validate;
mod zipped;

pub use csv_file::sniff_delimiter;
pub use header::{header_note, HEADER_SEARCH};
pub use kind::Kind;
pub use preview::{preview, Preview};
pub use sheet::cell_text;
pub use validate::{check_sn, parse_id, sn_key, MAX_SN_LEN};

/// The three columns every fleet file must have, in the order the results file repeats them.
pub const REQUIRED: [&str; 3] = ["plant_id", "sn", "c_user_id"];

/// A problem that makes the whole input unusable; nothing is sent when one occurs.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {}", crate::text::io_reason(.source))]
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
    /// No row holds all the required columns (the rows searched, or the row `--header-row`
    /// names): the row most like a header, what it lacks and what it holds. (Boxed text keeps
    /// every error that carries an input error small.)
    #[error(
        "{path}: {lead} is missing column{plural} {missing}; it has: {found}{hint}",
        plural = if missing.contains(',') { "s" } else { "" }
    )]
    MissingColumns {
        /// The input file.
        path: PathBuf,
        /// Which rows were searched and which one is shown, e.g. `no header in rows 1–20: none
        /// holds plant_id, sn and c_user_id; the closest, row 4,`.
        lead: Box<str>,
        /// The required columns not found, comma-separated.
        missing: Box<str>,
        /// The cells of the row shown.
        found: Box<str>,
        /// What to do: the `--column` mapping to paste, or the rename to make.
        hint: Box<str>,
    },
    /// The rows searched hold values, not column names: there is no header row at all.
    #[error("{path}: {lead} holds values ({found}), not column names; add a header row with plant_id, sn, c_user_id")]
    NoHeader {
        /// The input file.
        path: PathBuf,
        /// Which rows were searched and which one is shown.
        lead: String,
        /// That row's cells.
        found: String,
    },
    /// The row `--header-row` names is not in the file or holds nothing.
    #[error("{path}: --header-row {row}: {why}")]
    HeaderRow {
        /// The input file.
        path: PathBuf,
        /// The row named.
        row: u64,
        /// What is there instead.
        why: String,
    },
    /// A required column appears twice, so the tool cannot know which one is meant.
    #[error("{path}: the column {name} appears twice in the header on row {row} (columns {first} and {second}); keep one")]
    DuplicateColumn {
        /// The input file.
        path: PathBuf,
        /// The required column name.
        name: &'static str,
        /// The header's row.
        row: u64,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// The skip column named with `--column skip=HEADER` cannot be used.
    #[error("{path}: {message}")]
    SkipColumn {
        /// The input file.
        path: PathBuf,
        /// What is wrong with it and what to do.
        message: String,
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
    /// The row number a spreadsheet shows for this record (rows above the header counted).
    pub row: u64,
    /// The `plant_id` cell, trimmed (shortened if huge), for the results file.
    pub plant_id: String,
    /// The `sn` cell, trimmed (shortened if huge).
    pub sn: String,
    /// The `c_user_id` cell, trimmed (shortened if huge).
    pub c_user_id: String,
    /// The device to send, or why the row cannot be sent.
    pub check: Result<Device, String>,
    /// The `sn` cell of a workbook held a number, not text: leading zeros or an `E` may be gone
    /// ([`suspect`] says so).
    pub sn_number: bool,
    /// Why the row is skipped on purpose (marked in the skip column, or holding only a note), in
    /// words for its results line. A skipped row is neither validated nor sent, whatever
    /// [`InputRow::check`] says.
    pub skip: Option<String>,
}

#[cfg(test)]
impl InputRow {
    /// Row `row` of plant 1 and customer 2 holding `sn`, as the reader makes it; `number`: the
    /// cell was a number in a workbook.
    pub(crate) fn of_serial(row: u64, sn: &str, number: bool) -> InputRow {
        InputRow {
            row,
            plant_id: "1".into(),
            sn: sn.into(),
            c_user_id: "2".into(),
            check: check_sn(sn).map(|sn| Device {
                plant_id: 1,
                sn: sn.into(),
                c_user_id: 2,
            }),
            sn_number: number,
            skip: None,
        }
    }
}

/// How to read the input beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The header names of plant_id, sn and c_user_id (matched case-insensitively, trimmed).
    pub columns: [String; 3],
    /// The sheet of a spreadsheet file; the first when `None`.
    pub sheet: Option<String>,
    /// The header's row (`--header-row`); when `None`, the first of the top [`HEADER_SEARCH`]
    /// rows that holds the three columns.
    pub header_row: Option<u64>,
    /// The header of the column whose mark skips a row, mapped with `--column skip=HEADER`. When
    /// `None`, a column headed [`SKIP`] is used if the header has one.
    pub skip: Option<String>,
}

/// The header of the optional column that skips a row: any value in it, and the row is
/// `skipped`.
pub const SKIP: &str = "skip";

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            columns: REQUIRED.map(String::from),
            sheet: None,
            header_row: None,
            skip: None,
        }
    }
}

impl ReadOptions {
    /// Applies `--column KEY=HEADER` mappings, e.g. `plant_id=Plant ID` or `skip=Done`.
    pub fn map_columns(&mut self, mappings: &[String]) -> Result<(), String> {
        for m in mappings {
            let Some((key, header)) = m.split_once('=') else {
                return Err(format!(
                    "--column '{m}' must look like plant_id=\"Plant ID\""
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            if key == SKIP {
                let header = header.trim().trim_matches(['"', '\'']).trim();
                if header.is_empty() {
                    return Err(format!("--column '{m}': the header name is empty"));
                }
                self.skip = Some(header.to_string());
                continue;
            }
            let Some(i) = REQUIRED.iter().position(|r| *r == key) else {
                let value = header.trim().trim_matches(['"', '\'']).trim();
                if REQUIRED.contains(&value.to_ascii_lowercase().as_str()) {
                    return Err(format!(
                        "--column '{m}': the order is KEY=HEADER, the column's key first: --column {}=\"{}\"",
                        value.to_ascii_lowercase(),
                        key_as_typed(m)
                    ));
                }
                return Err(format!(
                    "--column '{m}': '{key}' is not one of plant_id, sn, c_user_id, skip"
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

/// The text before the `=` of a `--column` value, as typed (quotes removed).
fn key_as_typed(mapping: &str) -> &str {
    mapping
        .split_once('=')
        .map_or(mapping, |(k, _)| k.trim().trim_matches(['"', '\'']).trim())
}

/// Whether the file is a workbook (.xlsx, .xlsm, .xlsb, .xls, .ods), by its content; a file that
/// cannot be opened, or is not a regular file, counts as text, and opening it says why. Only a
/// regular file is opened, so a pipe's bytes are never taken from its reader.
pub fn is_spreadsheet(path: &Path) -> bool {
    Kind::of(path).is_ok_and(Kind::is_workbook)
}

/// Where records come from.
enum Source {
    /// A CSV file, streamed.
    Csv(csv_file::CsvSource),
    /// A sheet of a spreadsheet file.
    Sheet(sheet::SheetSource),
}

/// Streams validated rows out of a fleet file: CSV, or a spreadsheet's sheet.
pub struct FleetReader {
    path: PathBuf,
    source: Source,
    record: csv::ByteRecord,
    columns: [usize; 3],
    /// Where the skip column is, when the header has one.
    skip: Option<usize>,
    /// The delimiter chosen from the header (CSV).
    pub delimiter: u8,
    /// The header names as found (trimmed), for messages.
    pub headers: Vec<String>,
    /// The header's row, as the sheet shows it.
    pub header_row: u64,
    /// The first row holding anything: the header's, unless rows above it were skipped.
    first_row: u64,
    /// The input is a regular file (not a pipe or a device).
    regular: bool,
}

impl FleetReader {
    /// Opens `path` with the default column names, sniffs its delimiter and matches the
    /// required columns.
    pub fn open(path: &Path) -> Result<FleetReader, InputError> {
        FleetReader::open_with(path, &ReadOptions::default())
    }

    /// Opens `path` (CSV, or a spreadsheet by its content) with `options`. The file is opened
    /// once: a named pipe or a device is read as the stream it is, from its first byte to its
    /// last, never opened again (a FIFO's writer may be gone by then).
    pub fn open_with(path: &Path, options: &ReadOptions) -> Result<FleetReader, InputError> {
        let io_err = |source| InputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if meta.is_dir() {
            return Err(io_err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a folder, not a file",
            )));
        }
        let regular = meta.is_file();
        let head = csv_file::read_head(&file).map_err(io_err)?;
        if Kind::of_bytes(&head).is_workbook() {
            if !regular {
                return Err(InputError::Sheet {
                    path: path.to_path_buf(),
                    message: "a workbook is read from a file on disk, not from a pipe or a device (it is a zip archive, read out of order); save it to a file, or save it as CSV".into(),
                });
            }
            drop(file);
            let (source, found) = sheet::open(path, options)?;
            let skip =
                columns::skip_column(path, &found.headers, found.columns, options.skip.as_deref())?;
            return Ok(FleetReader {
                path: path.to_path_buf(),
                source: Source::Sheet(source),
                record: csv::ByteRecord::new(),
                columns: found.columns,
                skip,
                delimiter: b',',
                headers: found.headers,
                header_row: found.row,
                first_row: found.first,
                regular,
            });
        }
        let opened = csv_file::open(path, head, file, options)?;
        let skip = columns::skip_column(
            path,
            &opened.found.headers,
            opened.found.columns,
            options.skip.as_deref(),
        )?;
        Ok(FleetReader {
            path: path.to_path_buf(),
            source: Source::Csv(opened.source),
            record: csv::ByteRecord::new(),
            columns: opened.found.columns,
            skip,
            delimiter: opened.delimiter,
            headers: opened.found.headers,
            header_row: opened.found.row,
            first_row: opened.found.first,
            regular,
        })
    }

    /// Where the header is, in a short line, when rows above it were skipped: `header on row 4
    /// (rows 1–3 above it are skipped)`.
    pub fn header_note(&self) -> Option<String> {
        header_note(self.header_row, self.first_row)
    }

    /// Whether the input can be read a second time (a regular file), as a pre-count would; a pipe
    /// or a device gives its bytes once.
    pub fn rereadable(&self) -> bool {
        self.regular
    }

    /// Whether the input is a workbook's sheet (not delimited text).
    pub fn is_sheet(&self) -> bool {
        matches!(self.source, Source::Sheet(_))
    }

    /// The next non-blank record, validated; `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<InputRow, InputError>> {
        loop {
            let row = match self.next_record()? {
                Ok(row) => row,
                Err(e) => return Some(Err(e)),
            };
            if let Some(row) = row {
                let typed = matches!(self.source, Source::Sheet(_));
                let mut row = validate::validate_record(row, &self.record, self.columns, typed);
                row.skip = validate::skip_reason(&self.record, self.columns, self.skip);
                if let Source::Sheet(sheet) = &self.source {
                    row.sn_number = sheet.last_is_number(self.columns[1]);
                }
                return Some(Ok(row));
            }
        }
    }

    /// Reads the next record into `self.record`: `Some(Ok(Some(row)))` for a data record,
    /// `Some(Ok(None))` for a blank one, `None` at the end.
    fn next_record(&mut self) -> Option<Result<Option<u64>, InputError>> {
        match &mut self.source {
            Source::Csv(csv) => csv.next_record(&self.path, &mut self.record),
            Source::Sheet(sheet) => sheet.next_record(&mut self.record).map(Ok),
        }
    }

    /// The non-blank data records left, when they are known without reading the file again (a
    /// spreadsheet is held in memory); `None` for a CSV, which [`FleetReader::count_rows_with`]
    /// scans.
    pub fn known_rows(&self) -> Option<u64> {
        match &self.source {
            Source::Csv(_) => None,
            Source::Sheet(sheet) => Some(sheet.remaining_rows()),
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

/// A record whose every cell is empty or spaces: the blank rows spreadsheets leave at the end.
pub(crate) fn is_blank(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests;
