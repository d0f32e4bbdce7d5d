//! Serials a spreadsheet may have damaged, in `run` and `check` alike: each row is judged before
//! it is sorted (send, done, invalid, duplicate), so a warned row is warned about, or, with
//! `--strict-serials`, held back as `invalid` before anything is sent.

use crate::input::suspect::{Judge, SerialWarning, Survey};
use crate::input::{sn_key, FleetReader, InputError, InputRow, ReadOptions};
use crate::journal::{triage, Next, Seen};

/// Most warned rows a summary lists (all are counted): enough for any report to mark every row
/// of a sheet gone wrong, and a bounded summary file on a million-row fleet.
pub const WARNINGS_LISTED: usize = 2000;

/// How a job treats serials a spreadsheet may have damaged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Serials {
    judge: Judge,
    strict: bool,
}

impl Serials {
    /// Judges rows against the fleet `survey` describes; `strict` holds warned rows back.
    pub(super) fn new(survey: &Survey, strict: bool) -> Serials {
        Serials {
            judge: Judge::new(survey),
            strict,
        }
    }

    /// Sorts `row` as [`triage`] does, with its warning when its serial is suspect. A warned row
    /// is sent (or skipped as done) as usual; with `--strict-serials` it is `invalid` instead,
    /// its message the warning, unless an earlier run already finished its serial. A duplicate
    /// carries no warning: the row it repeats had it.
    pub(super) fn triage(
        &self,
        seen: &mut Seen,
        mut row: InputRow,
    ) -> (Next, Option<SerialWarning>) {
        let warning = self.judge.warning(&row);
        if let (Some(w), true) = (&warning, self.strict) {
            let done = row
                .check
                .as_ref()
                .is_ok_and(|d| seen.is_done(sn_key(&d.sn)));
            if !done {
                row.check = Err(format!("{}; not sent (--strict-serials)", w.message));
                return (triage(seen, row), None);
            }
        }
        let next = triage(seen, row);
        let warning = warning.filter(|_| matches!(next, Next::Send(..) | Next::Done));
        (next, warning)
    }
}

/// The fleet's survey from an opened `reader` (from memory for a spreadsheet) or by reading
/// `path` once more (a CSV). A CSV that cannot be read again gives an empty survey: the reader
/// itself will say why when it reaches the spot.
pub(super) fn survey(reader: &FleetReader, path: &std::path::Path, read: &ReadOptions) -> Survey {
    reader.survey().unwrap_or_else(|| {
        // A pipe gives its rows once, to the check itself: no survey, no length outliers.
        if !reader.rereadable() {
            return Survey::default();
        }
        FleetReader::survey_file(path, read).unwrap_or_else(|_: InputError| Survey::default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::suspect::SerialLengths;

    fn row(n: u64, sn: &str, number: bool) -> InputRow {
        InputRow::of_serial(n, sn, number)
    }

    fn ten_long() -> Survey {
        let mut lengths = SerialLengths::default();
        for sn in ["BNE3C4963L", "XGD4A471VN", "ORF4B7011Q"] {
            lengths.add(sn);
        }
        Survey { rows: 3, lengths }
    }

    #[test]
    fn a_warned_row_is_sent_and_warned_or_held_back_when_strict() {
        let mut seen = Seen::default();
        let (next, w) =
            Serials::new(&ten_long(), false).triage(&mut seen, row(2, "12345678", true));
        assert!(matches!(next, Next::Send(..)), "{next:?}");
        assert_eq!(w.unwrap().row, 2);
        // The same serial again: a duplicate, not warned twice.
        let (next, w) =
            Serials::new(&ten_long(), false).triage(&mut seen, row(3, "12345678", false));
        assert!(matches!(next, Next::Ended(ref l) if l.outcome.as_str() == "duplicate"));
        assert_eq!(w, None);

        let strict = Serials::new(&ten_long(), true);
        let (next, w) = strict.triage(&mut Seen::default(), row(4, "100000", false));
        let Next::Ended(line) = next else {
            panic!("held back: {next:?}")
        };
        assert_eq!(line.outcome.as_str(), "invalid");
        assert!(
            line.error_msg.ends_with("; not sent (--strict-serials)"),
            "{}",
            line.error_msg
        );
        assert!(line.error_msg.starts_with("sn '100000' is digits only"));
        assert_eq!(w, None, "the invalid line says it");
        // A clean serial passes a strict judge untouched.
        let (next, w) = strict.triage(&mut Seen::default(), row(5, "BNE3C4963L", false));
        assert!(matches!(next, Next::Send(..)) && w.is_none());
    }

    #[test]
    fn a_strict_judge_leaves_a_serial_done_earlier_done_and_warned() {
        let mut seen = Seen::default();
        seen.mark_done(sn_key("12345678"));
        let (next, w) = Serials::new(&ten_long(), true).triage(&mut seen, row(2, "12345678", true));
        assert!(matches!(next, Next::Done), "{next:?}");
        assert!(w.is_some());
    }
}
