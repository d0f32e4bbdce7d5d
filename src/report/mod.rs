//! `report`'s data: what a results file says, for the people who act on it: counts per outcome
//! and per error code, the rows needing attention, the run history and the links `verify` found.
//! Shown as text on stdout ([`text`]) or as one self-contained HTML page ([`html`]).

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::exit::Exit;
use crate::input::InputError;
use crate::journal::{self, ResultsError};
use crate::outcome::Outcome;
use crate::paths::Paths;

pub mod fleet;
pub mod guard;
pub mod html;
mod join;
mod latest;
pub mod serials;
pub mod text;
pub mod xlsx;

pub use fleet::{FleetSpec, NoFleet};
pub use html::{render_html, write_html};
pub(crate) use latest::Latest;
pub use latest::Links;
pub use serials::WarnedRow;
pub use text::render_text;
pub use xlsx::{write_xlsx, write_xlsx_with, xlsx_bytes};

/// What stops a report: the results cannot be read, or the fleet named for it cannot.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results file cannot be read.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The fleet file cannot be read.
    #[error(transparent)]
    Fleet(#[from] InputError),
    /// The fleet named is a folder, a pipe or a device, not a file.
    #[error("cannot read the fleet {0}: it is not a file (a report reads the fleet once more, so it must be a file on disk)")]
    NotAFile(PathBuf),
}

/// The bucket of the rows no run sent as they stand, beside the outcomes.
pub const NOT_REACHED: &str = "not_reached";

