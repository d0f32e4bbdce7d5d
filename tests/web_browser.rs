//! The page of `growatt-onboard ui` in a real headless Chromium, driven through WebDriver
//! (Debian's `chromium` and `chromium-driver`): upload the sample workbook, check it, run it
//! against the simulator, stop and continue, verify, download the results, and look at the page
//! at 1280 and 420 pixels wide.
//!
//! Ignored by a plain `cargo test`; `.ci/run` installs Chromium and chromedriver and runs it with
//! `--ignored`, and there a missing browser or driver fails it.

mod common;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use common::*;
use webdriver::{browser_and_driver, Driver, Session};

/// The sample workbook: 300 rows, 288 to send, 7 invalid, 5 duplicate.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/fleet.xlsx");

/// Long enough for a loaded two-core machine; the waits end as soon as the page shows the thing.
const WAIT: Duration = Duration::from_secs(60);

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Chooses `path` in the page's file field and waits until the page names it (`name`) and shows
/// its column mapping.
async fn choose(s: &Session, path: &str, name: &str) {
    s.find("#file").await.send_keys(path).await;
    s.wait_for(
        &format!("the column mapping of {name}"),
        WAIT,
        "return !document.getElementById('mapping').hidden
            && document.getElementById('file-name').textContent;",
        |v| v == name,
    )
    .await;
}

/// Waits until the page's script has started.
async fn script_ready(s: &Session) {
    let ready = "return document.body.dataset.ready || '';";
    s.wait_for("the page's script", WAIT, ready, |v| v == "true")
        .await;
}

/// Clicks Check and waits until the page shows the check's counts.
async fn check_shown(s: &Session) {
    s.find("#check").await.click().await;
    let shown = "return !document.getElementById('check-result').hidden;";
    s.wait_for("the check's counts", WAIT, shown, |v| v == &json!(true))
        .await;
}

/// Clicks *Save these settings* (unless `state` is `loaded`), waits until the page says the
/// settings file is in that `state`, and returns what it says.
async fn saved_state(s: &Session, state: &str) -> String {
    if state != "loaded" {
        s.find("#save-settings").await.click().await;
    }
    let said = s
        .wait_for(
            &format!("the settings file {state}"),
            WAIT,
            &format!(
                "const e = document.getElementById('saved-state');
                 return e.dataset.state === '{state}' ? e.textContent : null;"
            ),
            |v| !v.is_null(),
        )
        .await;
    said.as_str().unwrap_or_default().to_string()
}

/// The state, rows done and the progress line the page shows.
async fn progress(s: &Session) -> (String, u64, String) {
    let v = s
        .js(
            "return [document.getElementById('state').dataset.state,
                     document.getElementById('progress-text').dataset.done || '0',
                     document.getElementById('progress-text').textContent];",
            json!([]),
        )
        .await;
    (
        v[0].as_str().unwrap_or_default().to_string(),
        v[1].as_str().unwrap_or("0").parse().unwrap_or(0),
        v[2].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until the page shows a state that passes `ok`, with rows done passing `rows`.
async fn wait_progress(
    s: &Session,
    what: &str,
    ok: impl Fn(&str) -> bool,
    rows: impl Fn(u64) -> bool,
) -> (String, u64, String) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let p = progress(s).await;
        if ok(&p.0) && rows(p.1) {
            return p;
        }
        assert!(Instant::now() < deadline, "{what}: the page shows {p:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fetches `url` in the page (with the page's cookie), as `[status, text]`.
async fn fetch_in_page(s: &Session, url: &str) -> (u64, String) {
    let v = s
        .js_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(async (r) => done([r.status, await r.text()]),
                                      (e) => done([0, String(e)]));",
            json!([url]),
        )
        .await;
    (
        v[0].as_u64().unwrap_or(0),
        v[1].as_str().unwrap_or_default().to_string(),
    )
}

/// The width the document takes and the viewport's, at the current viewport.
async fn widths(s: &Session) -> (u64, u64) {
    let v = s
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        )
        .await;
    (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
}

/// Each row's cells that say how it ended, from a results file's text.
fn outcomes_by_row(csv_text: &str) -> HashMap<u64, [String; 6]> {
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    // plant_id, sn, c_user_id, outcome, error_code, error_msg.
    let keys: [usize; 6] = std::array::from_fn(|i| col(growatt_onboard::journal::COLUMNS[i + 1]));
    let row = col("row");
    let mut m = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        m.insert(rec[row].parse().unwrap(), keys.map(|k| rec[k].to_string()));
    }
    m
}

