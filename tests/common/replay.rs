//! A local server that replays recorded answers byte for byte, framed and labelled as the live
//! Growatt server sends them: HTTP 200, `Content-Type: text/html;charset=UTF-8`, a chunked body,
//! optionally `Content-Encoding: br` or a body cut off mid-way. It records every request it read
//! and stops when dropped (or after [`LIFETIME`] whatever happens).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::hostile::accept_until;

/// Longest a replay server lives.
pub const LIFETIME: Duration = Duration::from_secs(120);
/// The content type the live server labels its JSON with.
pub const LIVE_CONTENT_TYPE: &str = "text/html;charset=UTF-8";

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Req {
    /// `GET`, `POST`.
    pub method: String,
    /// The path without the query, e.g. `/v1/device/list`.
    pub path: String,
    /// Query and form fields together.
    pub params: HashMap<String, String>,
    /// The `Accept-Encoding` header, if any.
    pub accept_encoding: Option<String>,
    /// Whether the `token` header was there.
    pub has_token: bool,
}

impl Req {
    /// A field of the query or the form, or "".
    pub fn param(&self, key: &str) -> &str {
        self.params.get(key).map_or("", String::as_str)
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Headers beside the framing ones.
    pub headers: Vec<(String, String)>,
    /// The body as it goes on the wire (already compressed when a header says so).
    pub body: Vec<u8>,
    /// Send only this many body bytes, inside an unfinished chunk, then close.
    pub cut_after: Option<usize>,
}

impl Reply {
    /// `body` as the live server sends JSON: HTTP 200, text/html;charset=UTF-8, chunked.
    pub fn live(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), LIVE_CONTENT_TYPE.into())],
            body: body.into(),
            cut_after: None,
        }
    }

    /// `body` Brotli-compressed with `Content-Encoding: br`, whatever the request asked.
    pub fn live_brotli(body: &[u8]) -> Reply {
        let mut r = Reply::live(brotli(body));
        r.headers.push(("Content-Encoding".into(), "br".into()));
        r
    }

    /// The same answer cut off after half its body: the connection closes mid-chunk.
    pub fn cut_in_half(mut self) -> Reply {
        self.cut_after = Some(self.body.len() / 2);
        self
    }

    /// With an extra header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// `data` Brotli-compressed.
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = ::brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    out
}

/// A file of `tests/realworld/`, as it is.
pub fn capture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/realworld")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

/// A running replay server.
pub struct Replay {
    addr: SocketAddr,
    reqs: Arc<Mutex<Vec<Req>>>,
    stop: CancellationToken,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Replay {
    /// Serves `handler(request, how many earlier requests had the same path)`.
    pub async fn start(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let handler: Arc<Handler> = Arc::new(handler);
        let served = reqs.clone();
        accept_until(listener, LIFETIME, stop.clone(), move |sock| {
            let (reqs, handler) = (served.clone(), handler.clone());
            async move { serve(sock, &reqs, &*handler).await }
        });
        Replay { addr, reqs, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request read so far.
    pub fn reqs(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }

    /// Requests read for `path`.
    pub fn count(&self, path: &str) -> usize {
        self.reqs().iter().filter(|r| r.path == path).count()
    }
}

/// One connection: requests in turn until the client closes or an answer is cut off.
async fn serve(mut sock: TcpStream, reqs: &Mutex<Vec<Req>>, handler: &Handler) {
    loop {
        let Some(req) = read_request(&mut sock).await else {
            return;
        };
        let seen = {
            let mut all = reqs.lock().unwrap();
            let seen = all.iter().filter(|r| r.path == req.path).count();
            all.push(req.clone());
            seen
        };
        let reply = handler(&req, seen);
        if sock.write_all(&wire(&reply)).await.is_err() || reply.cut_after.is_some() {
            let _ = sock.shutdown().await;
            return;
        }
    }
}

/// The answer on the wire: status line, headers, then the body in two chunks (or cut off).
fn wire(reply: &Reply) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} OK\r\nTransfer-Encoding: chunked\r\n",
        reply.status
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    let body = &reply.body;
    if let Some(cut) = reply.cut_after {
        // A chunk announced whole, of which only `cut` bytes come.
        out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body[..cut.min(body.len())]);
        return out;
    }
    let half = body.len() / 2;
    for part in [&body[..half], &body[half..]] {
        if !part.is_empty() {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Reads one request (the harness's reader) and takes its fields apart; `None` when the client
/// closed.
async fn read_request(sock: &mut TcpStream) -> Option<Req> {
    let (method, target, headers, body) = crate::common::hostile::read_request(sock).await?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    Some(Req {
        method,
        path: path.to_string(),
        params,
        accept_encoding: headers.get("accept-encoding").cloned(),
        has_token: headers.contains_key("token"),
    })
}
