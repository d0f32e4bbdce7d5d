//! The web page's front: `growatt-onboard ui` serves a page on loopback that drives the same jobs
//! as the command line (check, run, verify, the account), with the same files in the same
//! formats. The page is a client of the JSON API here (documented in `docs/ui.md`); the server
//! holds the token in memory only and never sends it back.

mod api;
mod control;
mod downloads;
mod guard;
mod live;
mod saved;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

use crate::api::{Region, Token};
use crate::engine::RetryPolicy;
use crate::units::Rate;

pub use guard::allowed_hosts;

/// Largest fleet file the page takes (the spreadsheet caps of `run` apply after that too).
pub const UPLOAD_CAP: usize = 64 * 1024 * 1024;
/// Room for the form around the file (its other fields, the multipart boundaries).
const FORM_SLACK: usize = 64 * 1024;

/// Where the token the page uses came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    /// `GROWATT_TOKEN`.
    Environment,
    /// `--token-file`.
    File,
    /// Pasted into the page.
    Page,
}

/// The server the page's jobs talk to, and the token: changed from the page, held in memory.
#[derive(Debug, Clone)]
pub struct Server {
    /// The base URL.
    pub base: reqwest::Url,
    /// The region it is, when it is one.
    pub region: Option<Region>,
    /// The token and where it came from.
    pub token: Option<(Token, TokenSource)>,
    /// The file the token was read from (`--token-file`), absolute: a saved settings file may
    /// name it; the token itself is never saved.
    pub token_file: Option<PathBuf>,
}

/// How requests are sent, but for the server and token (the flags of `run`).
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Per-request limit.
    pub timeout: Duration,
    /// The pace, unless the page asks for another.
    pub rate: Rate,
    /// Requests in flight, unless the page asks for another number.
    pub concurrency: usize,
    /// Retries and backoff.
    pub policy: RetryPolicy,
    /// The cooldown after a 10012.
    pub throttle_pause: Duration,
}

/// Everything `ui` needs, resolved.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// Where to listen (loopback only).
    pub listen: SocketAddr,
    /// The folder that holds one folder per fleet.
    pub dir: PathBuf,
    /// The server and token to start with.
    pub server: Server,
    /// How requests are sent.
    pub defaults: Defaults,
    /// The account cache folder (`--cache`), or the default.
    pub cache: Option<PathBuf>,
}

/// The state every handler shares.
pub(crate) struct App {
    key: String,
    hosts: Vec<String>,
    dir: PathBuf,
    server: Mutex<Server>,
    defaults: Defaults,
    cache: Option<PathBuf>,
    /// The fleets a job ran for since the server started: their live state.
    live: Mutex<HashMap<String, Arc<live::Live>>>,
}

impl App {
    fn server(&self) -> Server {
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A server that is listening: its URL with the key, until it is shut down.
pub struct Listening {
    /// `http://127.0.0.1:PORT/?key=KEY`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    app: Arc<App>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Longest a shutdown waits for the requests in flight of the page's jobs.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(60);

impl Listening {
    /// Stops every job the page started, as its Stop button does, and waits (up to a minute)
    /// until their rows in flight have ended and been written.
    pub async fn shutdown(self) {
        let lives: Vec<Arc<live::Live>> = self
            .app
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_WAIT;
        for live in lives {
            if live.stop() {
                let mut rx = live.watch();
                while live.now().job != live::Job::Idle {
                    if tokio::time::timeout_at(deadline, rx.changed())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        self.task.abort();
    }

    /// Serves until the server fails (it does not end on its own).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
    }
}

/// Fleets already in the folder (for the demo: the sample fleet), placed before the page starts.
pub fn add_fleet(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    store::create(dir, name, bytes, &crate::input::ReadOptions::default()).map(|_| ())
}

/// How many fleets the folder holds.
pub fn fleet_count(dir: &std::path::Path) -> usize {
    store::list(dir).len()
}

/// Binds the listener (loopback only) and serves the page and its API.
pub async fn start(settings: UiSettings) -> Result<Listening, String> {
    if !settings.listen.ip().is_loopback() {
        return Err(format!(
            "the page listens on loopback only; {} is not a loopback address",
            settings.listen
        ));
    }
    std::fs::create_dir_all(&settings.dir).map_err(|e| {
        format!(
            "cannot create the fleets folder {}: {}",
            settings.dir.display(),
            crate::text::io_reason(&e)
        )
    })?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {}",
                settings.listen,
                crate::text::io_reason(&e)
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| crate::text::io_reason(&e))?;
    let key = guard::new_key();
    let app = Arc::new(App {
        key: key.clone(),
        hosts: allowed_hosts(addr.port()),
        dir: settings.dir,
        server: Mutex::new(settings.server),
        defaults: settings.defaults,
        cache: settings.cache,
        live: Mutex::new(HashMap::new()),
    });
    let router = router(app.clone());
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Listening {
        url: format!("http://{addr}/?key={key}"),
        addr,
        app,
        task,
    })
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(api::index))
        .route("/assets/app.js", get(api::script))
        .route("/assets/app.css", get(api::style))
        .route("/assets/saved.js", get(saved::script))
        .route("/template.xlsx", get(downloads::template))
        .route("/api/settings", get(api::settings).post(api::set_settings))
        .route("/api/inspect", post(api::inspect))
        .route("/api/fleets", get(api::fleets).post(api::upload))
        .route("/api/fleets/{id}", get(api::status))
        .route("/api/fleets/{id}/run", post(control::run))
        .route("/api/fleets/{id}/stop", post(control::stop))
        .route("/api/fleets/{id}/verify", post(control::verify))
        .route(
            "/api/fleets/{id}/saved",
            get(saved::show)
                .post(saved::save)
                .layer(axum::extract::DefaultBodyLimit::max(saved::BODY_CAP)),
        )
        .route("/api/fleets/{id}/events", get(control::events))
        .route("/api/fleets/{id}/results.csv", get(downloads::results_csv))
        .route("/api/fleets/{id}/report.html", get(downloads::report_html))
        .route("/api/fleets/{id}/report.xlsx", get(downloads::report_xlsx))
        .layer(axum::extract::DefaultBodyLimit::max(
            UPLOAD_CAP + FORM_SLACK,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::guard,
        ))
        .with_state(app)
}

/// Serves the page until Ctrl-C (or SIGTERM): prints its address with the key as the first line
/// on stdout, opens it in the default browser when `open`, and on the signal stops the page's
/// jobs as its Stop button does before it ends.
pub async fn serve(settings: UiSettings, open: bool, log: &crate::term::Log) -> Result<(), String> {
    let dir = settings.dir.clone();
    let mut listening = start(settings).await?;
    crate::term::log::stdout(format!("{}\n", listening.url).as_bytes());
    log.notice(&format!(
        "growatt-onboard ui: the page is at the address above (loopback only, with this launch's key); fleets are kept in {}; Ctrl-C ends it",
        dir.display()
    ));
    if open {
        let url = listening.url.clone();
        let opened = tokio::task::spawn_blocking(move || webbrowser::open(&url)).await;
        if !matches!(opened, Ok(Ok(()))) {
            log.notice("growatt-onboard ui: no browser could be opened here; open the address above in one");
        }
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let _signals = crate::term::signals::watch(&cancel, log);
    tokio::select! {
        _ = cancel.cancelled() => {}
        served = listening.wait() => {
            return served.map_err(|e| format!("the page's server failed: {}", crate::text::io_reason(&e)));
        }
    }
    listening.shutdown().await;
    Ok(())
}
