//! `account pull` against a hostile world: listings that lie about what they hold, signals
//! mid-pull, two pulls on one cache at once, a pull killed with a call in flight, and the
//! closing lines as a person reads them. The scripted servers are the harness's
//! ([`common::hostile`]); the simulator plays the honest account.

mod common;

use std::time::Duration;

use common::hostile::*;
use common::*;

/// An honest `user/c_user_list` page: user 501, and a count of 1.
fn one_user() -> Act {
    json(
        200,
        r#"{"error_code":0,"error_msg":"","data":{"count":1,"c_user":[{"c_user_id":501}]}}"#,
    )
}

/// A server whose `plant/list` answers `plants` (the page's `data` as JSON) and whose user
/// listing is honest.
async fn listing_server(plants: &'static str) -> Hostile {
    Hostile::start(move |r| {
        if r.path.starts_with("/v1/plant/list") {
            json(
                200,
                &format!(r#"{{"error_code":0,"error_msg":"","data":{plants}}}"#),
            )
        } else if r.path.starts_with("/v1/user/c_user_list") {
            one_user()
        } else {
            envelope(0, "")
        }
    })
    .await
}

/// A world whose runs use [`TOKEN`], with a one-row fleet on plant 1001 and user 501.
fn world() -> TestEnv {
    TestEnv::offline()
        .with_token(TOKEN)
        .named("fleet.csv")
        .with_fleet("plant_id,sn,c_user_id\n1001,DEV0000001,501\n")
}

/// A stderr line without the time a log file's lines start with.
fn unstamped(line: &str) -> &str {
    match line.split_once(' ') {
        Some((stamp, rest)) if humantime::parse_rfc3339(stamp).is_ok() => rest,
        _ => line,
    }
}

/// The one cache file in the world's cache folder, as JSON.
fn cache_json(env: &TestEnv) -> serde_json::Value {
    let dir = env.cache_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "one cache file: {files:?}");
    serde_json::from_slice(&std::fs::read(files.pop().unwrap()).unwrap()).unwrap()
}

/// A `plant/list` page that says it holds 3 plants and keeps them under another key is not a
/// complete, empty listing: the pull says so and fails, the cache stays partial, and `check
/// --account` rules no row out for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_under_another_key_is_never_a_complete_empty_account() {
    let srv = listing_server(
        r#"{"count":3,"plant_list":[{"plant_id":1001},{"plant_id":1002},{"plant_id":1003}]}"#,
    )
    .await;
    let env = world();
    let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &["v1/plant/list page 1", "3 plants", "lists none", "partial"],
    );
    let cache = cache_json(&env);
    assert_eq!(cache["plant_listing"]["complete"], false, "{cache}");

    let out = env.account_at("show", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 4);
    assert!(
        stdout(&out).contains("plants: 0 (partial"),
        "{}",
        stdout(&out)
    );

    // The row's plant is not ruled out for what the listing failed to list.
    let check = ["check", arg(&env.fleet), "--account", "--cache"];
    let out = env
        .bin(&check)
        .args(&[arg(&env.cache_dir()), "--base-url", &srv.base_url()])
        .output()
        .await;
    assert_exit(&out, 0);
    assert!(
        !stdout(&out).contains("invalid: plant_id"),
        "{}",
        stdout(&out)
    );
}

/// A page that lists fewer entries than its `count` promises for it (3 of 5 on the only page, or
/// entries without an id) leaves the listing partial, and says how many it listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_shorter_than_its_count_leaves_the_listing_partial() {
    for plants in [
        r#"{"count":5,"plants":[{"plant_id":1001},{"plant_id":1002},{"plant_id":1003}]}"#,
        r#"{"count":2,"plants":[{"id":1001},{"id":1002}]}"#,
        r#"{"count":"2","plants":{"plant_id":1001}}"#,
    ] {
        let srv = listing_server(plants).await;
        let env = world();
        let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
        assert_exit(&out, 1);
        assert_said(&out, &["v1/plant/list page 1", "partial"]);
        let cache = cache_json(&env);
        assert_eq!(
            cache["plant_listing"]["complete"], false,
            "{plants}: {cache}"
        );
        assert_eq!(cache["plant_listing"]["next_page"], 1, "{cache}");
    }
    // An honest empty account is still complete: an empty list with a count of 0.
    let srv = listing_server(r#"{"count":0,"plants":[]}"#).await;
    let env = world();
    let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 0);
    assert_eq!(cache_json(&env)["plant_listing"]["complete"], true);
}

