//! Tests of the journal.

use super::*;
use crate::input::sn_key;
use std::fs::OpenOptions;
use std::io::Write;

fn line(row: u64, sn: &str, outcome: Outcome) -> ResultLine {
    ResultLine {
        row,
        plant_id: "1".into(),
        sn: sn.into(),
        c_user_id: "2".into(),
        outcome,
        error_code: Some(0),
        error_msg: String::new(),
        attempts: 1,
        http_status: Some(200),
        latency_ms: Some(12),
        finished_at: SystemTime::UNIX_EPOCH,
    }
}

#[test]
fn cells_are_neutralised_and_single_line() {
    assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
    assert_eq!(safe_cell("+1"), "'+1");
    assert_eq!(safe_cell("-1"), "'-1");
    assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(safe_cell("\tx"), "' x");
    assert_eq!(safe_cell("two\nlines\r"), "two lines ");
    assert_eq!(safe_cell("plain"), "plain");
    assert_eq!(safe_cell("\n=1+1"), "' =1+1");
    assert_eq!(safe_cell("  @x"), "'  @x");
    let mut l = line(2, "A1", Outcome::Rejected);
    l.error_code = Some(-1);
    l.error_msg = "=cmd".into();
    let cells = l.cells();
    assert_eq!(cells[5], "-1");
    assert_eq!(cells[6], "'=cmd");
    assert_eq!(cells[10], "1970-01-01T00:00:00.000Z");
}

#[test]
fn append_resume_and_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let (file, prev) = open_for_append(&path).unwrap();
    assert_eq!(prev.lines, 0);
    let mut w = ResultsWriter::new(&path, file);
    w.write(&line(2, "aa1", Outcome::Registered)).unwrap();
    w.write(&line(3, "B2", Outcome::Failed)).unwrap();
    w.write(&line(4, "C3", Outcome::AlreadyRegistered)).unwrap();
    w.sync().unwrap();
    drop(w);
    // A torn last line, as a kill -9 mid-write leaves.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"5,1,D4,2,registered,0,,1,200,3,2026-")
        .unwrap();
    drop(f);
    let (_file, prev) = open_for_append(&path).unwrap();
    assert_eq!(prev.lines, 3);
    assert_eq!(prev.repaired_bytes, 36);
    assert!(prev.done.is_done(sn_key("AA1")));
    assert!(prev.done.is_done(sn_key("c3")));
    assert!(!prev.done.is_done(sn_key("B2")));
    assert!(!prev.done.is_done(sn_key("D4")));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count(), 4);
}

#[test]
fn foreign_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, "plant_id,sn,c_user_id\n1,A,2\n").unwrap();
    assert!(matches!(
        open_for_append(&path),
        Err(ResultsError::Foreign { .. })
    ));
}

#[test]
fn lock_is_exclusive_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    let first = RunLock::acquire(&path).unwrap();
    let second = RunLock::acquire(&path).unwrap_err();
    assert!(second.to_string().contains("r.csv.lock"), "{second}");
    drop(first);
    assert!(RunLock::acquire(&path).is_ok());
}

#[test]
fn set_aside_renames_never_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    assert_eq!(set_aside(&path).unwrap(), None);
    std::fs::write(&path, "x").unwrap();
    let aside = set_aside(&path).unwrap().unwrap();
    assert!(!path.exists());
    assert_eq!(std::fs::read_to_string(aside).unwrap(), "x");
}

#[test]
fn shown_cell_drops_only_the_formula_guard() {
    for text in [
        "-1004", "=cmd", "+1", "@SUM(A1)", "  @x", "plain", "'quoted'", "it's",
    ] {
        assert_eq!(shown_cell(&safe_cell(text)), text, "{text}");
    }
    assert_eq!(
        shown_cell("'abc"),
        "'abc",
        "an apostrophe a person typed stays"
    );
}

#[test]
fn the_journal_handle_may_cut_a_torn_tail_and_writes_at_the_end() {
    // Windows refuses to shorten a file through an append-only handle (the Windows CI runs this
    // test under Wine); the handle journals are opened with must allow it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, "a\nbb\nccc").unwrap();
    let f = crate::files::open_journal(&path).unwrap();
    f.set_len(5).unwrap();
    drop(f);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nbb\n");

    // Through open_log: the torn line goes, and what is written next follows the last whole
    // line instead of overwriting the start.
    std::fs::write(&path, "x,y\n1,2\n3,").unwrap();
    let (mut file, opened) = open_log(&path, &["x", "y"], |_| {}).unwrap();
    assert_eq!((opened.lines, opened.repaired_bytes), (1, 2));
    file.write_all(b"5,6\n").unwrap();
    drop(file);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x,y\n1,2\n5,6\n");

    // A whole file is left as it is, and a new one gets its header.
    let (mut file, opened) = open_log(&path, &["x", "y"], |_| {}).unwrap();
    assert_eq!((opened.lines, opened.repaired_bytes), (2, 0));
    file.write_all(b"7,8\n").unwrap();
    drop(file);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "x,y\n1,2\n5,6\n7,8\n"
    );
    let fresh = dir.path().join("new.csv");
    let (mut file, opened) = open_log(&fresh, &["x", "y"], |_| {}).unwrap();
    assert_eq!(opened.lines, 0);
    file.write_all(b"1,2\n").unwrap();
    drop(file);
    assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "x,y\n1,2\n");
}
