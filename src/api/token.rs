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

    /// Replaces every occurrence of the token in `text`, for text that came from a server.
    pub fn redact(&self, text: &str) -> String {
        let redacted = self.redact_bytes(text.as_bytes().to_vec());
        // Only ASCII (the token) was replaced by ASCII, so the text is still UTF-8.
        String::from_utf8(redacted)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Replaces every occurrence of the token in a raw body, before any of it is quoted: a quote
    /// cut short could otherwise keep part of the token, which [`Token::redact`] no longer finds.
    pub fn redact_bytes(&self, body: Vec<u8>) -> Vec<u8> {
        // Matched without regard to ASCII case, so an echo in upper case is caught too; ASCII
        // lower-casing keeps every byte where it was.
        let needle = self.0.to_ascii_lowercase();
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let folded = body.to_ascii_lowercase();
        if finder.find(&folded).is_none() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut at = 0;
        while let Some(i) = finder.find(&folded[at..]) {
            out.extend_from_slice(&body[at..at + i]);
            out.extend_from_slice(b"[token]");
            at += i + needle.len();
        }
        out.extend_from_slice(&body[at..]);
        out
    }
}

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
        assert!(Token::new("a b").is_err());
    }
}
