//! The JSON API the page drives (and scripts and tests may too), documented in `docs/ui.md`.
//! Every handler hands the work to the jobs; none decides anything about rows or answers.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::live::{Job, Live};
use super::store::{self, Fleet};
use super::{App, TokenSource};
use crate::api::Region;
use crate::input::{InputError, ReadOptions};
use crate::jobs::{self, CheckSettings, Finding, StartError};
use crate::outcome::Outcome;

/// Most problem rows an upload's answer lists (the rest are counted).
const PROBLEMS_LISTED: usize = 1000;

/// Skipped rows an upload's answer names (all are counted): they need no one, so a few will do.
const SKIPPED_LISTED: usize = 5;
/// Most rows needing attention a status lists.
const ATTENTION_LISTED: usize = 200;

pub(super) type Answer = Result<Response, ApiError>;

/// A refusal: its status and, in plain words, why (and what to do, when there is a suggestion).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: String,
    suggestion: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(s) = self.suggestion {
            body["suggestion"] = json!(s);
        }
        (self.status, Json(body)).into_response()
    }
}

pub(super) fn error(status: StatusCode, why: impl Into<String>) -> ApiError {
    ApiError {
        status,
        error: why.into(),
        suggestion: None,
    }
}

impl ApiError {
    /// The refusal with what to do about it.
    pub(super) fn suggesting(mut self, what: impl Into<String>) -> ApiError {
        self.suggestion = Some(what.into());
        self
    }
}

pub(super) fn fleet(app: &App, id: &str) -> Result<Fleet, ApiError> {
    store::open(&app.dir, id).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such fleet"))
}

pub(super) fn live(app: &App, id: &str) -> Arc<Live> {
    app.live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(id.to_string())
        .or_default()
        .clone()
}

/// The page.
pub async fn index() -> Html<&'static str> {
    Html(include_str!("assets/index.html"))
}

/// The page's script.
pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
        .into_response()
}

/// The page's styles.
pub async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
        .into_response()
}

fn settings_json(app: &App) -> Value {
    let server = app.server();
    let regions: Vec<Value> = [Region::Eu, Region::Us, Region::Cn, Region::Au, Region::Test]
        .iter()
        .map(|r| json!({ "id": r.to_string(), "base_url": r.base_url() }))
        .collect();
    json!({
        "token_set": server.token.is_some(),
        "token_source": server.token.as_ref().map(|(_, s)| *s),
        "base_url": server.base.as_str(),
        "region": server.region.map(|r| r.to_string()),
        "regions": regions,
        "dir": app.dir,
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// `GET /api/settings`.
pub async fn settings(State(app): State<Arc<App>>) -> Json<Value> {
    Json(settings_json(&app))
}

/// `POST /api/settings`: a token pasted, a region or a base URL chosen.
pub async fn set_settings(State(app): State<Arc<App>>, Json(body): Json<Value>) -> Answer {
    let bad = |why: String| error(StatusCode::BAD_REQUEST, why);
    let mut server = with_place(&body, app.server())?;
    if let Some(t) = body.get("token").and_then(Value::as_str) {
        let token = crate::api::Token::new(t).map_err(|why| bad(format!("the token: {why}")))?;
        server.token = Some((token, TokenSource::Page));
    }
    *app.server.lock().unwrap_or_else(|e| e.into_inner()) = server;
    Ok(Json(settings_json(&app)).into_response())
}

/// `server` with the region or base URL that `body` names, if any (a base URL wins).
pub(super) fn with_place(
    body: &Value,
    mut server: super::Server,
) -> Result<super::Server, ApiError> {
    let bad = |why: String| error(StatusCode::BAD_REQUEST, why);
    if let Some(r) = body.get("region").and_then(Value::as_str) {
        let region = [Region::Eu, Region::Us, Region::Cn, Region::Au, Region::Test]
            .into_iter()
            .find(|x| x.to_string() == r)
            .ok_or_else(|| bad(format!("'{}' is not a region", crate::text::quote(r))))?;
        server.base =
            crate::api::resolve_base(region.base_url()).map_err(|e| bad(e.to_string()))?;
        server.region = Some(region);
    }
    if let Some(u) = body.get("base_url").and_then(Value::as_str) {
        server.base = crate::api::resolve_base(u)
            .map_err(|e| bad(e.to_string().replace("--base-url", "the server address")))?;
        server.region = None;
    }
    Ok(server)
}

/// An uploaded file and the choices sent with it.
struct Upload {
    name: String,
    bytes: Vec<u8>,
    sheet: Option<String>,
    columns: Vec<String>,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, ApiError> {
    let mut up = Upload {
        name: String::new(),
        bytes: Vec::new(),
        sheet: None,
        columns: Vec::new(),
    };
    let mut got_file = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(upload_error(e)),
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                up.name = field.file_name().unwrap_or("fleet.csv").to_string();
                up.bytes = field.bytes().await.map_err(upload_error)?.to_vec();
                got_file = true;
            }
            "sheet" => up.sheet = Some(field.text().await.map_err(upload_error)?),
            "column" => up.columns.push(field.text().await.map_err(upload_error)?),
            _ => {}
        }
    }
    if !got_file {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "no file was sent (the field `file`)",
        ));
    }
    if up.bytes.len() > super::UPLOAD_CAP {
        return Err(too_large());
    }
    Ok(up)
}

