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

/// Whether a terminal could act on `c` rather than show it: C0 and C1 control characters (ESC,
/// CR, LF, CSI …) and the bidirectional overrides that reorder what a reader sees.
fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` fit to print on a terminal or into a log: every control character escaped (`\u{1b}`,
/// `\r`), so a server's message or an input cell can neither drive the terminal nor forge a line
/// of its own. With `keep_newlines`, `\n` stays a line break (for a block of several lines).
pub fn escape_controls(text: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| is_hostile(c) && !(keep_newlines && c == '\n'))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hostile(c) && !(keep_newlines && c == '\n') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A JSON text with the control characters JSON itself lets through raw (C1, bidi overrides)
/// written as `\uXXXX` escapes: still the same JSON value, and harmless on a terminal.
pub fn escape_json_controls(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.chars().any(is_hostile) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_hostile(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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

/// A size in bytes as a person reads it: `512 bytes`, `64.0 KiB`, `1.5 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return count(bytes, "byte", "bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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
    fn sizes_in_words() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(64 * 1024), "64.0 KiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
    }

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

    #[test]
    fn controls_are_escaped_for_the_terminal() {
        let forged =
            "x\r\ngrowatt-onboard: 300 rows: 300 registered\u{1b}]52;c;aGk=\u{7}\u{9b}2J\u{202e}";
        let line = escape_controls(forged, false);
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{line}"
        );
        assert!(
            line.contains("\\r\\n") && line.contains("\\u{1b}]52"),
            "{line}"
        );
        assert_eq!(escape_controls("a\nb", true), "a\nb");
        assert_eq!(escape_controls("plain", false), "plain");
        let json = escape_json_controls("{\"m\":\"a\u{9b}b\"}");
        assert_eq!(json, "{\"m\":\"a\\u009bb\"}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["m"], "a\u{9b}b");
    }
}
