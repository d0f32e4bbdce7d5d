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

#[cfg(test)]
mod tests {
    use super::*;

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
