//! Saved settings: a `growatt-onboard.toml` beside the fleet file (or the file `--config PATH`
//! names) holds what a technician would otherwise type on every command: the column mapping,
//! the sheet, the region or base URL, the token file, the pace. Its keys are the long flags'
//! names, plus a `[columns]` table that mirrors `--column`:
//!
//! ```toml
//! rate = "2/s"
//! token-file = "token.txt"          # relative to this file's folder
//! [columns]
//! plant_id = "Plant ID"
//! sn = "Serial No."
//! c_user_id = "Customer ID"
//! ```
//!
//! The file's settings go in front of the command line's own flags, and a flag given on the
//! command line wins (clap's "last one wins").

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{CommandFactory as _, FromArgMatches as _, Parser as _};

use crate::cli::{Cli, Command};

pub mod file;

use file::read;
pub use file::FILE_NAME;

/// The command line with the saved settings of its fleet in front, and the file they came from.
pub fn parse_args(argv: Vec<OsString>) -> Result<(Cli, Option<PathBuf>), clap::Error> {
    let first = Cli::try_parse_from(&argv)?;
    let (explicit, input) = match &first.command {
        Command::Run(a) => (a.input.config.clone(), a.input.input.clone()),
        Command::Check(a) => (a.input.config.clone(), a.input.input.clone()),
        _ => return Ok((first, None)),
    };
    let path = match explicit {
        Some(p) => p,
        None => {
            let beside = input
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join(FILE_NAME);
            if !beside.is_file() {
                return Ok((first, None));
            }
            beside
        }
    };
    let saved = read(&path).map_err(|why| {
        Cli::command().error(
            clap::error::ErrorKind::InvalidValue,
            format!("the settings file {}: {why}", path.display()),
        )
    })?;
    // The subcommand's name first, then the file's flags, then the command line's own.
    let mut with = vec![argv[0].clone()];
    let at = argv
        .iter()
        .position(|a| a == "run" || a == "check")
        .unwrap_or(1);
    with.extend(argv[1..=at].iter().cloned());
    with.extend(saved);
    with.extend(argv[at + 1..].iter().cloned());
    let matches = Cli::command().try_get_matches_from(with)?;
    Ok((Cli::from_arg_matches(&matches)?, Some(path)))
}

/// The column mapping (`--column` values), the sheet and the header's row a settings file holds:
/// what `report` needs to read the fleet as `run` read it.
pub fn read_mapping(path: &Path) -> Result<crate::input::ReadOptions, String> {
    let args = read(path)?;
    let mut columns = Vec::new();
    let mut read = crate::input::ReadOptions::default();
    for pair in args.windows(2) {
        match pair[0].to_str() {
            Some("--column") => columns.push(pair[1].to_string_lossy().into_owned()),
            Some("--sheet") => read.sheet = Some(pair[1].to_string_lossy().into_owned()),
            Some("--header-row") => {
                let n = crate::units::parse_row(&pair[1].to_string_lossy())
                    .map_err(|why| format!("header-row: {why}"))?;
                read.header_row = Some(n);
            }
            _ => {}
        }
    }
    read.map_columns(&columns)?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_a_report_reads_holds_the_header_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "header-row = 4\nsheet = \"Fleet\"\n[columns]\nsn = \"Serial No.\"\n",
        )
        .unwrap();
        let read = read_mapping(&path).unwrap();
        assert_eq!(read.header_row, Some(4));
        assert_eq!(read.sheet.as_deref(), Some("Fleet"));
        assert_eq!(read.columns[1], "Serial No.");
        std::fs::write(&path, "header-row = 0\n").unwrap();
        let e = read_mapping(&path).unwrap_err();
        assert!(e.contains("header-row: '0' is not a row number"), "{e}");
    }
}
