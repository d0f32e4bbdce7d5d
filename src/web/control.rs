//! The page's controls of a fleet's jobs: run, stop, verify, and the event stream of its status.
//! Each starts the same job the command line runs, with the page's consumer of its events.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::api::{error, fleet, live, status_json, Answer, ApiError};
use super::live::{Job, Live};
use super::store::Fleet;
use super::App;
use crate::engine::Wording;
use crate::jobs::{self, RequestConfig, RunSettings, VerifySettings};
use crate::journal::{RunLock, RUN_HINT};
use crate::units::Rate;

/// The pace the page asks for (`"2/s"`, or a number a second), else `default`.
pub(super) fn rate(body: &Value, default: Rate) -> Result<Rate, ApiError> {
    let bad = |e: String| error(StatusCode::BAD_REQUEST, format!("the rate: {e}"));
    match &body["rate"] {
        Value::String(s) if s.trim().is_empty() => Ok(default),
        Value::String(s) => s.parse().map_err(bad),
        Value::Number(n) => format!("{n}/s").parse().map_err(bad),
        Value::Null => Ok(default),
        _ => Err(bad("write it as 2/s, 0.5/s or 30/min".into())),
    }
}

/// The requests in flight the page asks for, else `default`.
pub(super) fn concurrency(body: &Value, default: usize) -> Result<usize, ApiError> {
    match &body["concurrency"] {
        Value::Null => Ok(default),
        v => match v.as_u64() {
            Some(n) if (1..=1024).contains(&n) => Ok(n as usize),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                "requests in flight must be a whole number between 1 and 1024",
            )),
        },
    }
}

/// The request settings for a job now: the server and token chosen, `rate` and `concurrency`
/// as the page asks.
fn request(app: &App, body: &Value) -> Result<RequestConfig, ApiError> {
    let server = app.server();
    let Some((token, _)) = server.token else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "no token yet: paste your OpenAPI token at the top of the page (or start `growatt-onboard ui` with GROWATT_TOKEN set)",
        ));
    };
    let d = &app.defaults;
    let rate = rate(body, d.rate)?;
    let concurrency = concurrency(body, d.concurrency)?;
    Ok(RequestConfig {
        base: server.base,
        token,
        timeout: d.timeout,
        rate,
        concurrency,
        policy: d.policy.clone(),
        throttle_pause: d.throttle_pause,
        max_runtime: None,
    })
}

/// The results are free: no job of this server, and no lock of another process.
fn claim(
    app: &App,
    f: &Fleet,
    job: Job,
) -> Result<(Arc<Live>, tokio_util::sync::CancellationToken), ApiError> {
    let busy = |why: String| error(StatusCode::CONFLICT, why);
    let live = live(app, &f.id);
    if let Err(e) = RunLock::acquire(&f.paths().results, RUN_HINT) {
        return Err(busy(format!(
            "another run or verify holds this fleet's results: {e}"
        )));
    }
    let cancel = live
        .claim(job)
        .ok_or_else(|| busy("a run or verify of this fleet is still going".into()))?;
    Ok((live, cancel))
}

/// A request's JSON body; an empty one stands for `{}`.
pub(super) fn body_json(body: &axum::body::Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "the request's body is not JSON"))
}

/// `POST /api/fleets/{id}/run`.
pub async fn run(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let f = fleet(&app, &id)?;
    let body = body_json(&body)?;
    let request = request(&app, &body)?;
    let (live, cancel) = claim(&app, &f, Job::Run)?;
    let account = body["account"].as_bool().unwrap_or(false);
    let cache = app.cache.clone();
    let mut cfg = RunSettings {
        input: f.input(),
        paths: f.paths(),
        request,
        restart: false,
        read: f.read_options(),
        strict_serials: false,
        account: None,
        count_rows: true,
        attempt_events: false,
        leave_throttled: false,
        wording: Wording::Page,
    };
    tokio::spawn(async move {
        let outcome = async {
            if account {
                let events = crate::engine::Sink::none();
                let screen =
                    jobs::account::screen(cache.as_deref(), &cfg.request, &cancel, &events)
                        .await
                        .map_err(|e| e.to_string())?;
                cfg.account = Some(screen);
            }
            jobs::run::run(cfg, &cancel, live.run_sink())
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        live.release(|n| match outcome {
            Ok(report) => {
                n.exit_code = Some(report.exit.code());
                n.stopped = report.summary.stopped;
            }
            Err(why) => {
                n.exit_code = Some(crate::exit::Exit::Fatal.code());
                n.stopped = Some(why);
            }
        });
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "state": "running" }))).into_response())
}

/// `POST /api/fleets/{id}/stop`.
pub async fn stop(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    live(&app, &f.id).stop();
    Ok((StatusCode::ACCEPTED, Json(json!({ "state": "stopping" }))).into_response())
}

/// `POST /api/fleets/{id}/verify`.
pub async fn verify(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let f = fleet(&app, &id)?;
    let body = body_json(&body)?;
    if !f.paths().results.is_file() {
        return Err(error(
            StatusCode::CONFLICT,
            "nothing to verify yet: run the fleet first",
        ));
    }
    let request = request(&app, &body)?;
    let (live, cancel) = claim(&app, &f, Job::Verify)?;
    let paths = f.paths();
    let cfg = VerifySettings {
        results: paths.results.clone(),
        out: paths.verify.clone(),
        request,
        locate: body["locate"].as_bool().unwrap_or(false),
        attempt_events: false,
        wording: Wording::Page,
    };
    tokio::spawn(async move {
        let verified = jobs::verify::verify(cfg, &cancel, live.verify_sink()).await;
        live.release(|n| match verified {
            Ok(report) => n.verify_stopped = report.stopped,
            Err(e) => n.verify_stopped = Some(e.to_string()),
        });
    });
    Ok((StatusCode::ACCEPTED, Json(json!({ "verifying": true }))).into_response())
}

/// `GET /api/fleets/{id}/events`: the status object whenever it changes (at most four times a
/// second), and at least once a second while a job runs.
pub async fn events(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let rx = live(&app, &f.id).watch();
    let stream =
        futures::stream::unfold((app, f, rx, true), |(app, f, mut rx, first)| async move {
            if !first {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(750)) => {}
                }
            }
            rx.borrow_and_update();
            let (app2, f2) = (app.clone(), f.clone());
            let v = tokio::task::spawn_blocking(move || status_json(&app2, &f2, false))
                .await
                .unwrap_or_default();
            let event = Event::default().data(v.to_string());
            Some((
                Ok::<_, std::convert::Infallible>(event),
                (app, f, rx, false),
            ))
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
