//! Serials a spreadsheet may have damaged without making them invalid.
//!
//! A serial typed as `0012345678` or `1E5` into a cell formatted "General" becomes the number
//! 12345678 or 100000: letters and digits still, so validation passes it, and it would be sent
//! wrong. Two signs give such a serial away, and each gets a warning (or, with
//! `--strict-serials`, makes the row `invalid`):
//!
//! - **a number cell**: in an .xlsx, .xls or .ods, the `sn` cell holds a number, not text
//!   ([`InputRow::sn_number`]);
//! - **a length outlier**: most of the fleet's serials share one length (Growatt serials are 10
//!   letters and digits), and this one is all digits and shorter. This is what is left of the
//!   damage in a CSV saved from a damaged sheet.
//!
//! The fleet's usual length must be known before the first row is judged (a warned row may have
//! to be held back before it is sent), so the rows are surveyed first: a spreadsheet's sheet is
//! already in memory and is walked there; a CSV is read once more, quickly, without validating
//! (the same pass gives the progress bar its total). The survey keeps one count per serial
//! length, so memory stays constant whatever the fleet's size.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{check_sn, FleetReader, InputError, InputRow, ReadOptions, Source, MAX_SN_LEN};
use crate::text::quote;

/// Fewest serials of one length that make it the fleet's usual length (and they must be more
/// than half of the fleet's valid serials): a handful of rows says nothing about a fleet.
pub const USUAL_AT_LEAST: u64 = 3;

/// What to do about a warned serial, the same for both signs.
const WHAT_TO_DO: &str = "compare it with the device label, or format the sn column as text (as `growatt-onboard template` does) and type the serial again";

/// A row whose serial a spreadsheet may have damaged, with the warning in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialWarning {
    /// The spreadsheet row number.
    pub row: u64,
    /// The serial as read.
    pub sn: String,
    /// Why the serial is suspect, and what to do.
    pub message: String,
}

/// How many valid serials the fleet has of each length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialLengths {
    counts: [u64; MAX_SN_LEN + 1],
}

impl Default for SerialLengths {
    fn default() -> Self {
        SerialLengths {
            counts: [0; MAX_SN_LEN + 1],
        }
    }
}

impl SerialLengths {
    /// Counts one `sn` cell (trimmed or not); a cell that is no valid serial is not counted.
    pub fn add(&mut self, cell: &str) {
        if let Ok(sn) = check_sn(cell.trim()) {
            self.counts[sn.len()] += 1;
        }
    }

    /// The length most serials share, when more than half of them (and at least
    /// [`USUAL_AT_LEAST`]) do.
    pub fn usual(&self) -> Option<usize> {
        let total: u64 = self.counts.iter().sum();
        let (len, &n) = self.counts.iter().enumerate().max_by_key(|(_, n)| **n)?;
        (n >= USUAL_AT_LEAST && n * 2 > total).then_some(len)
    }
}

/// What a first pass over the rows found: how many there are, and their serials' lengths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// Non-blank data rows.
    pub rows: u64,
    /// The serials' lengths.
    pub lengths: SerialLengths,
}

impl Survey {
    /// Counts one data record whose `sn` cell is at `sn_col`.
    fn add(&mut self, record: &csv::ByteRecord, sn_col: usize) {
        self.rows += 1;
        if let Some(cell) = record.get(sn_col).and_then(|b| std::str::from_utf8(b).ok()) {
            self.lengths.add(cell);
        }
    }
}

impl FleetReader {
    /// The survey of the rows left, when they are in memory (a spreadsheet's sheet); `None` for
    /// a CSV, which [`FleetReader::survey_file`] reads again.
    pub fn survey(&self) -> Option<Survey> {
        let Source::Sheet(sheet) = &self.source else {
            return None;
        };
        let mut survey = Survey::default();
        sheet.each_remaining(|record| survey.add(record, self.columns[1]));
        Some(survey)
    }

    /// Reads `path` through once, without validating, for its [`Survey`].
    pub fn survey_file(path: &Path, options: &ReadOptions) -> Result<Survey, InputError> {
        let mut reader = FleetReader::open_with(path, options)?;
        if let Some(survey) = reader.survey() {
            return Ok(survey);
        }
        let mut survey = Survey::default();
        while let Some(r) = reader.next_record() {
            if r?.is_some() {
                survey.add(&reader.record, reader.columns[1]);
            }
        }
        Ok(survey)
    }
}

