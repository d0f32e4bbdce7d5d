//! The report as one self-contained HTML page: inline CSS and SVG, no external assets.

use std::fmt::Write as _;
use std::path::Path;

use super::ReportData;
use crate::outcome::{advice, code_colour, code_meaning, Outcome};

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
            o.colour(),
            d.count(o),
            o.as_str().replace('_', " ")
        );
    }
    h.push_str("</div><h2>Rows per outcome</h2>");
    let bars: Vec<(String, u64, &str)> = Outcome::ALL
        .iter()
        .map(|o| (o.as_str().replace('_', " "), d.count(*o), o.colour()))
        .collect();
    h.push_str(&bar_chart("outcomes-chart", &bars));
    if !d.codes.is_empty() {
        h.push_str("<h2>Rows per error code</h2>");
        let bars: Vec<(String, u64, &str)> = d
            .codes
            .iter()
            .map(|(c, n)| {
                let colour = code_colour(*c);
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
    if !d.elsewhere.is_empty() {
        h.push_str("<h2>Devices sitting on another plant (from verify --locate)</h2><table id=\"elsewhere\"><tr><th class=\"num\">row</th><th>sn</th><th>row's plant</th><th>sits on plant</th><th>of user</th><th>what to do</th></tr>");
        for e in &d.elsewhere {
            let _ = write!(
                h,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.row,
                esc(&e.sn),
                esc(&e.plant_id),
                esc(&e.located_plant_id),
                esc(&e.located_user_id),
                esc(super::ELSEWHERE_ADVICE)
            );
        }
        h.push_str("</table>");
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
