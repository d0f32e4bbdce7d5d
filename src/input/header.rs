//! Finding the header row. An office sheet often carries a title, a date or a logo's empty cells
//! above its header, so the header is the first of the top [`HEADER_SEARCH`] rows that holds
//! plant_id, sn and c_user_id (by name or `--column` mapping), or the row `--header-row` names.
//! The rows above it are neither data nor invalid rows, and every row keeps the number the sheet
//! shows, so results, messages and the journal speak of the same rows whichever row the header is.

use std::path::Path;

use super::columns::{
    header_likeness, locate, looks_like_values, missing_words, shown_cells, suggestion, Located,
};
use super::{InputError, ReadOptions};
use crate::text::shorten;

/// How many rows, from the first that holds anything, the header is looked for in.
pub const HEADER_SEARCH: u64 = 20;

/// Most cells of a row above the header kept for the message, and most characters of each: a
/// hostile file's rows may be megabytes long, and twenty of them are held until the header.
const KEPT_CELLS: usize = 200;
const KEPT_CHARS: usize = 100;

/// The header as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// Its row number, as the sheet shows it.
    pub row: u64,
    /// The first row that holds anything (the header's own row when nothing is above it).
    pub first: u64,
    /// Its cells, trimmed.
    pub headers: Vec<String>,
    /// Where plant_id, sn and c_user_id are.
    pub columns: [usize; 3],
}

/// A row above the header, kept (shortened) for the message when none is found.
struct Above {
    row: u64,
    cells: Vec<String>,
    /// Cells left out past [`KEPT_CELLS`].
    more: usize,
}

/// The search for the header, fed the non-blank rows from the top, one at a time.
pub(super) struct HeaderSearch<'a> {
    path: &'a Path,
    names: &'a [String; 3],
    forced: Option<u64>,
    first: Option<u64>,
    last: Option<u64>,
    above: Vec<Above>,
}

impl<'a> HeaderSearch<'a> {
    /// A search in `path` for the columns and header row `options` name.
    pub fn new(path: &'a Path, options: &'a ReadOptions) -> HeaderSearch<'a> {
        HeaderSearch {
            path,
            names: &options.columns,
            forced: options.header_row,
            first: None,
            last: None,
            above: Vec::new(),
        }
    }

    /// Whether the header cannot be on row `row` or below it: past the rows searched, or past
    /// the row `--header-row` names. The reader then stops and asks [`HeaderSearch::fail`] why.
    pub fn past(&self, row: u64) -> bool {
        match self.forced {
            Some(n) => row > n,
            None => self
                .first
                .is_some_and(|first| row >= first.saturating_add(HEADER_SEARCH)),
        }
    }

    /// Offers the next non-blank row `row` (never one [`HeaderSearch::past`] refused): the header
    /// when it is one, `None` to read on, or why the file cannot be read (a required column
    /// named twice in the header; the row `--header-row` names is not a header).
    pub fn offer(&mut self, row: u64, cells: Vec<String>) -> Result<Option<Found>, InputError> {
        let first = *self.first.get_or_insert(row);
        self.last = Some(row);
        if self.forced.is_some_and(|n| row < n) {
            return Ok(None);
        }
        let at = locate(&cells, self.names);
        if let Some(columns) = at.all() {
            if let Some((name, a, b)) = at.twice {
                return Err(InputError::DuplicateColumn {
                    path: self.path.to_path_buf(),
                    name,
                    row,
                    first: a,
                    second: b,
                });
            }
            return Ok(Some(Found {
                row,
                first,
                headers: cells,
                columns,
            }));
        }
        if let Some(n) = self.forced {
            return Err(self.not_a_header(format!("--header-row {n}: row {n}"), &cells, 0, &at));
        }
        let more = cells.len().saturating_sub(KEPT_CELLS);
        let cells = cells
            .into_iter()
            .take(KEPT_CELLS)
            .map(|c| shorten(&c, KEPT_CHARS))
            .collect();
        self.above.push(Above { row, cells, more });
        Ok(None)
    }

    /// Why no header was found, once the file ended (`at_end`) or [`HeaderSearch::past`] said
    /// the search is over.
    pub fn fail(self, at_end: bool) -> InputError {
        let path = self.path.to_path_buf();
        let Some(first) = self.first else {
            return InputError::Empty { path };
        };
        let last = self.last.unwrap_or(first);
        if let Some(n) = self.forced {
            let why = if at_end && last < n {
                format!(
                    "the file ends before row {n}: its last row with anything in it is row {last}"
                )
            } else {
                format!("row {n} is empty; the header row holds plant_id, sn and c_user_id")
            };
            return InputError::HeaderRow { path, row: n, why };
        }
        let looked = if first == last {
            format!("no header in row {first}:")
        } else {
            let end = if at_end {
                last
            } else {
                first + HEADER_SEARCH - 1
            };
            format!("no header in rows {first}–{end}:")
        };
        let rows: Vec<&[String]> = self.above.iter().map(|a| a.cells.as_slice()).collect();
        let (best, score) = likeliest_guess(&rows, self.names);
        let chosen = &self.above[best];
        if score == 0 && looks_like_values(&self.above[0].cells) {
            return InputError::NoHeader {
                path,
                lead: format!("{looked} the first row"),
                found: shown_cells(&self.above[0].cells, self.above[0].more),
            };
        }
        let lead = if first == last {
            format!("{looked} it")
        } else if score == 0 {
            format!(
                "{looked} none holds plant_id, sn and c_user_id; row {}",
                chosen.row
            )
        } else {
            format!(
                "{looked} none holds plant_id, sn and c_user_id; the closest, row {},",
                chosen.row
            )
        };
        let at = locate(&chosen.cells, self.names);
        self.not_a_header(lead, &chosen.cells, chosen.more, &at)
    }

    /// The message for a row that should have been the header and lacks required columns.
    fn not_a_header(
        &self,
        lead: String,
        cells: &[String],
        more: usize,
        at: &Located,
    ) -> InputError {
        let path = self.path.to_path_buf();
        if at.found.iter().all(Option::is_none) && looks_like_values(cells) {
            return InputError::NoHeader {
                path,
                lead,
                found: shown_cells(cells, more),
            };
        }
        InputError::MissingColumns {
            path,
            lead: lead.into(),
            missing: missing_words(&at.found, self.names).into(),
            found: shown_cells(cells, more).into(),
            hint: suggestion(cells, &at.found, self.names).into(),
        }
    }
}

