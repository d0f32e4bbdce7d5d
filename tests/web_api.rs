//! `growatt-onboard ui`'s contract (docs/ui.md), through its JSON API: the key, Host and Origin,
//! loopback only, the upload cap, one job per fleet, fleets kept across a restart, the token never
//! sent back, and a page-driven run that writes what `run` writes.

mod common;

use std::path::Path;

use common::*;
use reqwest::Method;
use serde_json::json;

/// Every route, for the checks that hold for all of them.
const ROUTES: [&str; 8] = [
    "/",
    "/assets/app.js",
    "/api/settings",
    "/api/fleets",
    "/api/fleets/x/results.csv",
    "/api/fleets/x/events",
    "/api/fleets/x/report.html",
    "/template.xlsx",
];

#[tokio::test]
async fn without_the_key_every_route_answers_401_and_the_printed_address_sets_the_cookie() {
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &[]).await;
    assert!(page.url.starts_with("http://127.0.0.1:"), "{}", page.url);
    for route in ROUTES {
        let r = page.bare(Method::GET, route).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{route}");
        let wrong = page.bare(Method::GET, route).bearer_auth("0".repeat(32));
        assert_eq!(
            wrong.send().await.unwrap().status().as_u16(),
            401,
            "{route}"
        );
    }
    let (s, _) = answer(page.bare(Method::POST, "/api/fleets/x/run")).await;
    assert_eq!(s, 401);

    // The address's key becomes an HttpOnly, SameSite=Strict cookie, and leaves the address.
    let no_redirect = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(&page.url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", &page.key] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = no_redirect
        .get(format!("{}/api/fleets", page.base))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status().as_u16(), 200);
    let wrong = no_redirect
        .get(format!("{}/?key={}", page.base, "f".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    // The page's own answers carry the policy that keeps every asset embedded.
    let r = page.req(Method::GET, "/").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_refused() {
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &[]).await;
    let port = page.port();
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".into(),
        format!("127.0.0.1:{}", port + 1),
    ] {
        let (s, v) = answer(page.req(Method::GET, "/api/fleets").header("host", &host)).await;
        assert_eq!(s, 421, "{host}: {v}");
    }
    for host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        let (s, _) = answer(page.req(Method::GET, "/api/fleets").header("host", &host)).await;
        assert_eq!(s, 200, "{host}");
    }
    let id = page
        .add(&env.write("f.csv", "plant_id,sn,c_user_id\n1001,XX00000001,501\n"))
        .await;
    let run = format!("/api/fleets/{id}/stop");
    let (s, v) = answer(
        page.req(Method::POST, &run)
            .header("origin", "http://evil.example"),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("another site"), "{v}");
    let own = format!("http://127.0.0.1:{port}");
    let (s, _) = answer(page.req(Method::POST, &run).header("origin", own)).await;
    assert_eq!(s, 202);
}

#[tokio::test]
async fn the_page_listens_on_loopback_only() {
    let env = TestEnv::offline();
    for addr in ["0.0.0.0:0", "192.0.2.1:8080"] {
        let out = env
            .bin(&["ui", "--no-open", "--listen", addr])
            .output()
            .await;
        assert_exit(&out, 2);
        assert_said(&out, &["loopback only"]);
        assert!(stdout(&out).is_empty(), "no address printed");
    }
}

