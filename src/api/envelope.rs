//! The API's JSON envelope `{"data", "error_code", "error_msg"}`, decoded leniently.

/// Decodes `{"error_code": N, "error_msg": "..."}`; `error_code` may be an integer or a numeric
/// string. Anything else is described in the error.
pub fn decode_envelope(body: &[u8]) -> Result<(i64, String), String> {
    decode_envelope_data(body).map(|(code, msg, _)| (code, msg))
}

/// [`decode_envelope`], also returning `data` when it is present and not null.
pub fn decode_envelope_data(
    body: &[u8],
) -> Result<(i64, String, Option<serde_json::Value>), String> {
    let mut value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            return Err(format!(
                "not the API's JSON envelope: {}",
                describe_body(body)
            ))
        }
    };
    let Some(obj) = value.as_object_mut() else {
        return Err("JSON without the API's envelope (not an object)".into());
    };
    let code = match obj.get("error_code") {
        Some(serde_json::Value::Number(n)) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }),
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let Some(code) = code else {
        return Err(match obj.get("error_code") {
            None => "JSON without an error_code".into(),
            Some(v) => format!(
                "error_code {} is not a number",
                crate::text::quote(&v.to_string())
            ),
        });
    };
    let msg = match obj.get("error_msg") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let data = obj.remove("data").filter(|d| !d.is_null());
    Ok((code, msg, data))
}

/// How an HTML body is named in [`crate::api::Answer::NotEnvelope`]'s reason.
pub const HTML_PAGE: &str = "an HTML page";

fn describe_body(body: &[u8]) -> String {
    let head = &body[..body.len().min(200)];
    // A compressed body whose encoding was not named, or any other binary: quoting its bytes
    // would only show escapes, so it is named by its size.
    if is_binary(head) {
        return format!(
            "a body of {} that is not text (binary, or compressed without saying so)",
            crate::text::count(body.len() as u64, "byte", "bytes")
        );
    }
    let text = String::from_utf8_lossy(head);
    let text = text.trim();
    if text.is_empty() {
        "an empty body".into()
    } else if text.starts_with('<') {
        format!("{HTML_PAGE} ('{}')", crate::text::quote(text))
    } else {
        format!("'{}'", crate::text::quote(text))
    }
}

/// Whether the start of a body is not text: a NUL, other control characters beside line breaks
/// and tabs, or bytes that are not UTF-8 (allowing for a character cut at the end).
fn is_binary(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return true,
    };
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_with_integer_or_string_code() {
        assert_eq!(
            decode_envelope(br#"{"error_code":0,"error_msg":""}"#),
            Ok((0, String::new()))
        );
        assert_eq!(
            decode_envelope(br#"{"data":null,"error_code":"10003","error_msg":"exists"}"#),
            Ok((10003, "exists".into()))
        );
        assert_eq!(
            decode_envelope(br#"{"error_code":-1,"error_msg":null}"#),
            Ok((-1, String::new()))
        );
        assert_eq!(
            decode_envelope(br#"{"error_code":" 10012 "}"#).map(|x| x.0),
            Ok(10012)
        );
    }

    #[test]
    fn not_envelopes_are_described() {
        assert!(
            decode_envelope(b"<html><body>502 Bad Gateway</body></html>")
                .unwrap_err()
                .contains("HTML page")
        );
        assert!(decode_envelope(br#"{"error_code":0"#).is_err());
        assert!(decode_envelope(b"").unwrap_err().contains("empty body"));
        assert!(decode_envelope(br#"{"error_msg":"x"}"#)
            .unwrap_err()
            .contains("without an error_code"));
        assert!(decode_envelope(br#"{"error_code":"abc"}"#)
            .unwrap_err()
            .contains("not a number"));
        assert!(decode_envelope(b"[1,2]").is_err());
        // The start of a Brotli body the server sent without naming its encoding.
        let why = decode_envelope(b"\x1b0\x04 ,\x00\xff\xfe binary").unwrap_err();
        assert_eq!(
            why,
            "not the API's JSON envelope: a body of 15 bytes that is not text (binary, or compressed without saying so)"
        );
    }
}
