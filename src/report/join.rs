//! The current fleet joined to its latest results: one row per fleet row, in the fleet's order.
//!
//! The fleet is read with the reader `run` uses and sorted as `run` sorts it (invalid, duplicate,
//! to send), then each row to send is matched by its serial ([`sn_key`]) to the serial's latest
//! line: a serial once done stays done, wherever its row moved; a line that is not done counts
//! only while the row still holds the cells it was written for (a row whose plant or user was
//! fixed since is sent again by the next run, so it is not reached yet). Lines of serials no row
//! holds any more are left out and named apart. The fleet is streamed and the results file read
//! line by line at the offsets the scan kept, so memory stays bounded.

use super::fleet::FleetSpec;
use super::latest::{Entry, LineReader, Scanned};
use super::{LatestLine, RemovedSerial, ReportError, ATTENTION_LIMIT};
use crate::input::{sn_key, FleetReader, InputRow};
use crate::journal::{safe_cell, shown_cell, triage, Next, ResultLine, Seen};
use crate::outcome::Outcome;

/// A row of the fleet as it stands, with what its latest result says.
pub(crate) enum JoinedRow {
    /// The row's latest line, with the fleet's row number.
    Ended(LatestLine),
    /// No run sent the row as it stands now.
    NotReached(NotReached),
}

/// A fleet row no run sent as it stands.
pub(crate) struct NotReached {
    /// Spreadsheet row number.
    pub row: u64,
    /// The cells as read now.
    pub plant_id: String,
    /// The serial cell.
    pub sn: String,
    /// The end-user cell.
    pub c_user_id: String,
    /// Why, in words: never reached, or changed since it was sent.
    pub why: String,
}

/// The serials of the results that the fleet no longer holds: how many, and the first
/// [`ATTENTION_LIMIT`] by row.
#[derive(Debug, Default)]
pub(crate) struct Removed {
    /// How many in all.
    pub total: u64,
    /// The first, by the row of their latest line.
    pub listed: Vec<RemovedSerial>,
}

/// A cell as the results file shows it once read back: what a comparison with a line needs.
fn as_written(cell: &str) -> String {
    shown_cell(&safe_cell(cell)).to_string()
}

/// Whether `line` was written for the cells `row` holds now.
fn same_cells(row: &InputRow, line: &LatestLine) -> bool {
    as_written(&row.plant_id) == line.plant_id
        && as_written(&row.c_user_id) == line.c_user_id
        && sn_key(row.sn.trim()) == sn_key(line.sn.trim())
}

/// A line made from a row that ends without a request as the sheet stands, for a row no run
/// wrote that line for yet.
fn unsent_line(l: ResultLine) -> LatestLine {
    LatestLine {
        row: l.row,
        plant_id: as_written(&l.plant_id),
        sn: as_written(&l.sn),
        c_user_id: as_written(&l.c_user_id),
        outcome: l.outcome,
        code: None,
        msg: l.error_msg,
        attempts: None,
        finished_at: String::new(),
    }
}

/// Joins the fleet `spec` names to the scanned results, handing `each` one row per fleet row in
/// the fleet's order; then names the serials no row holds any more.
pub(crate) fn join(
    scanned: &Scanned,
    spec: &FleetSpec,
    mut each: impl FnMut(JoinedRow) -> Result<(), ReportError>,
) -> Result<Removed, ReportError> {
    if !std::fs::metadata(&spec.path).is_ok_and(|m| m.is_file()) {
        return Err(ReportError::NotAFile(spec.path.clone()));
    }
    let mut reader = FleetReader::open_with(&spec.path, &spec.read)?;
    let mut seen = Seen::default();
    let mut claimed = vec![false; scanned.entries()];
    let mut lines = scanned.reader()?;
    while let Some(row) = reader.next_row() {
        let row = row?;
        if let Some(e) = scanned.of_serial(sn_key(row.sn.trim())) {
            claimed[e.index as usize] = true;
        }
        let joined = match triage(&mut seen, row.clone()) {
            Next::Ended(unsent) => ended_as_it_stands(scanned, &mut lines, &row, unsent)?,
            Next::Send(_, device) => to_send(scanned, &mut lines, &row, sn_key(&device.sn))?,
            // A fresh table knows no serial done: never met, but a row is never lost.
            Next::Done => not_reached(&row, None),
        };
        each(joined)?;
    }
    let gone = scanned.unclaimed_serials(&claimed);
    let mut removed = Removed {
        total: gone.len() as u64,
        listed: Vec::new(),
    };
    for e in gone.iter().take(ATTENTION_LIMIT) {
        if let Some(l) = lines.line_at(e.offset)? {
            removed.listed.push(RemovedSerial {
                row: l.row,
                sn: l.sn,
                outcome: l.outcome,
            });
        }
    }
    Ok(removed)
}

