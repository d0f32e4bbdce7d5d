//! Files a real spreadsheet program wrote (`tests/libreoffice/`: LibreOffice Calc 7.4 turned a
//! typed CSV into .xlsx, .ods and .xls, and saved the .xlsx back as CSV). Serials it damaged
//! without making them invalid (`0012345678` → 12345678, `1E5` → 100000) are warned about;
//! the damage `check` already refused stays `invalid`; no good serial is warned about.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;

/// The three spreadsheets LibreOffice wrote from `typed.csv`.
const SHEETS: [&str; 3] = ["fleet.xlsx", "fleet.ods", "fleet.xls"];
/// The .xlsx saved back as CSV.
const ROUND_TRIP: &str = "fleet-roundtrip.csv";
/// Typed `0012345678` (row 7) and `1E5` (row 8): letters and digits still, but not as typed.
const DAMAGED: [u64; 2] = [7, 8];
/// Typed as 10 and 12 digits: stored as numbers in a sheet, unchanged in the round-trip CSV.
const ALL_DIGITS: [u64; 2] = [11, 12];
/// The 17-digit serial (rounded) and the one that became a date.
const INVALID: [u64; 2] = [9, 10];

fn lo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/libreoffice")
        .join(name)
}

/// The typed serials by row: the rows whose serial has a letter and is no number in disguise
/// (`1E5` is one) are the good rows.
fn good_rows() -> BTreeSet<u64> {
    let typed = std::fs::read_to_string(lo("typed.csv")).unwrap();
    let good: BTreeSet<u64> = typed
        .lines()
        .skip(1)
        .zip(2..)
        .filter(|(line, _)| {
            let sn = line.split(',').nth(1).unwrap();
            sn.bytes().any(|b| b.is_ascii_alphabetic()) && sn != "1E5"
        })
        .map(|(_, row)| row)
        .collect();
    assert_eq!(good.len(), 8, "{good:?}");
    good
}

/// `check FILE` and `extra`: the exit code and, per row, what was said (`warning`, `invalid`).
async fn verdicts(file: &Path, extra: &[&str]) -> (i32, BTreeMap<u64, (String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("f.results.csv");
    let out = run_no_token(&[&["check", arg(file), "-o", arg(&results)], extra].concat()).await;
    let mut said = BTreeMap::new();
    for line in stdout(&out).lines() {
        let Some(rest) = line.strip_prefix("row ") else {
            continue;
        };
        let (row, rest) = rest.split_once(": ").unwrap();
        let (kind, message) = rest.split_once(": ").unwrap();
        let old = said.insert(
            row.parse().unwrap(),
            (kind.to_string(), message.to_string()),
        );
        assert!(old.is_none(), "one line a row: {line}");
    }
    (out.status.code().unwrap(), said)
}

fn rows_said(said: &BTreeMap<u64, (String, String)>, kind: &str) -> BTreeSet<u64> {
    said.iter()
        .filter(|(_, (k, _))| k == kind)
        .map(|(r, _)| *r)
        .collect()
}

/// The rows whose `sn` cell the workbook stores as a number, read independently of the tool.
fn number_cells(file: &Path) -> BTreeSet<u64> {
    use calamine::Reader as _;
    let mut book = calamine::open_workbook_auto(file).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    assert_eq!(range.start(), Some((0, 0)));
    range
        .rows()
        .zip(1..)
        .filter(|(cells, _)| matches!(cells[1], calamine::Data::Float(_) | calamine::Data::Int(_)))
        .map(|(_, row)| row)
        .collect()
}

// The four files: the damaged rows warned about, in a sheet every number-stored serial; the
// rounded 17 digits and the date still invalid; no good row named; in the round-trip CSV the 10-
// and 12-digit serials not warned about (not shorter than the fleet's usual 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_libreoffice_files_warn_on_every_damaged_serial_and_no_good_one() {
    let good = good_rows();
    for name in SHEETS.iter().chain([&ROUND_TRIP]) {
        let file = lo(name);
        let (code, said) = verdicts(&file, &[]).await;
        assert_eq!(code, 3, "{name}: invalid rows: {said:?}");
        let warned = rows_said(&said, "warning");
        let expected: BTreeSet<u64> = if name.ends_with(".csv") {
            DAMAGED.into()
        } else {
            let numbers = number_cells(&file);
            let expected: BTreeSet<u64> = numbers.difference(&INVALID.into()).copied().collect();
            assert_eq!(
                expected,
                [DAMAGED, ALL_DIGITS].concat().into_iter().collect()
            );
            expected
        };
        assert_eq!(warned, expected, "{name}: {said:#?}");
        assert_eq!(rows_said(&said, "invalid"), INVALID.into(), "{name}");
        for row in &good {
            assert!(
                !said.contains_key(row),
                "{name}: good row {row} named: {said:?}"
            );
        }
        for row in DAMAGED {
            let message = &said[&row].1;
            assert!(
                message.contains("leading zeros or an 'E'")
                    && message.contains("compare it with the device label"),
                "{name}: {message}"
            );
        }
        if name.ends_with(".csv") {
            assert!(
                said[&7].1.starts_with(
                    "sn '12345678' is digits only and shorter than the fleet's usual 10 characters"
                ),
                "{:?}",
                said[&7]
            );
            assert!(said[&8].1.starts_with("sn '100000' is digits only"));
        } else {
            assert!(said[&7]
                .1
                .starts_with("sn '12345678' was stored as a number in the sheet"));
            assert!(said[&11]
                .1
                .starts_with("sn '1234567890' was stored as a number"));
        }
    }
}

