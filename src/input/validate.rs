//! One row's cells checked and normalised into the [`Device`] to send, or the reason it cannot be.

use super::{Device, InputRow, REQUIRED};
use crate::text::{quote, shorten};

/// Longest serial number accepted; real Growatt serials are 10 to 16 characters.
pub const MAX_SN_LEN: usize = 64;

/// How much of a raw cell the results file repeats for an invalid row.
const RAW_LIMIT: usize = 256;

/// Validates the required cells of `record` (at `columns`), as row `row`.
/// `typed` says the cells come from a workbook, where they are what a person typed (a number
/// cell reads back as its digits), not what an export wrote.
pub(super) fn validate_record(
    row: u64,
    record: &csv::ByteRecord,
    columns: [usize; 3],
    typed: bool,
) -> InputRow {
    let mut problems: Vec<String> = Vec::new();
    let mut cells: [String; 3] = Default::default();
    let mut texts: [Option<&str>; 3] = [None; 3];
    for (c, &idx) in columns.iter().enumerate() {
        match record.get(idx) {
            None => problems.push(format!("{} is missing (the row is too short)", REQUIRED[c])),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    let text = text.trim();
                    cells[c] = shorten(text, RAW_LIMIT);
                    texts[c] = Some(text);
                }
                Err(_) => {
                    cells[c] = shorten(String::from_utf8_lossy(bytes).trim(), RAW_LIMIT);
                    problems.push(format!(
                        "{} is not UTF-8 text; save the file as CSV UTF-8",
                        REQUIRED[c]
                    ));
                }
            },
        }
    }
    let id = |column: &str, t: &str| match parse_id(column, t) {
        Err(_) if typed && looks_spreadsheet_number(t) => Err(typed_number(column, t)),
        other => other,
    };
    let plant_id = texts[0].map(|t| id("plant_id", t));
    let sn = texts[1].map(|t| match check_sn(t) {
        Err(_) if typed && looks_spreadsheet_number(t) => Err(format!(
            "sn '{}' is a number in scientific or decimal notation, which has lost the serial's characters; format the column as text and type the serial as the device label shows it",
            quote(t)
        )),
        other => other,
    });
    let c_user_id = texts[2].map(|t| id("c_user_id", t));
    let check = match (plant_id, sn, c_user_id) {
        (Some(Ok(plant_id)), Some(Ok(sn)), Some(Ok(c_user_id))) if problems.is_empty() => {
            Ok(Device {
                plant_id,
                sn: sn.to_string(),
                c_user_id,
            })
        }
        (p, s, u) => {
            for e in [
                p.and_then(Result::err),
                s.and_then(Result::err),
                u.and_then(Result::err),
            ]
            .into_iter()
            .flatten()
            {
                problems.push(e);
            }
            Err(problems.join("; "))
        }
    };
    let [plant_id, sn, c_user_id] = cells;
    InputRow {
        row,
        plant_id,
        sn,
        c_user_id,
        check,
        sn_number: false,
        skip: None,
    }
}

/// How much of a note or a skip mark a skipped row's message repeats, in characters.
const SHOWN: usize = 60;

/// Why a row is skipped on purpose, if it is: any value in the skip column (at `skip`), or text
/// only outside the required columns (at `columns`), such as a note. A row that fills some
/// required cells and leaves others empty is not skipped: that is a mistake to fix.
pub(super) fn skip_reason(
    record: &csv::ByteRecord,
    columns: [usize; 3],
    skip: Option<usize>,
) -> Option<String> {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    // The first characters as they are, control characters escaped: `quote` stops too soon.
    let shown = |t: &str| -> String {
        shorten(t, SHOWN)
            .chars()
            .flat_map(|c| match c.is_control() {
                true => c.escape_default().collect::<Vec<_>>(),
                false => vec![c],
            })
            .collect()
    };
    if let Some(mark) = skip.and_then(|i| record.get(i)).map(text) {
        if !mark.is_empty() {
            return Some(format!("skip column: \"{}\"", shown(&mark)));
        }
    }
    let blank = |b: &[u8]| b.iter().all(u8::is_ascii_whitespace);
    if !columns.iter().all(|&i| record.get(i).is_none_or(blank)) {
        return None;
    }
    let note = record
        .iter()
        .enumerate()
        .find(|(i, cell)| !columns.contains(i) && !blank(cell))?;
    Some(format!("a note only: \"{}\"", shown(&text(note.1))))
}

/// An id typed into a workbook as a number's text (`1003.0`): nothing was exported, so the
/// advice is to type the id itself.
fn typed_number(column: &str, text: &str) -> String {
    let whole = text
        .split_once('.')
        .filter(|(_, frac)| !frac.is_empty() && frac.bytes().all(|b| b == b'0'))
        .map(|(int, _)| int);
    match whole {
        Some(int) if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) => format!(
            "{column} '{}' is typed with a decimal point; type it as {int}",
            quote(text)
        ),
        _ => format!(
            "{column} '{}' is typed as a number in scientific or decimal notation; type the id's digits as they are",
            quote(text)
        ),
    }
}