/// A row that is invalid or a duplicate as the sheet stands: the line a run wrote for it when
/// one says so for these very cells, else the line the next run would write.
fn ended_as_it_stands(
    scanned: &Scanned,
    lines: &mut LineReader,
    row: &InputRow,
    unsent: ResultLine,
) -> Result<JoinedRow, ReportError> {
    if let Some(e) = scanned.of_row(row.row) {
        if let Some(l) = lines.line_at(e.offset)? {
            if l.outcome == unsent.outcome && same_cells(row, &l) {
                return Ok(JoinedRow::Ended(l));
            }
        }
    }
    Ok(JoinedRow::Ended(unsent_line(unsent)))
}

/// A row the next run would send, unless its serial is done: the serial's latest line when it
/// is done, or when it was written for these cells; an `invalid` line a run wrote for this row
/// and these cells (a serial held back, a plant not in the account) when it is later.
fn to_send(
    scanned: &Scanned,
    lines: &mut LineReader,
    row: &InputRow,
    key: u64,
) -> Result<JoinedRow, ReportError> {
    let by_serial = scanned.of_serial(key);
    let fleet_row = |mut l: LatestLine| {
        l.row = row.row;
        Ok(JoinedRow::Ended(l))
    };
    if let Some(e) = by_serial.filter(|e| e.done) {
        if let Some(l) = lines.line_at(e.offset)? {
            return fleet_row(l);
        }
    }
    let mut best: Option<(Entry, LatestLine)> = None;
    let mut changed: Option<LatestLine> = None;
    let by_row = scanned.of_row(row.row);
    for e in [by_serial, by_row].into_iter().flatten() {
        let Some(l) = lines.line_at(e.offset)? else {
            continue;
        };
        let row_level = Some(e) == by_row;
        if row_level && l.outcome != Outcome::Invalid {
            // A duplicate line: the row it repeated is gone or changed since.
            continue;
        }
        if !same_cells(row, &l) {
            if !row_level {
                changed = Some(l);
            }
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| e.offset > b.offset) {
            best = Some((e, l));
        }
    }
    match best {
        Some((_, l)) => fleet_row(l),
        None => Ok(not_reached(row, changed.as_ref())),
    }
}