/// The results `growatt-onboard run` writes for the sample workbook against a fresh simulator.
async fn cli_results() -> String {
    let env = TestEnv::start_default()
        .await
        .named("fleet.xlsx")
        .with_fleet(std::fs::read(SAMPLE).unwrap());
    assert_exit(&env.run(&["--rate", "500/s"]).await, 3);
    std::fs::read_to_string(&env.results).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; CI runs it with --ignored"]
async fn the_page_checks_runs_stops_continues_and_downloads_the_sample_fleet() {
    let (browser, driver) = browser_and_driver();
    let env = TestEnv::start_default().await;
    let sim = env.sim();

    let ui_started = unix_ms();
    let ui = Page::start(&env, &[]).await;
    let url = ui.url.clone();
    let url_printed = unix_ms();
    let driver = Driver::start(&driver).await;
    let profile = tempfile::tempdir().unwrap();
    let s = driver.session(&browser, profile.path()).await;

    // The key becomes a cookie and leaves the address.
    s.goto(&url).await;
    let here = s.current_url().await;
    assert!(
        !here.contains("key="),
        "the key stays in the address: {here}"
    );
    script_ready(&s).await;
    s.wait_for(
        "the token shown as set",
        WAIT,
        "return document.getElementById('token-state').dataset.set;",
        |v| v == "yes",
    )
    .await;
    // A mark that a reload would wipe: everything below happens in this one page.
    s.js("window.sameLoad = true;", json!([])).await;
    let server = s.text_of("server-label").await;
    assert!(server.contains(&sim.base_url()), "server shown: {server}");
    let header = s.js("return document.body.innerText;", json!([])).await;
    assert!(
        !header.as_str().unwrap().contains(&DEFAULT_TOKEN[..8]),
        "the page shows the token"
    );

    // The settings form: a token pasted (the same one) and the server as a base URL; the page
    // then says where the token came from, and never holds it again.
    s.find("#settings summary").await.click().await;
    s.find("#token").await.send_keys(DEFAULT_TOKEN).await;
    s.js(
        "const r = document.getElementById('region'); r.value = '';
         r.dispatchEvent(new Event('change'));
         document.getElementById('base-url').value = arguments[0];",
        json!([sim.base_url()]),
    )
    .await;
    s.find("#settings-save").await.click().await;
    s.wait_for(
        "the pasted token taken",
        WAIT,
        "return document.getElementById('token-state').textContent;",
        |v| v.as_str().unwrap_or("").contains("from the page"),
    )
    .await;
    let field = s
        .js("return document.getElementById('token').value;", json!([]))
        .await;
    assert_eq!(field, json!(""), "the token field is emptied");
    assert!(s.text_of("server-label").await.contains(&sim.base_url()));

    // A file without the columns: the check's refusal is shown beside it, in words.
    let odd = env.write("odd.csv", "alpha,beta,gamma\n1,ABC123,2\n");
    choose(&s, odd.to_str().unwrap(), "odd.csv").await;
    s.find("#check").await.click().await;
    let refusal = s
        .wait_for(
            "the check's refusal",
            WAIT,
            "const e = document.getElementById('check-error');
             return e.hidden ? null : e.textContent;",
            |v| !v.is_null(),
        )
        .await;
    let refusal = refusal.as_str().unwrap();
    assert!(refusal.contains("plant_id"), "{refusal}");
    assert!(refusal.contains("in the drop-downs above"), "{refusal}");
    assert!(!refusal.contains("{"), "plain words: {refusal}");
    eprintln!("the check refuses a file without the columns: {refusal}");

    // Fleet in: the file picker, the mapping pre-set, the preview, the check.
    let picked = unix_ms();
    s.find("#file").await.send_keys(SAMPLE).await;
    let mapping = s
        .wait_for(
            "the column mapping",
            WAIT,
            "const m = document.getElementById('mapping');
             const name = document.getElementById('file-name').textContent;
             return m.hidden || name !== 'fleet.xlsx' ? null : ['plant_id', 'sn', 'c_user_id']
               .map((k) => document.getElementById('col-' + k).value)
               .concat([document.querySelectorAll('#preview tbody tr').length]);",
            |v| !v.is_null(),
        )
        .await;
    assert_eq!(
        mapping,
        json!(["plant_id", "sn", "c_user_id", 5]),
        "mapping and preview"
    );
    check_shown(&s).await;
    let checked = unix_ms();
    for (id, n) in [
        ("check-rows", "300"),
        ("check-to_send", "288"),
        ("check-invalid", "7"),
        ("check-duplicate", "5"),
    ] {
        assert_eq!(s.text_of(id).await, n, "{id}");
    }
    let problems = s
        .js(
            "return document.querySelectorAll('#problems tbody tr').length;",
            json!([]),
        )
        .await;
    assert_eq!(problems, json!(12), "7 invalid and 5 duplicate rows listed");
    s.wait_for(
        "the fleet opened under Run, and listed",
        WAIT,
        "return !document.getElementById('run').hidden
            && document.querySelectorAll('#fleet-list .fleet').length === 1;",
        |v| v == &json!(true),
    )
    .await;

    // Run slowly enough to stop part-way, and save that pace with the mapping beside the fleet.
    s.find("#advanced summary").await.click().await;
    s.find("#rate").await.send_keys("20/s").await;
    let said = saved_state(&s, "saved").await;
    assert!(said.starts_with("Saved to "), "{said}");
    let id = s
        .js("return location.hash.slice('#fleet='.length);", json!([]))
        .await;
    let toml = ui
        .dir
        .join(id.as_str().unwrap())
        .join("growatt-onboard.toml");
    assert!(
        said.contains(&toml.display().to_string()),
        "says where: {said}"
    );
    let text = std::fs::read_to_string(&toml).unwrap();
    for line in ["rate = \"20/s\"", "sn = \"sn\"", "base-url = "] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    let clicked = unix_ms();
    s.find("#start").await.click().await;
    let (_, first_seen, _) =
        wait_progress(&s, "the run going", |st| st == "running", |n| n >= 20).await;
    let first_sent = sim
        .stats()
        .first_request_unix_ms
        .expect("the simulator saw a request");
    eprintln!(
        "ui start to first row sent: {} ms; URL printed after {} ms, the sample picked to its \
         check shown {} ms, the Start click to the first row sent {} ms (the rest is the browser \
         and the refused upload)",
        first_sent.saturating_sub(ui_started),
        url_printed.saturating_sub(ui_started),
        checked.saturating_sub(picked),
        first_sent.saturating_sub(clicked)
    );
    // Progress moves without a reload.
    wait_progress(
        &s,
        "progress moving",
        |st| st == "running",
        |n| n >= first_seen + 10,
    )
    .await;
    assert!(s.text_of("pace").await.contains("a second"));
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/ui");
    s.element_png("#run", 420, &shots.join("ui-running-420.png"))
        .await;
    s.find("#stop").await.click().await;
    let (state, stopped_at, text) = wait_progress(
        &s,
        "the run stopped",
        |st| st == "ready" || st == "finished",
        |_| true,
    )
    .await;
    assert!(stopped_at < 300, "stopped part-way, yet {text} ({state})");
    let why = s.text_of("stopped").await;
    assert!(
        why.starts_with("Stopped:"),
        "the page says why it stopped: {why}"
    );
    eprintln!("after Stop the page shows: {text}; {why}");
    let requests_at_stop = sim.stats().requests;

    // Start again: it continues to the end.
    s.find("#start").await.click().await;
    let (_, done, text) =
        wait_progress(&s, "the run ending", |st| st == "finished", |n| n == 300).await;
    assert!(text.contains("300 of 300"), "{text}");
    assert_eq!(done, 300);
    let stats = sim.stats();
    assert!(
        stats.requests > requests_at_stop,
        "the second run sent the rest"
    );
    // A new run sends rows rejected before again (as `run` does), never one that was registered.
    let twice: Vec<_> = stats
        .history_per_sn
        .iter()
        .filter(|(_, h)| h.len() > 1 && matches!(h[0].code, Some(0) | Some(10003)))
        .collect();
    assert!(twice.is_empty(), "registered, then sent again: {twice:?}");
    let mut counts = HashMap::new();
    for o in OUTCOMES {
        let shown = s.text_of(&format!("count-{o}")).await.replace(',', "");
        counts.insert(o, shown.parse::<u64>().unwrap());
    }
    assert_eq!(counts["invalid"], 7);
    assert_eq!(counts["duplicate"], 5);
    assert_eq!(counts.values().sum::<u64>(), 300, "{counts:?}");
    let groups = s
        .js(
            "return document.querySelectorAll('#attention .attention-group').length;",
            json!([]),
        )
        .await;
    assert!(
        groups.as_u64().unwrap() >= 2,
        "rows needing attention, grouped: {groups}"
    );

    // Verify.
    s.find("#verify").await.click().await;
    let linked = s
        .wait_for(
            "the verify counts",
            WAIT,
            "return document.getElementById('verify-result').hidden
               || document.getElementById('verify').disabled
               ? null : document.getElementById('verify-linked').textContent;",
            |v| !v.is_null(),
        )
        .await;
    let linked: u64 = linked.as_str().unwrap().parse().unwrap();
    assert!(linked > 0, "devices linked after the run");

    // Downloads: the results, byte for byte the fleet folder's file, and row for row what
    // `growatt-onboard run` writes for the same workbook.
    let href = s
        .js(
            "return document.getElementById('dl-results').getAttribute('href');",
            json!([]),
        )
        .await;
    let href = href.as_str().unwrap().to_string();
    let id = href
        .strip_prefix("/api/fleets/")
        .and_then(|r| r.strip_suffix("/results.csv"))
        .unwrap_or_else(|| panic!("results link {href}"))
        .to_string();
    let (status, downloaded) = fetch_in_page(&s, &href).await;
    assert_eq!(status, 200, "{downloaded}");
    let folder = ui.dir.join(&id);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(folder.join("fleet.json")).unwrap()).unwrap();
    let copy: PathBuf = folder.join(meta["file"].as_str().unwrap());
    let results = growatt_onboard::paths::Paths::of_input(&copy, None).results;
    let on_disk = std::fs::read_to_string(&results).unwrap();
    assert_eq!(downloaded, on_disk, "the download is the results file");
    let page_rows = outcomes_by_row(&downloaded);
    assert_eq!(page_rows.len(), 300);
    let cli_rows = outcomes_by_row(&cli_results().await);
    assert_eq!(
        page_rows, cli_rows,
        "the page's run and the command line's agree row for row"
    );
    for link in ["dl-xlsx", "dl-html", "dl-template"] {
        let href = s
            .js(
                "return document.getElementById(arguments[0]).getAttribute('href');",
                json!([link]),
            )
            .await;
        let (status, body) = fetch_in_page(&s, href.as_str().unwrap()).await;
        assert_eq!(status, 200, "{link}: {body}");
        assert!(!body.is_empty(), "{link}");
    }

    // The page at both widths: screenshots to look at, and no sideways scrolling.
    for width in [1280u32, 420] {
        s.full_page_png(width, &shots.join(format!("ui-{width}.png")))
            .await;
        let (scroll, inner) = widths(&s).await;
        assert_eq!(inner, u64::from(width), "the viewport is {width} px wide");
        assert!(
            scroll <= inner,
            "at {width} px the page is {scroll} px wide: it scrolls sideways"
        );
    }
    let same = s.js("return window.sameLoad === true;", json!([])).await;
    assert_eq!(same, json!(true), "the page was never reloaded");
    let dom = s
        .js("return document.documentElement.outerHTML;", json!([]))
        .await;
    assert!(
        !dom.as_str().unwrap().contains(&DEFAULT_TOKEN[..8]),
        "the page holds the token"
    );
    s.quit().await;
}

