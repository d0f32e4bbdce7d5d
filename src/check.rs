//! `check` (and `run --dry-run`): read and validate exactly as `run` would, send nothing.

use std::io::Write;

use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::input::{sn_key, FleetReader};
use crate::pipeline::{duplicate_msg, RunError};
use crate::results;
use crate::seen::Sight;

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
/// `out`.
pub fn check(args: &CheckArgs, out: &mut impl Write) -> Result<CheckReport, RunError> {
    let path = &args.input.input;
    let results_path = args
        .input
        .out
        .clone()
        .unwrap_or_else(|| results::default_results_path(path));
    let options = args.input.read_options().map_err(RunError::Usage)?;
    let reader = FleetReader::open_with(path, &options)?;
    let mut seen = results::read_done(&results_path)?.done;
    let mut report = CheckReport::default();
    let mut problems = String::new();
    for item in reader {
        let row = item?;
        report.rows += 1;
        match &row.check {
            Err(msg) => {
                report.invalid += 1;
                if !args.quiet {
                    problems.push_str(&format!("row {}: invalid: {msg}\n", row.row));
                }
            }
            Ok(device) => match seen.sight(sn_key(&device.sn), row.row) {
                Sight::Duplicate { first_row: first } => {
                    report.duplicate += 1;
                    if !args.quiet {
                        problems.push_str(&format!(
                            "row {}: duplicate: {}\n",
                            row.row,
                            duplicate_msg(first)
                        ));
                    }
                }
                Sight::First { done: true } => report.done += 1,
                Sight::First { done: false } => report.to_send += 1,
            },
        }
        if problems.len() > 64 * 1024 {
            let _ = out.write_all(problems.as_bytes());
            problems.clear();
        }
    }
    let _ = out.write_all(problems.as_bytes());
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
        "{}: {} rows: {} to send, {} invalid, {} duplicate{done}",
        path.display(),
        report.rows,
        report.to_send,
        report.invalid,
        report.duplicate
    );
    Ok(report)
}
