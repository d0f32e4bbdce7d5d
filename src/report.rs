//! `report`: what a results file says, for the people who act on it: counts per outcome and per
//! error code, the rows needing attention with what to do for each, and the run history. As text
//! on stdout, or as one self-contained HTML page (inline CSS and SVG, no external assets).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::results::{self, Outcome, ResultsError};

/// Most attention rows listed; the rest are counted.
pub const ATTENTION_LIMIT: usize = 2000;

/// A row whose latest outcome needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttentionRow {
    /// Spreadsheet row number.
    pub row: u64,
    /// The cells as written in the results.
    pub plant_id: String,
    /// The serial cell.
    pub sn: String,
    /// The end-user cell.
    pub c_user_id: String,
    /// rejected, failed or invalid.
    pub outcome: Outcome,
    /// The API's code, if any.
    pub error_code: Option<i64>,
    /// The message.
    pub error_msg: String,
}

/// One past run, from the history file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// When it started.
    pub started_at: String,
    /// Wall time.
    pub wall_seconds: f64,
    /// Rows ended in that run.
    pub rows_ended: u64,
    /// Rows skipped as done.
    #[serde(default)]
    pub skipped_done: u64,
    /// Requests sent.
    pub requests: u64,
    /// Per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Why it stopped early.
    #[serde(default)]
    pub stopped: Option<String>,
    /// Its exit code.
    pub exit_code: u8,
}

/// Everything a report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// The results file.
    pub results: PathBuf,
    /// Rows (by latest line) per outcome.
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Rows (by latest line) per error code.
    pub codes: BTreeMap<i64, u64>,
    /// Rows needing attention, by row number (at most [`ATTENTION_LIMIT`]).
    pub attention: Vec<AttentionRow>,
    /// Rows needing attention in all.
    pub attention_total: u64,
    /// Lines in the file (all runs).
    pub lines: u64,
    /// Past runs, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Linked / pending counts from the verify file, when there is one.
    pub links: Option<BTreeMap<String, u64>>,
}

impl ReportData {
    /// Rows in the file (distinct row numbers).
    pub fn rows(&self) -> u64 {
        self.outcomes.values().sum()
    }

    /// Rows of one outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }
}

/// `<results stem>.history.jsonl`: one summary per run, appended.
pub fn history_path(results: &Path) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    results.with_file_name(format!("{stem}.history.jsonl"))
}

/// What to do about a row, by outcome and code.
pub fn advice(outcome: Outcome, code: Option<i64>) -> &'static str {
    match (outcome, code) {
        (Outcome::Registered, _) => "nothing: accepted; the link appears once the device is online",
        (Outcome::AlreadyRegistered, _) => "nothing: the device was already associated",
        (Outcome::Duplicate, _) => "nothing: the same serial is on an earlier row, sent from there",
        (Outcome::Invalid, _) => "fix the cell named in the message, then run again",
        (Outcome::Failed, _) => "run again: transient trouble outlasted the retries",
        (Outcome::Rejected, Some(10002)) => "check the serial on the device label",
        (Outcome::Rejected, Some(10004)) => "check the plant id in ShineServer",
        (Outcome::Rejected, Some(10005)) => "check the end-user id (c_user_id) in ShineServer",
        (Outcome::Rejected, Some(10006)) => "fill in the end-user id (c_user_id)",
        (Outcome::Rejected, Some(10007)) => {
            "the API does not know this serial: check it on the label"
        }
        (Outcome::Rejected, Some(10010)) => {
            "the API could not add it: run again; if it persists, ask Growatt support"
        }
        (Outcome::Rejected, Some(10011)) => {
            "the token may not act on this plant or user: check the account"
        }
        (Outcome::Rejected, _) => "see the message; run again once the cause is fixed",
    }
}

/// The API's meaning of a code, for the code table.
pub fn code_meaning(code: i64) -> &'static str {
    match code {
        0 => "accepted",
        10001 => "system error (transient)",
        10002 => "plant id empty or serial wrong",
        10003 => "device already associated",
        10004 => "plant does not exist",
        10005 => "user does not exist",
        10006 => "user id empty",
        10007 => "collector serial does not exist",
        10010 => "failed to add the device",
        10011 => "permission denied",
        10012 => "frequency limit",
        -1 => "wrong regional server",
        _ => "not documented",
    }
}

