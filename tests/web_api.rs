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
