//! The Growatt OpenAPI client: one form-encoded request, the envelope decoded, nothing decided.
//!
//! Deciding what an answer means for the row (finish, retry, pause, stop) is the policy module's
//! job; this module only turns an HTTP exchange into an [`Answer`].

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Url;

use crate::input::Device;

mod decode;
pub mod device_list;
mod envelope;
mod region;
mod token;

pub use decode::{decode, size, DecodeError};
pub use envelope::{decode_envelope, decode_envelope_data, HTML_PAGE};
pub use region::Region;
pub use token::Token;

/// Most of an add's answer that is read, after decoding: the add answers a few dozen bytes, so a
/// bigger body is not an envelope, and it is cut off here so that a broken or hostile server
/// cannot make the tool hold megabytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Most of a listing's or a lookup's answer that is read, after decoding. A page of 100 plants or
/// devices carries 18 or more fields an object live, and clients report dozens of undocumented
/// ones: at about 650 bytes a plant such a page passes 64 KiB. 4 MiB holds pages of objects six
/// times that size, and still bounds what a hostile server can make the tool hold.
pub const LISTING_MAX_BODY: usize = 4 * 1024 * 1024;

/// The encodings the client advertises; it decodes them whether or not it asked (see
/// `decode.rs`).
const ACCEPT_ENCODING: &str = "gzip, deflate, br";

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

/// How much of a reason an answer's words quote, so a hostile body cannot flood a message.
const REASON_LIMIT: usize = 200;

impl std::fmt::Display for Answer {
    /// The answer in words, for `-vv` lines and for messages about a listing or a lookup that
    /// failed: `HTTP 200, code 10004 (plant does not exist)`, `HTTP 502: not the API's JSON
    /// envelope: an HTML page (…)`, `no answer within the time limit`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Envelope {
                http_status,
                code,
                msg,
            } => {
                write!(f, "HTTP {http_status}, code {code}")?;
                if msg.is_empty() {
                    Ok(())
                } else {
                    write!(f, " ({})", crate::text::quote(msg))
                }
            }
            Answer::NotEnvelope { http_status, why } => {
                let why =
                    crate::text::shorten(&crate::text::escape_controls(why, false), REASON_LIMIT);
                // The client's reasons begin with the status already.
                if why.starts_with("HTTP ") {
                    f.write_str(&why)
                } else {
                    write!(f, "HTTP {http_status}: {why}")
                }
            }
            Answer::Timeout => f.write_str("no answer within the time limit"),
            // The client's reasons begin with what failed: "connection failed: …", "the answer
            // broke off: …".
            Answer::Connection(e) => f.write_str(&crate::text::shorten(
                &crate::text::escape_controls(e, false),
                REASON_LIMIT,
            )),
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
            if !is_loopback(&url) {
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

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The HTTP client for the OpenAPI, with the token in a sensitive default header.
///
/// Proxies: a loopback base URL (the simulator, a local gateway) is never proxied, whatever
/// `http_proxy`, `https_proxy` or `all_proxy` say, so the token cannot reach a proxy in clear
/// text and a proxy's answer is never taken for the server's. For an `https://` base, proxies from
/// the environment are used: the request goes through a CONNECT tunnel, encrypted end to end,
/// and the proxy sees neither the token nor the answers. Plain `http://` is loopback only (see
/// [`resolve_base`]), so an `http://` request never goes through a proxy.
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
        headers.insert(
            reqwest::header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPT_ENCODING),
        );
        let mut builder = reqwest::Client::builder();
        if is_loopback(&base) || base.scheme() != "https" {
            builder = builder.no_proxy();
        }
        let http = builder
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
        self.send(request, MAX_BODY).await
    }

    /// `path` joined to the base URL, or the attempt that failed on it.
    fn url(&self, path: &str) -> Result<Url, Attempt> {
        self.base.join(path).map_err(|e| Attempt {
            answer: Answer::Connection(format!("bad path {path}: {e}")),
            data: None,
            latency: Duration::ZERO,
        })
    }

    /// `GET` a `v1/` path with query parameters (for listing calls).
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Attempt {
        self.read(reqwest::Method::GET, path, |r| r.query(query))
            .await
    }

    /// `POST` a form to a `v1/` path (for reading calls such as `plant/sn_plant`).
    pub async fn post(&self, path: &str, form: &[(&str, String)]) -> Attempt {
        self.read(reqwest::Method::POST, path, |r| r.form(form))
            .await
    }

    /// A reading call: `method` on a `v1/` path, its parameters added by `params`, its answer
    /// read under the listings' cap.
    async fn read(
        &self,
        method: reqwest::Method,
        path: &str,
        params: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Attempt {
        match self.url(path) {
            Ok(url) => {
                let request = params(self.http.request(method, url));
                self.send(request, LISTING_MAX_BODY).await
            }
            Err(failed) => failed,
        }
    }

    /// Sends `request` and reads its answer, at most `cap` bytes of it once decoded.
    async fn send(&self, request: reqwest::RequestBuilder, cap: usize) -> Attempt {
        let started = Instant::now();
        let exchange = self.exchange(request, cap);
        let (answer, data) = match tokio::time::timeout(self.timeout, exchange).await {
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
        cap: usize,
    ) -> (Answer, Option<serde_json::Value>) {
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return (Answer::Connection(self.token.redact(&describe(&e))), None),
        };
        let http_status = response.status().as_u16();
        // Redirects are never followed (the token header would go along): where one points is
        // told instead, resolved against the request's address and without the token.
        let redirect = is_redirect(http_status)
            .then(|| response.headers().get(reqwest::header::LOCATION))
            .flatten()
            .map(|v| {
                let to = String::from_utf8_lossy(v.as_bytes()).into_owned();
                let to = response.url().join(to.trim()).map_or(to, |u| u.to_string());
                crate::text::shorten(&self.token.redact(&to), REDIRECT_LIMIT)
            });
        let encoding = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > cap {
                        let why = format!(
                            "HTTP {http_status} with a body over {}, not the API's JSON envelope",
                            size(cap)
                        );
                        return (Answer::NotEnvelope { http_status, why }, None);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return (Answer::Connection(self.token.redact(&describe(&e))), None),
            }
        }
        let body = match decode(body, encoding.as_deref(), cap) {
            Ok(body) => body,
            Err(e) => {
                let why = self.token.redact(&format!("HTTP {http_status}: {e}"));
                return (Answer::NotEnvelope { http_status, why }, None);
            }
        };
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
            Err(why) => {
                let why = match redirect {
                    Some(to) => format!("HTTP {http_status}: {REDIRECT_TO}{to}{NOT_FOLLOWED}{why}"),
                    None => format!("HTTP {http_status}: {why}"),
                };
                (
                    Answer::NotEnvelope {
                        http_status,
                        why: self.token.redact(&why),
                    },
                    None,
                )
            }
        }
    }
}

