//! Finding the required columns in a header: by name or `--column` mapping, with a "did you
//! mean" for a near miss.

use std::path::Path;

use super::{InputError, REQUIRED};
use crate::text::quote;

/// Where plant_id, sn and c_user_id (or the names `names` maps them to) are in `headers`.
pub(super) fn match_columns(
    path: &Path,
    headers: &[String],
    names: &[String; 3],
) -> Result<[usize; 3], InputError> {
    let mut found: [Option<usize>; 3] = [None; 3];
    for (i, h) in headers.iter().enumerate() {
        for (c, name) in REQUIRED.iter().enumerate() {
            if h.eq_ignore_ascii_case(names[c].trim()) {
                if let Some(first) = found[c] {
                    return Err(InputError::DuplicateColumn {
                        path: path.to_path_buf(),
                        name,
                        first: first + 1,
                        second: i + 1,
                    });
                }
                found[c] = Some(i);
            }
        }
    }
    if let [Some(a), Some(b), Some(c)] = found {
        return Ok([a, b, c]);
    }
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
    let shown: Vec<String> = headers.iter().map(|h| format!("'{}'", quote(h))).collect();
    let hints: Vec<String> = missing
        .iter()
        .zip(
            REQUIRED
                .iter()
                .zip(names.iter())
                .zip(found.iter())
                .filter(|(_, f)| f.is_none()),
        )
        .filter_map(|(m, ((_, name), _))| {
            closest(name, headers).map(|h| format!("{m} (did you mean '{}'?)", quote(h)))
        })
        .collect();
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", hints.join(", "))
    };
    Err(InputError::MissingColumns {
        path: path.to_path_buf(),
        missing: missing.join(", "),
        found: if shown.is_empty() {
            "(nothing)".into()
        } else {
            shown.join(", ")
        },
        hint,
    })
}

/// The header most like `want`, when it is close enough to be a likely misspelling.
fn closest<'a>(want: &str, headers: &'a [String]) -> Option<&'a String> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
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
