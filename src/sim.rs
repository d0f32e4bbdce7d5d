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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The API token the simulator accepts unless configured otherwise (32 characters, like a real key).
pub const DEFAULT_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// How long [`SimServer::shutdown`] waits for open connections before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Largest page the list endpoint serves, as on the real server (`10013` above it).
const MAX_PER_PAGE: u64 = 100;
/// Highest page number the list endpoint serves (`10014` above it).
const MAX_PAGE: u64 = 250;
/// Page size used when a list request does not give a usable `perpage`.
const DEFAULT_PER_PAGE: u64 = 20;

/// A plant (installation) and the end-user accounts allowed to own devices on it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FixturePlant {
    /// The plant's numeric id, as sent in `plant_id`.
    pub plant_id: u64,
    /// End-user (`c_user_id`) accounts attached to this plant.
    pub c_user_ids: Vec<u64>,
}

/// A device serial number known to the simulated server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FixtureDevice {
    /// The serial as printed on the nameplate; requests match it case-insensitively.
    pub sn: String,
    /// Whether the device currently reports to the server. Absent means online.
    #[serde(default = "default_true")]
    pub online: bool,
}

fn default_true() -> bool {
    true
}

/// The world the simulator starts from: plants with their users, existing devices, and
/// devices that are already linked to a plant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Fixture {
    /// Plants that exist.
    pub plants: Vec<FixturePlant>,
    /// Device serials that exist.
    pub devices: Vec<FixtureDevice>,
    /// Serials already associated with some plant before the simulator starts; adding one
    /// answers `10003`. They are not listed under any fixture plant.
    #[serde(default)]
    pub associated: Vec<String>,
}

impl Fixture {
    /// The world bundled with the tool (`samples/fixture.json`), matching `samples/fleet.csv`.
    pub fn builtin() -> Fixture {
        // The file is compiled in and covered by a test, so a parse failure is a build defect.
        serde_json::from_str(include_str!("../samples/fixture.json"))
            .expect("the bundled samples/fixture.json is valid")
    }

    /// Read a fixture from a JSON file; the error names the file and what is wrong with it.
    pub fn from_path(path: &Path) -> anyhow::Result<Fixture> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read fixture file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("fixture file {} is not a valid fixture", path.display()))
    }
}

/// How the simulator behaves: which token it accepts, its world, and the faults it injects.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The only `token` header value accepted; anything else answers `10011`.
    pub token: String,
    /// The starting world.
    pub fixture: Fixture,
    /// Mean delay added before each answer.
    pub latency: Duration,
    /// The delay varies uniformly by up to this much either side of `latency` (never below 0).
    pub jitter: Duration,
    /// Probability (0..=1) of answering `10001` (system error) to an otherwise admitted request.
    pub fail_rate: f64,
    /// Probability (0..=1) of holding an admitted request for `hang` before answering, to
    /// provoke client timeouts. The answer (and any association) is still decided on arrival.
    pub hang_rate: f64,
    /// How long a hung request is held.
    pub hang: Duration,
    /// Requests per second allowed before answering `10012`, as a token bucket holding
    /// `max(1, ceil(rate))` requests. Fractional rates work; `0` (or less) throttles every
    /// request; `None` never throttles.
    pub throttle_per_sec: Option<f64>,
    /// Seed for every random draw, so a run against the simulator can be reproduced.
    pub seed: u64,
    /// How long after its add an offline device comes online and becomes linked (listed on its
    /// plant). `None`: offline devices link only when marked online via `POST /__sim/online`.
    /// Online devices link at once, as the vendor documents.
    pub link_delay: Option<Duration>,
    /// An open world, for fleets too large for a fixture: besides the fixture's, every numeric
    /// plant id exists, every numeric user id belongs to every plant, and every serial of letters
    /// and digits exists and is online. Second adds (`10003`), faults and stats are unchanged.
    pub open_world: bool,
}

impl Default for SimConfig {
    /// [`DEFAULT_TOKEN`], the built-in fixture, no delay, no faults, no throttle, seed 1.
    fn default() -> Self {
        SimConfig {
            token: DEFAULT_TOKEN.to_string(),
            fixture: Fixture::builtin(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fail_rate: 0.0,
            hang_rate: 0.0,
            hang: Duration::from_secs(60),
            throttle_per_sec: None,
            seed: 1,
            link_delay: None,
            open_world: false,
        }
    }
}

/// What the simulator has seen so far. Served as JSON at `GET /__sim/stats`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request to a `/v1/` path, whatever it was answered.
    pub requests: u64,
    /// `error_code` answered -> how many times (keys are the code as text, e.g. `"10003"`).
    pub by_code: BTreeMap<String, u64>,
    /// `sn/add` requests per serial, spelled as received (requests without a serial are not counted).
    pub requests_per_sn: BTreeMap<String, u64>,
    /// `sn/add` requests answered `0`, per serial as received.
    pub adds_per_sn: BTreeMap<String, u64>,
    /// Requests without a `token` header.
    pub missing_token: u64,
    /// Requests whose `token` header did not match.
    pub wrong_token: u64,
    /// Most requests that arrived within any one-second sliding window.
    pub max_in_one_second: u64,
    /// Requests per whole second since the first request (index 0 is the first second).
    pub per_second: Vec<u64>,
    /// Most requests being handled at the same moment.
    pub max_in_flight: u64,
    /// Arrival of the first request, Unix time in milliseconds.
    pub first_request_unix_ms: Option<u64>,
    /// Arrival of the latest request, Unix time in milliseconds.
    pub last_request_unix_ms: Option<u64>,
    /// Requests held back for the hang delay (see [`SimConfig::hang_rate`]).
    #[serde(default)]
    pub hung: u64,
}

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
    let app = router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let on_stop = shared.clone();
    let task = tokio::spawn(async move {
        let graceful = async move {
            // A dropped SimServer closes the channel, which stops the server just the same.
            let _ = stopped.await;
            // Wake requests sleeping out a delay, or graceful shutdown would wait for them.
            on_stop.stopping.send_replace(true);
        };
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

// ---------------------------------------------------------------------------------------------
// Answers

/// One API answer: the envelope's code and message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    code: i64,
    msg: &'static str,
}

const fn answer(code: i64, msg: &'static str) -> Answer {
    Answer { code, msg }
}

const OK: Answer = answer(0, "");
const SYSTEM_ERROR: Answer = answer(10001, "system error");
const PLANT_ID_EMPTY: Answer = answer(10002, "plant id is empty");
const SN_WRONG: Answer = answer(10002, "device serial number wrong");
const DEVICE_EXISTS: Answer = answer(10003, "device already exists");
const PLANT_MISSING: Answer = answer(10004, "plant does not exist");
const USER_MISSING: Answer = answer(10005, "user does not exist");
const USER_ID_EMPTY: Answer = answer(10006, "user id is empty");
const PERMISSION_DENIED: Answer = answer(10011, "error_permission_denied");
const FREQUENT_ACCESS: Answer = answer(10012, "error_frequently_access");
const PAGE_SIZE_TOO_BIG: Answer = answer(10013, "perpage must not exceed 100");
const PAGE_TOO_HIGH: Answer = answer(10014, "page must not exceed 250");
// The list endpoint gives 10003 its own meaning.
const LIST_PLANT_MISSING: Answer = answer(10003, "plant does not exist");

fn envelope(a: Answer, data: Value) -> Response {
    Json(json!({ "data": data, "error_code": a.code, "error_msg": a.msg })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Request parsing: done by hand so that no body, however broken, gets anything but an envelope.

/// Fields of an `sn/add` form; `None` when the field was not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AddForm {
    plant_id: Option<String>,
    sn: Option<String>,
    c_user_id: Option<String>,
}

impl AddForm {
    fn parse(body: &[u8]) -> AddForm {
        let mut form = AddForm::default();
        for (key, value) in url_pairs(body) {
            let slot = match key.as_str() {
                "plant_id" => &mut form.plant_id,
                "sn" => &mut form.sn,
                "c_user_id" => &mut form.c_user_id,
                _ => continue,
            };
            // First occurrence wins, as most form decoders do.
            slot.get_or_insert(value);
        }
        form
    }
}

/// Query of a `device/list` request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ListQuery {
    plant_id: Option<String>,
    page: Option<String>,
    perpage: Option<String>,
}

impl ListQuery {
    fn parse(query: &[u8]) -> ListQuery {
        let mut q = ListQuery::default();
        for (key, value) in url_pairs(query) {
            let slot = match key.as_str() {
                "plant_id" => &mut q.plant_id,
                "page" => &mut q.page,
                "perpage" => &mut q.perpage,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        q
    }
}

/// Split `a=1&b=2` and decode each side; tolerant of anything (stray `%`, bad UTF-8, no `=`).
fn url_pairs(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut halves = part.splitn(2, |b| *b == b'=');
            let key = halves.next().unwrap_or_default();
            let value = halves.next().unwrap_or_default();
            (url_decode(key), url_decode(value))
        })
        .collect()
}

fn url_decode(input: &[u8]) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex);
                let lo = input.get(i + 2).copied().and_then(hex);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Outcome of comparing the `token` header with the configured one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenCheck {
    Valid,
    Missing,
    Wrong,
}

