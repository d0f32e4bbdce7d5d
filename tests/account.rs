//! The account pre-flight against the simulator: `account pull` and `show`, `check --account`
//! and `run --account` flagging rows before any add, the daily listing cap over simulated days,
//! `verify --locate`, and the token kept out of the cache.

mod common;

use std::path::Path;

use common::*;

/// Plants 1001 (owner 501, also 502) and 1002 (owner 503); devices DEV0000001..=DEV0000006 online;
/// ELS0000001 already associated, sitting on plant 1002 of user 503.
fn small_account() -> sim::Fixture {
    let devices: Vec<String> = (1..=6).map(|i| format!("DEV{i:07}")).collect();
    located_account(&[501, 502], &[devices, vec!["ELS0000001".into()]].concat())
}

/// Add requests the simulator received.
fn adds(sim: &SimServer) -> u64 {
    sim.stats().requests_per_sn.values().sum()
}

/// Listing calls the simulator received, over all simulated days.
fn listing_calls(sim: &SimServer) -> u64 {
    let a = sim.account_stats();
    a.plant_list_total + a.user_list_total
}

/// A world with [`small_account`] on the simulator and `fleet` as `fleet.csv`.
async fn small_world(fleet: &str) -> TestEnv {
    let env = TestEnv::start_fixture(small_account()).await;
    env.named("fleet.csv").with_fleet(fleet)
}

/// `check FLEET --account` with the world's cache, against the simulator.
async fn check_account(env: &TestEnv) -> std::process::Output {
    let (cache, base) = (env.cache_dir(), env.base());
    let fleet = arg(&env.fleet);
    run_bin(&[
        "check",
        fleet,
        "--account",
        "--cache",
        arg(&cache),
        "--base-url",
        &base,
    ])
    .await
}

/// Whether `path` is a cache file (not its lock).
fn is_cache(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "json")
}

