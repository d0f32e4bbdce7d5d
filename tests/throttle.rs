//! The vendor's limits, each model the simulator knows (a cooldown per identical request, a
//! global bucket, a per-endpoint spacing), and the diagnoses that stop a run at its start (-1,
//! 10011 everywhere, an unreachable server, a login page). Each test asserts what the simulator
//! received, serial by serial, and what the results file holds.

mod common;

#[cfg(unix)]
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use growatt_sim::{ServerMode, SnRequest, ThrottleModel};

/// Every serial's requests as (milliseconds since the serial's previous request, code).
fn gaps(history: &[SnRequest]) -> Vec<(u64, Option<i64>)> {
    history
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let gap = i
                .checked_sub(1)
                .map_or(0, |j| r.at_unix_ms - history[j].at_unix_ms);
            (gap, r.code)
        })
        .collect()
}

/// The longest time the server saw no request at all, from the first request to the last
/// row's first request (what is left after that only waits out cooldowns), in milliseconds.
fn longest_silence(stats: &sim::Stats) -> u64 {
    let last_first = stats
        .history_per_sn
        .values()
        .map(|h| h[0].at_unix_ms)
        .max()
        .unwrap_or(0);
    let mut all: Vec<u64> = stats
        .history_per_sn
        .values()
        .flatten()
        .map(|r| r.at_unix_ms)
        .filter(|t| *t <= last_first)
        .collect();
    all.sort_unstable();
    all.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

fn count_code(stats: &sim::Stats, code: &str) -> u64 {
    stats.by_code.get(code).copied().unwrap_or(0)
}

/// Asserts that every serial ended `registered`, each in one line.
fn assert_all_registered(env: &TestEnv, n: usize) -> Vec<Line> {
    let lines = env.lines();
    assert_eq!(lines.len(), n, "one line per row");
    for l in &lines {
        assert_eq!(l["outcome"], "registered", "{l:?}");
    }
    lines
}

/// Asserts that only a row answered 10012 was sent again, and only after `wait_ms`.
fn assert_only_refused_rows_resent_after(stats: &sim::Stats, wait_ms: u64) {
    for (sn, history) in &stats.history_per_sn {
        for (i, (gap, _)) in gaps(history).iter().enumerate().skip(1) {
            assert_eq!(history[i - 1].code, Some(10012), "{sn}");
            assert!(*gap >= wait_ms, "{sn}: resent after {gap} ms");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cooldown model

/// A world of `n` fresh devices with the simulator's cooldown model: `cooldown`, the first
/// answer to a fifth of the rows 10001 (as `seed` picks them).
async fn cooldown_world(n: usize, cooldown: Duration, seed: u64) -> TestEnv {
    let cfg =
        sim_config!(throttle_model: ThrottleModel::Cooldown, cooldown, fail_first_rate: 0.2, seed);
    TestEnv::big_world(n, cfg).await
}

/// Rows answered 10001 once are retried; the first retry meets the cooldown (10012), the run
/// learns the model, and no identical request is sent again within the cooldown. New rows keep
/// flowing meanwhile: no whole-run pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_model_retries_wait_out_the_cooldown_and_new_rows_keep_flowing() {
    let env = cooldown_world(60, Duration::from_secs(3), 5).await;
    let started = Instant::now();
    let out = env
        .run(&flags("--rate 20/s --throttle-pause 3s --no-progress -v"))
        .await;
    let took = started.elapsed();
    assert_exit(&out, 0);
    let lines = assert_all_registered(&env, 60);
    let stats = env.sim().stats();
    let failed_first = count_code(&stats, "10001");
    assert!(
        failed_first >= 3,
        "the seed fails some rows first: {stats:?}"
    );
    // At most the retries sent before the first 10012 came back meet the cooldown.
    let refused = count_code(&stats, "10012");
    assert!(refused <= 3, "{refused} answers 10012: {:?}", stats.by_code);
    assert_said(&out, &["per-request cooldown"]);
    for (sn, history) in &stats.history_per_sn {
        let g = gaps(history);
        let refusals = g.iter().filter(|(_, c)| *c == Some(10012)).count();
        assert!(refusals <= 1, "{sn}: {g:?}");
        for (i, (gap, _)) in g.iter().enumerate().skip(1) {
            // A resend after a 10012 waits the whole cooldown; so does every retry once the
            // model is known (the few before it waited the backoff, about a second).
            if g[i - 1].1 == Some(10012) {
                assert!(*gap >= 3000, "{sn}: resent {gap} ms after a 10012: {g:?}");
            } else {
                assert!(*gap >= 700, "{sn}: retried after {gap} ms: {g:?}");
            }
        }
    }
    // 10012 never burns an attempt: a row failed once and refused once took 2 attempts.
    for l in &lines {
        let h = &stats.history_per_sn[&l["sn"]];
        let counted = h.iter().filter(|r| r.code != Some(10012)).count();
        assert_eq!(l["attempts"], counted.to_string(), "{l:?} {h:?}");
    }
    let s = env.summary();
    assert_eq!(s["throttle_pauses"], 0, "no whole-run pause: {s}");
    assert_eq!(s["requests"], stats.requests);
    assert_eq!(s["retries"], stats.requests - 60, "{s}");
    // 60 rows at 20/s take 3 s, plus the retries' cooldowns; nothing waited for 5 minutes.
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

/// A kill -9 while rows are deferred loses none of them; the run started again at once sends
/// each deferred row as a new request, which costs it at most one more 10012, and the run does
/// not stall.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_rows_are_deferred_loses_none_and_a_restart_costs_one_10012_each() {
    let env = cooldown_world(200, Duration::from_secs(4), 3).await;
    let args = flags("--no-progress --rate 40/s --throttle-pause 4s");
    let mut run = env.spawn_run(&args);
    // Wait until a row is deferred: a retry answered 10012.
    let deferred = || count_code(&env.sim().stats(), "10012") > 0;
    poll_until("a 10012", deferred).await;
    run.kill().await;
    let first = env.sim().stats();
    let ended_first = env.lines();
    // Rows were still waiting at the kill, and plenty are left for the restart to show that
    // it does not stall (the first 10012 comes about a second in, some 40 rows along).
    let ended = ended_first.len();
    assert!(ended < 100, "{ended} rows had ended at the kill");
    // Started again at once.
    let started = Instant::now();
    let out = env.run(&args).await;
    let took = started.elapsed();
    assert_exit(&out, 0);
    let lines = env.lines();
    let by_sn: BTreeMap<_, _> = lines.iter().map(|l| (l["sn"].clone(), l)).collect();
    assert_eq!(by_sn.len(), 200, "every row has a line: none lost");
    assert_eq!(lines.len(), 200, "and only one");
    assert_eq!(count(&lines, "registered"), 200);
    let last = env.sim().stats();
    for (sn, history) in &last.history_per_sn {
        let before = first.history_per_sn.get(sn).map_or(0, Vec::len);
        let refused_after = history[before..]
            .iter()
            .filter(|r| r.code == Some(10012))
            .count();
        assert!(refused_after <= 1, "{sn}: {:?}", gaps(history));
        assert_eq!(last.adds_per_sn.get(sn), Some(&1), "{sn} added once");
    }
    // The rows left went on while the deferred ones met the cooldown again: no stall.
    let second = |r: &&SnRequest| r.at_unix_ms > first.last_request_unix_ms.unwrap();
    let refused_again: Vec<u64> = last
        .history_per_sn
        .values()
        .flatten()
        .filter(second)
        .filter(|r| r.code == Some(10012))
        .map(|r| r.at_unix_ms)
        .collect();
    assert!(!refused_again.is_empty(), "the restart met the cooldown");
    let t = refused_again.iter().min().unwrap();
    let meanwhile = last
        .history_per_sn
        .values()
        .flatten()
        .filter(second)
        .filter(|r| r.code == Some(0) && r.at_unix_ms > t + 1500 && r.at_unix_ms < t + 4000)
        .count();
    assert!(
        meanwhile >= 10,
        "{meanwhile} rows registered during the cooldown"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

// ---------------------------------------------------------------------------------------------
// The bucket model

/// The account allows 10/s, the tool is set to 20/s: the tool slows down, remembers the refused
/// pace, settles below it, and suggests a --rate; refused rows are deferred, never failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_model_the_pace_settles_below_the_refused_one_and_a_rate_is_suggested() {
    let cfg = sim_config!(throttle_per_sec: Some(10.0));
    let env = TestEnv::big_world(150, cfg).await;
    let out = env.run(&flags("--rate 20/s --throttle-pause 2s --no-progress"));
    assert_exit(&out.await, 0);
    let lines = assert_all_registered(&env, 150);
    for l in &lines {
        assert_eq!(l["attempts"], "1", "10012 is not an attempt: {l:?}");
    }
    let stats = env.sim().stats();
    let refused = count_code(&stats, "10012");
    assert!(refused >= 1, "{:?}", stats.by_code);
    let requests = stats.requests;
    let few = refused * 10 <= requests;
    assert!(
        few,
        "10012 on more than 10 % of requests: {refused} of {requests}"
    );
    assert_only_refused_rows_resent_after(&stats, 2000);
    let s = env.summary();
    assert!(s["throttle_pauses"].as_u64().unwrap() >= 1, "{s}");
    let suggested = s["suggested_rate"].as_str().unwrap();
    let per_s: f64 = suggested
        .trim_start_matches("--rate ")
        .trim_end_matches("/s")
        .parse()
        .unwrap();
    assert!(per_s <= 16.0, "{suggested}");
    // Settled near what the bucket allows: past the first seconds, on average at least 70 % of
    // the 10/s it lets through (and at most what it lets through plus its burst of 10).
    let late = &stats.per_second[3..stats.per_second.len().saturating_sub(1)];
    let mean = late.iter().sum::<u64>() as f64 / late.len() as f64;
    assert!(mean >= 7.0, "{mean}/s: {:?}", stats.per_second);
    assert!(late.iter().all(|n| *n <= 20), "{:?}", stats.per_second);
    let achieved = s["achieved_rate_per_second"].as_f64().unwrap();
    assert!(achieved <= s["configured_rate_per_second"].as_f64().unwrap());
}

// ---------------------------------------------------------------------------------------------
// The spacing model

/// The add endpoint takes a call every 200 ms (5/s); the tool is set to 10/s: it slows down,
/// every row ends registered, and every refused row waited the cooldown before its resend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spacing_model_refused_rows_are_deferred_and_the_pace_drops() {
    let cfg =
        sim_config!(throttle_model: ThrottleModel::Spacing, spacing: Duration::from_millis(200));
    let env = TestEnv::big_world(40, cfg).await;
    let out = env.run(&flags("--rate 10/s --throttle-pause 2s --no-progress"));
    assert_exit(&out.await, 0);
    assert_all_registered(&env, 40);
    let stats = env.sim().stats();
    let refused = count_code(&stats, "10012");
    // A short run at twice the allowed pace: a few refusals at each step down, never most.
    let few = refused >= 1 && refused * 2 < stats.requests;
    assert!(few, "{:?}", stats.by_code);
    assert_only_refused_rows_resent_after(&stats, 2000);
    assert!(env.summary()["throttle_pauses"].as_u64().unwrap() >= 1);
    // Refusals cost a short pause, never the 2 s cooldown for the whole run.
    let silence = longest_silence(&stats);
    assert!(silence < 1800, "the run stood still for {silence} ms");
}

// ---------------------------------------------------------------------------------------------
// Retries are due when the backoff says

/// With new rows queued, a retry goes ahead of them once its backoff is over (it used to queue
/// behind up to 256 new rows); the summary counts every retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_go_ahead_of_new_rows_once_due() {
    let cfg = sim_config!(fail_first_rate: 0.3, seed: 9);
    let env = TestEnv::big_world(80, cfg).await;
    assert_exit(&env.run(&["--rate", "10/s", "--no-progress"]).await, 0);
    assert_all_registered(&env, 80);
    let stats = env.sim().stats();
    let mut retried = 0;
    for (sn, history) in &stats.history_per_sn {
        for (gap, _) in gaps(history).iter().skip(1) {
            retried += 1;
            // Backoff 1 s ± 25 %, then the next slot (0.1 s) and a loaded machine's slack; the
            // old queue put it 8 s or more behind.
            let due = (700..=3500).contains(gap);
            assert!(due, "{sn}: retried after {gap} ms: {history:?}");
        }
    }
    assert!(retried >= 10, "the seed fails some rows first");
    let s = env.summary();
    assert_eq!(s["retries"], retried, "{s}");
    assert_eq!(s["requests"], stats.requests);
}

// ---------------------------------------------------------------------------------------------
// Diagnoses

async fn run_mode(mode: ServerMode) -> (std::process::Output, sim::Stats, usize, Duration) {
    let cfg = sim_config!(mode);
    let env = TestEnv::start(cfg).await.with_fleet(good_fleet(20));
    let started = Instant::now();
    let out = env.run(&["--rate", "20/s", "--no-progress"]).await;
    let took = started.elapsed();
    (out, env.sim().stats(), env.lines().len(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minus_one_names_the_new_domain_and_stops() {
    let (out, stats, lines, _) = run_mode(ServerMode::LegacyDomain).await;
    assert_exit(&out, 1);
    assert_said(&out, &["legacy host name", "https://openapi.growatt.com"]);
    let stopped = stats.requests <= 4;
    assert!(stopped, "stopped at the first answers: {stats:?}");
    assert_eq!(lines, 0, "no row ended: all stay for the next run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_eleven_on_every_first_answer_names_the_causes_in_order() {
    let (out, stats, lines, _) = run_mode(ServerMode::WrongRegion).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    let at = |w: &str| err.find(w).unwrap_or_else(|| panic!("{w} missing: {err}"));
    assert!(at("--region") < at("whitelist"), "{err}");
    assert!(at("whitelist") < at("ShinePhone"), "{err}");
    assert!(at("ShinePhone") < at("test token"), "{err}");
    assert!(stats.requests <= 10, "{stats:?}");
    let kept = "no row is written off as rejected: all stay for the next run";
    assert_eq!(lines, 0, "{kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_page_says_the_base_url_is_not_the_openapi() {
    let (out, stats, lines, took) = run_mode(ServerMode::LoginPage).await;
    assert_exit(&out, 1);
    assert_said(&out, &["not the OpenAPI"]);
    assert!(stats.requests <= 10, "{stats:?}");
    assert_eq!(lines, 0);
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// Nothing listens: the run stops within seconds with a plain message, and no row gets a line
/// (they are all sent next run), instead of spending every row's retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_stops_within_seconds_and_writes_no_row() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let env = TestEnv::offline().with_fleet(good_fleet(20));
    let started = Instant::now();
    let out = env.run_at(&base, &["--no-progress"]).await;
    let took = started.elapsed();
    assert_exit(&out, 1);
    let said = format!("cannot reach {base}: check the network, a proxy, or --region");
    assert_said(&out, &[&said]);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(env.lines().len(), 0);
}
