//! The files the tool writes: what `--restart` sets aside, one permission policy, and a
//! `.gitignore` that covers every file a rehearsal in the repository leaves behind.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A run, a verify and both reports on a small fleet in `dir`; returns the results path.
async fn rehearse(sim: &SimServer, dir: &Path) -> PathBuf {
    let fleet = write(dir, "fleet.csv", good_fleet(4));
    let base = sim.base_url();
    let out = run_against(sim, &fleet, &["--rate", "500/s"]).await;
    assert_exit(&out, 0);
    let results = dir.join("fleet.results.csv");
    let out = run_bin(&["verify", results.to_str().unwrap(), "--base-url", &base]).await;
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    for (flag, name) in [("--html", "report.html"), ("--xlsx", "report.xlsx")] {
        let out = run_bin(&[
            "report",
            results.to_str().unwrap(),
            flag,
            dir.join(name).to_str().unwrap(),
        ])
        .await;
        assert_exit(&out, 0);
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_history_and_verify_aside_with_the_results() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    rehearse(&sim, dir.path()).await;
    let history = std::fs::read(dir.path().join("fleet.results.history.jsonl")).unwrap();
    let verify = std::fs::read(dir.path().join("fleet.results.verify.csv")).unwrap();
    let fleet = dir.path().join("fleet.csv");
    let out = run_against(&sim, &fleet, &["--rate", "500/s", "--restart"]).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    for what in ["results", "run history", "verify results", "summary"] {
        assert!(
            err.contains(&format!("--restart: the earlier {what} set aside as")),
            "{err}"
        );
    }
    let files = names(dir.path());
    // The history starts over with this run; the old one is kept whole under another name.
    let now = std::fs::read_to_string(dir.path().join("fleet.results.history.jsonl")).unwrap();
    assert_eq!(now.lines().count(), 1, "{files:?}");
    let kept_history = files
        .iter()
        .find(|n| {
            n.starts_with("fleet.results.history.")
                && n.ends_with(".jsonl")
                && *n != "fleet.results.history.jsonl"
        })
        .unwrap_or_else(|| panic!("no history set aside: {files:?}"));
    assert_eq!(
        std::fs::read(dir.path().join(kept_history)).unwrap(),
        history
    );
    // The links checked for the old results do not describe the new ones.
    assert!(
        !dir.path().join("fleet.results.verify.csv").exists(),
        "{files:?}"
    );
    let kept_verify = files
        .iter()
        .find(|n| n.starts_with("fleet.results.verify.") && *n != "fleet.results.verify.csv")
        .unwrap_or_else(|| panic!("no verify file set aside: {files:?}"));
    assert_eq!(std::fs::read(dir.path().join(kept_verify)).unwrap(), verify);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_the_tool_writes_gets_the_same_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let results = rehearse(&sim, dir.path()).await;
    let man = dir.path().join("man");
    let out = run_bin(&["manpage", man.to_str().unwrap()]).await;
    assert_exit(&out, 0);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let want = mode(&results);
    assert_ne!(want & 0o600, 0, "the owner reads and writes the results");
    let mut written: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().unwrap() != "fleet.csv")
        .collect();
    written.push(man.join("growatt-onboard.1"));
    assert!(written.len() >= 8, "{written:?}");
    for p in &written {
        assert_eq!(
            mode(p),
            want,
            "{} has {:o}, the results {want:o}",
            p.display(),
            mode(p)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitignore_covers_every_file_a_rehearsal_leaves() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    rehearse(&sim, dir.path()).await;
    let fleet = dir.path().join("fleet.csv");
    let out = run_against(&sim, &fleet, &["--rate", "500/s", "--restart"]).await;
    assert_exit(&out, 0);
    let left: Vec<String> = names(dir.path())
        .into_iter()
        .filter(|n| n != "fleet.csv")
        .map(|n| format!("samples/{n}"))
        .collect();
    assert!(left.len() >= 10, "{left:?}");
    // As if the rehearsal ran on samples/fleet.csv in the repository.
    let out = std::process::Command::new("git")
        .args(["check-ignore", "--no-index", "--verbose", "--non-matching"])
        .args(&left)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let not_ignored: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert!(
        not_ignored.is_empty(),
        "not covered by .gitignore: {not_ignored:?}"
    );
    assert_eq!(text.lines().count(), left.len(), "{text}");
    // The fleet itself is not ignored.
    let out = std::process::Command::new("git")
        .args(["check-ignore", "--no-index", "-q", "samples/fleet.csv"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(1), "samples/fleet.csv must not be ignored");
}
