//! The `check` job (and `run --dry-run`): read and validate exactly as `run` would, send nothing.

use std::path::PathBuf;

use crate::account::{screened, Screen};
use crate::exit::Exit;
use crate::input::suspect::SerialWarning;
use crate::input::{FleetReader, ReadOptions};
use crate::journal::{self, Next};
use crate::outcome::Outcome;
use crate::paths::Paths;

use super::error::StartError;
use super::serials::{survey, Serials};

/// Everything `check` needs, resolved.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// The fleet file.
    pub input: PathBuf,
    /// The results file (rows an earlier run finished are counted as done).
    pub paths: Paths,
    /// Column names and sheet.
    pub read: ReadOptions,
    /// Rows whose serial a spreadsheet may have damaged are `invalid`, not warned about.
    pub strict_serials: bool,
}

/// What `check` finds, as it finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A row that would not be sent: `invalid` or `duplicate`, with why.
    Problem {
        /// The spreadsheet row number.
        row: u64,
        /// `invalid` or `duplicate`.
        outcome: Outcome,
        /// Why, and what to do.
        message: String,
    },
    /// The results file is damaged: what was kept, in words.
    Damaged(String),
    /// A warning about the account, in words.
    Warning(String),
    /// A row whose serial a spreadsheet may have damaged (it is sent all the same).
    SerialWarning(SerialWarning),
    /// Where the header is, when rows above it are skipped: `header on row 4 (rows 1–3 above
    /// it are skipped)`. Said first, before any row.
    Header(String),
    /// A row skipped on purpose: not a problem, but worth a glance.
    Skipped {
        /// The spreadsheet row number.
        row: u64,
        /// Why: the skip column's mark, or the note the row holds.
        message: String,
    },
}

/// What `check` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// Rows `run` would send now.
    pub to_send: u64,
    /// Rows that fail validation.
    pub invalid: u64,
    /// Rows whose serial appeared on an earlier row.
    pub duplicate: u64,
    /// Rows skipped on purpose (a skip mark, or a note alone).
    pub skipped: u64,
    /// Rows an earlier run already finished (per the results file).
    pub done: u64,
    /// Of the invalid rows, those whose plant or user the account lacks (`--account`).
    pub not_in_account: u64,
    /// Rows to send whose plant another user owns (`--account`; a warning).
    pub owner_mismatch: u64,
    /// Rows (to send, or done earlier) whose serial a spreadsheet may have damaged.
    pub serial_warnings: u64,
    /// With the account: what it ruled out and warned of, in words, for the closing line.
    pub account: Option<String>,
}

impl CheckReport {
    /// 3 when some rows are invalid, else 0.
    pub fn exit(&self) -> Exit {
        if self.invalid > 0 {
            Exit::NeedsAttention
        } else {
            Exit::Success
        }
    }
}

/// Validates the input, handing each problem row and warning to `found` as it is found; with a
/// `screen`, rows the account rules out are invalid and owner mismatches warned.
pub fn check(
    cfg: &CheckSettings,
    mut screen: Option<&mut Screen>,
    found: &mut dyn FnMut(Finding),
) -> Result<CheckReport, StartError> {
    let results_path = &cfg.paths.results;
    let reader = FleetReader::open_with(&cfg.input, &cfg.read)?;
    if let Some(note) = reader.header_note() {
        found(Finding::Header(note));
    }
    let serials = Serials::new(&survey(&reader, &cfg.input, &cfg.read), cfg.strict_serials);
    let previous = journal::read_done(results_path)?;
    if let Some(warning) = previous.damaged.describe(results_path) {
        found(Finding::Damaged(warning));
    }
    let mut seen = previous.done;
    let mut report = CheckReport::default();
    for item in reader {
        let row = item?;
        report.rows += 1;
        let (next, warning) = serials.triage(&mut seen, row);
        if let Some(w) = warning {
            report.serial_warnings += 1;
            found(Finding::SerialWarning(w));
        }
        let was_to_send = matches!(next, Next::Send(..));
        match screened(screen.as_deref_mut(), next) {
            Next::Ended(line) if line.outcome == Outcome::Skipped => {
                report.skipped += 1;
                found(Finding::Skipped {
                    row: line.row,
                    message: line.error_msg,
                });
            }
            Next::Ended(line) => {
                match line.outcome {
                    Outcome::Invalid if was_to_send => {
                        report.invalid += 1;
                        report.not_in_account += 1;
                    }
                    Outcome::Invalid => report.invalid += 1,
                    _ => report.duplicate += 1,
                }
                found(Finding::Problem {
                    row: line.row,
                    outcome: line.outcome,
                    message: line.error_msg,
                });
            }
            Next::Done => report.done += 1,
            Next::Send(..) => report.to_send += 1,
        }
    }
    if let Some(screen) = screen {
        report.owner_mismatch = screen.warned_rows();
        for line in screen.warning_lines() {
            found(Finding::Warning(line));
        }
        report.account = Some(format!(
            " ({} not in {}{}, {} on a plant another user owns)",
            report.not_in_account,
            screen.cache().listing_words(),
            if screen.cache().complete() {
                ""
            } else {
                ", partial"
            },
            report.owner_mismatch
        ));
    }
    Ok(report)
}