// A sheet LibreOffice wrote: the rows whose serial it may have damaged show beside the problem
// rows, in row order, each with a `warning` badge and its warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; CI runs it with --ignored"]
async fn the_page_shows_serial_warnings_beside_their_rows() {
    let (browser, driver) = browser_and_driver();
    let env = TestEnv::start_default().await;
    let ui = Page::start(&env, &[]).await;
    let driver = Driver::start(&driver).await;
    let profile = tempfile::tempdir().unwrap();
    let s = driver.session(&browser, profile.path()).await;
    s.goto(&ui.url).await;
    script_ready(&s).await;
    let sheet = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libreoffice/fleet.ods");
    choose(&s, sheet, "fleet.ods").await;
    check_shown(&s).await;
    let rows = s
        .js(
            "return [...document.querySelectorAll('#problems tbody tr')]
               .map((tr) => [...tr.cells].map((td) => td.textContent));",
            json!([]),
        )
        .await;
    let rows: Vec<(String, String, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let message = r[2].as_str().unwrap();
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                message.contains("compare it with the device label"),
            )
        })
        .collect();
    let want = [
        ("7", "warning", true),
        ("8", "warning", true),
        ("9", "invalid", false),
        ("10", "invalid", false),
        ("11", "warning", true),
        ("12", "warning", true),
    ]
    .map(|(r, o, w)| (r.to_string(), o.to_string(), w));
    assert_eq!(rows, want);
    let title = s.text_of("problems-title").await;
    assert!(
        title.contains("serials to compare with the device label (4)"),
        "{title}"
    );
}

