//! The latest line per serial of a results file, and per serial of a verify file, held compact:
//! a key table and, per entry, its row and the byte offset of its line. The lines themselves are
//! read again one at a time, in row order, when a report shows them, so a million-row results
//! file takes about 40 MB here whatever its messages, never the lines themselves.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::{LatestLine, PendingLink};
use crate::input::sn_key;
use crate::journal::{self, KeyTable, Opened, ResultsError};
use crate::outcome::Outcome;

/// An entry's offset flag: the line's outcome is done (a serial once done stays done).
const DONE: u64 = 1 << 63;
/// An entry no longer shown: a row-level line a later serial on the same row replaced.
const GONE: u64 = u64::MAX;

/// A cell of a log record as shown: lossy text, without the spreadsheet formula guard.
fn cell(record: &csv::ByteRecord, i: usize) -> String {
    record
        .get(i)
        .map(|b| journal::shown_cell(&String::from_utf8_lossy(b)).to_string())
        .unwrap_or_default()
}

/// The latest line per serial of a results file (and per row, for rows that never had a serial
/// to send), in row order, as offsets to read them again.
pub(crate) struct Latest {
    path: PathBuf,
    /// Offsets of the latest lines, ordered by row, then by place in the file.
    offsets: Vec<u64>,
    /// What the scan found (lines read, damaged lines).
    pub opened: Opened,
}

/// What one scan of a results file keeps: each serial's latest line and each row's latest
/// row-level line (`invalid`, `duplicate`, `skipped`), as entries of a row number and an offset, found by
/// serial ([`sn_key`]) or by row number. The join with the current fleet looks entries up;
/// [`Latest`] lists them in row order.
pub(crate) struct Scanned {
    /// The results file.
    pub path: PathBuf,
    serials: KeyTable<u32>,
    by_row: KeyTable<u32>,
    /// Per entry: the row number of its line.
    rows: Vec<u64>,
    /// Per entry: the offset of its line, with [`DONE`] set when its outcome is done; [`GONE`]
    /// when it is no longer shown.
    offs: Vec<u64>,
    /// Per entry: it is a row-level line (found by row number, not by serial).
    row_level: Vec<bool>,
    /// What the scan found (lines read, damaged lines).
    pub opened: Opened,
}

/// An entry of a [`Scanned`] results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its index, for [`Scanned::claim`] and friends.
    pub index: u32,
    /// The row number its line was written for.
    pub row: u64,
    /// Where its line starts.
    pub offset: u64,
    /// Its outcome is done (a serial once done stays done).
    pub done: bool,
}

impl Scanned {
    /// Scans `results` once, as `run` keys rows: a serial once done stays done; an `invalid`,
    /// `duplicate` or `skipped` line is about its row number, and a later serial on that row
    /// replaces it.
    pub fn scan(results: &Path) -> Result<Scanned, ResultsError> {
        let (mut serials, mut by_row) = (KeyTable::with_slots(1024), KeyTable::with_slots(1024));
        let (mut rows, mut offs, mut row_level): (Vec<u64>, Vec<u64>, Vec<bool>) =
            (Vec::new(), Vec::new(), Vec::new());
        let opened = journal::scan_log_at(results, &journal::COLUMNS, |offset, r| {
            let (Ok(row), Some(outcome)) = (cell(r, 0).parse::<u64>(), Outcome::parse(&cell(r, 4)))
            else {
                return;
            };
            let n = rows.len() as u32;
            let (i, value, level) = match outcome {
                o if o.is_unsent() => (*by_row.entry(row, || n), offset, true),
                _ => {
                    // The serial now stands on this row: a row-level line an earlier run left for
                    // the same row number described another state of the sheet.
                    if let Some(j) = by_row.get(row) {
                        offs[j as usize] = GONE;
                    }
                    let i = *serials.entry(sn_key(cell(r, 2).trim()), || n);
                    let was = offs.get(i as usize).copied().unwrap_or(GONE);
                    if was != GONE && was & DONE != 0 && !outcome.is_done() {
                        return;
                    }
                    (i, offset | if outcome.is_done() { DONE } else { 0 }, false)
                }
            };
            if i == n {
                rows.push(row);
                offs.push(GONE);
                row_level.push(level);
            }
            rows[i as usize] = row;
            offs[i as usize] = value;
        })?;
        Ok(Scanned {
            path: results.to_path_buf(),
            serials,
            by_row,
            rows,
            offs,
            row_level,
            opened,
        })
    }

    fn entry(&self, i: u32) -> Option<Entry> {
        let off = self.offs[i as usize];
        (off != GONE).then(|| Entry {
            index: i,
            row: self.rows[i as usize],
            offset: off & !DONE,
            done: off & DONE != 0,
        })
    }

