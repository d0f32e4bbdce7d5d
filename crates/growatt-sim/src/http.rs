//! The HTTP side: the router and one handler per endpoint.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::account_http;
use crate::admission::{Admission, Request};
use crate::answer::OK;
use crate::arrival::Arrived;
use crate::form::{pairs, AddForm, ListQuery};
use crate::limits::{PLANT_LIST, USER_LIST};
use crate::shared::{envelope, login_page, unix_ms, Shared};
use crate::stats::SnRequest;

/// The simulator's routes: the two API endpoints and the `/__sim/` controls.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/device/sn/add", post(add_device))
        .route("/v1/device/list", get(list_devices))
        .route(PLANT_LIST, get(account_http::listing))
        .route(USER_LIST, get(account_http::listing))
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
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // An unreadable body is treated as an empty form: the answer is still an envelope.
    let raw = body.as_deref().unwrap_or_default();
    let form = AddForm::parse(raw);
    let req = Request::new(&app.token, &headers, "/v1/device/sn/add", raw);
    let (answer, delay, _in_flight) = {
        let mut st = app.lock();
        if let Some(sn) = form.sn.as_deref().filter(|s| !s.is_empty()) {
            *st.meter
                .stats
                .requests_per_sn
                .entry(sn.to_string())
                .or_default() += 1;
        }
        let (admission, in_flight) = app.arrive(&mut st, &req, arrived);
        let (answer, hang) = match admission {
            Admission::LoginPage => (None, false),
            Admission::Refuse(a) => (Some(a), false),
            Admission::Admit { hang } => (Some(st.world.add(&form, unix_ms())), hang),
        };
        if let Some(sn) = form.sn.as_deref().filter(|s| !s.is_empty()) {
            st.meter
                .stats
                .history_per_sn
                .entry(sn.to_string())
                .or_default()
                .push(SnRequest {
                    at_unix_ms: unix_ms(),
                    code: answer.map(|a| a.code),
                });
        }
        if let Some(answer) = answer {
            st.meter.answered(answer);
        }
        if answer == Some(OK) {
            if let Some(sn) = &form.sn {
                *st.meter.stats.adds_per_sn.entry(sn.clone()).or_default() += 1;
            }
        }
        let delay = app.delay(&mut st, hang);
        (answer, delay, in_flight)
    };
    tracing::debug!(code = ?answer.map(|a| a.code), sn = ?form.sn, ?delay, "sn/add");
    app.pause(arrived, delay).await;
    match answer {
        Some(answer) => envelope(answer, Value::Null),
        None => login_page(),
    }
}

async fn list_devices(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.as_deref().unwrap_or_default().as_bytes();
    let q = ListQuery::parse(raw);
    let req = Request::new(&app.token, &headers, "/v1/device/list", raw);
    app.respond(arrived, req, false, |st| st.world.list(&q, unix_ms()))
        .await
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
    let history_per_sn = std::mem::take(&mut s.history_per_sn);
    let mut out = serde_json::to_value(&*s).unwrap_or(Value::Null);
    s.requests_per_sn = requests_per_sn;
    s.adds_per_sn = adds_per_sn;
    s.history_per_sn = history_per_sn;
    drop(st);
    if let (Value::Object(out), Value::Object(counts)) = (&mut out, counts) {
        out.remove("requests_per_sn");
        out.remove("adds_per_sn");
        out.remove("history_per_sn");
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

async fn not_found(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    uri: Uri,
) -> StatusCode {
    if uri.path().starts_with("/v1/") {
        app.lock().meter.arrive(arrived, unix_ms());
    }
    StatusCode::NOT_FOUND
}
