//! A small compressed answer that decodes to gigabytes (`tests/bombs/`): the cap holds for the
//! decoded body, so `account pull` and `run` end with a bounded, clear failure, quickly and with
//! no memory growth.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::replay::{Replay, Reply};
use common::{assert_exit, read_results, write, DEFAULT_TOKEN};

/// Longest a run may take before the test calls it hung.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Peak memory allowed to a run that met the bomb: the binary's own footprint is about 10-20 MiB;
/// decoding the bomb whole would need 4 GiB.
const PEAK_LIMIT_KIB: u64 = 100 * 1024;

/// 3,233 bytes of Brotli that decode to 4 GiB of spaces.
fn bomb() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bombs/spaces-4gib.br")).unwrap()
}

/// The bomb as the live server would send a compressed answer.
fn bomb_reply() -> Reply {
    let mut r = Reply::live(bomb());
    r.headers.push(("Content-Encoding".into(), "br".into()));
    r
}

/// Runs the binary with `args`, returning its output, time and peak memory (VmHWM, KiB).
async fn measured(args: &[&str]) -> (Output, Duration, Option<u64>) {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.args(args)
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let poller = tokio::spawn(async move {
        let mut peak = None;
        // The file goes away once the process has ended and been waited for.
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        peak
    });
    let out = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("the binary ended by itself")
        .unwrap();
    let elapsed = started.elapsed();
    (out, elapsed, poller.await.unwrap())
}

fn check_peak(what: &str, peak: Option<u64>) {
    match peak {
        Some(kib) => {
            eprintln!("{what}: peak RSS {kib} KiB");
            assert!(kib < PEAK_LIMIT_KIB, "{what}: peak RSS {kib} KiB");
        }
        None => eprintln!("note: {what} ended before its memory could be sampled"),
    }
}

#[test]
fn the_bomb_is_one() {
    let bomb = bomb();
    assert!(bomb.len() < 4096);
    let mut head = Vec::new();
    brotli::Decompressor::new(&bomb[..], 4096)
        .take(64 << 20)
        .read_to_end(&mut head)
        .unwrap();
    assert_eq!(head.len(), 64 << 20, "decodes past 64 MiB");
    assert!(head.iter().all(|b| *b == b' '));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pull_ends_on_a_brotli_bomb_bounded_and_in_words() {
    let srv = Replay::start(|_, _| bomb_reply()).await;
    let dir = tempfile::tempdir().unwrap();
    let base = srv.base_url();
    let args = [
        "account",
        "pull",
        "--cache",
        dir.path().to_str().unwrap(),
        "--base-url",
        &base,
        "--no-progress",
    ];
    let (out, elapsed, peak) = measured(&args).await;
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("v1/plant/list page 1 failed (HTTP 200: a compressed body that decodes to over 4 MiB, not the API's JSON envelope); pull again later"),
        "{err}"
    );
    eprintln!("account pull on the bomb: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    check_peak("account pull on the bomb", peak);
    assert_eq!(srv.count("/v1/plant/list"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_ends_a_row_answered_by_a_bomb_as_failed_bounded_and_in_words() {
    let srv = Replay::start(|_, _| bomb_reply()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(
        dir.path(),
        "f.csv",
        "plant_id,sn,c_user_id\n1,BOMB000001,1\n1,BOMB000002,1\n",
    );
    let base = srv.base_url();
    let args = [
        "run",
        fleet.to_str().unwrap(),
        "--base-url",
        &base,
        "--rate",
        "1000/s",
        "--backoff",
        "1ms",
        "--max-attempts",
        "3",
        "--no-progress",
    ];
    let (out, elapsed, peak) = measured(&args).await;
    assert_exit(&out, 3);
    for l in read_results(&dir.path().join("f.results.csv")) {
        assert_eq!(l["outcome"], "failed", "{l:?}");
        assert_eq!(l["attempts"], "3");
        assert!(
            l["error_msg"].contains("a compressed body that decodes to over 64 KiB"),
            "{l:?}"
        );
    }
    eprintln!("run on the bomb (6 answers): {elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    check_peak("run on the bomb", peak);
    assert_eq!(srv.count("/v1/device/sn/add"), 6);
}