/// The row of `rows` most like a header and how much (see `header_likeness`); the earliest on a
/// tie, so with nothing header-like it is the first.
fn likeliest_guess(rows: &[&[String]], names: &[String; 3]) -> (usize, usize) {
    let mut best = (0, 0);
    for (i, cells) in rows.iter().enumerate() {
        let score = header_likeness(cells, names);
        if score > best.1 {
            best = (i, score);
        }
    }
    best
}

/// Where the header is among the first rows of a file (`rows`, the non-blank ones in order), for
/// a first look before any column is mapped: the first holding all the columns `names` names,
/// else the one most like a header, else the first.
pub(super) fn likeliest(rows: &[Vec<String>], names: &[String; 3]) -> usize {
    let window = &rows[..rows.len().min(HEADER_SEARCH as usize)];
    if let Some(i) = window.iter().position(|r| locate(r, names).all().is_some()) {
        return i;
    }
    let rows: Vec<&[String]> = window.iter().map(Vec::as_slice).collect();
    likeliest_guess(&rows, names).0
}

/// The short line that says where the header is, when rows above it are skipped: `header on row
/// 4 (rows 1–3 above it are skipped)`; `None` when the header is the first row with anything.
pub fn header_note(row: u64, first: u64) -> Option<String> {
    (row > first).then(|| match row {
        2 => "header on row 2 (row 1 above it is skipped)".to_string(),
        _ => format!(
            "header on row {row} (rows 1–{} above it are skipped)",
            row - 1
        ),
    })
}

/// A row's cells as text, trimmed (a byte-order mark at the file's start too).
pub(super) fn cells(record: &csv::ByteRecord) -> Vec<String> {
    record
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let text = String::from_utf8_lossy(c);
            let text = if i == 0 {
                text.trim_start_matches('\u{feff}')
            } else {
                &text
            };
            text.trim().to_string()
        })
        .collect()
}
