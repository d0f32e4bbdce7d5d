//! Text fit for a message or a results cell: control characters escaped, long values cut.

/// How much of an offending value a message quotes, so a damaged cell cannot flood the output.
const QUOTE_LIMIT: usize = 40;

/// A value fit to quote inside a message: control characters escaped, long values cut.
pub fn quote(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == QUOTE_LIMIT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` cut to `limit` characters, with an ellipsis when it was longer.
pub fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// A count with its noun, singular or plural: `1 row`, `2 rows`, `0 rows`. Every count a person
/// reads is written this one way.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What an I/O error means, in words a person can act on: never the operating system's error
/// number (`(os error 2)`) nor a temporary file's name (`at path "/x/.tmpQWhIk0"`).
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let full = e.to_string();
    let from_os = e.raw_os_error().is_some() || full.contains(" at path \"");
    let words = match e.kind() {
        K::NotFound => Some("no such file or folder"),
        K::PermissionDenied => {
            Some("permission denied; check the permissions of the file and its folder")
        }
        K::AlreadyExists => Some("it already exists"),
        K::IsADirectory => Some("it is a folder, not a file"),
        K::NotADirectory => Some("a part of the path is a file, not a folder"),
        K::StorageFull => Some("the disk is full"),
        K::ReadOnlyFilesystem => Some("the disk is read-only"),
        K::DirectoryNotEmpty => Some("the folder is not empty"),
        K::InvalidFilename => Some("the file name is not valid here"),
        _ => None,
    };
    match words {
        Some(w) if from_os => w.to_string(),
        _ => {
            let cut = [" at path \"", " (os error "]
                .iter()
                .filter_map(|m| full.find(m))
                .min()
                .unwrap_or(full.len());
            full[..cut].to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_carry_no_programmer_text() {
        let gone = std::fs::File::open("/no/such/dir/growatt-onboard-x").unwrap_err();
        assert_eq!(io_reason(&gone), "no such file or folder");
        let dir = tempfile::tempdir().unwrap();
        let tmp = tempfile::NamedTempFile::new_in(dir.path().join("missing")).unwrap_err();
        let said = io_reason(&tmp);
        assert!(
            !said.contains("os error") && !said.contains(".tmp"),
            "{said}"
        );
        let custom = std::io::Error::new(std::io::ErrorKind::NotFound, "no results here");
        assert_eq!(io_reason(&custom), "no results here");
        let other = std::io::Error::from_raw_os_error(5);
        assert!(
            !io_reason(&other).contains("os error"),
            "{}",
            io_reason(&other)
        );
    }

    #[test]
    fn quotes_escape_and_cut() {
        assert_eq!(quote("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(quote(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
