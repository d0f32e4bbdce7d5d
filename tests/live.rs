//! The binary against the answers the live server was recorded sending (`tests/realworld/`, with
//! their provenance in its README), each replayed byte for byte by a local server with the live
//! headers: the add's success and the observed 10012 for `run`; the six-row, the empty and the
//! vendor's device listings for `verify`, a collector's serial among them; a Brotli `plant/list`
//! for `account pull`; answers cut off mid-body; and a decompression bomb.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::replay::{capture, Replay, Reply};
use common::{
    arg, assert_exit, assert_line, assert_said, flags, read_results, run_bin, stderr, write, Line,
};

const ADD: &str = "/v1/device/sn/add";
const LIST: &str = "/v1/device/list";
const PLANTS: &str = "/v1/plant/list";
const USERS: &str = "/v1/user/c_user_list";

/// The three devices of the live six-row listing, and the collector two of them sit behind.
const LIVE_DEVICES: [&str; 3] = ["BDG5BHA01A", "LXJEE5F001", "LWJ0BK601J"];
const LIVE_COLLECTOR: &str = "XGD4A4821T";

/// A user listing written for these tests: no live capture of `c_user_list` exists.
const USERS_BODY: &str =
    r#"{"error_msg":"","data":{"c_user":[{"c_user_id":1000000}],"count":1},"error_code":0}"#;

/// A fleet of these serials on plant 42, user 7.
fn fleet(dir: &Path, sns: &[&str]) -> PathBuf {
    let mut text = String::from("plant_id,sn,c_user_id\n");
    for sn in sns {
        text.push_str(&format!("42,{sn},7\n"));
    }
    write(dir, "fleet.csv", text)
}

/// `run FLEET` against `base`, quick pacing and backoff, 3 attempts.
async fn run(fleet: &Path, base: &str, extra: &[&str]) -> std::process::Output {
    let quick = flags("--rate 1000/s --backoff 1ms --timeout 5 --max-attempts 3 --no-progress");
    run_bin(&[&["run", arg(fleet), "--base-url", base], &quick[..], extra].concat()).await
}

/// The last line of the results file in `dir`.
fn last_line(dir: &Path) -> Line {
    read_results(&dir.join("fleet.results.csv")).pop().unwrap()
}

/// `verify RESULTS` against `base`.
async fn verify(results: &Path, base: &str) -> std::process::Output {
    let quick = flags("--rate 1000/s --backoff 1ms --timeout 5 --no-progress");
    run_bin(&[&["verify", arg(results), "--base-url", base], &quick[..]].concat()).await
}

/// `account pull --cache DIR` against `base`.
async fn pull(cache: &Path, base: &str) -> std::process::Output {
    let args = [
        "account",
        "pull",
        "--cache",
        cache.to_str().unwrap(),
        "--base-url",
        base,
        "--timeout",
        "10",
        "--no-progress",
    ];
    run_bin(&args).await
}

