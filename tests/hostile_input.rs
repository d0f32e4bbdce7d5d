//! Damaged and hostile fleet files through the real binary, against the simulator.
//!
//! Each file in `tests/corpus/` (plus a few big ones written at run time) is run with `run` and with
//! `check`. For every file the test knows the exact exit code and how every row must end (row
//! number, outcome, and the key words of the message), and it checks with the simulator's counters
//! that no invalid or duplicate row was ever sent and that each valid row was sent exactly once.
//! Fatal files (exit 1) must send nothing, write no results, and say what is wrong.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use common::*;

/// How one row must end.
#[derive(Clone, Debug)]
enum Want {
    /// Sent once and answered 0; the simulator's world has this plant, user and serial.
    Registered { plant: u64, sn: String, user: u64 },
    /// Never sent; the message contains every one of these.
    Invalid(Vec<String>),
    /// Never sent; same serial as that earlier row.
    Duplicate(u64),
}

fn reg(row: u64, plant: u64, sn: &str, user: u64) -> (u64, Want) {
    (
        row,
        Want::Registered {
            plant,
            sn: sn.to_string(),
            user,
        },
    )
}

/// Registered on plant 1 by user 1, the usual case in the corpus.
fn ok(row: u64, sn: &str) -> (u64, Want) {
    reg(row, 1, sn, 1)
}

fn inv(row: u64, msg: &[&str]) -> (u64, Want) {
    (
        row,
        Want::Invalid(msg.iter().map(|s| s.to_string()).collect()),
    )
}

fn dup(row: u64, first: u64) -> (u64, Want) {
    (row, Want::Duplicate(first))
}

type Latest = HashMap<u64, HashMap<String, String>>;

/// One input and what must come of it.
struct Case {
    file: String,
    exit: i32,
    /// Every row that must end, for exits other than 1.
    rows: Vec<(u64, Want)>,
    /// For exit 1: words stderr must contain (a leading `!` means: must not contain).
    fatal: Vec<&'static str>,
    /// Further checks on the results lines (by row).
    extra: Option<fn(&Latest)>,
}

fn rows(file: &str, exit: i32, rows: Vec<(u64, Want)>) -> Case {
    Case {
        file: file.to_string(),
        exit,
        rows,
        fatal: vec![],
        extra: None,
    }
}

fn fatal(file: &str, words: &[&'static str]) -> Case {
    Case {
        file: file.to_string(),
        exit: 1,
        rows: vec![],
        fatal: words.to_vec(),
        extra: None,
    }
}

/// The simulator's world: exactly the plants, users and serials of the rows that must register.
fn world_for(rows: &[(u64, Want)]) -> sim::Fixture {
    let mut plants: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut devices = Vec::new();
    for (_, w) in rows {
        if let Want::Registered { plant, sn, user } = w {
            plants.entry(*plant).or_default().insert(*user);
            devices.push(sim::FixtureDevice {
                sn: sn.clone(),
                online: true,
            });
        }
    }
    sim::Fixture {
        plants: plants
            .into_iter()
            .map(|(plant_id, users)| sim::FixturePlant {
                plant_id,
                c_user_ids: users.into_iter().collect(),
            })
            .collect(),
        devices,
        associated: vec![],
        account: Default::default(),
    }
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

fn no_panic(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked"),
        "{what}: the binary panicked:\n{err}"
    );
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        out.status
    );
}

fn assert_fatal_words(what: &str, out: &std::process::Output, words: &[&str]) {
    let err = stderr(out);
    assert!(err.contains("error"), "{what}: says it is an error:\n{err}");
    for w in words {
        match w.strip_prefix('!') {
            Some(not) => assert!(!err.contains(not), "{what}: stderr has {not:?}:\n{err}"),
            None => assert!(err.contains(w), "{what}: stderr lacks {w:?}:\n{err}"),
        }
    }
}