/// A row no run sent as it stands; `was` is the serial's latest line for other cells.
fn not_reached(row: &InputRow, was: Option<&LatestLine>) -> JoinedRow {
    let why = match was {
        Some(l) => format!(
            "changed since row {} was sent ({}{}: plant {}, user {}); the next run sends it as it stands",
            l.row,
            l.outcome,
            l.code.map(|c| format!(" {c}")).unwrap_or_default(),
            l.plant_id,
            l.c_user_id
        ),
        None => "not sent yet; the next run sends it".to_string(),
    };
    JoinedRow::NotReached(NotReached {
        row: row.row,
        plant_id: as_written(&row.plant_id),
        sn: as_written(&row.sn),
        c_user_id: as_written(&row.c_user_id),
        why,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::report::{load_with, ReportData, NOT_REACHED};

    const HEAD: &str = "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n";

    fn world(results: &str, fleet: &str) -> (tempfile::TempDir, PathBuf, FleetSpec) {
        let (dir, r) = crate::testing::file_with("f.results.csv", format!("{HEAD}{results}"));
        let f = dir.path().join("f.csv");
        std::fs::write(&f, format!("plant_id,sn,c_user_id\n{fleet}")).unwrap();
        let spec = FleetSpec {
            path: f,
            read: Default::default(),
            named: true,
        };
        (dir, r, spec)
    }

    fn joined(results: &Path, spec: &FleetSpec) -> ReportData {
        load_with(results, Ok(spec.clone())).unwrap()
    }

    #[test]
    fn each_fleet_row_lands_in_one_bucket_as_the_sheet_stands() {
        let (_d, results, spec) = world(
            "2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
             3,1,A2,5,rejected,10004,plant does not exist,1,200,3,2026-01-01T00:00:00.000Z\n\
             4,1,BAD-1,5,invalid,,sn has a dash,0,,,2026-01-01T00:00:00.000Z\n\
             4,1,A4,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
             5,1,GONE9,5,rejected,10002,serial wrong,1,200,3,2026-01-01T00:00:00.000Z\n\
             7,1,BAD-2,5,invalid,,sn has a dash,0,,,2026-01-01T00:00:00.000Z\n\
             8,1,A7,5,invalid,,held back (--strict-serials),0,,,2026-01-01T00:00:00.000Z\n",
            // A4 and A1 moved up; A2's plant fixed; A1 again; a new row; BAD-2 as it was; A7
            // held back as it was.
            "1,A4,5\n1,A1,5\n2,A2,5\n1,A1,5\n1,NEW1,5\n1,BAD-2,5\n1,A7,5\n",
        );
        let d = joined(&results, &spec);
        assert_eq!(d.rows(), 7, "{:?}", d.buckets());
        assert_eq!(d.count(Outcome::Registered), 2);
        assert_eq!(d.count(Outcome::Rejected), 0, "A2 was fixed, GONE9 removed");
        assert_eq!(d.count(Outcome::Duplicate), 1);
        assert_eq!(d.count(Outcome::Invalid), 2);
        assert_eq!(d.not_reached, Some(2), "A2 changed since, NEW1 never sent");
        assert_eq!(d.buckets().last(), Some(&(NOT_REACHED, 2)));
        assert_eq!(d.removed_total, 1);
        assert_eq!(d.removed[0].sn, "GONE9");
        assert_eq!(d.removed[0].outcome, Outcome::Rejected);
        let rows: Vec<(u64, &str)> = d.attention.iter().map(|a| (a.row, a.sn.as_str())).collect();
        assert_eq!(rows, [(7, "BAD-2"), (8, "A7")], "by the fleet's rows");
        assert_eq!(d.attention[1].error_msg, "held back (--strict-serials)");
        assert!(!d.codes.contains_key(&10002) && !d.codes.contains_key(&10004));
        assert_eq!(d.exit(), crate::exit::Exit::Incomplete, "rows left: as run");
        let text = crate::report::render_text(&d);
        assert!(
            text.contains("No longer in the fleet: 1 serial (GONE9), left out of the counts"),
            "{text}"
        );
    }

    #[test]
    fn a_row_fixed_but_not_sent_again_is_not_reached_and_a_done_serial_stays_done() {
        let (_d, results, spec) = world(
            "2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
             3,x,A2,5,invalid,,plant_id 'x' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n",
            // A1's plant cell changed after it was registered: done all the same (run skips it).
            "2,A1,5\n1,A2,5\n",
        );
        let d = joined(&results, &spec);
        assert_eq!(d.count(Outcome::Registered), 1);
        assert_eq!(
            d.count(Outcome::Invalid),
            0,
            "the old invalid line no longer counts"
        );
        assert_eq!(d.not_reached, Some(1));
        assert_eq!(d.removed_total, 0);
        assert_eq!(d.exit(), crate::exit::Exit::Incomplete);
    }

    #[test]
    fn a_named_fleet_that_cannot_be_read_is_an_error_a_recorded_one_cannot_tell() {
        let (_d, results, mut spec) = world("", "");
        std::fs::write(&spec.path, "a,b\n1,2\n").unwrap();
        let e = load_with(&results, Ok(spec.clone())).unwrap_err();
        assert!(e.to_string().contains("missing column"), "{e}");
        spec.named = false;
        let d = joined(&results, &spec);
        let why = d.no_fleet.unwrap();
        assert!(
            why.contains("cannot be read") && why.contains("missing column"),
            "{why}"
        );
        assert_eq!(d.not_reached, None, "nothing counted it cannot tell");
    }
}