#[tokio::test]
async fn an_upload_past_the_cap_is_refused_before_it_is_read_and_nothing_is_kept() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &[]).await;
    // 65 MiB announced, a few bytes sent: the answer comes without the rest.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", page.port()))
        .await
        .unwrap();
    let head = format!(
        "POST /api/fleets HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\n\r\n--b\r\n",
        page.port(),
        page.key,
        65u64 << 20
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("64 MiB"), "{text}");
    let (_, list) = page.get("/api/fleets").await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn the_sample_workbook_checks_as_the_command_line_does_and_a_missing_column_gets_a_mapping() {
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &[]).await;
    let (s, v) = page
        .upload("/api/fleets", Path::new("samples/fleet.xlsx"), &[])
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["rows"].as_u64(), v["to_send"].as_u64()),
        (Some(300), Some(288))
    );
    assert_eq!(
        (v["invalid"].as_u64(), v["duplicate"].as_u64()),
        (Some(7), Some(5))
    );
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 12);
    assert_eq!(problems[0]["row"], 31);

    let odd = env.write(
        "odd.csv",
        "Plant ID,Serial number,Customer\n1001,XX00000001,501\n",
    );
    let (s, v) = page.upload("/api/inspect", &odd, &[]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["mapping"]["sn"], "Serial number");
    assert_eq!(v["rows"][0][1], "XX00000001");
    let (s, v) = page.upload("/api/fleets", &odd, &[]).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["suggestion"].as_str().unwrap().contains("Serial number"),
        "{v}"
    );
    let columns = [
        ("column", "plant_id=Plant ID"),
        ("column", "sn=Serial number"),
        ("column", "c_user_id=Customer"),
    ];
    let (s, v) = page.upload("/api/fleets", &odd, &columns).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["to_send"], 1);
    let (_, list) = page.get("/api/fleets").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "the refused upload is not kept: {list}"
    );
}

