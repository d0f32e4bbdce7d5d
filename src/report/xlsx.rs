//! The results as a real spreadsheet (`report --xlsx`): the latest line per serial, with what to do
//! and the link status, that opens as columns in Excel whatever the locale's list separator.
//!
//! Ids and serials are stored as text cells (a serial never becomes `1.23E+11`), the row number,
//! code and attempts as numbers; the header is frozen, the autofilter on, and the rows needing
//! attention are shaded.

use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, XlsxError};

use std::collections::HashMap;

use super::fleet::{FleetSpec, NoFleet};
use super::join::{JoinedRow, NotReached, Removed};
use super::latest::Scanned;
use super::serials::{serial_warnings, warning_for};
use super::{Latest, LatestLine, Links, ReportError, NOT_REACHED};
use crate::input::sn_key;
use crate::input::suspect::SerialWarning;
use crate::journal::ResultsError;
use crate::outcome::advice;
use crate::paths::Paths;

/// Data rows one sheet holds (Excel's 1,048,576 rows less the header).
pub const MAX_ROWS: usize = 1_048_575;

/// What went wrong writing the spreadsheet.
#[derive(Debug, thiserror::Error)]
pub enum XlsxExportError {
    /// The results file could not be read.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The fleet named for the report could not be read.
    #[error(transparent)]
    Fleet(ReportError),
    /// The spreadsheet could not be built.
    #[error("cannot build the spreadsheet: {0}")]
    Build(#[from] XlsxError),
    /// The spreadsheet could not be saved.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// Where it was to go.
        path: std::path::PathBuf,
        /// What the operating system said, in words.
        reason: String,
    },
}

/// How the export went: rows written, and rows left out for want of room in one sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XlsxWritten {
    /// Data rows in the sheet.
    pub rows: usize,
    /// Rows beyond [`MAX_ROWS`], not written.
    pub left_out: usize,
}

impl From<ReportError> for XlsxExportError {
    fn from(e: ReportError) -> XlsxExportError {
        match e {
            ReportError::Results(e) => XlsxExportError::Results(e),
            e => XlsxExportError::Fleet(e),
        }
    }
}

/// A failure while the workbook is made and saved into its file.
enum Fill {
    Io(std::io::Error),
    Export(XlsxExportError),
}

impl From<std::io::Error> for Fill {
    fn from(e: std::io::Error) -> Fill {
        Fill::Io(e)
    }
}

/// [`write_xlsx_with`] the fleet the runs of `results` recorded.
pub fn write_xlsx(results: &Path, path: &Path) -> Result<XlsxWritten, XlsxExportError> {
    write_xlsx_with(results, super::fleet::recorded_spec(results), path)
}

/// Writes the workbook of `results` joined to `fleet` (one line per fleet row; the results
/// alone, their latest line per serial, without one) to `path`, whole (a temporary file, then a
/// rename; or into a pipe or a device), never over one of the tool's own files. The sheet is
/// streamed row by row, so memory stays bounded at a million rows.
pub fn write_xlsx_with(
    results: &Path,
    fleet: Result<FleetSpec, NoFleet>,
    path: &Path,
) -> Result<XlsxWritten, XlsxExportError> {
    let refused = |reason: String| XlsxExportError::Write {
        path: path.to_path_buf(),
        reason,
    };
    super::guard::check_target(results, path).map_err(refused)?;
    let mut written = None;
    crate::files::write_whole_with(path, |file| {
        let w = save(results, fleet, file).map_err(Fill::Export)?;
        written = Some(w);
        Ok::<(), Fill>(())
    })
    .map_err(|e| match e {
        Fill::Io(e) => refused(crate::text::io_reason(&e)),
        Fill::Export(e) => e,
    })?;
    Ok(written.unwrap_or(XlsxWritten {
        rows: 0,
        left_out: 0,
    }))
}

/// The workbook of `results` joined to the fleet its runs recorded, as bytes (what
/// [`write_xlsx`] writes), and what it holds.
pub fn xlsx_bytes(results: &Path) -> Result<(Vec<u8>, XlsxWritten), XlsxExportError> {
    let mut bytes = Vec::new();
    let written = save(results, super::fleet::recorded_spec(results), &mut bytes)?;
    Ok((bytes, written))
}

/// What the rows are read against: the verify file's statuses and the latest run's warnings.
struct Beside {
    links: Option<Links>,
    warned: HashMap<u64, SerialWarning>,
}

