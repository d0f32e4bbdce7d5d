//! [`Page`]: `growatt-onboard ui` started on a free loopback port for one test, with a client
//! that speaks its JSON API the way the page does (the key as a bearer token).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use super::{Bin, TestEnv, POLL_LIMIT};

/// A running `ui` server, killed when the test drops it.
pub struct Page {
    /// The first line it printed: the address with the key.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// This launch's key.
    pub key: String,
    /// The folder of fleets.
    pub dir: PathBuf,
    child: Child,
    client: reqwest::Client,
}

impl Page {
    /// `ui --no-open` on a free port, its fleets in `env`'s folder (`fleets/`), talking to
    /// `env`'s server, with `extra` flags.
    pub async fn start(env: &TestEnv, extra: &[&str]) -> Page {
        Page::start_with(env, Bin::new(["ui"]), extra).await
    }

    /// As [`Page::start`], from a [`Bin`] made by the test (another token, none).
    pub async fn start_with(env: &TestEnv, bin: Bin, extra: &[&str]) -> Page {
        let dir = env.path("fleets");
        let base = env.base();
        let mut args = vec!["--no-open", "--listen", "127.0.0.1:0", "--base-url", &base];
        let dir_text = dir.to_string_lossy().into_owned();
        args.extend(["--dir", &dir_text]);
        args.extend(extra);
        let mut child = bin.args(&args).start();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("ui prints its address within 30 s")
            .unwrap()
            .expect("ui prints its address first");
        let (base, key) = url
            .split_once("/?key=")
            .expect("the address carries the key");
        Page {
            url: url.clone(),
            base: base.to_string(),
            key: key.to_string(),
            dir,
            child,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A request without the key (to see it refused).
    pub fn bare(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// A request with the key.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.bare(method, path).bearer_auth(&self.key)
    }

    /// `GET path` with the key: status and JSON body (null when not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.req(reqwest::Method::GET, path)).await
    }

    /// `POST path` with the key and a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        answer(
            self.req(reqwest::Method::POST, path)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// `POST /api/fleets` (or another upload route) with `file` and the form `fields`.
    pub async fn upload(&self, route: &str, file: &Path, fields: &[(&str, &str)]) -> (u16, Value) {
        let (ctype, body) = multipart(file, fields);
        answer(
            self.req(reqwest::Method::POST, route)
                .header("content-type", ctype)
                .body(body),
        )
        .await
    }

    /// The office's workbook of `devices` rows, written as `office.xlsx` in `env`'s folder, uploaded
    /// as a new fleet with its columns mapped as the page maps them (its title rows above the
    /// header included): the answer.
    pub async fn upload_office(&self, env: &TestEnv, devices: usize) -> (u16, Value) {
        let file = env.path("office.xlsx");
        super::book::Book::office(devices).write(&file);
        self.upload_mapped(&file).await
    }

    /// Uploads `file`, a sheet with the office's own header words, as a new fleet with
    /// [`super::book::OFFICE_COLUMNS`] chosen in the page's drop-downs: the answer.
    pub async fn upload_mapped(&self, file: &Path) -> (u16, Value) {
        let columns: Vec<(&str, &str)> = super::book::OFFICE_COLUMNS
            .chunks(2)
            .map(|flag| ("column", flag[1]))
            .collect();
        self.upload("/api/fleets", file, &columns).await
    }

    /// Uploads `file` as a new fleet; its id.
    pub async fn add(&self, file: &Path) -> String {
        let (status, v) = self.upload("/api/fleets", file, &[]).await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// The fleet's status once `done` holds for it.
    pub async fn wait(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/api/fleets/{id}");
        let start = std::time::Instant::now();
        loop {
            let (s, v) = self.get(&path).await;
            assert_eq!(s, 200, "{v}");
            if done(&v) {
                return v;
            }
            assert!(
                start.elapsed() < POLL_LIMIT * 2,
                "gave up waiting for {what}; last status: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs fleet `id` with `body` to its end; its final status.
    pub async fn run_to_end(&self, id: &str, body: Value) -> Value {
        let (s, v) = self.post(&format!("/api/fleets/{id}/run"), body).await;
        assert_eq!(s, 202, "{v}");
        self.wait(id, "the page's run ends", |v| {
            v["state"] == "finished" && !v["exit_code"].is_null()
        })
        .await
    }

    /// Ends the server now (as a crash would).
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The status and JSON body of a request.
pub async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("the page's server answers");
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A multipart/form-data body with `file` as the field `file` and the text fields.
pub fn multipart(file: &Path, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----growatt-onboard-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    let name = file.file_name().unwrap().to_string_lossy();
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(std::fs::read(file).unwrap());
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
