//! The page's downloads: the results file as it is, and the reports and the template exactly as
//! the command line writes them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;

use super::api::{error, fleet, Answer};
use super::App;

fn download(bytes: Body, kind: &'static str, name: String) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}\"",
        name.replace(['"', '\\'], "_")
    );
    let mut r = Response::new(bytes);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
    if let Ok(v) = header::HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn workbook(bytes: Vec<u8>, name: &str) -> Response {
    download(
        Body::from(bytes),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        name.into(),
    )
}

fn file_name_of(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results.csv".into())
}

/// `GET /api/fleets/{id}/results.csv`: the results file as it is.
pub async fn results_csv(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let path = f.paths().results;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| error(StatusCode::NOT_FOUND, "no results yet: run the fleet first"))?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(download(
        body,
        "text/csv; charset=utf-8",
        file_name_of(&path),
    ))
}

/// `GET /api/fleets/{id}/report.html`: the page `report --html` writes.
pub async fn report_html(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let results = f.paths().results;
    let html = tokio::task::spawn_blocking(move || {
        crate::report::load(&results).map(|d| crate::report::render_html(&d))
    })
    .await
    .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| error(StatusCode::NOT_FOUND, e.to_string()))?;
    Ok(download(
        Body::from(html),
        "text/html; charset=utf-8",
        "report.html".into(),
    ))
}

/// `GET /api/fleets/{id}/report.xlsx`: the workbook `report --xlsx` writes.
pub async fn report_xlsx(State(app): State<Arc<App>>, Path(id): Path<String>) -> Answer {
    let f = fleet(&app, &id)?;
    let results = f.paths().results;
    if !results.is_file() {
        return Err(error(
            StatusCode::NOT_FOUND,
            "no results yet: run the fleet first",
        ));
    }
    let bytes = tokio::task::spawn_blocking(move || crate::report::xlsx_bytes(&results))
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(workbook(bytes.0, "report.xlsx"))
}

/// `GET /template.xlsx`: the fill-in workbook `growatt-onboard template` writes.
pub async fn template() -> Answer {
    let bytes = crate::template::xlsx()
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(workbook(bytes, "fleet-template.xlsx"))
}
