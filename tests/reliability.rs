//! Running again, torn results files, --restart, the lock, throttling, --max-runtime and signals:
//! the real binary against the in-process simulator.

mod common;

#[cfg(unix)]
use std::collections::BTreeMap;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::AsyncReadExt;
use tokio::process::Child;

/// How long a poll waits for its condition before the test fails.
const POLL_LIMIT: Duration = Duration::from_secs(30);

/// Starts the binary with `args` and the simulator's token; stderr is collected into the returned
/// buffer as it arrives, so a test can wait for a message. The child dies with the test.
fn spawn_bin(args: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env("GROWATT_TOKEN", DEFAULT_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let err = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = err.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, err)
}

/// Polls `cond` every few milliseconds until it holds; fails the test after [`POLL_LIMIT`].
async fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < POLL_LIMIT,
            "gave up waiting for {what} after {POLL_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whole lines in the file after the header (0 when it does not exist yet).
#[cfg(unix)]
fn data_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count().saturating_sub(1))
        .unwrap_or(0)
}

/// True once the file holds at least its header line.
fn has_header(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.contains(&b'\n'))
}

/// Sends a signal with the system's `kill` command (no libc or nix needed).
#[cfg(unix)]
fn send_signal(child: &Child, sig: &str) {
    let pid = child.id().expect("the child is still running").to_string();
    let status = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid}");
}

/// Every line of the results file is whole: the file ends with a newline, and each record
/// parses with exactly the 11 columns of the header. Returns the data lines.
fn assert_whole_lines(path: &Path) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.ends_with(b"\n"),
        "{} ends in a cut-off line: {:?}",
        path.display(),
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(200)..])
    );
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(&bytes[..]);
    for rec in r.records() {
        let rec = rec.expect("every results line parses");
        assert_eq!(rec.len(), 11, "{rec:?}");
        assert!(
            humantime::parse_rfc3339(&rec[10]).is_ok(),
            "finished_at of {rec:?}"
        );
    }
    read_results(path)
}

