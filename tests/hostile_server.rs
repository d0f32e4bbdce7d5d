//! The binary against broken and hostile servers: HTML error pages, truncated, endless and huge
//! bodies, silence, resets, codes as strings, formula-like messages, token echoes, account-level
//! stops, ambiguous timeouts, 429/408 and redirects.
//!
//! Every server here is a hand-written HTTP/1.1 responder on 127.0.0.1:0 that records each request
//! it read, answers as the test tells it, and stops by itself: when the test drops it, and in any
//! case after [`SERVER_LIFETIME`] (each connection after [`CONN_LIFETIME`]).

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use common::{assert_exit, read_results, stderr, stdout, write, BIN};

/// The token every run here uses: distinctive, so any piece of it in the output is a leak.
const TOKEN: &str = "Zq7Xk2LmP9wR4tYv6NbC3sDf8GhJ5KaE";
/// Longest any server in this file lives, whatever the test does.
const SERVER_LIFETIME: Duration = Duration::from_secs(90);
/// Longest one connection is served.
const CONN_LIFETIME: Duration = Duration::from_secs(20);
/// Longest one run of the binary may take before the test calls it hung (and kills it).
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Most of a request's head and body the servers read.
const REQUEST_LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------------------------

/// One request as a server read it.
#[derive(Debug, Clone)]
struct Req {
    /// Order of arrival, from 0.
    n: usize,
    method: String,
    path: String,
    /// The `token` header, if any.
    token: Option<String>,
    /// The form fields of the body.
    form: HashMap<String, String>,
    /// How many earlier requests carried the same `sn` (0 for the first).
    seen_sn: usize,
}

impl Req {
    fn sn(&self) -> &str {
        self.form.get("sn").map(String::as_str).unwrap_or("")
    }
}

/// What a server does with a request it read.
enum Act {
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
struct Hostile {
    addr: SocketAddr,
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
    async fn start(handler: impl Fn(&Req) -> Act + Send + Sync + 'static) -> Hostile {
        Hostile::spawn(true, Box::new(handler)).await
    }