/// A serial of the results that no row of the fleet holds any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSerial {
    /// The row of its latest line.
    pub row: u64,
    /// The serial.
    pub sn: String,
    /// Its latest outcome.
    pub outcome: Outcome,
}

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
    /// The fleet the counts are of (each of its rows joined to its latest result), when known.
    pub fleet: Option<PathBuf>,
    /// Why no fleet could be joined: the counts are then of the results file alone.
    pub no_fleet: Option<String>,
    /// The fleet file read or looked for (the page reads the report again when it changes).
    pub fleet_file: Option<PathBuf>,
    /// Rows of the fleet no run sent as they stand; `None` without a fleet.
    pub not_reached: Option<u64>,
    /// Serials of the results that the fleet no longer holds (at most [`ATTENTION_LIMIT`], by
    /// row): left out of every count.
    pub removed: Vec<RemovedSerial>,
    /// Those serials in all.
    pub removed_total: u64,
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
    /// Rows counted: of the fleet when one is joined, else of the results file (distinct
    /// serials, plus rows that had none to send).
    pub fn rows(&self) -> u64 {
        self.outcomes.values().sum::<u64>() + self.not_reached.unwrap_or(0)
    }

    /// Every bucket a row lands in, in order, with its rows: the outcomes, then (with a fleet)
    /// the rows not reached.
    pub fn buckets(&self) -> Vec<(&'static str, u64)> {
        let mut b: Vec<(&'static str, u64)> = Outcome::ALL
            .iter()
            .map(|o| (o.as_str(), self.count(*o)))
            .collect();
        if let Some(n) = self.not_reached {
            b.push((NOT_REACHED, n));
        }
        b
    }

    /// The exit code the rows call for, as `run` would end: 4 when rows of the fleet were not
    /// reached, else 3 when a row needs attention, else 0.
    pub fn exit(&self) -> Exit {
        let mut exit = Exit::Success;
        if self.attention_total > 0 {
            exit = exit.worst(Exit::NeedsAttention);
        }
        if self.not_reached.unwrap_or(0) > 0 {
            exit = exit.worst(Exit::Incomplete);
        }
        exit
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

/// [`load_with`] the fleet the runs recorded; a fleet that cannot be read makes a report that
/// cannot tell which rows are still in the fleet, never an error.
pub fn load(results_path: &Path) -> Result<ReportData, ResultsError> {
    match load_with(results_path, fleet::recorded_spec(results_path)) {
        Ok(d) => Ok(d),
        Err(ReportError::Results(e)) => Err(e),
        // Unreachable for a fleet nobody named: its errors become words in the report.
        Err(e) => Err(ResultsError::Io {
            path: results_path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// Reads the results file, joins it to `fleet` (each row of the fleet as it stands with its
/// latest result; see [`join`]), and reads its history and its verify file. Without a fleet
/// (`Err`), or with a recorded one that cannot be read, the counts are of the results file alone
/// (the latest line per serial, and per row for rows that never had a serial to send) and the
/// report says why. Memory stays bounded whatever the file's size: lines are counted as they are
/// read again one by one, and each table keeps at most [`ATTENTION_LIMIT`] rows.
pub fn load_with(
    results_path: &Path,
    fleet: Result<FleetSpec, NoFleet>,
) -> Result<ReportData, ReportError> {
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
        }
        .into());
    }
    let paths = Paths::of_results(results_path);
    let warned = serials::serial_warnings(results_path);
    let mut data = match fleet {
        Ok(spec) => {
            let scanned = latest::Scanned::scan(results_path)?;
            let mut data = ReportData {
                results: results_path.to_path_buf(),
                lines: scanned.opened.lines,
                damaged: scanned.opened.damaged.clone(),
                fleet: Some(spec.path.clone()),
                fleet_file: Some(spec.path.clone()),
                not_reached: Some(0),
                ..ReportData::default()
            };
            let joined = join::join(&scanned, &spec, |row| {
                match row {
                    join::JoinedRow::Ended(l) => data.add(&warned, l),
                    join::JoinedRow::NotReached(_) => {
                        *data.not_reached.get_or_insert(0) += 1;
                    }
                }
                Ok(())
            });
            match joined {
                Ok(removed) => {
                    data.removed_total = removed.total;
                    data.removed = removed.listed;
                    data
                }
                Err(e) if spec.named => return Err(e),
                Err(e) => {
                    let mut data = results_alone(results_path, &warned)?;
                    data.no_fleet = Some(format!(
                        "the fleet its runs read, {}, cannot be read: {e}",
                        spec.path.display()
                    ));
                    data.fleet_file = Some(spec.path);
                    data
                }
            }
        }
        Err(no) => {
            let mut data = results_alone(results_path, &warned)?;
            data.no_fleet = Some(no.why);
            data.fleet_file = no.tried;
            data
        }
    };
    drop(warned);
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

/// The counts of the results file alone: its latest line per serial (and per row for rows
/// that never had a serial to send).
fn results_alone(
    results_path: &Path,
    warned: &std::collections::HashMap<u64, crate::input::suspect::SerialWarning>,
) -> Result<ReportData, ResultsError> {
    let latest = Latest::scan(results_path)?;
    let mut data = ReportData {
        results: results_path.to_path_buf(),
        lines: latest.opened.lines,
        damaged: latest.opened.damaged.clone(),
        ..ReportData::default()
    };
    latest.for_each(|l| {
        data.add(warned, l);
        Ok(true)
    })?;
    Ok(data)
}

impl ReportData {
    /// Counts one row's latest line, and lists it where it needs a person or a look.
    fn add(
        &mut self,
        warned: &std::collections::HashMap<u64, crate::input::suspect::SerialWarning>,
        l: LatestLine,
    ) {
        if let Some(w) = serials::warning_for(warned, l.row, &l.sn) {
            self.serial_warnings.push(WarnedRow {
                row: l.row,
                sn: w.sn.clone(),
                outcome: l.outcome,
                message: w.message.clone(),
            });
        }
        *self.outcomes.entry(l.outcome).or_default() += 1;
        if let Some(c) = l.code {
            *self.codes.entry(c).or_default() += 1;
        }
        if l.outcome.needs_attention() {
            self.attention_total += 1;
            if self.attention.len() < ATTENTION_LIMIT {
                self.attention.push(AttentionRow {
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
    }
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
