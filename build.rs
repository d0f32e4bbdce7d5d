//! Build facts for `--version`: the commit and the target triple.
//!
//! The commit comes from `GROWATT_ONBOARD_COMMIT` when set (a packager building from a release
//! tarball knows it), else from `git rev-parse --short HEAD`, else it is `unknown`: a build from
//! a tarball without git, or without a `.git` folder, must still succeed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GROWATT_ONBOARD_COMMIT");
    let commit = match std::env::var("GROWATT_ONBOARD_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => git_commit().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=GROWATT_ONBOARD_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=GROWATT_ONBOARD_TARGET={target}");
}

/// The short hash of HEAD, when this is a git checkout and git is installed. Asks Cargo to run
/// this again when HEAD moves (a commit, a checkout), and only then.
fn git_commit() -> Option<String> {
    let out = git(&["rev-parse", "--short", "HEAD"])?;
    // HEAD names the branch; the branch's ref file (or packed-refs) holds the commit.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            rerun_if_exists(PathBuf::from(p));
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
            rerun_if_exists(PathBuf::from(p));
        }
    }
    Some(out)
}

/// Watches `path` when it exists (a path that never exists would make Cargo rerun every time).
fn rerun_if_exists(path: PathBuf) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// One git command's trimmed output, or `None` when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
