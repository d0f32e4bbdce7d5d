//! The text report for stdout.

use std::fmt::Write as _;

use super::{ReportData, ELSEWHERE_ADVICE};
use crate::outcome::{advice, code_meaning, Outcome};

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
        let _ = writeln!(out, "\nRun history:");
        for h in &d.history {
            let _ = writeln!(
                out,
                "  {}: {} ended, {} done earlier, {}, {:.1} s, exit {}{}",
                super::html::local_time(&h.started_at),
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
