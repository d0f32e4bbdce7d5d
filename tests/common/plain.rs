//! What a person reads must be words: no Rust value's `Debug` shape (`NotEnvelope { http_status:
//! .. }`, `Connection("…")`, `Some(…)`), no bare operating-system error number (`(os error 2)`),
//! no library's internal names (`client error (Connect)`), and no "never" standing for a date.
#![allow(dead_code)] // each test file uses a different subset

/// Phrases that are never words for a person.
const BANNED: &[&str] = &[
    "os error",
    "Some(",
    "Ok(",
    "Err(",
    "Kind(",
    "kind: ",
    "client error (",
    "listing of never",
    "never pulled",
    "NotEnvelope",
    "Envelope {",
    "Answer::",
    // A unit variant printed alone where a reason belongs.
    ": Timeout",
    "(Timeout)",
];

/// Every place in `text` that shows a Rust value's shape instead of words, with its context.
pub fn debug_shapes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let context = |at: usize| {
        let start = text[..at]
            .char_indices()
            .rev()
            .nth(40)
            .map_or(0, |(i, _)| i);
        let end = text[at..]
            .char_indices()
            .nth(60)
            .map_or(text.len(), |(i, _)| at + i);
        text[start..end].to_string()
    };
    for banned in BANNED {
        for (at, _) in text.match_indices(banned) {
            found.push(format!("'{banned}' in …{}…", context(at)));
        }
    }
    // `Name { field: ` (a struct's Debug) and `Name("` (a tuple variant holding a string).
    let bytes = text.as_bytes();
    for (i, w) in bytes.windows(2).enumerate() {
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if !(starts_word && w[0].is_ascii_uppercase()) {
            continue;
        }
        let name_end = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |n| i + n);
        // Rust's types are CamelCase; an all-capitals word (a spreadsheet's `HYPERLINK("`) is
        // a cell quoted, not a value's shape.
        if !bytes[i..name_end].iter().any(u8::is_ascii_lowercase) {
            continue;
        }
        let rest = &text[name_end..];
        let struct_like = rest.strip_prefix(" { ").is_some_and(|r| {
            let field: String = r
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            !field.is_empty() && r[field.len()..].starts_with(": ")
        });
        if struct_like || rest.starts_with("(\"") {
            found.push(format!("a value's shape in …{}…", context(i)));
        }
    }
    found
}

/// Fails, naming `what` and each shape, when `text` shows any.
pub fn assert_plain_words(what: &str, text: &str) {
    let found = debug_shapes(text);
    assert!(
        found.is_empty(),
        "{what} shows a Rust value's shape instead of words:\n  {}\nfull text:\n{text}",
        found.join("\n  ")
    );
}

#[test]
fn the_checker_catches_the_shapes_and_lets_words_through() {
    for bad in [
        r#"error: v1/plant/list page 1 failed (NotEnvelope { http_status: 200, why: "x" })"#,
        "the listing failed: Timeout",
        r#"plant/sn_plant failed: Connection("reset")"#,
        "account cache /x: Not a directory (os error 20)",
        "connection failed: client error (Connect): tcp connect error",
        "server x, token y…, never pulled (listing of never)",
        "got Some(3)",
    ] {
        assert!(!debug_shapes(bad).is_empty(), "{bad}");
    }
    for good in [
        "plant 42: the listing failed: no answer within the time limit; its 2 rows stay unchecked",
        "HTTP 200: not the API's JSON envelope: an HTML page ('<html>')",
        r#"{"event":"error","message":"a { b: c }"}"#,
        "row 2: XGD4A4821T is the collector (datalogger) serial of 2 devices",
        "Growatt refuses it (Connect the device first)",
        r#"row 8: invalid: sn '=HYPERLINK("http://x")' has '='"#,
    ] {
        assert_eq!(debug_shapes(good), Vec::<String>::new(), "{good}");
    }
}
