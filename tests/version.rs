//! `--version`: the version, the commit and the target triple, so a report from the field names
//! the exact build; and what a double-click on Windows runs.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_names_the_commit_and_the_target() {
    let out = run_bin_env(&["--version"], &[]).await;
    assert_exit(&out, 0);
    let line = stdout(&out);
    let rest = line
        .strip_prefix(&format!(
            "growatt-onboard {} (commit ",
            env!("CARGO_PKG_VERSION")
        ))
        .and_then(|r| r.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("not the version line: {line:?}"));
    let (commit, target) = rest.split_once(", ").expect("commit, target");

    // The commit is the checkout's HEAD when there is a git checkout (it is "unknown" in a
    // build from a source archive without git).
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(head) if std::env::var_os("GROWATT_ONBOARD_COMMIT").is_none() => {
            assert_eq!(commit, head, "{line}")
        }
        _ => assert!(!commit.is_empty() && !commit.contains(' '), "{line}"),
    }

    // The triple is the one this test was built for: its architecture and system.
    assert!(
        target.starts_with(std::env::consts::ARCH),
        "{target} is not for {}",
        std::env::consts::ARCH
    );
    let os = match std::env::consts::OS {
        "macos" => "apple-darwin",
        other => other,
    };
    assert!(target.contains(os), "{target} is not for {os}");

    // Every command says the same.
    let out = run_bin_env(&["template", "--version"], &[]).await;
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).replace("growatt-onboard-template", "growatt-onboard"),
        line
    );
}

#[test]
fn a_double_click_runs_the_page() {
    let cli = <growatt_onboard::cli::Cli as clap::Parser>::try_parse_from(
        growatt_onboard::launch::double_click_args(),
    )
    .expect("the double-click's command line parses");
    assert!(
        matches!(cli.command, growatt_onboard::cli::Command::Ui(_)),
        "{cli:?}"
    );
}
