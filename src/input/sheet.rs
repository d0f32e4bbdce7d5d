//! Spreadsheets (.xlsx, .xls, .ods) read directly, each cell as the text a person sees.

use std::fs::File;
use std::path::Path;

use super::columns::match_columns;
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
fn open_book(path: &Path) -> Result<calamine::Sheets<std::io::BufReader<File>>, String> {
    use calamine::{open_workbook, Ods, Sheets, Xls, Xlsb, Xlsx};
    let opened = match super::Kind::of(path) {
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

/// Opens a spreadsheet's sheet (the first, or `options.sheet`) and matches the required columns
/// in its first non-blank row.
pub(super) fn open(
    path: &Path,
    options: &ReadOptions,
) -> Result<(SheetSource, Vec<String>, [usize; 3]), InputError> {
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
        .map_err(|_| {
            sheet_err(format!(
                "the sheet '{}' cannot be read; open the file in Excel or LibreOffice and save it again",
                quote(&name)
            ))
        })?;
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
    Ok((
        SheetSource {
            range,
            next,
            first_row,
        },
        headers,
        columns,
    ))
}

impl SheetSource {
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