/// Every file under `dir`, read whole.
fn all_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_account_flags_missing_plant_missing_user_and_mismatch_with_zero_adds() {
    let env = small_world(
        "plant_id,sn,c_user_id\n\
         1001,DEV0000001,501\n\
         9999,DEV0000002,501\n\
         1001,DEV0000003,777\n\
         1002,DEV0000004,501\n",
    )
    .await;

    // No cache yet: the check pulls it first (one page of each listing), then screens.
    let out = check_account(&env).await;
    assert_exit(&out, 3);
    let text = assert_printed(
        &out,
        &[
            "row 3: invalid: plant_id 9999 is not in the account (the add would answer 10004)",
            "row 4: invalid: c_user_id 777 is not in the account (the add would answer 10005)",
            "warning: plant 1002 is owned by user 503, not 501 (rows 5)",
            "2 to send, 2 invalid (2 not in the account",
        ],
    );
    assert!(!text.contains("row 2:"), "{text}");
    assert_eq!(adds(env.sim()), 0, "check sends no add");
    assert_eq!(listing_calls(env.sim()), 2);

    // The same day again: the cache answers, no listing call is made.
    let out = check_account(&env).await;
    assert_exit(&out, 3);
    assert_printed(&out, &["plant_id 9999 is not in the account"]);
    let listed = listing_calls(env.sim());
    assert_eq!(listed, 2, "a second check the same day lists nothing");
    assert_eq!(adds(env.sim()), 0);

    // `account show` reads the same cache.
    let out = env.account("show", &[]).await;
    assert_exit(&out, 0);
    assert_printed(&out, &["plants: 2 (complete)", "users: 3 (complete)"]);
    assert_printed(&out, &["plant/list 1 of 10"]);

    // The token is in no cache file, in any case; only its fingerprint names the file.
    let files = all_files(&env.cache_dir());
    let caches = files.iter().filter(|(p, _)| is_cache(p)).count();
    assert_eq!(caches, 1, "one cache per server and token");
    // Beside it, its lock (empty) and nothing else.
    assert_eq!(files.len(), 2, "{files:?}");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert!(!text.contains(DEFAULT_TOKEN), "{}", path.display());
        assert!(!path.to_string_lossy().contains(DEFAULT_TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_account_writes_invalid_rows_and_sends_nothing_for_them() {
    let env = small_world(
        "plant_id,sn,c_user_id\n1001,DEV0000001,501\n9999,DEV0000002,501\n1001,DEV0000003,777\n",
    )
    .await;
    let cache = env.path("cache");
    let out = env.run(&["--account", "--cache", arg(&cache), "--rate", "100/s"]);
    assert_exit(&out.await, 3);
    let lines = env.latest();
    assert_eq!(lines[&2]["outcome"], "registered");
    for row in [3, 4] {
        let l = &lines[&row];
        assert_line(l, "outcome=invalid attempts=0");
        let msg = &l["error_msg"];
        assert!(msg.contains("per the account listing of 20"), "{l:?}");
        assert!(msg.contains("growatt-onboard account pull"), "{l:?}");
    }
    let per_sn = env.sim().stats().requests_per_sn;
    assert_eq!(per_sn.len(), 1, "{per_sn:?}");
    assert!(per_sn.contains_key("DEV0000001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_account_is_pulled_over_two_days_within_the_daily_cap() {
    let mut fixture = small_account();
    // 2 + 1150 plants and 3 + 1020 users: 12 and 11 pages, more than one day's 10 calls each.
    fixture.account.extra_plants = 1150;
    fixture.account.extra_users = 1020;
    let env = TestEnv::start_fixture(fixture).await.named("fleet.csv");
    let sim = env.sim();

    let out = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&out, 4);
    assert_said(
        &out,
        &[
            "the account has 1152 plants and today's 10 calls listed 1000",
            "again tomorrow",
        ],
    );
    let a = sim.account_stats();
    assert_eq!((a.plant_list_today, a.user_list_today), (10, 10));

    // Same day: nothing left to spend, so nothing is sent.
    let out = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&out, 4);
    assert_eq!(listing_calls(sim), 20);

    // A partial cache flags nothing it could not list: plant 2001150 (not yet listed) and
    // plant 9999 (not in the account) both pass.
    env.set_fleet("plant_id,sn,c_user_id\n2001150,DEV0000001,3001019\n9999,DEV0000002,501\n");
    let out = check_account(&env).await;
    assert_exit(&out, 0);
    assert_printed(&out, &["0 invalid"]);
    assert_said(&out, &["partial"]);
    let listed = listing_calls(sim);
    assert_eq!(listed, 20, "an existing cache is used as it is");

    // The next day (on the server, and on the cache's clock): the pull goes on from page 11.
    sim.next_day();
    let file = all_files(&env.cache_dir())
        .into_iter()
        .find(|(p, _)| is_cache(p))
        .unwrap()
        .0;
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    json["calls"]["day"] = "2000-01-01".into();
    std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&out, 0);
    let a = sim.account_stats();
    assert_eq!((a.plant_list_total, a.user_list_total), (12, 11), "{a:?}");
    assert!(a.max_listing_calls_in_a_day <= 10, "{a:?}");
    assert_eq!(a.over_cap, 0);
    let out = env.account("show", &[]).await;
    assert_exit(&out, 0);
    assert_printed(&out, &["plants: 1152 (complete)", "users: 1023 (complete)"]);

    // Complete now: the plant not in the account is flagged, the far one is not.
    let out = check_account(&env).await;
    assert_exit(&out, 3);
    let text = stdout(&out);
    assert!(text.contains("row 3: invalid: plant_id 9999"), "{text}");
    assert!(!text.contains("row 2: invalid"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_spent_elsewhere_ends_the_pull_at_the_first_refusal() {
    let env = TestEnv::start_fixture(small_account()).await;
    // Another client spends today's plant/list calls.
    let http = reqwest::Client::new();
    for _ in 0..10 {
        let r = http
            .get(format!("{}/v1/plant/list?page=1&perpage=100", env.base()))
            .header("token", DEFAULT_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let out = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&out, 4);
    assert_said(&out, &["refused a listing call as too frequent (10012)"]);
    let err = stderr(&out);
    assert!(!err.contains("paused"), "no pause is announced: {err}");
    let a = env.sim().account_stats();
    assert_eq!(a.over_cap, 1, "one refusal, never asked again: {a:?}");
    assert_eq!(a.user_list_total, 0, "the pull ended at the refusal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_locate_finds_the_device_registered_elsewhere_and_asks_once() {
    let env =
        small_world("plant_id,sn,c_user_id\n1001,DEV0000001,501\n1001,ELS0000001,501\n").await;
    assert_exit(&env.run(&["--rate", "100/s"]).await, 0);
    // A verify file from before --locate (seven columns) is still read and appended to.
    let verify_file = env.write(
        "fleet.results.verify.csv",
        "row,plant_id,sn,link_status,device_status,last_update_time,checked_at\n\
         3,1001,ELS0000001,pending,,,2020-01-01T00:00:00.000Z\n",
    );
    let out = env.verify(&["--locate", "--rate", "100/s"]).await;
    assert_exit(&out, 3);
    assert_said(
        &out,
        &[
            "row 3: ELS0000001 sits on plant 1002 of user 503, not on plant 1001",
            "1 of 2 registered devices linked",
            "1 sitting on another plant",
        ],
    );
    let text = std::fs::read_to_string(&verify_file).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("3,1001,ELS0000001,elsewhere,,,"), "{text}");
    assert!(last.contains(",1002,503,"), "{text}");
    let located = || env.sim().account_stats().sn_plant_per_sn;
    assert_eq!(located().get("ELS0000001"), Some(&1));
    assert_eq!(located().len(), 1, "linked rows are not located");

    // Again at once: within the cooldown the earlier answer stands, no second request.
    let out = env.verify(&["--locate", "--rate", "100/s"]).await;
    assert_exit(&out, 3);
    assert_said(&out, &["1 sitting on another plant"]);
    assert_eq!(located().get("ELS0000001"), Some(&1));
    assert_eq!(env.sim().account_stats().sn_plant_too_soon, 0);

    // The report says where it sits and what to do.
    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert!(report.contains("1 elsewhere"), "{report}");
    let said = report.contains("ELS0000001 sits on plant 1002 (user 503), not 1001");
    assert!(said, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_fleet_saves_add_calls_with_account() {
    let fleet_text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fleet.csv"))
            .unwrap();
    let mut sent = Vec::new();
    for account in [false, true] {
        let env = TestEnv::start_default().await.named("fleet.csv");
        let env = env.with_fleet(&fleet_text);
        let cache = env.path("cache");
        let mut extra = flags("--rate 1000/s --concurrency 16");
        if account {
            extra.extend(["--account", "--cache", arg(&cache)]);
        }
        assert_exit(&env.run(&extra).await, 3);
        let lines = env.latest();
        let rejected_10004 = lines
            .values()
            .filter(|l| l["error_code"] == "10004")
            .count();
        if account {
            assert_eq!(rejected_10004, 0, "every 10004 is caught before sending");
        }
        sent.push(adds(env.sim()));
    }
    let saved = sent[0] - sent[1];
    println!(
        "sample fleet: {} add calls without --account, {} with: {saved} saved",
        sent[0], sent[1]
    );
    assert_eq!(saved, 4, "{sent:?}");
}
