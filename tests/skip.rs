//! Rows skipped on purpose: a row holding only a note, or one marked in a `skip` column, ends
//! `skipped` with its own count, is never sent, and needs no one (exit 0).

mod common;

use common::book::{Book, OFFICE_COLUMNS};
use common::*;

/// The office sheet of `devices` rows (its title rows above the header on row 4), with a `Skip`
/// column after `Notes` when `skip` is given: `(device, mark)` pairs.
fn office(devices: usize, skip: Option<&[(usize, &str)]>) -> Book {
    let mut book = Book::office(devices);
    if let Some(marks) = skip {
        for (i, row) in book.rows.iter_mut().enumerate() {
            let cell = match i {
                HEADER => "Skip".to_string(),
                _ => marks
                    .iter()
                    .find(|(d, _)| device_row(*d) as usize == i + 1)
                    .map_or(String::new(), |(_, m)| m.to_string()),
            };
            row.push(cell);
        }
    }
    book
}

/// The index in [`Book::rows`] of the office sheet's header (sheet row 4).
const HEADER: usize = 3;

/// The sheet row of device `i` in [`office`].
fn device_row(i: usize) -> u64 {
    Book::office_row(i)
}

/// The sheet row of the note-only row last in [`office`].
fn note_row(book: &Book) -> u64 {
    book.rows.len() as u64
}

/// A world whose simulator knows the office devices `OFFICE00001`… on plant 1 of user 1.
async fn office_world(devices: usize) -> TestEnv {
    let fixture = plant_one((1..=devices).map(|i| format!("OFFICE{i:05}")));
    TestEnv::start_fixture(fixture).await.named("fleet.xlsx")
}

