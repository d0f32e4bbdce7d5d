//! The results as a real spreadsheet (`report --xlsx`): the latest line per serial, with what to do
//! and the link status, that opens as columns in Excel whatever the locale's list separator.
//!
//! Ids and serials are stored as text cells (a serial never becomes `1.23E+11`), the row number,
//! code and attempts as numbers; the header is frozen, the autofilter on, and the rows needing
//! attention are shaded.

use std::collections::HashMap;
use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, XlsxError};

use super::serials::{serial_warnings, warning_for};
use super::{latest_lines, link_statuses, LatestLine, PendingLink};
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

/// Reads the latest line per serial of `results` (and the verify file beside it, when there is
/// one) and writes them to `path` as an .xlsx workbook, whole (a temporary file, then a rename).
pub fn write_xlsx(results: &Path, path: &Path) -> Result<XlsxWritten, XlsxExportError> {
    let (bytes, written) = xlsx_bytes(results)?;
    crate::files::write_whole(path, &bytes).map_err(|e| XlsxExportError::Write {
        path: path.to_path_buf(),
        reason: crate::text::io_reason(&e),
    })?;
    Ok(written)
}

/// The workbook of `results` as bytes (what [`write_xlsx`] writes), and what it holds.
pub fn xlsx_bytes(results: &Path) -> Result<(Vec<u8>, XlsxWritten), XlsxExportError> {
    let (latest, _) = latest_lines(results)?;
    let links = link_statuses(&Paths::of_results(results).verify);
    let warned = serial_warnings(results);
    let bytes = build(&latest, links.as_ref(), &warned)?;
    let written = XlsxWritten {
        rows: latest.len().min(MAX_ROWS),
        left_out: latest.len().saturating_sub(MAX_ROWS),
    };
    Ok((bytes, written))
}

/// The workbook's bytes.
fn build(
    latest: &[LatestLine],
    links: Option<&HashMap<u64, PendingLink>>,
    warned: &HashMap<u64, SerialWarning>,
) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("results")?;
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xEEEEEE))
        .set_border_bottom(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let attention = Format::new()
        .set_num_format("@")
        .set_background_color(Color::RGB(0xFDE2E1));
    let attention_num = Format::new().set_background_color(Color::RGB(0xFDE2E1));
    let number = Format::new();

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
    if links.is_some() {
        columns.push(("link status", 14.0));
    }
    // Only when the latest run warned about a serial: the usual sheet keeps its columns.
    let warned_at = (!warned.is_empty()).then_some(columns.len() as u16);
    if warned_at.is_some() {
        columns.push(("serial warning", 48.0));
    }
    for (c, (name, width)) in columns.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, *name, &header)?;
        sheet.set_column_width(c, *width)?;
    }
    for (i, l) in latest.iter().take(MAX_ROWS).enumerate() {
        let r = i as u32 + 1;
        let shade = l.outcome.needs_attention();
        let (t, n) = if shade {
            (&attention, &attention_num)
        } else {
            (&text, &number)
        };
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
        if let Some(links) = links {
            let status = links
                .get(&sn_key(l.sn.trim()))
                .map_or("", |k| k.status.as_str());
            sheet.write_string_with_format(r, 10, status, t)?;
        }
        if let (Some(c), Some(w)) = (warned_at, warning_for(warned, l.row, &l.sn)) {
            sheet.write_string_with_format(r, c, &w.message, t)?;
        }
    }
    let last_row = latest.len().min(MAX_ROWS) as u32;
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, last_row, columns.len() as u16 - 1)?;
    book.save_to_buffer()
}
