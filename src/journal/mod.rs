//! The results file, the run's journal: one line per row that reached an end, appended and
//! handed to the OS as it ends; read back on the next run to skip what is done; guarded by an OS
//! file lock. The verify file is kept the same way.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::outcome::Outcome;

mod lock;
mod reader;
mod resume;
mod seen;
mod table;
mod writer;

pub use lock::{lock_path, same_file, try_exclusive, RunLock, RUN_HINT, VERIFY_HINT};
pub use reader::{
    read_done, read_line_at, scan_log, scan_log_at, Damaged, Opened, Previous, Unsent, MAX_LINE,
};
pub use resume::{duplicate_msg, triage, Next};
pub use seen::{Seen, Sight};
pub(crate) use table::KeyTable;
pub use writer::{open_for_append, open_log, set_aside, ResultsWriter};

/// The results file's header, in the contract's order.
pub const COLUMNS: [&str; 11] = [
    "row",
    "plant_id",
    "sn",
    "c_user_id",
    "outcome",
    "error_code",
    "error_msg",
    "attempts",
    "http_status",
    "latency_ms",
    "finished_at",
];

/// The verify file's header. The `located_*` columns (where `verify --locate` found the device)
/// came later: a file with only the first [`VERIFY_COLUMNS_BEFORE_LOCATE`] columns still reads.
pub const VERIFY_COLUMNS: [&str; 10] = [
    "row",
    "plant_id",
    "sn",
    "link_status",
    "device_status",
    "last_update_time",
    "checked_at",
    "located_plant_id",
    "located_user_id",
    "located_at",
];

/// How many columns verify files had before `--locate`.
pub const VERIFY_COLUMNS_BEFORE_LOCATE: usize = 7;

/// One line of the verify file, in [`VERIFY_COLUMNS`] order: the one place that knows the
/// columns' positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyLine {
    /// The spreadsheet row number.
    pub row: u64,
    /// The `plant_id` cell as the results have it.
    pub plant_id: String,
    /// The serial as the results have it.
    pub sn: String,
    /// `linked`, `pending`, `plant_missing` or `elsewhere`.
    pub link_status: String,
    /// The device's status in the listing, when linked.
    pub device_status: String,
    /// The device's last update in the listing, when linked.
    pub last_update_time: String,
    /// When the row was checked (RFC 3339).
    pub checked_at: String,
    /// Where `--locate` found the device: its plant.
    pub located_plant_id: Option<u64>,
    /// Where `--locate` found the device: its plant's user.
    pub located_user_id: Option<u64>,
    /// When `--locate` asked (RFC 3339, to the second); empty when it could not tell.
    pub located_at: String,
}

impl VerifyLine {
    /// The line's cells, made safe to open in a spreadsheet.
    pub fn cells(&self) -> [String; 10] {
        let id = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            self.row.to_string(),
            safe_cell(&self.plant_id),
            safe_cell(&self.sn),
            self.link_status.clone(),
            safe_cell(&self.device_status),
            safe_cell(&self.last_update_time),
            self.checked_at.clone(),
            id(self.located_plant_id),
            id(self.located_user_id),
            self.located_at.clone(),
        ]
    }

    /// A line as read back (cells shown as a person typed them, without the guard `'`); `None`
    /// for a line without a row number or a serial. Files written before `--locate` have no
    /// `located_*` cells: they read as empty.
    pub fn read(r: &csv::ByteRecord) -> Option<VerifyLine> {
        let text = |i| {
            r.get(i)
                .map(|b| shown_cell(&String::from_utf8_lossy(b)).to_string())
                .unwrap_or_default()
        };
        let row = text(0).trim().parse::<u64>().ok()?;
        let sn = text(2);
        if sn.trim().is_empty() {
            return None;
        }
        let id = |i| text(i).trim().parse::<u64>().ok();
        Some(VerifyLine {
            row,
            plant_id: text(1),
            sn,
            link_status: text(3),
            device_status: text(4),
            last_update_time: text(5),
            checked_at: text(6),
            located_plant_id: id(7),
            located_user_id: id(8),
            located_at: text(9),
        })
    }
}

/// One line of the results file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultLine {
    /// The spreadsheet row number (header is row 1).
    pub row: u64,
    /// The `plant_id` cell as read (trimmed).
    pub plant_id: String,
    /// The `sn` cell as read (trimmed).
    pub sn: String,
    /// The `c_user_id` cell as read (trimmed).
    pub c_user_id: String,
    /// How the row ended.
    pub outcome: Outcome,
    /// The API's code, when it answered with one.
    pub error_code: Option<i64>,
    /// The API's message or the tool's explanation.
    pub error_msg: String,
    /// Requests counted against `--max-attempts`.
    pub attempts: u32,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Duration of the last attempt.
    pub latency_ms: Option<u64>,
    /// When the row ended.
    pub finished_at: SystemTime,
}