// `--strict-serials`: the warned rows are `invalid` (exit 3), their message the warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_serials_makes_the_warned_rows_invalid_in_check() {
    let (code, said) = verdicts(&lo("fleet.ods"), &["--strict-serials"]).await;
    assert_eq!(code, 3);
    assert_eq!(rows_said(&said, "warning"), BTreeSet::new());
    let invalid = rows_said(&said, "invalid");
    assert_eq!(invalid, [7, 8, 9, 10, 11, 12].into());
    assert!(said[&8].1.starts_with("sn '100000' was stored as a number"));
    assert!(
        said[&8].1.ends_with("; not sent (--strict-serials)"),
        "{:?}",
        said[&8]
    );
}

/// A world holding the typed fleet: plants 1001..1007 with users 501..507, and the devices as
/// typed (so a damaged serial is one the vendor does not know: 10002).
fn typed_world() -> growatt_sim::Fixture {
    let typed = std::fs::read_to_string(lo("typed.csv")).unwrap();
    let devices = typed
        .lines()
        .skip(1)
        .map(|l| growatt_sim::FixtureDevice {
            sn: l.split(',').nth(1).unwrap().to_string(),
            online: true,
        })
        .collect();
    growatt_sim::Fixture {
        plants: (0..7)
            .map(|i| growatt_sim::FixturePlant {
                plant_id: 1001 + i,
                c_user_ids: vec![501 + i],
            })
            .collect(),
        devices,
        associated: vec![],
        account: Default::default(),
    }
}

/// A world with `name` copied in as the fleet.
async fn world_with(name: &str) -> TestEnv {
    let env = TestEnv::start_fixture(typed_world()).await.named(name);
    std::fs::copy(lo(name), &env.fleet).unwrap();
    env
}

