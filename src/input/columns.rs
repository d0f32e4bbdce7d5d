//! Finding the required columns in a row: by name or `--column` mapping; how much a row looks
//! like a header; when some are missing, a ready-to-paste `--column` mapping from the closest
//! headers, and a row of values told apart from a header.

use std::path::Path;

use super::{InputError, REQUIRED, SKIP};
use crate::text::quote;

/// Longest cell taken for a column's name when judging how much a row looks like a header.
const NAME_CHARS: usize = 32;

/// Where the required columns are in one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Located {
    /// The position of plant_id, sn and c_user_id (or the names they are mapped to).
    pub found: [Option<usize>; 3],
    /// A required column named twice: its key and both 1-based positions.
    pub twice: Option<(&'static str, usize, usize)>,
}

impl Located {
    /// The three positions, when the row holds all of them.
    pub fn all(&self) -> Option<[usize; 3]> {
        match self.found {
            [Some(a), Some(b), Some(c)] => Some([a, b, c]),
            _ => None,
        }
    }
}

/// Where plant_id, sn and c_user_id (or the names `names` maps them to) are in `cells`.
pub(super) fn locate(cells: &[String], names: &[String; 3]) -> Located {
    let mut at = Located {
        found: [None; 3],
        twice: None,
    };
    for (i, h) in cells.iter().enumerate() {
        for (c, name) in REQUIRED.iter().enumerate() {
            if h.eq_ignore_ascii_case(names[c].trim()) {
                match at.found[c] {
                    Some(first) if at.twice.is_none() => at.twice = Some((name, first + 1, i + 1)),
                    Some(_) => {}
                    None => at.found[c] = Some(i),
                }
            }
        }
    }
    at
}

/// How much `cells` looks like the header: four points per required column it names, one per
/// column a short cell of it likely stands for; none for a row of values (a data row, whose
/// serial may happen to read like a column name). A long cell is a title or a note, not a
/// column's name, even when a word in it is one ("call the customer first").
pub(super) fn header_likeness(cells: &[String], names: &[String; 3]) -> usize {
    if looks_like_values(cells) {
        return 0;
    }
    let at = locate(cells, names);
    let short: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.chars().count() > NAME_CHARS {
                String::new()
            } else {
                c.clone()
            }
        })
        .collect();
    let mut taken: Vec<usize> = at.found.iter().flatten().copied().collect();
    let mut score = taken.len() * 4;
    for (c, key) in REQUIRED.iter().enumerate() {
        if at.found[c].is_none() {
            if let Some(i) = likely_header(key, &names[c], &short, &taken) {
                taken.push(i);
                score += 1;
            }
        }
    }
    score
}

/// The required columns `found` lacks, for a message: `sn`, or `sn (looked for 'Serial')` when a
/// mapping named another header.
pub(super) fn missing_words(found: &[Option<usize>; 3], names: &[String; 3]) -> String {
    let missing: Vec<String> = REQUIRED
        .iter()
        .zip(found.iter())
        .zip(names.iter())
        .filter(|((_, f), _)| f.is_none())
        .map(|((n, _), name)| {
            if name.eq_ignore_ascii_case(n) {
                n.to_string()
            } else {
                format!("{n} (looked for '{}')", quote(name))
            }
        })
        .collect();
    missing.join(", ")
}

/// Where the skip column is in `headers`: the one `mapped` names (an error when the header has
/// none, or when it is one of the required columns at `columns`), else a column headed `skip`, if
/// any. The first of several such columns is used.
pub(super) fn skip_column(
    path: &Path,
    headers: &[String],
    columns: [usize; 3],
    mapped: Option<&str>,
) -> Result<Option<usize>, InputError> {
    let name = mapped.unwrap_or(SKIP).trim();
    let found = headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(mapped) = mapped else {
        // A header `skip` that is also mapped as a required column is that column, not a mark.
        return Ok(found.filter(|i| !columns.contains(i)));
    };
    let err = |message| InputError::SkipColumn {
        path: path.to_path_buf(),
        message,
    };
    match found {
        None => {
            Err(err(format!(
                "no column '{}' for --column skip; the header has: {}; name the column in the header row, or leave --column skip out",
                quote(mapped),
                shown_cells(headers, 0)
            )))
        }
        Some(i) => match columns.iter().position(|c| *c == i) {
            Some(c) => Err(err(format!(
                "--column skip='{}' names the {} column; the skip column must be a column of its own",
                quote(mapped),
                REQUIRED[c]
            ))),
            None => Ok(Some(i)),
        },
    }
}

