//! A report is never written over the tool's own files: the results file (the journal every
//! later run reads back), its verify file, run history, summary and lock, and the fleet file its
//! runs read. Each is recognised through any path or link (the same file on disk, or the same
//! place once links are resolved), and an existing file is recognised by its first line too
//! (another results file, a verify file, a run's summary).

use std::path::{Path, PathBuf};

use crate::paths::Paths;

/// Refuses `target` when writing a report there would replace one of the tool's own files of
/// `results` (or any results or verify file by its content); the words name that file.
pub fn check_target(results: &Path, target: &Path) -> Result<(), String> {
    for (own, what) in own_files(results) {
        if same_place(&own, target) {
            return Err(format!(
                "it is {what} ({}); a report never replaces it: choose another file name",
                own.display()
            ));
        }
    }
    if let Some(what) = own_by_content(target) {
        return Err(format!(
            "it holds {what}; a report never replaces it: choose another file name"
        ));
    }
    Ok(())
}

/// Whether two paths name one file, or one place once links are resolved (so a file not
/// written yet, such as a verify file before `verify` runs, counts too).
fn same_place(a: &Path, b: &Path) -> bool {
    crate::files::same_file(a, b)
        || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

/// `path` with links resolved: the file itself, or its folder's real path and its name.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
}

/// The tool's files of `results`, with what each is: its sidecars beside the path given and
/// beside its real path (a link's sidecars are those of the file it names), and the fleet files
/// its summary and history name.
fn own_files(results: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut own = Vec::new();
    let mut bases = vec![results.to_path_buf()];
    bases.extend(std::fs::canonicalize(results).ok());
    for base in &bases {
        let p = Paths::of_results(base);
        own.push((
            p.results,
            "the results file itself, the journal every later run reads back",
        ));
        own.push((p.verify, "the verify file of these results"));
        own.push((p.history, "the run history of these results"));
        own.push((p.summary, "the summary of these results"));
        own.push((p.lock, "the lock file of these results"));
    }
    for base in &bases {
        for input in recorded_inputs(base) {
            own.push((input, "the fleet file these results were made from"));
        }
    }
    own
}

/// Where the fleet file of `results`'s runs may be: each input the summary and the history name,
/// as written (from the folder a run started in, which may be this one) and beside the results
/// file (where a default results file is written).
fn recorded_inputs(results: &Path) -> Vec<PathBuf> {
    let paths = Paths::of_results(results);
    let mut named: Vec<PathBuf> = Vec::new();
    if let Ok(bytes) = crate::files::read_regular(&paths.summary, 1 << 20) {
        named.extend(input_of(&bytes));
    }
    if let Ok(file) = crate::files::open_regular(&paths.history) {
        use std::io::{Read as _, Seek as _};
        let mut file = file;
        let len = file.metadata().map_or(0, |m| m.len());
        let mut tail = Vec::new();
        let _ = file
            .seek(std::io::SeekFrom::Start(len.saturating_sub(1 << 20)))
            .and_then(|_| file.take(1 << 20).read_to_end(&mut tail));
        named.extend(tail.split(|&b| b == b'\n').filter_map(input_of));
    }
    let folder = results
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for input in named {
        if let Some(name) = input.file_name() {
            out.push(folder.join(name));
        }
        if input.is_relative() {
            out.push(folder.join(&input));
        }
        out.push(input);
    }
    out.sort();
    out.dedup();
    out
}

/// The `input` a run's summary names.
fn input_of(json: &[u8]) -> Option<PathBuf> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    Some(PathBuf::from(v.get("input")?.as_str()?))
}

/// What an existing file is, by its first line, when it is one of the tool's own kinds.
fn own_by_content(target: &Path) -> Option<&'static str> {
    use std::io::Read as _;
    let file = crate::files::open_regular(target).ok()?;
    let mut head = Vec::new();
    file.take(4096).read_to_end(&mut head).ok()?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    let first = head.split(|&b| b == b'\n').next()?;
    let first = String::from_utf8_lossy(first);
    let first = first.trim_end_matches('\r');
    if first == crate::journal::COLUMNS.join(",") {
        return Some("a growatt-onboard results file");
    }
    let verify = &crate::journal::VERIFY_COLUMNS[..crate::journal::VERIFY_COLUMNS_BEFORE_LOCATE];
    if first.starts_with(&verify.join(",")) {
        return Some("a growatt-onboard verify file");
    }
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(first) {
        if o.contains_key("started_at") && o.contains_key("results") {
            return Some("a growatt-onboard run summary or run history");
        }
    }
    // A header row whose cells include the three columns (a report page mentions them too, but
    // never as cells of its first line).
    let cells: Vec<String> = first
        .split([',', ';', '\t'])
        .map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase())
        .collect();
    if ["plant_id", "sn", "c_user_id"]
        .iter()
        .all(|c| cells.iter().any(|cell| cell == c))
    {
        return Some("a fleet (its first line names plant_id, sn and c_user_id)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_files_are_refused_by_any_name() {
        let header = crate::journal::COLUMNS.join(",") + "\n";
        let (dir, results) = crate::testing::file_with("r.csv", &header);
        std::fs::write(dir.path().join("fleet.csv"), "plant_id,sn,c_user_id\n").unwrap();
        std::fs::write(
            dir.path().join("r.summary.json"),
            r#"{"input":"fleet.csv","results":"r.csv","started_at":"x"}"#,
        )
        .unwrap();
        for name in [
            "r.csv",
            "r.verify.csv",
            "r.history.jsonl",
            "r.csv.lock",
            "fleet.csv",
        ] {
            let said = check_target(&results, &dir.path().join(name)).unwrap_err();
            assert!(said.contains(name), "{name}: {said}");
        }
        std::fs::write(dir.path().join("other.csv"), &header).unwrap();
        let said = check_target(&results, &dir.path().join("other.csv")).unwrap_err();
        assert!(said.contains("results file"), "{said}");
        assert!(check_target(&results, &dir.path().join("r.html")).is_ok());
    }
}