// `run` warns on stderr as each warned row is read, sends it all the same, and counts the
// warnings in the summary (text and JSON); the reports show each beside its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_warns_sends_and_counts_and_the_reports_show_the_warnings() {
    for (name, warned) in [
        ("fleet.xlsx", vec![7u64, 8, 11, 12]),
        (ROUND_TRIP, vec![7, 8]),
    ] {
        let env = world_with(name).await;
        let out = env.run(&["--rate", "1000/s"]).await;
        assert_exit(&out, 3);
        let err = stderr(&out);
        for row in &warned {
            assert!(
                err.contains(&format!("growatt-onboard: row {row}: warning: sn '")),
                "{name}: {err}"
            );
        }
        assert_eq!(
            err.matches(": warning: sn '").count(),
            warned.len(),
            "{name}: {err}"
        );
        let rows = warned
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            err.contains(&format!("  serial warnings: {} (rows {rows}): a spreadsheet may have changed their serials; compare with the device label", warned.len())),
            "{name}: {err}"
        );
        let summary = env.summary();
        assert_eq!(summary["serial_warnings"], warned.len() as u64);
        let listed: Vec<u64> = summary["serial_warning_rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["row"].as_u64().unwrap())
            .collect();
        assert_eq!(listed, warned);
        // Sent all the same, as read: the damaged serials are unknown to the vendor.
        let latest = env.latest();
        assert_eq!(latest[&7]["sn"], "12345678");
        assert_line(&latest[&7], "outcome=rejected error_code=10002");
        assert_line(&latest[&8], "outcome=rejected error_code=10002");
        assert_line(&latest[&2], "outcome=registered error_code=0");
        let sent = env.sim().stats().requests_per_sn;
        assert_eq!(sent.get("100000"), Some(&1), "{sent:?}");
        // The history stays one short line a run.
        let history = std::fs::read_to_string(env.dir().join(format!(
            "{}.results.history.jsonl",
            Path::new(name).file_stem().unwrap().to_str().unwrap()
        )))
        .unwrap();
        assert!(history.contains("\"serial_warnings\":"));
        assert!(!history.contains("serial_warning_rows"), "{history}");

        let (html, xlsx) = (env.path("r.html"), env.path("r.xlsx"));
        assert_exit(
            &env.report(&["--html", arg(&html), "--xlsx", arg(&xlsx)])
                .await,
            3,
        );
        let page = std::fs::read_to_string(&html).unwrap();
        let table = page
            .split("<table id=\"serial-warnings\"")
            .nth(1)
            .expect("the page lists the warned rows")
            .split("</table>")
            .next()
            .unwrap();
        assert_eq!(table.matches("<tr>").count(), warned.len(), "{table}");
        assert!(table.contains("<td data-label=\"sn\" class=\"sn\">12345678</td><td data-label=\"outcome\" class=\"word\">rejected</td>"), "{table}");
        assert!(!table.contains("BNE3C4963L"));
        let cells = xlsx_rows(&xlsx);
        let at = cells[0]
            .iter()
            .position(|c| c == "serial warning")
            .expect("a serial warning column");
        for row in &cells[1..] {
            let n: u64 = row[0].parse().unwrap();
            let warning = row.get(at).map_or("", String::as_str);
            assert_eq!(
                !warning.is_empty(),
                warned.contains(&n),
                "{name}: row {n}: {warning:?}"
            );
        }
    }
}

// `run --strict-serials`: the warned rows end `invalid` and are never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_strict_serials_sends_no_warned_row() {
    let env = world_with("fleet.xls").await;
    assert_exit(&env.run(&["--rate", "1000/s", "--strict-serials"]).await, 3);
    let latest = env.latest();
    for row in [7, 8, 11, 12] {
        assert_eq!(latest[&row]["outcome"], "invalid", "{:?}", latest[&row]);
        assert!(latest[&row]["error_msg"].contains("(--strict-serials)"));
    }
    let sent = env.sim().stats().requests_per_sn;
    for sn in ["12345678", "100000", "1234567890", "123456789012"] {
        assert_eq!(sent.get(sn), None, "{sn} was sent: {sent:?}");
    }
    assert_eq!(sent.len(), 8, "the good rows are sent: {sent:?}");
    assert_eq!(env.summary()["serial_warnings"], 0);
}

// With `--log-format json`, each warning is a `serial_warning` event; the summary event keeps
// the count, not the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_each_warning_as_an_event() {
    let env = world_with(ROUND_TRIP).await;
    let out = env.run(&["--rate", "1000/s", "--log-format", "json"]).await;
    assert_exit(&out, 3);
    let events: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warned: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["event"] == "serial_warning")
        .map(|e| (e["row"].as_u64().unwrap(), e["sn"].as_str().unwrap()))
        .collect();
    assert_eq!(warned, [(7, "12345678"), (8, "100000")]);
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["serial_warnings"], 2);
    assert!(summary.get("serial_warning_rows").is_none(), "{summary}");
}

// The page's upload answer lists each warned row with its warning.
#[tokio::test]
async fn the_page_lists_the_warned_rows_of_an_upload() {
    let env = TestEnv::start_default().await;
    let page = Page::start(&env, &[]).await;
    let (s, v) = page.upload("/api/fleets", &lo("fleet.ods"), &[]).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["warned"], 4);
    let warned: Vec<(u64, &str)> = v["serial_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["row"].as_u64().unwrap(), w["sn"].as_str().unwrap()))
        .collect();
    assert_eq!(
        warned,
        [
            (7, "12345678"),
            (8, "100000"),
            (11, "1234567890"),
            (12, "123456789012")
        ]
    );
    assert!(v["serial_warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("compare it with the device label"));
}

/// A workbook's first sheet as text cells.
fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    use calamine::Reader as _;
    let mut book = calamine::open_workbook_auto(path).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}
