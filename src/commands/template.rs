//! `template PATH`: the fill-in fleet workbook, or the CSV header, written where the person asks.

use std::path::Path;

use super::{CommandError, Outcome};
use crate::cli::TemplateArgs;
use crate::exit::Exit;
use crate::template;
use crate::term::log;

/// `template`: 0 when written; 2 for a name that is neither .xlsx nor .csv; 1 when the file
/// exists (it may be a filled-in fleet: never overwritten without `--force`) or cannot be written.
pub fn execute(args: &TemplateArgs) -> Outcome {
    let path = &args.path;
    let Some(kind) = Kind::of(path) else {
        return Err(CommandError::Usage(format!(
            "{}: the template is an .xlsx workbook or a .csv file; give a name ending in .xlsx (or .csv), e.g. fleet.xlsx",
            path.display()
        )));
    };
    if !args.force && std::fs::symlink_metadata(path).is_ok() {
        return Err(CommandError::Fatal(format!(
            "{} already exists and may hold a fleet; choose another name, or pass --force to replace it",
            path.display()
        )));
    }
    let bytes = match kind {
        Kind::Xlsx => template::xlsx()
            .map_err(|e| CommandError::Fatal(format!("cannot build the template workbook: {e}")))?,
        Kind::Csv => template::csv().into_bytes(),
    };
    crate::files::write_whole(path, &bytes).map_err(|e| {
        CommandError::Fatal(format!(
            "cannot write {}: {}",
            path.display(),
            crate::text::io_reason(&e)
        ))
    })?;
    let what = match kind {
        Kind::Xlsx => format!(
            "fill in the sheet {} (the sheet {} says how)",
            template::SHEET,
            template::HELP_SHEET
        ),
        Kind::Csv => "one device a line under the header".to_string(),
    };
    log::stdout(
        format!(
            "wrote {}: {what}; then check it with: growatt-onboard check {}\n",
            path.display(),
            path.display()
        )
        .as_bytes(),
    );
    Ok(Exit::Success)
}

/// What the name asks for.
enum Kind {
    /// A workbook.
    Xlsx,
    /// A CSV header.
    Csv,
}

impl Kind {
    /// By the extension, in any case; `None` for anything else.
    fn of(path: &Path) -> Option<Kind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "xlsx" => Some(Kind::Xlsx),
            "csv" => Some(Kind::Csv),
            _ => None,
        }
    }
}
