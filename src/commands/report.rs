//! `report`: a results file joined to the current fleet, summarised as text on stdout, as an
//! HTML page, or as a spreadsheet.

use super::{CommandError, Outcome};
use crate::cli::ReportArgs;
use crate::exit::Exit;
use crate::input::ReadOptions;
use crate::report::fleet::{self, FleetSpec, NoFleet};
use crate::report::{self, ReportData};
use crate::term::log::{self, Log};

/// `report`: exit 4 when rows of the fleet were not reached, else 3 when rows need attention, as
/// `run` would have ended (without a fleet, from the results alone); 1 when the results or a
/// fleet named with `--fleet` cannot be read, or a page or workbook written.
pub fn execute(args: &ReportArgs) -> Outcome {
    let log = Log::new(false);
    let choice = fleet_choice(args)?;
    for target in [&args.html, &args.xlsx].into_iter().flatten() {
        if let Ok(spec) = &choice {
            if target == &spec.path || crate::files::same_file(target, &spec.path) {
                return Err(CommandError::Fatal(format!(
                    "cannot write {}: it is the fleet file this report reads; a report never replaces it: choose another file name",
                    target.display()
                )));
            }
        }
    }
    let data = report::load_with(&args.results, choice.clone())?;
    if let Some(warning) = data.damaged.describe(&data.results) {
        log.notice(&format!("growatt-onboard: {warning}"));
    }
    if args.html.is_none() && args.xlsx.is_none() {
        log::stdout(report::render_text(&data).as_bytes());
        return Ok(data_exit(&data));
    }
    if let Some(why) = &data.no_fleet {
        log.notice(&format!(
            "growatt-onboard: note: {}",
            report::text::cannot_tell(why)
        ));
    }
    if let (Some(html), Some(xlsx)) = (&args.html, &args.xlsx) {
        if html == xlsx || crate::files::same_file(html, xlsx) {
            return Err(CommandError::Fatal(format!(
                "--html and --xlsx both name {}; give each report its own file",
                html.display()
            )));
        }
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
        // The workbook joins the fleet the text would: a recorded fleet that did not read for
        // the text gives the results alone here too.
        let fleet = match (&data.fleet, choice) {
            (Some(_), c) => c,
            (None, _) => Err(NoFleet {
                why: data.no_fleet.clone().unwrap_or_default(),
                tried: None,
            }),
        };
        let written = report::write_xlsx_with(&args.results, fleet, path)?;
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

/// A report's exit code ([`ReportData::exit`]): 4 when rows of the fleet were not reached, 3 when
/// rows need attention, else 0, as `run` would have ended.
pub fn data_exit(data: &ReportData) -> Exit {
    data.exit()
}

/// The fleet to join: `--fleet`, else the one the last run read; read with `--column` and
/// `--sheet` over the saved settings (`--config`, or `growatt-onboard.toml` beside a fleet given
/// with `--fleet`), else over the mapping the run recorded.
fn fleet_choice(args: &ReportArgs) -> Result<Result<FleetSpec, NoFleet>, CommandError> {
    let saved = |path: &std::path::Path| {
        crate::saved::read_mapping(path).map_err(|why| {
            CommandError::Usage(format!("the settings file {}: {why}", path.display()))
        })
    };
    let config = args.config.as_deref().map(saved).transpose()?;
    let recorded = fleet::recorded(&args.results);
    let asked = !args.columns.is_empty()
        || args.sheet.is_some()
        || args.header_row.is_some()
        || args.config.is_some();
    let (path, read) = match (&args.fleet, recorded) {
        (Some(path), recorded) => {
            let beside = match config {
                Some(c) => Some(c),
                None => settings_beside(path).map(|p| saved(&p)).transpose()?,
            };
            let read = beside
                .or_else(|| recorded.ok().and_then(|r| r.read))
                .unwrap_or_default();
            (path.clone(), read)
        }
        (None, Ok(r)) => {
            let read = match (config, r.read) {
                (Some(c), _) => c,
                (None, Some(read)) => read,
                (None, None) => settings_beside(&r.path)
                    .map(|p| saved(&p))
                    .transpose()?
                    .unwrap_or_default(),
            };
            (r.path, read)
        }
        (None, Err(no)) if asked => {
            return Err(CommandError::Usage(format!(
                "--column, --sheet, --header-row and --config say how to read the fleet, but {}: name the fleet with --fleet PATH",
                no.why
            )));
        }
        (None, Err(no)) => return Ok(Err(no)),
    };
    let read = with_flags(read, args)?;
    Ok(Ok(FleetSpec {
        path,
        read,
        named: args.fleet.is_some() || asked,
    }))
}

/// The saved settings beside a fleet file (`growatt-onboard.toml`), when there are.
fn settings_beside(fleet: &std::path::Path) -> Option<std::path::PathBuf> {
    let beside = fleet
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .join(crate::saved::FILE_NAME);
    beside.is_file().then_some(beside)
}

/// `--column`, `--sheet` and `--header-row` over `read`.
fn with_flags(mut read: ReadOptions, args: &ReportArgs) -> Result<ReadOptions, CommandError> {
    read.map_columns(&args.columns)
        .map_err(CommandError::Usage)?;
    if args.sheet.is_some() {
        read.sheet = args.sheet.clone();
    }
    if args.header_row.is_some() {
        read.header_row = args.header_row;
    }
    Ok(read)
}
