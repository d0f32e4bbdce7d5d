//! `report`: the text summary, the HTML page, and the page as headless Chromium renders it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The outcomes the demo's fleet ends in.
const DEMO_OUTCOMES: [&str; 5] = [
    "registered",
    "already_registered",
    "rejected",
    "invalid",
    "duplicate",
];

/// A world the demo ran in: its fleet, results, reports and verify file.
async fn demo_world() -> TestEnv {
    let env = TestEnv::offline().named("fleet.csv");
    let demo = ["demo", "--dir", arg(env.dir()), "--rate", "300/s"];
    assert_exit(&run_no_token(&demo).await, 0);
    env
}

/// `report RESULTS --html PAGE` (with no token, which a report does not need): the page's path.
async fn html_report(env: &TestEnv) -> PathBuf {
    let html = env.path("report.html");
    let out = run_no_token(&["report", arg(&env.results), "--html", arg(&html)]).await;
    assert_exit(&out, 3);
    html
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_report_counts_match_the_results_and_give_advice() {
    let env = demo_world().await;
    let lines = env.lines();
    let out = run_no_token(&["report", arg(&env.results)]).await;
    assert_exit(&out, 3);
    let text = stdout(&out);
    for outcome in DEMO_OUTCOMES {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{outcome} ")))
            .unwrap_or_else(|| panic!("no {outcome} line in {text}"));
        let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(n, count(&lines, outcome), "{outcome}");
    }
    assert_printed(&out, &["check the plant id in ShineServer"]);
    assert_printed(&out, &["Run history:", "Links (from verify)"]);
}

/// Headless Chromium, as Debian installs it. This test is ignored by a plain `cargo test`;
/// `.ci/run` installs Chromium and runs it with `--ignored`, and there a missing browser fails it.
fn chromium() -> PathBuf {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|c| c.exists())
    .expect("this test needs Chromium (Debian: apt-get install chromium)")
}

/// Headless Chromium with a throwaway profile (kept while the returned folder lives) and none of
/// its own network traffic.
fn headless() -> (Command, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    (cmd, profile)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium; .ci/run installs it and runs the ignored tests"]
async fn html_report_renders_the_counts_in_chromium() {
    let env = demo_world().await;
    let lines = env.lines();
    let html = html_report(&env).await;
    let page = std::fs::read_to_string(&html).unwrap();
    for external in ["src=", "href=", "url(", "@import", "<script"] {
        assert!(!page.contains(external), "self-contained: found {external}");
    }

    let (mut browser, _profile) = headless();
    let dom = browser
        .arg("--disable-quic")
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let ok = dom.status.success();
    assert!(ok, "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    for outcome in DEMO_OUTCOMES {
        let needle = format!("id=\"count-{outcome}\"");
        let at = dom
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle} not rendered"));
        let shown: String = dom[at..]
            .split('>')
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(shown, count(&lines, outcome).to_string(), "{outcome}");
    }
    assert!(dom.contains("<svg id=\"outcomes-chart\""));
    assert!(dom.contains("check the end-user id"));
}

/// The cells of the first sheet of an .xlsx, as calamine reads them.
fn xlsx_cells(path: &Path) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    assert_eq!(book.sheet_names(), vec!["results".to_string()]);
    let range = book.worksheet_range("results").unwrap();
    range.rows().map(<[calamine::Data]>::to_vec).collect()
}

