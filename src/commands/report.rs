//! `report`: a results file summarised as text on stdout, or as an HTML page.

use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::report::{self, ReportData};
use crate::ui::log::{self, Log};

/// `report`: exit 3 when rows need attention, as `run` would have ended; 1 when the file cannot
/// be read or the page written.
pub fn execute(args: &ReportArgs) -> Exit {
    let log = Log::new(false);
    let data = match report::load(&args.results) {
        Ok(data) => data,
        Err(e) => {
            log.error(&e.to_string());
            return e.exit();
        }
    };
    if let Some(warning) = data.damaged.describe(&data.results) {
        log.notice(&format!("growatt-onboard: {warning}"));
    }
    match &args.html {
        Some(path) => match report::write_html(&data, path) {
            Ok(()) => {
                log::stdout(format!("{}\n", path.display()).as_bytes());
                data_exit(&data)
            }
            Err(e) => {
                log.error(&format!("cannot write {}: {e}", path.display()));
                Exit::Fatal
            }
        },
        None => {
            log::stdout(report::render_text(&data).as_bytes());
            data_exit(&data)
        }
    }
}

/// A report's exit code: 3 when rows need attention, else 0 (as `run` would have ended).
pub fn data_exit(data: &ReportData) -> Exit {
    if data.attention_total > 0 {
        Exit::NeedsAttention
    } else {
        Exit::Success
    }
}
