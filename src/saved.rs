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

/// The name looked for beside the fleet file.
pub const FILE_NAME: &str = "growatt-onboard.toml";

/// Most bytes a settings file may hold.
const MAX_BYTES: u64 = 64 * 1024;

/// The keys a settings file may hold (the long flags' names), besides `[columns]`.
const KEYS: [&str; 14] = [
    "sheet",
    "region",
    "base-url",
    "token-file",
    "rate",
    "concurrency",
    "timeout",
    "max-attempts",
    "retry-codes",
    "backoff",
    "throttle-pause",
    "cache",
    "out",
    "strict-serials",
];

/// The keys that are switches (`true` gives the flag, `false` leaves it out).
const SWITCH_KEYS: [&str; 1] = ["strict-serials"];

/// The keys of a file that a path value is resolved against its folder.
const PATH_KEYS: [&str; 3] = ["token-file", "cache", "out"];

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

/// The column mapping (`--column` values) and the sheet a settings file holds: what `report`
/// needs to read the fleet as `run` read it.
pub fn read_mapping(path: &Path) -> Result<crate::input::ReadOptions, String> {
    let args = read(path)?;
    let mut columns = Vec::new();
    let mut read = crate::input::ReadOptions::default();
    for pair in args.windows(2) {
        match pair[0].to_str() {
            Some("--column") => columns.push(pair[1].to_string_lossy().into_owned()),
            Some("--sheet") => read.sheet = Some(pair[1].to_string_lossy().into_owned()),
            _ => {}
        }
    }
    read.map_columns(&columns)?;
    Ok(read)
}

/// The flags a settings file stands for.
fn read(path: &Path) -> Result<Vec<OsString>, String> {
    use std::io::Read as _;
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(|e| crate::text::io_reason(&e))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err("it is not a regular file".into());
    }
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| "it is not text (UTF-8)".to_string())?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!("it is larger than {} KiB", MAX_BYTES / 1024));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    to_args(&text, dir)
}

/// The flags of a settings file's text; paths relative to `dir`.
fn to_args(text: &str, dir: &Path) -> Result<Vec<OsString>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
    let mut args = Vec::new();
    for (key, value) in &table {
        if key == "columns" {
            let Some(columns) = value.as_table() else {
                return Err("[columns] must be a table such as: sn = \"Serial No.\"".into());
            };
            for (column, header) in columns {
                let Some(header) = header.as_str() else {
                    return Err(format!(
                        "[columns] {column} must be a header name in quotes"
                    ));
                };
                args.push(OsString::from("--column"));
                args.push(OsString::from(format!("{column}={header}")));
            }
            continue;
        }
        if !KEYS.contains(&key.as_str()) {
            return Err(format!(
                "'{}' is not a setting it can hold; the settings are {} and a [columns] table",
                crate::text::quote(key),
                KEYS.join(", ")
            ));
        }
        if SWITCH_KEYS.contains(&key.as_str()) {
            match value {
                toml::Value::Boolean(true) => args.push(OsString::from(format!("--{key}"))),
                toml::Value::Boolean(false) => {}
                _ => return Err(format!("{key} must be true or false")),
            }
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            _ => return Err(format!("{key} must be text or a number")),
        };
        args.push(OsString::from(format!("--{key}")));
        if PATH_KEYS.contains(&key.as_str()) && Path::new(&text).is_relative() {
            args.push(dir.join(text).into_os_string());
        } else {
            args.push(OsString::from(text));
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_stands_for_the_flags_it_names() {
        let args = to_args(
            "rate = \"2/s\"\nconcurrency = 3\ntoken-file = \"t.txt\"\n[columns]\nsn = \"Serial No.\"\n",
            Path::new("/fleets"),
        )
        .unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for pair in [
            ["--rate", "2/s"],
            ["--concurrency", "3"],
            ["--column", "sn=Serial No."],
        ] {
            assert!(args.windows(2).any(|w| w == pair), "{args:?}");
        }
        assert!(args.windows(2).any(|w| w[0] == "--token-file"
            && w[1].ends_with("t.txt")
            && w[1].starts_with("/fleets")));
        let strict = to_args("strict-serials = true", Path::new(".")).unwrap();
        assert_eq!(strict, [OsString::from("--strict-serials")]);
        assert!(to_args("strict-serials = false", Path::new("."))
            .unwrap()
            .is_empty());
        assert!(to_args("strict-serials = \"yes\"", Path::new("."))
            .unwrap_err()
            .contains("true or false"));
        let e = to_args("colums = 1", Path::new(".")).unwrap_err();
        assert!(e.contains("'colums' is not a setting"), "{e}");
        assert!(to_args("rate = [", Path::new("."))
            .unwrap_err()
            .contains("not valid TOML"));
    }
}