    /// The latest line of a serial ([`sn_key`]), when the file has one.
    pub fn of_serial(&self, key: u64) -> Option<Entry> {
        self.entry(self.serials.get(key)?)
    }

    /// The latest row-level line (`invalid`, `duplicate`, `skipped`) of row number `row`, when it still
    /// stands (no later serial line on that row replaced it).
    pub fn of_row(&self, row: u64) -> Option<Entry> {
        self.entry(self.by_row.get(row)?)
    }

    /// Entries in all (shown or not): the size of a claim table.
    pub fn entries(&self) -> usize {
        self.offs.len()
    }

    /// The serial entries whose index `claimed` does not mark, by row: the serials the current
    /// fleet no longer holds.
    pub fn unclaimed_serials(&self, claimed: &[bool]) -> Vec<Entry> {
        let mut out: Vec<Entry> = (0..self.offs.len() as u32)
            .filter(|&i| !self.row_level[i as usize] && !claimed[i as usize])
            .filter_map(|i| self.entry(i))
            .collect();
        out.sort_unstable_by_key(|e| (e.row, e.offset));
        out
    }

    /// A reader of this file's lines by offset ([`LineReader::line_at`]).
    pub fn reader(&self) -> Result<LineReader, ResultsError> {
        LineReader::open(&self.path)
    }
}

/// Reads a results file's lines by their offsets, in any order (forward reads keep the buffer).
pub(crate) struct LineReader {
    path: PathBuf,
    reader: BufReader<std::fs::File>,
    at: u64,
}

impl LineReader {
    fn open(path: &Path) -> Result<LineReader, ResultsError> {
        let file = crate::files::open_regular(path).map_err(|source| ResultsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LineReader {
            path: path.to_path_buf(),
            // Small: the join reads lines here and there, and each jump refills the buffer.
            reader: BufReader::with_capacity(16 * 1024, file),
            at: 0,
        })
    }

    /// The line at `offset`, as reports show it; `None` when it is not a whole results line.
    pub fn line_at(&mut self, offset: u64) -> Result<Option<LatestLine>, ResultsError> {
        let r =
            journal::read_line_at(&mut self.reader, &mut self.at, offset).map_err(|source| {
                ResultsError::Io {
                    path: self.path.clone(),
                    source,
                }
            })?;
        Ok(r.as_ref().and_then(line_of))
    }
}

/// A results record as reports show it.
fn line_of(r: &csv::ByteRecord) -> Option<LatestLine> {
    let (Ok(row), Some(outcome)) = (cell(r, 0).parse::<u64>(), Outcome::parse(&cell(r, 4))) else {
        return None;
    };
    Some(LatestLine {
        row,
        plant_id: cell(r, 1),
        sn: cell(r, 2),
        c_user_id: cell(r, 3),
        outcome,
        code: cell(r, 5).parse::<i64>().ok(),
        msg: cell(r, 6),
        attempts: cell(r, 7).parse().ok(),
        finished_at: cell(r, 10),
    })
}

impl Latest {
    /// Scans `results` once ([`Scanned::scan`]) and keeps each latest line's place, in row order.
    pub fn scan(results: &Path) -> Result<Latest, ResultsError> {
        let Scanned {
            rows, offs, opened, ..
        } = Scanned::scan(results)?;
        let mut order: Vec<u32> = (0..offs.len() as u32)
            .filter(|&i| offs[i as usize] != GONE)
            .collect();
        order.sort_unstable_by_key(|&i| (rows[i as usize], offs[i as usize] & !DONE));
        let offsets = order.iter().map(|&i| offs[i as usize] & !DONE).collect();
        Ok(Latest {
            path: results.to_path_buf(),
            offsets,
            opened,
        })
    }

    /// Hands `each` the latest lines, in row order, read one at a time; `each` returns `false`
    /// to stop early.
    pub fn for_each(
        &self,
        mut each: impl FnMut(LatestLine) -> Result<bool, ResultsError>,
    ) -> Result<(), ResultsError> {
        let err = |e| ResultsError::Io {
            path: self.path.clone(),
            source: e,
        };
        let mut reader = BufReader::with_capacity(
            64 * 1024,
            crate::files::open_regular(&self.path).map_err(err)?,
        );
        let mut at = 0;
        for &offset in &self.offsets {
            let Some(line) = journal::read_line_at(&mut reader, &mut at, offset)
                .map_err(err)?
                .as_ref()
                .and_then(line_of)
            else {
                continue;
            };
            if !each(line)? {
                break;
            }
        }
        Ok(())
    }
}

/// Most distinct link statuses told apart; a verify file edited by hand could hold any text.
const STATUS_NAMES: usize = 64;