/// The sheet's own XML, for what calamine does not read (frozen panes, autofilter).
fn sheet_xml(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    xml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_report_holds_the_latest_line_per_row_as_typed_cells() {
    use calamine::Data;
    let env = TestEnv::offline();
    let results = env.write(
        "f.results.csv",
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,0012,00A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
         3,9,1234567890123,5,rejected,10004,plant does not exist,1,200,3,2026-01-01T00:00:00.000Z\n\
         4,1,A3,5,failed,10001,gave up,5,200,3,2026-01-01T00:00:00.000Z\n\
         4,1,A3,5,registered,0,,2,200,3,2026-01-02T00:00:00.000Z\n\
         5,'-1004,B1,5,invalid,,plant_id '-1004' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n",
    );
    env.write(
        "f.results.verify.csv",
        "row,plant_id,sn,link_status,device_status,last_update_time,checked_at\n\
         2,0012,00A1,linked,1,2026-01-01 10:00:00,2026-01-03T00:00:00.000Z\n\
         4,1,A3,pending,,,2026-01-03T00:00:00.000Z\n",
    );
    let xlsx = env.path("out.xlsx");
    let out = run_no_token(&["report", arg(&results), "--xlsx", arg(&xlsx)]).await;
    assert_exit(&out, 3);
    let cells = xlsx_cells(&xlsx);
    let s = |t: &str| Data::String(t.to_string());
    assert_eq!(
        cells[0],
        [
            "row",
            "plant_id",
            "sn",
            "c_user_id",
            "outcome",
            "code",
            "message",
            "what to do",
            "attempts",
            "finished (UTC)",
            "link status"
        ]
        .map(s)
    );
    assert_eq!(cells.len(), 5, "one line per row, the latest: {cells:?}");
    // Ids and serials are text, leading zeros and long digits intact; numbers are numbers.
    assert_eq!(cells[1][0], Data::Float(2.0));
    assert_eq!(cells[1][1], s("0012"));
    assert_eq!(cells[1][2], s("00A1"));
    assert_eq!(cells[1][4], s("registered"));
    assert_eq!(cells[1][5], Data::Float(0.0));
    assert_eq!(cells[1][10], s("linked"));
    assert_eq!(cells[2][2], s("1234567890123"));
    assert_eq!(cells[2][5], Data::Float(10004.0));
    assert_eq!(cells[2][7], s("check the plant id in ShineServer"));
    assert_eq!(cells[2][10], Data::Empty, "not verified: not registered");
    assert_eq!(cells[3][4], s("registered"), "row 4's later line wins");
    assert_eq!(cells[3][8], Data::Float(2.0));
    assert_eq!(cells[3][10], s("pending"));
    // The CSV's formula guard is not shown: a text cell is never a formula in a workbook.
    assert_eq!(cells[4][1], s("-1004"));
    assert_eq!(cells[4][4], s("invalid"));
    assert_eq!(cells[4][5], Data::Empty);
    let xml = sheet_xml(&xlsx);
    assert!(xml.contains("state=\"frozen\""), "header frozen: {xml}");
    assert!(
        xml.contains("<autoFilter ref=\"A1:K5\""),
        "autofilter: {xml}"
    );
    assert!(!xml.contains("<f>"), "no formulas");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_writes_the_xlsx_report_too() {
    let env = demo_world().await;
    let lines = env.latest();
    let cells = xlsx_cells(&env.path("report.xlsx"));
    assert_eq!(cells.len(), lines.len() + 1);
    let rejected = cells
        .iter()
        .filter(|r| r[4] == calamine::Data::String("rejected".into()))
        .count();
    assert_eq!(
        rejected,
        lines
            .values()
            .filter(|l| l["outcome"] == "rejected")
            .count()
    );
    assert!(cells[0].contains(&calamine::Data::String("link status".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_file_given_for_the_results_is_named_as_such() {
    let env = TestEnv::offline()
        .named("fleet.csv")
        .with_fleet(good_fleet(3));
    let before = std::fs::read(&env.fleet).unwrap();
    let f = arg(&env.fleet);
    for args in [
        vec!["report", f],
        vec!["report", f, "--xlsx", "r.xlsx"],
        vec!["verify", f, "--base-url", "http://127.0.0.1:9"],
        vec!["run", f, "-o", f, "--base-url", "http://127.0.0.1:9"],
    ] {
        let out = run_bin(&args).await;
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("fleet.csv looks like your fleet file, not a results file; pass")
                && err.contains("fleet.results.csv"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("--restart") && !err.contains("-o "),
            "{args:?}: {err}"
        );
    }
    let after = std::fs::read(&env.fleet).unwrap();
    assert_eq!(after, before, "the fleet is untouched");
    // A workbook passed to report is a fleet too.
    let out = run_no_token(&["report", "samples/fleet.xlsx"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["looks like your fleet file"]);
}

/// What the page measures in Chromium, shown in an iframe `width` pixels wide: the document's
/// scroll width and the frame's inner width.
fn measure_in_chromium(dir: &Path, page: &Path, width: u32) -> (u64, u64) {
    let harness = dir.join(format!("harness-{width}.html"));
    std::fs::write(
        &harness,
        format!(
            "<!DOCTYPE html><html><head><style>body{{margin:0}}iframe{{border:0;width:{width}px;height:3000px;display:block}}</style></head><body><iframe id=\"f\" src=\"{}\"></iframe><script>document.getElementById('f').addEventListener('load',()=>{{const w=document.getElementById('f').contentWindow;const p=document.createElement('pre');p.id='probe';p.textContent=w.document.documentElement.scrollWidth+' '+w.innerWidth;document.body.appendChild(p);}});</script></body></html>",
            page.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let window = format!("--window-size={},3000", width.max(500) + 20);
    let run = |extra: &[String]| {
        let (mut browser, _profile) = headless();
        browser
            .args(["--hide-scrollbars", "--allow-file-access-from-files"])
            .arg(&window)
            .args(extra)
            .arg(format!("file://{}", harness.display()))
            .output()
            .expect("chromium runs")
    };
    // A screenshot to look at: target/tmp/report-1280.png, target/tmp/report-420.png.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{width}.png"));
    let _ = std::fs::remove_file(&shot);
    let out = run(&[format!("--screenshot={}", shot.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot"
    );
    let out = run(&["--dump-dom".to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let probe = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap_or_else(|| panic!("no measurement in {dom}"));
    let mut n = probe.split(' ').map(|v| v.parse::<u64>().unwrap());
    (n.next().unwrap(), n.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium; .ci/run installs it and runs the ignored tests"]
async fn html_report_fits_1280_and_420_pixels_without_sideways_scrolling() {
    let env = demo_world().await;
    // Cells that do not wrap by themselves: a 64-character serial and a long message without
    // spaces, and a cell the CSV guards against formulas.
    let mut text = std::fs::read_to_string(&env.results).unwrap();
    text.push_str(&format!(
        "400,'-1004,{},501,invalid,,{},0,,,2026-01-01T00:00:00.000Z\n",
        "S".repeat(64),
        "x".repeat(300)
    ));
    std::fs::write(&env.results, text).unwrap();
    // Without its fleet the report lists every line of the results, row 400 among the rows
    // needing attention, under the long note that it cannot tell what the fleet holds.
    std::fs::remove_file(&env.fleet).unwrap();
    let html = html_report(&env).await;
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(&"x".repeat(300)), "row 400 is in the table");
    assert!(page.contains("cannot tell which rows are still in the fleet"));
    assert!(page.contains("name=\"viewport\""));
    assert!(!page.contains(">&#39;-1004<"), "no formula guard shown");
    for width in [1280, 420] {
        let (scroll, inner) = measure_in_chromium(env.dir(), &html, width);
        assert_eq!(inner, u64::from(width), "the frame is {width} px wide");
        assert!(
            scroll <= inner,
            "at {width} px the page is {scroll} px wide: it scrolls sideways"
        );
    }
}