/// Builds the workbook of `results` and saves it into `out`: joined to the fleet when there is
/// one that reads (a recorded fleet that does not gives the results alone, as the text says).
fn save(
    results: &Path,
    fleet: Result<FleetSpec, NoFleet>,
    out: impl std::io::Write + Send,
) -> Result<XlsxWritten, XlsxExportError> {
    let beside = Beside {
        links: Links::scan_statuses(&Paths::of_results(results).verify),
        warned: serial_warnings(results),
    };
    let (mut book, written) = match fleet {
        Ok(spec) => match joined(results, &spec, &beside) {
            Ok(built) => built,
            Err(e) if spec.named => return Err(e),
            Err(_) => alone(results, &beside)?,
        },
        Err(_) => alone(results, &beside)?,
    };
    book.save_to_writer(out)?;
    Ok(written)
}

/// The workbook of the results alone: their latest line per serial, in row order.
fn alone(results: &Path, beside: &Beside) -> Result<(Workbook, XlsxWritten), XlsxExportError> {
    let latest = Latest::scan(results)?;
    let mut book = Workbook::new();
    let mut sheet = Sheet::start(&mut book, beside)?;
    let mut failed = None;
    latest.for_each(|l| match sheet.line(&l) {
        Ok(()) => Ok(true),
        Err(e) => {
            failed = Some(e);
            Ok(false)
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let written = sheet.finish()?;
    Ok((book, written))
}

/// The workbook of the fleet joined to its latest results: one line per fleet row, and the
/// serials no longer in the fleet on a sheet of their own.
fn joined(
    results: &Path,
    spec: &FleetSpec,
    beside: &Beside,
) -> Result<(Workbook, XlsxWritten), XlsxExportError> {
    // The results first: once scanned, only each latest line's place is kept.
    let scanned = Scanned::scan(results)?;
    let mut book = Workbook::new();
    let mut sheet = Sheet::start(&mut book, beside)?;
    let mut failed = None;
    let removed = super::join::join(&scanned, spec, |row| {
        let wrote = match row {
            JoinedRow::Ended(l) => sheet.line(&l),
            JoinedRow::NotReached(n) => sheet.not_reached(&n),
        };
        if let (Err(e), None) = (wrote, &failed) {
            failed = Some(e);
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    let written = sheet.finish()?;
    if removed.total > 0 {
        removed_sheet(&mut book, &removed)?;
    }
    Ok((book, written))
}

/// The sheet naming the serials of the results that no row of the fleet holds any more.
fn removed_sheet(book: &mut Workbook, removed: &Removed) -> Result<(), XlsxError> {
    let sheet = book.add_worksheet();
    sheet.set_name(REMOVED_SHEET)?;
    let header = header_format();
    let text = Format::new().set_num_format("@");
    for (c, (name, width)) in [("sn", 16.0), ("last row", 9.0), ("latest outcome", 18.0)]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(0, c as u16, *name, &header)?;
        sheet.set_column_width(c as u16, *width)?;
    }
    for (i, r) in removed.listed.iter().enumerate() {
        let at = i as u32 + 1;
        sheet.write_string_with_format(at, 0, &r.sn, &text)?;
        sheet.write_number(at, 1, r.row as f64)?;
        sheet.write_string_with_format(at, 2, r.outcome.as_str(), &text)?;
    }
    let more = removed.total.saturating_sub(removed.listed.len() as u64);
    if more > 0 {
        let at = removed.listed.len() as u32 + 1;
        sheet.write_string(at, 0, format!("… and {more} more (in the results file)"))?;
    }
    Ok(())
}

/// The name of the sheet of serials no longer in the fleet.
pub const REMOVED_SHEET: &str = "no longer in the fleet";

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xEEEEEE))
        .set_border_bottom(FormatBorder::Thin)
}

/// The sheet `results`, streamed to a temporary file row by row (constant memory mode).
struct Sheet<'a> {
    sheet: &'a mut rust_xlsxwriter::Worksheet,
    beside: &'a Beside,
    text: Format,
    number: Format,
    attention: Format,
    attention_num: Format,
    columns: u16,
    warned_at: Option<u16>,
    r: u32,
    left_out: usize,
}

impl<'a> Sheet<'a> {
    /// The sheet with its header row.
    fn start(book: &'a mut Workbook, beside: &'a Beside) -> Result<Sheet<'a>, XlsxError> {
        let sheet = book.add_worksheet_with_constant_memory()?;
        sheet.set_name("results")?;
        let header = header_format();
        let mut columns = vec![
            ("row", 7.0),
            ("plant_id", 12.0),
            ("sn", 16.0),
            ("c_user_id", 12.0),
            ("outcome", 18.0),
            ("code", 8.0),
            ("message", 48.0),
            ("what to do", 48.0),
            ("attempts", 9.0),
            ("finished (UTC)", 26.0),
        ];
        if beside.links.is_some() {
            columns.push(("link status", 14.0));
        }
        // Only when the latest run warned about a serial: the usual sheet keeps its columns.
        let warned_at = (!beside.warned.is_empty()).then_some(columns.len() as u16);
        if warned_at.is_some() {
            columns.push(("serial warning", 48.0));
        }
        for (c, (name, width)) in columns.iter().enumerate() {
            let c = c as u16;
            sheet.write_string_with_format(0, c, *name, &header)?;
            sheet.set_column_width(c, *width)?;
        }
        Ok(Sheet {
            sheet,
            beside,
            text: Format::new().set_num_format("@"),
            number: Format::new(),
            attention: Format::new()
                .set_num_format("@")
                .set_background_color(Color::RGB(0xFDE2E1)),
            attention_num: Format::new().set_background_color(Color::RGB(0xFDE2E1)),
            columns: columns.len() as u16,
            warned_at,
            r: 0,
            left_out: 0,
        })
    }

    /// The next row number, or `None` once the sheet is full (the row is counted as left out).
    fn next(&mut self) -> Option<u32> {
        if self.r as usize >= MAX_ROWS {
            self.left_out += 1;
            return None;
        }
        self.r += 1;
        Some(self.r)
    }

    /// A row's latest line.
    fn line(&mut self, l: &LatestLine) -> Result<(), XlsxError> {
        let Some(r) = self.next() else { return Ok(()) };
        let shade = l.outcome.needs_attention();
        let (t, n) = if shade {
            (&self.attention, &self.attention_num)
        } else {
            (&self.text, &self.number)
        };
        let sheet = &mut *self.sheet;
        sheet.write_number_with_format(r, 0, l.row as f64, n)?;
        sheet.write_string_with_format(r, 1, &l.plant_id, t)?;
        sheet.write_string_with_format(r, 2, &l.sn, t)?;
        sheet.write_string_with_format(r, 3, &l.c_user_id, t)?;
        sheet.write_string_with_format(r, 4, l.outcome.as_str(), t)?;
        match l.code {
            Some(code) => sheet.write_number_with_format(r, 5, code as f64, n)?,
            None => sheet.write_blank(r, 5, n)?,
        };
        sheet.write_string_with_format(r, 6, &l.msg, t)?;
        let todo = if shade { advice(l.outcome, l.code) } else { "" };
        sheet.write_string_with_format(r, 7, todo, t)?;
        match l.attempts {
            Some(a) => sheet.write_number_with_format(r, 8, a as f64, n)?,
            None => sheet.write_blank(r, 8, n)?,
        };
        sheet.write_string_with_format(r, 9, &l.finished_at, t)?;
        if let Some(links) = &self.beside.links {
            let status = links.status_of(sn_key(l.sn.trim())).unwrap_or("");
            sheet.write_string_with_format(r, 10, status, t)?;
        }
        if let (Some(c), Some(w)) = (
            self.warned_at,
            warning_for(&self.beside.warned, l.row, &l.sn),
        ) {
            sheet.write_string_with_format(r, c, &w.message, t)?;
        }
        Ok(())
    }

    /// A fleet row no run sent as it stands.
    fn not_reached(&mut self, n: &NotReached) -> Result<(), XlsxError> {
        let Some(r) = self.next() else { return Ok(()) };
        let (t, num) = (&self.text, &self.number);
        let sheet = &mut *self.sheet;
        sheet.write_number_with_format(r, 0, n.row as f64, num)?;
        sheet.write_string_with_format(r, 1, &n.plant_id, t)?;
        sheet.write_string_with_format(r, 2, &n.sn, t)?;
        sheet.write_string_with_format(r, 3, &n.c_user_id, t)?;
        sheet.write_string_with_format(r, 4, NOT_REACHED.replace('_', " "), t)?;
        sheet.write_blank(r, 5, num)?;
        sheet.write_string_with_format(r, 6, &n.why, t)?;
        sheet.write_string_with_format(r, 7, "run again to send it", t)?;
        Ok(())
    }

    /// Freezes the header, turns the autofilter on, and says what the sheet holds.
    fn finish(self) -> Result<XlsxWritten, XlsxError> {
        self.sheet.set_freeze_panes(1, 0)?;
        self.sheet.autofilter(0, 0, self.r, self.columns - 1)?;
        Ok(XlsxWritten {
            rows: self.r as usize,
            left_out: self.left_out,
        })
    }
}
