//! What stands between the page's server and everyone else on the machine: a key per launch
//! (in the printed URL, then an HttpOnly cookie), the `Host` header checked against the
//! listening address (DNS rebinding), the `Origin` of every state-changing request, and the
//! security headers on every answer.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::App;

/// The cookie's name.
pub const COOKIE: &str = "growatt_onboard_key";

/// The Content-Security-Policy: the page's own assets only.
const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// A new key: 32 hex digits from the system's random source.
pub fn new_key() -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// The host names a request may name for this listener: `127.0.0.1:PORT`, `localhost:PORT`,
/// `[::1]:PORT`.
pub fn allowed_hosts(port: u16) -> Vec<String> {
    vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// Equal without an early return on the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key a request carries: the cookie, or `Authorization: Bearer KEY`.
fn carried_key(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": why }))).into_response()
}

/// Checks every request, then adds the security headers to the answer.
pub async fn guard(State(app): State<std::sync::Arc<App>>, req: Request, next: Next) -> Response {
    let mut response = check(&app, req, next).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn check(app: &App, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own loopback address",
        );
    }
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let own = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| app.hosts.iter().any(|h| h.eq_ignore_ascii_case(o)));
        if state_changing && !own {
            return refuse(
                StatusCode::FORBIDDEN,
                "a request from another site was refused",
            );
        }
    } else if state_changing
        && req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v != "same-origin")
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "a request from another site was refused",
        );
    }
    // An upload larger than the page takes is refused before its body is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > (super::UPLOAD_CAP + super::FORM_SLACK) as u64) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the file is larger than the page takes ({} MiB); run it from the command line",
                super::UPLOAD_CAP >> 20
            ),
        );
    }
    // The printed URL: its key becomes the cookie, and the key leaves the address bar.
    if req.uri().path() == "/" {
        if let Some(key) = req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "key")
                .map(|(_, v)| v.to_string())
        }) {
            if !same(key.as_bytes(), app.key.as_bytes()) {
                return refuse(StatusCode::UNAUTHORIZED, "the key in this address is not this server's; use the address `growatt-onboard ui` printed");
            }
            let mut r = Redirect::to("/").into_response();
            let cookie = format!("{COOKIE}={key}; HttpOnly; SameSite=Strict; Path=/");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
    }
    match carried_key(req.headers()) {
        Some(k) if same(k.as_bytes(), app.key.as_bytes()) => next.run(req).await,
        _ => refuse(
            StatusCode::UNAUTHORIZED,
            "open the address `growatt-onboard ui` printed (it carries this launch's key)",
        ),
    }
}
