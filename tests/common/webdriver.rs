//! A small W3C WebDriver client over the `reqwest` the product already builds, for driving
//! Debian's headless Chromium through `chromedriver`.
//!
//! Why not a WebDriver crate: `fantoccini` brings `webdriver` (with `icu_segmenter` and its data
//! tables), `cookie` and `time`, and `thirtyfour` a second set of features of `reqwest` and a driver
//! manager; on the shared build machines each is minutes of compiling for a handful of calls. The
//! tests need a dozen endpoints and Chromium's DevTools pass-through (`goog/cdp/execute`, for the
//! 420 px viewport and full-page screenshots), which neither wraps; the whole protocol they use
//! fits in this file.
#![allow(dead_code)] // each test uses a different subset

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Debian's Chromium and its driver. A missing one fails the test with what to install: the
/// browser tests are ignored by a plain `cargo test`, and where they run, they must run.
pub fn browser_and_driver() -> (PathBuf, PathBuf) {
    let find = |names: &[&str]| names.iter().map(PathBuf::from).find(|p| p.exists());
    let browser = find(&[
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ])
    .expect("this test needs Chromium (Debian: apt-get install chromium)");
    let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
        .expect("this test needs chromedriver (Debian: apt-get install chromium-driver)");
    (browser, driver)
}

/// A free loopback port, for chromedriver (which cannot be told to pick one and report it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running chromedriver, killed on drop, after it has closed the browsers it started (also
/// when a test panics, so no headless Chromium outlives its test).
pub struct Driver {
    child: Child,
    url: String,
    port: u16,
    http: reqwest::Client,
    sessions: std::sync::Mutex<Vec<String>>,
}

impl Driver {
    /// Starts `driver` on a free port and waits until it answers `GET /status` ready.
    pub async fn start(driver: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            http: reqwest::Client::new(),
            sessions: Default::default(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = d.http.get(format!("{}/status", d.url)).send().await {
                if let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default())
                {
                    if v["value"]["ready"] == json!(true) {
                        return d;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not get ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium session with a fresh profile in `profile`.
    pub async fn session(&self, browser: &Path, profile: &Path) -> Session {
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser,
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-dev-shm-usage",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--hide-scrollbars",
                        "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}
        });
        let v = call(
            &self.http,
            "POST",
            &format!("{}/session", self.url),
            Some(caps),
        )
        .await;
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {v}"))
            .to_string();
        self.sessions.lock().unwrap().push(id.clone());
        Session {
            base: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Plain blocking HTTP: a drop cannot wait for the async client, and may run in a panic.
        for id in self.sessions.lock().map(|s| s.clone()).unwrap_or_default() {
            if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read as _, Write as _};
                let _ = conn.set_read_timeout(Some(Duration::from_secs(20)));
                let _ = write!(
                    conn,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let _ = conn.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver request; the `value` of the answer, or a panic with the driver's error.
async fn call(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http
            .post(url)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body.unwrap_or_else(|| json!({}))).unwrap()),
    };
    let res = req
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status();
    let bytes = res.bytes().await.expect("the driver's answer");
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{method} {url}: not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert!(
        status.is_success(),
        "{method} {url}: {status}: {} {}",
        v["value"]["error"],
        v["value"]["message"]
    );
    v["value"].clone()
}

/// Writes the PNG of a `Page.captureScreenshot` answer to `path`.
fn save_png(answer: &Value, path: &Path) {
    let png = base64::engine::general_purpose::STANDARD
        .decode(answer["data"].as_str().expect("screenshot data"))
        .expect("base64 screenshot");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, png).unwrap();
}

/// A browser session, ended on [`Session::quit`].
pub struct Session {
    base: String,
    http: reqwest::Client,
}

/// An element of the page.
pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Session {
    async fn post(&self, path: &str, body: Value) -> Value {
        call(
            &self.http,
            "POST",
            &format!("{}{path}", self.base),
            Some(body),
        )
        .await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The page's current address.
    pub async fn current_url(&self) -> String {
        let v = call(&self.http, "GET", &format!("{}/url", self.base), None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The element matching a CSS selector, or a panic naming it.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        Element {
            session: self,
            id: v[ELEMENT_KEY]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {v}"))
                .to_string(),
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1]` with its result.
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// A DevTools command through chromedriver's pass-through.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    /// Polls `script` (returning a value) until `ok` accepts it; panics with `what` and the last
    /// value after `timeout`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(script, json!([])).await;
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen in {timeout:?}; last {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the element with this id (empty when absent).
    pub async fn text_of(&self, id: &str) -> String {
        let v = self
            .js(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
                json!([id]),
            )
            .await;
        v.as_str().unwrap_or_default().trim().to_string()
    }

    /// Makes the viewport `width` pixels wide (and `height` tall), as a window that size shows it.
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    }

    /// A PNG of the whole page at `width` pixels, written to `path`.
    pub async fn full_page_png(&self, width: u32, path: &Path) {
        self.viewport(width, 900).await;
        let height = self
            .js(
                "return Math.ceil(document.documentElement.scrollHeight);",
                json!([]),
            )
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(400, 8000);
        self.viewport(width, height as u32).await;
        let v = self
            .cdp("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        save_png(&v, path);
        self.viewport(width, 900).await;
    }

    /// A PNG of the element matching `css` at a viewport `width` pixels wide, written to `path`.
    pub async fn element_png(&self, css: &str, width: u32, path: &Path) {
        self.viewport(width, 900).await;
        let r = self
            .js(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();
                 return [r.left + scrollX, r.top + scrollY, r.width, r.height];",
                json!([css]),
            )
            .await;
        let n = |i: usize| r[i].as_f64().unwrap_or(0.0);
        let clip = json!({"x": n(0), "y": n(1), "width": n(2), "height": n(3), "scale": 1});
        let v = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "clip": clip, "captureBeyondViewport": true}),
            )
            .await;
        save_png(&v, path);
    }

    /// Ends the session (and the browser).
    pub async fn quit(self) {
        let _ = self
            .http
            .delete(&self.base)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
    }
}

impl Element<'_> {
    /// Types `text` into the element; for a file input, the path of the file to upload.
    pub async fn send_keys(&self, text: &str) {
        self.session
            .post(
                &format!("/element/{}/value", self.id),
                json!({ "text": text }),
            )
            .await;
    }

    /// Clicks the element.
    pub async fn click(&self) {
        self.session
            .post(&format!("/element/{}/click", self.id), json!({}))
            .await;
    }
}
