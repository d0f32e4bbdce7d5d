//! `check` (and `run --dry-run`): read and validate exactly as `run` would, send nothing.

use std::io::Write;

use crate::account::{screened, Screen};
use crate::cli::CheckArgs;
use crate::config::{input_paths, read_options, RunError};
use crate::exit::Exit;
use crate::input::FleetReader;
use crate::journal::{self, triage, Next};
use crate::outcome::Outcome;
use crate::ui::Log;

/// `check` (and `run --dry-run`): the problems on stdout, a fatal one on stderr. With
/// `--account`, rows are also screened against the account cache (pulled first if there is none).
pub async fn execute(args: &CheckArgs, token_env: Option<&str>) -> Exit {
    let output = super::account::check_output(args.quiet);
    let screen = super::account::screen_for(
        &args.account,
        &args.server,
        &args.request,
        &output,
        token_env,
    )
    .await;
    let mut screen = match screen {
        Ok(s) => s,
        Err(e) => {
            Log::new(false).error(&e.to_string());
            return e.exit();
        }
    };
    match check(args, screen.as_mut(), &mut std::io::stdout().lock()) {
        Ok(report) => report.exit(),
        Err(e) => {
            Log::new(false).error(&e.to_string());
            e.exit()
        }
    }
}

/// What `check` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// Rows `run` would send now.
    pub to_send: u64,
    /// Rows that fail validation.
    pub invalid: u64,
    /// Rows whose serial appeared on an earlier row.
    pub duplicate: u64,
    /// Rows an earlier run already finished (per the results file).
    pub done: u64,
    /// Of the invalid rows, those whose plant or user the account lacks (`--account`).
    pub not_in_account: u64,
    /// Rows to send whose plant another user owns (`--account`; a warning).
    pub owner_mismatch: u64,
}

impl CheckReport {
    /// 3 when some rows are invalid, else 0.
    pub fn exit(&self) -> Exit {
        if self.invalid > 0 {
            Exit::NeedsAttention
        } else {
            Exit::Success
        }
    }
}

/// Validates the input, writing one line per problem row (unless `quiet`) and a closing count to
/// `out`; with a `screen`, rows the account rules out are invalid and owner mismatches warned.
pub fn check(
    args: &CheckArgs,
    mut screen: Option<&mut Screen>,
    out: &mut impl Write,
) -> Result<CheckReport, RunError> {
    let path = &args.input.input;
    let results_path = input_paths(&args.input).results;
    let options = read_options(&args.input)?;
    let reader = FleetReader::open_with(path, &options)?;
    let previous = journal::read_done(&results_path)?;
    if let Some(warning) = previous.damaged.describe(&results_path) {
        let _ = writeln!(out, "warning: {warning}");
    }
    let mut seen = previous.done;
    let mut report = CheckReport::default();
    let mut problems = String::new();
    for item in reader {
        let row = item?;
        report.rows += 1;
        let next = triage(&mut seen, row);
        let was_to_send = matches!(next, Next::Send(..));
        match screened(screen.as_deref_mut(), next) {
            Next::Ended(line) => {
                match line.outcome {
                    Outcome::Invalid if was_to_send => {
                        report.invalid += 1;
                        report.not_in_account += 1;
                    }
                    Outcome::Invalid => report.invalid += 1,
                    _ => report.duplicate += 1,
                }
                if !args.quiet {
                    problems.push_str(&format!(
                        "row {}: {}: {}\n",
                        line.row, line.outcome, line.error_msg
                    ));
                }
            }
            Next::Done => report.done += 1,
            Next::Send(..) => report.to_send += 1,
        }
        if problems.len() > 64 * 1024 {
            let _ = out.write_all(problems.as_bytes());
            problems.clear();
        }
    }
    let _ = out.write_all(problems.as_bytes());
    let mut account = String::new();
    if let Some(screen) = screen {
        report.owner_mismatch = screen.warned_rows();
        if !args.quiet {
            for line in screen.warning_lines() {
                let _ = writeln!(out, "{line}");
            }
        }
        account = format!(
            " ({} not in {}{}, {} on a plant another user owns)",
            report.not_in_account,
            screen.cache().listing_words(),
            if screen.cache().complete() {
                ""
            } else {
                ", partial"
            },
            report.owner_mismatch
        );
    }
    let done = if report.done > 0 {
        format!(
            ", {} already done in {}",
            report.done,
            results_path.display()
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{}: {}: {} to send, {} invalid{account}, {} duplicate{done}",
        path.display(),
        crate::text::count(report.rows, "row", "rows"),
        report.to_send,
        report.invalid,
        report.duplicate
    );
    Ok(report)
}
