//! Answers the server compressed (`Content-Encoding: br`, `gzip`, `deflate`), decoded under a
//! bound on what they decode to.
//!
//! Why the client decodes bodies itself rather than through reqwest's `gzip`/`brotli`/`deflate`
//! features:
//! - The live server was seen sending `plant/list` Brotli-compressed, apparently also to a client
//!   that had not asked for it. reqwest decodes only the encodings the client was built to
//!   advertise, so what is decoded would hang on what was asked, not on what came.
//! - The cap on an answer must hold for what the body decodes to: a few hundred bytes of Brotli
//!   can decode to gigabytes. Here the raw body is read under the cap first, then decoded through
//!   a reader that stops one byte past the cap, so memory stays bounded by the cap whatever the
//!   ratio, and the failure says what happened ("decodes to over 4 MiB") instead of a generic
//!   "error decoding response body" that reads like a broken connection.
//! - A body that does not decode (cut off, or not what its header says) is named as such, and the
//!   policy retries it like any answer that is not the API's.
//!
//! The raw body is bounded by the same cap before decoding, so decoding runs on at most that much
//! input, synchronously: a few milliseconds for a listing page.

use std::io::Read;

/// Most layers of encoding undone; a header naming more is not an API answer.
const MAX_LAYERS: usize = 3;

/// Why a compressed body could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The body decodes to more than the cap.
    TooLarge {
        /// The cap, in bytes.
        cap: usize,
    },
    /// An encoding the tool cannot decode.
    Unsupported(String),
    /// The body is not valid in the encoding its header names (cut off, or damaged).
    Corrupt(&'static str),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge { cap } => write!(
                f,
                "a compressed body that decodes to over {}, not the API's JSON envelope",
                size(*cap)
            ),
            DecodeError::Unsupported(name) => write!(
                f,
                "a body compressed as '{}', which the tool cannot decode",
                crate::text::quote(name)
            ),
            DecodeError::Corrupt(name) => {
                write!(f, "a {name} body that does not decode (cut off or damaged)")
            }
        }
    }
}

/// A byte count as a person reads it: `64 KiB`, `4 MiB`.
pub fn size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// The encodings a `Content-Encoding` value names, in the order they were applied.
fn layers(content_encoding: &str) -> Vec<String> {
    content_encoding
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e != "identity")
        .collect()
}

/// `raw` with every encoding of `content_encoding` undone, at most `cap` bytes. Without the header
/// (or with `identity`) the body is returned as it is.
pub fn decode(
    raw: Vec<u8>,
    content_encoding: Option<&str>,
    cap: usize,
) -> Result<Vec<u8>, DecodeError> {
    let Some(header) = content_encoding else {
        return Ok(raw);
    };
    let layers = layers(header);
    if layers.len() > MAX_LAYERS {
        return Err(DecodeError::Unsupported(header.to_string()));
    }
    let mut body = raw;
    for name in layers.iter().rev() {
        body = undo(&body, name, cap)?;
    }
    Ok(body)
}

/// Undoes one encoding.
fn undo(input: &[u8], name: &str, cap: usize) -> Result<Vec<u8>, DecodeError> {
    let (reader, label): (Box<dyn Read + '_>, &'static str) = match name {
        "br" => (
            Box::new(brotli_decompressor::Decompressor::new(input, 16 * 1024)),
            "Brotli",
        ),
        "gzip" | "x-gzip" => (Box::new(flate2::read::MultiGzDecoder::new(input)), "gzip"),
        // HTTP's "deflate" is zlib-wrapped, but servers also send bare deflate: the zlib header
        // (a checksum over its first two bytes) tells them apart.
        "deflate" if is_zlib_header(input) => {
            (Box::new(flate2::read::ZlibDecoder::new(input)), "deflate")
        }
        "deflate" => (
            Box::new(flate2::read::DeflateDecoder::new(input)),
            "deflate",
        ),
        other => return Err(DecodeError::Unsupported(other.to_string())),
    };
    read_bounded(reader, cap).map_err(|e| match e {
        Bounded::Over => DecodeError::TooLarge { cap },
        Bounded::Broken => DecodeError::Corrupt(label),
    })
}

fn is_zlib_header(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

enum Bounded {
    Over,
    Broken,
}

/// Everything `reader` gives, unless that is more than `cap` bytes: reading stops one byte past
/// the cap, so a bomb costs at most the cap in memory and the time to decode that much.
fn read_bounded(reader: impl Read, cap: usize) -> Result<Vec<u8>, Bounded> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| Bounded::Broken)?;
    if out.len() > cap {
        return Err(Bounded::Over);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
        }
        out
    }

    const BODY: &[u8] = br#"{"error_msg":"","data":{"count":0,"plants":[]},"error_code":0}"#;

    #[test]
    fn each_encoding_decodes() {
        assert_eq!(decode(BODY.to_vec(), None, 1024).unwrap(), BODY);
        assert_eq!(decode(BODY.to_vec(), Some("identity"), 1024).unwrap(), BODY);
        assert_eq!(decode(gzip(BODY), Some("gzip"), 1024).unwrap(), BODY);
        assert_eq!(decode(gzip(BODY), Some(" X-GZIP "), 1024).unwrap(), BODY);
        assert_eq!(decode(zlib(BODY), Some("deflate"), 1024).unwrap(), BODY);
        assert_eq!(decode(deflate(BODY), Some("deflate"), 1024).unwrap(), BODY);
        assert_eq!(decode(brotli(BODY), Some("br"), 1024).unwrap(), BODY);
        // Applied gzip first, then Brotli: undone in the reverse order.
        assert_eq!(
            decode(brotli(&gzip(BODY)), Some("gzip, br"), 1024).unwrap(),
            BODY
        );
    }

    #[test]
    fn the_cap_holds_for_the_decoded_body() {
        let big = vec![b' '; 10_000];
        assert_eq!(
            decode(gzip(&big), Some("gzip"), 10_000).unwrap().len(),
            10_000
        );
        for (body, enc) in [(gzip(&big), "gzip"), (brotli(&big), "br")] {
            let e = decode(body, Some(enc), 9_999).unwrap_err();
            assert_eq!(e, DecodeError::TooLarge { cap: 9_999 });
            assert!(e.to_string().contains("decodes to over 10 KiB"), "{e}");
        }
        assert!(DecodeError::TooLarge { cap: 4 << 20 }
            .to_string()
            .contains("over 4 MiB"));
    }

    #[test]
    fn broken_and_unknown_encodings_are_named() {
        let cut = brotli(BODY);
        let cut = cut[..cut.len() / 2].to_vec();
        let e = decode(cut, Some("br"), 1024).unwrap_err();
        assert_eq!(e, DecodeError::Corrupt("Brotli"));
        assert_eq!(
            e.to_string(),
            "a Brotli body that does not decode (cut off or damaged)"
        );
        let g = gzip(BODY);
        assert_eq!(
            decode(g[..g.len() - 6].to_vec(), Some("gzip"), 1024).unwrap_err(),
            DecodeError::Corrupt("gzip")
        );
        assert_eq!(
            decode(BODY.to_vec(), Some("gzip"), 1024).unwrap_err(),
            DecodeError::Corrupt("gzip")
        );
        let e = decode(BODY.to_vec(), Some("zstd"), 1024).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a body compressed as 'zstd', which the tool cannot decode"
        );
        assert!(decode(BODY.to_vec(), Some("br, br, br, br"), 1024).is_err());
    }
}
