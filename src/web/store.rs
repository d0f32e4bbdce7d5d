//! The page's fleets on disk: one folder each, holding a copy of the uploaded file, its settings
//! (`fleet.json`), and the results, summary, history and verify files beside the copy, exactly
//! where `growatt-onboard run <that copy>` would put them, so the command line works on them too.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::input::{ReadOptions, REQUIRED};
use crate::paths::Paths;

/// The settings file in each fleet's folder.
const META: &str = "fleet.json";

/// How a fleet's file is read, as chosen on the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Meta {
    /// The uploaded file's name, as the person knows it.
    pub name: String,
    /// The copy's name in the folder.
    pub file: String,
    /// The sheet of a workbook.
    pub sheet: Option<String>,
    /// The headers of plant_id, sn and c_user_id.
    pub columns: [String; 3],
    /// When it was uploaded (RFC 3339).
    pub created: String,
}

/// A fleet's folder and settings.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The folder's name.
    pub id: String,
    /// The folder.
    pub dir: PathBuf,
    /// Its settings.
    pub meta: Meta,
}

impl Fleet {
    /// The copy of the uploaded file.
    pub fn input(&self) -> PathBuf {
        self.dir.join(&self.meta.file)
    }

    /// The results file and its sidecars, as `run` names them.
    pub fn paths(&self) -> Paths {
        Paths::of_input(&self.input(), None)
    }

    /// How the file is read.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            columns: self.meta.columns.clone(),
            sheet: self.meta.sheet.clone(),
            ..ReadOptions::default()
        }
    }
}

/// An id names a folder of ours: lower-case letters, digits and dashes, nothing else.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The fleet `id` in `dir`, when it is one.
pub fn open(dir: &Path, id: &str) -> Option<Fleet> {
    if !valid_id(id) {
        return None;
    }
    let folder = dir.join(id);
    let text = std::fs::read(folder.join(META)).ok()?;
    if text.len() > 64 * 1024 {
        return None;
    }
    let meta: Meta = serde_json::from_slice(&text).ok()?;
    if meta.file.contains(['/', '\\']) || meta.file.starts_with('.') {
        return None;
    }
    Some(Fleet {
        id: id.to_string(),
        dir: folder,
        meta,
    })
}

/// Every fleet in `dir`, newest first.
pub fn list(dir: &Path) -> Vec<Fleet> {
    let mut fleets: Vec<Fleet> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| open(dir, &e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    fleets.sort_by(|a, b| b.meta.created.cmp(&a.meta.created).then(b.id.cmp(&a.id)));
    fleets
}

/// A name safe to keep as the copy's file name: letters, digits, `.`, `-`, `_` and spaces of
/// the uploaded name, with its extension when it is one the reader takes; `fleet.csv` otherwise.
pub fn file_name(uploaded: &str) -> String {
    let base = uploaded.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._- ".contains(*c))
        .take(80)
        .collect();
    let kept = kept.trim().trim_start_matches('.').to_string();
    let ext = kept
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let known = ["csv", "txt", "tsv", "xlsx", "xlsm", "xlsb", "xls", "ods"];
    if kept.is_empty() || !known.contains(&ext.as_str()) || kept.contains(".results.") {
        return format!(
            "fleet.{}",
            if known.contains(&ext.as_str()) {
                &ext
            } else {
                "csv"
            }
        );
    }
    kept
}

/// A new fleet's folder in `dir` with the uploaded `bytes` and its settings.
pub fn create(
    dir: &Path,
    uploaded_name: &str,
    bytes: &[u8],
    read: &ReadOptions,
) -> std::io::Result<Fleet> {
    let now = chrono::Utc::now();
    let id = format!(
        "{}-{}",
        now.format("%Y%m%d-%H%M%S"),
        &super::guard::new_key()[..6]
    );
    let folder = dir.join(&id);
    std::fs::create_dir_all(&folder)?;
    let meta = Meta {
        name: uploaded_name.chars().take(200).collect(),
        file: file_name(uploaded_name),
        sheet: read.sheet.clone(),
        columns: read.columns.clone(),
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let written = crate::files::write_whole(&folder.join(&meta.file), bytes).and_then(|()| {
        let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
        crate::files::write_whole(&folder.join(META), &json)
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&folder);
        return Err(e);
    }
    Ok(Fleet {
        id,
        dir: folder,
        meta,
    })
}

/// Removes a fleet whose file could not be used.
pub fn discard(fleet: Fleet) {
    let _ = std::fs::remove_dir_all(&fleet.dir);
}

/// The page's column choices as `run`'s read options.
pub fn read_options(sheet: Option<String>, columns: &[String]) -> Result<ReadOptions, String> {
    let mut options = ReadOptions {
        columns: REQUIRED.map(String::from),
        sheet: sheet.filter(|s| !s.trim().is_empty()),
        ..ReadOptions::default()
    };
    options
        .map_columns(columns)
        .map_err(|e| e.replace("--column", "column"))?;
    // Headers match without regard to case, so `Serial` and `serial` are one column.
    let c = &options.columns;
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        if c[i].trim().eq_ignore_ascii_case(c[j].trim()) {
            return Err(format!(
                "the column '{}' is chosen for both {} and {}; each needs a column of its own",
                crate::text::quote(c[i].trim()),
                REQUIRED[i],
                REQUIRED[j]
            ));
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_stay_inside_the_fleets_folder() {
        assert_eq!(file_name("../../etc/passwd"), "fleet.csv");
        assert_eq!(file_name("C:\\Users\\x\\My Fleet.XLSX"), "My Fleet.XLSX");
        assert_eq!(file_name(".hidden.csv"), "hidden.csv");
        assert_eq!(file_name("a.results.csv"), "fleet.csv");
        assert_eq!(file_name("report.pdf"), "fleet.csv");
        assert!(valid_id("20261204-101010-abc123"));
        for bad in ["..", "a/b", "", "A", "x y"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_fleet_is_listed_after_it_is_created_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let read = read_options(Some("Fleet".into()), &["sn=Serial".into()]).unwrap();
        let fleet = create(dir.path(), "f.csv", b"plant_id,Serial,c_user_id\n", &read).unwrap();
        let again = open(dir.path(), &fleet.id).unwrap();
        assert_eq!(again.meta, fleet.meta);
        assert_eq!(again.read_options().columns[1], "Serial");
        assert_eq!(list(dir.path()).len(), 1);
        assert!(read_options(None, &["serial=x".into()]).is_err());
        let twice = read_options(None, &["plant_id=Serial".into(), "sn=serial ".into()]);
        assert_eq!(
            twice.unwrap_err(),
            "the column 'Serial' is chosen for both plant_id and sn; each needs a column of its own"
        );
    }
}