fn too_large() -> ApiError {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than the page takes ({} MiB); run it from the command line",
            super::UPLOAD_CAP >> 20
        ),
    )
}

fn upload_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    error(
        e.status(),
        format!("the upload broke off: {}", e.body_text()),
    )
}

/// `POST /api/inspect`: a first look at a file, for the sheet and column choices.
pub async fn inspect(State(app): State<Arc<App>>, form: Multipart) -> Answer {
    let up = read_upload(form).await?;
    let dir = app.dir.clone();
    let looked = tokio::task::spawn_blocking(move || {
        let tmp = tempfile::Builder::new()
            .prefix(".inspect-")
            .suffix(&format!(
                ".{}",
                store::file_name(&up.name)
                    .rsplit('.')
                    .next()
                    .unwrap_or("csv")
            ))
            .tempfile_in(&dir)
            .map_err(|e| crate::text::io_reason(&e))?;
        std::fs::write(tmp.path(), &up.bytes).map_err(|e| crate::text::io_reason(&e))?;
        crate::input::preview(tmp.path(), up.sheet.as_deref(), 5)
            .map(|p| (up.name, p))
            .map_err(|e| in_words(&e))
    })
    .await
    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (name, p) = looked.map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    Ok(Json(json!({
        "name": name,
        "sheets": p.sheets,
        "sheet": p.sheet,
        "header_row": p.header_row,
        "header_note": p.header_note,
        "headers": p.headers,
        "rows": p.rows,
        "mapping": { "plant_id": p.mapping[0], "sn": p.mapping[1], "c_user_id": p.mapping[2] },
    }))
    .into_response())
}

/// An input error in the page's words: the path of the copy is the server's business.
fn in_words(e: &InputError) -> String {
    e.to_string()
}

/// `POST /api/fleets`: a new fleet from an upload, checked as `check` does.
pub async fn upload(State(app): State<Arc<App>>, form: Multipart) -> Answer {
    let up = read_upload(form).await?;
    let read = store::read_options(up.sheet.clone(), &up.columns)
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let dir = app.dir.clone();
    let checked = tokio::task::spawn_blocking(move || check_new(&dir, &up.name, &up.bytes, &read))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    checked
}

fn check_new(dir: &std::path::Path, name: &str, bytes: &[u8], read: &ReadOptions) -> Answer {
    let fleet = store::create(dir, name, bytes, read).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot keep the file: {}", crate::text::io_reason(&e)),
        )
    })?;
    let cfg = CheckSettings {
        input: fleet.input(),
        paths: fleet.paths(),
        read: fleet.read_options(),
        strict_serials: false,
    };
    let mut problems = Vec::new();
    let (mut warnings, mut serial_warnings, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let mut header_note = None;
    let checked = jobs::check::check(&cfg, None, &mut |found| match found {
        Finding::Problem {
            row,
            outcome,
            message,
        } if problems.len() < PROBLEMS_LISTED => {
            problems.push(json!({ "row": row, "outcome": outcome.as_str(), "message": message }))
        }
        Finding::Problem { .. } => {}
        Finding::Damaged(w) | Finding::Warning(w) => warnings.push(w),
        Finding::SerialWarning(w) if serial_warnings.len() < PROBLEMS_LISTED => {
            serial_warnings.push(w)
        }
        Finding::SerialWarning(_) => {}
        Finding::Header(note) => header_note = Some(note),
        Finding::Skipped { row, message } if skipped.len() < SKIPPED_LISTED => {
            skipped.push(json!({ "row": row, "message": message }))
        }
        Finding::Skipped { .. } => {}
    });
    match checked {
        Ok(report) => Ok((
            StatusCode::CREATED,
            Json(json!({
                "id": fleet.id,
                "name": fleet.meta.name,
                "rows": report.rows,
                "to_send": report.to_send,
                "invalid": report.invalid,
                "duplicate": report.duplicate,
                "skipped": report.skipped,
                "skipped_rows": skipped,
                "problems": problems,
                "warnings": warnings,
                "serial_warnings": serial_warnings,
                "warned": report.serial_warnings,
                "header_note": header_note,
            })),
        )
            .into_response()),
        Err(e) => {
            let name = fleet.meta.name.clone();
            let mut words = e
                .to_string()
                .replace(&fleet.input().display().to_string(), &name);
            let mut suggestion = None;
            if let StartError::Input(InputError::MissingColumns {
                lead,
                missing,
                found,
                ..
            }) = &e
            {
                // The page's words: its drop-downs, not `--column`.
                words = format!("{name}: {lead} has no column {missing}; it has: {found}");
                suggestion = crate::input::preview(&fleet.input(), read.sheet.as_deref(), 0)
                    .ok()
                    .map(|p| mapping_words(&p.mapping));
            }
            store::discard(fleet);
            Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                error: words,
                suggestion,
            })
        }
    }
}

