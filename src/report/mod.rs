//! `report`'s data: what a results file says, for the people who act on it: counts per outcome
//! and per error code, the rows needing attention, the run history and the links `verify` found.
//! Shown as text on stdout ([`text`]) or as one self-contained HTML page ([`html`]).

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::journal::{self, ResultsError};
use crate::outcome::Outcome;
use crate::paths::Paths;

pub mod guard;
pub mod html;
mod latest;
pub mod serials;
pub mod text;
pub mod xlsx;

pub use html::{render_html, write_html};
pub(crate) use latest::Latest;
pub use latest::Links;
pub use serials::WarnedRow;
pub use text::render_text;
pub use xlsx::{write_xlsx, xlsx_bytes};

/// Most rows listed in each table of a report (rows needing attention, devices not linked yet,
/// devices sitting elsewhere); the rest are counted, and are in the results file. A report of a
/// million rows stays a page a browser opens, and is made in bounded memory.
pub const ATTENTION_LIMIT: usize = 2000;

/// Most runs a report lists, the latest; earlier ones stay in the history file.
pub const HISTORY_LIMIT: usize = 1000;

/// How much of the end of the history file a report reads: far more than [`HISTORY_LIMIT`] runs
/// take (a run's line is under 1 KiB), so a history grown for years, or a damaged one (a tail of
/// NUL bytes), is read in bounded time and memory.
const HISTORY_TAIL: u64 = 4 << 20;

/// A row whose latest outcome needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionRow {
    /// Spreadsheet row number.
    pub row: u64,
    /// The cells as written in the results.
    pub plant_id: String,
    /// The serial cell.
    pub sn: String,
    /// The end-user cell.
    pub c_user_id: String,
    /// rejected, failed or invalid.
    pub outcome: Outcome,
    /// The API's code, if any.
    pub error_code: Option<i64>,
    /// The message.
    pub error_msg: String,
}

/// A device `verify` did not find on its plant (yet), from the verify file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    /// Spreadsheet row number.
    pub row: u64,
    /// The plant it should be on.
    pub plant_id: String,
    /// The serial.
    pub sn: String,
    /// `pending` or `plant_missing` (`linked` and `elsewhere` too, from [`Links`]).
    pub status: String,
    /// The plant `verify --locate` found the device on, if any.
    pub located_plant_id: String,
    /// That plant's user.
    pub located_user_id: String,
}

/// One past run, from the history file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// When it started.
    pub started_at: String,
    /// Wall time.
    pub wall_seconds: f64,
    /// Rows ended in that run.
    pub rows_ended: u64,
    /// Rows skipped as done.
    #[serde(default)]
    pub skipped_done: u64,
    /// Requests sent.
    pub requests: u64,
    /// Per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Why it stopped early.
    #[serde(default)]
    pub stopped: Option<String>,
    /// Its exit code.
    pub exit_code: u8,
}

/// Everything a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// The results file.
    pub results: PathBuf,
    /// Rows (by the latest line per serial) per outcome.
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Rows (by latest line) per error code.
    pub codes: BTreeMap<i64, u64>,
    /// Rows needing attention, by row number (at most [`ATTENTION_LIMIT`]).
    pub attention: Vec<AttentionRow>,
    /// Rows needing attention in all.
    pub attention_total: u64,
    /// Lines in the file (all runs).
    pub lines: u64,
    /// Past runs, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Lines of the results file skipped as damaged.
    pub damaged: journal::Damaged,
    /// Linked / pending counts from the verify file, when there is one.
    pub links: Option<BTreeMap<String, u64>>,
    /// Devices not (yet) linked, by row, from the verify file (at most [`ATTENTION_LIMIT`]).
    pub pending: Vec<PendingLink>,
    /// Devices not (yet) linked in all.
    pub pending_total: u64,
    /// Rows `verify --locate` found sitting on another plant, by row number (at most
    /// [`ATTENTION_LIMIT`]).
    pub elsewhere: Vec<Elsewhere>,
    /// Rows whose serial the latest run warned about, by row number.
    pub serial_warnings: Vec<WarnedRow>,
    /// Rows sitting on another plant in all.
    pub elsewhere_total: u64,
    /// Earlier runs are in the history file but not in [`ReportData::history`].
    pub history_left_out: bool,
}

/// A device `verify --locate` found on another plant than its row's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elsewhere {
    /// Spreadsheet row number.
    pub row: u64,
    /// The serial.
    pub sn: String,
    /// The row's plant.
    pub plant_id: String,
    /// The plant it sits on.
    pub located_plant_id: String,
    /// That plant's user.
    pub located_user_id: String,
}

/// What to do about a device sitting elsewhere.
pub const ELSEWHERE_ADVICE: &str = "move it to the row's plant in ShineServer (a previous owner may have to release it), or correct the row's plant_id if the plant it sits on is the right one";

