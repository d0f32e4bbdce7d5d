//! `check` (and `run --dry-run`) on the command line: the problems on stdout as they are found,
//! then the closing count.

use std::io::Write;

use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::cli::CheckArgs;
use crate::config::{input_paths, read_options, request_config};
use crate::jobs::{self, CheckSettings, Finding};
use crate::term::{views, Log};

/// Skipped rows `check` names; the rest are counted.
const SKIPPED_SHOWN: usize = 5;

/// `check` (and `run --dry-run`): the problems on stdout, a fatal one on stderr. With
/// `--account`, rows are also screened against the account cache (pulled first if there is none).
pub async fn execute(args: &CheckArgs, token_env: Option<&str>) -> Outcome {
    let mut screen = None;
    if args.account.account {
        let request = request_config(&args.api, token_env)?;
        let events = views::account_sink(&Log::new(false), args.quiet);
        let cancel = CancellationToken::new();
        let cache = args.account.cache.as_deref();
        screen = Some(jobs::account::screen(cache, &request, &cancel, &events).await?);
    }
    let cfg = CheckSettings {
        input: args.input.input.clone(),
        paths: input_paths(&args.input),
        read: read_options(&args.input)?,
        strict_serials: args.input.strict_serials,
    };
    let mut stdout = std::io::stdout().lock();
    // Problem lines go out in blocks: a million-row check must not make a write per row.
    let mut block = String::new();
    let mut skipped = Vec::new();
    let report = jobs::check::check(&cfg, screen.as_mut(), &mut |found| {
        match found {
            Finding::Problem {
                row,
                outcome,
                message,
            } if !args.quiet => block.push_str(&format!("row {row}: {outcome}: {message}\n")),
            Finding::Problem { .. } => {}
            Finding::Damaged(w) => block.push_str(&format!("warning: {w}\n")),
            Finding::Warning(w) if !args.quiet => block.push_str(&format!("{w}\n")),
            Finding::Warning(_) => {}
            Finding::SerialWarning(w) if !args.quiet => {
                block.push_str(&format!("row {}: warning: {}\n", w.row, w.message));
            }
            Finding::SerialWarning(_) => {}
            Finding::Header(note) if !args.quiet => {
                block.push_str(&format!("{}: {note}\n", cfg.input.display()));
            }
            Finding::Header(_) => {}
            // Not problems: listed briefly under the problems, the first few only.
            Finding::Skipped { row, message } if skipped.len() < SKIPPED_SHOWN => {
                skipped.push(format!("  row {row}: {message}\n"));
            }
            Finding::Skipped { .. } => {}
        }
        if block.len() > 64 * 1024 {
            let _ = stdout.write_all(block.as_bytes());
            block.clear();
        }
    });
    let _ = stdout.write_all(block.as_bytes());
    let report = report?;
    if report.skipped > 0 && !args.quiet {
        let more = report.skipped - skipped.len() as u64;
        let _ = write!(
            stdout,
            "skipped on purpose ({}):\n{}{}",
            crate::text::count(report.skipped, "row", "rows"),
            skipped.concat(),
            if more > 0 {
                format!("  … and {more} more\n")
            } else {
                String::new()
            }
        );
    }
    if report.rows == 0 {
        // A header alone (a fresh template): nothing is wrong yet, and nothing would be sent.
        let _ = writeln!(
            stdout,
            "{}: the {} has no rows yet: fill in plant_id, sn and c_user_id under the header, then check again",
            cfg.input.display(),
            if crate::input::is_spreadsheet(&cfg.input) {
                "sheet"
            } else {
                "file"
            }
        );
    }
    let done = if report.done > 0 {
        format!(
            ", {} already done in {}",
            report.done,
            cfg.paths.results.display()
        )
    } else {
        String::new()
    };
    let warned = if report.serial_warnings > 0 {
        format!(
            "; {} to compare with the device label",
            crate::text::count(report.serial_warnings, "serial", "serials")
        )
    } else {
        String::new()
    };
    let skipped = if report.skipped > 0 {
        format!(", {} skipped", report.skipped)
    } else {
        String::new()
    };
    let _ = writeln!(
        stdout,
        "{}: {}: {} to send, {} invalid{}, {} duplicate{skipped}{done}{warned}",
        cfg.input.display(),
        crate::text::count(report.rows, "row", "rows"),
        report.to_send,
        report.invalid,
        report.account.as_deref().unwrap_or(""),
        report.duplicate
    );
    Ok(report.exit())
}