/// The latest verify line per serial ([`sn_key`]), keyed by serial as the results are, so a
/// sheet sorted between runs still finds each device's status.
pub struct Links {
    path: PathBuf,
    table: KeyTable<u32>,
    rows: Vec<u64>,
    offs: Vec<u64>,
    status: Vec<u8>,
    names: Vec<String>,
}

impl Links {
    /// Scans the verify file, or `None` when `verify` has not run (or it is not a regular file).
    pub fn scan(verify: &Path) -> Option<Links> {
        Links::scan_with(verify, true)
    }

    /// [`Links::scan`] keeping only each serial's status (for [`Links::status_of`] and
    /// [`Links::counts`]; [`Links::select`] then finds nothing): what a workbook needs, in half
    /// the memory.
    pub fn scan_statuses(verify: &Path) -> Option<Links> {
        Links::scan_with(verify, false)
    }

    fn scan_with(verify: &Path, detail: bool) -> Option<Links> {
        if !std::fs::metadata(verify).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let mut links = Links {
            path: verify.to_path_buf(),
            table: KeyTable::with_slots(1024),
            rows: Vec::new(),
            offs: Vec::new(),
            status: Vec::new(),
            names: Vec::new(),
        };
        let _ = journal::scan_log_at(verify, &journal::VERIFY_COLUMNS, |offset, r| {
            let sn = cell(r, 2);
            let Ok(row) = cell(r, 0).parse::<u64>() else {
                return;
            };
            if sn.trim().is_empty() {
                return;
            }
            let status = links.name(cell(r, 3));
            let Links {
                table,
                rows,
                offs,
                status: statuses,
                ..
            } = &mut links;
            let i = *table.entry(sn_key(sn.trim()), || {
                statuses.push(0);
                if detail {
                    rows.push(0);
                    offs.push(0);
                }
                (statuses.len() - 1) as u32
            }) as usize;
            statuses[i] = status;
            if detail {
                (rows[i], offs[i]) = (row, offset);
            }
        });
        Some(links)
    }

    /// The index of a status's name, interned.
    fn name(&mut self, status: String) -> u8 {
        if let Some(i) = self.names.iter().position(|n| *n == status) {
            return i as u8;
        }
        if self.names.len() < STATUS_NAMES {
            self.names.push(status);
        }
        (self.names.len() - 1) as u8
    }

    /// The status of a serial ([`sn_key`]), when the verify file has one.
    pub fn status_of(&self, key: u64) -> Option<&str> {
        let i = self.table.get(key)? as usize;
        Some(&self.names[self.status[i] as usize])
    }

    /// Devices per status.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for &s in &self.status {
            *counts.entry(self.names[s as usize].clone()).or_default() += 1;
        }
        counts
    }

    /// The devices whose status passes `keep`, by row: the first `limit` read whole, and how
    /// many pass in all.
    pub fn select(
        &self,
        keep: impl Fn(&str) -> bool,
        limit: usize,
    ) -> Result<(Vec<PendingLink>, u64), ResultsError> {
        // Without detail (`scan_statuses`) there are no rows to select.
        let mut chosen: Vec<u32> = (0..self.rows.len() as u32)
            .filter(|&i| keep(&self.names[self.status[i as usize] as usize]))
            .collect();
        let total = chosen.len() as u64;
        chosen.sort_unstable_by_key(|&i| (self.rows[i as usize], self.offs[i as usize]));
        chosen.truncate(limit);
        let mut offsets: Vec<u64> = chosen.iter().map(|&i| self.offs[i as usize]).collect();
        // Read in file order, then put back in row order.
        let mut by_offset = offsets.clone();
        by_offset.sort_unstable();
        let err = |e| ResultsError::Io {
            path: self.path.clone(),
            source: e,
        };
        let file = crate::files::open_regular(&self.path).map_err(err)?;
        let mut reader = BufReader::new(file);
        let mut at = 0;
        let mut read: BTreeMap<u64, PendingLink> = BTreeMap::new();
        for offset in by_offset {
            if let Some(r) = journal::read_line_at(&mut reader, &mut at, offset).map_err(err)? {
                read.insert(offset, link_of(&r));
            }
        }
        let links = offsets.drain(..).filter_map(|o| read.remove(&o)).collect();
        Ok((links, total))
    }
}

/// A verify record as a report shows it.
fn link_of(r: &csv::ByteRecord) -> PendingLink {
    PendingLink {
        row: cell(r, 0).parse().unwrap_or(0),
        plant_id: cell(r, 1),
        sn: cell(r, 2),
        status: cell(r, 3),
        located_plant_id: cell(r, 7),
        located_user_id: cell(r, 8),
    }
}