impl ReportData {
    /// Rows in the file (distinct serials, plus rows that had none to send).
    pub fn rows(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Rows of one outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
}

/// The latest line of a serial (or of a row that never had a serial to send), as reports show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LatestLine {
    /// Spreadsheet row number of that line.
    pub row: u64,
    /// The cells as written (without the spreadsheet formula guard).
    pub plant_id: String,
    /// The serial cell.
    pub sn: String,
    /// The end-user cell.
    pub c_user_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The API's code, if any.
    pub code: Option<i64>,
    /// The message.
    pub msg: String,
    /// Requests spent on it.
    pub attempts: Option<u32>,
    /// When it ended (RFC 3339, as written).
    pub finished_at: String,
}

/// Reads the results file (the latest line per serial, and per row for rows that never had a
/// serial to send), its history and its verify file. Memory stays bounded whatever the file's
/// size: lines are counted as they are read again one by one, and each table keeps at most
/// [`ATTENTION_LIMIT`] rows.
pub fn load(results_path: &Path) -> Result<ReportData, ResultsError> {
    // A FIFO or a device is no results file: named as what it is, never opened.
    crate::files::regular_or_missing(results_path).map_err(|source| ResultsError::Io {
        path: results_path.to_path_buf(),
        source,
    })?;
    if !results_path.is_file() {
        return Err(ResultsError::Io {
            path: results_path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such results file; pass the file a `run` wrote",
            ),
        });
    }
    let paths = Paths::of_results(results_path);
    let latest = Latest::scan(results_path)?;
    let mut data = ReportData {
        results: results_path.to_path_buf(),
        lines: latest.opened.lines,
        damaged: latest.opened.damaged.clone(),
        ..ReportData::default()
    };
    let warned = serials::serial_warnings(results_path);
    latest.for_each(|l| {
        if let Some(w) = serials::warning_for(&warned, l.row, &l.sn) {
            data.serial_warnings.push(WarnedRow {
                row: l.row,
                sn: w.sn.clone(),
                outcome: l.outcome,
                message: w.message.clone(),
            });
        }
        *data.outcomes.entry(l.outcome).or_default() += 1;
        if let Some(c) = l.code {
            *data.codes.entry(c).or_default() += 1;
        }
        if l.outcome.needs_attention() {
            data.attention_total += 1;
            if data.attention.len() < ATTENTION_LIMIT {
                data.attention.push(AttentionRow {
                    row: l.row,
                    plant_id: l.plant_id,
                    sn: l.sn,
                    c_user_id: l.c_user_id,
                    outcome: l.outcome,
                    error_code: l.code,
                    error_msg: l.msg,
                });
            }
        }
        Ok(true)
    })?;
    drop(latest);
    (data.history, data.history_left_out) = read_history(&paths.history);
    if let Some(links) = Links::scan(&paths.verify) {
        data.links = Some(links.counts());
        let (elsewhere, total) = links.select(|s| s == "elsewhere", ATTENTION_LIMIT)?;
        data.elsewhere_total = total;
        data.elsewhere = elsewhere
            .into_iter()
            .map(|l| Elsewhere {
                row: l.row,
                sn: l.sn,
                plant_id: l.plant_id,
                located_plant_id: l.located_plant_id,
                located_user_id: l.located_user_id,
            })
            .collect();
        let (pending, total) =
            links.select(|s| s != "linked" && s != "elsewhere", ATTENTION_LIMIT)?;
        data.pending_total = total;
        data.pending = pending;
    }
    Ok(data)
}

/// The runs of the history file, oldest first: at most the last [`HISTORY_LIMIT`], read from at
/// most its last [`HISTORY_TAIL`] bytes; and whether earlier runs were left out. A history that
/// is missing, not a regular file or not readable shows no runs; a line that is not a run's
/// summary is skipped.
pub fn read_history(path: &Path) -> (Vec<HistoryEntry>, bool) {
    let Ok(mut file) = crate::files::open_regular(path) else {
        return (Vec::new(), false);
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(HISTORY_TAIL);
    let mut tail = Vec::new();
    if file.seek(std::io::SeekFrom::Start(start)).is_err()
        || file.take(HISTORY_TAIL).read_to_end(&mut tail).is_err()
    {
        return (Vec::new(), false);
    }
    let mut lines = tail.split(|&b| b == b'\n');
    if start > 0 {
        // The first line read is the end of one cut in two.
        lines.next();
    }
    let mut runs: Vec<HistoryEntry> = lines
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let over = runs.len().saturating_sub(HISTORY_LIMIT);
    runs.drain(..over);
    (runs, start > 0 || over > 0)
}

#[cfg(test)]
mod tests;