    /// A server that accepts connections and never reads or answers.
    async fn mute() -> Hostile {
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
        {
            let (state, accepted, stop) = (state.clone(), accepted.clone(), stop.clone());
            tokio::spawn(async move {
                let lifetime = tokio::time::sleep(SERVER_LIFETIME);
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
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (state, stop) = (state.clone(), stop.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = tokio::time::sleep(CONN_LIFETIME) => {}
                            _ = serve(sock, read, &state) => {}
                        }
                    });
                }
            });
        }
        Hostile {
            addr,
            state,
            accepted,
            stop,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn reqs(&self) -> Vec<Req> {
        self.state.reqs.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.state.reqs.lock().unwrap().len()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests per serial.
    fn per_sn(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.reqs() {
            *m.entry(r.sn().to_string()).or_insert(0) += 1;
        }
        m
    }

    /// Body bytes each streamed answer managed to write.
    fn streamed(&self) -> Vec<u64> {
        self.state
            .streamed
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect()
    }

    /// Every request was the add call, as a form, with the token header.
    fn assert_requests_proper(&self) {
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

/// Reads one HTTP/1.1 request: method, path, headers (names lowercased) and body.
async fn read_request(
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
fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
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

fn json(status: u16, body: &str) -> Act {
    Act::Send(http(
        status,
        &[("Content-Type", "application/json;charset=UTF-8")],
        body.as_bytes(),
    ))
}

fn html(status: u16, body: &str) -> Act {
    Act::Send(http(
        status,
        &[("Content-Type", "text/html")],
        body.as_bytes(),
    ))
}

/// The API's envelope, with an integer code.
fn envelope(code: i64, msg: &str) -> Act {
    json(
        200,
        &serde_json::json!({"data": null, "error_code": code, "error_msg": msg}).to_string(),
    )
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

struct Ran {
    out: Output,
    elapsed: Duration,
    /// Peak resident memory of the process (VmHWM), in KiB, when it was sampled at all.
    peak_rss_kib: Option<u64>,
}

/// Runs the binary with [`TOKEN`] in GROWATT_TOKEN and no terminal; kills it and fails the test
/// if it has not ended after [`RUN_LIMIT`]. With `measure`, polls its peak memory while it runs.
async fn run_tool(args: &[String], measure: bool) -> Ran {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env("GROWATT_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = cmd.spawn().expect("the binary starts");
    let pid = child.id().expect("a running child has a pid");
    let done = CancellationToken::new();
    let poller = measure.then(|| {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak: Option<u64> = None;
            loop {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    let hwm = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                    if hwm.is_some() {
                        peak = peak.max(hwm);
                    }
                }
                tokio::select! {
                    _ = done.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(3)) => {}
                }
            }
            peak
        })
    });
    let out = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("the binary ended by itself")
        .expect("the binary runs");
    let elapsed = started.elapsed();
    done.cancel();
    let peak_rss_kib = match poller {
        Some(p) => p.await.unwrap(),
        None => None,
    };
    Ran {
        out,
        elapsed,
        peak_rss_kib,
    }
}

/// `run FLEET --base-url BASE` with a fast pace, 1 ms backoff, 3 attempts and `timeout` seconds.
fn run_args(fleet: &Path, base: &str, timeout: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        fleet.to_str().unwrap(),
        "--base-url",
        base,
        "--rate",
        "1000/s",
        "--backoff",
        "1ms",
        "--timeout",
        timeout,
        "--max-attempts",
        "3",
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A fleet file of these serials, all on plant 1 / user 1; row N+2 is `sns[N]`.
fn fleet(dir: &Path, sns: &[&str]) -> PathBuf {
    let mut text = String::from("plant_id,sn,c_user_id\n");
    for sn in sns {
        text.push_str(&format!("1,{sn},1\n"));
    }
    write(dir, "f.csv", text)
}

/// `n` serials `DEV00000`… .
fn serials(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("DEV{i:05}")).collect()
}

/// The results lines, keyed by serial (latest line wins); empty when there is no file.
fn results_by_sn(path: &Path) -> HashMap<String, HashMap<String, String>> {
    if !path.exists() {
        return HashMap::new();
    }
    read_results(path)
        .into_iter()
        .map(|l| (l["sn"].clone(), l))
        .collect()
}

fn results_path(dir: &Path) -> PathBuf {
    dir.join("f.results.csv")
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("f.results.summary.json")).unwrap())
        .unwrap()
}

