//! `report`: the text summary, the HTML page, and the page as headless Chromium renders it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Runs the demo into `dir` and returns the results path.
async fn demo_results(dir: &Path) -> PathBuf {
    let out = run_bin_env(
        &["demo", "--dir", dir.to_str().unwrap(), "--rate", "300/s"],
        &[],
    )
    .await;
    assert_exit(&out, 0);
    dir.join("fleet.results.csv")
}

fn count(lines: &[std::collections::HashMap<String, String>], outcome: &str) -> usize {
    lines.iter().filter(|l| l["outcome"] == outcome).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_report_counts_match_the_results_and_give_advice() {
    let dir = tempfile::tempdir().unwrap();
    let results = demo_results(dir.path()).await;
    let lines = read_results(&results);
    let out = run_bin_env(&["report", results.to_str().unwrap()], &[]).await;
    assert_exit(&out, 3);
    let text = stdout(&out);
    for outcome in [
        "registered",
        "already_registered",
        "rejected",
        "invalid",
        "duplicate",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{outcome} ")))
            .unwrap_or_else(|| panic!("no {outcome} line in {text}"));
        let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(n, count(&lines, outcome), "{outcome}");
    }
    assert!(text.contains("check the plant id in ShineServer"), "{text}");
    assert!(text.contains("Run history:"), "{text}");
    assert!(text.contains("Links (from verify)"), "{text}");
}

/// Headless Chromium, as Debian installs it. This test is ignored by a plain `cargo test`;
/// `.ci/run` installs Chromium and runs it with `--ignored`, and there a missing browser fails it.
fn chromium() -> PathBuf {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|c| c.exists())
    .expect("this test needs Chromium (Debian: apt-get install chromium)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium; .ci/run installs it and runs the ignored tests"]
async fn html_report_renders_the_counts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let results = demo_results(dir.path()).await;
    let lines = read_results(&results);
    let html = dir.path().join("report.html");
    let out = run_bin_env(
        &[
            "report",
            results.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_exit(&out, 3);
    let page = std::fs::read_to_string(&html).unwrap();
    for external in ["src=", "href=", "url(", "@import", "<script"] {
        assert!(!page.contains(external), "self-contained: found {external}");
    }

    let browser = chromium();
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    for outcome in [
        "registered",
        "already_registered",
        "rejected",
        "invalid",
        "duplicate",
    ] {
        let needle = format!("id=\"count-{outcome}\"");
        let at = dom
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} not rendered"));
        let shown: String = dom[at..]
            .split('>')
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(shown, count(&lines, outcome).to_string(), "{outcome}");
    }
    assert!(dom.contains("<svg id=\"outcomes-chart\""));
    assert!(dom.contains("check the end-user id"));
}