/// The suggested mapping in words: which header each required column would be read from.
fn mapping_words(mapping: &[Option<String>; 3]) -> String {
    let pairs: Vec<String> = crate::input::REQUIRED
        .iter()
        .zip(mapping)
        .map(|(key, header)| match header {
            Some(h) => format!("{key} from '{}'", crate::text::quote(h)),
            None => format!("{key}: no header comes close"),
        })
        .collect();
    format!("choose the columns: {}", pairs.join(", "))
}

/// `GET /api/fleets`.
pub async fn fleets(State(app): State<Arc<App>>) -> Json<Value> {
    let app2 = app.clone();
    let list = tokio::task::spawn_blocking(move || {
        store::list(&app2.dir)
            .iter()
            .map(|f| {
                let s = status_json(&app2, f, false);
                json!({ "id": f.id, "name": f.meta.name, "state": s["state"], "counts": s["counts"] })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Json(Value::Array(list))
}

/// A fleet's state: what its job does now, else what its files say.
pub(super) fn status_json(app: &App, fleet: &Fleet, detail: bool) -> Value {
    let live = live(app, &fleet.id);
    let now = live.now();
    let paths = fleet.paths();
    let data = if now.job == Job::Run {
        None
    } else {
        live.report(&paths.results)
    };
    let state = match (now.job, now.stopping) {
        (Job::Run, true) => "stopping",
        (Job::Run, false) => "running",
        _ if paths.results.is_file() => "finished",
        _ => "ready",
    };
    let count = |o: Outcome| match &data {
        Some(d) => d.outcomes.get(&o).copied().unwrap_or(0),
        None => now.counts.count(o),
    };
    let counts: serde_json::Map<String, Value> = Outcome::ALL
        .iter()
        .map(|o| (o.as_str().to_string(), json!(count(*o))))
        .collect();
    // What the last run left, also one from before this server started or from the command line.
    let summary = std::fs::read(&paths.summary)
        .ok()
        .filter(|b| b.len() < 1 << 20)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or_default();
    let idle = now.job == Job::Idle;
    let summary_exit = summary["exit_code"].as_u64().filter(|_| idle);
    let summary_stopped = summary["stopped"]
        .as_str()
        .filter(|_| idle)
        .map(String::from);
    let mut v = json!({
        "id": fleet.id,
        "name": fleet.meta.name,
        "state": state,
        "counts": counts,
        "rows_total": now.total,
        "rows_done": now.counts.done(),
        "skipped_done": now.counts.skipped_done,
        "requests": now.counts.requests,
        "rate": (now.counts.pace * 100.0).round() / 100.0,
        "eta_s": if now.job == Job::Run { now.eta().map(|d| d.as_secs()) } else { None },
        "deferred": now.deferred,
        "cooldown_s": now.all_wait_for.map(|d| d.as_secs()),
        "paused_s": now.counts.paused_for.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        "exit_code": now.exit_code.map(u64::from).or(summary_exit),
        "stopped": now.stopped.clone().or(summary_stopped),
        "verifying": now.job == Job::Verify,
        "verify_stopped": now.verify_stopped,
        "notes": now.notes,
    });
    // Rows of the fleet as it stands that no run sent yet, when the fleet could be joined.
    if let Some(n) = data.as_ref().and_then(|d| d.not_reached) {
        v["not_reached"] = json!(n);
    }
    if let Some(links) = data.as_ref().and_then(|d| d.links.as_ref()) {
        let n = |k: &str| links.get(k).copied().unwrap_or(0);
        v["verify"] = json!({
            "linked": n("linked"),
            "pending": n("pending"),
            "elsewhere": n("elsewhere"),
            "plant_missing": n("plant_missing"),
        });
    }
    if detail {
        let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
        for a in data
            .iter()
            .flat_map(|d| d.attention.iter())
            .take(ATTENTION_LISTED)
        {
            let advice = crate::outcome::advice(a.outcome, a.error_code).to_string();
            let row = json!({
                "row": a.row, "sn": a.sn, "plant_id": a.plant_id, "c_user_id": a.c_user_id,
                "outcome": a.outcome.as_str(), "error_code": a.error_code, "message": a.error_msg,
            });
            match groups.iter_mut().find(|(g, _)| *g == advice) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((advice, vec![row])),
            }
        }
        v["attention"] = groups
            .into_iter()
            .map(|(advice, rows)| json!({ "advice": advice, "rows": rows }))
            .collect();
        v["attention_total"] = json!(data.as_ref().map_or(0, |d| d.attention_total));
    }
    v
}

/// `GET /api/fleets/{id}`.
pub async fn status(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let v = tokio::task::spawn_blocking(move || status_json(&app, &f, true))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(v).into_response())
}
