//! Which rows a run sends, in input order: a row skipped on purpose, a row that failed
//! validation or one that repeats an earlier row's serial ends without a request; a serial an
//! earlier run finished is passed over; the rest are sent. `check` sorts rows the same way, so it counts what `run` would send.

use super::{ResultLine, Seen, Sight};
use crate::input::{sn_key, Device, InputRow};
use crate::outcome::Outcome;

/// The message of a duplicate row.
pub fn duplicate_msg(first: Option<u64>) -> String {
    match first {
        Some(first) => format!("same sn as row {first}; sent once, from that row"),
        None => "same sn as an earlier row; sent once, from that row".into(),
    }
}

/// What to do with a row read from the input.
#[derive(Debug)]
pub enum Next {
    /// Send it.
    Send(Box<InputRow>, Device),
    /// It ended without a request (skipped, invalid, duplicate).
    Ended(ResultLine),
    /// An earlier run finished its serial.
    Done,
}

/// Skips, validation, duplicates and resume, in input order: the first row with a serial wins.
/// A skipped row wins over everything else, and its serial is not seen: it is no row's
/// duplicate partner.
pub fn triage(seen: &mut Seen, row: InputRow) -> Next {
    if let Some(why) = &row.skip {
        let why = why.clone();
        return Next::Ended(ResultLine::unsent(&row, Outcome::Skipped, why));
    }
    match &row.check {
        Err(msg) => {
            let msg = msg.clone();
            Next::Ended(ResultLine::unsent(&row, Outcome::Invalid, msg))
        }
        Ok(device) => match seen.sight(sn_key(&device.sn), row.row) {
            Sight::Duplicate { first_row } => Next::Ended(ResultLine::unsent(
                &row,
                Outcome::Duplicate,
                duplicate_msg(first_row),
            )),
            Sight::First { done: true } => Next::Done,
            Sight::First { done: false } => {
                let device = device.clone();
                Next::Send(Box::new(row), device)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_messages_name_the_first_row() {
        assert_eq!(
            duplicate_msg(Some(3)),
            "same sn as row 3; sent once, from that row"
        );
        assert!(duplicate_msg(None).contains("an earlier row"));
    }

    #[test]
    fn a_skipped_row_is_nobodys_duplicate_partner() {
        let row = |n: u64, skip: Option<&str>| InputRow {
            row: n,
            plant_id: "1".into(),
            sn: "A1".into(),
            c_user_id: "2".into(),
            check: Ok(Device {
                plant_id: 1,
                sn: "A1".into(),
                c_user_id: 2,
            }),
            sn_number: false,
            skip: skip.map(String::from),
        };
        let mut seen = Seen::default();
        let skipped = triage(&mut seen, row(2, Some("skip column: \"x\"")));
        assert!(
            matches!(&skipped, Next::Ended(l) if l.outcome == Outcome::Skipped && l.error_msg == "skip column: \"x\""),
            "{skipped:?}"
        );
        assert!(matches!(triage(&mut seen, row(3, None)), Next::Send(..)));
        assert!(matches!(
            triage(&mut seen, row(4, None)),
            Next::Ended(l) if l.outcome == Outcome::Duplicate && l.error_msg.contains("row 3")
        ));
    }
}
