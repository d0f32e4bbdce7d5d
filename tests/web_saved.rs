//! The page's saved settings through its JSON API: `growatt-onboard.toml` written beside a
//! fleet's copy, read back by `check` and `run` from the command line, a hand-edited file kept,
//! bad values refused in words, and the endpoint guarded as the other controls.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

/// The office's workbook (title rows above its header) as a new fleet, mapped on the page; the
/// fleet's id, its folder and the page's check of it.
async fn office_fleet(
    env: &TestEnv,
    page: &Page,
    devices: usize,
) -> (String, std::path::PathBuf, serde_json::Value) {
    let (s, v) = page.upload_office(env, devices).await;
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
    // The simulator knows no plant 1: every row sent is rejected, which needs a person (3).
    assert_exit(&out, 3);
    assert_eq!(env.sim().stats().requests, 6, "{}", stderr(&out));
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