/// Reads the results file (latest line per row), its history and its verify file.
pub fn load(results_path: &Path) -> Result<ReportData, ResultsError> {
    if !results_path.is_file() {
        return Err(ResultsError::Io {
            path: results_path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such results file; pass the file a `run` wrote",
            ),
        });
    }
    let mut latest: HashMap<u64, (Outcome, Option<i64>)> = HashMap::new();
    // Attention rows keep their text; a later line for the same row replaces or clears them.
    let mut attention: BTreeMap<u64, AttentionRow> = BTreeMap::new();
    let opened = results::scan_log(results_path, &results::COLUMNS, |r| {
        let text = |i| {
            r.get(i)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (Ok(row), Some(outcome)) = (text(0).parse::<u64>(), Outcome::parse(&text(4))) else {
            return;
        };
        let code = text(5).parse::<i64>().ok();
        latest.insert(row, (outcome, code));
        if outcome.needs_attention() {
            attention.insert(
                row,
                AttentionRow {
                    row,
                    plant_id: text(1),
                    sn: text(2),
                    c_user_id: text(3),
                    outcome,
                    error_code: code,
                    error_msg: text(6),
                },
            );
        } else {
            attention.remove(&row);
        }
    })?;
    let mut data = ReportData {
        results: results_path.to_path_buf(),
        lines: opened.lines,
        ..ReportData::default()
    };
    for (outcome, code) in latest.values() {
        *data.outcomes.entry(*outcome).or_default() += 1;
        if let Some(c) = code {
            *data.codes.entry(*c).or_default() += 1;
        }
    }
    data.attention_total = attention.len() as u64;
    data.attention = attention.into_values().take(ATTENTION_LIMIT).collect();
    if let Ok(text) = std::fs::read_to_string(history_path(results_path)) {
        data.history = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
    }
    let verify = crate::verify::default_verify_path(results_path);
    if verify.is_file() {
        let mut links: HashMap<u64, String> = HashMap::new();
        let _ = results::scan_log(&verify, &crate::verify::COLUMNS, |r| {
            let row = r.get(0).and_then(|b| std::str::from_utf8(b).ok());
            let status = r.get(3).and_then(|b| std::str::from_utf8(b).ok());
            if let (Some(Ok(row)), Some(status)) = (row.map(str::parse::<u64>), status) {
                links.insert(row, status.to_string());
            }
        });
        let mut counts = BTreeMap::new();
        for s in links.into_values() {
            *counts.entry(s).or_default() += 1;
        }
        data.links = Some(counts);
    }
    Ok(data)
}