/// `run` on the office sheet with its column flags and `extra`.
async fn run_office(env: &TestEnv, extra: &[&str]) -> std::process::Output {
    let mut args = OFFICE_COLUMNS.to_vec();
    args.extend_from_slice(&["--rate", "200/s"]);
    args.extend_from_slice(extra);
    env.run(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_holding_only_a_note_is_skipped_and_the_run_exits_0() {
    let env = office_world(3).await;
    let book = office(3, None);
    book.write(&env.fleet);
    let out = run_office(&env, &[]).await;
    assert_exit(&out, 0);
    let latest = env.latest();
    assert_eq!(latest.len(), 4, "{latest:?}");
    for i in 0..3 {
        assert_line(&latest[&device_row(i)], "outcome=registered");
    }
    let note = &latest[&note_row(&book)];
    assert_line(note, "outcome=skipped attempts=0 error_code=");
    assert_eq!(
        note["error_msg"],
        "a note only: \"Roof access pending, call the customer first\""
    );
    let summary = env.summary();
    assert_eq!(summary["outcomes"]["skipped"], 1);
    assert_eq!(summary["outcomes"]["invalid"], 0);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(env.sim().stats().requests, 3);
    assert_said(&out, &["3 registered, 1 skipped"]);

    // The next run counts it again but does not write its line again.
    let before = whole_lines(&env.results);
    let out = run_office(&env, &[]).await;
    assert_exit(&out, 0);
    assert_eq!(whole_lines(&env.results), before, "nothing appended");
    assert_eq!(env.summary()["outcomes"]["skipped"], 1);
    assert_eq!(env.sim().stats().requests, 3, "nothing sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_in_the_skip_column_skips_a_row_whatever_it_holds() {
    let env = office_world(4).await;
    let mut book = office(4, Some(&[(1, "x")]));
    // A serial that would be invalid: skipping wins, nothing is validated.
    book.rows[device_row(1) as usize - 1][1] = "BAD SERIAL!".into();
    book.write(&env.fleet);
    let out = run_office(&env, &[]).await;
    assert_exit(&out, 0);
    let latest = env.latest();
    let marked = &latest[&device_row(1)];
    assert_line(marked, "outcome=skipped attempts=0");
    assert_eq!(marked["error_msg"], "skip column: \"x\"");
    assert_eq!(marked["sn"], "BAD SERIAL!");
    assert_line(&latest[&note_row(&book)], "outcome=skipped");
    for i in [0, 2, 3] {
        assert_line(&latest[&device_row(i)], "outcome=registered");
    }
    let summary = env.summary();
    assert_eq!(summary["outcomes"]["skipped"], 2);
    assert_eq!(summary["exit_code"], 0);
    let stats = env.sim().stats();
    assert_eq!(stats.requests, 3);
    assert!(!stats.requests_per_sn.contains_key("BAD SERIAL!"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_no_longer_marked_is_sent_on_the_next_run() {
    let env = office_world(3).await;
    office(3, Some(&[(2, "later")])).write(&env.fleet);
    assert_exit(&run_office(&env, &[]).await, 0);
    assert_line(&env.latest()[&device_row(2)], "outcome=skipped");
    assert!(!env
        .sim()
        .stats()
        .requests_per_sn
        .contains_key("OFFICE00003"));

    office(3, Some(&[])).write(&env.fleet);
    let out = run_office(&env, &[]).await;
    assert_exit(&out, 0);
    assert_line(&env.latest()[&device_row(2)], "outcome=registered");
    let stats = env.sim().stats();
    assert_eq!(stats.requests, 3, "the two done earlier are not sent again");
    assert_eq!(stats.requests_per_sn["OFFICE00003"], 1);
    // The report counts the row by its latest line.
    let out = env.report(&[]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(line_with(&text, "  registered ").contains(" 3 "), "{text}");
    assert!(line_with(&text, "  skipped ").contains(" 1 "), "{text}");
    let html = env.path("report.html");
    assert_exit(&env.report(&["--html", arg(&html)]).await, 0);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains(">1</b>skipped</div>"), "the skipped card");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_column_of_another_name_is_mapped_in_the_saved_settings() {
    let env = office_world(3).await;
    let mut book = office(3, Some(&[(0, "yes")]));
    book.rows[HEADER][5] = "On hold".into();
    book.write(&env.fleet);
    env.write(
        "growatt-onboard.toml",
        "[columns]\nplant_id = \"Plant ID\"\nsn = \"Serial No.\"\nc_user_id = \"Customer ID\"\nskip = \"On hold\"\n",
    );
    let out = env.run(&["--rate", "200/s"]).await;
    assert_exit(&out, 0);
    let marked = &env.latest()[&device_row(0)];
    assert_line(marked, "outcome=skipped");
    assert_eq!(marked["error_msg"], "skip column: \"yes\"");
    assert_eq!(env.sim().stats().requests, 2);

    // A mapped skip column the header lacks is named, and nothing is read.
    let out = env.check(&["--column", "skip=Hold"]).await;
    assert_exit(&out, 1);
    assert_said(&out, &["no column 'Hold' for --column skip"]);
}

#[tokio::test]
async fn check_lists_skipped_rows_apart_from_the_problems_and_exits_0() {
    let env = TestEnv::offline().named("fleet.xlsx");
    let book = office(3, Some(&[(0, "x")]));
    book.write(&env.fleet);
    let out = env.check(&OFFICE_COLUMNS).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "skipped on purpose (2 rows):\n  row {}: skip column: \"x\"\n  row {}: a note only: \"Roof access pending, call the customer first\"\n",
            device_row(0),
            note_row(&book)
        )),
        "{text}"
    );
    assert!(!text.contains("invalid:"), "{text}");
    assert!(
        text.contains("4 rows: 2 to send, 0 invalid, 0 duplicate, 2 skipped"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn note_rows_are_no_duplicates_and_a_half_filled_row_stays_invalid() {
    let env = TestEnv::start_default().await.with_fleet(
        "plant_id,sn,c_user_id,note\n\
         1001,AAA0A0001A,501,\n\
         ,,,call first\n\
         ,,,call first\n\
         1001,,501,serial to come\n\
         ,,,\n",
    );
    let out = env.run(&["--rate", "200/s"]).await;
    assert_exit(&out, 3);
    let latest = env.latest();
    assert_eq!(latest.len(), 4, "the empty row stays ignored: {latest:?}");
    for row in [3, 4] {
        assert_line(&latest[&row], "outcome=skipped");
        assert_eq!(latest[&row]["error_msg"], "a note only: \"call first\"");
    }
    assert_line(&latest[&5], "outcome=invalid");
    assert!(latest[&5]["error_msg"].contains("sn is empty"));
    assert_eq!(env.summary()["outcomes"]["duplicate"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_counts_skipped_rows_in_its_check_and_its_status() {
    let env = office_world(2).await;
    let book = office(2, None);
    book.write(&env.fleet);
    let page = Page::start(&env, &[]).await;
    let (s, v) = page.upload_mapped(&env.fleet).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["to_send"].as_u64(), v["skipped"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["invalid"], 0, "{v}");
    assert_eq!(v["problems"], serde_json::json!([]), "not a problem: {v}");
    assert_eq!(v["skipped_rows"][0]["row"], note_row(&book));
    let id = v["id"].as_str().unwrap().to_string();
    let (s, _) = page
        .post(
            &format!("/api/fleets/{id}/run"),
            serde_json::json!({"rate": "200/s"}),
        )
        .await;
    assert_eq!(s, 202);
    let status = page
        .wait(&id, "the run to end", |v| v["state"] == "finished")
        .await;
    assert_eq!(status["counts"]["skipped"], 1, "{status}");
    assert_eq!(status["counts"]["registered"], 2, "{status}");
    assert_eq!(status["exit_code"], 0, "{status}");
}
