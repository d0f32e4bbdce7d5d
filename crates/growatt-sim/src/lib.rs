//! A stand-in for the Growatt ShineServer OpenAPI v1, served on loopback.
//!
//! It answers `POST /v1/device/sn/add` and `GET /v1/device/list` the way the real server
//! does (HTTP 200 with the `{"data","error_code","error_msg"}` envelope, throttling reported in
//! the body), from a small world described by a [`Fixture`]. Faults a fleet run must survive
//! (system errors, hung requests, latency, a frequency limit) can be switched on with
//! [`SimConfig`], and everything the server saw is counted in [`Stats`] so tests and benchmarks
//! can check what a client really sent, e.g. that no serial was added twice or that a rate limit
//! was kept.
//!
//! Answers are decided, and their side effects applied, as soon as a request arrives; only then
//! does the server wait out the configured delay. A client that gives up mid-request therefore
//! leaves the association made, as the real service does, and a retry meets `10003`.
//!
//! The simulator knows nothing of the client it tests: it is written from the API's description
//! alone, so that it can serve as an independent oracle.
#![warn(missing_docs)]

mod account;
mod account_http;
mod admission;
mod answer;
mod arrival;
mod config;
mod fixture;
mod form;
mod http;
mod limits;
mod named;
mod shared;
mod stats;
mod world;

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use account::{AccountStats, DAILY_LISTING_CAP, SN_PLANT_COOLDOWN};
pub use admission::ServerMode;
pub use config::{SimConfig, DEFAULT_TOKEN};
pub use fixture::{Fixture, FixtureAccount, FixtureDevice, FixtureLocation, FixturePlant};
pub use limits::ThrottleModel;
pub use stats::{SnRequest, Stats};

use shared::Shared;

/// How long [`SimServer::shutdown`] waits for open connections before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running simulator. Dropping it stops the server too; [`SimServer::shutdown`] also waits.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl SimServer {
    /// The address actually bound (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a client should use as base, e.g. `http://127.0.0.1:40123`. A wildcard bind
    /// is reported as loopback, since a wildcard is not an address a client can dial.
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.lock().meter.stats.clone()
    }

    /// A snapshot of the account endpoints' counters (listing calls per day, `sn_plant` calls).
    pub fn account_stats(&self) -> AccountStats {
        self.shared.lock().account.stats.clone()
    }

    /// Moves the simulated day on: the listings' daily caps start over.
    pub fn next_day(&self) {
        self.shared.lock().account.next_day();
    }

    /// Stop accepting connections, answer requests still waiting out a delay or hang at once,
    /// and wait (briefly) for open connections to finish.
    pub async fn shutdown(self) {
        let SimServer { stop, mut task, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("simulator connections still open after shutdown grace; closing them");
            task.abort();
        }
    }
}

/// Bind `listen` (e.g. `127.0.0.1:0`) and serve in a spawned task.
pub async fn start(listen: SocketAddr, cfg: SimConfig) -> std::io::Result<SimServer> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "simulator listening beyond loopback");
    }
    let shared = Arc::new(Shared::new(cfg));
    let app = http::router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let on_stop = shared.clone();
    let task = tokio::spawn(async move {
        let graceful = async move {
            // A dropped SimServer closes the channel, which stops the server just the same.
            let _ = stopped.await;
            // Wake requests sleeping out a delay, or graceful shutdown would wait for them.
            on_stop.stopping.send_replace(true);
        };
        // Connections stamp each request's arrival as the network stack saw it.
        let listener = arrival::StampingListener::new(listener);
        let app = app.into_make_service_with_connect_info::<arrival::ArrivalClock>();
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .await
        {
            tracing::error!(%err, "simulator stopped with an error");
        }
    });
    tracing::debug!(%addr, "simulator started");
    Ok(SimServer {
        addr,
        shared,
        stop,
        task,
    })
}

/// Run the simulator for the `sim` command: print `listening on http://HOST:PORT` as the first
/// line on standard output, then serve until Ctrl-C or SIGTERM.
pub async fn serve_until_signal(listen: SocketAddr, cfg: SimConfig) -> anyhow::Result<()> {
    let server = start(listen, cfg)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    {
        // Scripts wait for this line to learn the port, so it must not sit in a buffer.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.base_url())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("simulator stopping");
    server.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.context("cannot watch for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch for Ctrl-C")
}
