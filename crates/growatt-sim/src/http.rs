//! The HTTP side: the router, one handler per endpoint, the envelope, the shared state.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::account::Book;
use crate::account_http;
use crate::admission::{check_token, Admission, Faults, Gate, TokenCheck};
use crate::answer::{Answer, OK};
use crate::form::{pairs, AddForm, ListQuery};
use crate::stats::Meter;
use crate::world::World;
use crate::SimConfig;

/// Delays from this long end precisely (see `Shared::pause`).
const PRECISE_FROM: Duration = Duration::from_millis(5);
/// The last stretch of a precise delay, slept on a blocking thread.
const PRECISE_TAIL: Duration = Duration::from_millis(3);

/// Everything a request changes, behind one lock.
pub(crate) struct SimState {
    pub(crate) world: World,
    pub(crate) account: Book,
    gate: Gate,
    pub(crate) meter: Meter,
}

/// The state every handler sees: the settings read on each call and the locked [`SimState`].
pub(crate) struct Shared {
    token: String,
    faults: Faults,
    state: Mutex<SimState>,
    /// Flips to true on shutdown so that delayed answers go out at once.
    pub(crate) stopping: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig) -> Shared {
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
        let account = Book::new(&fixture);
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
                account,
                gate: Gate::new(throttle_per_sec, seed),
                meter: Meter::default(),
            }),
            stopping: watch::channel(false).0,
        }
    }

    /// The accepted token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SimState> {
        // Nothing inside the lock can be left half-updated in a way that matters for a
        // simulator, so carry on after a panic elsewhere rather than failing every request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count an arriving request and decide whether it gets past admission.
    pub(crate) fn arrive(
        self: &Arc<Self>,
        st: &mut SimState,
        token: TokenCheck,
    ) -> (Admission, InFlight) {
        let now = Instant::now();
        st.meter.arrive(now, unix_ms());
        st.meter.token(token);
        st.meter.enter();
        let admission = st.gate.admit(&self.faults, token, now);
        (admission, InFlight(self.clone()))
    }

    /// How long to hold the answer back.
    pub(crate) fn delay(&self, st: &mut SimState, hang: bool) -> Duration {
        let base = st.gate.delay(&self.faults);
        if hang {
            st.meter.stats.hung += 1;
            base.saturating_add(self.faults.hang)
        } else {
            base
        }
    }

    /// Holds the answer until `delay` after the request arrived.
    pub(crate) async fn pause(&self, arrived: Instant, delay: Duration) {
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
pub(crate) struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().meter.leave();
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn envelope(a: Answer, data: Value) -> Response {
    Json(json!({ "data": data, "error_code": a.code, "error_msg": a.msg })).into_response()
}

/// The simulator's routes: the two API endpoints and the `/__sim/` controls.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/device/sn/add", post(add_device))
        .route("/v1/device/list", get(list_devices))
        .route("/v1/plant/list", get(account_http::plant_list))
        .route("/v1/user/c_user_list", get(account_http::user_list))
        .route("/v1/plant/sn_plant", post(account_http::sn_plant))
        .route("/__sim/stats", get(stats))
        .route("/__sim/account", get(account_http::stats))
        .route("/__sim/next_day", post(account_http::next_day))
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
    let summary = pairs(query.as_deref().unwrap_or_default().as_bytes())
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
    let sn = pairs(query.as_deref().unwrap_or_default().as_bytes())
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