fn check_token(expected: &str, headers: &HeaderMap) -> TokenCheck {
    match headers.get("token") {
        None => TokenCheck::Missing,
        Some(v) if v.as_bytes() == expected.as_bytes() => TokenCheck::Valid,
        Some(_) => TokenCheck::Wrong,
    }
}

// ---------------------------------------------------------------------------------------------
// The simulated world

#[derive(Clone, Debug)]
struct Device {
    sn: String,
    online: bool,
}

/// Plants, devices and associations, keyed by upper-cased serial for case-insensitive matching.
#[derive(Clone, Debug)]
struct World {
    plants: HashMap<u64, HashSet<u64>>,
    devices: HashMap<String, Device>,
    /// Associated serials -> when (Unix ms). Fixture serials count as linked at start-up.
    links: HashMap<String, u64>,
    /// Serials per plant in association order, so list pages are stable. Only linked serials:
    /// an association made while the device is offline waits in `pending`.
    by_plant: BTreeMap<u64, Vec<String>>,
    /// Accepted associations of offline devices: serial -> (plant, when it links, if ever on its own).
    pending: HashMap<String, (u64, Option<u64>)>,
    /// See [`SimConfig::link_delay`].
    link_delay_ms: Option<u64>,
    /// See [`SimConfig::open_world`].
    open_world: bool,
}

#[derive(Serialize, Debug)]
struct ListedDevice {
    device_sn: String,
    datalogger_sn: String,
    #[serde(rename = "type")]
    kind: u32,
    lost: bool,
    status: u32,
    last_update_time: String,
}

impl World {
    fn new(fixture: &Fixture, now_unix_ms: u64) -> World {
        let mut plants: HashMap<u64, HashSet<u64>> = HashMap::new();
        for p in &fixture.plants {
            plants
                .entry(p.plant_id)
                .or_default()
                .extend(p.c_user_ids.iter().copied());
        }
        let devices = fixture
            .devices
            .iter()
            .map(|d| {
                let key = d.sn.trim().to_ascii_uppercase();
                let device = Device {
                    sn: d.sn.trim().to_string(),
                    online: d.online,
                };
                (key, device)
            })
            .collect();
        let links = fixture
            .associated
            .iter()
            .map(|sn| (sn.trim().to_ascii_uppercase(), now_unix_ms))
            .collect();
        World {
            plants,
            devices,
            links,
            by_plant: BTreeMap::new(),
            pending: HashMap::new(),
            link_delay_ms: None,
            open_world: false,
        }
    }

    /// Whether a plant id exists (every numeric one in an open world).
    fn plant_exists(&self, id: u64) -> bool {
        self.open_world || self.plants.contains_key(&id)
    }

