//! The header found below a title row: the office workbook and a CSV with a title line run end to
//! end with the sheet's own row numbers, `--header-row` (and `header-row` in the saved settings)
//! forces the row, a sheet without a header says which rows were searched, a title naming some of
//! the columns does not fool the search, and a header that moves sends no finished row again.

mod common;

use common::book::{Book, OFFICE_COLUMNS};
use common::*;

/// A world of plant 1, user 1 and the office workbook's `n` serials.
fn office_world(n: usize) -> sim::Fixture {
    sim::Fixture {
        plants: vec![sim::FixturePlant {
            plant_id: 1,
            c_user_ids: vec![1],
        }],
        devices: (1..=n)
            .map(|i| sim::FixtureDevice {
                sn: format!("OFFICE{i:05}"),
                online: true,
            })
            .collect(),
        associated: vec![],
        account: Default::default(),
    }
}

/// `check` on the env's fleet with `extra`, without a token.
async fn check(env: &TestEnv, extra: &[&str]) -> std::process::Output {
    run_no_token(&[&["check", arg(&env.fleet)], extra].concat()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_workbook_runs_end_to_end_with_the_sheets_row_numbers() {
    let n = 6;
    let env = TestEnv::start_fixture(office_world(n))
        .await
        .named("office.xlsx");
    Book::office(n).write(&env.fleet);

    let out = check(&env, &OFFICE_COLUMNS).await;
    assert_printed(
        &out,
        &["office.xlsx: header on row 4 (rows 1–3 above it are skipped)"],
    );
    let mut args = OFFICE_COLUMNS.to_vec();
    args.extend(["--rate", "1000/s"]);
    assert_exit(&env.run(&args).await, 0);
    assert_eq!(env.sim().stats().requests, n as u64);
    let latest = env.latest();
    for i in 0..n {
        let line = &latest[&Book::office_row(i)];
        assert_eq!(line["sn"], format!("OFFICE{:05}", i + 1), "{line:?}");
        assert_eq!(line["outcome"], "registered", "{line:?}");
    }
    // The closing row holding only a note is skipped, on its own sheet row.
    let note = &latest[&Book::office_row(n)];
    assert_eq!(note["outcome"], "skipped", "{note:?}");
    let rows: Vec<u64> = env
        .lines()
        .iter()
        .map(|l| l["row"].parse().unwrap())
        .collect();
    assert!(
        rows.iter().all(|&r| r >= Book::office_row(0)),
        "the title, date and header rows are not rows of the fleet: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_with_a_title_line_runs_and_the_title_is_no_row() {
    let env = TestEnv::start_default().await;
    let fleet = format!(
        "Installations exported from the office sheet, 2026-06-30\n{}",
        good_fleet(3)
    );
    env.set_fleet(&fleet);
    let out = check(&env, &[]).await;
    assert_exit(&out, 0);
    let text = assert_printed(
        &out,
        &[
            "header on row 2 (row 1 above it is skipped)",
            "3 rows: 3 to send, 0 invalid",
        ],
    );
    assert!(!text.contains("row 1:"), "{text}");
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    let mut rows: Vec<(String, String)> = env
        .lines()
        .iter()
        .map(|l| (l["row"].clone(), l["outcome"].clone()))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        ["3", "4", "5"].map(|r| (r.to_string(), "registered".to_string()))
    );
    assert_eq!(env.sim().stats().requests, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_row_forces_the_row_on_the_command_line_and_in_the_saved_settings() {
    let env = TestEnv::offline().named("office.xlsx");
    Book::office(3).write(&env.fleet);
    let out = check(
        &env,
        &[&OFFICE_COLUMNS[..], &["--header-row", "4"]].concat(),
    )
    .await;
    assert_printed(&out, &["header on row 4", "3 to send"]);

    // A row that is not the header, or past the end, is named with what it holds; nothing is read.
    for (row, said) in [
        (
            "2",
            &[
                "--header-row 2: row 2 is missing columns plant_id (looked for 'Plant ID')",
                "it has: 'Exported 2026-06-30'",
            ][..],
        ),
        (
            "40",
            &["--header-row 40: the file ends before row 40: its last row with anything in it is row 8"],
        ),
    ] {
        let out = check(&env, &[&OFFICE_COLUMNS[..], &["--header-row", row]].concat()).await;
        assert_exit(&out, 1);
        assert_said(&out, said);
    }
    let out = check(&env, &["--header-row", "0"]).await;
    assert_exit(&out, 2);

    // The saved settings file holds it as the long flag's name.
    env.write(
        "growatt-onboard.toml",
        "header-row = 4\n[columns]\nplant_id = \"Plant ID\"\nsn = \"Serial No.\"\nc_user_id = \"Customer ID\"\n",
    );
    let out = check(&env, &[]).await;
    assert_printed(&out, &["header on row 4", "3 to send"]);
    env.write(
        "growatt-onboard.toml",
        "header-row = 3\n[columns]\nplant_id = \"Plant ID\"\n",
    );
    let out = check(&env, &[]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["--header-row 3: row 3 is empty"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sheet_without_a_header_names_the_rows_searched_and_the_mapping_to_paste() {
    let env = TestEnv::offline().named("office.xlsx");
    Book::office(30).write(&env.fleet);
    let out = check(&env, &[]).await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &[
            "no header in rows 1–20: none holds plant_id, sn and c_user_id; the closest, row 4, is missing columns plant_id, sn, c_user_id",
            "it has: 'Plant ID', 'Serial No.', 'Customer ID', 'Installer', 'Notes'",
            "add: --column plant_id=\"Plant ID\" --column sn=\"Serial No.\" --column c_user_id=\"Customer ID\"",
        ],
    );
    // Pasting the mapping it gave reads the sheet.
    let out = check(&env, &OFFICE_COLUMNS).await;
    assert_printed(&out, &["30 to send"]);
    // Nothing like a header at all: the rows searched and the first of them.
    let mut book = Book::office(2);
    book.rows.remove(3);
    book.write(&env.fleet);
    let out = check(&env, &[]).await;
    assert_exit(&out, 1);
    assert_said(
        &out,
        &["no header in rows 1–6: none holds plant_id, sn and c_user_id; row 1 is missing columns plant_id, sn, c_user_id; it has: 'ACME Solar — installations June 2026'"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_title_naming_some_of_the_columns_does_not_fool_the_search() {
    let env = TestEnv::offline().named("legend.xlsx");
    let mut book = Book::office(3);
    book.rows[0] = ["Fleet by sn", "sn", "plant_id"].map(String::from).to_vec();
    book.rows[1] = ["plant_id", "sn", "note: c_user_id is the customer"]
        .map(String::from)
        .to_vec();
    book.rows[3] = ["plant_id", "sn", "c_user_id", "Installer", "Notes"]
        .map(String::from)
        .to_vec();
    book.write(&env.fleet);
    let out = check(&env, &[]).await;
    let text = assert_printed(&out, &["header on row 4", "3 to send"]);
    for above in ["row 1:", "row 2:", "row 3:"] {
        assert!(!text.contains(above), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_moves_down_sends_no_finished_row_again() {
    let env = TestEnv::start_default().await.with_fleet(good_fleet(3));
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    assert_eq!(env.sim().stats().requests, 3);
    // The office adds a title and a date above the header: every row moves down two.
    env.set_fleet(format!(
        "ACME Solar\nExported 2026-06-30\n{}",
        good_fleet(3)
    ));
    let out = check(&env, &[]).await;
    assert_printed(&out, &["0 to send", "3 already done"]);
    assert_exit(&env.run(&["--rate", "1000/s"]).await, 0);
    assert_eq!(env.sim().stats().requests, 3, "nothing is sent again");
    assert_eq!(env.lines().len(), 3, "nothing is written again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_previews_the_office_workbook_from_its_header_row() {
    let env = TestEnv::start_default().await.named("office.xlsx");
    Book::office(3).write(&env.fleet);
    let page = Page::start(&env, &[]).await;
    let (s, v) = page.upload("/api/inspect", &env.fleet, &[]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["header_row"], 4, "{v}");
    assert_eq!(
        v["header_note"],
        "header on row 4 (rows 1–3 above it are skipped)"
    );
    assert_eq!(v["headers"][1], "Serial No.", "{v}");
    assert_eq!(v["rows"][0][1], "OFFICE00001", "{v}");
    assert_eq!(v["mapping"]["c_user_id"], "Customer ID", "{v}");
    let (s, v) = page.upload_mapped(&env.fleet).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["to_send"], 3, "{v}");
    assert_eq!(
        v["header_note"],
        "header on row 4 (rows 1–3 above it are skipped)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_reads_the_fleet_from_the_header_row_its_run_named() {
    // Row 1 repeats the column names of an old layout; the header meant is row 3.
    let env = TestEnv::start_default().await;
    env.set_fleet(format!(
        "plant_id,sn,c_user_id\nold layout above, the fleet below\n{}",
        good_fleet(3)
    ));
    assert_exit(
        &env.run(&["--header-row", "3", "--rate", "1000/s"]).await,
        0,
    );
    let mut rows: Vec<String> = env.lines().iter().map(|l| l["row"].clone()).collect();
    rows.sort();
    assert_eq!(rows, ["4", "5", "6"]);
    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("(3 rows)"), "{text}");
    // Read from row 1, the two rows below it would be rows of the fleet, and invalid.
    let out = env.report(&["--header-row", "1"]).await;
    assert_exit(&out, 3);
    assert!(stdout(&out).contains("(5 rows)"), "{}", stdout(&out));
}