#[tokio::test]
async fn a_second_run_is_refused_while_one_holds_the_results_also_one_from_the_command_line() {
    let env = TestEnv::big_world(40, slow(ms(400))).await;
    let page = Page::start(&env, &[]).await;
    let id = page.add(&env.fleet).await;
    let run = format!("/api/fleets/{id}/run");
    let (s, _) = page.post(&run, json!({"rate": "5/s"})).await;
    assert_eq!(s, 202);
    let (s, v) = page.post(&run, json!({})).await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = page
        .post(&format!("/api/fleets/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 409, "{v}");
    // The command line on the same results waits its turn too.
    page.wait(&id, "the page's run to start sending", |v| {
        v["requests"].as_u64() > Some(0)
    })
    .await;
    let folder = page.dir.join(&id);
    let out = env
        .bin(&["run", arg(&folder.join("f.csv")), "--base-url", &env.base()])
        .output()
        .await;
    assert_exit(&out, 1);
    assert_said(&out, &["another"]);
    let (s, _) = page
        .post(&format!("/api/fleets/{id}/stop"), json!({}))
        .await;
    assert_eq!(s, 202);
    let v = page
        .wait(&id, "the stop to end the run", |v| v["state"] == "finished")
        .await;
    assert_eq!(v["exit_code"], 130, "{v}");
}

#[tokio::test]
async fn stop_acts_as_ctrl_c_and_the_next_run_continues_to_the_end() {
    let env = TestEnv::big_world(60, slow(ms(100))).await;
    let page = Page::start(&env, &[]).await;
    let id = page.add(&env.fleet).await;
    let (s, _) = page
        .post(&format!("/api/fleets/{id}/run"), json!({"rate": "20/s"}))
        .await;
    assert_eq!(s, 202);
    page.wait(&id, "some rows to end", |v| {
        v["rows_done"].as_u64() >= Some(5)
    })
    .await;
    page.post(&format!("/api/fleets/{id}/stop"), json!({}))
        .await;
    let stopped = page
        .wait(&id, "the run to stop", |v| v["state"] == "finished")
        .await;
    assert_eq!(stopped["exit_code"], 130);
    let results = page.dir.join(&id).join("f.results.csv");
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(text.ends_with('\n'), "whole lines only");
    let ended = read_results(&results).len();
    assert!(ended < 60, "stopped before the end: {ended}");
    let done = page.run_to_end(&id, json!({"rate": "50/s"})).await;
    assert_eq!(done["exit_code"], 0, "{done}");
    assert_eq!(done["counts"]["registered"], 60, "{done}");
    let lines = read_results(&results);
    assert_eq!(lines.len(), 60, "no row sent twice");
}

#[tokio::test]
async fn fleets_and_their_state_outlast_a_restart_of_the_server() {
    let env = TestEnv::start_default().await;
    let mut page = Page::start(&env, &[]).await;
    let id = page.add(&env.write("f.csv", good_fleet(8))).await;
    let other = page.add(&env.write("g.csv", good_fleet(3))).await;
    page.run_to_end(&id, json!({"rate": "50/s"})).await;
    page.kill().await;
    let page = Page::start(&env, &[]).await;
    let (s, list) = page.get("/api/fleets").await;
    assert_eq!(s, 200);
    let find = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(find(&id)["state"], "finished", "{list}");
    assert_eq!(find(&id)["counts"]["registered"], 8, "{list}");
    assert_eq!(find(&other)["state"], "ready", "{list}");
    let (_, v) = page.get(&format!("/api/fleets/{id}")).await;
    assert_eq!(v["exit_code"], 0, "{v}");
    // The command line reads the same folder.
    let out = env
        .bin(&["report", arg(&page.dir.join(&id).join("f.results.csv"))])
        .output()
        .await;
    assert_exit(&out, 0);
}

#[tokio::test]
async fn the_token_is_never_sent_back_in_any_form() {
    let env = TestEnv::start_default().await;
    let page = Page::start_with(&env, Bin::new(["ui"]).token(None), &[]).await;
    let (_, v) = page.get("/api/settings").await;
    assert_eq!(v["token_set"], false);
    let id = page.add(&env.write("f.csv", good_fleet(5))).await;
    let (s, v) = page.post(&format!("/api/fleets/{id}/run"), json!({})).await;
    assert_eq!(s, 400, "no token yet: {v}");
    let (s, v) = page
        .post("/api/settings", json!({"token": DEFAULT_TOKEN}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["token_set"].clone(), v["token_source"].clone()),
        (json!(true), json!("page"))
    );
    page.run_to_end(&id, json!({"rate": "50/s"})).await;
    let (s, _) = page
        .post(&format!("/api/fleets/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 202);
    page.wait(&id, "verify to end", |v| v["verifying"] == false)
        .await;
    let mut seen = String::new();
    for route in [
        "/api/settings",
        "/api/fleets",
        &format!("/api/fleets/{id}"),
        &format!("/api/fleets/{id}/results.csv"),
        &format!("/api/fleets/{id}/report.html"),
        "/",
        "/assets/app.js",
    ] {
        let r = page.req(Method::GET, route).send().await.unwrap();
        seen.push_str(&format!("{:?}", r.headers()));
        seen.push_str(&r.text().await.unwrap());
    }
    let events = page
        .req(Method::GET, &format!("/api/fleets/{id}/events"))
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), events.bytes()).await;
    if let Ok(Ok(b)) = first {
        seen.push_str(&String::from_utf8_lossy(&b));
    }
    for w in DEFAULT_TOKEN.as_bytes().windows(8) {
        let w = std::str::from_utf8(w).unwrap();
        assert!(
            !seen.contains(w),
            "8 characters of the token came back: {w}"
        );
    }
    assert!(seen.contains("registered"), "the answers were read");
    for file in walk(&page.dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(DEFAULT_TOKEN),
            "{}",
            file.display()
        );
    }
}

#[tokio::test]
async fn a_page_driven_run_writes_what_the_command_line_writes() {
    let fleet = std::fs::read_to_string("samples/fleet.csv").unwrap();
    let cli = TestEnv::start_default().await.with_fleet(&fleet);
    let out = cli.run(&["--rate", "100/s", "--concurrency", "4"]).await;
    assert_exit(&out, 3);
    let web = TestEnv::start_default().await;
    let page = Page::start(&web, &["--concurrency", "4"]).await;
    let id = page.add(&web.write("f.csv", &fleet)).await;
    let done = page.run_to_end(&id, json!({"rate": "100/s"})).await;
    assert_eq!(done["exit_code"], 3, "{done}");
    let page_results = page.dir.join(&id).join("f.results.csv");
    // Every column but the timing of the last attempt.
    let timing = ["http_status", "latency_ms", "finished_at"];
    let key = |l: &Line| -> Vec<String> {
        growatt_onboard::journal::COLUMNS
            .iter()
            .filter(|c| !timing.contains(c))
            .map(|c| l[*c].clone())
            .collect()
    };
    let mut a: Vec<_> = cli.lines().iter().map(key).collect();
    let mut b: Vec<_> = read_results(&page_results).iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a.len(), 300);
    assert_eq!(a, b, "row for row the same results");
    // The downloads are the files the command line reads and writes.
    let csv = page
        .req(Method::GET, &format!("/api/fleets/{id}/results.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        csv.bytes().await.unwrap().to_vec(),
        std::fs::read(&page_results).unwrap()
    );
    let xlsx = page
        .req(Method::GET, &format!("/api/fleets/{id}/report.xlsx"))
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status().as_u16(), 200);
    let downloaded = xlsx.bytes().await.unwrap().to_vec();
    let written = web.path("cli.xlsx");
    let out = web
        .bin(&["report", arg(&page_results), "--xlsx", arg(&written)])
        .output()
        .await;
    assert_exit(&out, 3);
    assert_eq!(
        sheet_xml(&downloaded),
        sheet_xml(&std::fs::read(&written).unwrap())
    );
    let (s, _) = answer(page.req(Method::GET, "/template.xlsx")).await;
    assert_eq!(s, 200);
}

