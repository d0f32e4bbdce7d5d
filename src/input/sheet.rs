//! Spreadsheets (.xlsx, .xls, .ods) read directly, each cell as the text a person sees.

use std::fs::File;
use std::path::Path;

use super::header::{cells, Found, HeaderSearch};
use super::{is_blank, InputError, ReadOptions};
use crate::text::quote;

/// A sheet of a spreadsheet file (the format keeps it whole in memory anyway).
pub(super) struct SheetSource {
    range: calamine::Range<calamine::Data>,
    /// Index in `range` of the next row to read.
    next: usize,
    /// The spreadsheet row number of `range`'s first row.
    first_row: u64,
}

/// Opens the workbook by its content (an .xlsx renamed .xls, or without an extension, opens
/// too); what cannot be opened is said in words a person can act on.
pub(super) fn open_book(path: &Path) -> Result<calamine::Sheets<std::io::BufReader<File>>, String> {
    use calamine::{open_workbook, Ods, Sheets, Xls, Xlsb, Xlsx};
    let kind = super::Kind::of(path);
    if let Ok(super::Kind::Zip) = kind {
        // Opening reads the shared strings whole: their size is checked first.
        super::zipped::check_parts(path)?;
    }
    let opened = match kind {
        Ok(super::Kind::Ole) => open_workbook::<Xls<_>, _>(path).ok().map(Sheets::Xls),
        Ok(super::Kind::Zip) => open_workbook::<Xlsx<_>, _>(path)
            .map(Sheets::Xlsx)
            .ok()
            .or_else(|| open_workbook::<Ods<_>, _>(path).map(Sheets::Ods).ok())
            .or_else(|| open_workbook::<Xlsb<_>, _>(path).map(Sheets::Xlsb).ok()),
        _ => None,
    };
    opened.ok_or_else(|| {
        "it is not a workbook this tool can read (damaged, password-protected, or another \
         kind of document); open it in Excel or LibreOffice and save it as .xlsx or as CSV UTF-8"
            .to_string()
    })
}

/// Opens a spreadsheet's sheet (the first, or `options.sheet`) and reads down to its header:
/// the rows above it are skipped, the required columns matched in it.
pub(super) fn open(path: &Path, options: &ReadOptions) -> Result<(SheetSource, Found), InputError> {
    let (_, _, range) = load(path, options.sheet.as_deref())?;
    let mut source = SheetSource::new(range);
    let mut search = HeaderSearch::new(path, options);
    let mut record = csv::ByteRecord::new();
    loop {
        match source.next_record(&mut record) {
            None => return Err(search.fail(true)),
            Some(None) => {}
            Some(Some(row)) => {
                if search.past(row) {
                    return Err(search.fail(false));
                }
                if let Some(found) = search.offer(row, cells(&record))? {
                    return Ok((source, found));
                }
            }
        }
    }
}

/// The workbook's sheet names, the name of `sheet` (the first when `None`) and its cells.
pub(super) fn load(
    path: &Path,
    sheet: Option<&str>,
) -> Result<(Vec<String>, String, calamine::Range<calamine::Data>), InputError> {
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
    let mut book = open_book(path).map_err(sheet_err)?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(want) => names
            .iter()
            .find(|n| n.as_str() == want)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
            .cloned()
            .ok_or_else(|| {
                sheet_err(format!(
                    "there is no sheet '{}'; {}",
                    quote(want),
                    sheet_list(&names)
                ))
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| sheet_err("the file has no sheets".into()))?,
    };
    let range = read_range(&mut book, &name).map_err(|too_large| {
        sheet_err(match too_large {
            Some(why) => format!("the sheet '{}': {why}", quote(&name)),
            None => format!(
                "the sheet '{}' cannot be read; open the file in Excel or LibreOffice and save it again",
                quote(&name)
            ),
        })
    })?;
    Ok((names, name, range))
}

/// Most sheet names a message lists; the rest are counted.
pub const SHEETS_LISTED: usize = 10;

/// The workbook's sheets for a message: all of a few, or the first [`SHEETS_LISTED`] and how
/// many more (a workbook may hold thousands).
pub(super) fn sheet_list(names: &[String]) -> String {
    let listed: Vec<String> = names
        .iter()
        .take(SHEETS_LISTED)
        .map(|n| format!("'{}'", quote(n)))
        .collect();
    match names.len() {
        0 => "the workbook has no sheets".into(),
        n if n <= SHEETS_LISTED => format!("the sheets are: {}", listed.join(", ")),
        n => format!(
            "the workbook has {n} sheets, the first {SHEETS_LISTED}: {} and {} more",
            listed.join(", "),
            n - SHEETS_LISTED
        ),
    }
}

/// Most cells a sheet's used range may span, rows × columns (a million-row fleet with 16
/// columns fits). Past it, one stray value far out (cell XFD1048576) would have the whole sheet's
/// grid held in memory, terabytes of it.
pub const MAX_SHEET_CELLS: u64 = 1 << 24;

/// The sheet's cells as a range, never allocated by the size the file claims: .xlsx and .xlsb
/// are read cell by cell, and the grid is built only when the cells actually there span at most
/// [`MAX_SHEET_CELLS`]. `Err(Some(why))` for a sheet too large, `Err(None)` for one the reader
/// cannot read.
pub(super) fn read_range(
    book: &mut calamine::Sheets<std::io::BufReader<File>>,
    name: &str,
) -> Result<calamine::Range<calamine::Data>, Option<String>> {
    use calamine::{Reader as _, Sheets};
    match book {
        Sheets::Xlsx(x) => {
            let mut cells = x.worksheet_cells_reader(name).map_err(|_| None)?;
            sparse_range(|| cells.next_cell().map_err(|_| None))
        }
        Sheets::Xlsb(x) => {
            let mut cells = x.worksheet_cells_reader(name).map_err(|_| None)?;
            sparse_range(|| cells.next_cell().map_err(|_| None))
        }
        // .xls (at most 65,536 × 256) and .ods come whole from their readers.
        other => {
            let range = other.worksheet_range(name).map_err(|_| None)?;
            check_size(range.height() as u64, range.width() as u64).map_err(Some)?;
            Ok(range)
        }
    }
}