/// Validates a `plant_id` or `c_user_id` cell (already trimmed): a positive integer.
pub fn parse_id(column: &str, text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!("{column} is empty"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(0) => Err(format!("{column} is 0; it must be a positive integer")),
            // The API's ids are signed 64-bit numbers.
            Ok(n) if n <= MAX_ID => Ok(n),
            _ => Err(format!(
                "{column} '{}' is too large to be an id (at most {MAX_ID})",
                quote(text)
            )),
        };
    }
    if looks_date(text) {
        return Err(format!(
            "{column} '{}' is a date: the spreadsheet formatted the column as dates; format the column as text, type the ids again and save",
            quote(text)
        ));
    }
    if looks_spreadsheet_number(text) {
        return Err(format!(
            "{column} '{}' was converted to a number by a spreadsheet; format the column as text and export again",
            quote(text)
        ));
    }
    Err(format!(
        "{column} '{}' is not a positive integer",
        quote(text)
    ))
}

/// The largest id accepted: the API keeps ids as signed 64-bit numbers.
pub const MAX_ID: u64 = i64::MAX as u64;

/// A date as a spreadsheet shows one: `2025-01-02` (a date cell read from a sheet, maybe with a
/// time after it), or a CSV export's `02/01/2025`, `1/2/25`, `02.01.2025`.
fn looks_date(text: &str) -> bool {
    let date = text.split(' ').next().unwrap_or(text);
    let Some(sep) = date.chars().find(|c| matches!(c, '-' | '/' | '.')) else {
        return false;
    };
    let parts: Vec<&str> = date.split(sep).collect();
    let digits = |p: &&str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(digits) {
        return false;
    }
    let long = |p: &str| p.len() == 4;
    match sep {
        // ISO: year first.
        '-' => long(parts[0]) && parts[1].len() <= 2 && parts[2].len() <= 2,
        // Day and month first, the year last (two or four digits).
        _ => parts[0].len() <= 2 && parts[1].len() <= 2 && matches!(parts[2].len(), 2 | 4),
    }
}

/// Validates an `sn` cell (already trimmed): letters and digits only.
pub fn check_sn(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        return Err("sn is empty".into());
    }
    if looks_date(text) {
        return Err(format!(
            "sn '{}' is a date: the spreadsheet formatted the column as dates; format the column as text, type the serials again and save",
            quote(text)
        ));
    }
    // Letters and digits alone ("123E45") are a serial as written, not a spreadsheet's number.
    if looks_spreadsheet_number(text) && !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "sn '{}' was converted to a number by a spreadsheet; format the column as text and export again",
            quote(text)
        ));
    }
    if let Some(bad) = text.chars().find(|c| !c.is_ascii_alphanumeric()) {
        let what = match bad {
            ' ' => "a space".to_string(),
            c if c.is_control() => format!("the control character U+{:04X}", c as u32),
            // Look-alikes and invisible characters (Cyrillic 'А', a zero-width space) need the code.
            c if !c.is_ascii() => format!("'{c}' (U+{:04X})", c as u32),
            c => format!("'{c}'"),
        };
        return Err(format!(
            "sn '{}' has {what}, but a serial is letters and digits only",
            quote(text)
        ));
    }
    if text.len() > MAX_SN_LEN {
        return Err(format!(
            "sn is {} characters long; a serial has at most {MAX_SN_LEN}",
            text.len()
        ));
    }
    Ok(text)
}

/// True for the shapes a spreadsheet gives a number it formatted: `12345.0`, `1.23E+10`,
/// `1,23457E+11` (decimal comma locales).
fn looks_spreadsheet_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    let (int, frac) = match mantissa.find(['.', ',']) {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let int_ok = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()));
    let decorated = exponent.is_some() || frac.is_some();
    exp_ok && int_ok && frac_ok && decorated
}

/// A compact, exact-where-possible identity of a serial, case-insensitive.
///
/// Serials of up to 12 letters and digits (every real Growatt serial) pack losslessly into 63
/// bits, base 37; longer ones fall back to a 64-bit hash with the top bit set. Eight bytes a row
/// keeps duplicate detection and resume within a few bytes per row on a million-row fleet.
pub fn sn_key(sn: &str) -> u64 {
    if sn.len() <= 12 && sn.bytes().all(|b| b.is_ascii_alphanumeric()) {
        sn.bytes().fold(0u64, |acc, b| {
            let digit = match b {
                b'0'..=b'9' => u64::from(b - b'0') + 1,
                _ => u64::from(b.to_ascii_uppercase() - b'A') + 11,
            };
            acc * 37 + digit
        })
    } else {
        use std::hash::{Hash, Hasher};
        // Keys only need to agree within one process: resume recomputes them from the text.
        let mut h = std::hash::DefaultHasher::new();
        sn.to_ascii_uppercase().hash(&mut h);
        h.finish() | (1 << 63)
    }
}