/// The first worksheet's XML of a workbook (the parts that do not carry a creation time).
fn sheet_xml(xlsx: &[u8]) -> String {
    use std::io::Read as _;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut s = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The office's workbook as a new fleet, mapped on the page; the fleet's id, its folder and the
/// page's check of it.
// The office sheet without its title rows: a header on the first row (the title rows are for the
// header search the sheet reader does not make yet).
async fn office_fleet(
    env: &TestEnv,
    page: &Page,
    devices: usize,
) -> (String, std::path::PathBuf, serde_json::Value) {
    let mut book = common::book::Book::office(devices);
    book.rows.drain(0..3);
    let file = env.path("office.xlsx");
    book.write(&file);
    let columns: Vec<(&str, &str)> = common::book::OFFICE_COLUMNS
        .chunks(2)
        .map(|flag| ("column", flag[1]))
        .collect();
    let (s, v) = page.upload("/api/fleets", &file, &columns).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["to_send"], devices, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let folder = page.dir.join(&id);
    (id, folder, v)
}

#[tokio::test]
async fn the_page_saves_the_settings_file_that_check_and_run_read_from_the_command_line() {
    let env = TestEnv::start_default().await;
    let token_file = env.write("token.txt", DEFAULT_TOKEN);
    let page = Page::start_with(
        &env,
        Bin::new(["ui"]).token(None),
        &["--token-file", arg(&token_file)],
    )
    .await;
    let (id, folder, checked) = office_fleet(&env, &page, 6).await;
    let copy = folder.join("office.xlsx");
    let saved = format!("/api/fleets/{id}/saved");
    let (s, v) = page.get(&saved).await;
    assert_eq!((s, v["exists"].clone()), (200, json!(false)), "{v}");
    // Without the file, the command line cannot map the office's header.
    let check = || env.bin(&["check", arg(&copy)]).token(None).output();
    assert_exit(&check().await, 1);

    // Bad values are refused in words, and nothing is written.
    for (body, words) in [
        (json!({"rate": "fast"}), "the rate: 'fast'"),
        (json!({"concurrency": 0}), "between 1 and 1024"),
        (
            json!({"columns": {"plant_id": "serial no."}}),
            "the column 'serial no.' is chosen for both plant_id and sn",
        ),
        (
            json!({"columns": {"serial": "Notes"}}),
            "'serial' is not one of",
        ),
        (json!({"region": "mars"}), "'mars' is not a region"),
    ] {
        let (s, v) = page.post(&saved, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(words), "{body}: {e}");
    }
    assert!(!folder.join("growatt-onboard.toml").exists());

    let (s, v) = page
        .post(&saved, json!({"rate": "5/s", "concurrency": 3}))
        .await;
    assert_eq!(s, 201, "{v}");
    let path = folder.join("growatt-onboard.toml");
    assert_eq!(v["path"], arg(&path), "it says where it wrote: {v}");
    assert_eq!(v["saved"], true);
    let held = &v["settings"];
    assert_eq!(
        (held["rate"].clone(), held["concurrency"].clone()),
        (json!("5/s"), json!("3"))
    );
    assert_eq!(held["columns"]["sn"], "Serial No.", "{v}");
    assert_eq!(
        held["base_url"].as_str().unwrap().trim_end_matches('/'),
        env.base()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("token-file = \"{}\"", arg(&token_file))),
        "{text}"
    );
    for seen in [&text, &v.to_string()] {
        assert!(
            !seen.contains(&DEFAULT_TOKEN[..8]),
            "the token was saved: {seen}"
        );
    }

    // The command line reads it: the same mapping (the counts of the page's check), the server
    // and the token's file.
    let exit = if checked["invalid"] == 0 { 0 } else { 3 };
    let out = check().await;
    assert_exit(&out, exit);
    assert_said(&out, &[&format!("settings from {}", path.display())]);
    let counts = format!(
        "{} rows: 6 to send, {} invalid, 0 duplicate",
        checked["rows"], checked["invalid"]
    );
    assert_printed(&out, &[&counts]);
    let out = env.bin(&["run", arg(&copy)]).token(None).output().await;
    assert_exit(&out, exit);
    assert_eq!(env.sim().stats().requests, 6, "{}", stderr(&out));
    // The simulator knows no plant 1: each row was answered (rejected), so each reached it.
    let (_, v) = page.get(&format!("/api/fleets/{id}")).await;
    let sent = ["registered", "rejected"].map(|o| v["counts"][o].as_u64().unwrap());
    assert_eq!(sent.iter().sum::<u64>(), 6, "the page sees the run: {v}");
}

