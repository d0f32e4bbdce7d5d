//! The state every handler shares: the world, the admission and limits, the meters, and the
//! envelope and login page they answer with.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::watch;

use crate::account::Book;
use crate::admission::{Admission, Faults, Gate, Request};
use crate::answer::{Answer, OK};
use crate::limits::Limits;
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
    pub(crate) token: String,
    /// See [`SimConfig::brotli_plant_list`].
    pub(crate) brotli_plant_list: bool,
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
            throttle_model,
            cooldown,
            spacing,
            daily_cap,
            fail_first_rate,
            mode,
            seed,
            link_delay,
            open_world,
            brotli_plant_list,
        } = cfg;
        let limits = Limits::new(throttle_model, cooldown, spacing, daily_cap);
        let mut world = World::new(&fixture, unix_ms());
        let account = Book::new(&fixture);
        world.link_delay_ms = link_delay.map(|d| d.as_millis() as u64);
        world.open_world = open_world;
        Shared {
            token,
            brotli_plant_list,
            faults: Faults {
                latency,
                jitter,
                fail_rate,
                hang_rate,
                hang,
                fail_first_rate,
                mode,
            },
            state: Mutex::new(SimState {
                world,
                account,
                gate: Gate::new(throttle_per_sec, limits, seed),
                meter: Meter::default(),
            }),
            stopping: watch::channel(false).0,
        }
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
        req: &Request<'_>,
        now: Instant,
    ) -> (Admission, InFlight) {
        st.meter.arrive(now, unix_ms());
        st.meter.token(req.token);
        st.meter.enter();
        let admission = st.gate.admit_request(&self.faults, req, now);
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

    /// The path of an endpoint whose answer is data or a refusal: admission, the endpoint's own
    /// `decide`, the count of the answer, the delay, then the envelope (Brotli-compressed when
    /// `brotli` is set) or the login page.
    pub(crate) async fn respond(
        self: &Arc<Self>,
        arrived: Instant,
        req: Request<'_>,
        brotli: bool,
        decide: impl FnOnce(&mut SimState) -> Result<Value, Answer>,
    ) -> Response {
        let (result, delay, _in_flight) = {
            let mut st = self.lock();
            let (admission, in_flight) = self.arrive(&mut st, &req, arrived);
            let (result, hang) = match admission {
                Admission::LoginPage => (None, false),
                Admission::Refuse(a) => (Some(Err(a)), false),
                Admission::Admit { hang } => (Some(decide(&mut st)), hang),
            };
            if let Some(result) = &result {
                st.meter
                    .answered(result.as_ref().map_or_else(|a| *a, |_| OK));
            }
            let delay = self.delay(&mut st, hang);
            (result, delay, in_flight)
        };
        self.pause(arrived, delay).await;
        let envelope = if brotli { envelope_brotli } else { envelope };
        match result {
            Some(Ok(data)) => envelope(OK, data),
            Some(Err(a)) => envelope(a, Value::Null),
            None => login_page(),
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

/// The content type the live server labels its JSON with.
pub(crate) const LIVE_CONTENT_TYPE: &str = "text/html;charset=UTF-8";

/// The envelope's text as the live server writes it: keys in the order `error_msg`, `data`,
/// `error_code`; `data: ""` on an error; `error_msg: ""` on success. An answer without data to
/// a success is the vendor's documented add answer, `{"error_code":0,"error_msg":""}`.
pub(crate) fn envelope_text(a: Answer, data: Value) -> String {
    let msg = Value::from(a.msg);
    match data {
        Value::Null if a.code == 0 => format!(r#"{{"error_code":0,"error_msg":{msg}}}"#),
        Value::Null => format!(r#"{{"error_msg":{msg},"data":"","error_code":{}}}"#, a.code),
        data => format!(
            r#"{{"error_msg":{msg},"data":{data},"error_code":{}}}"#,
            a.code
        ),
    }
}

/// An envelope answer, labelled as the live server labels it.
pub(crate) fn envelope(a: Answer, data: Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, LIVE_CONTENT_TYPE)],
        envelope_text(a, data),
    )
        .into_response()
}

/// An envelope answer Brotli-compressed (`Content-Encoding: br`), as the live server sent
/// `plant/list`.
pub(crate) fn envelope_brotli(a: Answer, data: Value) -> Response {
    let text = envelope_text(a, data);
    let mut packed = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut packed, 4096, 5, 22);
        // Writing into a Vec cannot fail.
        let _ = std::io::Write::write_all(&mut w, text.as_bytes());
    }
    (
        [
            (axum::http::header::CONTENT_TYPE, LIVE_CONTENT_TYPE),
            (axum::http::header::CONTENT_ENCODING, "br"),
        ],
        packed,
    )
        .into_response()
}

/// The vendor's login page, served where a wrong base URL leads instead of the API's JSON.
pub(crate) fn login_page() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html;charset=UTF-8")],
        "<!DOCTYPE html><html data-name=\"login\"><head><title>Login</title></head>\
         <body><form action=\"/login\" method=\"post\"><input name=\"userName\"></form></body></html>",
    )
        .into_response()
}