impl ResultLine {
    /// The line of a row that ended without a request (skipped, invalid, duplicate): its cells
    /// as read, no code, no attempt.
    pub fn unsent(row: &crate::input::InputRow, outcome: Outcome, msg: String) -> ResultLine {
        ResultLine {
            row: row.row,
            plant_id: row.plant_id.clone(),
            sn: row.sn.clone(),
            c_user_id: row.c_user_id.clone(),
            outcome,
            error_code: None,
            error_msg: msg,
            attempts: 0,
            http_status: None,
            latency_ms: None,
            finished_at: SystemTime::now(),
        }
    }

    /// The CSV cells, neutralised against spreadsheet formulas and kept on one line.
    pub fn cells(&self) -> [String; 11] {
        [
            self.row.to_string(),
            safe_cell(&self.plant_id),
            safe_cell(&self.sn),
            safe_cell(&self.c_user_id),
            self.outcome.as_str().to_string(),
            self.error_code.map(|c| c.to_string()).unwrap_or_default(),
            safe_cell(&self.error_msg),
            self.attempts.to_string(),
            self.http_status.map(|c| c.to_string()).unwrap_or_default(),
            self.latency_ms.map(|c| c.to_string()).unwrap_or_default(),
            humantime::format_rfc3339_millis(self.finished_at).to_string(),
        ]
    }
}

/// Makes a text cell safe to open in a spreadsheet and to read back line by line: line breaks
/// and other control characters become spaces (so one record is always one line, and a torn
/// tail can be found by the last newline), and a cell a spreadsheet would run as a formula gets
/// a leading apostrophe.
pub fn safe_cell(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // Leading spaces do not stop every spreadsheet (some trim on import), so look past them.
    let starts_formula =
        text.starts_with(['\t', '\r']) || clean.trim_start().starts_with(['=', '+', '-', '@']);
    if starts_formula {
        format!("'{clean}")
    } else {
        clean
    }
}

/// The text a person typed, from a cell [`safe_cell`] wrote: without the apostrophe it put
/// before a would-be formula. Used where the cell is shown rather than opened as CSV (the
/// reports, the spreadsheet export), so `'-1004` reads `-1004` again.
pub fn shown_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if rest.starts_with(' ') || rest.trim_start().starts_with(['=', '+', '-', '@']) =>
        {
            rest
        }
        _ => cell,
    }
}

/// A problem with the results file; fatal for the run.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file (or its folder) cannot be opened, read or written.
    #[error("results file {path}: {}", crate::text::io_reason(.source))]
    Io {
        /// The results file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error("another growatt-onboard run or verify is using {results} (lock {lock} is held); wait for it to end{hint}")]
    Locked {
        /// The results file.
        results: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What else the user can do (`run` can write elsewhere with -o; `verify` cannot).
        hint: &'static str,
    },
    /// The results file is the input file itself (through any path or link): every line
    /// written would become a row to read.
    #[error(
        "{} looks like your fleet file, not a results file; pass {}, the results file a run on it writes (the results file given is the input file itself, through this path or a link)",
        .results.display(),
        crate::paths::default_results_path(.input).display()
    )]
    IsInput {
        /// The results file.
        results: PathBuf,
        /// The input file.
        input: PathBuf,
    },
    /// The file exists but is not a results file of this tool. The advice never names a flag
    /// (the commands that meet this differ in their flags) nor a rename of the file (it may be
    /// the person's own fleet).
    #[error("{}", foreign_message(.path, .header, *.fleet))]
    Foreign {
        /// The results file.
        path: PathBuf,
        /// Its first line.
        header: String,
        /// It looks like a fleet file (a workbook, or a header with the fleet's columns).
        fleet: bool,
    },
}

/// What to say about a file that is not a results file.
fn foreign_message(path: &Path, header: &str, fleet: bool) -> String {
    if fleet {
        format!(
            "{} looks like your fleet file, not a results file; pass {}, the results file a run on it writes",
            path.display(),
            crate::paths::default_results_path(path).display()
        )
    } else {
        format!(
            "{} is not a growatt-onboard results file (its first line is '{header}'); name the results file a run wrote, or a new file",
            path.display()
        )
    }
}

pub(crate) fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