/// Runs `run` on `input` against a fresh simulator and checks everything the case promises.
async fn run_case(dir: &Path, input: &Path, case: &Case) {
    let what = format!("run {}", case.file);
    let sim = start_sim(SimConfig {
        fixture: world_for(&case.rows),
        ..SimConfig::default()
    })
    .await;
    let stem = case.file.replace(['.', '/'], "_");
    let results = dir.join(format!("{stem}.results.csv"));
    let out = run_bin(&[
        "run",
        input.to_str().unwrap(),
        "-o",
        results.to_str().unwrap(),
        "--base-url",
        &sim.base_url(),
        "--rate",
        "1000/s",
        "--concurrency",
        "8",
    ])
    .await;
    no_panic(&what, &out);
    assert_eq!(
        out.status.code(),
        Some(case.exit),
        "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{what}: stdout stays clean");
    let stats = sim.stats();
    sim.shutdown().await;

    if case.exit == 1 {
        assert_eq!(stats.requests, 0, "{what}: a fatal input sends nothing");
        assert!(!results.exists(), "{what}: a fatal input writes no results");
        assert_fatal_words(&what, &out, &case.fatal);
        return;
    }

    let lines = read_results(&results);
    let mut seen = BTreeSet::new();
    for l in &lines {
        let row: u64 = l["row"].parse().unwrap();
        assert!(
            seen.insert(row),
            "{what}: row {row} has two lines: {lines:#?}"
        );
    }
    let expected_rows: BTreeSet<u64> = case.rows.iter().map(|(r, _)| *r).collect();
    assert_eq!(seen, expected_rows, "{what}: the rows in the results file");
    let latest = latest_by_row(&lines);
    let mut sent = BTreeMap::new();
    for (row, want) in &case.rows {
        let l = &latest[row];
        let ctx = format!("{what}: row {row}: {l:?}");
        match want {
            Want::Registered { plant, sn, user } => {
                assert_eq!(l["outcome"], "registered", "{ctx}");
                assert_eq!(l["error_code"], "0", "{ctx}");
                assert_eq!(l["attempts"], "1", "{ctx}");
                assert_eq!(l["http_status"], "200", "{ctx}");
                assert_eq!(l["sn"], *sn, "{ctx}");
                assert_eq!(l["plant_id"].parse::<u64>().ok(), Some(*plant), "{ctx}");
                assert_eq!(l["c_user_id"].parse::<u64>().ok(), Some(*user), "{ctx}");
                sent.insert(sn.clone(), 1u64);
            }
            Want::Invalid(words) => {
                assert_eq!(l["outcome"], "invalid", "{ctx}");
                assert_eq!(l["error_code"], "", "{ctx}");
                assert_eq!(l["attempts"], "0", "{ctx}");
                assert_eq!(l["http_status"], "", "{ctx}");
                for w in words {
                    assert!(l["error_msg"].contains(w.as_str()), "{ctx}: lacks {w:?}");
                }
            }
            Want::Duplicate(first) => {
                assert_eq!(l["outcome"], "duplicate", "{ctx}");
                assert_eq!(l["error_code"], "", "{ctx}");
                assert_eq!(l["attempts"], "0", "{ctx}");
                assert!(
                    l["error_msg"].contains(&format!("same sn as row {first};")),
                    "{ctx}"
                );
            }
        }
        for cell in ["plant_id", "sn", "c_user_id", "error_msg"] {
            assert!(
                !l[cell].starts_with(['=', '+', '-', '@']),
                "{ctx}: {cell} is not neutralised"
            );
        }
    }
    // What the server received: each valid row once, nothing else.
    assert_eq!(
        stats.requests_per_sn, sent,
        "{what}: serials sent (each exactly once)"
    );
    assert_eq!(stats.requests, sent.len() as u64, "{what}: requests");
    assert_eq!(stats.wrong_token + stats.missing_token, 0);
    if let Some(extra) = case.extra {
        extra(&latest);
    }

    let summary_path = dir.join(format!("{stem}.results.summary.json"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    assert_eq!(summary["exit_code"], case.exit, "{what}: summary exit code");
}

/// Runs `check` on `input`: same verdicts as `run`, nothing sent, one line per problem row.
async fn check_case(dir: &Path, input: &Path, case: &Case) {
    let what = format!("check {}", case.file);
    let results = dir.join("check-never-written.results.csv");
    let out = run_bin_env(
        &[
            "check",
            input.to_str().unwrap(),
            "-o",
            results.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    no_panic(&what, &out);
    let text = stdout(&out);
    assert!(!results.exists(), "{what}: check writes nothing");
    if case.exit == 1 {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert_fatal_words(&what, &out, &case.fatal);
        return;
    }
    let invalid = case
        .rows
        .iter()
        .filter(|(_, w)| matches!(w, Want::Invalid(_)))
        .count();
    let duplicate = case
        .rows
        .iter()
        .filter(|(_, w)| matches!(w, Want::Duplicate(_)))
        .count();
    let to_send = case.rows.len() - invalid - duplicate;
    let code = if invalid > 0 { 3 } else { 0 };
    assert_eq!(out.status.code(), Some(code), "{what}:\n{text}");
    let mut problem_lines: BTreeMap<u64, &str> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("row ")) {
        let n: u64 = line[4..line.find(':').unwrap()].parse().unwrap();
        assert!(
            problem_lines.insert(n, line).is_none(),
            "{what}: two lines for row {n}"
        );
    }
    let mut want_lines = BTreeSet::new();
    for (row, want) in &case.rows {
        match want {
            Want::Registered { .. } => {}
            Want::Invalid(words) => {
                want_lines.insert(*row);
                let line = problem_lines.get(row).copied().unwrap_or_default();
                assert!(
                    line.starts_with(&format!("row {row}: invalid: ")),
                    "{what}: {line:?}\n{text}"
                );
                for w in words {
                    assert!(line.contains(w.as_str()), "{what}: {line:?} lacks {w:?}");
                }
            }
            Want::Duplicate(first) => {
                want_lines.insert(*row);
                let line = problem_lines.get(row).copied().unwrap_or_default();
                assert!(
                    line.starts_with(&format!("row {row}: duplicate: same sn as row {first};")),
                    "{what}: {line:?}"
                );
            }
        }
    }
    assert_eq!(
        problem_lines.keys().copied().collect::<BTreeSet<_>>(),
        want_lines,
        "{what}: rows reported\n{text}"
    );
    let rows = match case.rows.len() {
        1 => "1 row".to_string(),
        n => format!("{n} rows"),
    };
    let closing = match case.rows.len() {
        // A header alone: nothing to count yet.
        0 => "the file has no rows yet".to_string(),
        _ => format!("{rows}: {to_send} to send, {invalid} invalid, {duplicate} duplicate"),
    };
    assert!(text.contains(&closing), "{what}: {closing:?} in\n{text}");
}

fn bad_id_cells(latest: &Latest) {
    // Formula-looking cells are neutralised, and the huge id is repeated as written.
    assert_eq!(latest[&3]["plant_id"], "'-5");
    assert_eq!(latest[&4]["plant_id"], "'+5");
    assert_eq!(latest[&5]["plant_id"], "18446744073709551616");
}

fn bad_serial_cells(latest: &Latest) {
    assert_eq!(latest[&8]["sn"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(latest[&9]["sn"], "'@SUM(A1)");
    assert_eq!(latest[&14]["sn"], "NB0001", "no-break spaces are trimmed");
    assert_eq!(latest[&15]["sn"], "AB 123", "the tab became a space");
}

fn huge_cells_shortened(latest: &Latest) {
    // The results file repeats a huge cell only in part, and messages quote only a little.
    assert!(latest[&3]["sn"].chars().count() <= 260, "sn cell shortened");
    assert!(latest[&4]["plant_id"].chars().count() <= 260);
    assert!(latest[&6]["sn"].chars().count() <= 260);
    for row in [3, 4, 6] {
        assert!(latest[&row]["error_msg"].len() < 400, "message is short");
    }
}

/// The checked-in corpus, with what each file must give.
fn corpus_cases() -> Vec<Case> {
    let long_sn = format!("SB{}", "9".repeat(62));
    vec![
        fatal("01_empty.csv", &["is empty", "plant_id, sn, c_user_id"]),
        rows("02_header_only.csv", 0, vec![]),
        rows("03_header_only_no_newline.csv", 0, vec![]),
        fatal(
            "04_whitespace_only.csv",
            &["is empty", "plant_id, sn, c_user_id"],
        ),
        rows("05_bom.csv", 0, vec![ok(2, "BOM0001"), ok(3, "BOM0002")]),
        rows(
            "06_excel_de_bom_semicolon_crlf.csv",
            0,
            vec![
                reg(2, 10, "SEMI0001", 7),
                reg(3, 10, "SEMI0002", 7),
                reg(4, 10, "SEMI0003", 7),
            ],
        ),
        rows(
            "07_tabs.tsv",
            0,
            vec![ok(2, "TAB0001"), ok(3, "TAB0002"), ok(5, "TAB0003")],
        ),
        rows(
            "08_crlf.csv",
            3,
            vec![
                ok(2, "CRLF0001"),
                ok(3, "CRLF0002"),
                ok(4, "CRLF0003"),
                inv(5, &["plant_id 'x' is not a positive integer"]),
            ],
        ),
        rows(
            "09_quoted_newlines_and_delimiters.csv",
            3,
            vec![
                ok(2, "QN0001"),
                ok(3, "QN0002"),
                inv(4, &["sn 'AB,12' has ','"]),
                inv(5, &["sn 'QN\\n0003' has the control character U+000A"]),
                ok(6, "QN0004"),
                ok(7, "QN0005"),
            ],
        ),
        fatal(
            "10_missing_column.csv",
            &["missing column sn;", "'plant_id', 'c_user_id', 'site'"],
        ),
        fatal(
            "11_misspelt_columns.csv",
            &[
                "missing columns plant_id, sn;",
                "'plantid', 'serial', 'c_user_id'",
                "add: --column plant_id=plantid --column sn=serial",
            ],
        ),
        fatal(
            "12_duplicate_required_column.csv",
            &["the column sn appears twice", "columns 2 and 4"],
        ),
        fatal(
            "13_no_header_row.csv",
            &[
                "the first row holds values ('1', 'ND0001', '1'), not column names",
                "add a header row with plant_id, sn, c_user_id",
                "!--column",
            ],
        ),
        rows(
            "14_blank_lines_and_trailing_commas.csv",
            0,
            vec![ok(2, "BL0001"), ok(4, "BL0002"), ok(7, "BL0003")],
        ),
        fatal(
            "15_binary_garbage.bin",
            &[
                "missing columns plant_id, sn, c_user_id;",
                "the header has: '",
            ],
        ),
        rows(
            "16_garbage_rows.csv",
            3,
            vec![
                ok(2, "GR0001"),
                inv(
                    3,
                    &[
                        "plant_id '\\u{0}\\u{0}\\u{0}' is not a positive integer",
                        "sn '\\u{0}' has the control character U+0000",
                        "c_user_id '\\u{0}' is not a positive integer",
                    ],
                ),
                inv(
                    4,
                    &[
                        "plant_id is not UTF-8",
                        "sn is not UTF-8",
                        "c_user_id is not UTF-8",
                    ],
                ),
                inv(5, &["sn 'GR\\u{0}0003' has the control character U+0000"]),
                inv(6, &["plant_id '\\u{1b}[31m1' is not a positive integer"]),
                inv(7, &["c_user_id '1\\u{0}' is not a positive integer"]),
                inv(
                    8,
                    &[
                        "plant_id '\\u{0}",
                        "sn is missing (the row is too short)",
                        "c_user_id is missing (the row is too short)",
                    ],
                ),
                ok(9, "GR0006"),
            ],
        ),
        rows(
            "17_cp1252_unused_column.csv",
            0,
            vec![ok(2, "CP0001"), ok(3, "CP0002")],
        ),
        rows(
            "18_cp1252_in_used_columns.csv",
            3,
            vec![
                inv(2, &["sn is not UTF-8 text; save the file as CSV UTF-8"]),
                inv(3, &["plant_id is not UTF-8 text"]),
                ok(4, "CP0004"),
            ],
        ),
        rows(
            "19_spreadsheet_numbers.csv",
            3,
            vec![
                inv(
                    2,
                    &["plant_id '12345.0' was converted to a number by a spreadsheet"],
                ),
                inv(
                    3,
                    &["sn '1.23E+10' was converted to a number by a spreadsheet"],
                ),
                inv(
                    4,
                    &["sn '1,23457E+11' was converted to a number by a spreadsheet"],
                ),
                inv(
                    5,
                    &["sn '123456789012.0' was converted to a number by a spreadsheet"],
                ),
                inv(
                    6,
                    &["c_user_id '7,0' was converted to a number by a spreadsheet"],
                ),
                inv(
                    7,
                    &[
                        "sn '1.0E+5' was converted to a number",
                        "c_user_id '1.0' was converted to a number",
                    ],
                ),
                ok(8, "SS0003"),
                ok(9, "12345678"),
                // Letters and digits: a serial as written, not a number a spreadsheet made.
                ok(10, "1234E5678"),
            ],
        ),
        Case {
            extra: Some(bad_id_cells),
            ..rows(
                "20_bad_ids.csv",
                3,
                vec![
                    inv(2, &["plant_id is 0; it must be a positive integer"]),
                    inv(3, &["plant_id '-5' is not a positive integer"]),
                    inv(4, &["plant_id '+5' is not a positive integer"]),
                    inv(5, &["plant_id '18446744073709551616' is too large"]),
                    inv(6, &["plant_id '99999999999999999999999999' is too large"]),
                    // The API keeps ids as signed 64-bit numbers: i64::MAX is the largest sent.
                    inv(
                        7,
                        &["plant_id '18446744073709551615' is too large to be an id (at most 9223372036854775807)"],
                    ),
                    reg(8, 42, "ID0007", 7),
                    inv(9, &["c_user_id is 0"]),
                    inv(10, &["plant_id '0x1F' is not a positive integer"]),
                    inv(11, &["plant_id '1 2' is not a positive integer"]),
                    inv(12, &["plant_id '\u{661}\u{662}' is not a positive integer"]),
                    inv(13, &["plant_id is empty"]),
                    inv(14, &["c_user_id is empty"]),
                    inv(
                        15,
                        &["plant_id '1e3' was converted to a number by a spreadsheet"],
                    ),
                    ok(16, "ID0015"),
                    reg(17, i64::MAX as u64, "ID0016", i64::MAX as u64),
                    inv(18, &["plant_id '9223372036854775808' is too large"]),
                ],
            )
        },
        Case {
            extra: Some(bad_serial_cells),
            ..rows(
                "21_bad_serials.csv",
                3,
                vec![
                    inv(2, &["sn 'AB 123' has a space"]),
                    inv(3, &["sn 'AB-123' has '-'"]),
                    inv(4, &["sn '\u{c4}BC123' has '\u{c4}' (U+00C4)"]),
                    inv(5, &["(U+FF21)"]),
                    inv(6, &["has '\u{410}' (U+0410)"]),
                    inv(7, &["(U+200B)"]),
                    inv(8, &["has '='"]),
                    inv(9, &["has '@'"]),
                    inv(10, &["has '_'"]),
                    inv(11, &["has '.'"]),
                    inv(12, &["sn is 65 characters long; a serial has at most 64"]),
                    ok(13, &long_sn),
                    ok(14, "NB0001"),
                    inv(15, &["sn 'AB\\t123' has the control character U+0009"]),
                    inv(16, &["sn is empty"]),
                    inv(17, &["sn is empty"]),
                    ok(18, "sb0002"),
                ],
            )
        },
        rows(
            "22_duplicate_serials.csv",
            3,
            vec![
                ok(2, "DUP0001"),
                dup(3, 2),
                dup(4, 2),
                inv(5, &["plant_id 'x'"]),
                ok(6, "DUP0002"),
                dup(7, 6),
                ok(8, "LONGSERIAL0000001"),
                dup(9, 8),
                dup(10, 2),
                ok(11, "0"),
                ok(12, "00"),
            ],
        ),
        rows(
            "23_short_rows.csv",
            3,
            vec![
                ok(2, "SR0001"),
                inv(3, &["c_user_id is missing (the row is too short)"]),
                inv(4, &["sn is missing", "c_user_id is missing"]),
                inv(
                    5,
                    &[
                        "plant_id is missing",
                        "sn is missing",
                        "c_user_id is missing",
                    ],
                ),
                ok(6, "SR0003"),
            ],
        ),
        rows(
            "24_long_rows.csv",
            0,
            vec![
                ok(2, "LR0001"),
                ok(3, "LR0002"),
                ok(4, "LR0003"),
                ok(5, "LR0004"),
            ],
        ),
        rows(
            "25_header_spaces_mixed_case.csv",
            0,
            vec![ok(2, "HS0001"), ok(3, "hs0002")],
        ),
        rows(
            "26_quoted_everything.csv",
            0,
            vec![ok(2, "QE0001"), ok(3, "QE0002")],
        ),
        rows(
            "27_mac_cr_only.csv",
            3,
            vec![
                ok(2, "MAC0001"),
                ok(4, "MAC0002"),
                dup(5, 2),
                inv(6, &["plant_id 'x' is not a positive integer"]),
            ],
        ),
        fatal(
            "28_utf16le_unicode_text.txt",
            &["is saved as UTF-16", "save it again as \"CSV UTF-8\""],
        ),
        // Excel's `sep=;` first line names the delimiter and is not a row.
        rows("29_excel_sep_line.csv", 0, vec![ok(2, "SEP0001")]),
        rows(
            "30_mixed_delimiters.csv",
            3,
            vec![
                ok(2, "MX0001"),
                inv(
                    3,
                    &[
                        "plant_id '1,MX0002,1' is not a positive integer",
                        "sn is missing",
                    ],
                ),
                ok(4, "MX0003"),
            ],
        ),
        rows(
            "31_concatenated_files.csv",
            3,
            vec![
                ok(2, "CAT0001"),
                inv(
                    3,
                    &[
                        "plant_id' is not a positive integer",
                        "c_user_id 'c_user_id' is not a positive integer",
                    ],
                ),
                ok(4, "CAT0002"),
            ],
        ),
        rows(
            "32_nul_padded_tail.csv",
            3,
            vec![
                ok(2, "NUL0001"),
                ok(3, "NUL0002"),
                inv(4, &["plant_id '\\u{0}\\u{0}", "sn is missing"]),
            ],
        ),
        rows(
            "33_unterminated_quote.csv",
            3,
            vec![
                ok(2, "UQ0001"),
                inv(
                    3,
                    &[
                        "c_user_id is missing (the row is too short)",
                        "sn 'UQ0002,1\\n1,UQ0003,1\\n1,UQ0004,1' has ','",
                    ],
                ),
            ],
        ),
        rows(
            "34_quote_inside_unquoted_field.csv",
            3,
            vec![
                inv(2, &["sn 'AB\"12' has '\"'"]),
                inv(3, &["sn 'AB\"34' has '\"'"]),
                ok(4, "QU0001"),
            ],
        ),
        rows(
            "35_trailing_delimiter_header.csv",
            0,
            vec![ok(2, "TD0001"), ok(3, "TD0002")],
        ),
        rows(
            "36_blank_lines_before_header.csv",
            0,
            vec![ok(2, "BH0001"), ok(4, "BH0002")],
        ),
        // Dates where ids belong (a column formatted as dates, then exported): named as dates,
        // with the fix, never sent as a number.
        rows(
            "37_dates_in_id_columns.csv",
            3,
            vec![
                inv(2, &["plant_id '2025-01-02' is a date", "format the column as text"]),
                inv(3, &["c_user_id '02/01/2025' is a date"]),
                inv(4, &["plant_id '02.01.2025' is a date"]),
                inv(5, &["sn '2025-01-02 10:30:00' is a date"]),
                ok(6, "DT0005"),
                inv(7, &["plant_id '1.2' was converted to a number by a spreadsheet"]),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_ends_as_expected_with_run_and_check() {
    let cases = corpus_cases();
    // Every checked-in file has a case, so none sits there untested.
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    assert_eq!(on_disk, listed, "tests/corpus and the cases agree");
    assert!(cases.len() >= 25);

    let dir = tempfile::tempdir().unwrap();
    for case in &cases {
        let input = corpus(&case.file);
        run_case(dir.path(), &input, case).await;
        check_case(dir.path(), &input, case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_or_a_directory_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-fleet.csv");
    let folder = dir.path().join("fleet-folder.csv");
    std::fs::create_dir(&folder).unwrap();
    for (input, words) in [
        (&missing, ["cannot read", "no-such-fleet.csv"]),
        (&folder, ["cannot read", "fleet-folder.csv"]),
    ] {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let case = fatal(&name, &words);
        run_case(dir.path(), input, &case).await;
        check_case(dir.path(), input, &case).await;
    }
}

/// Files too big to check in: written from the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_fields_and_wide_headers_are_handled() {
    let dir = tempfile::tempdir().unwrap();

    // 1 MB in an unused column, 10 kB serial and id, and a 1 MB quoted note over 10,000 lines.
    let mut text = String::from("plant_id,sn,c_user_id,notes\n");
    text.push_str(&format!("1,LF0001,1,{}\n", "x".repeat(1 << 20)));
    text.push_str(&format!("1,{},1,n\n", "S".repeat(10_000)));
    text.push_str(&format!("{},LF0002,1,n\n", "1".repeat(10_000)));
    text.push_str("1,LF0003,1,\"");
    for _ in 0..10_000 {
        text.push_str(&"y,;\t".repeat(25));
        text.push('\n');
    }
    text.push_str("\"\n");
    text.push_str(&format!("1,{},1,\n", "\u{e4}".repeat(5_000)));
    text.push_str("1,LF0004,1,x\n");
    let input = write(dir.path(), "long_fields.csv", &text);
    let case = Case {
        extra: Some(huge_cells_shortened),
        ..rows(
            "long_fields.csv",
            3,
            vec![
                ok(2, "LF0001"),
                inv(3, &["sn is 10000 characters long; a serial has at most 64"]),
                inv(4, &["plant_id '1111", "is too large to be an id"]),
                ok(5, "LF0003"),
                inv(6, &["sn '\u{e4}\u{e4}", "(U+00E4)"]),
                ok(7, "LF0004"),
            ],
        )
    };
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;

    // A header of 5,000 columns (beyond the 64 kB the delimiter sniffer looks at), the required
    // ones last, semicolon-separated.
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!("unused column number {i:05};"));
    }
    text.push_str("plant_id;sn;c_user_id\n");
    assert!(text.len() > 64 * 1024);
    let filler = "v;".repeat(5_000);
    text.push_str(&format!("{filler}1;WIDE0001;1\n{filler}1;WIDE0002\n"));
    let input = write(dir.path(), "wide.csv", &text);
    let case = rows(
        "wide.csv",
        3,
        vec![ok(2, "WIDE0001"), inv(3, &["c_user_id is missing"])],
    );
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_rows_of_one_serial_send_one_request() {
    let dir = tempfile::tempdir().unwrap();
    const N: u64 = 100_000;
    let mut text = String::with_capacity(N as usize * 16);
    text.push_str("plant_id,sn,c_user_id\n");
    for i in 0..N {
        // The same serial in three spellings.
        let sn = ["SAME0001", "same0001", " Same0001 "][i as usize % 3];
        text.push_str(&format!("1,{sn},1\n"));
    }
    let input = write(dir.path(), "same.csv", &text);
    let mut want = vec![ok(2, "SAME0001")];
    want.extend((3..N + 2).map(|row| dup(row, 2)));
    let case = rows("same.csv", 0, want);
    run_case(dir.path(), &input, &case).await;
    check_case(dir.path(), &input, &case).await;
}

/// A CRLF, or a lone CR, that falls on the edge of the reader's 256 kB buffer still ends exactly
/// one line: row numbers stay exact far into the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_ends_on_the_read_buffer_edge_keep_rows_exact() {
    const BUF: usize = 256 * 1024;
    let dir = tempfile::tempdir().unwrap();
    for (name, header, eol) in [
        ("edge_crlf.csv", "plant_id,sn,c_user_id\r\n", "\r\n"),
        ("edge_cr.csv", "plant_id,sn,c_user_id,xy\r", "\r"),
    ] {
        let line = format!("1,EDGE0001,1{eol}");
        let mut text = String::from(header);
        while text.len() < BUF + 4 * line.len() {
            text.push_str(&line);
        }
        // The first CR at the end of the first buffer, as the layout above arranges.
        assert_eq!(
            text.as_bytes()[BUF - 1],
            b'\r',
            "{name}: the header and line lengths put a CR on the edge"
        );
        let input = write(dir.path(), name, &text);
        let n = ((text.len() - header.len()) / line.len()) as u64;
        let mut want = vec![ok(2, "EDGE0001")];
        want.extend((3..n + 2).map(|row| dup(row, 2)));
        let case = rows(name, 0, want);
        run_case(dir.path(), &input, &case).await;
        check_case(dir.path(), &input, &case).await;
    }
}
