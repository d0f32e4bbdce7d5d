//! `report`: a results file summarised as text on stdout, as an HTML page, or as a spreadsheet.

use super::{CommandError, Outcome};
use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::report::{self, ReportData};
use crate::term::log::{self, Log};

/// `report`: exit 3 when rows need attention, as `run` would have ended; 1 when the file cannot
/// be read or a page or workbook written.
pub fn execute(args: &ReportArgs) -> Outcome {
    let log = Log::new(false);
    let data = report::load(&args.results)?;
    if let Some(warning) = data.damaged.describe(&data.results) {
        log.notice(&format!("growatt-onboard: {warning}"));
    }
    if args.html.is_none() && args.xlsx.is_none() {
        log::stdout(report::render_text(&data).as_bytes());
        return Ok(data_exit(&data));
    }
    if let Some(path) = &args.html {
        report::write_html(&data, path).map_err(|e| {
            CommandError::Fatal(format!(
                "cannot write {}: {}",
                path.display(),
                crate::text::io_reason(&e)
            ))
        })?;
        log::stdout(format!("{}\n", path.display()).as_bytes());
    }
    if let Some(path) = &args.xlsx {
        let written = report::write_xlsx(&args.results, path)?;
        if written.left_out > 0 {
            log.notice(&format!(
                "growatt-onboard: warning: {}: a sheet holds {} rows; the last {} are in the results file only",
                path.display(),
                report::xlsx::MAX_ROWS,
                written.left_out
            ));
        }
        log::stdout(format!("{}\n", path.display()).as_bytes());
    }
    Ok(data_exit(&data))
}

/// A report's exit code: 3 when rows need attention, else 0 (as `run` would have ended).
pub fn data_exit(data: &ReportData) -> Exit {
    if data.attention_total > 0 {
        Exit::NeedsAttention
    } else {
        Exit::Success
    }
}
