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

/// Runs `growatt-onboard verify RESULTS --base-url <the simulator>` with `extra` flags.
async fn verify_against(
    sim: &SimServer,
    results: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let base = sim.base_url();
    let mut args = vec!["verify", results.to_str().unwrap(), "--base-url", &base];
    args.extend_from_slice(extra);
    run_bin(&args).await
}

fn list_requests(stats: &sim::Stats, adds: u64) -> u64 {
    stats.requests - adds
}

async fn register(sim: &SimServer, dir: &std::path::Path, fleet: &str) -> std::path::PathBuf {
    let input = write(dir, "fleet.csv", fleet);
    let out = run_against(sim, &input, &["--rate", "1000/s"]).await;
    assert_exit(&out, 0);
    dir.join("fleet.results.csv")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_and_pending_then_only_pending_rows_are_checked_again() {
    let (fixture, fleet) = world(3, 4, &[1, 9]);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let results = register(&sim, dir.path(), &fleet).await;
    let adds = sim.stats().requests;
    assert_eq!(adds, 12);

    let out = verify_against(&sim, &results, &["--rate", "100/s"]).await;
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("10 of 12 registered devices linked, 2 still pending"),
        "{}",
        stderr(&out)
    );
    // One request per page per plant, never per row.
    assert_eq!(list_requests(&sim.stats(), adds), 3);
    let verify_path = dir.path().join("fleet.results.verify.csv");
    let text = std::fs::read_to_string(&verify_path).unwrap();
    assert!(
        text.starts_with("row,plant_id,sn,link_status,device_status,last_update_time,checked_at,located_plant_id,located_user_id,located_at\n")
    );
    let mut rdr = csv::Reader::from_path(&verify_path).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
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
        let r = http
            .post(format!("{}/__sim/online?sn={sn}", sim.base_url()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let before = sim.stats().requests;
    let out = verify_against(&sim, &results, &["--rate", "100/s"]).await;
    assert_exit(&out, 0);
    assert_eq!(sim.stats().requests - before, 2, "plants 1 and 3 only");
    let mut rdr = csv::Reader::from_path(&verify_path).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 14, "two new lines appended");
    assert!(rows[12..].iter().all(|r| &r[3] == "linked"));

    // Nothing left to check: no request at all.
    let before = sim.stats().requests;
    let out = verify_against(&sim, &results, &[]).await;
    assert_exit(&out, 0);
    assert_eq!(sim.stats().requests, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_through_more_than_a_hundred_devices_on_one_plant() {
    let (fixture, fleet) = world(1, 230, &[]);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let results = register(&sim, dir.path(), &fleet).await;
    let adds = sim.stats().requests;
    let out = verify_against(&sim, &results, &["--rate", "100/s"]).await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("230 of 230 registered devices linked"));
    assert_eq!(
        list_requests(&sim.stats(), adds),
        3,
        "pages of 100: 3 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plant_that_no_longer_exists_is_reported() {
    let sim = start_sim(SimConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let results = write(
        dir.path(),
        "r.csv",
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,424242,ABC123,1,registered,0,,1,200,5,2026-11-25T00:00:00.000Z\n\
         3,424242,ABC124,1,rejected,10005,user does not exist,1,200,5,2026-11-25T00:00:00.000Z\n",
    );
    let out = verify_against(&sim, &results, &[]).await;
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("1 on plants that no longer exist"),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(dir.path().join("r.verify.csv")).unwrap();
    assert!(text.contains("2,424242,ABC123,plant_missing"), "{text}");
    assert!(!text.contains("ABC124"), "only registered rows are checked");
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_mid_verify_pauses_and_finishes() {
    let (fixture, fleet) = world(8, 1, &[]);
    let sim = start_sim(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let results = register(&sim, dir.path(), &fleet).await;
    sim.shutdown().await;

    // A second simulator with the same world but a tight frequency limit; its associations are
    // made by re-running against it.
    let (fixture, _) = world(8, 1, &[]);
    let strict = start_sim(SimConfig {
        fixture,
        throttle_per_sec: Some(2.0),
        ..SimConfig::default()
    })
    .await;
    let out = run_bin(&[
        "run",
        dir.path().join("fleet.csv").to_str().unwrap(),
        "--base-url",
        &strict.base_url(),
        "--rate",
        "2/s",
        "--throttle-pause",
        "300ms",
        "--restart",
    ])
    .await;
    assert_exit(&out, 0);
    let out = verify_against(
        &strict,
        &results,
        &["--rate", "50/s", "--throttle-pause", "300ms"],
    )
    .await;
    assert_exit(&out, 0);
    assert!(strict.stats().by_code.get("10012").copied().unwrap_or(0) >= 1);
    assert!(stderr(&out).contains("8 of 8 registered devices linked"));
    assert!(
        stderr(&out).contains("paused by the API's rate limit"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_results_file_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let out = run_bin(&[
        "verify",
        missing.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:9",
    ])
    .await;
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not exist"));
}