    /// Whether a serial (upper-cased key) exists (every alphanumeric one in an open world).
    fn device_exists(&self, sn_key: &str) -> bool {
        self.devices.contains_key(sn_key)
            || (self.open_world
                && !sn_key.is_empty()
                && sn_key.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// Apply one admitted `sn/add`, in the server's order of checks.
    fn add(&mut self, form: &AddForm, now_unix_ms: u64) -> Answer {
        let plant_raw = form.plant_id.as_deref().unwrap_or_default().trim();
        let user_raw = form.c_user_id.as_deref().unwrap_or_default().trim();
        let sn_key = form
            .sn
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        if plant_raw.is_empty() {
            return PLANT_ID_EMPTY;
        }
        if user_raw.is_empty() {
            return USER_ID_EMPTY;
        }
        let Some(plant_id) = plant_raw
            .parse::<u64>()
            .ok()
            .filter(|id| self.plant_exists(*id))
        else {
            return PLANT_MISSING;
        };
        if sn_key.is_empty() || !self.device_exists(&sn_key) {
            return SN_WRONG;
        }
        let user_ok = user_raw.parse::<u64>().is_ok_and(|u| {
            self.open_world || self.plants.get(&plant_id).is_some_and(|us| us.contains(&u))
        });
        if !user_ok {
            return USER_MISSING;
        }
        if self.links.contains_key(&sn_key) {
            return DEVICE_EXISTS;
        }
        self.links.insert(sn_key.clone(), now_unix_ms);
        // Open-world serials outside the fixture are online.
        let online = self
            .devices
            .get(&sn_key)
            .map_or(self.open_world, |d| d.online);
        if online {
            self.by_plant.entry(plant_id).or_default().push(sn_key);
        } else {
            let due = self.link_delay_ms.map(|d| now_unix_ms.saturating_add(d));
            self.pending.insert(sn_key, (plant_id, due));
        }
        OK
    }

    /// Links the pending associations whose device has come online by `now_unix_ms`.
    fn promote(&mut self, now_unix_ms: u64) {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, at))| at.is_some_and(|at| at <= now_unix_ms))
            .map(|(sn, _)| sn.clone())
            .collect();
        for sn in due {
            self.bring_online(&sn, now_unix_ms);
        }
    }

    /// Marks a device online (as `POST /__sim/online` does); a pending association links now.
    /// Returns whether the serial exists.
    fn bring_online(&mut self, sn_key: &str, now_unix_ms: u64) -> bool {
        let Some(device) = self.devices.get_mut(sn_key) else {
            return false;
        };
        device.online = true;
        if let Some((plant, _)) = self.pending.remove(sn_key) {
            self.links.insert(sn_key.to_string(), now_unix_ms);
            self.by_plant
                .entry(plant)
                .or_default()
                .push(sn_key.to_string());
        }
        true
    }

    /// Answer one admitted `device/list`: the `data` object, or the error answer.
    fn list(&mut self, q: &ListQuery, now_unix_ms: u64) -> Result<Value, Answer> {
        self.promote(now_unix_ms);
        let plant_raw = q.plant_id.as_deref().unwrap_or_default().trim();
        if plant_raw.is_empty() {
            return Err(PLANT_ID_EMPTY);
        }
        let plant_id = plant_raw
            .parse::<u64>()
            .ok()
            .filter(|id| self.plant_exists(*id))
            .ok_or(LIST_PLANT_MISSING)?;
        // Unusable paging values fall back to the defaults rather than failing the call.
        let number = |raw: &Option<String>| {
            raw.as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        let perpage = number(&q.perpage).unwrap_or(DEFAULT_PER_PAGE);
        let page = number(&q.page).unwrap_or(1);
        if perpage > MAX_PER_PAGE {
            return Err(PAGE_SIZE_TOO_BIG);
        }
        if page > MAX_PAGE {
            return Err(PAGE_TOO_HIGH);
        }
        let serials = self
            .by_plant
            .get(&plant_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let count = serials.len() as u64;
        let pages = count.div_ceil(perpage);
        let devices: Vec<ListedDevice> = serials
            .iter()
            .skip(((page - 1) * perpage) as usize)
            .take(perpage as usize)
            .map(|key| {
                let online = self.devices.get(key).is_none_or(|d| d.online);
                let sn = self
                    .devices
                    .get(key)
                    .map_or(key.as_str(), |d| d.sn.as_str());
                let at = self.links.get(key).copied().unwrap_or_default();
                ListedDevice {
                    device_sn: sn.to_string(),
                    datalogger_sn: String::new(),
                    kind: 1,
                    lost: !online,
                    status: u32::from(online),
                    last_update_time: format_datetime(at),
                }
            })
            .collect();
        Ok(json!({
            "count": count,
            "pages": pages,
            "page": page,
            "perpage": perpage,
            "devices": devices,
        }))
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), the timestamp style of the API's answers.
fn format_datetime(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------------------------
// Admission: token, frequency limit and injected faults, checked before the world is consulted.

/// Token bucket: refills at `rate` per second up to `capacity`, one token per request.
#[derive(Clone, Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    fn new(rate: f64) -> TokenBucket {
        if rate.is_nan() || rate <= 0.0 {
            // Nothing ever refills: every request is over the limit.
            return TokenBucket {
                rate: 0.0,
                capacity: 0.0,
                tokens: 0.0,
                last: None,
            };
        }
        let capacity = rate.ceil().max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    fn try_take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Settings the request path reads on every call.
#[derive(Clone, Debug)]
struct Faults {
    latency: Duration,
    jitter: Duration,
    fail_rate: f64,
    hang_rate: f64,
    hang: Duration,
}

/// What admission decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admission {
    /// Answer this at once, without consulting the world.
    Refuse(Answer),
    /// Go on to the endpoint's own checks; `hang` says whether to hold the answer back.
    Admit { hang: bool },
}

/// Draw true with probability `p`; out-of-range or NaN probabilities are clamped, never a panic.
fn chance(rng: &mut StdRng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random::<f64>() < p
    }
}

struct Gate {
    bucket: Option<TokenBucket>,
    rng: StdRng,
}

impl Gate {
    fn new(throttle_per_sec: Option<f64>, seed: u64) -> Gate {
        Gate {
            bucket: throttle_per_sec.map(TokenBucket::new),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn admit(&mut self, faults: &Faults, token: TokenCheck, now: Instant) -> Admission {
        if token != TokenCheck::Valid {
            return Admission::Refuse(PERMISSION_DENIED);
        }
        if let Some(bucket) = &mut self.bucket {
            if !bucket.try_take(now) {
                return Admission::Refuse(FREQUENT_ACCESS);
            }
        }
        if chance(&mut self.rng, faults.fail_rate) {
            return Admission::Refuse(SYSTEM_ERROR);
        }
        Admission::Admit {
            hang: chance(&mut self.rng, faults.hang_rate),
        }
    }

    /// The delay before answering: `latency` plus a uniform draw in `-jitter..=jitter`.
    fn delay(&mut self, faults: &Faults) -> Duration {
        if faults.jitter.is_zero() {
            return faults.latency;
        }
        let j = faults.jitter.as_secs_f64();
        let secs = (faults.latency.as_secs_f64() + self.rng.random_range(-j..=j)).max(0.0);
        Duration::try_from_secs_f64(secs).unwrap_or(faults.latency)
    }
}

// ---------------------------------------------------------------------------------------------
// Counters

#[derive(Default)]
struct Meter {
    stats: Stats,
    /// Arrivals within the last second, oldest first.
    window: VecDeque<Instant>,
    first: Option<Instant>,
    in_flight: u64,
}

impl Meter {
    /// Count one arriving `/v1/` request.
    fn arrive(&mut self, now: Instant, now_unix_ms: u64) {
        let s = &mut self.stats;
        s.requests += 1;
        s.first_request_unix_ms.get_or_insert(now_unix_ms);
        s.last_request_unix_ms = Some(now_unix_ms);

        let first = *self.first.get_or_insert(now);
        let second = now.saturating_duration_since(first).as_secs() as usize;
        if s.per_second.len() <= second {
            s.per_second.resize(second + 1, 0);
        }
        s.per_second[second] += 1;

        // Window (now - 1s, now]: an arrival exactly one second ago no longer counts.
        while self
            .window
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            self.window.pop_front();
        }
        self.window.push_back(now);
        s.max_in_one_second = s.max_in_one_second.max(self.window.len() as u64);
    }

    fn enter(&mut self) {
        self.in_flight += 1;
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.in_flight);
    }

    fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    fn token(&mut self, check: TokenCheck) {
        match check {
            TokenCheck::Valid => {}
            TokenCheck::Missing => self.stats.missing_token += 1,
            TokenCheck::Wrong => self.stats.wrong_token += 1,
        }
    }

    fn answered(&mut self, a: Answer) {
        *self.stats.by_code.entry(a.code.to_string()).or_default() += 1;
    }
}

/// Delays from this long end precisely (see `Shared::pause`).
const PRECISE_FROM: Duration = Duration::from_millis(5);
/// The last stretch of a precise delay, slept on a blocking thread.
const PRECISE_TAIL: Duration = Duration::from_millis(3);

// ---------------------------------------------------------------------------------------------
// Server plumbing

struct SimState {
    world: World,
    gate: Gate,
    meter: Meter,
}

struct Shared {
    token: String,
    faults: Faults,
    state: Mutex<SimState>,
    /// Flips to true on shutdown so that delayed answers go out at once.
    stopping: watch::Sender<bool>,
}

impl Shared {
    fn new(cfg: SimConfig) -> Shared {
        let SimConfig {
            token,
            fixture,
            latency,
            jitter,
            fail_rate,
            hang_rate,
            hang,
            throttle_per_sec,
            seed,
            link_delay,
            open_world,
        } = cfg;
        let mut world = World::new(&fixture, unix_ms());
        world.link_delay_ms = link_delay.map(|d| d.as_millis() as u64);
        world.open_world = open_world;
        Shared {
            token,
            faults: Faults {
                latency,
                jitter,
                fail_rate,
                hang_rate,
                hang,
            },
            state: Mutex::new(SimState {
                world,
                gate: Gate::new(throttle_per_sec, seed),
                meter: Meter::default(),
            }),
            stopping: watch::channel(false).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // Nothing inside the lock can be left half-updated in a way that matters for a
        // simulator, so carry on after a panic elsewhere rather than failing every request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count an arriving request and decide whether it gets past admission.
    fn arrive(self: &Arc<Self>, st: &mut SimState, token: TokenCheck) -> (Admission, InFlight) {
        let now = Instant::now();
        st.meter.arrive(now, unix_ms());
        st.meter.token(token);
        st.meter.enter();
        let admission = st.gate.admit(&self.faults, token, now);
        (admission, InFlight(self.clone()))
    }

    /// How long to hold the answer back.
    fn delay(&self, st: &mut SimState, hang: bool) -> Duration {
        let base = st.gate.delay(&self.faults);
        if hang {
            st.meter.stats.hung += 1;
            base.saturating_add(self.faults.hang)
        } else {
            base
        }
    }

    /// Holds the answer until `delay` after the request arrived.
    async fn pause(&self, arrived: Instant, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let target = arrived + delay;
        let wait = async move {
            // Tokio's timer fires on millisecond ticks and tends to overshoot a deadline by about
            // a millisecond, 5 % of a 20 ms latency; benchmark figures divide by the configured
            // latency, so longer delays end on a thread timer, which wakes within tens of
            // microseconds. Short delays (jitter-sized) keep the cheap timer.
            if delay >= PRECISE_FROM {
                let coarse = target - PRECISE_TAIL;
                if coarse > Instant::now() {
                    tokio::time::sleep_until(coarse.into()).await;
                }
                let left = target.saturating_duration_since(Instant::now());
                if !left.is_zero() {
                    let _ = tokio::task::spawn_blocking(move || std::thread::sleep(left)).await;
                }
            } else {
                tokio::time::sleep_until(target.into()).await;
            }
        };
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            _ = wait => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
    }
}

/// Marks a request as in flight until dropped, including when the connection goes away
/// and the handler is abandoned mid-delay.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().meter.leave();
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/device/sn/add", post(add_device))
        .route("/v1/device/list", get(list_devices))
        .route("/__sim/stats", get(stats))
        .route("/__sim/online", post(mark_online))
        .fallback(not_found)
        .with_state(shared)
}

async fn add_device(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let arrived = Instant::now();
    // An unreadable body is treated as an empty form: the answer is still an envelope.
    let form = AddForm::parse(body.as_deref().unwrap_or_default());
    let token = check_token(&app.token, &headers);
    let (answer, delay, _in_flight) = {
        let mut st = app.lock();
        if let Some(sn) = form.sn.as_deref().filter(|s| !s.is_empty()) {
            *st.meter
                .stats
                .requests_per_sn
                .entry(sn.to_string())
                .or_default() += 1;
        }
        let (admission, in_flight) = app.arrive(&mut st, token);
        let (answer, hang) = match admission {
            Admission::Refuse(a) => (a, false),
            Admission::Admit { hang } => (st.world.add(&form, unix_ms()), hang),
        };
        st.meter.answered(answer);
        if answer == OK {
            if let Some(sn) = &form.sn {
                *st.meter.stats.adds_per_sn.entry(sn.clone()).or_default() += 1;
            }
        }
        let delay = app.delay(&mut st, hang);
        (answer, delay, in_flight)
    };
    tracing::debug!(code = answer.code, sn = ?form.sn, ?delay, "sn/add");
    app.pause(arrived, delay).await;
    envelope(answer, Value::Null)
}

async fn list_devices(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let arrived = Instant::now();
    let q = ListQuery::parse(query.as_deref().unwrap_or_default().as_bytes());
    let token = check_token(&app.token, &headers);
    let (result, delay, _in_flight) = {
        let mut st = app.lock();
        let (admission, in_flight) = app.arrive(&mut st, token);
        let (result, hang) = match admission {
            Admission::Refuse(a) => (Err(a), false),
            Admission::Admit { hang } => (st.world.list(&q, unix_ms()), hang),
        };
        st.meter
            .answered(result.as_ref().map_or_else(|a| *a, |_| OK));
        let delay = app.delay(&mut st, hang);
        (result, delay, in_flight)
    };
    app.pause(arrived, delay).await;
    match result {
        Ok(data) => envelope(OK, data),
        Err(a) => envelope(a, Value::Null),
    }
}

/// `GET /__sim/stats`: every counter. With `?summary=1` the per-serial maps (large for a big
/// fleet) are left out and replaced by counts: `serials_requested`, `serials_added`,
/// `serials_requested_more_than_once` and `duplicate_adds` (serials answered `0` more than once).
async fn stats(State(app): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let summary = url_pairs(query.as_deref().unwrap_or_default().as_bytes())
        .iter()
        .any(|(k, v)| k == "summary" && v != "0");
    let mut st = app.lock();
    if !summary {
        return Json(st.meter.stats.clone()).into_response();
    }
    let s = &mut st.meter.stats;
    let counts = json!({
        "serials_requested": s.requests_per_sn.len(),
        "serials_added": s.adds_per_sn.len(),
        "serials_requested_more_than_once": s.requests_per_sn.values().filter(|n| **n > 1).count(),
        "duplicate_adds": s.adds_per_sn.values().filter(|n| **n > 1).count(),
    });
    // Serialise the rest without copying the maps.
    let requests_per_sn = std::mem::take(&mut s.requests_per_sn);
    let adds_per_sn = std::mem::take(&mut s.adds_per_sn);
    let mut out = serde_json::to_value(&*s).unwrap_or(Value::Null);
    s.requests_per_sn = requests_per_sn;
    s.adds_per_sn = adds_per_sn;
    drop(st);
    if let (Value::Object(out), Value::Object(counts)) = (&mut out, counts) {
        out.remove("requests_per_sn");
        out.remove("adds_per_sn");
        out.extend(counts);
    }
    Json(out).into_response()
}

/// `POST /__sim/online?sn=SN`: the device comes online now, so a pending association links.
async fn mark_online(State(app): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let sn = url_pairs(query.as_deref().unwrap_or_default().as_bytes())
        .into_iter()
        .find(|(k, _)| k == "sn")
        .map(|(_, v)| v.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let known = app.lock().world.bring_online(&sn, unix_ms());
    let status = if known {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (status, Json(json!({ "sn": sn, "known": known }))).into_response()
}

async fn not_found(State(app): State<Arc<Shared>>, uri: Uri) -> StatusCode {
    if uri.path().starts_with("/v1/") {
        app.lock().meter.arrive(Instant::now(), unix_ms());
    }
    StatusCode::NOT_FOUND
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Fixture {
        Fixture {
            plants: vec![
                FixturePlant {
                    plant_id: 1001,
                    c_user_ids: vec![501, 502],
                },
                FixturePlant {
                    plant_id: 1002,
                    c_user_ids: vec![503],
                },
            ],
            devices: ["AAA0A0001A", "AAA0A0002B", "AAA0A0003C", "AAA0A0004D"]
                .iter()
                .map(|sn| FixtureDevice {
                    sn: sn.to_string(),
                    online: !sn.ends_with('D'),
                })
                .collect(),
            associated: vec!["aaa0a0003c".into()],
        }
    }

    fn form(plant_id: Option<&str>, sn: Option<&str>, c_user_id: Option<&str>) -> AddForm {
        AddForm {
            plant_id: plant_id.map(str::to_string),
            sn: sn.map(str::to_string),
            c_user_id: c_user_id.map(str::to_string),
        }
    }

    fn add_code(world: &mut World, p: Option<&str>, sn: Option<&str>, u: Option<&str>) -> i64 {
        world.add(&form(p, sn, u), 0).code
    }

    fn faults(fail_rate: f64, hang_rate: f64) -> Faults {
        Faults {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fail_rate,
            hang_rate,
            hang: Duration::from_secs(60),
        }
    }

    #[test]
    fn builtin_fixture_matches_the_sample_fleet() {
        let fx = Fixture::builtin();
        assert_eq!(fx.plants.len(), 8);
        assert!(fx.devices.len() >= 290, "{} devices", fx.devices.len());
        assert!(fx.devices.iter().any(|d| !d.online));
        let known: HashSet<String> = fx.devices.iter().map(|d| d.sn.clone()).collect();
        // Every serial in the fleet that is well formed either exists or is one of the two
        // planted unknown serials.
        let fleet = include_str!("../samples/fleet.csv");
        let unknown: Vec<&str> = fleet
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1))
            .filter(|sn| sn.len() == 10 && sn.chars().all(|c| c.is_ascii_alphanumeric()))
            .filter(|sn| !known.contains(&sn.to_ascii_uppercase()))
            .collect();
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert_eq!(fleet.lines().count(), 301);
    }

    #[test]
    fn online_defaults_to_true_and_associated_to_empty() {
        let fx: Fixture = serde_json::from_str(
            r#"{"plants":[],"devices":[{"sn":"X1"},{"sn":"X2","online":false}]}"#,
        )
        .unwrap();
        assert!(fx.devices[0].online);
        assert!(!fx.devices[1].online);
        assert!(fx.associated.is_empty());
    }

    #[test]
    fn bad_fixture_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = format!("{:#}", Fixture::from_path(&path).unwrap_err());
        assert!(err.contains("world.json"), "{err}");
        let missing = dir.path().join("absent.json");
        let err = format!("{:#}", Fixture::from_path(&missing).unwrap_err());
        assert!(err.contains("absent.json"), "{err}");

        std::fs::write(&path, serde_json::to_string(&fixture()).unwrap()).unwrap();
        assert_eq!(Fixture::from_path(&path).unwrap(), fixture());
    }

    #[test]
    fn add_checks_run_in_the_servers_order() {
        let mut w = World::new(&fixture(), 0);
        let good = Some("AAA0A0001A");
        // plant id empty wins over everything else
        assert_eq!(add_code(&mut w, None, None, None), 10002);
        assert_eq!(add_code(&mut w, Some("  "), good, Some("501")), 10002);
        assert_eq!(w.add(&form(Some(""), good, Some("501")), 0), PLANT_ID_EMPTY);
        // then the user id
        assert_eq!(add_code(&mut w, Some("1001"), good, None), 10006);
        assert_eq!(add_code(&mut w, Some("abc"), None, Some("")), 10006);
        // then the plant
        assert_eq!(add_code(&mut w, Some("abc"), good, Some("501")), 10004);
        assert_eq!(add_code(&mut w, Some("1001.0"), good, Some("501")), 10004);
        assert_eq!(add_code(&mut w, Some("9999"), None, Some("501")), 10004);
        // then the serial
        assert_eq!(add_code(&mut w, Some("1001"), None, Some("501")), 10002);
        assert_eq!(add_code(&mut w, Some("1001"), Some(""), Some("501")), 10002);
        assert_eq!(
            w.add(&form(Some("1001"), Some("ZZZ"), Some("x")), 0),
            SN_WRONG
        );
        assert_eq!(
            add_code(
                &mut w,
                Some("1001"),
                Some("AAA0A0001A,AAA0A0002B"),
                Some("501")
            ),
            10002,
            "one serial per call"
        );
        // then the user
        assert_eq!(add_code(&mut w, Some("1001"), good, Some("503")), 10005);
        assert_eq!(add_code(&mut w, Some("1001"), good, Some("501.0")), 10005);
        assert_eq!(add_code(&mut w, Some("1001"), good, Some("999")), 10005);
        // then the association
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0003C"), Some("501")),
            10003
        );
        // none of the refusals associated anything
        assert!(w.by_plant.is_empty());
        assert_eq!(add_code(&mut w, Some(" 1001 "), good, Some("502 ")), 0);
        assert_eq!(add_code(&mut w, Some("1002"), good, Some("503")), 10003);
    }

    #[test]
    fn serials_match_case_insensitively() {
        let mut w = World::new(&fixture(), 0);
        assert_eq!(
            add_code(&mut w, Some("1002"), Some("aaa0a0002b"), Some("503")),
            0
        );
        assert_eq!(
            add_code(&mut w, Some("1002"), Some("AAA0A0002B"), Some("503")),
            10003
        );
        // the fixture's associated list is lower case, the device upper case
        assert_eq!(
            add_code(&mut w, Some("1002"), Some("AAA0A0003C"), Some("503")),
            10003
        );
    }

    #[test]
    fn admission_refuses_tokens_then_throttle_then_fails() {
        let now = Instant::now();
        let mut gate = Gate::new(Some(1.0), 7);
        let f = faults(0.0, 0.0);
        assert_eq!(
            gate.admit(&f, TokenCheck::Missing, now),
            Admission::Refuse(PERMISSION_DENIED)
        );
        assert_eq!(
            gate.admit(&f, TokenCheck::Wrong, now),
            Admission::Refuse(PERMISSION_DENIED)
        );
        // refused tokens did not use up the one-request bucket
        assert_eq!(
            gate.admit(&f, TokenCheck::Valid, now),
            Admission::Admit { hang: false }
        );
        assert_eq!(
            gate.admit(&f, TokenCheck::Valid, now),
            Admission::Refuse(FREQUENT_ACCESS)
        );
        // a wrong token is reported as such even while throttled
        assert_eq!(
            gate.admit(&f, TokenCheck::Wrong, now),
            Admission::Refuse(PERMISSION_DENIED)
        );
        let later = now + Duration::from_secs(1);
        assert_eq!(
            gate.admit(&faults(1.0, 1.0), TokenCheck::Valid, later),
            Admission::Refuse(SYSTEM_ERROR)
        );
        let mut gate = Gate::new(None, 7);
        assert_eq!(
            gate.admit(&faults(0.0, 1.0), TokenCheck::Valid, now),
            Admission::Admit { hang: true }
        );
        // nonsense probabilities are clamped, not a panic
        assert_eq!(
            gate.admit(&faults(f64::NAN, -3.0), TokenCheck::Valid, now),
            Admission::Admit { hang: false }
        );
    }

    #[test]
    fn fault_draws_are_reproducible_from_the_seed() {
        let draws = |seed| {
            let mut gate = Gate::new(None, seed);
            let now = Instant::now();
            (0..200)
                .map(|_| gate.admit(&faults(0.3, 0.0), TokenCheck::Valid, now))
                .collect::<Vec<_>>()
        };
        let a = draws(42);
        assert_eq!(a, draws(42));
        assert_ne!(a, draws(43));
        let failed = a
            .iter()
            .filter(|x| **x == Admission::Refuse(SYSTEM_ERROR))
            .count();
        assert!((30..=90).contains(&failed), "{failed} of 200 at 30%");
    }

    #[test]
    fn throttle_with_a_fractional_rate() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = TokenBucket::new(0.5);
        assert!(b.try_take(at(0)), "burst of one");
        assert!(!b.try_take(at(1)));
        assert!(!b.try_take(at(1500)), "only 0.75 tokens after 1.5 s");
        assert!(b.try_take(at(2000)), "a full token after 2 s");
        assert!(!b.try_take(at(2100)));
        // no banking beyond the burst: a long quiet spell still allows just one
        assert!(b.try_take(at(60_000)));
        assert!(!b.try_take(at(60_001)));

        let mut b = TokenBucket::new(2.5);
        let burst = (0..10).filter(|_| b.try_take(at(0))).count();
        assert_eq!(burst, 3, "burst is ceil(2.5)");
        assert!(b.try_take(at(400)), "2.5/s refills one token in 0.4 s");
        assert!(!b.try_take(at(500)));

        let mut b = TokenBucket::new(0.0);
        assert!(!b.try_take(at(0)));
        assert!(!b.try_take(at(100_000)));
    }

    #[test]
    fn sliding_window_and_per_second_counts() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        for ms in [0, 500, 900, 1200, 1300, 1499, 2600, 4100] {
            m.arrive(t0 + Duration::from_millis(ms), 1_000 + ms);
        }
        // (0.499, 1.499] holds 500, 900, 1200, 1300, 1499
        assert_eq!(m.stats.max_in_one_second, 5);
        assert_eq!(m.stats.per_second, vec![3, 3, 1, 0, 1]);
        assert_eq!(m.stats.requests, 8);
        assert_eq!(m.stats.first_request_unix_ms, Some(1_000));
        assert_eq!(m.stats.last_request_unix_ms, Some(5_100));

        // an arrival exactly one second after another is in a new window
        let mut m = Meter::default();
        for ms in [0, 1000, 2000, 3000] {
            m.arrive(t0 + Duration::from_millis(ms), ms);
        }
        assert_eq!(m.stats.max_in_one_second, 1);
    }

    #[test]
    fn offline_devices_link_after_the_delay_or_when_marked_online() {
        let mut w = World::new(&fixture(), 0);
        w.link_delay_ms = Some(1000);
        let q = ListQuery {
            plant_id: Some("1001".into()),
            page: Some("1".into()),
            perpage: Some("100".into()),
        };
        // AAA0A0004D is offline in the fixture.
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0004D"), Some("501")),
            0
        );
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0001A"), Some("501")),
            0
        );
        assert_eq!(
            w.list(&q, 500).unwrap()["count"],
            1,
            "online device linked at once"
        );
        // A second add of the pending serial is still 'already associated'.
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0004D"), Some("501")),
            10003
        );
        assert_eq!(
            w.list(&q, 1500).unwrap()["count"],
            2,
            "linked once the delay passed"
        );

        let mut w = World::new(&fixture(), 0);
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0004D"), Some("501")),
            0
        );
        assert_eq!(
            w.list(&q, u64::MAX / 2).unwrap()["count"],
            0,
            "no delay: waits"
        );
        assert!(w.bring_online("AAA0A0004D", 10));
        assert_eq!(w.list(&q, 11).unwrap()["count"], 1);
        assert!(!w.bring_online("NOSUCHSN", 10));
    }

    #[test]
    fn list_pages_through_the_plants_devices() {
        let mut w = World::new(&fixture(), 0);
        for sn in ["AAA0A0001A", "AAA0A0002B", "aaa0a0004d"] {
            assert_eq!(add_code(&mut w, Some("1001"), Some(sn), Some("501")), 0);
        }
        let q = |p: &str, page: &str, per: &str| ListQuery {
            plant_id: Some(p.into()),
            page: Some(page.into()),
            perpage: Some(per.into()),
        };
        // The offline device's association waits until it comes online.
        assert_eq!(w.list(&q("1001", "1", "100"), 0).unwrap()["count"], 2);
        assert!(w.bring_online("AAA0A0004D", 0));
        w.devices.get_mut("AAA0A0004D").unwrap().online = false;
        let data = w.list(&q("1001", "2", "2"), 0).unwrap();
        assert_eq!(data["count"], 3);
        assert_eq!(data["pages"], 2);
        assert_eq!(data["page"], 2);
        assert_eq!(data["perpage"], 2);
        let devices = data["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 1);
        // listed with the fixture's spelling, offline devices shown as lost
        assert_eq!(devices[0]["device_sn"], "AAA0A0004D");
        assert_eq!(devices[0]["lost"], true);
        assert_eq!(devices[0]["status"], 0);
        assert_eq!(devices[0]["type"], 1);
        assert_eq!(devices[0]["last_update_time"], "1970-01-01 00:00:00");

        let first = w.list(&q("1001", "1", "100"), 0).unwrap();
        assert_eq!(first["devices"][0]["device_sn"], "AAA0A0001A");
        assert_eq!(first["devices"][0]["lost"], false);
        let empty = w.list(&q("1002", "1", "10"), 0).unwrap();
        assert_eq!(
            (empty["count"].as_u64(), empty["pages"].as_u64()),
            (Some(0), Some(0))
        );

        assert_eq!(w.list(&q("1001", "1", "101"), 0), Err(PAGE_SIZE_TOO_BIG));
        assert_eq!(w.list(&q("1001", "251", "10"), 0), Err(PAGE_TOO_HIGH));
        assert_eq!(w.list(&q(" ", "1", "10"), 0), Err(PLANT_ID_EMPTY));
        assert_eq!(w.list(&ListQuery::default(), 0), Err(PLANT_ID_EMPTY));
        assert_eq!(w.list(&q("4242", "1", "10"), 0), Err(LIST_PLANT_MISSING));
        assert_eq!(
            w.list(&q("x", "1", "10"), 0).map_err(|a| a.code),
            Err(10003)
        );
    }

    #[test]
    fn open_world_knows_every_numeric_plant_and_user_and_alphanumeric_serial() {
        let mut w = World::new(&fixture(), 0);
        w.open_world = true;
        // Anything numeric / alphanumeric exists, online, and links at once.
        assert_eq!(
            add_code(&mut w, Some("987654"), Some("ZX12345678"), Some("42")),
            0
        );
        assert_eq!(
            add_code(&mut w, Some("1"), Some("zx12345678"), Some("7")),
            10003,
            "a second add is still 'already associated'"
        );
        let q = ListQuery {
            plant_id: Some("987654".into()),
            page: Some("1".into()),
            perpage: Some("10".into()),
        };
        let listed = w.list(&q, 0).unwrap();
        assert_eq!(listed["count"], 1);
        assert_eq!(listed["devices"][0]["lost"], false);
        // The fixture still applies, and the other checks are unchanged.
        assert_eq!(
            add_code(&mut w, Some("1001"), Some("AAA0A0003C"), Some("1")),
            10003
        );
        assert_eq!(
            add_code(&mut w, Some("5"), Some("NOT-A-SN"), Some("1")),
            10002
        );
        assert_eq!(add_code(&mut w, Some("5"), Some(""), Some("1")), 10002);
        assert_eq!(add_code(&mut w, Some("abc"), Some("ZX1"), Some("1")), 10004);
        assert_eq!(add_code(&mut w, Some("5"), Some("ZX1"), Some("x1")), 10005);
        assert_eq!(add_code(&mut w, Some(""), Some("ZX1"), Some("1")), 10002);
        assert_eq!(add_code(&mut w, Some("5"), Some("ZX1"), None), 10006);
        // A closed world (the default) knows only the fixture.
        let mut closed = World::new(&fixture(), 0);
        assert_eq!(
            add_code(&mut closed, Some("987654"), Some("AAA0A0001A"), Some("42")),
            10004
        );
        assert_eq!(
            add_code(&mut closed, Some("1001"), Some("ZX12345678"), Some("501")),
            10002
        );
        assert_eq!(
            add_code(&mut closed, Some("1001"), Some("AAA0A0001A"), Some("42")),
            10005
        );
    }

    #[test]
    fn dates_format_like_the_api() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(1_767_225_600_000), "2026-01-01 00:00:00");
        assert_eq!(format_datetime(1_709_217_045_999), "2024-02-29 14:30:45");
        assert_eq!(format_datetime(951_782_400_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn forms_decode_and_tolerate_garbage() {
        let f = AddForm::parse(b"plant_id=1001&sn=ab%43d+e&c_user_id=501&sn=OTHER&x=1");
        assert_eq!(f, form(Some("1001"), Some("abCd e"), Some("501")));
        let f = AddForm::parse(b"%zz&&=&sn&plant_id=%4&c_user_id=%e2%82%ac\xff");
        assert_eq!(f.sn.as_deref(), Some(""));
        assert_eq!(f.plant_id.as_deref(), Some("%4"));
        assert_eq!(f.c_user_id.as_deref(), Some("\u{20ac}\u{fffd}"));
        assert_eq!(AddForm::parse(br#"{"plant_id":1001}"#), AddForm::default());
        let q = ListQuery::parse(b"plant_id=1001&page=2&perpage=50");
        assert_eq!(q.page.as_deref(), Some("2"));
        assert_eq!(q.perpage.as_deref(), Some("50"));
    }

    fn cfg() -> SimConfig {
        SimConfig {
            fixture: fixture(),
            ..SimConfig::default()
        }
    }

    fn local() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn post_add(
        c: &reqwest::Client,
        base: &str,
        token: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Value {
        let mut req = c.post(format!("{base}/v1/device/sn/add")).form(fields);
        if let Some(t) = token {
            req = req.header("token", t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        serde_json::from_str(&resp.text().await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn http_round_trip_and_stats() {
        let server = start(local(), cfg()).await.unwrap();
        let base = server.base_url();
        assert_eq!(base, format!("http://127.0.0.1:{}", server.addr().port()));
        let c = client();
        let good = [
            ("plant_id", "1001"),
            ("sn", "AAA0A0001A"),
            ("c_user_id", "501"),
        ];

        let first = post_add(&c, &base, Some(DEFAULT_TOKEN), &good).await;
        assert_eq!(
            first,
            json!({"data": null, "error_code": 0, "error_msg": ""})
        );
        let again = post_add(&c, &base, Some(DEFAULT_TOKEN), &good).await;
        assert_eq!(again["error_code"], 10003);
        assert_eq!(again["error_msg"], "device already exists");
        let anon = post_add(&c, &base, None, &good).await;
        assert_eq!(anon["error_code"], 10011);
        let wrong = post_add(&c, &base, Some("nope"), &good).await;
        assert_eq!(wrong["error_msg"], "error_permission_denied");

        let list: Value = serde_json::from_str(
            &c.get(format!(
                "{base}/v1/device/list?plant_id=1001&page=1&perpage=10"
            ))
            .header("token", DEFAULT_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        )
        .unwrap();
        assert_eq!(list["error_code"], 0);
        assert_eq!(list["data"]["devices"][0]["device_sn"], "AAA0A0001A");
        assert!(list["data"]["devices"][0]["last_update_time"]
            .as_str()
            .unwrap()
            .starts_with("20"));

        let other = c.get(format!("{base}/v1/nothing")).send().await.unwrap();
        assert_eq!(other.status(), 404);

        let served: Stats = serde_json::from_str(
            &c.get(format!("{base}/__sim/stats"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(served, server.stats());
        assert_eq!(served.requests, 6, "stats endpoint itself is not counted");
        assert_eq!(served.requests_per_sn.get("AAA0A0001A"), Some(&4));
        assert_eq!(served.adds_per_sn.get("AAA0A0001A"), Some(&1));
        assert_eq!(served.by_code.get("0"), Some(&2), "the add and the list");
        assert_eq!(served.by_code.get("10003"), Some(&1));
        assert_eq!(served.by_code.get("10011"), Some(&2));
        assert_eq!((served.missing_token, served.wrong_token), (1, 1));
        assert_eq!(served.per_second.iter().sum::<u64>(), 6);
        assert!(served.first_request_unix_ms <= served.last_request_unix_ms);
        assert!(served.max_in_flight >= 1);

        let addr = server.addr();
        server.shutdown().await;
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "port closed"
        );
    }

    #[tokio::test]
    async fn stats_summary_counts_serials_instead_of_listing_them() {
        let server = start(
            local(),
            SimConfig {
                open_world: true,
                hang_rate: 1.0,
                hang: Duration::ZERO,
                ..cfg()
            },
        )
        .await
        .unwrap();
        let c = client();
        let base = server.base_url();
        for sn in ["SN1", "SN1", "SN2"] {
            let f = [("plant_id", "77"), ("sn", sn), ("c_user_id", "88")];
            post_add(&c, &base, Some(DEFAULT_TOKEN), &f).await;
        }
        let get = |q: &'static str| {
            let c = c.clone();
            let url = format!("{base}/__sim/stats{q}");
            async move {
                let text = c.get(url).send().await.unwrap().text().await.unwrap();
                serde_json::from_str::<Value>(&text).unwrap()
            }
        };
        let s = get("?summary=1").await;
        assert_eq!(s["requests"], 3);
        assert_eq!(s["by_code"], json!({"0": 2, "10003": 1}));
        assert_eq!(s["hung"], 3);
        assert_eq!(s["serials_requested"], 2);
        assert_eq!(s["serials_added"], 2);
        assert_eq!(s["serials_requested_more_than_once"], 1);
        assert_eq!(s["duplicate_adds"], 0);
        assert!(s.get("requests_per_sn").is_none() && s.get("adds_per_sn").is_none());
        // The full form still has the maps, which the summary left in place.
        let full = get("").await;
        assert_eq!(full["requests_per_sn"], json!({"SN1": 2, "SN2": 1}));
        assert_eq!(full["adds_per_sn"], json!({"SN1": 1, "SN2": 1}));
        assert_eq!(get("?summary=0").await, full);
        server.shutdown().await;
    }

    /// Send raw bytes as one HTTP/1.1 request and return (status line, body).
    async fn raw_request(addr: SocketAddr, request: &[u8]) -> (String, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (
            head.lines().next().unwrap_or("").to_string(),
            body.to_string(),
        )
    }

    #[tokio::test]
    async fn broken_bodies_still_get_the_envelope() {
        let server = start(local(), cfg()).await.unwrap();
        let body: &[u8] = b"plant_id=%%1001&sn=\xff\xfe&c_user_id";
        let mut req = format!(
            "POST /v1/device/sn/add HTTP/1.1\r\nHost: x\r\ntoken: {DEFAULT_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let (status, body) = raw_request(server.addr(), &req).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error_code"], 10006, "c_user_id present but empty: {v}");
        assert_eq!(v["data"], Value::Null);

        let req = "POST /v1/device/sn/add HTTP/1.1\r\nHost: x\r\ntoken: wrong\r\n\
                   Content-Length: 0\r\nConnection: close\r\n\r\n";
        let (status, body) = raw_request(server.addr(), req.as_bytes()).await;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error_code"], 10011);
        assert_eq!(server.stats().wrong_token, 1);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn throttle_over_http_answers_10012_in_the_body() {
        let server = start(
            local(),
            SimConfig {
                throttle_per_sec: Some(0.5),
                ..cfg()
            },
        )
        .await
        .unwrap();
        let c = client();
        let base = server.base_url();
        let f = [
            ("plant_id", "1002"),
            ("sn", "AAA0A0002B"),
            ("c_user_id", "503"),
        ];
        let codes: Vec<Value> =
            futures::future::join_all((0..3).map(|_| post_add(&c, &base, Some(DEFAULT_TOKEN), &f)))
                .await
                .into_iter()
                .map(|v| v["error_code"].clone())
                .collect();
        assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
        assert_eq!(
            codes.iter().filter(|c| **c == 10012).count(),
            2,
            "{codes:?}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn hung_request_keeps_its_association_and_shutdown_is_prompt() {
        let server = start(
            local(),
            SimConfig {
                hang_rate: 1.0,
                hang: Duration::from_secs(600),
                ..cfg()
            },
        )
        .await
        .unwrap();
        let c = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = c
            .post(format!("{}/v1/device/sn/add", server.base_url()))
            .header("token", DEFAULT_TOKEN)
            .form(&[
                ("plant_id", "1001"),
                ("sn", "AAA0A0001A"),
                ("c_user_id", "501"),
            ])
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let stats = server.stats();
        assert_eq!(stats.adds_per_sn.get("AAA0A0001A"), Some(&1));
        assert_eq!(stats.by_code.get("0"), Some(&1));

        // a second request is also held; shutdown must answer it rather than wait 600 s
        let base = server.base_url();
        let pending = tokio::spawn(async move {
            post_add(
                &client(),
                &base,
                Some(DEFAULT_TOKEN),
                &[
                    ("plant_id", "1001"),
                    ("sn", "aaa0a0001a"),
                    ("c_user_id", "501"),
                ],
            )
            .await
        });
        while server.stats().requests < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let t = Instant::now();
        server.shutdown().await;
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let v = pending.await.unwrap();
        assert_eq!(
            v["error_code"], 10003,
            "the retry meets the earlier association"
        );
    }

    #[tokio::test]
    async fn latency_delays_answers_and_overlaps_count_in_flight() {
        let server = start(
            local(),
            SimConfig {
                latency: Duration::from_millis(300),
                jitter: Duration::from_millis(50),
                ..cfg()
            },
        )
        .await
        .unwrap();
        let c = client();
        let base = server.base_url();
        let t = Instant::now();
        let answers = futures::future::join_all((0..3).map(|_| {
            post_add(
                &c,
                &base,
                Some(DEFAULT_TOKEN),
                &[("plant_id", "1001"), ("sn", "nope"), ("c_user_id", "501")],
            )
        }))
        .await;
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        assert!(answers.iter().all(|v| v["error_code"] == 10002));
        let stats = server.stats();
        assert_eq!(stats.max_in_flight, 3);
        assert_eq!(stats.max_in_one_second, 3);
        server.shutdown().await;
    }
}