/// How the target of a redirect begins in [`Answer::NotEnvelope`]'s reason.
const REDIRECT_TO: &str = "a redirect to ";
/// How it ends, before what the body is.
const NOT_FOLLOWED: &str = " (not followed); ";
/// How much of a redirect's target is kept.
const REDIRECT_LIMIT: usize = 200;

/// Whether an HTTP status is a redirect (301, 302, 303, 307, 308): what a login portal or a
/// moved site answers, never the OpenAPI's own answer.
pub fn is_redirect(http_status: u16) -> bool {
    matches!(http_status, 301 | 302 | 303 | 307 | 308)
}

impl Answer {
    /// Where a redirect pointed, when this answer was one that named its target.
    pub fn redirected_to(&self) -> Option<&str> {
        match self {
            Answer::NotEnvelope { http_status, why } if is_redirect(*http_status) => {
                let rest = &why[why.find(REDIRECT_TO)? + REDIRECT_TO.len()..];
                Some(&rest[..rest.find(NOT_FOLLOWED)?])
            }
            _ => None,
        }
    }
}

/// How a failure to connect (DNS, refused, TLS) begins in [`Answer::Connection`].
pub const CONNECT_FAILED: &str = "connection failed";

/// A reqwest error in words, with its causes, and without the URL's query (never a secret here,
/// but kept short).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        CONNECT_FAILED.to_string()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".to_string()
    } else if e.is_request() {
        "the request failed".to_string()
    } else {
        "HTTP error".to_string()
    };
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        source = s.source();
        // An operating-system error in words, without its number.
        let part = match s.downcast_ref::<std::io::Error>() {
            Some(io) => crate::text::io_reason(io),
            None => s.to_string(),
        };
        let part = match part.find(" (os error ") {
            Some(cut) => part[..cut].to_string(),
            None => part,
        };
        // hyper's outer layer names its internal kind (`client error (Connect)`), which says
        // nothing the words around it do not.
        if part.is_empty() || part.starts_with("client error (") || parts.contains(&part) {
            continue;
        }
        parts.push(part);
        if parts.len() == 4 {
            break;
        }
    }
    for part in parts {
        text.push_str(": ");
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