/// The summary JSON beside `results`.
fn summary(results: &Path) -> serde_json::Value {
    let path = growatt_onboard::paths::Paths::of_results(results).summary;
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sns_of(lines: &[HashMap<String, String>]) -> BTreeSet<String> {
    lines.iter().map(|l| l["sn"].clone()).collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The common flags: base URL, no progress bar.
fn run_args<'a>(fleet: &'a Path, base: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", path_str(fleet), "--base-url", base, "--no-progress"];
    v.extend_from_slice(extra);
    v
}

// ---------------------------------------------------------------------------------------------
// 1. Running again

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_again_sends_only_what_is_not_done_and_picks_up_new_rows() {
    // 45 devices exist; the fleet starts with 40 of them, the last 8 on plant 2, which the first
    // server does not know (10004, rejected), plus a repeat of row 4's serial in other case.
    let (mut fixture, _) = big_world(45);
    let mut fleet_text = String::from("plant_id,sn,c_user_id\n");
    for i in 0..40 {
        let plant = if i >= 32 { 2 } else { 1 };
        fleet_text.push_str(&format!("{plant},DEV{i:07},1\n"));
    }
    fleet_text.push_str("1,dev0000002,1\n"); // row 42: duplicate of row 4
    let dup_row = 42u64;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");

    // Run 1: a third of the answers are 10001 and one attempt is allowed.
    let sim1 = start_sim(SimConfig {
        fixture: fixture.clone(),
        fail_rate: 0.3,
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let base1 = sim1.base_url();
    let out = run_bin(&run_args(
        &fleet,
        &base1,
        &["--rate", "500/s", "--max-attempts", "1"],
    ))
    .await;
    assert_exit(&out, 3);
    let run1 = assert_whole_lines(&results);
    assert_eq!(run1.len(), 41, "one line per row");
    let latest1 = latest_by_row(&run1);
    assert_eq!(latest1[&dup_row]["outcome"], "duplicate");
    let done1: BTreeSet<String> = run1
        .iter()
        .filter(|l| l["outcome"] == "registered")
        .map(|l| l["sn"].clone())
        .collect();
    let failed1 = run1.iter().filter(|l| l["outcome"] == "failed").count();
    let rejected1 = run1.iter().filter(|l| l["outcome"] == "rejected").count();
    assert!(
        !done1.is_empty() && failed1 > 0 && rejected1 > 0,
        "{run1:?}"
    );
    assert_eq!(done1.len() + failed1 + rejected1 + 1, 41);
    for l in run1.iter().filter(|l| l["outcome"] == "rejected") {
        assert_eq!(l["error_code"], "10004", "{l:?}");
    }
    let stats1 = sim1.stats();
    assert_eq!(
        stats1.adds_per_sn.keys().cloned().collect::<BTreeSet<_>>(),
        done1
    );

    // Run 2: a healthy server that knows plant 2 and the devices run 1 linked; 5 new rows.
    fixture.plants.push(sim::FixturePlant {
        plant_id: 2,
        c_user_ids: vec![1],
    });
    fixture.associated = done1.iter().cloned().collect();
    let sim2 = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let base2 = sim2.base_url();
    let mut grown = fleet_text.clone();
    for i in 40..45 {
        grown.push_str(&format!("1,DEV{i:07},1\n"));
    }
    std::fs::write(&fleet, &grown).unwrap();
    let out = run_bin(&run_args(&fleet, &base2, &["--rate", "500/s"])).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!("{} serials are already done", done1.len())),
        "{}",
        stderr(&out)
    );
    let all = assert_whole_lines(&results);
    let run2 = &all[run1.len()..];
    let stats2 = sim2.stats();
    let all_sns: BTreeSet<String> = (0..45).map(|i| format!("DEV{i:07}")).collect();
    let expected_sent: BTreeSet<String> = all_sns.difference(&done1).cloned().collect();
    // Nothing done was asked again; everything else was asked exactly once.
    assert_eq!(
        stats2
            .requests_per_sn
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        expected_sent
    );
    assert!(stats2.requests_per_sn.values().all(|n| *n == 1));
    assert!(stats2.adds_per_sn.values().all(|n| *n == 1));
    assert_eq!(stats2.by_code.keys().collect::<Vec<_>>(), ["0"]);
    // Run 2 appended one line per row it sent, plus the duplicate again.
    assert_eq!(run2.len(), expected_sent.len() + 1);
    let mut sent_lines: BTreeSet<String> = sns_of(run2);
    assert!(sent_lines.remove("dev0000002"));
    assert_eq!(sent_lines, expected_sent);
    // The latest line per row: every row registered, the repeat still a duplicate.
    let latest = latest_by_row(&all);
    assert_eq!(latest.len(), 46, "rows 2..=41, 42 and the new 43..=47");
    for (row, l) in &latest {
        let want = if *row == dup_row {
            "duplicate"
        } else {
            "registered"
        };
        assert_eq!(l["outcome"], want, "row {row}: {l:?}");
    }
    for row in 43..=47u64 {
        assert_eq!(latest[&row]["sn"], format!("DEV{:07}", row - 3));
    }
    let s = summary(&results);
    assert_eq!(s["skipped_done"], done1.len() as u64);
    assert_eq!(s["exit_code"], 0);

    // Run 3: nothing left; only the duplicate is written again (it is not "done"), nothing sent.
    let out = run_bin(&run_args(&fleet, &base2, &["--rate", "500/s"])).await;
    assert_exit(&out, 0);
    assert_eq!(sim2.stats(), stats2, "the third run sent nothing");
    let all3 = assert_whole_lines(&results);
    assert_eq!(all3.len(), all.len() + 1);
    let last = &all3[all.len()];
    assert_eq!(last["row"], dup_row.to_string());
    assert_eq!(last["outcome"], "duplicate");
    let s = summary(&results);
    assert_eq!(s["skipped_done"], 45);
    assert_eq!(s["requests"], 0);
    assert_eq!(s["rows_ended"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_duplicate_rows_are_written_again_on_every_run_and_never_sent() {
    // Observed (and what the contract implies: only registered/already_registered are skipped):
    // each run appends a fresh line for every invalid and duplicate row, sends none of them, and
    // an invalid row keeps the exit code at 3 until the input is fixed.
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = good_fleet(3);
    let first_sn = text.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let dup = format!("1,{},1\n", first_sn.to_lowercase());
    text.push_str("1,BAD-SN,1\n");
    text.push_str(&dup);
    let fleet = write(dir.path(), "f.csv", &text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let mut lines_before = 0;
    for run in 1..=3 {
        let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
        assert_exit(&out, 3);
        let lines = assert_whole_lines(&results);
        let new = &lines[lines_before..];
        let expected = if run == 1 { 5 } else { 2 };
        assert_eq!(new.len(), expected, "run {run}: {new:?}");
        let by_row = latest_by_row(new);
        assert_eq!(by_row[&5]["outcome"], "invalid");
        assert_eq!(by_row[&5]["error_code"], "");
        assert_eq!(by_row[&6]["outcome"], "duplicate");
        assert!(by_row[&6]["error_msg"].contains("row 2"));
        lines_before = lines.len();
        let stats = sim.stats();
        assert_eq!(stats.requests, 3, "only the three good rows, once, ever");
        assert!(!stats.requests_per_sn.contains_key("BAD-SN"));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. A torn results file

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_line_is_cut_and_its_row_sent_again() {
    // Half a line: what a power loss leaves. (A last line that lacks only its line break is
    // whole, and kept: see hostile_env.rs.)
    {
        let sim = start_sim(SimConfig::default()).await;
        let dir = tempfile::tempdir().unwrap();
        let fleet = write(dir.path(), "f.csv", good_fleet(10));
        let results = dir.path().join("f.results.csv");
        let base = sim.base_url();
        let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
        assert_exit(&out, 0);
        let text = std::fs::read_to_string(&results).unwrap();
        let body = text.strip_suffix('\n').unwrap();
        let cut = body.rfind('\n').unwrap() + 1;
        let (kept, last) = body.split_at(cut);
        let torn_row: u64 = last.split(',').next().unwrap().parse().unwrap();
        let torn_sn = last.split(',').nth(2).unwrap().to_string();
        let fragment = &last[..last.len() / 2];
        std::fs::write(&results, format!("{kept}{fragment}")).unwrap();

        let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
        assert_exit(&out, 0);
        assert!(stderr(&out).contains("cut-off line"), "{}", stderr(&out));
        let lines = assert_whole_lines(&results);
        let after = std::fs::read_to_string(&results).unwrap();
        assert!(
            after.starts_with(kept),
            "the whole lines are kept as they were"
        );
        assert_eq!(lines.len(), 10, "nine kept lines and the row sent again");
        let again = lines.last().unwrap();
        assert_eq!(again["row"], torn_row.to_string());
        // The server had linked it on the first run, so the second request says so.
        assert_eq!(again["outcome"], "already_registered");
        assert_eq!(again["error_code"], "10003");
        let stats = sim.stats();
        for (sn, n) in &stats.requests_per_sn {
            let want = if *sn == torn_sn { 2 } else { 1 };
            assert_eq!(*n, want, "{sn}");
        }
        assert!(stats.adds_per_sn.values().all(|n| *n == 1));
        let latest = latest_by_row(&lines);
        assert_eq!(latest.len(), 10);
        assert!(latest
            .values()
            .all(|l| l["outcome"] == "registered" || l["outcome"] == "already_registered"));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. --restart

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_the_old_file_aside_and_sends_everything_again() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(8));
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
    assert_exit(&out, 0);
    let original = std::fs::read(&results).unwrap();

    let mut kept: Vec<Vec<u8>> = vec![original.clone()];
    for round in 1..=2u64 {
        let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s", "--restart"])).await;
        assert_exit(&out, 0);
        assert!(
            stderr(&out).contains("--restart: the earlier results set aside as"),
            "{}",
            stderr(&out)
        );
        // Every earlier version is still on disk, byte for byte, under another name.
        let mut asides: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("f.results.") && name.ends_with(".csv") && name != "f.results.csv"
            })
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert_eq!(asides.len() as u64, round, "one file set aside per restart");
        asides.sort();
        let mut want = kept.clone();
        want.sort();
        assert_eq!(asides, want);
        // The new file starts over: every row sent again, the server says they are linked.
        let lines = assert_whole_lines(&results);
        assert_eq!(lines.len(), 8);
        for l in &lines {
            assert_eq!(l["outcome"], "already_registered", "{l:?}");
            assert_eq!(l["error_code"], "10003");
        }
        let stats = sim.stats();
        assert_eq!(stats.requests_per_sn.len(), 8);
        assert!(stats.requests_per_sn.values().all(|n| *n == round + 1));
        assert!(stats.adds_per_sn.values().all(|n| *n == 1));
        kept.push(std::fs::read(&results).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The lock

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_results_is_refused_at_once_and_the_lock_dies_with_its_run() {
    let sim = start_sim(SimConfig {
        latency: Duration::from_millis(200),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(15));
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    // One request at a time at 200 ms each: about three seconds.
    let first_args = run_args(&fleet, &base, &["--rate", "100/s", "--concurrency", "1"]);
    let (mut first, _) = spawn_bin(&first_args);
    poll_until("the first run's header", || has_header(&results)).await;

    let started = Instant::now();
    let out = run_bin(&run_args(&fleet, &base, &["--rate", "100/s"])).await;
    let took = started.elapsed();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("f.results.csv.lock"), "{err}");
    assert!(took < Duration::from_secs(10), "refused after {took:?}");

    let status = first.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
    let stats = sim.stats();
    assert_eq!(stats.requests, 15, "the refused run sent nothing");
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
    assert_eq!(assert_whole_lines(&results).len(), 15);

    // After the first ended, a run is not blocked (and has nothing to do).
    let out = run_bin(&run_args(&fleet, &base, &["--rate", "100/s"])).await;
    assert_exit(&out, 0);
    assert_eq!(sim.stats().requests, 15);

    // A run killed with SIGKILL does not leave the lock held either.
    let other = dir.path().join("other.csv");
    let other_str = path_str(&other).to_string();
    let mut args = run_args(&fleet, &base, &["--rate", "100/s", "--concurrency", "1"]);
    args.extend(["-o", &other_str]);
    let (mut killed, _) = spawn_bin(&args);
    poll_until("the killed run's header", || has_header(&other)).await;
    killed.kill().await.unwrap();
    assert!(dir.path().join("other.csv.lock").exists());
    let out = run_bin(&run_args(
        &fleet,
        &base,
        &["--rate", "500/s", "--concurrency", "8", "-o", &other_str],
    ))
    .await;
    assert_exit(&out, 0);
    assert_eq!(assert_whole_lines(&other).len(), 15);
}

// ---------------------------------------------------------------------------------------------
// 5. Throttling

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_rows_are_deferred_never_use_up_attempts_and_the_pace_drops() {
    let (fixture, fleet_text) = big_world(60);
    let sim = start_sim(SimConfig {
        fixture,
        throttle_per_sec: Some(5.0),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let out = run_bin(&run_args(
        &fleet,
        &base,
        &[
            "--rate",
            "50/s",
            "--throttle-pause",
            "1s",
            "--max-attempts",
            "1",
        ],
    ))
    .await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("10012"), "{}", stderr(&out));
    let lines = assert_whole_lines(&results);
    assert_eq!(lines.len(), 60, "one line per row");
    for l in &lines {
        assert_eq!(l["outcome"], "registered", "{l:?}");
        assert_eq!(l["attempts"], "1", "10012 is not an attempt: {l:?}");
    }
    let s = summary(&results);
    let stats = sim.stats();
    assert!(s["throttle_pauses"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["throttled_answers"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["throttled_answers"], stats.by_code["10012"]);
    // Each refused row alone waited the cooldown (1 s) before it was sent again; the run did not
    // pause for it.
    for (sn, h) in &stats.history_per_sn {
        for w in h.windows(2) {
            assert_eq!(w[0].code, Some(10012), "{sn}: {h:?}");
            assert!(w[1].at_unix_ms - w[0].at_unix_ms >= 1000, "{sn}: {h:?}");
        }
    }
    assert_eq!(s["requests"], stats.requests);
    assert_eq!(stats.by_code["0"], 60);
    assert_eq!(stats.adds_per_sn.len(), 60);
    assert!(
        stats.adds_per_sn.values().all(|n| *n == 1),
        "no serial added twice"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. --max-runtime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_runtime_stops_early_and_the_next_run_finishes_the_rest() {
    let (fixture, fleet_text) = big_world(100);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let started = Instant::now();
    let out = run_bin(&run_args(
        &fleet,
        &base,
        &["--rate", "5/s", "--max-runtime", "1s"],
    ))
    .await;
    let took = started.elapsed();
    assert_exit(&out, 4);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let lines = assert_whole_lines(&results);
    assert!(
        !lines.is_empty() && lines.len() < 30,
        "about 5 rows in a second at 5/s, got {}",
        lines.len()
    );
    assert!(lines.iter().all(|l| l["outcome"] == "registered"));
    // Rows not reached were not sent and have no line; every row sent has its line.
    let stats = sim.stats();
    assert_eq!(
        stats
            .requests_per_sn
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        sns_of(&lines)
    );
    let s = summary(&results);
    assert_eq!(s["exit_code"], 4);
    assert!(
        s["stopped"].as_str().unwrap().contains("--max-runtime"),
        "{s}"
    );

    let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
    assert_exit(&out, 0);
    let all = assert_whole_lines(&results);
    assert_eq!(all.len(), 100, "each row once across both runs");
    let latest = latest_by_row(&all);
    assert_eq!(latest.len(), 100);
    assert!(latest.values().all(|l| l["outcome"] == "registered"));
    let stats = sim.stats();
    assert_eq!(stats.adds_per_sn.len(), 100);
    assert!(stats.adds_per_sn.values().all(|n| *n == 1));
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_runtime_striking_while_the_last_rows_are_in_flight_is_not_incomplete() {
    // Every row is sent at once and answered after the limit: all of them end, none is left for
    // a next run, so the run is complete (exit 0), not "incomplete" (4).
    let sim = start_sim(SimConfig {
        latency: Duration::from_secs(4),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(3));
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let out = run_bin(&run_args(
        &fleet,
        &base,
        &["--rate", "100/s", "--max-runtime", "2s"],
    ))
    .await;
    assert_exit(&out, 0);
    let lines = assert_whole_lines(&results);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["outcome"] == "registered"));
    let s = summary(&results);
    assert!(s["stopped"].is_null(), "{s}");
    assert!(
        s["wall_seconds"].as_f64().unwrap() >= 3.0,
        "the limit did strike: {s}"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. A cooldown longer than --max-runtime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_that_would_outlast_max_runtime_leaves_the_rows_for_the_next_run() {
    let sim = start_sim(SimConfig {
        throttle_per_sec: Some(0.0),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", good_fleet(10));
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let started = Instant::now();
    let out = run_bin(&run_args(
        &fleet,
        &base,
        &[
            "--rate",
            "50/s",
            "--throttle-pause",
            "10m",
            "--max-runtime",
            "5s",
        ],
    ))
    .await;
    let took = started.elapsed();
    assert_exit(&out, 4);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let stats = sim.stats();
    assert!(stats.requests >= 1);
    assert_eq!(stats.by_code.keys().collect::<Vec<_>>(), ["10012"]);
    // No row ended: nothing is written, all stay for the next run.
    assert!(assert_whole_lines(&results).is_empty());
    let s = summary(&results);
    assert_eq!(s["exit_code"], 4);
    assert!(s["throttle_pauses"].as_u64().unwrap() >= 1);
    assert!(s["stopped"].as_str().unwrap().contains("rate limit"), "{s}");
}

// ---------------------------------------------------------------------------------------------
// 8. Ctrl-C, SIGTERM and SIGHUP (Unix signals; Windows console events are exercised by CI's
// Windows run)

#[cfg(unix)]
async fn interrupted_run_keeps_every_ended_row_and_the_next_run_finishes(sig: &str) {
    let (fixture, fleet_text) = big_world(60);
    let sim = start_sim(SimConfig {
        fixture,
        latency: Duration::from_millis(100),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "f.csv", &fleet_text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    // 60 rows at 20/s: about three seconds.
    let (mut child, err) = spawn_bin(&run_args(
        &fleet,
        &base,
        &["--rate", "20/s", "--concurrency", "4"],
    ));
    poll_until("five rows written", || data_lines(&results) >= 5).await;
    send_signal(&child, sig);
    let status = child.wait().await.unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "{sig}: {}",
        err.lock().unwrap().as_str()
    );
    let lines = assert_whole_lines(&results);
    assert!(
        lines.len() < 60,
        "{sig} came too late to interrupt anything"
    );
    // In-flight requests finished: every row the server saw has its line, and only those.
    let stats = sim.stats();
    assert_eq!(
        stats
            .requests_per_sn
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        sns_of(&lines),
        "{sig}"
    );
    assert!(err.lock().unwrap().contains("interrupted"));

    let out = run_bin(&run_args(&fleet, &base, &["--rate", "500/s"])).await;
    assert_exit(&out, 0);
    let all = assert_whole_lines(&results);
    assert_eq!(all.len(), 60);
    assert!(all.iter().all(|l| l["outcome"] == "registered"));
    let stats = sim.stats();
    assert_eq!(stats.requests_per_sn.len(), 60);
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
    assert!(stats.adds_per_sn.values().all(|n| *n == 1));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_exits_130_and_the_next_run_finishes() {
    interrupted_run_keeps_every_ended_row_and_the_next_run_finishes("-INT").await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_130_and_the_next_run_finishes() {
    interrupted_run_keeps_every_ended_row_and_the_next_run_finishes("-TERM").await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_exits_130_and_the_next_run_finishes() {
    interrupted_run_keeps_every_ended_row_and_the_next_run_finishes("-HUP").await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_quits_at_once() {
    // Every request hangs for a minute (the client's limit is 30 s), so after the first Ctrl-C the
    // run would wait; three invalid rows give the file lines that ended without a request.
    let (fixture, fleet_text) = big_world(20);
    let sim = start_sim(SimConfig {
        fixture: fixture.clone(),
        hang_rate: 1.0,
        hang: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let text = fleet_text.replacen(
        "plant_id,sn,c_user_id\n",
        "plant_id,sn,c_user_id\nx,A1,1\n1,B-2,1\n1,C3,0\n",
        1,
    );
    let fleet = write(dir.path(), "f.csv", &text);
    let results = dir.path().join("f.results.csv");
    let base = sim.base_url();
    let (mut child, err) = spawn_bin(&run_args(
        &fleet,
        &base,
        &["--rate", "100/s", "--concurrency", "4"],
    ));
    poll_until(
        "four requests in flight and the invalid rows written",
        || sim.stats().requests >= 4 && data_lines(&results) >= 3,
    )
    .await;
    let first_signal = Instant::now();
    send_signal(&child, "-INT");
    poll_until("the stopping message", || {
        err.lock().unwrap().contains("stopping")
    })
    .await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first Ctrl-C waits for the requests in flight"
    );
    send_signal(&child, "-INT");
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the second Ctrl-C ends the run at once")
        .unwrap();
    assert_eq!(status.code(), Some(130));
    let took = first_signal.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: it waited for the hung requests"
    );
    let lines = assert_whole_lines(&results);
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["outcome"] == "invalid"));

    // The abandoned requests had reached the server: the next run is told they are linked.
    let hung: Vec<String> = sim.stats().adds_per_sn.keys().cloned().collect();
    assert_eq!(hung.len(), 4, "{hung:?}");
    let mut fixture = fixture;
    fixture.associated = hung.clone();
    let healthy = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let out = run_bin(&run_args(&fleet, &healthy.base_url(), &["--rate", "500/s"])).await;
    assert_exit(&out, 3); // the invalid rows remain
    let all = assert_whole_lines(&results);
    let latest: BTreeMap<String, String> = all
        .iter()
        .map(|l| (l["sn"].clone(), l["outcome"].clone()))
        .collect();
    for sn in &hung {
        assert_eq!(latest[sn], "already_registered", "{sn}");
    }
    assert_eq!(
        latest
            .values()
            .filter(|o| *o == "registered" || *o == "already_registered")
            .count(),
        20
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_throttle_pause_or_a_backoff_exits_at_once() {
    // Nothing is in flight: rows wait out a 10-minute rate-limit pause, or a 10-minute backoff.
    for (what, cfg, extra) in [
        (
            "throttle pause",
            SimConfig {
                throttle_per_sec: Some(0.0),
                ..SimConfig::default()
            },
            ["--throttle-pause", "10m"],
        ),
        (
            "backoff",
            SimConfig {
                fail_rate: 1.0,
                ..SimConfig::default()
            },
            ["--backoff", "10m"],
        ),
    ] {
        let sim = start_sim(cfg).await;
        let dir = tempfile::tempdir().unwrap();
        let fleet = write(dir.path(), "f.csv", good_fleet(4));
        let results = dir.path().join("f.results.csv");
        let base = sim.base_url();
        let mut args = run_args(&fleet, &base, &["--rate", "100/s"]);
        args.extend(extra);
        let (mut child, err) = spawn_bin(&args);
        // The throttle notice on stderr, or every row's first attempt answered 10001.
        poll_until("the run to be waiting", || {
            err.lock().unwrap().contains("10012") || sim.stats().requests >= 4
        })
        .await;
        let signalled = Instant::now();
        send_signal(&child, "-INT");
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{what}: Ctrl-C did not end the run"))
            .unwrap();
        assert_eq!(status.code(), Some(130), "{what}");
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "{what}: took {:?}",
            signalled.elapsed()
        );
        assert!(
            assert_whole_lines(&results).is_empty(),
            "{what}: no row ended"
        );
    }
}
