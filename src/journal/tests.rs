//! Tests of the journal.

use super::*;
use crate::input::sn_key;
use crate::testing::{file_with, path_in};
use std::fs::OpenOptions;
use std::io::{Seek, Write};

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
    let (_dir, path) = path_in("r.csv");
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
    let (_dir, path) = file_with("r.csv", "plant_id,sn,c_user_id\n1,A,2\n");
    assert!(matches!(
        open_for_append(&path),
        Err(ResultsError::Foreign { .. })
    ));
}

#[test]
fn lock_is_exclusive_and_released() {
    let (_dir, path) = path_in("r.csv");
    let first = RunLock::acquire(&path, RUN_HINT).unwrap();
    let second = RunLock::acquire(&path, RUN_HINT).unwrap_err();
    assert!(second.to_string().contains("r.csv.lock"), "{second}");
    drop(first);
    assert!(RunLock::acquire(&path, RUN_HINT).is_ok());
}

#[test]
fn set_aside_renames_never_deletes() {
    let (_dir, path) = path_in("r.csv");
    assert_eq!(set_aside(&path).unwrap(), None);
    std::fs::write(&path, "x").unwrap();
    let aside = set_aside(&path).unwrap().unwrap();
    assert!(!path.exists());
    assert_eq!(std::fs::read_to_string(aside).unwrap(), "x");
}

/// The header and two whole lines, as a run writes them.
fn journal_text(rows: &[(u64, &str, &str)]) -> String {
    let mut text = COLUMNS.join(",") + "\n";
    for (row, sn, outcome) in rows {
        text.push_str(&format!(
            "{row},1,{sn},2,{outcome},0,,1,200,3,2026-01-01T00:00:00.000Z\n"
        ));
    }
    text
}

#[test]
fn a_damaged_line_is_named_and_swallows_nothing() {
    let mut text = journal_text(&[(2, "A1", "registered"), (3, "A2", "registered")]);
    // A stray quote opens a cell and never closes it, then a line with a cell too few.
    text.push_str("4,\"1,A3,2,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n");
    text.push_str("5,1,A4,2,registered,0,1,200,3,2026-01-01T00:00:00.000Z\n");
    text.push_str(
        &journal_text(&[(6, "A5", "registered"), (7, "A6", "registered")])
            [COLUMNS.join(",").len() + 1..],
    );
    let (_dir, path) = file_with("r.csv", &text);
    let prev = read_done(&path).unwrap();
    assert_eq!(prev.lines, 4);
    assert_eq!(prev.damaged.count, 2);
    assert_eq!(prev.damaged.lines, vec![4, 5]);
    for sn in ["A1", "A2", "A5", "A6"] {
        assert!(prev.done.is_done(sn_key(sn)), "{sn} read after the damage");
    }
    assert!(!prev.done.is_done(sn_key("A3")));
    let warning = prev.damaged.describe(&path).unwrap();
    assert!(
        warning.contains("2 damaged lines skipped (line 4, 5)"),
        "{warning}"
    );
}

#[test]
fn a_whole_crlf_last_line_without_a_line_break_is_kept() {
    let text = journal_text(&[(2, "A1", "registered"), (3, "A2", "registered")]);
    let (_dir, path) = file_with("r.csv", text.trim_end().replace('\n', "\r\n"));
    let (file, prev) = open_for_append(&path).unwrap();
    assert_eq!(prev.lines, 2);
    assert_eq!(prev.repaired_bytes, 0);
    assert!(prev.done.is_done(sn_key("A2")));
    let mut w = ResultsWriter::new(&path, file);
    w.write(&line(4, "A3", Outcome::Registered)).unwrap();
    drop(w);
    let prev = read_done(&path).unwrap();
    assert_eq!(prev.lines, 3, "the next line went on a line of its own");
    assert_eq!(prev.damaged.count, 0);
}

#[test]
fn lines_parse_as_the_writer_quotes_them() {
    let (_dir, path) = path_in("r.csv");
    let (file, _) = open_for_append(&path).unwrap();
    let mut w = ResultsWriter::new(&path, file);
    let mut l = line(2, "A1", Outcome::Rejected);
    l.error_msg = "a \"quoted\", comma'd message".into();
    l.plant_id = "=1+1".into();
    w.write(&l).unwrap();
    w.write(&line(3, "A2", Outcome::Registered)).unwrap();
    drop(w);
    let mut seen = Vec::new();
    let opened = scan_log(&path, &COLUMNS, |r| seen.push(r.clone())).unwrap();
    assert_eq!(opened.lines, 2);
    assert_eq!(opened.damaged.count, 0);
    assert_eq!(&seen[0][6], b"a \"quoted\", comma'd message");
    assert_eq!(&seen[0][1], b"'=1+1");
    assert_eq!(&seen[1][2], b"A2");
    // Text after a closing quote, a quote inside a bare cell, a cell too many: damaged.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("4,\"1\"x,A3,2,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n");
    text.push_str("5,1,A\"4,2,registered,0,,1,200,3,2026-01-01T00:00:00.000Z\n");
    text.push_str("6,1,A5,2,registered,0,,1,200,3,2026-01-01T00:00:00.000Z,extra\n");
    std::fs::write(&path, text).unwrap();
    let opened = scan_log(&path, &COLUMNS, |_| {}).unwrap();
    assert_eq!(
        (opened.lines, opened.damaged.lines.clone()),
        (2, vec![4, 5, 6])
    );
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
    let (dir, path) = file_with("r.csv", "a\nbb\nccc");
    let mut f = crate::files::open_journal(&path).unwrap();
    f.set_len(5).unwrap();
    // Not append-only: a write lands where the handle stands (an append-only handle would put
    // it at the end, on every platform).
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.write_all(b"A").unwrap();
    drop(f);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "A\nbb\n");

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
