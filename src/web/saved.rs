//! A fleet's saved settings from the page: `growatt-onboard.toml` beside the fleet's copy, the
//! file `run` and `check` read on the command line. The page shows what that file holds and
//! fills its form from it, and saves the settings its own run uses: the column mapping and the
//! sheet, the server, the token's file (never the token), the pace and the requests in flight.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::api::{error, fleet, with_place, Answer, ApiError};
use super::control::{body_json, concurrency, rate};
use super::store::{self, Fleet};
use super::{App, TokenSource};
use crate::input::REQUIRED;
use crate::saved::file::{self, Chosen, Place};
use crate::text::quote;

/// Most bytes the settings a save sends may hold (a JSON object of a few short fields).
pub const BODY_CAP: usize = 16 * 1024;

/// The page's script for the settings file (`assets/saved.js`).
pub async fn script() -> axum::response::Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("assets/saved.js"),
    )
        .into_response()
}

/// The settings file beside the fleet's copy, where `run` and `check` look for it.
fn path_of(f: &Fleet) -> PathBuf {
    f.dir.join(crate::saved::FILE_NAME)
}

/// What the file beside the fleet holds, why it cannot be used if so, and where it reads the
/// fleet otherwise than the page does.
fn described(f: &Fleet) -> Value {
    let path = path_of(f);
    let exists = path.symlink_metadata().is_ok();
    let (held, problem) = if exists {
        match file::read_text(&path).and_then(|text| file::held(&text)) {
            Ok(held) => (Some(held), None),
            Err(why) => (None, Some(why)),
        }
    } else {
        (None, None)
    };
    let mut notes = Vec::new();
    if let Some(held) = &held {
        for (key, header) in REQUIRED.iter().zip(&f.meta.columns) {
            match held.columns.get(*key) {
                Some(saved) if !saved.trim().eq_ignore_ascii_case(header.trim()) => {
                    notes.push(format!(
                        "the file reads {key} from '{}' where the page reads '{}'; the command line follows the file",
                        quote(saved),
                        quote(header)
                    ));
                }
                _ => {}
            }
        }
        if held.sheet.is_some() && held.sheet != f.meta.sheet {
            notes.push(format!(
                "the file reads the sheet '{}'{}; the command line follows the file",
                quote(held.sheet.as_deref().unwrap_or_default()),
                match &f.meta.sheet {
                    Some(s) => format!(" where the page reads '{}'", quote(s)),
                    None => String::new(),
                }
            ));
        }
    }
    json!({
        "path": path,
        "input": f.input(),
        "exists": exists,
        "settings": held,
        "problem": problem,
        "notes": notes,
    })
}

/// `GET /api/fleets/{id}/saved`.
pub async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let v = tokio::task::spawn_blocking(move || described(&f))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(v).into_response())
}

/// `POST /api/fleets/{id}/saved`: writes the settings file beside the fleet's copy.
pub async fn save(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let f = fleet(&app, &id)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the settings sent are larger than {} KiB", BODY_CAP / 1024),
            )
        } else {
            error(
                StatusCode::BAD_REQUEST,
                "the request's body could not be read",
            )
        }
    })?;
    let body = body_json(&body)?;
    if !body.is_object() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the settings must be a JSON object such as {\"rate\": \"2/s\"}",
        ));
    }
    let chosen = chosen(&app, &f, &body)?;
    let replace = body["replace"].as_bool().unwrap_or(false);
    tokio::task::spawn_blocking(move || write(&f, &chosen, replace))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// The settings to save: what `body` names, else what the page's run of the fleet uses (its
/// mapping and sheet, the server chosen, the pace and requests in flight `ui` started with).
fn chosen(app: &App, f: &Fleet, body: &Value) -> Result<Chosen, ApiError> {
    let bad = |why: String| error(StatusCode::BAD_REQUEST, why);
    let rate = rate(body, app.defaults.rate)?;
    let concurrency = concurrency(body, app.defaults.concurrency)?;
    let mut mapped: Vec<String> = REQUIRED
        .iter()
        .zip(&f.meta.columns)
        .map(|(key, header)| format!("{key}={header}"))
        .collect();
    match &body["columns"] {
        Value::Null => {}
        Value::Object(columns) => {
            for (key, header) in columns {
                let Some(header) = header.as_str() else {
                    return Err(bad(format!(
                        "the column of '{}' must be a header's name",
                        quote(key)
                    )));
                };
                mapped.push(format!("{key}={header}"));
            }
        }
        _ => {
            return Err(bad(
                "columns must name a header for each key, such as {\"sn\": \"Serial No.\"}".into(),
            ))
        }
    }
    let sheet = match &body["sheet"] {
        Value::Null => f.meta.sheet.clone(),
        Value::String(s) => Some(s.clone()),
        _ => return Err(bad("the sheet must be a sheet's name".into())),
    };
    let read = store::read_options(sheet, &mapped).map_err(bad)?;
    let server = with_place(body, app.server())?;
    let place = match server.region {
        Some(region) => Place::Region(region.to_string()),
        None => Place::BaseUrl(server.base.to_string()),
    };
    let from_file = matches!(server.token, Some((_, TokenSource::File)));
    Ok(Chosen {
        columns: read.columns,
        sheet: read.sheet,
        server: place,
        token_file: server.token_file.filter(|_| from_file),
        rate,
        concurrency: u32::try_from(concurrency).unwrap_or(u32::MAX),
    })
}

/// Writes the file whole (a temporary file renamed over it), keeping what a file edited by hand
/// holds besides the page's keys. A file that cannot be kept so is replaced only when asked.
fn write(f: &Fleet, chosen: &Chosen, replace: bool) -> Answer {
    let path = path_of(f);
    let failed = |why: String| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write {}: {why}", path.display()),
        )
    };
    let old = match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        _ => Some(file::read_text(&path)),
    };
    let merged = match &old {
        None => file::merged(None, chosen),
        Some(Ok(text)) => file::merged(Some(text), chosen),
        Some(Err(why)) => Err(why.clone()),
    };
    let text = match merged {
        Ok(text) => text,
        Err(_) if replace => file::merged(None, chosen).map_err(failed)?,
        Err(why) => {
            return Err(error(
                StatusCode::CONFLICT,
                format!(
                    "{} is there already and cannot be kept as it is: {why}",
                    path.display()
                ),
            )
            .suggesting("Fix it by hand, or save again to replace it with these settings."))
        }
    };
    crate::files::write_whole(&path, text.as_bytes())
        .map_err(|e| failed(crate::text::io_reason(&e)))?;
    let mut v = described(f);
    v["saved"] = json!(true);
    let status = if old.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(v)).into_response())
}
