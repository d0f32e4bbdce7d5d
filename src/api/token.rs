//! The API key: kept out of every output, and redacted from whatever a server echoes.

use std::fmt;

/// The API key. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token read from the environment or a file; `None` when it is empty or could not be
    /// sent as an HTTP header.
    pub fn new(raw: &str) -> Result<Token, &'static str> {
        let t = raw.trim();
        if t.is_empty() {
            return Err("the token is empty");
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token has characters an HTTP header cannot carry (spaces or non-ASCII)",
            );
        }
        Ok(Token(t.to_string()))
    }

    /// A warning when the token does not have the 32 characters of a ShineServer OpenAPI token
    /// (cut short or pasted twice, most likely); it says the length, never the token.
    pub fn length_warning(&self) -> Option<String> {
        let n = self.0.chars().count();
        (n != 32).then(|| {
            format!(
                "the token is {}, but ShineServer's OpenAPI tokens have 32; check that it was copied whole",
                crate::text::count(n as u64, "character", "characters")
            )
        })
    }

    /// The secret itself, for the header and for redaction only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every piece of the token in `text` (see [`Token::redact_bytes`]), for text that
    /// came from a server.
    pub fn redact(&self, text: &str) -> String {
        let redacted = self.redact_bytes(text.as_bytes().to_vec());
        // Only ASCII (the token) was replaced by ASCII, so the text is still UTF-8.
        String::from_utf8(redacted)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Replaces every piece of the token in a raw body, before any of it is quoted: a quote
    /// cut short could otherwise keep part of the token, which [`Token::redact`] no longer finds.
    ///
    /// Not only the whole token: any [`PIECE`] characters of it in a row, in any ASCII case, so a
    /// prefix echoed back, a token wrapped over two lines or one with a character escaped in the
    /// middle leaves no piece that long anywhere the tool writes. Each stretch of the text made
    /// of such pieces becomes one `[token]`.
    pub fn redact_bytes(&self, body: Vec<u8>) -> Vec<u8> {
        // ASCII lower-casing keeps every byte where it was, so positions agree with `body`.
        let needle = self.0.to_ascii_lowercase();
        let needle = needle.as_bytes();
        let width = PIECE.min(needle.len());
        if body.len() < width {
            return body;
        }
        let pieces: std::collections::HashSet<&[u8]> = needle.windows(width).collect();
        let folded = body.to_ascii_lowercase();
        // Marks every byte covered by a piece; overlapping pieces join into one stretch.
        let mut covered_to = 0usize;
        let mut stretches: Vec<(usize, usize)> = Vec::new();
        for (i, window) in folded.windows(width).enumerate() {
            if pieces.contains(window) {
                let end = i + width;
                match stretches.last_mut() {
                    Some((_, e)) if i <= covered_to => *e = end,
                    _ => stretches.push((i, end)),
                }
                covered_to = end;
            }
        }
        if stretches.is_empty() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut at = 0;
        for (start, end) in stretches {
            out.extend_from_slice(&body[at..start]);
            out.extend_from_slice(b"[token]");
            at = end;
        }
        out.extend_from_slice(&body[at..]);
        out
    }
}

/// The longest piece of the token that may appear in anything the tool writes, less one.
pub const PIECE: usize = 8;

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([hidden])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_hidden() {
        let t = Token::new("  abcdef0123456789abcdef0123456789\n").unwrap();
        assert_eq!(t.expose(), "abcdef0123456789abcdef0123456789");
        assert!(!format!("{t:?}").contains("abcdef"));
        assert_eq!(
            t.redact("bad token abcdef0123456789abcdef0123456789!"),
            "bad token [token]!"
        );
        assert_eq!(
            t.redact("ÄÖ ABCDEF0123456789ABCDEF0123456789 é"),
            "ÄÖ [token] é"
        );
        let body =
            b"<p>abcdef0123456789abcdef0123456789 x abcdef0123456789abcdef0123456789".to_vec();
        assert_eq!(t.redact_bytes(body), b"<p>[token] x [token]".to_vec());
        assert_eq!(t.redact_bytes(b"abc".to_vec()), b"abc".to_vec());
        assert!(Token::new("  ").is_err());

        // Pieces: a prefix, a token wrapped over two lines, one escaped character.
        let t = Token::new("Zq7Xk2LmP9wR4tYv6NbC3sDf8GhJ5KaE").unwrap();
        let echoed = [
            "bad token Zq7Xk2LmP9wR4tYv...".to_string(),
            "token=Zq7Xk2LmP9wR4tYv6N\nbC3sDf8GhJ5KaE".to_string(),
            "<p>Zq7Xk2LmP9wR\\u00344tYv6NbC3sDf8GhJ5KaE</p>".to_string(),
            "zq7xk2lmp9wr4tyv6nbc3sdf8ghj5kae zQ7xK2lM".to_string(),
        ];
        for text in &echoed {
            let redacted = t.redact(text);
            for piece in t.expose().as_bytes().windows(PIECE) {
                let piece = std::str::from_utf8(piece).unwrap().to_ascii_lowercase();
                assert!(
                    !redacted.to_ascii_lowercase().contains(&piece),
                    "{text} -> {redacted} keeps {piece}"
                );
            }
            assert!(redacted.contains("[token]"), "{redacted}");
        }
        assert_eq!(
            t.redact("plant 1234 sn ABCD123456"),
            "plant 1234 sn ABCD123456"
        );
        assert!(Token::new("a b").is_err());
    }
}
