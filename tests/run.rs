//! The binary against the simulator: outcomes, what was sent, pacing, retries, exit codes.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;

/// What the sample fleet's rows should end as, worked out from the fixture independently of the
/// tool's own code: (row → outcome, error_code).
fn oracle(fleet: &str, fixture: &sim::Fixture) -> HashMap<u64, (&'static str, Option<i64>)> {
    let mut out = HashMap::new();
    let mut seen = HashSet::new();
    let mut rdr = csv::Reader::from_reader(fleet.as_bytes());
    let id = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .filter(|n| *n > 0)
    };
    let mut associated: HashSet<String> = fixture
        .associated
        .iter()
        .map(|s| s.to_uppercase())
        .collect();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        let row = i as u64 + 2;
        let sn = rec[1].trim().to_string();
        let (Some(plant), Some(user)) = (id(&rec[0]), id(&rec[2])) else {
            out.insert(row, ("invalid", None));
            continue;
        };
        if sn.is_empty() || !sn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.insert(row, ("invalid", None));
            continue;
        }
        if !seen.insert(sn.to_uppercase()) {
            out.insert(row, ("duplicate", None));
            continue;
        }
        let code = match fixture.plants.iter().find(|p| p.plant_id == plant) {
            None => 10004,
            Some(p) => {
                if !fixture
                    .devices
                    .iter()
                    .any(|d| d.sn.eq_ignore_ascii_case(&sn))
                {
                    10002
                } else if !p.c_user_ids.contains(&user) {
                    10005
                } else if !associated.insert(sn.to_uppercase()) {
                    10003
                } else {
                    0
                }
            }
        };
        let outcome = match code {
            0 => "registered",
            10003 => "already_registered",
            _ => "rejected",
        };
        out.insert(row, (outcome, Some(code)));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_fleet_ends_as_the_contract_says_and_sends_each_valid_row_once() {
    let fleet_text = std::fs::read_to_string("samples/fleet.csv").unwrap();
    let env = TestEnv::start_default()
        .await
        .named("fleet.csv")
        .with_fleet(&fleet_text);
    let out = env.run(&["--rate", "200/s", "--concurrency", "8"]).await;
    assert_exit(&out, 3);
    assert!(stdout(&out).is_empty(), "stdout stays clean");

    let lines = env.lines();
    let expected = oracle(&fleet_text, &sim::Fixture::builtin());
    assert_eq!(lines.len(), expected.len(), "one line per row");
    let latest = latest_by_row(&lines);
    for (row, (outcome, code)) in &expected {
        let l = &latest[row];
        assert_eq!(l["outcome"], *outcome, "row {row}: {l:?}");
        assert_eq!(
            l["error_code"],
            code.map(|c| c.to_string()).unwrap_or_default(),
            "row {row}"
        );
        match *outcome {
            "invalid" | "duplicate" => {
                assert_eq!(l["attempts"], "0");
                assert!(!l["error_msg"].is_empty(), "row {row} says why");
            }
            _ => {
                assert_line(l, "attempts=1 http_status=200");
                assert!(l["latency_ms"].parse::<u64>().is_ok());
            }
        }
        assert!(
            humantime::parse_rfc3339(&l["finished_at"]).is_ok(),
            "{}",
            l["finished_at"]
        );
    }

    // What the server received: every sendable row once, nothing else, always with the token.
    let stats = env.sim().stats();
    let sent: usize = expected
        .values()
        .filter(|(o, _)| *o != "invalid" && *o != "duplicate")
        .count();
    assert_eq!(stats.requests as usize, sent);
    assert!(stats.requests_per_sn.values().all(|n| *n == 1));
    assert_eq!(stats.missing_token, 0);
    assert_eq!(stats.wrong_token, 0);
    for (row, (outcome, _)) in &expected {
        if *outcome == "invalid" {
            let sn = &latest[row]["sn"];
            let unguarded = sn.trim_start_matches('\'');
            let sent = stats.requests_per_sn.contains_key(unguarded);
            assert!(!sent, "invalid row {row} ({sn}) was sent");
        }
    }

    // The summary agrees with the results file.
    let summary = env.summary();
    for outcome in OUTCOMES {
        let n = count(&lines, outcome) as u64;
        assert_eq!(summary["outcomes"][outcome], n, "{outcome}");
    }
    assert_eq!(summary["requests"], stats.requests);
    assert_eq!(summary["exit_code"], 3);
    assert_said(&out, &["registered"]);
    assert!(!stderr(&out).contains(DEFAULT_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_until_registered() {
    let cfg = sim_config!(fail_rate: 0.4, seed: 11);
    let env = TestEnv::start(cfg).await.with_fleet(good_fleet(30));
    let out = env
        .run(&flags("--rate 500/s --backoff 5ms --max-attempts 20"))
        .await;
    assert_exit(&out, 0);
    let lines = env.lines();
    assert_eq!(lines.len(), 30);
    assert_eq!(count(&lines, "registered"), 30);
    let attempts: u64 = lines
        .iter()
        .map(|l| l["attempts"].parse::<u64>().unwrap())
        .sum();
    let stats = env.sim().stats();
    assert!(stats.by_code["10001"] > 0, "the simulator did fail some");
    assert_eq!(attempts, stats.requests, "attempts add up to the requests");
    assert_eq!(stats.by_code["10001"] + 30, stats.requests);
    assert!(lines.iter().any(|l| l["attempts"] != "1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_used_up_end_failed_and_exit_3() {
    let env = TestEnv::start(sim_config!(fail_rate: 1.0)).await;
    let env = env.with_fleet(good_fleet(4));
    let tries = flags("--rate 500/s --backoff 1ms --max-attempts 3");
    assert_exit(&env.run(&tries).await, 3);
    let lines = env.lines();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_line(l, "outcome=failed attempts=3 error_code=10001");
    }
    assert_eq!(env.sim().stats().requests, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_retry_codes_make_a_code_transient() {
    // 10004 (plant does not exist) is final by default; listed in --retry-codes it is retried.
    let env = TestEnv::start_default()
        .await
        .with_fleet("plant_id,sn,c_user_id\n999999,ABC123,1\n");
    let out = env
        .run(&flags(
            "--rate 500/s --backoff 1ms --max-attempts 2 --retry-codes 10001,10004",
        ))
        .await;
    assert_exit(&out, 3);
    assert_line(&env.lines()[0], "outcome=failed attempts=2");
    assert_eq!(env.sim().stats().requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pace_never_exceeds_the_rate() {
    let env = TestEnv::start(slow(ms(5))).await.with_fleet(good_fleet(50));
    let out = env.run(&["--rate", "20/s", "--concurrency", "16"]).await;
    assert_exit(&out, 0);
    let stats = env.sim().stats();
    assert_eq!(stats.requests, 50);
    // Burst 1: a one-second window holds at most rate + 1 starts (both ends included); one more
    // allows for arrival jitter on a loaded machine.
    let max = stats.max_in_one_second;
    assert!(max <= 22, "max in one second: {max}");
    let per_second = &stats.per_second;
    assert!(per_second[0] <= 21, "first second: {per_second:?}");
    // And the run did not crawl either: 50 rows at 20/s take about 2.5 s.
    let span = stats.last_request_unix_ms.unwrap() - stats.first_request_unix_ms.unwrap();
    assert!(span >= 2300, "50 requests at 20/s spread over {span} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_rate_per_minute_spaces_requests() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(4));
    assert_exit(&env.run(&["--rate", "150/min"]).await, 0);
    let stats = env.sim().stats();
    assert_eq!(stats.requests, 4);
    // 2.5/s: 0.4 s apart, so 4 requests span at least 1.2 s and never 4 in one second.
    let span = stats.last_request_unix_ms.unwrap() - stats.first_request_unix_ms.unwrap();
    assert!(span >= 1100, "span {span} ms");
    assert!(stats.max_in_one_second <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_caps_requests_in_flight() {
    let env = TestEnv::start(slow(ms(150)))
        .await
        .with_fleet(good_fleet(24));
    let out = env.run(&["--rate", "1000/s", "--concurrency", "3"]).await;
    assert_exit(&out, 0);
    let stats = env.sim().stats();
    assert!(stats.max_in_flight <= 3, "{}", stats.max_in_flight);
    assert!(stats.max_in_flight >= 2, "requests did overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_fatal_and_nothing_is_sent() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(2));
    let out = env.run_cmd_at(&env.base(), &[]).token(None).output().await;
    assert_exit(&out, 1);
    assert_said(&out, &["GROWATT_TOKEN is not set"]);
    assert_eq!(env.sim().stats().requests, 0);
    assert!(!env.results.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_file_is_used_and_sent_as_the_header() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(2));
    let token = env.write("token.txt", format!("{DEFAULT_TOKEN}\n"));
    let wrong = Some("a-wrong-token-from-the-environment");
    let out = env.run_cmd_at(
        &env.base(),
        &["--token-file", arg(&token), "--rate", "100/s"],
    );
    let out = out.token(wrong);
    assert_exit(&out.output().await, 0);
    let stats = env.sim().stats();
    assert_eq!(stats.by_code["0"], 2);
    assert_eq!(stats.wrong_token + stats.missing_token, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_columns_are_fatal_and_name_the_header() {
    let env = TestEnv::start_default()
        .await
        .with_fleet("plant,serial,c_user_id\n1,A,2\n");
    let out = env.run(&[]).await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &["missing columns plant_id, sn", "'plant'", "'serial'"],
    );
    assert_eq!(env.sim().stats().requests, 0);
    assert!(!env.results.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_is_refused() {
    let env = TestEnv::offline().with_fleet(good_fleet(1));
    let out = env.run_at("http://openapi.growatt.com", &[]).await;
    assert_exit(&out, 2);
    assert_said(&out, &["plain http://"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_are_usage_errors() {
    for args in [
        &["run", "x.csv", "--rate", "fast"][..],
        &["run", "x.csv", "--concurrency", "0"],
        &["run", "x.csv", "--region", "mars"],
        &["run", "x.csv", "--max-runtime", "soon"],
        &["run"],
        &["frobnicate"],
    ] {
        assert_exit(&run_bin(args).await, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_without_a_token_and_sends_nothing() {
    let env = TestEnv::offline()
        .with_fleet("plant_id;sn;c_user_id\n1;AAA1;2\nabc;BBB2;2\n1;aaa1;2\n1;1.23E+10;2\n");
    let out = run_no_token(&["check", arg(&env.fleet)]).await;
    assert_exit(&out, 3);
    assert_printed(
        &out,
        &[
            "row 3: invalid: plant_id 'abc' is not a positive integer",
            "row 4: duplicate: same sn as row 2",
            "row 5: invalid: sn '1.23E+10' was converted to a number by a spreadsheet",
            "4 rows: 1 to send, 2 invalid, 1 duplicate",
        ],
    );
    assert!(!env.results.exists(), "check writes nothing");

    // --dry-run is the same.
    let out = run_no_token(&["run", arg(&env.fleet), "--dry-run"]).await;
    assert_exit(&out, 3);
    assert_printed(&out, &["1 to send"]);

    let clean = env.write("g.csv", "plant_id,sn,c_user_id\n1,A1,2\n");
    assert_exit(&run_no_token(&["check", arg(&clean)]).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_summary_matches_its_results_file() {
    let env = TestEnv::offline().named("fleet.csv");
    let out = run_no_token(&["demo", "--dir", arg(env.dir()), "--rate", "200/s"]).await;
    assert_exit(&out, 0);
    let lines = env.lines();
    let summary = env.summary();
    let mut total = 0;
    for (outcome, n) in summary["outcomes"].as_object().unwrap() {
        let count = count(&lines, outcome) as u64;
        assert_eq!(n.as_u64().unwrap(), count, "{outcome}");
        total += count;
    }
    assert_eq!(total as usize, lines.len());
    assert!(count(&lines, "registered") > 200);
    let text = stdout(&out);
    assert!(text.contains("results: "));
    let last = text.lines().last().unwrap_or_default().to_string();
    let named = last.starts_with("report: ");
    assert!(named, "the demo ends by naming its report: {last}");
    let html = std::fs::read_to_string(env.path("report.html")).unwrap();
    assert!(html.contains("id=\"count-registered\""));
    assert!(text.contains("linked: "), "the demo verifies the links");
    assert_said(&out, &["registered"]);
}
