//! The HTTP side of the account-level reads: `plant/list`, `user/c_user_list`, `plant/sn_plant`,
//! and the `/__sim/account` and `/__sim/next_day` controls.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::account::Listing;
use crate::admission::Request;
use crate::arrival::Arrived;
use crate::limits::{PLANT_LIST, USER_LIST};
use crate::shared::{Shared, SimState};

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

/// `GET /v1/plant/list?page&perpage` (the account's plants with their owner, Brotli-compressed
/// with [`crate::SimConfig::brotli_plant_list`] when the request accepts `br`) and
/// `GET /v1/user/c_user_list?page&perpage` (its end users): one handler, told apart by path.
pub(crate) async fn listing(
    State(app): State<Arc<Shared>>,
    Arrived(arrived): Arrived,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (which, endpoint, brotli) = match uri.path() {
        PLANT_LIST => (Listing::Plants, PLANT_LIST, app.brotli_plant_list),
        _ => (Listing::Users, USER_LIST, false),
    };
    let q = uri.query().unwrap_or_default();
    let req = Request::new(&app.token, &headers, endpoint, q.as_bytes());
    let brotli = brotli && accepts_brotli(&headers);
    app.respond(arrived, req, brotli, |st| {
        st.account.list(which, q.as_bytes())
    })
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
    let req = Request::new(&app.token, &headers, "/v1/plant/sn_plant", &body);
    app.respond(arrived, req, false, |st| {
        let SimState { world, account, .. } = st;
        account.sn_plant(world, &body, Instant::now())
    })
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