/// Judges rows against the fleet's usual serial length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Judge {
    /// The fleet's usual serial length, if it has one.
    pub usual: Option<usize>,
}

impl Judge {
    /// A judge for the fleet `survey` describes.
    pub fn new(survey: &Survey) -> Judge {
        Judge {
            usual: survey.lengths.usual(),
        }
    }

    /// The warning for `row`, if its serial is valid but may have been damaged by a spreadsheet.
    pub fn warning(&self, row: &InputRow) -> Option<SerialWarning> {
        let sn = row.check.as_ref().ok()?.sn.as_str();
        let message = if row.sn_number {
            format!(
                "sn '{}' was stored as a number in the sheet: leading zeros or an 'E' may have been lost; {WHAT_TO_DO}",
                quote(sn)
            )
        } else {
            let usual = self.usual.filter(|&u| sn.len() < u)?;
            if !sn.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            format!(
                "sn '{}' is digits only and shorter than the fleet's usual {usual} characters: a spreadsheet may have turned it into a number, losing leading zeros or an 'E'; {WHAT_TO_DO}",
                quote(sn)
            )
        };
        Some(SerialWarning {
            row: row.row,
            sn: sn.to_string(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sn: &str, number: bool) -> InputRow {
        InputRow::of_serial(7, sn, number)
    }

    fn lengths(cells: &[&str]) -> SerialLengths {
        let mut l = SerialLengths::default();
        for c in cells {
            l.add(c);
        }
        l
    }

    #[test]
    fn the_usual_length_needs_more_than_half_of_the_valid_serials() {
        let fleet = [
            "BNE3C4963L",
            "XGD4A471VN",
            "ORF4B7011Q",
            "12345678",
            "100000",
        ];
        assert_eq!(lengths(&fleet).usual(), Some(10));
        // Invalid cells (a rounded number, a date, a dash) are not serials and do not count.
        let noisy = [
            fleet.as_slice(),
            &["1.23E+16", "2023-05-01", "A-B", "", "x y"],
        ]
        .concat();
        assert_eq!(lengths(&noisy).usual(), Some(10));
        assert_eq!(
            lengths(&["BNE3C4963L", "XGD4A471VN", "1234", "5678"]).usual(),
            None
        );
        assert_eq!(
            lengths(&["BNE3C4963L", "XGD4A471VN"]).usual(),
            None,
            "too few"
        );
        assert_eq!(lengths(&[]).usual(), None);
    }

    #[test]
    fn a_number_cell_is_warned_whatever_its_length() {
        let judge = Judge { usual: Some(10) };
        for sn in ["12345678", "1234567890", "123456789012"] {
            let w = judge.warning(&row(sn, true)).expect(sn);
            assert_eq!((w.row, w.sn.as_str()), (7, sn));
            assert_eq!(
                w.message,
                format!("sn '{sn}' was stored as a number in the sheet: leading zeros or an 'E' may have been lost; compare it with the device label, or format the sn column as text (as `growatt-onboard template` does) and type the serial again")
            );
            assert!(w.message.contains("compare it with the device label"));
        }
        // A number cell that is no valid serial is already invalid, with its own message.
        assert_eq!(judge.warning(&row("1.5", true)), None);
    }

    #[test]
    fn only_a_shorter_all_digit_serial_is_a_length_outlier() {
        let judge = Judge { usual: Some(10) };
        let w = judge.warning(&row("100000", false)).unwrap();
        assert_eq!(
            w.message,
            "sn '100000' is digits only and shorter than the fleet's usual 10 characters: a spreadsheet may have turned it into a number, losing leading zeros or an 'E'; compare it with the device label, or format the sn column as text (as `growatt-onboard template` does) and type the serial again"
        );
        for clean in ["1234567890", "123456789012", "1E5", "ABC123", "BNE3C4963L"] {
            assert_eq!(judge.warning(&row(clean, false)), None, "{clean}");
        }
        assert_eq!(Judge::default().warning(&row("100000", false)), None);
    }
}
