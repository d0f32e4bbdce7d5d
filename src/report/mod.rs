//! `report`'s data: what a results file says, for the people who act on it: counts per outcome
//! and per error code, the rows needing attention, the run history and the links `verify` found.
//! Shown as text on stdout ([`text`]) or as one self-contained HTML page ([`html`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::input::sn_key;
use crate::journal::{self, ResultsError};
use crate::outcome::Outcome;
use crate::paths::Paths;

pub mod html;
pub mod serials;
pub mod text;
pub mod xlsx;

pub use html::{render_html, write_html};
pub use serials::WarnedRow;
pub use text::render_text;
pub use xlsx::{write_xlsx, xlsx_bytes};

/// Most attention rows listed; the rest are counted.
pub const ATTENTION_LIMIT: usize = 2000;

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
    /// `pending` or `plant_missing` (`linked` and `elsewhere` too, from [`link_statuses`]).
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
    /// Rows `verify --locate` found sitting on another plant, by row number.
    pub elsewhere: Vec<Elsewhere>,
    /// Rows whose serial the latest run warned about, by row number.
    pub serial_warnings: Vec<WarnedRow>,
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

/// What a row is known by in a results file: its serial, as `run` knows it, so sorting the sheet
/// or inserting a row between runs changes nothing; a line about the row itself (invalid, a
/// duplicate of another row's serial) by its row number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RowKey {
    Serial(u64),
    Row(u64),
}

impl RowKey {
    fn of(row: u64, outcome: Outcome, sn: &str) -> RowKey {
        match outcome {
            Outcome::Invalid | Outcome::Duplicate => RowKey::Row(row),
            _ => RowKey::Serial(sn_key(sn.trim())),
        }
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

/// The latest line per serial of a results file, as `run` keys rows (a serial once done stays
/// done; an `invalid` or `duplicate` line is about its row number), ordered by row; with what the
/// scan found (lines read, damaged lines).
pub(crate) fn latest_lines(
    results_path: &Path,
) -> Result<(Vec<LatestLine>, journal::Opened), ResultsError> {
    let mut latest: HashMap<RowKey, LatestLine> = HashMap::new();
    let opened = journal::scan_log(results_path, &journal::COLUMNS, |r| {
        let text = |i| {
            r.get(i)
                .map(|b| journal::shown_cell(&String::from_utf8_lossy(b)).to_string())
                .unwrap_or_default()
        };
        let (Ok(row), Some(outcome)) = (text(0).parse::<u64>(), Outcome::parse(&text(4))) else {
            return;
        };
        let sn = text(2);
        let key = RowKey::of(row, outcome, &sn);
        if let RowKey::Serial(_) = key {
            // The serial now stands on this row: a row-level line an earlier run left for the
            // same row number described another state of the sheet.
            latest.remove(&RowKey::Row(row));
        }
        // As in `run`, a serial once done stays done.
        if latest.get(&key).is_some_and(|l| l.outcome.is_done()) && !outcome.is_done() {
            return;
        }
        latest.insert(
            key,
            LatestLine {
                row,
                plant_id: text(1),
                sn,
                c_user_id: text(3),
                outcome,
                code: text(5).parse::<i64>().ok(),
                msg: text(6),
                attempts: text(7).parse().ok(),
                finished_at: text(10),
            },
        );
    })?;
    let mut lines: Vec<LatestLine> = latest.into_values().collect();
    lines.sort_by(|a, b| (a.row, &a.sn).cmp(&(b.row, &b.sn)));
    Ok((lines, opened))
}

/// Reads the results file (the latest line per serial, and per row for rows that never had a
/// serial to send), its history and its verify file.
pub fn load(results_path: &Path) -> Result<ReportData, ResultsError> {
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
    let (lines, opened) = latest_lines(results_path)?;
    let mut data = ReportData {
        results: results_path.to_path_buf(),
        lines: opened.lines,
        damaged: opened.damaged,
        ..ReportData::default()
    };
    let mut attention: Vec<AttentionRow> = Vec::new();
    let warned = serials::serial_warnings(results_path);
    for l in lines {
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
            attention.push(AttentionRow {
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
    data.attention_total = attention.len() as u64;
    data.attention = attention.into_iter().take(ATTENTION_LIMIT).collect();
    if let Ok(text) = std::fs::read_to_string(&paths.history) {
        data.history = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    }
    if let Some(links) = link_statuses(&paths.verify) {
        let mut links: Vec<PendingLink> = links.into_values().collect();
        links.sort_by(|a, b| (a.row, &a.sn).cmp(&(b.row, &b.sn)));
        let mut counts = BTreeMap::new();
        for l in &links {
            *counts.entry(l.status.clone()).or_default() += 1;
        }
        data.links = Some(counts);
        data.elsewhere = links
            .iter()
            .filter(|l| l.status == "elsewhere")
            .map(|l| Elsewhere {
                row: l.row,
                sn: l.sn.clone(),
                plant_id: l.plant_id.clone(),
                located_plant_id: l.located_plant_id.clone(),
                located_user_id: l.located_user_id.clone(),
            })
            .collect();
        data.pending = links
            .into_iter()
            .filter(|l| l.status != "linked" && l.status != "elsewhere")
            .take(ATTENTION_LIMIT)
            .collect();
    }
    Ok(data)
}

/// The latest verify line per serial ([`sn_key`]; its status as `PendingLink::status`, `linked`
/// included), or `None` when `verify` has not run. Keyed by serial as the results are, so a sheet
/// sorted between runs still finds each device's status.
pub fn link_statuses(verify: &Path) -> Option<HashMap<u64, PendingLink>> {
    if !verify.is_file() {
        return None;
    }
    let mut links = HashMap::new();
    let _ = journal::scan_log(verify, &journal::VERIFY_COLUMNS, |r| {
        let text = |i| {
            r.get(i)
                .map(|b| journal::shown_cell(&String::from_utf8_lossy(b)).to_string())
                .unwrap_or_default()
        };
        let sn = text(2);
        if let (Ok(row), false) = (text(0).parse::<u64>(), sn.trim().is_empty()) {
            let link = PendingLink {
                row,
                plant_id: text(1),
                status: text(3),
                located_plant_id: text(7),
                located_user_id: text(8),
                sn,
            };
            links.insert(sn_key(link.sn.trim()), link);
        }
    });
    Some(links)
}

#[cfg(test)]
mod tests;
