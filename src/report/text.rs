//! The text report for stdout.

use std::fmt::Write as _;

use super::{ReportData, ELSEWHERE_ADVICE};
use crate::outcome::{advice, code_meaning};

/// `  … and N more` under a list cut at [`super::ATTENTION_LIMIT`] rows.
fn more(out: &mut String, total: u64, shown: usize) {
    let more = total.saturating_sub(shown as u64);
    if more > 0 {
        let _ = writeln!(out, "  … and {more} more");
    }
}

/// An RFC 3339 time as the reader's local time, `4 May 2026 14:03`; the text as it is when it
/// is not one.
pub fn local_time(rfc3339: &str) -> String {
    use chrono::{DateTime, Local};
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&Local)
            .format("%-d %b %Y %H:%M")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// What a report without a fleet says about it, after why there is none.
pub fn cannot_tell(why: &str) -> String {
    format!(
        "cannot tell which rows are still in the fleet, nor how many were not reached: {why}; name the fleet with --fleet PATH. The counts are of the results file alone, and so is the exit code"
    )
}

/// "No longer in the fleet: 2 serials (AAA, BBB), left out of the counts", naming at most
/// `names` serials.
pub fn removed_note(d: &ReportData, names: usize) -> String {
    let shown: Vec<&str> = d
        .removed
        .iter()
        .take(names)
        .map(|r| r.sn.as_str())
        .collect();
    let more = d.removed_total.saturating_sub(shown.len() as u64);
    let more = if more > 0 {
        format!(", … and {more} more")
    } else {
        String::new()
    };
    format!(
        "No longer in the fleet: {} ({}{more}), left out of the counts",
        crate::text::count(d.removed_total, "serial", "serials"),
        shown.join(", ")
    )
}

/// The text report for stdout.
pub fn render_text(d: &ReportData) -> String {
    let mut out = String::new();
    let total = d.rows().max(1);
    let _ = writeln!(
        out,
        "Results: {} ({})",
        d.results.display(),
        crate::text::count(d.rows(), "row", "rows")
    );
    match (&d.fleet, &d.no_fleet) {
        (Some(fleet), _) => {
            let _ = writeln!(
                out,
                "Fleet: {}, each row with its latest result",
                fleet.display()
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(out, "Fleet: {}", cannot_tell(why));
        }
        (None, None) => {}
    }
    for (bucket, n) in d.buckets() {
        let bar = "#".repeat(((n * 40).div_ceil(total)) as usize);
        let name = if bucket == super::NOT_REACHED {
            "not reached"
        } else {
            bucket
        };
        let _ = writeln!(out, "  {name:<19} {n:>8}  {bar}");
    }
    if d.removed_total > 0 {
        let _ = writeln!(out, "\n{}", removed_note(d, 20));
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
        for p in &d.pending {
            let _ = writeln!(
                out,
                "  row {:<6} sn {:<16} plant {}: {}",
                p.row,
                p.sn,
                p.plant_id,
                p.status.replace('_', " ")
            );
        }
        more(&mut out, d.pending_total, d.pending.len());
    }
    if !d.elsewhere.is_empty() {
        let _ = writeln!(
            out,
            "\nDevices sitting on another plant (from verify --locate):"
        );
        for e in &d.elsewhere {
            let _ = writeln!(
                out,
                "  row {:<6} {} sits on plant {} (user {}), not {} -> {}",
                e.row, e.sn, e.located_plant_id, e.located_user_id, e.plant_id, ELSEWHERE_ADVICE
            );
        }
        more(&mut out, d.elsewhere_total, d.elsewhere.len());
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
        more(&mut out, d.attention_total, d.attention.len());
    }
    if d.history.is_empty() && d.history_left_out {
        let _ = writeln!(
            out,
            "\nRun history: the end of the history file holds no run (it may be damaged); earlier runs are in the history file."
        );
    }
    if !d.serial_warnings.is_empty() {
        let _ = writeln!(
            out,
            "\nSerials to compare with the device label ({}):",
            d.serial_warnings.len()
        );
        for w in &d.serial_warnings {
            let _ = writeln!(out, "  row {:<6} {}: {}", w.row, w.outcome, w.message);
        }
    }
    if !d.history.is_empty() {
        if d.history_left_out {
            let _ = writeln!(
                out,
                "\nRun history (the last {}; earlier runs are in the history file):",
                crate::text::count(d.history.len() as u64, "run", "runs")
            );
        } else {
            let _ = writeln!(out, "\nRun history:");
        }
        for h in &d.history {
            let _ = writeln!(
                out,
                "  {}: {} ended, {} done earlier, {}, {:.1} s, exit {}{}",
                local_time(&h.started_at),
                crate::text::count(h.rows_ended, "row", "rows"),
                h.skipped_done,
                crate::text::count(h.requests, "request", "requests"),
                h.wall_seconds,
                h.exit_code,
                h.stopped
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            );
        }
    }
    // A results or history file edited by hand may hold what a run never writes: escape control
    // characters so the report cannot drive the terminal it is shown on.
    crate::text::escape_controls(&out, true).into_owned()
}