#[tokio::test]
async fn saving_keeps_a_hand_edited_file_and_replaces_one_it_cannot_keep_only_when_asked() {
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &["--rate", "3/s"]).await;
    let (id, folder, _) = office_fleet(&env, &page, 2).await;
    let saved = format!("/api/fleets/{id}/saved");
    let path = folder.join("growatt-onboard.toml");
    let by_hand = "# night shift\nrate = \"1/s\"  # slow at night\ntimeout = \"20s\"\n\n[columns]\nsn = \"Serial No.\"\n";
    std::fs::write(&path, by_hand).unwrap();
    let (_, v) = page.get(&saved).await;
    assert_eq!(v["exists"], true, "{v}");
    assert_eq!(
        v["settings"]["rate"], "1/s",
        "the page fills its form from it: {v}"
    );
    assert_eq!(v["settings"]["other"], json!(["timeout"]));

    let (s, v) = page.post(&saved, json!({"rate": "4/s"})).await;
    assert_eq!(s, 200, "{v}");
    let text = std::fs::read_to_string(&path).unwrap();
    for kept in [
        "# night shift\n",
        "rate = \"4/s\"  # slow at night\n",
        "timeout = \"20s\"\n",
        "concurrency = 4\n",
        "plant_id = \"Plant ID\"\n",
    ] {
        assert!(text.contains(kept), "{kept:?} in:\n{text}");
    }
    // Nothing is left beside it: the file was written whole and renamed into place.
    let names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    // No rate asked for: the one `ui` started with.
    let (_, v) = page.post(&saved, json!({})).await;
    assert_eq!(v["settings"]["rate"], "3/s", "{v}");

    // A file that is not TOML is not clobbered: the page is told, and asked.
    std::fs::write(&path, "rate = [\n").unwrap();
    let (_, v) = page.get(&saved).await;
    assert!(
        v["problem"].as_str().unwrap().contains("not valid TOML"),
        "{v}"
    );
    let (s, v) = page.post(&saved, json!({})).await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not valid TOML"),
        "{v}"
    );
    assert!(v["suggestion"].as_str().unwrap().contains("replace"), "{v}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "rate = [\n");
    let (s, v) = page.post(&saved, json!({"replace": true})).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["problem"].is_null(), "{v}");

    // Guarded as the other controls: the key, the Origin, a small JSON body.
    let (s, _) = answer(page.bare(Method::POST, &saved).body("{}")).await;
    assert_eq!(s, 401);
    let foreign = page
        .req(Method::POST, &saved)
        .header("origin", "http://evil.example")
        .body("{}");
    assert_eq!(answer(foreign).await.0, 403);
    let big = json!({ "sheet": "x".repeat(20 * 1024) });
    let (s, v) = page.post(&saved, big).await;
    assert_eq!(s, 413, "{v}");
    assert!(v["error"].as_str().unwrap().contains("16 KiB"), "{v}");
    let (s, v) = page.post(&saved, json!("rate")).await;
    assert_eq!(s, 400, "{v}");
}