/// The text report for stdout.
pub fn render_text(d: &ReportData) -> String {
    let mut out = String::new();
    let total = d.rows().max(1);
    let _ = writeln!(
        out,
        "Results: {} ({} rows, {} lines)",
        d.results.display(),
        d.rows(),
        d.lines
    );
    for o in Outcome::ALL {
        let n = d.count(o);
        let bar = "#".repeat(((n * 40).div_ceil(total)) as usize);
        let _ = writeln!(out, "  {:<19} {n:>8}  {bar}", o.as_str());
    }
    if !d.codes.is_empty() {
        let _ = writeln!(out, "\nBy error code:");
        for (c, n) in &d.codes {
            let _ = writeln!(out, "  {c:>6} {n:>8}  {}", code_meaning(*c));
        }
    }
    if let Some(links) = &d.links {
        let parts: Vec<String> = links.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let _ = writeln!(out, "\nLinks (from verify): {}", parts.join(", "));
    }
    if d.attention_total == 0 {
        let _ = writeln!(out, "\nNo row needs attention.");
    } else {
        let _ = writeln!(out, "\nRows needing attention ({}):", d.attention_total);
        for a in &d.attention {
            let code = a.error_code.map(|c| format!(" {c}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  row {:<6} sn {:<16} {}{code}: {} -> {}",
                a.row,
                a.sn,
                a.outcome,
                a.error_msg,
                advice(a.outcome, a.error_code)
            );
        }
        if d.attention_total > d.attention.len() as u64 {
            let _ = writeln!(
                out,
                "  … and {} more",
                d.attention_total - d.attention.len() as u64
            );
        }
    }
    if !d.history.is_empty() {
        let _ = writeln!(out, "\nRun history:");
        for h in &d.history {
            let _ = writeln!(
                out,
                "  {}  {} rows ended, {} done earlier, {} requests, {:.1}s, exit {}{}",
                h.started_at,
                h.rows_ended,
                h.skipped_done,
                h.requests,
                h.wall_seconds,
                h.exit_code,
                h.stopped
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            );
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn outcome_colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Registered => "#2e7d32",
        Outcome::AlreadyRegistered => "#66bb6a",
        Outcome::Rejected => "#c62828",
        Outcome::Failed => "#ef6c00",
        Outcome::Invalid => "#6a1b9a",
        Outcome::Duplicate => "#78909c",
    }
}

/// A horizontal bar chart as inline SVG.
fn bar_chart(id: &str, bars: &[(String, u64, &str)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let row_h = 26;
    let height = bars.len() * row_h + 10;
    let mut svg = format!(
        "<svg id=\"{id}\" role=\"img\" viewBox=\"0 0 720 {height}\" width=\"720\" height=\"{height}\">"
    );
    for (i, (label, n, colour)) in bars.iter().enumerate() {
        let y = 5 + i * row_h;
        let w = (*n as f64 / max as f64 * 380.0)
            .round()
            .max(if *n > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            "<text x=\"250\" y=\"{}\" text-anchor=\"end\" font-size=\"13\">{}</text><rect x=\"260\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{colour}\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 14,
            esc(label),
            esc(label),
            260.0 + w + 6.0,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The self-contained HTML page.
pub fn render_html(d: &ReportData) -> String {
    let mut h = String::new();
    let title = format!(
        "growatt-onboard report: {}",
        d.results
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    );
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1100px}}\
h1{{font-size:1.4rem}}h2{{font-size:1.1rem;margin-top:2rem}}table{{border-collapse:collapse;width:100%}}\
td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem;vertical-align:top}}\
th{{background:#f5f5f5}}.num{{text-align:right;font-variant-numeric:tabular-nums}}\
.cards{{display:flex;flex-wrap:wrap;gap:.8rem}}.card{{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:8rem}}\
.card b{{display:block;font-size:1.6rem}}.muted{{color:#666}}</style></head><body>",
        esc(&title)
    );
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"muted\">{} rows ({} lines) in <code>{}</code></p><div class=\"cards\">",
        esc(&title),
        d.rows(),
        d.lines,
        esc(&d.results.display().to_string())
    );
    for o in Outcome::ALL {
        let _ = write!(
            h,
            "<div class=\"card\"><b id=\"count-{}\" style=\"color:{}\">{}</b>{}</div>",
            o.as_str(),
            outcome_colour(o),
            d.count(o),
            o.as_str().replace('_', " ")
        );
    }
    h.push_str("</div><h2>Rows per outcome</h2>");
    let bars: Vec<(String, u64, &str)> = Outcome::ALL
        .iter()
        .map(|o| {
            (
                o.as_str().replace('_', " "),
                d.count(*o),
                outcome_colour(*o),
            )
        })
        .collect();
    h.push_str(&bar_chart("outcomes-chart", &bars));
    if !d.codes.is_empty() {
        h.push_str("<h2>Rows per error code</h2>");
        let bars: Vec<(String, u64, &str)> = d
            .codes
            .iter()
            .map(|(c, n)| {
                let colour = match c {
                    0 => "#2e7d32",
                    10003 => "#66bb6a",
                    _ => "#c62828",
                };
                (format!("{c} {}", code_meaning(*c)), *n, colour)
            })
            .collect();
        h.push_str(&bar_chart("codes-chart", &bars));
    }
    if let Some(links) = &d.links {
        h.push_str("<h2>Links (from verify)</h2><p>");
        let parts: Vec<String> = links
            .iter()
            .map(|(s, n)| format!("<span id=\"links-{}\">{n}</span> {}", esc(s), esc(s)))
            .collect();
        h.push_str(&parts.join(", "));
        h.push_str("</p>");
    }
    let _ = write!(
        h,
        "<h2>Rows needing attention (<span id=\"attention-total\">{}</span>)</h2>",
        d.attention_total
    );
    if d.attention.is_empty() {
        h.push_str("<p>No row needs attention.</p>");
    } else {
        h.push_str("<table id=\"attention\"><tr><th class=\"num\">row</th><th>plant_id</th><th>sn</th><th>c_user_id</th><th>outcome</th><th class=\"num\">code</th><th>message</th><th>what to do</th></tr>");
        for a in &d.attention {
            let _ = write!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                a.row,
                esc(&a.plant_id),
                esc(&a.sn),
                esc(&a.c_user_id),
                a.outcome,
                a.error_code.map(|c| c.to_string()).unwrap_or_default(),
                esc(&a.error_msg),
                esc(advice(a.outcome, a.error_code))
            );
        }
        h.push_str("</table>");
        if d.attention_total > d.attention.len() as u64 {
            let _ = write!(
                h,
                "<p class=\"muted\">… and {} more; see the results file.</p>",
                d.attention_total - d.attention.len() as u64
            );
        }
    }
    if !d.history.is_empty() {
        h.push_str("<h2>Run history</h2><table id=\"history\"><tr><th>started</th><th class=\"num\">rows ended</th><th class=\"num\">done earlier</th><th class=\"num\">requests</th><th class=\"num\">seconds</th><th class=\"num\">exit</th><th>note</th></tr>");
        for r in &d.history {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&r.started_at),
                r.rows_ended,
                r.skipped_done,
                r.requests,
                r.wall_seconds,
                r.exit_code,
                esc(r.stopped.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"muted\">Made by growatt-onboard. What to do per outcome: registered and already registered need nothing; rejected rows need the cause fixed (see each row); failed rows need another run; invalid rows need the cell fixed in the spreadsheet.</p></body></html>\n");
    h
}

/// Writes the HTML page whole (via a temporary file and a rename).
pub fn write_html(d: &ReportData, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    std::io::Write::write_all(&mut tmp, render_html(d).as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.results.csv");
        std::fs::write(
            &p,
            "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
             2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
             3,9,A2,5,rejected,10004,plant does not exist,1,200,3,2026-01-01T00:00:00.000Z\n\
             4,1,A3,5,failed,10001,gave up,5,200,3,2026-01-01T00:00:00.000Z\n\
             4,1,A3,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
             5,x,<b>,5,invalid,,plant_id 'x' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n",
        )
        .unwrap();
        std::fs::write(
            history_path(&p),
            "{\"started_at\":\"2026-01-01T00:00:00.000Z\",\"wall_seconds\":1.5,\"rows_ended\":4,\"requests\":8,\"outcomes\":{},\"exit_code\":3}\n",
        )
        .unwrap();
        (dir, p)
    }

    #[test]
    fn latest_line_per_row_counts() {
        let (_d, p) = sample();
        let d = load(&p).unwrap();
        assert_eq!(d.rows(), 4);
        assert_eq!(d.lines, 5);
        assert_eq!(d.count(Outcome::Registered), 2);
        assert_eq!(d.count(Outcome::Failed), 0, "row 4's later line wins");
        assert_eq!(d.attention_total, 2);
        assert_eq!(d.attention[0].row, 3);
        assert_eq!(d.codes[&0], 2);
        assert_eq!(d.history.len(), 1);
        let text = render_text(&d);
        assert!(text.contains("check the plant id in ShineServer"), "{text}");
        assert!(text.contains("Run history"), "{text}");
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let (_d, p) = sample();
        let html = render_html(&load(&p).unwrap());
        assert!(html.contains("id=\"count-registered\" style=\"color:#2e7d32\">2<"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("src=\"http"), "no external assets");
        assert!(!html.contains("href=\"http"));
        assert!(html.contains("<svg id=\"outcomes-chart\""));
    }

    #[test]
    fn advice_per_code() {
        assert!(advice(Outcome::Rejected, Some(10005)).contains("end-user"));
        assert!(advice(Outcome::Failed, None).contains("run again"));
    }
}