/// Pages that list the same plants twice (150 promised, page 2 repeating half of page 1) never
/// add up to a complete listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_repeating_entries_never_add_up_to_a_complete_listing() {
    let srv = Hostile::start(|r| {
        if r.path.starts_with("/v1/plant/list") {
            let ids = if r.path.contains("page=1&") {
                1..=100
            } else {
                1..=50
            };
            let plants: Vec<_> = ids.map(|i| serde_json::json!({ "plant_id": i })).collect();
            let data = serde_json::json!({ "count": 150, "plants": plants });
            json(
                200,
                &serde_json::json!({ "error_code": 0, "data": data }).to_string(),
            )
        } else {
            one_user()
        }
    })
    .await;
    let env = world();
    let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 1);
    assert_said(&out, &["100 plants where its count says 150", "partial"]);
    let cache = cache_json(&env);
    assert_eq!(cache["plant_listing"]["complete"], false, "{cache}");
    assert_eq!(
        srv.requests(),
        2,
        "two pages, no user listing after the failure"
    );
}

/// A world whose account lists 1150 plants more than the built-in fixture's, each answer taking
/// `latency`, and a pull of it running in the background that has sent its first listing call.
async fn pulling(latency: Duration) -> (TestEnv, Running) {
    let mut fixture = sim::Fixture::builtin();
    fixture.account.extra_plants = 1150;
    let env = TestEnv::start(sim_config!(fixture, latency)).await;
    let pull = env.account_at("pull", &env.base(), &["--rate", "100/s"]);
    let pull = pull.spawn();
    let sim = env.sim();
    let listed = || sim.account_stats().plant_list_today >= 1;
    poll_until("the pull's first listing call", listed).await;
    (env, pull)
}

/// SIGINT or SIGTERM while a listing call is in flight: the pull ends with 130, in the words of
/// a pull (its cache, no results file), and the call it sent is counted.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_mid_pull_exits_130_in_the_pull_s_words() {
    for sig in ["-INT", "-TERM"] {
        let (env, mut pull) = pulling(Duration::from_millis(1500)).await;
        let sim = env.sim();
        let err = pull.interrupt(sig).await;
        assert!(!err.contains("results file"), "{sig}: {err}");
        assert!(err.contains("interrupted"), "{sig}: {err}");
        assert!(err.contains("account pull"), "{sig}: {err}");
        let sent = sim.account_stats().plant_list_today;
        assert_eq!(
            cache_json(&env)["calls"]["plant_list"],
            sent,
            "{sig}: {err}"
        );
    }
}

/// Two pulls on one cache at once: the second is refused at once, naming the cache, and the
/// day's listing calls stay within the cap of 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pulls_at_once_on_one_cache_stay_within_the_daily_cap() {
    let (env, mut first) = pulling(Duration::from_millis(200)).await;
    let sim = env.sim();
    let second = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&second, 1);
    assert_said(&second, &["another account pull", "cache"]);
    let status = first.wait().await;
    assert_eq!(status.code(), Some(4), "{}", first.stderr());
    let a = sim.account_stats();
    assert_eq!(a.plant_list_today, 10, "{a:?}");
    assert_eq!(a.over_cap, 0, "{a:?}");
    assert_eq!(cache_json(&env)["calls"]["plant_list"], 10);
}

