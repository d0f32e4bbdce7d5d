//! The Growatt OpenAPI client: one form-encoded request, the envelope decoded, nothing decided.
//!
//! Deciding what an answer means for the row (finish, retry, pause, stop) is the policy module's
//! job; this module only turns an HTTP exchange into an [`Answer`].

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Url;

use crate::input::Device;

/// Most of an answer's body that is read; a bigger body is not an envelope and is cut off here so
/// a broken or hostile server cannot make the tool hold megabytes.
pub const MAX_BODY: usize = 64 * 1024;

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

/// What one attempt came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The JSON envelope, whatever the HTTP status.
    Envelope {
        /// HTTP status of the answer.
        http_status: u16,
        /// `error_code`, decoded from an integer or a numeric string.
        code: i64,
        /// `error_msg`, with the token redacted.
        msg: String,
    },
    /// An answer that is not the envelope: an HTML error page, truncated JSON, an oversized body.
    NotEnvelope {
        /// HTTP status of the answer.
        http_status: u16,
        /// What was wrong with it.
        why: String,
    },
    /// No answer within the per-request time limit.
    Timeout,
    /// The connection could not be made or broke off.
    Connection(String),
}

impl Answer {
    /// The HTTP status, when there was an answer at all.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Answer::Envelope { http_status, .. } | Answer::NotEnvelope { http_status, .. } => {
                Some(*http_status)
            }
            Answer::Timeout | Answer::Connection(_) => None,
        }
    }
}

/// One request and its outcome.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// What came back.
    pub answer: Answer,
    /// The envelope's `data`, when it was not null (listing calls).
    pub data: Option<serde_json::Value>,
    /// From sending to the end of the answer (or the failure).
    pub latency: Duration,
}

/// A problem building the client; fatal for the run.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL does not parse or uses plain HTTP to a remote host.
    #[error("{0}")]
    BaseUrl(String),
    /// The HTTP stack could not be set up.
    #[error("cannot set up HTTP: {0}")]
    Http(String),
}

/// The regional servers, from the vendor's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// Europe and the rest of the world (the default server).
    Eu,
    /// North America.
    Us,
    /// China.
    Cn,
    /// Australia.
    Au,
    /// The vendor's test server.
    Test,
}

impl Region {
    /// The region's base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Eu => "https://openapi.growatt.com",
            Region::Us => "https://openapi-us.growatt.com",
            Region::Cn => "https://openapi-cn.growatt.com",
            Region::Au => "https://openapi-au.growatt.com",
            Region::Test => "https://test.growatt.com",
        }
    }
}