/// What to do about the missing columns: a ready-to-paste `--column` mapping from the closest
/// headers not already in use, or, where no header comes close, the rename to make.
pub(super) fn suggestion(
    headers: &[String],
    found: &[Option<usize>; 3],
    names: &[String; 3],
) -> String {
    let mut taken: Vec<usize> = found.iter().flatten().copied().collect();
    let mut maps = Vec::new();
    let mut unmatched = Vec::new();
    for (c, key) in REQUIRED.iter().enumerate() {
        if found[c].is_some() {
            continue;
        }
        let pick = likely_header(key, &names[c], headers, &taken);
        match pick.and_then(|i| shell_word(&headers[i]).map(|w| (i, w))) {
            Some((i, word)) => {
                taken.push(i);
                maps.push(format!("--column {key}={word}"));
            }
            None => unmatched.push(*key),
        }
    }
    let mut hint = String::new();
    if !maps.is_empty() {
        hint.push_str(&format!(
            "; if these are the columns, add: {}",
            maps.join(" ")
        ));
    }
    if !unmatched.is_empty() {
        hint.push_str(&format!(
            "; {}name {} in the header row, or map {} with --column {}=\"YOUR HEADER\"",
            if maps.is_empty() { "" } else { "otherwise " },
            if unmatched.len() == 1 {
                "a column"
            } else {
                "columns"
            },
            unmatched.join(", "),
            unmatched[0]
        ));
    }
    hint
}

/// Words people put in a header for each required column, lower case, letters and digits only.
const SYNONYMS: [&[&str]; 3] = [
    &[
        "plant",
        "plantid",
        "plantno",
        "station",
        "stationid",
        "site",
        "siteid",
        "anlage",
    ],
    &[
        "sn",
        "serial",
        "serialnumber",
        "serialno",
        "deviceserial",
        "devicesn",
        "inverter",
        "datalogger",
        "logger",
        "seriennummer",
    ],
    &[
        "cuserid",
        "user",
        "userid",
        "customer",
        "customerid",
        "client",
        "clientid",
        "owner",
        "enduser",
        "account",
        "kunde",
    ],
];

/// Lower case letters and digits only: `Plant ID` and `plant_id` both become `plantid`.
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The unused header most likely meant for `key`: one that names it (or a word people use for
/// it), else one spelt closely enough to be a slip.
pub(super) fn likely_header(
    key: &str,
    want: &str,
    headers: &[String],
    taken: &[usize],
) -> Option<usize> {
    let synonyms = REQUIRED
        .iter()
        .position(|k| *k == key)
        .map_or(&[][..], |i| SYNONYMS[i]);
    let free = || (0..headers.len()).filter(|i| !taken.contains(i));
    let exact = free().find(|i| {
        let h = norm(&headers[*i]);
        h == norm(want) || synonyms.contains(&h.as_str())
    });
    let within = || {
        free().find(|i| {
            let h = norm(&headers[*i]);
            synonyms.iter().any(|s| s.len() >= 4 && h.contains(s))
        })
    };
    exact
        .or_else(within)
        .or_else(|| closest(want, headers).and_then(|h| free().find(|i| &headers[*i] == h)))
}

/// `header` as one shell word: bare when plain, else in double quotes (single quotes when it
/// holds characters a shell treats specially inside double quotes). `None` when it cannot be
/// pasted safely.
fn shell_word(header: &str) -> Option<String> {
    if header.is_empty() || header.chars().any(char::is_control) {
        return None;
    }
    if header
        .chars()
        .all(|c| c.is_alphanumeric() || "_.-/:+,@%".contains(c))
    {
        return Some(header.to_string());
    }
    if !header.contains(['"', '$', '`', '\\', '!']) {
        return Some(format!("\"{header}\""));
    }
    (!header.contains('\'')).then(|| format!("'{header}'"))
}

/// A row of values rather than names: some cell is a plain number (a header names columns; a
/// data row holds ids).
pub(super) fn looks_like_values(headers: &[String]) -> bool {
    headers
        .iter()
        .any(|h| !h.is_empty() && h.trim().chars().all(|c| c.is_ascii_digit()))
}

/// The header most like `want`, when it is close enough to be a likely misspelling.
fn closest<'a>(want: &str, headers: &'a [String]) -> Option<&'a String> {
    let w = norm(want);
    headers
        .iter()
        .map(|h| (edit_distance(&w, &norm(h)), h))
        // Fewer edits than `want` has letters: 'sn' is not a misspelling of '1' or 'id'.
        .filter(|(d, h)| *d <= 2.max(w.len() / 3) && *d < w.len() && !h.is_empty())
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A row's cells for a message: each quoted, and how many were left out.
pub(super) fn shown_cells(cells: &[String], more: usize) -> String {
    if cells.is_empty() {
        return "(nothing)".into();
    }
    let mut text: Vec<String> = cells.iter().map(|h| format!("'{}'", quote(h))).collect();
    if more > 0 {
        text.push(format!("and {more} more"));
    }
    text.join(", ")
}