/// A pull killed (SIGKILL) while its call is in flight has counted that call already: the
/// cache says 1 of 10 spent; its lock went with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_killed_mid_call_has_counted_the_call() {
    let srv = Hostile::start(|_| Act::Silent(Duration::from_secs(15))).await;
    let env = world();
    let mut pull = env
        .account_at("pull", &srv.base_url(), &["--timeout", "20s"])
        .spawn();
    poll_until("the first listing call", || srv.requests() >= 1).await;
    pull.kill().await;
    let cache = cache_json(&env);
    assert_eq!(cache["calls"]["plant_list"], 1, "{cache}");
    assert_eq!(cache["plant_listing"]["complete"], false, "{cache}");

    // The lock died with the process: the next pull runs (and times out on the same silence,
    // asking twice more for a transient failure), counting its own calls on top.
    let out = env
        .account_at("pull", &srv.base_url(), &["--timeout", "1s"])
        .output()
        .await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(!err.contains("another account pull"), "{err}");
    assert_eq!(cache_json(&env)["calls"]["plant_list"], 4);
}

/// The pull's closing lines are lines: no escaped line break (`\n`) in the text, the cache on a
/// line of its own; the JSON event keeps its fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pull_summary_is_two_lines_not_an_escaped_break() {
    let env = TestEnv::start_default().await;
    let out = env.account("pull", &["--rate", "100/s"]).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(!err.contains("\\n"), "{err}");
    let lines: Vec<&str> = err.lines().map(unstamped).collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("growatt-onboard account: "));
    let first = first.unwrap_or_else(|| panic!("{err}"));
    let cache = lines[first + 1];
    assert!(
        cache.starts_with("  cache: ") && cache.ends_with(".json"),
        "{err}"
    );

    let json = ["--log-format", "json", "--rate", "100/s"];
    let out = env.account_at("pull", &env.base(), &json).output().await;
    assert_exit(&out, 0);
    let events: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let pulled = events
        .iter()
        .find(|e| e["event"] == "account_pull")
        .expect("the pull's event");
    assert!(pulled["cache"]
        .as_str()
        .is_some_and(|c| c.ends_with(".json")));
    assert!(events.iter().all(|e| e["event"] != "notice"), "{events:?}");
}

/// A 10001 on a listing page is asked again within the day's calls; a refresh of a complete
/// listing that fails leaves it complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_answer_is_retried_and_a_failed_refresh_keeps_the_complete_listing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let plants = r#"{"error_code":0,"error_msg":"","data":{"count":1,"plants":[{"plant_id":7,"user_id":3}]}}"#;
    let users = r#"{"error_code":0,"error_msg":"","data":{"count":1,"c_user":[{"c_user_id":3}]}}"#;
    let down = std::sync::Arc::new(AtomicBool::new(false));
    let is_down = down.clone();
    let srv = Hostile::start(move |r| {
        let plant = r.path.contains("plant/list");
        match (is_down.load(Ordering::Relaxed), plant, r.n) {
            (true, _, _) => envelope(10001, "system error"),
            // The very first call answers 10001; the retry gets the page.
            (false, true, 0) => envelope(10001, "system error"),
            (false, true, _) => json(200, plants),
            (false, false, _) => json(200, users),
        }
    })
    .await;
    let env = world();
    let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 0);
    assert_eq!(cache_json(&env)["plant_listing"]["complete"], true);
    assert_eq!(
        cache_json(&env)["calls"]["plant_list"],
        2,
        "the retry counted"
    );

    // A refresh answered only with failures keeps the complete listing.
    down.store(true, Ordering::Relaxed);
    let out = env.account_at("pull", &srv.base_url(), &[]).output().await;
    assert_exit(&out, 1);
    let cache = cache_json(&env);
    assert_eq!(cache["plant_listing"]["complete"], true, "{cache}");
    assert_eq!(cache["calls"]["plant_list"], 5, "three more calls: {cache}");
}
