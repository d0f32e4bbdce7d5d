//! A hand-written HTTP/1.1 responder on 127.0.0.1:0 for the cases the simulator will not play:
//! HTML error pages, truncated, endless and huge bodies, silence, resets, redirects, token echoes.
//! It records each request it read, answers as the test tells it, and stops by itself: when the
//! test drops it, and in any case after [`SERVER_LIFETIME`] (each connection after
//! [`CONN_LIFETIME`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A token for runs against these servers: distinctive, so any piece of it in the output is a
/// leak.
pub const TOKEN: &str = "Zq7Xk2LmP9wR4tYv6NbC3sDf8GhJ5KaE";
/// Longest any of these servers lives, whatever the test does.
pub const SERVER_LIFETIME: Duration = Duration::from_secs(90);
/// Longest one connection is served.
pub const CONN_LIFETIME: Duration = Duration::from_secs(20);
/// Most of a request's head and body the servers read.
pub const REQUEST_LIMIT: usize = 64 * 1024;

/// One request as a server read it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Order of arrival, from 0.
    pub n: usize,
    pub method: String,
    pub path: String,
    /// The `token` header, if any.
    pub token: Option<String>,
    /// The form fields of the body.
    pub form: HashMap<String, String>,
    /// How many earlier requests carried the same `sn` (0 for the first).
    pub seen_sn: usize,
}

impl Req {
    /// The form's `sn`, or "" without one.
    pub fn sn(&self) -> &str {
        self.form.get("sn").map(String::as_str).unwrap_or("")
    }
}

/// What a server does with a request it read.
pub enum Act {
    /// These bytes as they are (a whole HTTP answer, or less), then close.
    Send(Vec<u8>),
    /// Say nothing for this long (or until the server stops), then close.
    Silent(Duration),
    /// Close with a TCP reset (SO_LINGER 0).
    Reset,
    /// A 200 without a length whose body never ends (until the client goes away).
    Endless,
    /// A 200 announcing `n` bytes and sending them, as long as the client reads.
    Huge(usize),
}

type Handler = dyn Fn(&Req) -> Act + Send + Sync;

struct State {
    handler: Box<Handler>,
    reqs: Mutex<Vec<Req>>,
    /// Body bytes written by each streamed answer (Endless, Huge).
    streamed: Mutex<Vec<Arc<AtomicU64>>>,
}

/// A local server with a scripted behaviour that counts what it got.
pub struct Hostile {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
    accepted: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Hostile {
    /// A server that reads each request and does what `handler` says.
    pub async fn start(handler: impl Fn(&Req) -> Act + Send + Sync + 'static) -> Hostile {
        Hostile::spawn(true, Box::new(handler)).await
    }

    /// A server that accepts connections and never reads or answers.
    pub async fn mute() -> Hostile {
        Hostile::spawn(false, Box::new(|_| Act::Silent(CONN_LIFETIME))).await
    }

    async fn spawn(read: bool, handler: Box<Handler>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            handler,
            reqs: Mutex::new(Vec::new()),
            streamed: Mutex::new(Vec::new()),
        });
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let (served, counted) = (state.clone(), accepted.clone());
        accept_until(listener, SERVER_LIFETIME, stop.clone(), move |sock| {
            counted.fetch_add(1, Ordering::SeqCst);
            let state = served.clone();
            async move {
                let _ = tokio::time::timeout(CONN_LIFETIME, serve(sock, read, &state)).await;
            }
        });
        Hostile {
            addr,
            state,
            accepted,
            stop,
        }
    }

    /// `http://` and the address.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request read so far.
    pub fn reqs(&self) -> Vec<Req> {
        self.state.reqs.lock().unwrap().clone()
    }

    /// How many requests were read.
    pub fn requests(&self) -> usize {
        self.state.reqs.lock().unwrap().len()
    }

    /// How many connections were accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests per serial.
    pub fn per_sn(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.reqs() {
            *m.entry(r.sn().to_string()).or_insert(0) += 1;
        }
        m
    }

    /// Body bytes each streamed answer managed to write.
    pub fn streamed(&self) -> Vec<u64> {
        self.state
            .streamed
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }

    /// Every request was the add call, as a form, with the token header.
    pub fn assert_requests_proper(&self) {
        for r in self.reqs() {
            assert_eq!(r.method, "POST", "{r:?}");
            assert_eq!(r.path, "/v1/device/sn/add", "{r:?}");
            assert_eq!(r.token.as_deref(), Some(TOKEN), "{r:?}");
            assert_eq!(r.form.get("plant_id").map(String::as_str), Some("1"));
            assert_eq!(r.form.get("c_user_id").map(String::as_str), Some("1"));
            assert!(!r.sn().is_empty(), "{r:?}");
        }
    }
}

