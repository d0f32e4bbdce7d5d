//! The serial warnings of the latest run, read back from its summary file
//! (`<results stem>.summary.json`), so the reports show them beside their rows.
//!
//! The results file has no column for them (older results files must keep resuming), and the
//! warning that a cell was stored as a number cannot be told from the serial's text afterwards;
//! the run that read the sheet lists its warned rows in its summary instead (the first 2,000).
//! A listed row is marked only while its latest line still has the serial that was warned about.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;

use crate::input::suspect::SerialWarning;
use crate::outcome::Outcome;
use crate::paths::Paths;

/// Most bytes of a summary file read: 2,000 listed rows with their messages fit many times over.
const MAX_SUMMARY_BYTES: u64 = 8 << 20;

/// A row whose serial the latest run warned about, with the row's latest outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarnedRow {
    /// Spreadsheet row number.
    pub row: u64,
    /// The serial as read.
    pub sn: String,
    /// The row's latest outcome.
    pub outcome: Outcome,
    /// The warning in words.
    pub message: String,
}

/// The part of a summary file the reports need.
#[derive(Deserialize)]
struct Listed {
    #[serde(default)]
    serial_warning_rows: Vec<SerialWarning>,
}

/// The warnings the latest run of `results` gave, by row number; empty when it gave none, or
/// left no readable summary.
pub fn serial_warnings(results: &Path) -> HashMap<u64, SerialWarning> {
    let mut text = Vec::new();
    let read = std::fs::File::open(Paths::of_results(results).summary)
        .and_then(|f| f.take(MAX_SUMMARY_BYTES).read_to_end(&mut text));
    if read.is_err() {
        return HashMap::new();
    }
    serde_json::from_slice::<Listed>(&text)
        .map(|l| {
            l.serial_warning_rows
                .into_iter()
                .map(|w| (w.row, w))
                .collect()
        })
        .unwrap_or_default()
}

/// The warning for row `row` whose serial is now `sn`, if the run warned about that very serial.
pub fn warning_for<'a>(
    warned: &'a HashMap<u64, SerialWarning>,
    row: u64,
    sn: &str,
) -> Option<&'a SerialWarning> {
    warned.get(&row).filter(|w| w.sn == sn.trim())
}
