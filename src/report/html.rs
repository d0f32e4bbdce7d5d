//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
//! assets. It reads on a 1280-pixel screen and on a 420-pixel phone alike: wide tables become one
//! card per row on a narrow screen, long cells wrap, charts scale down.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Local};

use super::ReportData;
use crate::outcome::{advice, code_colour, code_meaning, Outcome, CODE_ALREADY};
use crate::text::count;

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

/// The page's style: narrow screens get one card per table row, with the column's name
/// before each cell.
const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;padding:0 1.5rem;color:#222;max-width:1100px;line-height:1.4}\
h1{font-size:1.4rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem;vertical-align:top;overflow-wrap:break-word}\
th{background:#f5f5f5}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.when,.word{white-space:nowrap}\
td.wrap{overflow-wrap:anywhere}td.todo{min-width:14em}td.id{overflow-wrap:anywhere;min-width:5.5em}td.sn{overflow-wrap:anywhere;min-width:8.5em}\
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:8rem;flex:0 1 auto}\
.card b{display:block;font-size:1.6rem}.muted{color:#666}code{overflow-wrap:anywhere}p.wrap{overflow-wrap:anywhere}\
svg{display:block;width:100%;max-width:480px;height:auto}table#pending{width:auto;min-width:50%}\
@media (max-width:700px){body{margin:1rem auto;padding:0 .8rem}\
table.rows,.rows tbody,.rows tr,.rows td{display:block;width:100%}.rows tr.head{display:none}\
.rows tr{border:1px solid #ddd;border-radius:6px;margin:0 0 .6rem;padding:.2rem 0}\
.rows td{border:0;padding:.15rem .6rem}.rows td.num{text-align:left}\
.rows td.word,.rows td.when{white-space:normal}.rows td{min-width:0}.rows td[data-label]::before{content:attr(data-label) \": \";font-weight:600;color:#555}\
.card{min-width:6.5rem;padding:.4rem .7rem}}";

/// A horizontal bar chart as inline SVG, scaled to the page's width.
fn bar_chart(id: &str, title: &str, bars: &[(String, u64, &str)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let row_h = 26;
    let height = bars.len() * row_h + 10;
    let mut svg = format!(
        "<svg id=\"{id}\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 480 {height}\" width=\"480\" height=\"{height}\" preserveAspectRatio=\"xMinYMin meet\">",
        esc(title)
    );
    for (i, (label, n, colour)) in bars.iter().enumerate() {
        let y = 5 + i * row_h;
        let w = (*n as f64 / max as f64 * 160.0)
            .round()
            .max(if *n > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            "<text x=\"260\" y=\"{}\" text-anchor=\"end\" font-size=\"13\">{}</text><rect x=\"270\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{colour}\"><title>{}: {n}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 14,
            esc(label),
            esc(label),
            270.0 + w + 6.0,
            y + 14
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A table cell with the column's name for narrow screens.
fn td(label: &str, class: &str, text: &str) -> String {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    format!("<td data-label=\"{label}\"{class}>{text}</td>")
}

/// The header row of a table.
fn head(cells: &[(&str, &str)]) -> String {
    let mut h = String::from("<tr class=\"head\">");
    for (name, class) in cells {
        if class.is_empty() {
            let _ = write!(h, "<th>{name}</th>");
        } else {
            let _ = write!(h, "<th class=\"{class}\">{name}</th>");
        }
    }
    h.push_str("</tr>");
    h
}

/// The self-contained HTML page, made now.
pub fn render_html(d: &ReportData) -> String {
    render_html_at(d, Local::now())
}

/// The self-contained HTML page, made at `now`.
pub fn render_html_at(d: &ReportData, now: DateTime<Local>) -> String {
    let mut h = String::new();
    let name = d
        .results
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let title = format!("growatt-onboard report: {name}");
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let runs = d.history.len() as u64;
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"muted\" id=\"made\">Made <span class=\"when\">{}</span> (times in this page are local, UTC{}). {} in <code>{}</code>{}.</p><div class=\"cards\">",
        esc(&title),
        now.format("%-d %b %Y %H:%M"),
        now.format("%:z"),
        count(d.rows(), "row", "rows"),
        esc(&d.results.display().to_string()),
        if runs > 0 {
            format!(", from {}", count(runs, "run", "runs"))
        } else {
            String::new()
        }
    );
    let colour =
        |bucket: &str| Outcome::parse(bucket).map_or(NOT_REACHED_COLOUR, |o: Outcome| o.colour());
    for (bucket, n) in d.buckets() {
        let _ = write!(
            h,
            "<div class=\"card\"><b id=\"count-{bucket}\" style=\"color:{}\">{n}</b>{}</div>",
            colour(bucket),
            bucket.replace('_', " ")
        );
    }
    h.push_str("</div>");
    fleet_section(&mut h, d);
    h.push_str("<h2>Rows per outcome</h2>");
    let bars: Vec<(String, u64, &str)> = d
        .buckets()
        .into_iter()
        .map(|(bucket, n)| (bucket.replace('_', " "), n, colour(bucket)))
        .collect();
    h.push_str(&bar_chart("outcomes-chart", "Rows per outcome", &bars));
    // Codes that are not errors (0 accepted, 10003 already associated) are in the counts above.
    let errors: Vec<(String, u64, &str)> = d
        .codes
        .iter()
        .filter(|(c, _)| **c != 0 && **c != CODE_ALREADY)
        .map(|(c, n)| (format!("{c} {}", code_meaning(*c)), *n, code_colour(*c)))
        .collect();
    if !errors.is_empty() {
        h.push_str("<h2>Rows per API error</h2>");
        h.push_str(&bar_chart("codes-chart", "Rows per API error", &errors));
    }
    links_section(&mut h, d);
    elsewhere_section(&mut h, d);
    attention_section(&mut h, d);
    serials_section(&mut h, d);
    history_section(&mut h, d);
    h.push_str("<p class=\"muted\">Made by growatt-onboard. What to do per outcome: registered and already registered need nothing; rejected rows need the cause fixed (see each row); failed rows need another run; invalid rows need the cell fixed in the spreadsheet.</p></body></html>\n");
    h
}

/// The colour of the rows not reached: grey, neither done nor in trouble.
const NOT_REACHED_COLOUR: &str = "#8a8a8a";

/// Which fleet the counts are of (or why that cannot be told), and the serials of the results
/// no row of it holds any more, named once.
fn fleet_section(h: &mut String, d: &ReportData) {
    match (&d.fleet, &d.no_fleet) {
        (Some(fleet), _) => {
            let _ = write!(
                h,
                "<p class=\"muted\" id=\"fleet\">The rows of the fleet <code>{}</code> as it stands, each with its latest result; rows not reached are the ones no run sent as they stand now.</p>",
                esc(&fleet.display().to_string())
            );
        }
        (None, Some(why)) => {
            let text = super::text::cannot_tell(why);
            let _ = write!(
                h,
                "<p id=\"fleet-unknown\"><strong>Fleet:</strong> {}.</p>",
                esc(&text)
            );
        }
        (None, None) => {}
    }
    if d.removed_total > 0 {
        let names: Vec<String> = d.removed.iter().map(|r| esc(&r.sn)).collect();
        let more = d.removed_total.saturating_sub(d.removed.len() as u64);
        let _ = write!(
            h,
            "<p id=\"removed\" class=\"wrap\">No longer in the fleet: <span id=\"removed-total\">{}</span> ({}{}), left out of the counts.</p>",
            count(d.removed_total, "serial", "serials"),
            names.join(", "),
            if more > 0 {
                format!(", … and {more} more in the results file")
            } else {
                String::new()
            }
        );
    }
}

/// Linked and pending counts, and the devices not linked yet, from `verify`.
fn links_section(h: &mut String, d: &ReportData) {
    let Some(links) = &d.links else { return };
    h.push_str("<h2>Links on the plants (from verify)</h2><p>");
    let parts: Vec<String> = links
        .iter()
        .map(|(s, n)| {
            format!(
                "<span id=\"links-{}\">{n}</span> {}",
                esc(s),
                esc(&s.replace('_', " "))
            )
        })
        .collect();
    h.push_str(&parts.join(", "));
    h.push_str("</p>");
    if d.pending.is_empty() {
        return;
    }
    h.push_str("<p>Not on their plant yet: a device links when it next comes online; run <code>verify</code> again later. A missing plant needs checking in ShineServer.</p><table id=\"pending\">");
    h.push_str(&head(&[
        ("row", "num"),
        ("serial", ""),
        ("plant", ""),
        ("status", ""),
    ]));
    for p in &d.pending {
        let _ = write!(
            h,
            "<tr>{}{}{}{}</tr>",
            td("row", "num", &p.row.to_string()),
            td("serial", "sn", &esc(&p.sn)),
            td("plant", "id", &esc(&p.plant_id)),
            td("status", "", &esc(&p.status.replace('_', " "))),
        );
    }
    h.push_str("</table>");
    more_line(h, d.pending_total, d.pending.len(), "the verify file");
}

/// Devices `verify --locate` found sitting on another plant, with what to do.
fn elsewhere_section(h: &mut String, d: &ReportData) {
    if d.elsewhere.is_empty() {
        return;
    }
    h.push_str("<h2>Devices sitting on another plant (from verify --locate)</h2><table id=\"elsewhere\" class=\"rows\">");
    h.push_str(&head(&[
        ("row", "num"),
        ("sn", ""),
        ("row's plant", ""),
        ("sits on plant", ""),
        ("of user", ""),
        ("what to do", ""),
    ]));
    for e in &d.elsewhere {
        let _ = write!(
            h,
            "<tr>{}{}{}{}{}{}</tr>",
            td("row", "num", &e.row.to_string()),
            td("sn", "sn", &esc(&e.sn)),
            td("row's plant", "id", &esc(&e.plant_id)),
            td("sits on plant", "id", &esc(&e.located_plant_id)),
            td("of user", "id", &esc(&e.located_user_id)),
            td("what to do", "wrap todo", &esc(super::ELSEWHERE_ADVICE)),
        );
    }
    h.push_str("</table>");
    more_line(h, d.elsewhere_total, d.elsewhere.len(), "the verify file");
}

/// The rows needing attention, with what to do about each.
fn attention_section(h: &mut String, d: &ReportData) {
    let _ = write!(
        h,
        "<h2>Rows needing attention (<span id=\"attention-total\">{}</span>)</h2>",
        d.attention_total
    );
    if d.attention.is_empty() {
        h.push_str("<p>No row needs attention.</p>");
        return;
    }
    h.push_str("<table id=\"attention\" class=\"rows\">");
    h.push_str(&head(&[
        ("row", "num"),
        ("plant_id", ""),
        ("sn", ""),
        ("c_user_id", ""),
        ("outcome", ""),
        ("code", "num"),
        ("message", ""),
        ("what to do", ""),
    ]));
    for a in &d.attention {
        let _ = write!(
            h,
            "<tr>{}{}{}{}{}{}{}{}</tr>",
            td("row", "num", &a.row.to_string()),
            td("plant_id", "id", &esc(&a.plant_id)),
            td("sn", "sn", &esc(&a.sn)),
            td("c_user_id", "id", &esc(&a.c_user_id)),
            td("outcome", "word", a.outcome.as_str()),
            td(
                "code",
                "num",
                &a.error_code.map(|c| c.to_string()).unwrap_or_default()
            ),
            td("message", "wrap", &esc(&a.error_msg)),
            td(
                "what to do",
                "wrap todo",
                &esc(advice(a.outcome, a.error_code))
            ),
        );
    }
    h.push_str("</table>");
    more_line(h, d.attention_total, d.attention.len(), "the results file");
}

/// The rows whose serial the latest run warned about, each with its warning.
fn serials_section(h: &mut String, d: &ReportData) {
    if d.serial_warnings.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h2>Serials to compare with the device label (<span id=\"serial-warnings-total\">{}</span>)</h2>\
<p>A spreadsheet may have changed these serials (leading zeros or an E lost). They were read as shown: compare each with its device label.</p>\
<table id=\"serial-warnings\" class=\"rows\">",
        d.serial_warnings.len()
    );
    h.push_str(&head(&[
        ("row", "num"),
        ("sn", ""),
        ("outcome", ""),
        ("warning", ""),
    ]));
    for w in &d.serial_warnings {
        let _ = write!(
            h,
            "<tr>{}{}{}{}</tr>",
            td("row", "num", &w.row.to_string()),
            td("sn", "sn", &esc(&w.sn)),
            td("outcome", "word", w.outcome.as_str()),
            td("warning", "wrap", &esc(&w.message)),
        );
    }
    h.push_str("</table>");
}

/// One line per run, oldest first.
fn history_section(h: &mut String, d: &ReportData) {
    if d.history.is_empty() && !d.history_left_out {
        return;
    }
    h.push_str("<h2>Run history</h2>");
    if d.history.is_empty() {
        h.push_str("<p class=\"muted\">The end of the history file holds no run (it may be damaged); earlier runs are in the history file.</p>");
        return;
    }
    if d.history_left_out {
        let _ = write!(
            h,
            "<p class=\"muted\">The last {}; earlier runs are in the history file.</p>",
            count(d.history.len() as u64, "run", "runs")
        );
    }
    h.push_str("<table id=\"history\" class=\"rows\">");
    h.push_str(&head(&[
        ("started", ""),
        ("rows ended", "num"),
        ("done earlier", "num"),
        ("requests", "num"),
        ("took", "num"),
        ("exit code", "num"),
        ("note", ""),
    ]));
    for r in &d.history {
        let _ = write!(
            h,
            "<tr>{}{}{}{}{}{}{}</tr>",
            td(
                "started",
                "when",
                &esc(&super::text::local_time(&r.started_at))
            ),
            td("rows ended", "num", &r.rows_ended.to_string()),
            td("done earlier", "num", &r.skipped_done.to_string()),
            td("requests", "num", &r.requests.to_string()),
            td("took", "num", &format!("{:.1} s", r.wall_seconds)),
            td("exit code", "num", &r.exit_code.to_string()),
            td("note", "wrap", &esc(r.stopped.as_deref().unwrap_or(""))),
        );
    }
    h.push_str("</table>");
}

/// Writes the HTML page whole (via a temporary file and a rename, or into a pipe or a device);
/// never over one of the tool's own files ([`super::guard::check_target`]).
pub fn write_html(d: &ReportData, path: &Path) -> std::io::Result<()> {
    super::guard::check_target(&d.results, path)
        .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?;
    crate::files::write_whole(path, render_html(d).as_bytes())
}

/// The closing line of a table cut at [`super::ATTENTION_LIMIT`] rows, or nothing.
fn more_line(h: &mut String, total: u64, shown: usize, whole: &str) {
    let more = total.saturating_sub(shown as u64);
    if more > 0 {
        let _ = write!(h, "<p class=\"muted\">… and {more} more; see {whole}.</p>");
    }
}
