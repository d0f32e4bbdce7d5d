//! Tests of the report.

use super::*;
use crate::paths::Paths;

/// A results file holding `lines` below its header, in a folder of its own.
fn results_with(lines: &str) -> (tempfile::TempDir, PathBuf) {
    let header = journal::COLUMNS.join(",");
    crate::testing::file_with("f.results.csv", format!("{header}\n{lines}"))
}

fn sample() -> (tempfile::TempDir, PathBuf) {
    let (dir, p) = results_with(
        "2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
        3,9,A2,5,rejected,10004,plant does not exist,1,200,3,2026-01-01T00:00:00.000Z\n\
        4,1,A3,5,failed,10001,gave up,5,200,3,2026-01-01T00:00:00.000Z\n\
        4,1,A3,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
        5,x,<b>,5,invalid,,plant_id 'x' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n",
    );
    std::fs::write(
        Paths::of_results(&p).history,
        "{\"started_at\":\"2026-01-01T00:00:00.000Z\",\"wall_seconds\":1.5,\"rows_ended\":4,\"requests\":8,\"outcomes\":{},\"exit_code\":3}\n",
    )
    .unwrap();
    (dir, p)
}

#[test]
fn latest_line_per_row_counts() {
    let (_d, p) = sample();
    let d = load(&p).unwrap();
    assert_eq!(d.rows(), 4);
    assert_eq!(d.lines, 5);
    assert_eq!(d.count(Outcome::Registered), 2);
    assert_eq!(d.count(Outcome::Failed), 0, "row 4's later line wins");
    assert_eq!(d.attention_total, 2);
    assert_eq!(d.attention[0].row, 3);
    assert_eq!(d.codes[&0], 2);
    assert_eq!(d.history.len(), 1);
    let text = render_text(&d);
    assert!(text.contains("check the plant id in ShineServer"), "{text}");
    assert!(text.contains("Run history"), "{text}");
}

#[test]
fn html_is_escaped_and_self_contained() {
    let (_d, p) = sample();
    let html = render_html(&load(&p).unwrap());
    assert!(html.contains("id=\"count-registered\" style=\"color:#2e7d32\">2<"));
    assert!(html.contains("&lt;b&gt;"));
    assert!(!html.contains("<b>"));
    assert!(!html.contains("src=\"http"), "no external assets");
    assert!(!html.contains("href=\"http"));
    assert!(html.contains("<svg id=\"outcomes-chart\""));
}

#[test]
fn serials_not_row_numbers_identify_devices() {
    // A device inserted on top between two runs takes row 2; A1 moved to row 3. Two inputs
    // sharing the file would look the same.
    let (_dir, p) = results_with(
        "2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
        3,1,A2,5,rejected,10004,no,1,200,3,2026-01-01T00:00:00.000Z\n\
        2,1,NEW,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
        4,1,A2,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n",
    );
    let d = load(&p).unwrap();
    assert_eq!(d.count(Outcome::Registered), 3, "{:?}", d.outcomes);
    assert_eq!(d.rows(), 3);
    assert_eq!(
        d.attention_total, 0,
        "A2's later line on another row clears it"
    );
}

#[test]
fn html_reads_for_people_on_any_screen() {
    let (dir, p) = sample();
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("6,'-1004,A6,5,invalid,,plant_id '-1004' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n");
    std::fs::write(&p, text).unwrap();
    std::fs::write(
        dir.path().join("f.results.verify.csv"),
        "row,plant_id,sn,link_status,device_status,last_update_time,checked_at\n\
         2,1,A1,linked,1,,2026-01-03T00:00:00.000Z\n\
         4,1,A3,pending,,,2026-01-03T00:00:00.000Z\n",
    )
    .unwrap();
    let d = load(&p).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-05-04T10:00:00+02:00")
        .unwrap()
        .with_timezone(&chrono::Local);
    let html = html::render_html_at(&d, now);
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(
        html.contains("id=\"made\">Made <span class=\"when\">"),
        "{html}"
    );
    assert!(
        html.contains("(times in this page are local, UTC"),
        "{html}"
    );
    // The CSV's formula guard stays in the CSV.
    assert!(html.contains(">-1004<"), "{html}");
    assert!(!html.contains(">&#39;-1004<"), "{html}");
    // Code 0 is no error; nor is jargon about lines.
    assert!(!html.contains("0 accepted"), "{html}");
    assert!(html.contains("10004 plant does not exist"), "{html}");
    assert!(!html.contains(" lines"), "{html}");
    // The device not linked yet, by serial and plant.
    assert!(
        html.contains("<td data-label=\"serial\" class=\"sn\">A3</td><td data-label=\"plant\" class=\"id\">1</td><td data-label=\"status\">pending</td>"),
        "{html}"
    );
    // History in local time, kept on one line.
    let started = text::local_time("2026-01-01T00:00:00.000Z");
    assert!(
        !started.contains('T') && started.contains("2026"),
        "{started}"
    );
    assert!(
        html.contains(&format!("class=\"when\">{started}<")),
        "{html}"
    );
    let text = render_text(&d);
    assert!(
        text.contains("sn A3") && text.contains("plant 1: pending"),
        "{text}"
    );
    assert!(!text.contains("lines"), "{text}");
}

#[test]
fn the_text_report_escapes_control_characters_from_the_file() {
    let (_dir, p) = results_with(
        "2,1,A1,5,rejected,10004,\u{1b}]52;c;aGk=\u{7}\u{1b}[2J,1,200,3,2026-01-01T00:00:00.000Z\n",
    );
    let text = render_text(&load(&p).unwrap());
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}]52"), "{text}");
}
