//! The kill test: a 3,000-row fleet, the binary killed with SIGKILL again and again at different
//! points, then run to the end. Nothing may be lost, nothing added twice, and the results file
//! must end whole.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const ROWS: usize = 3000;

/// Where a run is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Right after it was started: while it opens the files, before any request.
    Start,
    /// Once the results file holds this many lines in all (0: as soon as the header is there).
    Lines(usize),
}

const KILL_AT: [KillAt; 14] = [
    KillAt::Start,
    KillAt::Lines(0),
    KillAt::Lines(1),
    KillAt::Lines(50),
    KillAt::Start,
    KillAt::Lines(200),
    KillAt::Lines(450),
    KillAt::Lines(700),
    KillAt::Lines(1100),
    KillAt::Lines(1500),
    KillAt::Lines(2000),
    KillAt::Lines(2500),
    KillAt::Lines(2900),
    KillAt::Lines(2990),
];

/// Bytes of the file, and whether it ends in a cut-off line.
fn scan(path: &Path) -> (usize, bool) {
    match std::fs::read(path) {
        Ok(b) => (
            b.iter().filter(|c| **c == b'\n').count().saturating_sub(1),
            !b.is_empty() && !b.ends_with(b"\n"),
        ),
        Err(_) => (0, false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_point_loses_nothing_and_adds_nothing_twice() {
    let test_started = Instant::now();
    let env = TestEnv::big_world(
        ROWS,
        sim_config!(latency: Duration::from_millis(6), jitter: Duration::from_millis(4), seed: 3),
    )
    .await;
    let results = &env.results;
    let args = flags("--rate 2000/s --concurrency 16 --no-progress -q");

    let mut kills = 0u32;
    let mut ended_before_kill = 0u32;
    let mut torn_tails = 0u32;
    let mut killed_at = Vec::new();
    for point in KILL_AT {
        let mut run = env.spawn_run(&args);
        let limit = Instant::now() + Duration::from_secs(30);
        let target = match point {
            KillAt::Start => None,
            KillAt::Lines(n) => Some(n),
        };
        let exited = loop {
            let Some(target) = target else { break None };
            if let Some(status) = run.try_wait() {
                break Some(status);
            }
            let (lines, _) = scan(results);
            let header = results.exists() && std::fs::metadata(results).unwrap().len() > 0;
            if header && lines >= target {
                break None;
            }
            assert!(Instant::now() < limit, "no progress towards {point:?}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        match exited {
            Some(status) => {
                // The run got to the end before the kill point: nothing to kill.
                assert_eq!(status.code(), Some(0), "{point:?}");
                ended_before_kill += 1;
            }
            None => {
                run.kill().await;
                kills += 1;
                let (lines, torn) = scan(results);
                torn_tails += u32::from(torn);
                killed_at.push(lines);
            }
        }
    }

    // Finally run to the end.
    assert_exit(&env.run(&args).await, 0);

    // The results file: whole lines only, 11 columns each.
    let lines = assert_whole_lines(results);
    let latest = latest_by_row(&lines);
    let stats = env.sim().stats();

    // Every input row has exactly one latest outcome, and it is done.
    let mut lost = 0usize;
    let mut outcome_of: HashMap<String, String> = HashMap::new();
    for i in 0..ROWS {
        let row = i as u64 + 2;
        let sn = format!("DEV{i:07}");
        match latest.get(&row) {
            Some(l) if l["outcome"] == "registered" || l["outcome"] == "already_registered" => {
                assert_eq!(l["sn"], sn, "row {row}");
                outcome_of.insert(sn, l["outcome"].clone());
            }
            other => {
                lost += 1;
                eprintln!("row {row} ({sn}) lost: {other:?}");
            }
        }
    }
    // Once a row's line is written it is done and never sent again, so each row has one line.
    let mut per_row: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &lines {
        *per_row.entry(l["row"].as_str()).or_default() += 1;
    }
    let rows_with_two_lines = per_row.values().filter(|n| **n > 1).count();

    // No serial added twice, every serial added once.
    let duplicate_adds: u64 = stats
        .adds_per_sn
        .values()
        .map(|n| n.saturating_sub(1))
        .sum();
    let never_added = ROWS - stats.adds_per_sn.len();

    // A serial asked more than once only when it was in flight at a kill: the later run was told
    // 10003 and the row ended already_registered. And every already_registered was such a one.
    let mut resent_already = 0usize;
    for (sn, n) in &stats.requests_per_sn {
        let outcome = outcome_of.get(sn).map(String::as_str);
        if *n > 1 {
            assert_eq!(
                outcome,
                Some("already_registered"),
                "{sn} was sent {n} times"
            );
            assert!(
                *n <= u64::from(kills) + 1,
                "{sn} was sent {n} times in {kills} kills"
            );
            resent_already += 1;
        } else {
            assert_eq!(outcome, Some("registered"), "{sn} was sent once");
        }
    }
    for l in lines
        .iter()
        .filter(|l| l["outcome"] == "already_registered")
    {
        assert_eq!(l["error_code"], "10003");
        assert!(stats.requests_per_sn[&l["sn"]] > 1, "{l:?}");
    }
    assert_eq!(stats.requests_per_sn.len(), ROWS);
    assert_eq!(stats.by_code.get("0").copied(), Some(ROWS as u64));

    eprintln!(
        "kill test: {ROWS} rows; {kills} SIGKILL points survived (at {killed_at:?} lines), \
         {ended_before_kill} runs ended before their kill point; rows lost: {lost}; \
         duplicate adds: {duplicate_adds}; never added: {never_added}; \
         rows re-sent after a kill that ended already_registered: {resent_already}; \
         torn tails left by a kill: {torn_tails}; rows with more than one line: \
         {rows_with_two_lines}; requests: {}; {:.1} s",
        stats.requests,
        test_started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "rows lost");
    assert_eq!(duplicate_adds, 0, "duplicate adds");
    assert_eq!(never_added, 0, "serials never added");
    assert_eq!(rows_with_two_lines, 0, "rows with more than one line");
    assert!(kills >= 11, "only {kills} kill points were reached");
    assert!(
        test_started.elapsed() < Duration::from_secs(60),
        "the kill test took {:?}",
        test_started.elapsed()
    );
}
