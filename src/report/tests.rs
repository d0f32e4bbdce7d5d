//! Tests of the report.

use super::*;
use crate::paths::Paths;

fn sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.results.csv");
    std::fs::write(
        &p,
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
         3,9,A2,5,rejected,10004,plant does not exist,1,200,3,2026-01-01T00:00:00.000Z\n\
         4,1,A3,5,failed,10001,gave up,5,200,3,2026-01-01T00:00:00.000Z\n\
         4,1,A3,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
         5,x,<b>,5,invalid,,plant_id 'x' is not a positive integer,0,,,2026-01-01T00:00:00.000Z\n",
    )
    .unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.results.csv");
    std::fs::write(
        &p,
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,1,A1,5,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n\
         3,1,A2,5,rejected,10004,no,1,200,3,2026-01-01T00:00:00.000Z\n\
         2,1,NEW,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n\
         4,1,A2,5,registered,0,,1,200,3,2026-01-02T00:00:00.000Z\n",
    )
    .unwrap();
    let d = load(&p).unwrap();
    assert_eq!(d.count(Outcome::Registered), 3, "{:?}", d.outcomes);
    assert_eq!(d.rows(), 3);
    assert_eq!(
        d.attention_total, 0,
        "A2's later line on another row clears it"
    );
}