/// Accepts connections on `listener` until `stop` is cancelled or `lifetime` has passed, and runs
/// `serve` on each in a task of its own, which `stop` ends too.
pub fn accept_until<F, Fut>(
    listener: TcpListener,
    lifetime: Duration,
    stop: CancellationToken,
    serve: F,
) where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let lifetime = tokio::time::sleep(lifetime);
        tokio::pin!(lifetime);
        loop {
            let sock = tokio::select! {
                _ = stop.cancelled() => break,
                _ = &mut lifetime => break,
                r = listener.accept() => match r {
                    Ok((sock, _)) => sock,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            let (conn, stop) = (serve(sock), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = conn => {}
                }
            });
        }
    });
}

async fn serve(mut sock: TcpStream, read: bool, state: &State) {
    if !read {
        // Accepted, never read, never answered.
        std::future::pending::<()>().await;
    }
    let Some((method, path, headers, body)) = read_request(&mut sock).await else {
        return;
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let req = {
        let mut reqs = state.reqs.lock().unwrap();
        let sn = form.get("sn").cloned().unwrap_or_default();
        let seen_sn = reqs.iter().filter(|r| r.sn() == sn).count();
        let req = Req {
            n: reqs.len(),
            method,
            path,
            token: headers.get("token").cloned(),
            form,
            seen_sn,
        };
        reqs.push(req.clone());
        req
    };
    match (state.handler)(&req) {
        Act::Send(bytes) => {
            let _ = sock.write_all(&bytes).await;
            let _ = sock.flush().await;
            let _ = sock.shutdown().await;
        }
        Act::Silent(d) => tokio::time::sleep(d).await,
        Act::Reset => {
            let _ = sock.set_zero_linger();
            drop(sock);
        }
        Act::Endless => {
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"error_code\":0,\"error_msg\":\"";
            stream_body(sock, head, None, state).await;
        }
        Act::Huge(n) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n{{\"error_code\":0,\"error_msg\":\""
            );
            stream_body(sock, head.as_bytes(), Some(n), state).await;
        }
    }
}

/// Writes `head`, then body bytes until `limit` (or forever) or until the client goes away.
async fn stream_body(mut sock: TcpStream, head: &[u8], limit: Option<usize>, state: &State) {
    let written = Arc::new(AtomicU64::new(0));
    state.streamed.lock().unwrap().push(written.clone());
    if sock.write_all(head).await.is_err() {
        return;
    }
    let chunk = vec![b'a'; 16 * 1024];
    loop {
        let sent = written.load(Ordering::SeqCst) as usize;
        let n = match limit {
            Some(limit) if sent >= limit => break,
            Some(limit) => chunk.len().min(limit - sent),
            None => chunk.len(),
        };
        if sock.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        written.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = sock.shutdown().await;
}

/// Reads one HTTP/1.1 request: method, target (the path and any query), headers (names
/// lowercased) and body (at most [`REQUEST_LIMIT`] of each); `None` when the client closed first.
pub async fn read_request(
    sock: &mut TcpStream,
) -> Option<(String, String, HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > REQUEST_LIMIT {
            return None;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(REQUEST_LIMIT);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some((method, path, headers, body))
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// The reason phrase of a status line.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Whatever",
    }
}

/// A whole HTTP answer with a Content-Length.
pub fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A whole answer with a JSON body.
pub fn json(status: u16, body: &str) -> Act {
    Act::Send(http(
        status,
        &[("Content-Type", "application/json;charset=UTF-8")],
        body.as_bytes(),
    ))
}

/// A whole answer with an HTML body.
pub fn html(status: u16, body: &str) -> Act {
    Act::Send(http(
        status,
        &[("Content-Type", "text/html")],
        body.as_bytes(),
    ))
}

/// The API's envelope, with an integer code.
pub fn envelope(code: i64, msg: &str) -> Act {
    json(
        200,
        &serde_json::json!({"data": null, "error_code": code, "error_msg": msg}).to_string(),
    )
}

/// nginx's own 502 page.
pub const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// No piece of the token of 8 characters or more appears in `text`.
pub fn assert_no_token(what: &str, text: &str) {
    for w in TOKEN.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap();
        assert!(
            !text.contains(w),
            "{what} contains part of the token ('{w}'):\n{text}"
        );
    }
}
