//! `verify` against the simulator: linked and pending devices, paging, missing plants,
//! throttling, and re-checking only what is not linked yet.

mod common;

use common::*;

/// A world of `plants` plants (ids 1..), each with users [plant_id * 10], and `per_plant` devices
/// each; devices whose index is in `offline` are offline. Returns the fixture and the fleet CSV.
fn world(plants: u64, per_plant: usize, offline: &[usize]) -> (sim::Fixture, String) {
    let mut fleet = String::from("plant_id,sn,c_user_id\n");
    let mut devices = Vec::new();
    let mut plant_list = Vec::new();
    let mut n = 0;
    for p in 1..=plants {
        plant_list.push(sim::FixturePlant {
            plant_id: p,
            c_user_ids: vec![p * 10],
        });
        for _ in 0..per_plant {
            let sn = format!("VER{n:07}");
            fleet.push_str(&format!("{p},{sn},{}\n", p * 10));
            devices.push(sim::FixtureDevice {
                sn,
                online: !offline.contains(&n),
            });
            n += 1;
        }
    }
    (
        sim::Fixture {
            plants: plant_list,
            devices,
            associated: vec![],
            account: Default::default(),
        },
        fleet,
    )
}

/// A world whose simulator holds [`world`]`(plants, per_plant, offline)`, with its fleet
/// registered (as `fleet.csv`, all rows at once).
async fn registered(plants: u64, per_plant: usize, offline: &[usize]) -> TestEnv {
    let (fixture, fleet) = world(plants, per_plant, offline);
    let env = TestEnv::start_fixture(fixture).await.named("fleet.csv");
    let env = env.with_fleet(fleet);
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    env
}

/// The verify file's records.
fn verify_rows(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    rdr.records().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_and_pending_then_only_pending_rows_are_checked_again() {
    let env = registered(3, 4, &[1, 9]).await;
    let adds = env.sim().stats().requests;
    assert_eq!(adds, 12);

    let out = env.verify(&["--rate", "100/s"]).await;
    assert_exit(&out, 3);
    assert_said(
        &out,
        &["10 of 12 registered devices linked, 2 still pending"],
    );
    // One request per page per plant, never per row.
    assert_eq!(env.sim().stats().requests - adds, 3);
    let verify_path = env.path("fleet.results.verify.csv");
    let text = std::fs::read_to_string(&verify_path).unwrap();
    assert!(
        text.starts_with("row,plant_id,sn,link_status,device_status,last_update_time,checked_at,located_plant_id,located_user_id,located_at\n")
    );
    let rows = verify_rows(&verify_path);
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let expect = if r[2] == *"VER0000001" || r[2] == *"VER0000009" {
            "pending"
        } else {
            "linked"
        };
        assert_eq!(&r[3], expect, "{r:?}");
        if expect == "linked" {
            assert_eq!(&r[4], "1");
            assert!(!r[5].is_empty());
        }
        assert!(humantime::parse_rfc3339(&r[6]).is_ok());
    }

    // The devices come online; only their rows are checked again, only their plants listed.
    let http = reqwest::Client::new();
    for sn in ["VER0000001", "VER0000009"] {
        let url = format!("{}/__sim/online?sn={sn}", env.base());
        let r = http.post(url).send().await.unwrap();
        assert!(r.status().is_success());
    }
    let before = env.sim().stats().requests;
    assert_exit(&env.verify(&["--rate", "100/s"]).await, 0);
    let listed = env.sim().stats().requests - before;
    assert_eq!(listed, 2, "plants 1 and 3 only");
    let rows = verify_rows(&verify_path);
    assert_eq!(rows.len(), 14, "two new lines appended");
    assert!(rows[12..].iter().all(|r| &r[3] == "linked"));

    // Nothing left to check: no request at all.
    let before = env.sim().stats().requests;
    assert_exit(&env.verify(&[]).await, 0);
    assert_eq!(env.sim().stats().requests, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_through_more_than_a_hundred_devices_on_one_plant() {
    let env = registered(1, 230, &[]).await;
    let adds = env.sim().stats().requests;
    let out = env.verify(&["--rate", "100/s"]).await;
    assert_exit(&out, 0);
    assert_said(&out, &["230 of 230 registered devices linked"]);
    let listed = env.sim().stats().requests - adds;
    assert_eq!(listed, 3, "pages of 100: 3 requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plant_that_no_longer_exists_is_reported() {
    let mut env = TestEnv::start_default().await;
    env.results = env.write(
        "r.csv",
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,424242,ABC123,1,registered,0,,1,200,5,2026-11-25T00:00:00.000Z\n\
         3,424242,ABC124,1,rejected,10005,user does not exist,1,200,5,2026-11-25T00:00:00.000Z\n",
    );
    let out = env.verify(&[]).await;
    assert_exit(&out, 3);
    assert_said(&out, &["1 on plants that no longer exist"]);
    let text = std::fs::read_to_string(env.path("r.verify.csv")).unwrap();
    assert!(text.contains("2,424242,ABC123,plant_missing"), "{text}");
    assert!(!text.contains("ABC124"), "only registered rows are checked");
    assert_eq!(env.sim().stats().requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_mid_verify_pauses_and_finishes() {
    let mut env = registered(8, 1, &[]).await;
    env.stop_sim().await;

    // A second simulator with the same world but a tight frequency limit; its associations are
    // made by re-running against it.
    let (fixture, _) = world(8, 1, &[]);
    let strict = start_sim(sim_config!(fixture, throttle_per_sec: Some(2.0))).await;
    let base = strict.base_url();
    let again = "--rate 2/s --throttle-pause 300ms --restart";
    assert_exit(&env.run_at(&base, &flags(again)).await, 0);
    let verify = ["verify", arg(&env.results), "--base-url", &base];
    let verify = [&verify[..], &flags("--rate 50/s --throttle-pause 300ms")].concat();
    let out = run_bin(&verify).await;
    assert_exit(&out, 0);
    assert!(strict.stats().by_code.get("10012").copied().unwrap_or(0) >= 1);
    assert_said(
        &out,
        &[
            "8 of 8 registered devices linked",
            "paused by the API's rate limit",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_results_file_is_fatal() {
    let env = TestEnv::offline();
    let missing = env.path("nope.csv");
    let out = run_bin(&["verify", arg(&missing), "--base-url", "http://127.0.0.1:9"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["does not exist"]);
}
