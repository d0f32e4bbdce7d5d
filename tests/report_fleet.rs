//! `report` counts the fleet as it stands now: each row with its latest result, the rows no run
//! reached, and the serials the fleet no longer holds named once, apart from the counts.

mod common;

use std::path::Path;

use common::book::{Book, OFFICE_COLUMNS};
use common::*;

/// A world holding the devices `sns` on plant 1 of user 1, with no fleet written yet.
async fn world_of(sns: &[String]) -> TestEnv {
    let fixture = plant_one(sns.iter().cloned());
    TestEnv::start_fixture(fixture).await
}

/// A CSV fleet of `sns` on plant 1 of user 1.
fn fleet_of(sns: &[&str]) -> String {
    let mut text = String::from("plant_id,sn,c_user_id\n");
    for sn in sns {
        text.push_str(&format!("1,{sn},1\n"));
    }
    text
}

/// The row of `bucket` in the text report: its count.
fn bucket(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .and_then(|l| l.trim_start()[name.len()..].split_whitespace().next())
        .unwrap_or_else(|| panic!("no {name} line in {text}"))
        .parse()
        .unwrap()
}

/// Two rows: the second's serial was wrong (10002) and is fixed in place; both runs done.
async fn fixed_in_place() -> TestEnv {
    let env = world_of(&["GOOD0001".into(), "GOOD0002".into()]).await;
    env.set_fleet(fleet_of(&["GOOD0001", "WRONG0002"]));
    assert_exit(&env.run(&["--rate", "50/s"]).await, 3);
    env.set_fleet(fleet_of(&["GOOD0001", "GOOD0002"]));
    assert_exit(&env.run(&["--rate", "50/s"]).await, 0);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serial_fixed_in_place_is_named_once_and_left_out_of_the_counts() {
    let env = fixed_in_place().await;
    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("(2 rows)"), "{text}");
    assert_eq!(bucket(&text, "registered"), 2, "{text}");
    assert_eq!(bucket(&text, "rejected"), 0, "{text}");
    assert_eq!(bucket(&text, "not reached"), 0, "{text}");
    assert!(text.contains("No row needs attention."), "{text}");
    assert!(
        text.contains("No longer in the fleet: 1 serial (WRONG0002), left out of the counts"),
        "{text}"
    );
    assert_eq!(text.matches("WRONG0002").count(), 1, "named once: {text}");
    assert!(!text.contains("10002"), "{text}");

    // The page says the same.
    let html = env.path("report.html");
    let out = env.report(&["--html", arg(&html)]).await;
    assert_exit(&out, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    let registered = page.split("id=\"count-registered\"").nth(1).unwrap();
    assert!(
        registered.split('>').nth(1).unwrap().starts_with("2<"),
        "{page}"
    );
    let rejected = page.split("id=\"count-rejected\"").nth(1).unwrap();
    assert!(
        rejected.split('>').nth(1).unwrap().starts_with("0<"),
        "{page}"
    );
    assert_eq!(page.matches("WRONG0002").count(), 1, "{page}");
    assert!(page.contains("No longer in the fleet"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_max_runtime_stop_counts_the_rest_of_the_fleet_as_not_reached() {
    let env = TestEnv::big_world(100, SimConfig::default()).await;
    let out = env.run(&["--rate", "5/s", "--max-runtime", "1s"]).await;
    assert_exit(&out, 4);
    let ended = env.latest().len() as u64;
    assert!(ended > 0 && ended < 100, "{ended} rows ended");
    let out = env.report(&[]).await;
    // Rows were left for the next run, as `run` said: incomplete.
    assert_exit(&out, 4);
    let text = stdout(&out);
    assert!(text.contains("(100 rows)"), "{text}");
    assert_eq!(bucket(&text, "registered"), ended, "{text}");
    assert_eq!(bucket(&text, "not reached"), 100 - ended, "{text}");
    assert!(!text.contains("No longer in the fleet"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_fleet_the_report_cannot_tell_and_a_fleet_can_be_named() {
    let env = fixed_in_place().await;
    let moved = env.path("moved.csv");
    std::fs::rename(&env.fleet, &moved).unwrap();
    let out = env.report(&[]).await;
    // The results alone: the wrong serial's rejection is still the latest line of its serial.
    assert_exit(&out, 3);
    let text = stdout(&out);
    assert!(
        text.contains("Fleet: cannot tell which rows are still in the fleet, nor how many were not reached: the fleet file its runs read,")
            && text.contains("is not there any more; name the fleet with --fleet PATH. The counts are of the results file alone, and so is the exit code"),
        "{text}"
    );
    assert!(
        !text.contains("not reached  "),
        "no bucket it cannot count: {text}"
    );

    let out = env.report(&["--fleet", arg(&moved)]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("(2 rows)") && text.contains("moved.csv"),
        "{text}"
    );
    assert!(text.contains("(WRONG0002)"), "{text}");

    // A fleet named that cannot be read is an error, in words.
    let out = env
        .report(&["--fleet", arg(&env.path("nowhere.csv"))])
        .await;
    assert_exit(&out, 1);
    assert_said(&out, &["nowhere.csv"]);
    assert!(!stderr(&out).contains("os error"), "{}", stderr(&out));
    // A report never replaces the fleet it reads.
    let out = env
        .report(&["--fleet", arg(&moved), "--xlsx", arg(&moved)])
        .await;
    assert_exit(&out, 1);
    assert_said(&out, &["it is the fleet file this report reads"]);
}

/// The sheets of a workbook: name → rows of cells as text.
fn sheets(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    book.sheet_names()
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range
                .rows()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            (name, rows)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workbook_holds_one_line_per_row_of_the_office_sheet_as_it_stands() {
    let serials: Vec<String> = (1..=6).map(|i| format!("OFFICE{i:05}")).collect();
    let env = world_of(&serials).await;
    let env = env.named("office.xlsx");
    let mut book = Book::office(6);
    let at = |book: &Book, sn: &str| {
        book.rows
            .iter()
            .position(|r| r.get(1).is_some_and(|c| c == sn))
    };
    // Device 3's serial has a dash (invalid), device 5's is one the vendor does not know.
    let (three, five) = (
        at(&book, "OFFICE00003").unwrap(),
        at(&book, "OFFICE00005").unwrap(),
    );
    book.rows[three][1] = "OFFICE-0003".into();
    book.rows[five][1] = "OFFICE99999".into();
    book.write(&env.fleet);
    let mut run = vec!["--rate", "50/s"];
    run.extend(OFFICE_COLUMNS);
    assert_exit(&env.run(&run).await, 3);

    // Fixed: device 3 in place; device 5's row deleted (the rows below move up) and the right
    // serial added below the last device.
    book.rows[three][1] = "OFFICE00003".into();
    let mut wrong = book.rows.remove(five);
    wrong[1] = "OFFICE00005".into();
    let last_device = at(&book, "OFFICE00006").unwrap();
    book.rows.insert(last_device + 1, wrong);
    book.write(&env.fleet);
    let ran = env.run(&run).await;
    let check =
        run_no_token(&[&["check", arg(&env.fleet)][..], &OFFICE_COLUMNS[..]].concat()).await;
    let said = format!("{}{}", stdout(&check), stderr(&check));
    let fleet_rows: usize = said
        .split("office.xlsx: ")
        .last()
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("check counts the rows: {said}"));
    let xlsx = env.path("report.xlsx");
    let out = env.report(&["--xlsx", arg(&xlsx)]).await;
    assert_eq!(
        out.status.code(),
        ran.status.code(),
        "the report exits as the run: {}",
        stderr(&out)
    );

    let sheets = sheets(&xlsx);
    let (name, rows) = &sheets[0];
    assert_eq!(name, "results");
    let lines = &rows[1..];
    assert_eq!(lines.len(), fleet_rows, "one line per fleet row: {lines:?}");
    let numbers: Vec<&String> = lines.iter().map(|l| &l[0]).collect();
    let mut unique = numbers.clone();
    unique.dedup();
    assert_eq!(unique, numbers, "each row once, in order: {lines:?}");
    for sn in &serials {
        let line = lines
            .iter()
            .find(|l| &l[2] == sn)
            .unwrap_or_else(|| panic!("{sn} not in {lines:?}"));
        assert_eq!(line[4], "registered", "{line:?}");
        let row = at(&book, sn).unwrap() + 1;
        assert_eq!(line[0], row.to_string(), "{sn} on its row now: {line:?}");
    }
    for gone in ["OFFICE99999", "OFFICE-0003"] {
        assert!(!lines.iter().any(|l| l[2] == gone), "{gone}: {lines:?}");
    }
    assert_eq!(sheets.len(), 2, "{sheets:?}");
    assert_eq!(sheets[1].0, "no longer in the fleet");
    assert_eq!(sheets[1].1[1][0], "OFFICE99999", "{sheets:?}");
    assert_eq!(sheets[1].1.len(), 2, "the wrong serial alone: {sheets:?}");
}
