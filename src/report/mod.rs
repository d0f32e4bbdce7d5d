//! `report`'s data: what a results file says, for the people who act on it: counts per outcome
//! and per error code, the rows needing attention, the run history and the links `verify` found.
//! Shown as text on stdout ([`text`]) or as one self-contained HTML page ([`html`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::journal::{self, ResultsError};
use crate::outcome::Outcome;
use crate::paths::Paths;

pub mod html;
pub mod text;

pub use html::{render_html, write_html};
pub use text::render_text;

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
    /// Rows (by latest line) per outcome.
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
    /// Linked / pending counts from the verify file, when there is one.
    pub links: Option<BTreeMap<String, u64>>,
    /// Rows `verify --locate` found sitting on another plant, by row number.
    pub elsewhere: Vec<Elsewhere>,
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
    /// Rows in the file (distinct row numbers).
    pub fn rows(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Rows of one outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
}

/// Reads the results file (latest line per row), its history and its verify file.
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
    let mut latest: HashMap<u64, (Outcome, Option<i64>)> = HashMap::new();
    // Attention rows keep their text; a later line for the same row replaces or clears them.
    let mut attention: BTreeMap<u64, AttentionRow> = BTreeMap::new();
    let opened = journal::scan_log(results_path, &journal::COLUMNS, |r| {
        let text = |i| {
            r.get(i)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (Ok(row), Some(outcome)) = (text(0).parse::<u64>(), Outcome::parse(&text(4))) else {
            return;
        };
        let code = text(5).parse::<i64>().ok();
        latest.insert(row, (outcome, code));
        if outcome.needs_attention() {
            attention.insert(
                row,
                AttentionRow {
                    row,
                    plant_id: text(1),
                    sn: text(2),
                    c_user_id: text(3),
                    outcome,
                    error_code: code,
                    error_msg: text(6),
                },
            );
        } else {
            attention.remove(&row);
        }
    })?;
    let mut data = ReportData {
        results: results_path.to_path_buf(),
        lines: opened.lines,
        ..ReportData::default()
    };
    for (outcome, code) in latest.values() {
        *data.outcomes.entry(*outcome).or_default() += 1;
        if let Some(c) = code {
            *data.codes.entry(*c).or_default() += 1;
        }
    }
    data.attention_total = attention.len() as u64;
    data.attention = attention.into_values().take(ATTENTION_LIMIT).collect();
    if let Ok(text) = std::fs::read_to_string(&paths.history) {
        data.history = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    }
    let verify = &paths.verify;
    if verify.is_file() {
        let mut links: HashMap<u64, String> = HashMap::new();
        let mut located: HashMap<u64, Elsewhere> = HashMap::new();
        let _ = journal::scan_log(verify, &journal::VERIFY_COLUMNS, |r| {
            let cell = |i| r.get(i).and_then(|b| std::str::from_utf8(b).ok());
            let row = cell(0);
            let status = cell(3);
            if let (Some(Ok(row)), Some(status)) = (row.map(str::parse::<u64>), status) {
                links.insert(row, status.to_string());
                let text = |i| cell(i).unwrap_or_default().to_string();
                located.insert(
                    row,
                    Elsewhere {
                        row,
                        sn: text(2),
                        plant_id: text(1),
                        located_plant_id: text(7),
                        located_user_id: text(8),
                    },
                );
            }
        });
        let mut counts = BTreeMap::new();
        for (row, s) in links {
            if s == "elsewhere" {
                data.elsewhere.extend(located.remove(&row));
            }
            *counts.entry(s).or_default() += 1;
        }
        data.elsewhere.sort_by_key(|e| e.row);
        data.links = Some(counts);
    }
    Ok(data)
}

#[cfg(test)]
mod tests;
