//! Which fleet a report joins its results to: the one a run records in its summary (its path and
//! how its columns were read), or the one `report --fleet` names. A report counts the rows of the
//! fleet as it is now, so a row fixed in place, a serial moved to another row and a row removed
//! are counted as the sheet stands, not as every run ever saw it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::{ReadOptions, REQUIRED};
use crate::paths::Paths;

/// How a run read its fleet, as its summary and run history record it (`"fleet"`), so a report
/// can read the same rows again: the file's absolute path, the header of each column and the
/// sheet. Summaries written before this was recorded have only their `input`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The fleet file, absolute.
    pub path: PathBuf,
    /// The header each required column was read from (`plant_id`, `sn`, `c_user_id`).
    pub columns: std::collections::BTreeMap<String, String>,
    /// The sheet of a workbook, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The header's row, when `--header-row` named it (else the header is found again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<u64>,
}

impl FleetRecord {
    /// The record of a run on `input` read with `read`.
    pub fn of(input: &Path, read: &ReadOptions) -> FleetRecord {
        FleetRecord {
            path: std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf()),
            columns: REQUIRED
                .iter()
                .zip(&read.columns)
                .map(|(k, h)| (k.to_string(), h.clone()))
                .collect(),
            sheet: read.sheet.clone(),
            header_row: read.header_row,
        }
    }

    /// The read options it records.
    pub fn read_options(&self) -> ReadOptions {
        let mut read = ReadOptions {
            sheet: self.sheet.clone(),
            header_row: self.header_row,
            ..ReadOptions::default()
        };
        for (i, key) in REQUIRED.iter().enumerate() {
            if let Some(h) = self.columns.get(*key).filter(|h| !h.trim().is_empty()) {
                read.columns[i] = h.clone();
            }
        }
        read
    }
}

/// A fleet to join, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSpec {
    /// The fleet file.
    pub path: PathBuf,
    /// Its column mapping and sheet.
    pub read: ReadOptions,
    /// Named by the person (`--fleet`, `--column`): a fleet that cannot be read is an error,
    /// not a report that cannot tell.
    pub named: bool,
}

/// The fleet the runs of a results file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The fleet file, as found on disk.
    pub path: PathBuf,
    /// How the run read it; `None` when the run predates the record (its `input` alone).
    pub read: Option<ReadOptions>,
}

/// Why no fleet can be joined, in words, and the path tried (for the page's cache, which reads
/// again once it appears).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFleet {
    /// Why, in words.
    pub why: String,
    /// The fleet file looked for, when a run named one.
    pub tried: Option<PathBuf>,
}

/// The fleet the latest run of `results` names, as that run read it: from its summary, else from
/// the last run of the history.
pub fn recorded(results: &Path) -> Result<Recorded, NoFleet> {
    let paths = Paths::of_results(results);
    let named = crate::files::read_regular(&paths.summary, 8 << 20)
        .ok()
        .and_then(|b| named_in(&b))
        .or_else(|| last_in_history(&paths.history));
    let Some((record, input)) = named else {
        return Err(NoFleet {
            why: "no run of these results names its fleet (their summary and run history are missing)"
                .into(),
            tried: None,
        });
    };
    let candidates: Vec<PathBuf> = match &record {
        Some(r) => vec![r.path.clone()],
        None => where_input_may_be(results, &input),
    };
    if let Some(other) = candidates
        .iter()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_file()))
    {
        return Err(NoFleet {
            why: format!(
                "the fleet its runs read, {}, is not a file on disk (a pipe, a device or a folder), so it cannot be read again",
                other.display()
            ),
            tried: None,
        });
    }
    let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
        let shown = candidates.first().cloned().unwrap_or(input);
        return Err(NoFleet {
            why: format!(
                "the fleet file its runs read, {}, is not there any more",
                shown.display()
            ),
            tried: Some(shown),
        });
    };
    Ok(Recorded {
        path,
        read: record.map(|r| r.read_options()),
    })
}

/// The fleet to join when the person names none: the recorded one, read as its run read it (the
/// default columns when the run did not record them).
pub fn recorded_spec(results: &Path) -> Result<FleetSpec, NoFleet> {
    let r = recorded(results)?;
    Ok(FleetSpec {
        path: r.path,
        read: r.read.unwrap_or_default(),
        named: false,
    })
}

/// The fleet a summary (or a history line) names: its record when it has one, and its `input`.
fn named_in(json: &[u8]) -> Option<(Option<FleetRecord>, PathBuf)> {
    #[derive(Deserialize)]
    struct Named {
        input: PathBuf,
        #[serde(default)]
        fleet: Option<FleetRecord>,
    }
    let n: Named = serde_json::from_slice(json).ok()?;
    Some((n.fleet, n.input))
}

/// The fleet the last run of the history names (its last 1 MiB is read).
fn last_in_history(history: &Path) -> Option<(Option<FleetRecord>, PathBuf)> {
    use std::io::{Read as _, Seek as _};
    let mut file = crate::files::open_regular(history).ok()?;
    let len = file.metadata().map_or(0, |m| m.len());
    let mut tail = Vec::new();
    file.seek(std::io::SeekFrom::Start(len.saturating_sub(1 << 20)))
        .and_then(|_| file.take(1 << 20).read_to_end(&mut tail))
        .ok()?;
    tail.split(|&b| b == b'\n').rev().find_map(named_in)
}

/// Where an `input` written by an older run may be: as written (from the folder the run started
/// in, which may be this one), beside the results file, and under its own name there.
fn where_input_may_be(results: &Path, input: &Path) -> Vec<PathBuf> {
    let folder = results
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out = vec![input.to_path_buf()];
    if input.is_relative() {
        out.push(folder.join(input));
    }
    if let Some(name) = input.file_name() {
        out.push(folder.join(name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_gives_back_the_mapping_it_was_made_from() {
        let mut read = ReadOptions::default();
        read.map_columns(&["sn=Serial No.".into()]).unwrap();
        read.sheet = Some("Fleet".into());
        read.header_row = Some(4);
        let r = FleetRecord::of(Path::new("f.xlsx"), &read);
        assert!(r.path.is_absolute());
        let json = serde_json::to_string(&r).unwrap();
        let back: FleetRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.read_options(), read);
    }

    #[test]
    fn an_older_summary_names_its_fleet_by_input_alone() {
        let (dir, results) = crate::testing::path_in("f.results.csv");
        std::fs::write(dir.path().join("f.csv"), "plant_id,sn,c_user_id\n").unwrap();
        std::fs::write(
            dir.path().join("f.results.summary.json"),
            r#"{"input":"elsewhere/f.csv","results":"f.results.csv","started_at":"x"}"#,
        )
        .unwrap();
        let r = recorded(&results).unwrap();
        assert_eq!(r.path, dir.path().join("f.csv"));
        assert_eq!(r.read, None);
        std::fs::remove_file(dir.path().join("f.csv")).unwrap();
        let no = recorded(&results).unwrap_err();
        assert!(no.why.contains("is not there any more"), "{}", no.why);
    }
}