/// Collects the non-empty cells one by one and builds the grid they span, when it is small enough.
fn sparse_range<'a>(
    mut next: impl FnMut() -> Result<Option<calamine::Cell<calamine::DataRef<'a>>>, Option<String>>,
) -> Result<calamine::Range<calamine::Data>, Option<String>> {
    let mut cells: Vec<calamine::Cell<calamine::Data>> = Vec::new();
    let (mut top, mut bottom, mut left, mut right) = (u32::MAX, 0u32, u32::MAX, 0u32);
    while let Some(cell) = next()? {
        let value = calamine::Data::from(cell.get_value().clone());
        if value == calamine::Data::Empty {
            continue;
        }
        let (r, c) = cell.get_position();
        (top, bottom) = (top.min(r), bottom.max(r));
        (left, right) = (left.min(c), right.max(c));
        // More cells than the cap can ever span is enough to know, whatever comes next.
        if cells.len() as u64 >= MAX_SHEET_CELLS {
            check_size(u64::from(bottom - top) + 1, u64::from(right - left) + 1).map_err(Some)?;
        }
        cells.push(calamine::Cell::new((r, c), value));
    }
    if cells.is_empty() {
        return Ok(calamine::Range::empty());
    }
    check_size(u64::from(bottom - top) + 1, u64::from(right - left) + 1).map_err(Some)?;
    // The grid is built assuming rows in order; a file may list them in any order.
    cells.sort_by_key(|c| c.get_position());
    Ok(calamine::Range::from_sparse(cells))
}

/// Refuses a used range over [`MAX_SHEET_CELLS`], naming its size and what to do.
fn check_size(rows: u64, columns: u64) -> Result<(), String> {
    if rows.saturating_mul(columns) > MAX_SHEET_CELLS {
        return Err(format!(
            "its used range is {rows} rows × {columns} columns, more than the {MAX_SHEET_CELLS} cells this tool reads from a sheet; a stray value far below or right of the data usually does this: delete the rows and columns after the data (or copy the data to a new sheet) and save again"
        ));
    }
    Ok(())
}

impl SheetSource {
    /// The rows of `range`, from its first.
    pub(super) fn new(range: calamine::Range<calamine::Data>) -> SheetSource {
        let first_row = range.start().map_or(1, |(r, _)| u64::from(r) + 1);
        SheetSource {
            range,
            next: 0,
            first_row,
        }
    }

    /// The non-blank rows left to read, counted in memory (the progress bar's total, without
    /// reading the file a second time).
    pub(super) fn remaining_rows(&self) -> u64 {
        let mut record = csv::ByteRecord::new();
        (self.next..self.range.height())
            .filter(|&i| {
                sheet_record(&self.range, i, &mut record);
                !is_blank(&record)
            })
            .count() as u64
    }

    /// Whether column `col` of the row read last holds a number cell (a date is not one).
    pub(super) fn last_is_number(&self, col: usize) -> bool {
        let at = (self.next.saturating_sub(1), col);
        matches!(
            self.range.get(at),
            Some(calamine::Data::Int(_) | calamine::Data::Float(_))
        )
    }

    /// Hands each non-blank row left to `f`, from memory, without moving on (the survey before
    /// the rows are read).
    pub(super) fn each_remaining(&self, mut f: impl FnMut(&csv::ByteRecord)) {
        let mut record = csv::ByteRecord::new();
        for i in self.next..self.range.height() {
            sheet_record(&self.range, i, &mut record);
            if !is_blank(&record) {
                f(&record);
            }
        }
    }

    /// Reads the next row into `record`: `Some(Some(row))` for a data row, `Some(None)` for a
    /// blank one, `None` at the end.
    pub(super) fn next_record(&mut self, record: &mut csv::ByteRecord) -> Option<Option<u64>> {
        if self.next >= self.range.height() {
            return None;
        }
        sheet_record(&self.range, self.next, record);
        let row = self.first_row + self.next as u64;
        self.next += 1;
        Some((!is_blank(record)).then_some(row))
    }
}

/// Fills `record` with row `index` of a sheet, each cell as the text a person sees.
pub(super) fn sheet_record(
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

/// An Excel date serial as `YYYY-MM-DD` (with the time when it has one); `#DATE?` when out of range.
fn excel_date_text(serial: f64) -> String {
    if !serial.is_finite() || !(0.0..=2_958_465.0).contains(&serial) {
        return "#DATE?".into();
    }
    let days = serial.floor() as i64;
    // Day 0 is 1899-12-30 in the 1900 system (Excel's 1900 leap-year bug included).
    let z = days - 25_569 + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if seconds == 0 {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")
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
        // Past 15 digits Excel has already rounded the number: shown the way Excel shows it,
        // `1.23456789012346E+16`, which validation refuses with a hint, never sent as a guess.
        Data::Float(f) if f.abs() >= 1e15 => format!("{f:E}").replace('E', "E+"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        // A date as a person sees it, never Excel's serial number (2 Jan 2025 is 45659).
        Data::DateTime(d) => excel_date_text(d.as_f64()),
        Data::Error(e) => e.to_string(),
    }
}