/// No piece of the token of 8 characters or more appears in `text`.
fn assert_no_token(what: &str, text: &str) {
    for w in TOKEN.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap();
        assert!(
            !text.contains(w),
            "{what} contains part of the token ('{w}'):\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_502_is_retried_then_failed() {
    let srv = Hostile::start(|_| html(502, NGINX_502)).await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["HTML1", "HTML2"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    assert!(stdout(&ran.out).is_empty());
    let lines = read_results(&results_path(dir.path()));
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3");
        assert_eq!(l["error_code"], "");
        assert_eq!(l["http_status"], "502");
        assert!(l["error_msg"].contains("HTML"), "{l:?}");
        assert!(l["error_msg"].contains("gave up after 3 attempts"), "{l:?}");
    }
    assert_eq!(srv.requests(), 6);
    assert!(srv.per_sn().values().all(|n| *n == 3));
    srv.assert_requests_proper();
    let s = summary(dir.path());
    assert_eq!(s["outcomes"]["failed"], 2);
    assert_eq!(s["requests"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_is_retried_then_failed() {
    let srv = Hostile::start(|r| match r.sn() {
        // A whole HTTP answer whose JSON stops short.
        "TRUNC1" => json(200, r#"{"error_code":0"#),
        // The body announced as longer than what is sent before the connection closes.
        _ => Act::Send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{\"error_code\":0".to_vec(),
        ),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["TRUNC1", "CUTOFF1"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    let by_sn = results_by_sn(&results_path(dir.path()));
    let t = &by_sn["TRUNC1"];
    assert_eq!(t["outcome"], "failed", "{t:?}");
    assert_eq!(t["attempts"], "3");
    assert_eq!(t["error_code"], "");
    assert_eq!(t["http_status"], "200");
    assert!(
        t["error_msg"].contains("not the API's JSON envelope"),
        "{t:?}"
    );
    let c = &by_sn["CUTOFF1"];
    assert_eq!(c["outcome"], "failed", "{c:?}");
    assert_eq!(c["attempts"], "3");
    assert_eq!(c["error_code"], "");
    assert!(c["error_msg"].contains("gave up after 3 attempts"), "{c:?}");
    assert_eq!(srv.per_sn()["TRUNC1"], 3);
    assert_eq!(srv.per_sn()["CUTOFF1"], 3);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_and_huge_bodies_are_cut_at_64_kib_with_memory_bounded() {
    const HUGE: usize = 50 * 1024 * 1024;
    let srv = Hostile::start(|r| {
        if r.sn().starts_with("ENDLESS") {
            Act::Endless
        } else {
            Act::Huge(HUGE)
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sns = [
        "ENDLESS1", "ENDLESS2", "ENDLESS3", "HUGE1", "HUGE2", "HUGE3",
    ];
    let f = fleet(dir.path(), &sns);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), true).await;
    assert_exit(&ran.out, 3);
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert_eq!(by_sn.len(), sns.len());
    for sn in sns {
        let l = &by_sn[sn];
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3");
        assert_eq!(l["error_code"], "");
        assert_eq!(l["http_status"], "200");
        assert!(l["error_msg"].contains("over 64 KiB"), "{l:?}");
    }
    assert_eq!(srv.requests(), 18);
    srv.assert_requests_proper();
    // Each attempt ended on the size, not the 1 s time limit: 18 attempts, 4 at a time, would take
    // at least 5 s if they had waited for it.
    assert!(ran.elapsed < Duration::from_secs(4), "{:?}", ran.elapsed);
    // The client stopped reading: no streamed answer got anywhere near its end (what was written is
    // what the kernel's socket buffers took).
    let streamed = srv.streamed();
    assert_eq!(streamed.len(), 18);
    for n in &streamed {
        assert!(*n < HUGE as u64 / 2, "a streamed answer got {n} bytes out");
    }
    match ran.peak_rss_kib {
        Some(kib) => {
            eprintln!("peak RSS of the run: {kib} KiB");
            assert!(kib < 200 * 1024, "peak RSS {kib} KiB");
        }
        None => eprintln!("note: the run ended before its memory could be sampled"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_fails() {
    // Reads the request, then silence.
    let srv = Hostile::start(|_| Act::Silent(CONN_LIFETIME)).await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["SILENT1", "SILENT2"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "0.5", &[]), false).await;
    assert_exit(&ran.out, 3);
    // Three attempts of 0.5 s, the two rows side by side.
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    assert!(
        ran.elapsed >= Duration::from_millis(1400),
        "{:?}",
        ran.elapsed
    );
    let lines = read_results(&results_path(dir.path()));
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3");
        assert_eq!(l["error_code"], "");
        assert_eq!(l["http_status"], "");
        assert!(
            l["error_msg"].contains("no answer within the time limit"),
            "{l:?}"
        );
    }
    assert_eq!(srv.requests(), 6);
    srv.assert_requests_proper();

    // Accepts the connection, never even reads the request.
    let mute = Hostile::mute().await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["MUTE1"]);
    let ran = run_tool(&run_args(&f, &mute.base_url(), "0.5", &[]), false).await;
    assert_exit(&ran.out, 3);
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    let l = &read_results(&results_path(dir.path()))[0];
    assert_eq!(l["outcome"], "failed", "{l:?}");
    assert_eq!(l["attempts"], "3");
    assert!(
        l["error_msg"].contains("no answer within the time limit"),
        "{l:?}"
    );
    assert_eq!(mute.accepted(), 3, "one connection per attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_retried_then_failed() {
    let srv = Hostile::start(|r| match r.sn() {
        "RESET1" | "RESET2" => Act::Reset,
        // Closed cleanly without a word.
        _ => Act::Send(Vec::new()),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["RESET1", "RESET2", "CLOSED1"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert_eq!(by_sn.len(), 3);
    for (sn, l) in &by_sn {
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3", "{l:?}");
        assert_eq!(l["error_code"], "");
        assert_eq!(l["http_status"], "");
        assert!(
            l["error_msg"].to_lowercase().contains("connection"),
            "{sn}: {l:?}"
        );
        assert_eq!(srv.per_sn()[sn], 3, "{sn}");
    }
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_codes_as_strings_are_understood() {
    let srv = Hostile::start(|r| match r.sn() {
        "STRZERO" => json(200, r#"{"error_code":"0","error_msg":""}"#),
        _ => json(
            200,
            r#"{"data":null,"error_code":"10003","error_msg":"device already exists"}"#,
        ),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["STRZERO", "STRDUP"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 0);
    let by_sn = results_by_sn(&results_path(dir.path()));
    let z = &by_sn["STRZERO"];
    assert_eq!(z["outcome"], "registered", "{z:?}");
    assert_eq!(z["error_code"], "0");
    assert_eq!(z["attempts"], "1");
    assert_eq!(z["http_status"], "200");
    let d = &by_sn["STRDUP"];
    assert_eq!(d["outcome"], "already_registered", "{d:?}");
    assert_eq!(d["error_code"], "10003");
    assert_eq!(d["error_msg"], "device already exists");
    assert_eq!(d["attempts"], "1");
    assert_eq!(srv.requests(), 2);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formula_like_messages_are_neutralised_and_kept_on_one_line() {
    let messages: Vec<(&str, &str)> = vec![
        ("FORM1", r#"=HYPERLINK("http://x","y")"#),
        ("FORM2", "+cmd|' /C calc'!A0"),
        ("FORM3", "@SUM(A1)"),
        ("FORM4", "-2+3"),
        ("FORM5", "\t=1+1"),
        ("FORM6", "\r=1+1"),
        ("LINES1", "line one\nline two\r\n=line three, \"quoted\""),
    ];
    let table: HashMap<String, String> = messages
        .iter()
        .map(|(s, m)| (s.to_string(), m.to_string()))
        .collect();
    let srv = Hostile::start(move |r| envelope(10004, &table[r.sn()])).await;
    let dir = tempfile::tempdir().unwrap();
    let sns: Vec<&str> = messages.iter().map(|(s, _)| *s).collect();
    let f = fleet(dir.path(), &sns);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    let path = results_path(dir.path());
    let by_sn = results_by_sn(&path);
    assert_eq!(by_sn.len(), messages.len());
    for (sn, msg) in &messages {
        let l = &by_sn[*sn];
        assert_eq!(l["outcome"], "rejected", "{l:?}");
        assert_eq!(l["error_code"], "10004");
        assert_eq!(l["attempts"], "1");
        let cell = &l["error_msg"];
        assert!(!cell.contains(['\n', '\r', '\t']), "{sn}: {cell:?}");
        let flat: String = msg
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if sn.starts_with("FORM") {
            assert!(cell.starts_with('\''), "{sn}: {cell:?}");
            assert_eq!(cell[1..], flat, "{sn}");
        } else {
            assert_eq!(*cell, flat, "{sn}");
        }
    }
    // One physical line per record.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1 + messages.len(), "{text}");
    assert_eq!(srv.requests(), messages.len());
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_token_appears_nowhere() {
    let second = Hostile::start(|_| envelope(0, "")).await;
    let echo_target = format!("http://{}/v1/device/sn/add?token={TOKEN}", second.addr);
    let srv = Hostile::start(move |r| match r.sn() {
        // In the API's own message.
        "ECHO1" => envelope(10004, &format!("token {TOKEN} has no access to plant 1")),
        // In an HTML error page, placed across the point where a quoted body is cut short, and
        // in headers.
        "ECHO2" => Act::Send(http(
            502,
            &[("Content-Type", "text/html"), ("X-Echo", TOKEN)],
            format!("<html><body>bad token {TOKEN}</body></html>").as_bytes(),
        )),
        // As the error_code, where the tool quotes the value it could not read.
        "ECHO3" => json(200, &format!(r#"{{"error_code":"denied for {TOKEN}"}}"#)),
        // In a retryable answer's message, which the failed line repeats.
        "ECHO4" => envelope(10001, &format!("system error for {TOKEN}")),
        // In a 500 with plain text at the very start of the body.
        "ECHO5" => Act::Send(http(
            500,
            &[("Content-Type", "text/plain")],
            format!("{TOKEN} is not allowed here").as_bytes(),
        )),
        // In a redirect's Location.
        _ => Act::Send(http(302, &[("Location", echo_target.as_str())], b"")),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sns = ["ECHO1", "ECHO2", "ECHO3", "ECHO4", "ECHO5", "ECHO6"];
    let f = fleet(dir.path(), &sns);
    for (i, verbosity) in [None, Some("-v"), Some("-vv")].into_iter().enumerate() {
        let out = dir.path().join(format!("r{i}.csv"));
        let mut extra = vec!["-o", out.to_str().unwrap()];
        extra.extend(verbosity);
        let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &extra), false).await;
        assert_exit(&ran.out, 3);
        let what = format!("run with {verbosity:?}");
        assert_no_token(&format!("stdout of the {what}"), &stdout(&ran.out));
        assert_no_token(&format!("stderr of the {what}"), &stderr(&ran.out));
        let results = std::fs::read_to_string(&out).unwrap();
        assert_no_token(&format!("results of the {what}"), &results);
        let summary = std::fs::read_to_string(dir.path().join(format!("r{i}.summary.json")))
            .expect("the summary is written");
        assert_no_token(&format!("summary of the {what}"), &summary);
        if verbosity.is_some() {
            assert!(
                stderr(&ran.out).contains("ECHO1"),
                "verbose output lists rows"
            );
        }
        let by_sn = results_by_sn(&out);
        assert_eq!(by_sn.len(), sns.len());
        assert_eq!(by_sn["ECHO1"]["outcome"], "rejected");
        assert!(by_sn["ECHO1"]["error_msg"].contains("[token]"));
        assert_eq!(by_sn["ECHO4"]["outcome"], "failed");
        assert!(by_sn["ECHO4"]["error_msg"].contains("[token]"));
        for sn in ["ECHO2", "ECHO3", "ECHO5", "ECHO6"] {
            assert_eq!(by_sn[sn]["outcome"], "failed", "{:?}", by_sn[sn]);
        }
    }
    // Nothing anywhere in the folder (results, summaries, lock files) holds it either.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert_no_token(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
    srv.assert_requests_proper();
    // 1 + 3 + 3 + 3 + 3 + 3 requests per run.
    assert_eq!(srv.requests(), 3 * 16);
    assert_eq!(second.requests(), 0, "the redirect was not followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_region_stops_at_once_and_the_rows_stay_for_the_next_run() {
    let srv = Hostile::start(|_| envelope(-1, "domain error")).await;
    let dir = tempfile::tempdir().unwrap();
    let sns = serials(200);
    let sn_refs: Vec<&str> = sns.iter().map(String::as_str).collect();
    let f = fleet(dir.path(), &sn_refs);
    let ran = run_tool(
        &run_args(&f, &srv.base_url(), "1", &["--concurrency", "4"]),
        false,
    )
    .await;
    assert_exit(&ran.out, 1);
    let err = stderr(&ran.out);
    assert!(err.contains("--region"), "{err}");
    assert!(
        results_by_sn(&results_path(dir.path())).is_empty(),
        "no row ended"
    );
    let n = srv.requests();
    assert!((1..=8).contains(&n), "{n} requests for a -1 answer");
    srv.assert_requests_proper();
    assert_eq!(summary(dir.path())["exit_code"], 1);

    // The next run, on the right server, sends every row once.
    let good = Hostile::start(|_| envelope(0, "")).await;
    let ran = run_tool(&run_args(&f, &good.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 0);
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert_eq!(by_sn.len(), 200);
    assert!(by_sn.values().all(|l| l["outcome"] == "registered"));
    assert_eq!(good.requests(), 200);
    assert!(good.per_sn().values().all(|n| *n == 1));
}

/// Runs a 200-row fleet against `srv` and checks the run stopped on a refused token.
async fn assert_stopped_for_the_token(srv: &Hostile) -> HashMap<String, HashMap<String, String>> {
    let dir = tempfile::tempdir().unwrap();
    let sns = serials(200);
    let sn_refs: Vec<&str> = sns.iter().map(String::as_str).collect();
    let f = fleet(dir.path(), &sn_refs);
    let ran = run_tool(
        &run_args(&f, &srv.base_url(), "1", &["--concurrency", "4"]),
        false,
    )
    .await;
    assert_exit(&ran.out, 1);
    let err = stderr(&ran.out);
    assert!(err.contains("token"), "{err}");
    assert!(err.contains("GROWATT_TOKEN"), "{err}");
    assert_eq!(
        err.matches("refused the token").count(),
        1,
        "said once: {err}"
    );
    assert_no_token("stderr", &err);
    let n = srv.requests();
    eprintln!("{n} requests before the stop");
    assert!((5..=9).contains(&n), "{n} requests before the stop");
    srv.assert_requests_proper();
    // No row has a line: the denials were the token's fault, not the rows', so the next run
    // sends every one of them again; nor have the ~190 never sent.
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert!(by_sn.is_empty(), "{n} requests, lines: {by_sn:?}");
    by_sn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_run_after_about_five_answers() {
    let srv = Hostile::start(|_| envelope(10011, "error_permission_denied")).await;
    assert_stopped_for_the_token(&srv).await;

    let srv = Hostile::start(|_| {
        Act::Send(http(
            401,
            &[
                ("Content-Type", "text/plain"),
                ("WWW-Authenticate", "Token"),
            ],
            b"Unauthorized",
        ))
    })
    .await;
    assert_stopped_for_the_token(&srv).await;

    let srv =
        Hostile::start(|_| html(403, "<html><body><h1>403 Forbidden</h1></body></html>")).await;
    assert_stopped_for_the_token(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_after_good_answers_do_not_stop_the_run() {
    let srv = Hostile::start(|r| {
        if r.n < 10 {
            envelope(0, "")
        } else {
            envelope(10011, "error_permission_denied")
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sns = serials(30);
    let sn_refs: Vec<&str> = sns.iter().map(String::as_str).collect();
    let f = fleet(dir.path(), &sn_refs);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    assert!(
        !stderr(&ran.out).contains("refused the token"),
        "{}",
        stderr(&ran.out)
    );
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert_eq!(by_sn.len(), 30);
    let registered: HashSet<String> = srv
        .reqs()
        .into_iter()
        .filter(|r| r.n < 10)
        .map(|r| r.sn().to_string())
        .collect();
    assert_eq!(registered.len(), 10);
    for (sn, l) in &by_sn {
        assert_eq!(l["attempts"], "1");
        if registered.contains(sn) {
            assert_eq!(l["outcome"], "registered", "{l:?}");
        } else {
            assert_eq!(l["outcome"], "rejected", "{l:?}");
            assert_eq!(l["error_code"], "10011");
        }
    }
    assert_eq!(srv.requests(), 30);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_add_confirmed_by_10003_is_already_registered() {
    let added: Arc<Mutex<HashSet<String>>> = Arc::default();
    let srv = Hostile::start(move |r| {
        let first = added.lock().unwrap().insert(r.sn().to_string());
        match (r.sn(), first) {
            // The add is recorded, but the answer comes long after the client gave up.
            ("AMBIG1", true) => Act::Silent(Duration::from_secs(3)),
            (_, true) => envelope(0, ""),
            (_, false) => envelope(10003, "device already exists"),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["AMBIG1", "PLAIN1"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "0.5", &[]), false).await;
    assert_exit(&ran.out, 0);
    let by_sn = results_by_sn(&results_path(dir.path()));
    let a = &by_sn["AMBIG1"];
    assert_eq!(a["outcome"], "already_registered", "{a:?}");
    assert_eq!(a["error_code"], "10003");
    assert_eq!(a["attempts"], "2");
    assert_eq!(a["http_status"], "200");
    assert!(
        a["error_msg"].contains("confirmed after a timed-out attempt"),
        "{a:?}"
    );
    let p = &by_sn["PLAIN1"];
    assert_eq!(p["outcome"], "registered", "{p:?}");
    assert_eq!(p["attempts"], "1");
    assert_eq!(srv.per_sn()["AMBIG1"], 2);
    assert_eq!(srv.per_sn()["PLAIN1"], 1);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_429_and_408_are_retried() {
    let srv = Hostile::start(|r| match (r.sn(), r.seen_sn) {
        ("R429", 0) => Act::Send(http(
            429,
            &[("Content-Type", "text/plain"), ("Retry-After", "1")],
            b"Too Many Requests",
        )),
        ("R408", 0) => html(408, "<html><body>Request Timeout</body></html>"),
        _ => envelope(0, ""),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["R429", "R408"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 0);
    // Retried after the 1 ms backoff, not after a throttle pause.
    assert!(ran.elapsed < Duration::from_secs(10), "{:?}", ran.elapsed);
    let by_sn = results_by_sn(&results_path(dir.path()));
    for sn in ["R429", "R408"] {
        let l = &by_sn[sn];
        assert_eq!(l["outcome"], "registered", "{l:?}");
        assert_eq!(l["error_code"], "0");
        assert_eq!(l["attempts"], "2");
        assert_eq!(l["http_status"], "200");
        assert_eq!(srv.per_sn()[sn], 2);
    }
    assert_eq!(summary(dir.path())["throttle_pauses"], 0);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_carrying_an_envelope_are_retried_not_believed() {
    // A proxy's 5xx can carry any JSON: neither its 0 nor its 10002 is the API's word.
    let srv = Hostile::start(|r| match (r.sn(), r.seen_sn) {
        ("P502", 0) => json(502, r#"{"error_code":0,"error_msg":""}"#),
        ("P503", 0) => json(
            503,
            r#"{"error_code":10002,"error_msg":"Service Unavailable"}"#,
        ),
        ("P503", 1) => json(503, r#"{"error_code":10003,"error_msg":"busy"}"#),
        _ => envelope(0, ""),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["P502", "P503"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 0);
    let by_sn = results_by_sn(&results_path(dir.path()));
    assert_eq!(by_sn["P502"]["outcome"], "registered");
    assert_eq!(by_sn["P502"]["attempts"], "2");
    assert_eq!(by_sn["P502"]["http_status"], "200");
    assert_eq!(by_sn["P503"]["outcome"], "registered");
    assert_eq!(by_sn["P503"]["attempts"], "3");
    assert_eq!(srv.per_sn()["P502"], 2);
    assert_eq!(srv.per_sn()["P503"], 3);
    srv.assert_requests_proper();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_row_keeps_the_last_code_the_api_answered() {
    // 10001, 10001, then silence: the row failed, and the API did answer 10001.
    let srv = Hostile::start(|r| match r.seen_sn {
        0 | 1 => envelope(10001, "system error"),
        _ => Act::Silent(Duration::from_secs(5)),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["LAST1"]);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "0.5", &[]), false).await;
    assert_exit(&ran.out, 3);
    let l = &results_by_sn(&results_path(dir.path()))["LAST1"];
    assert_eq!(l["outcome"], "failed");
    assert_eq!(l["attempts"], "3");
    assert_eq!(l["error_code"], "10001", "{l:?}");
    assert!(l["error_msg"].contains("no answer within the time limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let second = Hostile::start(|_| envelope(0, "")).await;
    let target = format!("{}/v1/device/sn/add", second.base_url());
    let srv = Hostile::start(move |r| {
        let status = match r.sn() {
            "MOVED301" => 301,
            "FOUND302" => 302,
            "TEMP307" => 307,
            _ => 308,
        };
        Act::Send(http(
            status,
            &[("Location", target.as_str()), ("Content-Type", "text/html")],
            b"<html><body>Moved</body></html>",
        ))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sns = ["MOVED301", "FOUND302", "TEMP307", "PERM308"];
    let f = fleet(dir.path(), &sns);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &[]), false).await;
    assert_exit(&ran.out, 3);
    let by_sn = results_by_sn(&results_path(dir.path()));
    for sn in sns {
        let l = &by_sn[sn];
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3");
        assert_eq!(l["error_code"], "");
        assert_eq!(l["http_status"], &sn[sn.len() - 3..], "{l:?}");
        assert!(
            l["error_msg"].contains("not the API's JSON envelope"),
            "{l:?}"
        );
    }
    assert_eq!(second.requests(), 0, "the redirect was not followed");
    assert_eq!(second.accepted(), 0, "not even a connection");
    assert_eq!(srv.requests(), 12);
    srv.assert_requests_proper();
}

/// The server's message and the input's cells carry terminal escapes (window title, clear
/// screen, OSC 52 clipboard), CR and LF and a forged summary line: at `-v`, and in `verify`'s
/// notice at default verbosity, every control character is shown escaped, never acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_cells_cannot_drive_the_terminal_or_forge_a_line() {
    const EVIL: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\rgrowatt-onboard: 1 rows in 0s: 1 registered\n\u{1b}]52;c;cm0gLXJmIH4=\u{7}";
    let srv = Hostile::start(|r| {
        if r.path.starts_with("/v1/device/list") {
            envelope(10004, EVIL)
        } else if r.sn() == "GOOD1" {
            envelope(0, "")
        } else {
            envelope(10004, EVIL)
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "f.csv",
        "plant_id,sn,c_user_id\n1,EVIL1,1\n1,GOOD1,1\n1,\"\u{1b}[2J\rBAD\",1\n",
    );
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &["-v"]), false).await;
    assert_exit(&ran.out, 3);
    let verify = run_tool(
        &[
            "verify".to_string(),
            results_path(dir.path()).to_str().unwrap().to_string(),
            "--base-url".to_string(),
            srv.base_url(),
        ],
        false,
    )
    .await;
    for (what, err) in [
        ("run -v", stderr(&ran.out)),
        ("verify", stderr(&verify.out)),
    ] {
        assert!(err.contains("owned"), "{what} shows the message: {err}");
        let raw: Vec<char> = err
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        assert!(
            raw.is_empty(),
            "{what} printed control characters {raw:?}: {err:?}"
        );
        assert!(
            !err.lines()
                .any(|l| l.starts_with("growatt-onboard: 1 rows")),
            "{what}: a forged summary line: {err}"
        );
    }
}

/// Pieces of the token echoed back: a 16-character prefix, the token wrapped over two lines, one
/// character of it `\u`-escaped in a body that is not JSON. No 8 characters of it in a row
/// reach the results, the summary, the log or the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_of_an_echoed_token_appear_nowhere() {
    let srv = Hostile::start(|r| match r.sn() {
        "PIECE1" => envelope(10004, &format!("token {}... is not valid", &TOKEN[..16])),
        "PIECE2" => html(
            500,
            &format!("<pre>token={}\n{}</pre>", &TOKEN[..20], &TOKEN[20..]),
        ),
        "PIECE3" => Act::Send(http(
            500,
            &[("Content-Type", "text/plain")],
            format!(
                "bad {}\\u00{:x}{}",
                &TOKEN[..12],
                TOKEN.as_bytes()[12],
                &TOKEN[13..]
            )
            .as_bytes(),
        )),
        _ => envelope(10004, &format!("{} expired", TOKEN.to_lowercase())),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sns = ["PIECE1", "PIECE2", "PIECE3", "PIECE4"];
    let f = fleet(dir.path(), &sns);
    let ran = run_tool(&run_args(&f, &srv.base_url(), "1", &["-vv"]), false).await;
    assert_exit(&ran.out, 3);
    assert_no_token("stderr", &stderr(&ran.out));
    let results = results_path(dir.path());
    let report = run_tool(
        &["report".to_string(), results.to_str().unwrap().to_string()],
        false,
    )
    .await;
    assert_no_token("report", &stdout(&report.out));
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        assert_no_token(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
    }
    let by_sn = results_by_sn(&results);
    assert_eq!(by_sn.len(), 4);
    assert!(
        by_sn["PIECE1"]["error_msg"].contains("[token]"),
        "{:?}",
        by_sn["PIECE1"]
    );
}
