//! The HTTP side of the account-level reads: `plant/list`, `user/c_user_list`, `plant/sn_plant`,
//! and the `/__sim/account` and `/__sim/next_day` controls.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use crate::account::Listing;
use crate::admission::{check_token, Admission, Request};
use crate::answer::{Answer, OK};
use crate::arrival::Arrived;
use crate::shared::{envelope, envelope_brotli, login_page, Shared, SimState};

/// Admission, the endpoint's own answer, the delay: the same path as every other endpoint.
async fn answer(
    app: Arc<Shared>,
    arrived: Instant,
    headers: &HeaderMap,
    (endpoint, params): (&str, &[u8]),
    decide: impl FnOnce(&mut SimState) -> Result<Value, Answer>,
) -> Response {
    answer_as(app, arrived, headers, (endpoint, params), false, decide).await
}

/// [`answer`], Brotli-compressed when `brotli` is set and the request accepts `br`.
async fn answer_as(
    app: Arc<Shared>,
    arrived: Instant,
    headers: &HeaderMap,
    (endpoint, params): (&str, &[u8]),
    brotli: bool,
    decide: impl FnOnce(&mut SimState) -> Result<Value, Answer>,
) -> Response {
    let brotli = brotli && accepts_brotli(headers);
    let envelope = |a, data| {
        if brotli {
            envelope_brotli(a, data)
        } else {
            envelope(a, data)
        }
    };
    let req = Request {
        token: check_token(app.token(), headers),
        token_value: headers.get("token").map_or(&[][..], |v| v.as_bytes()),
        endpoint,
        params,
    };
    let (result, delay, _in_flight) = {
        let mut st = app.lock();
        let (admission, in_flight) = app.arrive(&mut st, &req, arrived);
        let (result, hang) = match admission {
            Admission::LoginPage => (None, false),
            Admission::Refuse(a) => (Some(Err(a)), false),
            Admission::Admit { hang } => (Some(decide(&mut st)), hang),
        };
        if let Some(result) = &result {
            st.meter
                .answered(result.as_ref().map_or_else(|a| *a, |_| OK));
        }
        let delay = app.delay(&mut st, hang);
        (result, delay, in_flight)
    };
    app.pause(arrived, delay).await;
    match result {
        Some(Ok(data)) => envelope(OK, data),
        Some(Err(a)) => envelope(a, Value::Null),
        None => login_page(),
    }
}

/// Whether a request's `Accept-Encoding` names `br`.
fn accepts_brotli(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            e.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("br")
        })
}

/// `GET /v1/plant/list?page&perpage`: the account's plants with their owner, Brotli-compressed
/// with [`crate::SimConfig::brotli_plant_list`].
pub(crate) async fn plant_list(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = query.unwrap_or_default();
    let brotli = app.brotli_plant_list;
    answer_as(
        app,
        arrived,
        &headers,
        ("/v1/plant/list", q.as_bytes()),
        brotli,
        |st| st.account.list(Listing::Plants, q.as_bytes()),
    )
    .await
}

/// `GET /v1/user/c_user_list?page&perpage`: the account's end users.
pub(crate) async fn user_list(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = query.unwrap_or_default();
    answer(
        app,
        arrived,
        &headers,
        ("/v1/user/c_user_list", q.as_bytes()),
        |st| st.account.list(Listing::Users, q.as_bytes()),
    )
    .await
}

/// `POST /v1/plant/sn_plant` (form `device_sn`): the plant a device sits on.
pub(crate) async fn sn_plant(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = body.unwrap_or_default();
    answer(
        app,
        arrived,
        &headers,
        ("/v1/plant/sn_plant", &body),
        |st| {
            let SimState { world, account, .. } = st;
            account.sn_plant(world, &body, Instant::now())
        },
    )
    .await
}

/// `GET /__sim/account`: the account endpoints' counters.
pub(crate) async fn stats(State(app): State<Arc<Shared>>) -> Response {
    Json(app.lock().account.stats.clone()).into_response()
}

/// `POST /__sim/next_day`: a new simulated day; the listings' daily caps start over.
pub(crate) async fn next_day(State(app): State<Arc<Shared>>) -> Response {
    let mut st = app.lock();
    st.account.next_day();
    Json(st.account.stats.clone()).into_response()
}
