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

/// A world where a small fleet (`fleet.csv`) was run, verified and reported on both ways.
async fn rehearsal() -> TestEnv {
    let env = TestEnv::start_default().await.named("fleet.csv");
    let env = env.with_fleet(good_fleet(4));
    assert_exit(&env.run(&["--rate", "500/s"]).await, 0);
    let out = env.verify(&[]).await;
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    for (flag, name) in [("--html", "report.html"), ("--xlsx", "report.xlsx")] {
        assert_exit(&env.report(&[flag, arg(&env.path(name))]).await, 0);
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_history_and_verify_aside_with_the_results() {
    let env = rehearsal().await;
    let history = std::fs::read(env.path("fleet.results.history.jsonl")).unwrap();
    let verify = std::fs::read(env.path("fleet.results.verify.csv")).unwrap();
    let out = env.run(&["--rate", "500/s", "--restart"]).await;
    assert_exit(&out, 0);
    for what in ["results", "run history", "verify results", "summary"] {
        assert_said(
            &out,
            &[&format!("--restart: the earlier {what} set aside as")],
        );
    }
    let files = names(env.dir());
    // The history starts over with this run; the old one is kept whole under another name.
    let now = std::fs::read_to_string(env.path("fleet.results.history.jsonl")).unwrap();
    assert_eq!(now.lines().count(), 1, "{files:?}");
    let kept_history = files
        .iter()
        .find(|n| {
            n.starts_with("fleet.results.history.")
                && n.ends_with(".jsonl")
                && *n != "fleet.results.history.jsonl"
        })
        .unwrap_or_else(|| panic!("no history set aside: {files:?}"));
    assert_eq!(std::fs::read(env.path(kept_history)).unwrap(), history);
    // The links checked for the old results do not describe the new ones.
    let gone = !env.path("fleet.results.verify.csv").exists();
    assert!(gone, "{files:?}");
    let kept_verify = files
        .iter()
        .find(|n| n.starts_with("fleet.results.verify.") && *n != "fleet.results.verify.csv")
        .unwrap_or_else(|| panic!("no verify file set aside: {files:?}"));
    assert_eq!(std::fs::read(env.path(kept_verify)).unwrap(), verify);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_the_tool_writes_gets_the_same_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = rehearsal().await;
    let man = env.path("man");
    assert_exit(&run_bin(&["manpage", arg(&man)]).await, 0);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let want = mode(&env.results);
    assert_ne!(want & 0o600, 0, "the owner reads and writes the results");
    let mut written: Vec<PathBuf> = std::fs::read_dir(env.dir())
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
    let env = rehearsal().await;
    assert_exit(&env.run(&["--rate", "500/s", "--restart"]).await, 0);
    let left: Vec<String> = names(env.dir())
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
