//! Every file the tool keeps beside a results file, named in one place.

use std::path::{Path, PathBuf};

/// The results file and its sidecars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The results file: one line per row that ended.
    pub results: PathBuf,
    /// `<results stem>.summary.json`: the last run's summary.
    pub summary: PathBuf,
    /// `<results stem>.history.jsonl`: one summary per run, appended.
    pub history: PathBuf,
    /// `<results stem>.verify.csv`: what `verify` found, appended.
    pub verify: PathBuf,
    /// `<results>.lock`: held by the run or verify using the results file.
    pub lock: PathBuf,
}

impl Paths {
    /// The sidecars of `results`.
    pub fn of_results(results: &Path) -> Paths {
        Paths {
            results: results.to_path_buf(),
            summary: beside(results, "summary.json"),
            history: beside(results, "history.jsonl"),
            verify: beside(results, "verify.csv"),
            lock: {
                let mut name = results.as_os_str().to_os_string();
                name.push(".lock");
                PathBuf::from(name)
            },
        }
    }

    /// The files of a run on `input`: `-o` when given, else INPUT with `.results.csv` in place
    /// of its extension.
    pub fn of_input(input: &Path, out: Option<&Path>) -> Paths {
        match out {
            Some(out) => Paths::of_results(out),
            None => Paths::of_results(&default_results_path(input)),
        }
    }
}

/// The default results path: INPUT with `.results.csv` in place of its extension.
pub fn default_results_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet".into());
    input.with_file_name(format!("{stem}.results.csv"))
}

/// `<results stem>.<suffix>` beside the results file.
fn beside(results: &Path, suffix: &str) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    results.with_file_name(format!("{stem}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars() {
        assert_eq!(
            default_results_path(Path::new("/x/fleet.csv")),
            PathBuf::from("/x/fleet.results.csv")
        );
        assert_eq!(
            default_results_path(Path::new("fleet")),
            PathBuf::from("fleet.results.csv")
        );
        let p = Paths::of_input(Path::new("/x/fleet.csv"), None);
        assert_eq!(p.results, PathBuf::from("/x/fleet.results.csv"));
        assert_eq!(p.summary, PathBuf::from("/x/fleet.results.summary.json"));
        assert_eq!(p.history, PathBuf::from("/x/fleet.results.history.jsonl"));
        assert_eq!(p.verify, PathBuf::from("/x/fleet.results.verify.csv"));
        assert_eq!(p.lock, PathBuf::from("/x/fleet.results.csv.lock"));
        let p = Paths::of_input(Path::new("/x/fleet.csv"), Some(Path::new("r.csv")));
        assert_eq!(p.summary, PathBuf::from("r.summary.json"));
    }
}