// A settings file saved earlier: opening its fleet says it was loaded and fills the run form
// from it; a bad rate is refused beside the button, in words; a good one is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver; CI runs it with --ignored"]
async fn the_page_loads_saves_and_refuses_the_fleet_settings_file() {
    let (browser, driver) = browser_and_driver();
    let env = TestEnv::start_default().await;
    let ui = Page::start(&env, &[]).await;
    // The office's sheet, its title rows above the header.
    let (status, v) = ui.upload_office(&env, 4).await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let saved = format!("/api/fleets/{id}/saved");
    let (status, v) = ui
        .post(&saved, json!({"rate": "7/s", "concurrency": 2}))
        .await;
    assert_eq!(status, 201, "{v}");

    let driver = Driver::start(&driver).await;
    let profile = tempfile::tempdir().unwrap();
    let s = driver.session(&browser, profile.path()).await;
    s.goto(&ui.url).await;
    script_ready(&s).await;
    s.wait_for(
        "the fleet listed",
        WAIT,
        "return document.querySelectorAll('#fleet-list .fleet').length;",
        |v| v == &json!(1),
    )
    .await;
    s.find("#fleet-list .fleet").await.click().await;
    let said = saved_state(&s, "loaded").await;
    let toml = ui.dir.join(&id).join("growatt-onboard.toml");
    assert!(said.contains(&toml.display().to_string()), "{said}");
    let form = "return [document.getElementById('rate').value,
                        document.getElementById('concurrency').value];";
    assert_eq!(s.js(form, json!([])).await, json!(["7/s", "2"]));

    s.js("document.getElementById('rate').value = '';", json!([]))
        .await;
    s.find("#rate").await.send_keys("fast").await;
    s.find("#save-settings").await.click().await;
    let refusal = s
        .wait_for(
            "the bad rate refused",
            WAIT,
            "const e = document.getElementById('saved-error');
             return e.hidden ? null : e.textContent;",
            |v| !v.is_null(),
        )
        .await;
    let refusal = refusal.as_str().unwrap();
    assert!(refusal.contains("the rate: 'fast'"), "{refusal}");
    assert!(std::fs::read_to_string(&toml)
        .unwrap()
        .contains("rate = \"7/s\""));

    s.js("document.getElementById('rate').value = '';", json!([]))
        .await;
    s.find("#rate").await.send_keys("6/s").await;
    saved_state(&s, "saved").await;
    let hidden = s
        .js(
            "return document.getElementById('saved-error').hidden;",
            json!([]),
        )
        .await;
    assert_eq!(hidden, json!(true), "the refusal is gone once saved");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains("rate = \"6/s\""), "{text}");
    assert!(text.contains("sn = \"Serial No.\""), "{text}");
    s.quit().await;
}