/// The verify file's lines as column → value maps.
fn verify_lines(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            headers
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Registers `sns` through a replay of the vendor's add success, returning the results file.
async fn registered(dir: &Path, sns: &[&str]) -> PathBuf {
    let srv = Replay::start(|_, _| {
        Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json"))
    })
    .await;
    let f = fleet(dir, sns);
    let out = run(&f, &srv.base_url(), &[]).await;
    assert_exit(&out, 0);
    dir.join("fleet.results.csv")
}

/// A replay of `device/list` answering `body` (cut off the first `cut` times).
async fn listing(body: Vec<u8>, cut: usize) -> Replay {
    Replay::start(move |r, seen| {
        assert_eq!(r.path, LIST, "only listing calls expected");
        let reply = Reply::live(body.clone());
        if seen < cut {
            reply.cut_in_half()
        } else {
            reply
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_registers_on_the_vendors_add_answers() {
    // The add's documented success, and a success carrying `data: ""` (the vendor's example of a
    // sibling call) are both `registered`; the 10011 of the hackathon's notes is a refusal.
    let srv = Replay::start(|r, _| match r.param("sn") {
        "DATAEMPTY1" => Reply::live(capture(
            "datalogger_validate__success__VENDOR_DOC_EXAMPLE.json",
        )),
        "DENIED0001" => Reply::live(capture(
            "error__10011_permission_denied__hackathon_doc.json",
        )),
        _ => Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json")),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["VENDOROK01", "DATAEMPTY1", "DENIED0001"]);
    let out = run(&f, &srv.base_url(), &[]).await;
    assert_exit(&out, 3);
    let lines = read_results(&dir.path().join("fleet.results.csv"));
    let by_sn = |sn: &str| lines.iter().rfind(|l| l["sn"] == sn).unwrap().clone();
    for sn in ["VENDOROK01", "DATAEMPTY1"] {
        let l = by_sn(sn);
        assert_line(&l, "outcome=registered error_code=0");
        assert_eq!(l["attempts"], "1");
        assert_eq!(l["error_msg"], "");
    }
    let d = by_sn("DENIED0001");
    assert_eq!(
        (d["outcome"].as_str(), d["error_code"].as_str()),
        ("rejected", "10011"),
        "{d:?}"
    );
    assert_eq!(d["error_msg"], "error_permission_denied");
    // The client says which encodings it decodes.
    assert!(srv.reqs().iter().all(|r| r.has_token
        && r.accept_encoding
            .as_deref()
            .is_some_and(|a| a.contains("br"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_waits_out_the_observed_10012_then_registers() {
    let srv = Replay::start(|r, seen| {
        assert_eq!(r.path, ADD);
        if seen == 0 {
            Reply::live(capture(
                "error__10012_frequently_access__reported_observed.json",
            ))
        } else {
            Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json"))
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["THROTTLED1"]);
    let started = Instant::now();
    let out = run(&f, &srv.base_url(), &["--throttle-pause", "400ms"]).await;
    assert_exit(&out, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the row waited"
    );
    let l = last_line(dir.path());
    assert_line(&l, "outcome=registered error_code=0");
    assert_eq!(l["attempts"], "1", "a throttled request is not an attempt");
    assert_eq!(srv.count(ADD), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reads_the_live_six_row_listing_as_three_devices() {
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &LIVE_DEVICES).await;
    let srv = listing(capture("device_list__live_dup_types_count3_rows6.json"), 0).await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_said(&out, &["3 of 3 registered devices linked"]);
    assert!(!err.contains("claims more"), "{err}");
    assert_eq!(srv.count(LIST), 1, "one listing call for three devices");
    let lines = verify_lines(&dir.path().join("fleet.results.verify.csv"));
    assert_eq!(lines.len(), 3, "one line each: {lines:?}");
    for sn in LIVE_DEVICES {
        let l = lines.iter().find(|l| l["sn"] == sn).unwrap();
        assert_eq!(l["link_status"], "linked");
        // The type-1 row's status, not the type-4 shadow's -1.
        assert_eq!(l["device_status"], "0", "{l:?}");
    }
    let old = lines.iter().find(|l| l["sn"] == "LWJ0BK601J").unwrap();
    assert_eq!(old["last_update_time"], "2024-11-19 14:14:26");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_collectors_serial_with_the_devices_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &[LIVE_COLLECTOR, "NOTLISTED1"]).await;
    let srv = listing(capture("device_list__live_dup_types_count3_rows6.json"), 0).await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 3);
    assert_said(&out, &["1 of 2 registered devices linked, 1 still pending"]);
    assert_said(&out, &["row 2: XGD4A4821T is the collector (datalogger) serial of 2 devices on plant 42 (LWJ0BK601J, LXJEE5F001), not a device serial; counted as linked"]);
    assert_said(&out, &["1 row linked by the collector's serial"]);
    let lines = verify_lines(&dir.path().join("fleet.results.verify.csv"));
    let c = lines.iter().find(|l| l["sn"] == LIVE_COLLECTOR).unwrap();
    assert_eq!(c["link_status"], "linked", "{c:?}");
    assert_eq!(
        c["last_update_time"], "2025-04-11 11:03:48",
        "the latest behind it"
    );
    let p = lines.iter().find(|l| l["sn"] == "NOTLISTED1").unwrap();
    assert_eq!(p["link_status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_a_listing_that_claims_a_device_it_does_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &["EMPTYLIST1", "EMPTYLIST2"]).await;
    let srv = listing(
        capture("device_list__live_empty_devices_count1__ha171361.json"),
        0,
    )
    .await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert_said(&out, &["0 of 2 registered devices linked, 2 still pending"]);
    assert_eq!(srv.count(LIST), 1, "paging stops on the empty page");
    assert_eq!(
        err.matches("claims more devices than it lists").count(),
        1,
        "said once: {err}"
    );
    assert_said(&out, &["plant 42: 1 claimed, 0 listed"]);
    let lines = verify_lines(&dir.path().join("fleet.results.verify.csv"));
    assert!(
        lines.iter().all(|l| l["link_status"] == "pending"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_on_the_vendors_and_the_meter_listings() {
    // The vendor's example shows one of `count: 3` devices; the replay answers every page alike,
    // so the second page repeats the first and paging ends there.
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &["ZT00100001", "ZT00100002"]).await;
    let srv = listing(capture("device_list__VENDOR_DOC_EXAMPLE_truncated.json"), 0).await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 3);
    assert_said(&out, &["1 of 2 registered devices linked, 1 still pending"]);
    assert_said(&out, &["plant 42: 3 claimed, 1 listed"]);
    assert!(srv.count(LIST) <= 2, "{}", srv.count(LIST));

    // The meter row (no status, a string id) reads like any row; each real device once, with the
    // type-1 row's status.
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &["ABC1234567", "ABC2345678"]).await;
    let body = capture("device_list__meter_row_dup_types__ANONYMISED_MOCK_hackathon_doc.json");
    let srv = listing(body, 0).await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 0);
    let lines = verify_lines(&dir.path().join("fleet.results.verify.csv"));
    let a = lines.iter().find(|l| l["sn"] == "ABC1234567").unwrap();
    assert_eq!(
        (a["link_status"].as_str(), a["device_status"].as_str()),
        ("linked", "2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pull_decodes_a_brotli_plant_list_it_did_not_ask_for() {
    let plants = capture("plant_list__two_plants__ANONYMISED_MOCK_hackathon_doc.json");
    let srv = Replay::start(move |r, _| match r.path.as_str() {
        // Compressed whatever the request's Accept-Encoding says, as the live server did.
        PLANTS => Reply::live_brotli(&plants),
        USERS => Reply::live(USERS_BODY),
        other => panic!("unexpected {other}"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = pull(dir.path(), &srv.base_url()).await;
    assert_exit(&out, 0);
    assert_said(&out, &["2 plants, 1 users (complete)"]);
    assert_eq!(srv.count(PLANTS), 1, "one of the day's 10 listing calls");
    let cache = cache_file(dir.path());
    assert_eq!(cache["plants"]["1234567"], 1000000);
    assert_eq!(cache["plants"]["7654321"], 1000000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_pull_against_the_simulator_compressing_plant_list() {
    let sim = common::start_sim(common::SimConfig {
        brotli_plant_list: true,
        ..common::SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = pull(dir.path(), &sim.base_url()).await;
    assert_exit(&out, 0);
    let cache = cache_file(dir.path());
    let want = sim::Fixture::builtin().plants.len();
    assert!(
        cache["plants"].as_object().unwrap().len() >= want,
        "{cache}"
    );
}

use common::sim;

/// The one account cache file in `dir`.
fn cache_file(dir: &Path) -> serde_json::Value {
    let file = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a cache file");
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cut_off_mid_body_are_retried_never_misread() {
    // An add whose answer breaks off mid-chunk: retried; the retry's answer counts.
    let srv = Replay::start(|_, seen| {
        let r = Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json"));
        if seen == 0 {
            r.cut_in_half()
        } else {
            r
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let f = fleet(dir.path(), &["CUTOFF0001"]);
    let out = run(&f, &srv.base_url(), &[]).await;
    assert_exit(&out, 0);
    let l = last_line(dir.path());
    assert_line(&l, "outcome=registered attempts=2");

    // The live listing cut off twice, then whole: the rows are linked, never pending on half a page.
    let dir = tempfile::tempdir().unwrap();
    let results = registered(dir.path(), &LIVE_DEVICES).await;
    let srv = listing(capture("device_list__live_dup_types_count3_rows6.json"), 2).await;
    let out = verify(&results, &srv.base_url()).await;
    assert_exit(&out, 0);
    assert_eq!(srv.count(LIST), 3);

    // A Brotli plant/list cut off: the pull (one call a page, against the daily cap) ends, says
    // so in words, keeps nothing half-read, and the next pull completes.
    let plants = capture("plant_list__two_plants__ANONYMISED_MOCK_hackathon_doc.json");
    let srv = Replay::start(move |r, seen| match r.path.as_str() {
        PLANTS if seen == 0 => Reply::live_brotli(&plants).cut_in_half(),
        PLANTS => Reply::live_brotli(&plants),
        _ => Reply::live(USERS_BODY),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = pull(dir.path(), &srv.base_url()).await;
    assert_exit(&out, 1);
    assert_said(&out, &["v1/plant/list page 1 failed (the answer broke off"]);
    assert_said(&out, &["pull again later"]);
    assert_eq!(cache_file(dir.path())["plants"], serde_json::json!({}));
    let out = pull(dir.path(), &srv.base_url()).await;
    assert_exit(&out, 0);
    assert_eq!(
        cache_file(dir.path())["plants"].as_object().unwrap().len(),
        2
    );
}

/// A plant object as live, with 30 more fields of the kind clients report as undocumented.
fn wide_plant(i: usize) -> serde_json::Value {
    let mut p = serde_json::json!({
        "plant_id": 5_000_000 + i, "name": format!("Planta {i:03} con un nombre largo de instalación"),
        "country": "Colombia", "city": "Ciudad Ejemplo", "latitude": "4.7000000",
        "longitude": "-75.5000000", "peak_power": 100, "current_power": "0.0",
        "total_energy": "100000.0", "status": 1, "create_date": "2024-01-01", "locale": "en-US",
        "user_id": 1000000, "latitude_f": null, "latitude_d": null, "image_url": null,
        "operator": null, "installer": null,
    });
    for k in 0..30 {
        p[format!("undocumented_field_{k:02}")] =
            serde_json::json!(format!("value {k} of plant {i}"));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_past_64_kib_are_read() {
    // 100 plants of some 1.6 KB each: a page of about 160 KiB, which an add's cap would refuse.
    let plants: Vec<_> = (0..100).map(wide_plant).collect();
    let body = serde_json::json!({"error_msg": "", "data": {"count": 100, "plants": plants}, "error_code": 0})
        .to_string();
    assert!(body.len() > 128 * 1024, "{}", body.len());
    // 100 devices in 200 rows, each row with the same extra fields.
    let rows: Vec<_> = (0..100)
        .flat_map(|i| {
            [1, 4].map(|kind| {
                let mut r = wide_plant(i);
                r["device_sn"] = serde_json::json!(format!("WIDE{i:06}"));
                r["datalogger_sn"] = serde_json::json!(format!("DLWIDE{i:04}"));
                r["type"] = serde_json::json!(kind);
                r["status"] = serde_json::json!(if kind == 1 { 1 } else { -1 });
                r
            })
        })
        .collect();
    let devices = serde_json::json!({"error_msg": "", "data": {"devices": rows, "count": 100}, "error_code": 0})
        .to_string();
    assert!(devices.len() > 256 * 1024, "{}", devices.len());
    let srv = Replay::start(move |r, _| match r.path.as_str() {
        PLANTS => Reply::live(body.clone()),
        USERS => Reply::live(USERS_BODY),
        LIST => Reply::live(devices.clone()),
        _ => Reply::live(capture("device_sn_add__success__VENDOR_DOC_EXAMPLE.json")),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = pull(dir.path(), &srv.base_url()).await;
    assert_exit(&out, 0);
    assert_eq!(
        cache_file(dir.path())["plants"].as_object().unwrap().len(),
        100
    );

    let sns: Vec<String> = (0..100).map(|i| format!("WIDE{i:06}")).collect();
    let sns: Vec<&str> = sns.iter().map(String::as_str).collect();
    let f = fleet(dir.path(), &sns);
    assert_exit(&run(&f, &srv.base_url(), &[]).await, 0);
    let out = verify(&dir.path().join("fleet.results.csv"), &srv.base_url()).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("100 of 100 registered devices linked"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        srv.count(LIST),
        1,
        "200 rows cover the count of 100 devices"
    );
}