/// Checks a base URL and returns it ready for joining `v1/...` paths.
///
/// Plain `http://` is refused unless the host is loopback: the token would otherwise cross the
/// network in clear text.
pub fn resolve_base(raw: &str) -> Result<Url, ClientError> {
    let mut url = Url::parse(raw.trim())
        .map_err(|e| ClientError::BaseUrl(format!("--base-url '{raw}' is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(ClientError::BaseUrl(format!(
                    "--base-url '{raw}' uses plain http:// to a host that is not loopback; the token would travel unencrypted, so use https://"
                )));
            }
        }
        other => {
            return Err(ClientError::BaseUrl(format!(
                "--base-url '{raw}' has the scheme '{other}'; use https://"
            )))
        }
    }
    if url.host().is_none() {
        return Err(ClientError::BaseUrl(format!(
            "--base-url '{raw}' has no host"
        )));
    }
    // Accept the base with or without a trailing slash or `/v1`.
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1").unwrap_or(path).to_string();
    url.set_path(&format!("{path}/"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The HTTP client for the OpenAPI, with the token in a sensitive default header.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    add_url: Url,
    base: Url,
    token: Token,
    timeout: Duration,
}

impl Client {
    /// Builds the client. `base` comes from [`resolve_base`].
    pub fn new(
        base: Url,
        token: Token,
        timeout: Duration,
        concurrency: usize,
    ) -> Result<Client, ClientError> {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_str(token.expose())
            .map_err(|_| ClientError::Http("the token cannot be sent as a header".into()))?;
        value.set_sensitive(true);
        headers.insert("token", value);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("growatt-onboard/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the custom `token` header to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency.max(1))
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let add_url = base
            .join("v1/device/sn/add")
            .map_err(|e| ClientError::BaseUrl(e.to_string()))?;
        Ok(Client {
            http,
            add_url,
            base,
            token,
            timeout,
        })
    }

    /// The base URL in use (never contains the token).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `POST /v1/device/sn/add` for one device.
    pub async fn add_device(&self, device: &Device) -> Attempt {
        let plant_id = device.plant_id.to_string();
        let c_user_id = device.c_user_id.to_string();
        let form = [
            ("plant_id", plant_id.as_str()),
            ("sn", device.sn.as_str()),
            ("c_user_id", c_user_id.as_str()),
        ];
        let request = self.http.post(self.add_url.clone()).form(&form);
        self.send(request).await
    }

    /// `GET` a `v1/` path with query parameters (for listing calls).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Attempt {
        let url = match self.base.join(path) {
            Ok(u) => u,
            Err(e) => {
                return Attempt {
                    answer: Answer::Connection(format!("bad path {path}: {e}")),
                    data: None,
                    latency: Duration::ZERO,
                }
            }
        };
        self.send(self.http.get(url).query(query)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Attempt {
        let started = Instant::now();
        let (answer, data) = match tokio::time::timeout(self.timeout, self.exchange(request)).await
        {
            Ok(answer) => answer,
            Err(_) => (Answer::Timeout, None),
        };
        Attempt {
            answer,
            data,
            latency: started.elapsed(),
        }
    }

    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (Answer, Option<serde_json::Value>) {
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return (Answer::Connection(self.token.redact(&describe(&e))), None),
        };
        let http_status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        let why = format!(
                            "HTTP {http_status} with a body over {} KiB, not the API's JSON envelope",
                            MAX_BODY / 1024
                        );
                        return (Answer::NotEnvelope { http_status, why }, None);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return (Answer::Connection(self.token.redact(&describe(&e))), None),
            }
        }
        let body = self.token.redact_bytes(body);
        match decode_envelope_data(&body) {
            Ok((code, msg, data)) => (
                Answer::Envelope {
                    http_status,
                    code,
                    msg: self.token.redact(&msg),
                },
                data,
            ),
            Err(why) => (
                Answer::NotEnvelope {
                    http_status,
                    why: self.token.redact(&format!("HTTP {http_status}: {why}")),
                },
                None,
            ),
        }
    }
}

/// A reqwest error in words, with its causes, and without the URL's query (never a secret here,
/// but kept short).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".to_string()
    } else if e.is_request() {
        "the request failed".to_string()
    } else {
        "HTTP error".to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut seen = 0;
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
        seen += 1;
        if seen == 4 {
            break;
        }
    }
    text
}

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
                crate::input::quote(&v.to_string())
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

fn describe_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "an empty body".into()
    } else if text.starts_with('<') {
        format!("an HTML page ('{}')", crate::input::quote(text))
    } else {
        format!("'{}'", crate::input::quote(text))
    }
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
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            resolve_base("https://openapi.growatt.com")
                .unwrap()
                .as_str(),
            "https://openapi.growatt.com/"
        );
        assert_eq!(
            resolve_base("http://127.0.0.1:8080/v1/").unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            resolve_base("http://localhost:1/prefix").unwrap().as_str(),
            "http://localhost:1/prefix/"
        );
        assert!(resolve_base("http://[::1]:9").is_ok());
        assert!(resolve_base("http://openapi.growatt.com").is_err());
        assert!(resolve_base("http://10.0.0.1").is_err());
        assert!(resolve_base("ftp://x").is_err());
        assert!(resolve_base("nonsense").is_err());
    }

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
