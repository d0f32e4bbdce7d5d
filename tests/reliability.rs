//! Running again, torn results files, --restart, the lock, throttling, --max-runtime and signals:
//! the real binary against the in-process simulator.

mod common;

#[cfg(unix)]
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

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

fn sns_of(lines: &[Line]) -> BTreeSet<String> {
    lines.iter().map(|l| l["sn"].clone()).collect()
}

/// The serials the simulator was asked about.
fn sent_sns(sim: &SimServer) -> BTreeSet<String> {
    sim.stats().requests_per_sn.into_keys().collect()
}

/// `run` of the world's fleet with `extra` (which is words: `"--rate 500/s"`) and no progress
/// bar; the lines of the results file after it, each checked whole.
async fn run_whole(env: &TestEnv, extra: &str, code: i32) -> (std::process::Output, Vec<Line>) {
    let out = env.run(&flags(&format!("--no-progress {extra}"))).await;
    assert_exit(&out, code);
    (out, assert_whole_lines(&env.results))
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

    // Run 1: a third of the answers are 10001 and one attempt is allowed.
    let env = TestEnv::start(sim_config!(fixture: fixture.clone(), fail_rate: 0.3, seed: 7))
        .await
        .with_fleet(&fleet_text);
    let (_, run1) = run_whole(&env, "--rate 500/s --max-attempts 1", 3).await;
    assert_eq!(run1.len(), 41, "one line per row");
    assert_eq!(latest_by_row(&run1)[&dup_row]["outcome"], "duplicate");
    let done1: BTreeSet<String> = run1
        .iter()
        .filter(|l| l["outcome"] == "registered")
        .map(|l| l["sn"].clone())
        .collect();
    let failed1 = count(&run1, "failed");
    let rejected1 = count(&run1, "rejected");
    let all_three = !done1.is_empty() && failed1 > 0 && rejected1 > 0;
    assert!(all_three, "{run1:?}");
    assert_eq!(done1.len() + failed1 + rejected1 + 1, 41);
    for l in run1.iter().filter(|l| l["outcome"] == "rejected") {
        assert_eq!(l["error_code"], "10004", "{l:?}");
    }
    let added1: BTreeSet<String> = env.sim().stats().adds_per_sn.into_keys().collect();
    assert_eq!(added1, done1);

    // Run 2: a healthy server that knows plant 2 and the devices run 1 linked; 5 new rows.
    fixture.plants.push(sim::FixturePlant {
        plant_id: 2,
        c_user_ids: vec![1],
    });
    fixture.associated = done1.iter().cloned().collect();
    let sim2 = start_sim(with_fixture(fixture)).await;
    let base2 = sim2.base_url();
    let mut grown = fleet_text.clone();
    for i in 40..45 {
        grown.push_str(&format!("1,DEV{i:07},1\n"));
    }
    env.set_fleet(&grown);
    let out = env
        .run_at(&base2, &["--no-progress", "--rate", "500/s"])
        .await;
    assert_exit(&out, 0);
    assert_said(
        &out,
        &[&format!("{} serials are already done", done1.len())],
    );
    let all = assert_whole_lines(&env.results);
    let run2 = &all[run1.len()..];
    let stats2 = sim2.stats();
    let all_sns: BTreeSet<String> = (0..45).map(|i| format!("DEV{i:07}")).collect();
    let expected_sent: BTreeSet<String> = all_sns.difference(&done1).cloned().collect();
    // Nothing done was asked again; everything else was asked exactly once.
    assert_eq!(sent_sns(&sim2), expected_sent);
    assert!(stats2.requests_per_sn.values().all(|n| *n == 1));
    assert!(stats2.adds_per_sn.values().all(|n| *n == 1));
    assert_eq!(stats2.by_code.keys().collect::<Vec<_>>(), ["0"]);
    // Run 2 appended one line per row it sent; the unchanged duplicate is not written again.
    assert_eq!(run2.len(), expected_sent.len());
    let sent_lines: BTreeSet<String> = sns_of(run2);
    assert_eq!(sent_lines, expected_sent);
    // The latest line per row: every row registered, the repeat still a duplicate.
    let latest = latest_by_row(&all);
    assert_eq!(latest.len(), 46, "rows 2..=41, 42 and the new 43..=47");
    for (row, l) in &latest {
        let want = match *row == dup_row {
            true => "duplicate",
            false => "registered",
        };
        assert_eq!(l["outcome"], want, "row {row}: {l:?}");
    }
    for row in 43..=47u64 {
        assert_eq!(latest[&row]["sn"], format!("DEV{:07}", row - 3));
    }
    let s = env.summary();
    assert_eq!(s["skipped_done"], done1.len() as u64);
    assert_eq!(s["exit_code"], 0);

    // Run 3: nothing left; the duplicate (not "done") is counted again but, unchanged, not
    // written again; nothing sent.
    let out = env
        .run_at(&base2, &["--no-progress", "--rate", "500/s"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(sim2.stats(), stats2, "the third run sent nothing");
    let all3 = assert_whole_lines(&env.results);
    assert_eq!(all3.len(), all.len());
    assert_eq!(latest_by_row(&all3)[&dup_row]["outcome"], "duplicate");
    let s = env.summary();
    assert_eq!(s["skipped_done"], 45);
    assert_eq!(s["requests"], 0);
    assert_eq!(s["rows_ended"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_duplicate_rows_are_written_once_while_unchanged_and_never_sent() {
    // Only registered/already_registered are skipped: each run counts every invalid and
    // duplicate row again (an invalid row keeps the exit code at 3 until the input is fixed) and
    // sends none of them, but writes a row's line only when it differs from its latest one.
    let mut text = good_fleet(3);
    let first_sn = text.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    let dup = format!("1,{},1\n", first_sn.to_lowercase());
    text.push_str("1,BAD-SN,1\n");
    text.push_str(&dup);
    let env = TestEnv::start_default().await.with_fleet(&text);
    let mut lines_before = 0;
    for run in 1..=3 {
        let (_, lines) = run_whole(&env, "--rate 500/s", 3).await;
        let new = &lines[lines_before..];
        let expected = if run == 1 { 5 } else { 0 };
        assert_eq!(new.len(), expected, "run {run}: {new:?}");
        let by_row = latest_by_row(&lines);
        assert_line(&by_row[&5], "outcome=invalid error_code=");
        assert_eq!(by_row[&6]["outcome"], "duplicate");
        assert!(by_row[&6]["error_msg"].contains("row 2"));
        assert_eq!(
            env.summary()["outcomes"]["invalid"],
            1,
            "run {run} counts it"
        );
        lines_before = lines.len();
        let stats = env.sim().stats();
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
    let env = TestEnv::start_default().await.with_fleet(good_fleet(10));
    run_whole(&env, "--rate 500/s", 0).await;
    let text = std::fs::read_to_string(&env.results).unwrap();
    let body = text.strip_suffix('\n').unwrap();
    let cut = body.rfind('\n').unwrap() + 1;
    let (kept, last) = body.split_at(cut);
    let torn_row: u64 = last.split(',').next().unwrap().parse().unwrap();
    let torn_sn = last.split(',').nth(2).unwrap().to_string();
    let fragment = &last[..last.len() / 2];
    std::fs::write(&env.results, format!("{kept}{fragment}")).unwrap();

    let (out, lines) = run_whole(&env, "--rate 500/s", 0).await;
    assert_said(&out, &["cut-off line"]);
    let after = std::fs::read_to_string(&env.results).unwrap();
    let as_they_were = after.starts_with(kept);
    assert!(as_they_were, "the whole lines are kept as they were");
    assert_eq!(lines.len(), 10, "nine kept lines and the row sent again");
    let again = lines.last().unwrap();
    assert_eq!(again["row"], torn_row.to_string());
    // The server had linked it on the first run, so the second request says so.
    assert_line(again, "outcome=already_registered error_code=10003");
    let stats = env.sim().stats();
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

// ---------------------------------------------------------------------------------------------
// 3. --restart

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_the_old_file_aside_and_sends_everything_again() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(8));
    run_whole(&env, "--rate 500/s", 0).await;
    let original = std::fs::read(&env.results).unwrap();

    let mut kept: Vec<Vec<u8>> = vec![original.clone()];
    for round in 1..=2u64 {
        let (out, lines) = run_whole(&env, "--rate 500/s --restart", 0).await;
        assert_said(&out, &["--restart: the earlier results set aside as"]);
        // Every earlier version is still on disk, byte for byte, under another name.
        let mut asides: Vec<Vec<u8>> = std::fs::read_dir(env.dir())
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
        assert_eq!(lines.len(), 8);
        for l in &lines {
            assert_line(l, "outcome=already_registered error_code=10003");
        }
        let stats = env.sim().stats();
        assert_eq!(stats.requests_per_sn.len(), 8);
        assert!(stats.requests_per_sn.values().all(|n| *n == round + 1));
        assert!(stats.adds_per_sn.values().all(|n| *n == 1));
        kept.push(std::fs::read(&env.results).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The lock

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_results_is_refused_at_once_and_the_lock_dies_with_its_run() {
    let env = TestEnv::start(slow(ms(200)))
        .await
        .with_fleet(good_fleet(15));
    // One request at a time at 200 ms each: about three seconds.
    let one_at_a_time = flags("--no-progress --rate 100/s --concurrency 1");
    let mut first = env.spawn_run(&one_at_a_time);
    poll_until("the first run's header", || has_header(&env.results)).await;

    let started = Instant::now();
    let out = env.run(&["--no-progress", "--rate", "100/s"]).await;
    let took = started.elapsed();
    assert_exit(&out, 1);
    assert_said(&out, &["f.results.csv.lock"]);
    assert!(took < Duration::from_secs(10), "refused after {took:?}");

    assert_eq!(first.wait().await.code(), Some(0));
    let stats = env.sim().stats();
    assert_eq!(stats.requests, 15, "the refused run sent nothing");
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
    assert_eq!(assert_whole_lines(&env.results).len(), 15);

    // After the first ended, a run is not blocked (and has nothing to do).
    run_whole(&env, "--rate 100/s", 0).await;
    assert_eq!(env.sim().stats().requests, 15);

    // A run killed with SIGKILL does not leave the lock held either.
    let other = env.path("other.csv");
    let mut killed = env.spawn_run(&[&one_at_a_time[..], &["-o", arg(&other)]].concat());
    poll_until("the killed run's header", || has_header(&other)).await;
    killed.kill().await;
    assert!(env.path("other.csv.lock").exists());
    let mut args = flags("--no-progress --rate 500/s --concurrency 8 -o");
    args.push(arg(&other));
    assert_exit(&env.run(&args).await, 0);
    assert_eq!(assert_whole_lines(&other).len(), 15);
}

// ---------------------------------------------------------------------------------------------
// 5. Throttling

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_rows_are_deferred_never_use_up_attempts_and_the_pace_drops() {
    let cfg = sim_config!(throttle_per_sec: Some(5.0));
    let env = TestEnv::big_world(60, cfg).await;
    let extra = "--rate 50/s --throttle-pause 1s --max-attempts 1";
    let (out, lines) = run_whole(&env, extra, 0).await;
    assert_said(&out, &["10012"]);
    assert_eq!(lines.len(), 60, "one line per row");
    for l in &lines {
        assert_eq!(l["outcome"], "registered", "{l:?}");
        assert_eq!(l["attempts"], "1", "10012 is not an attempt: {l:?}");
    }
    let s = env.summary();
    let stats = env.sim().stats();
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
    let once = stats.adds_per_sn.values().all(|n| *n == 1);
    assert!(once, "no serial added twice");
}

// ---------------------------------------------------------------------------------------------
// 6. --max-runtime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_runtime_stops_early_and_the_next_run_finishes_the_rest() {
    let env = TestEnv::big_world(100, SimConfig::default()).await;
    let started = Instant::now();
    let (_, lines) = run_whole(&env, "--rate 5/s --max-runtime 1s", 4).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let about_five = !lines.is_empty() && lines.len() < 30;
    assert!(
        about_five,
        "about 5 rows in a second at 5/s, got {}",
        lines.len()
    );
    assert_eq!(count(&lines, "registered"), lines.len());
    // Rows not reached were not sent and have no line; every row sent has its line.
    assert_eq!(sent_sns(env.sim()), sns_of(&lines));
    let s = env.summary();
    assert_eq!(s["exit_code"], 4);
    let stopped = s["stopped"].as_str().unwrap().contains("--max-runtime");
    assert!(stopped, "{s}");

    let (_, all) = run_whole(&env, "--rate 500/s", 0).await;
    assert_eq!(all.len(), 100, "each row once across both runs");
    let latest = latest_by_row(&all);
    assert_eq!(latest.len(), 100);
    assert!(latest.values().all(|l| l["outcome"] == "registered"));
    let stats = env.sim().stats();
    assert_eq!(stats.adds_per_sn.len(), 100);
    assert!(stats.adds_per_sn.values().all(|n| *n == 1));
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_runtime_striking_while_the_last_rows_are_in_flight_is_not_incomplete() {
    // Every row is sent at once and answered after the limit: all of them end, none is left for
    // a next run, so the run is complete (exit 0), not "incomplete" (4).
    let env = TestEnv::start(slow(Duration::from_secs(4)))
        .await
        .with_fleet(good_fleet(3));
    let (_, lines) = run_whole(&env, "--rate 100/s --max-runtime 2s", 0).await;
    assert_eq!(lines.len(), 3);
    assert_eq!(count(&lines, "registered"), 3);
    let s = env.summary();
    assert!(s["stopped"].is_null(), "{s}");
    let struck = s["wall_seconds"].as_f64().unwrap() >= 3.0;
    assert!(struck, "the limit did strike: {s}");
}

// ---------------------------------------------------------------------------------------------
// 7. A cooldown longer than --max-runtime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooldown_that_would_outlast_max_runtime_leaves_the_rows_for_the_next_run() {
    let cfg = sim_config!(throttle_per_sec: Some(0.0));
    let env = TestEnv::start(cfg).await.with_fleet(good_fleet(10));
    let started = Instant::now();
    let extra = "--rate 50/s --throttle-pause 10m --max-runtime 5s";
    let (_, lines) = run_whole(&env, extra, 4).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let stats = env.sim().stats();
    assert!(stats.requests >= 1);
    assert_eq!(stats.by_code.keys().collect::<Vec<_>>(), ["10012"]);
    // No row ended: nothing is written, all stay for the next run.
    assert!(lines.is_empty());
    let s = env.summary();
    assert_eq!(s["exit_code"], 4);
    assert!(s["throttle_pauses"].as_u64().unwrap() >= 1);
    assert!(s["stopped"].as_str().unwrap().contains("rate limit"), "{s}");
}

// ---------------------------------------------------------------------------------------------
// 8. Ctrl-C, SIGTERM and SIGHUP (Unix signals; Windows console events are exercised by CI's
// Windows run)

#[cfg(unix)]
async fn interrupted_run_keeps_every_ended_row_and_the_next_run_finishes(sig: &str) {
    let env = TestEnv::big_world(60, slow(ms(100))).await;
    // 60 rows at 20/s: about three seconds.
    let mut run = env.spawn_run(&flags("--no-progress --rate 20/s --concurrency 4"));
    poll_until("five rows written", || data_lines(&env.results) >= 5).await;
    run.interrupt(sig).await;
    let lines = assert_whole_lines(&env.results);
    let late = lines.len() >= 60;
    assert!(!late, "{sig} came too late to interrupt anything");
    // In-flight requests finished: every row the server saw has its line, and only those.
    assert_eq!(sent_sns(env.sim()), sns_of(&lines), "{sig}");
    assert!(run.stderr().contains("interrupted"));

    let (_, all) = run_whole(&env, "--rate 500/s", 0).await;
    assert_eq!(all.len(), 60);
    assert_eq!(count(&all, "registered"), 60);
    let stats = env.sim().stats();
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
    let env = TestEnv::start(
        sim_config!(fixture: fixture.clone(), hang_rate: 1.0, hang: Duration::from_secs(60)),
    )
    .await
    .with_fleet(fleet_text.replacen(
        "plant_id,sn,c_user_id\n",
        "plant_id,sn,c_user_id\nx,A1,1\n1,B-2,1\n1,C3,0\n",
        1,
    ));
    let mut run = env.spawn_run(&flags("--no-progress --rate 100/s --concurrency 4"));
    poll_until(
        "four requests in flight and the invalid rows written",
        || env.sim().stats().requests >= 4 && data_lines(&env.results) >= 3,
    )
    .await;
    let first_signal = Instant::now();
    run.signal("-INT");
    poll_until("the stopping message", || run.stderr().contains("stopping")).await;
    let waits = run.try_wait().is_none();
    assert!(waits, "the first Ctrl-C waits for the requests in flight");
    run.signal("-INT");
    let limit = Duration::from_secs(20);
    let status = run.wait_within(limit, "the second Ctrl-C ends the run at once");
    assert_eq!(status.await.code(), Some(130));
    let took = first_signal.elapsed();
    assert!(
        took < limit,
        "took {took:?}: it waited for the hung requests"
    );
    let lines = assert_whole_lines(&env.results);
    assert_eq!(lines.len(), 3);
    assert_eq!(count(&lines, "invalid"), 3);

    // The abandoned requests had reached the server: the next run is told they are linked.
    let hung: Vec<String> = env.sim().stats().adds_per_sn.into_keys().collect();
    assert_eq!(hung.len(), 4, "{hung:?}");
    let mut fixture = fixture;
    fixture.associated = hung.clone();
    let healthy = start_sim(with_fixture(fixture)).await;
    let args = flags("--no-progress --rate 500/s");
    let out = env.run_at(&healthy.base_url(), &args).await;
    assert_exit(&out, 3); // the invalid rows remain
    let all = assert_whole_lines(&env.results);
    let latest: BTreeMap<String, String> = all
        .iter()
        .map(|l| (l["sn"].clone(), l["outcome"].clone()))
        .collect();
    for sn in &hung {
        assert_eq!(latest[sn], "already_registered", "{sn}");
    }
    let done = latest
        .values()
        .filter(|o| *o == "registered" || *o == "already_registered");
    assert_eq!(done.count(), 20);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_throttle_pause_or_a_backoff_exits_at_once() {
    // Nothing is in flight: rows wait out a 10-minute rate-limit pause, or a 10-minute backoff.
    for (what, cfg, extra) in [
        (
            "throttle pause",
            sim_config!(throttle_per_sec: Some(0.0)),
            "--throttle-pause 10m",
        ),
        ("backoff", sim_config!(fail_rate: 1.0), "--backoff 10m"),
    ] {
        let env = TestEnv::start(cfg).await.with_fleet(good_fleet(4));
        let mut run = env.spawn_run(&flags(&format!("--no-progress --rate 100/s {extra}")));
        // The throttle notice on stderr, or every row's first attempt answered 10001.
        poll_until("the run to be waiting", || {
            run.stderr().contains("10012") || env.sim().stats().requests >= 4
        })
        .await;
        let signalled = Instant::now();
        run.signal("-INT");
        let limit = Duration::from_secs(20);
        let late = format!("{what}: Ctrl-C did not end the run");
        let status = run.wait_within(limit, &late).await;
        assert_eq!(status.code(), Some(130), "{what}");
        let took = signalled.elapsed();
        assert!(took < limit, "{what}: took {took:?}");
        let none = assert_whole_lines(&env.results).is_empty();
        assert!(none, "{what}: no row ended");
    }
}
