//! What each damaged or hostile fleet file must give: the exit code, and how every row ends.

use std::collections::HashMap;

/// How one row must end.
#[derive(Clone, Debug)]
pub enum Want {
    /// Sent once and answered 0; the simulator's world has this plant, user and serial.
    Registered { plant: u64, sn: String, user: u64 },
    /// Never sent; the message contains every one of these.
    Invalid(Vec<String>),
    /// Never sent; same serial as that earlier row.
    Duplicate(u64),
    /// Never sent, on purpose; the message is this.
    Skipped(String),
}

/// Registered on `plant` by `user`.
pub fn reg(row: u64, plant: u64, sn: &str, user: u64) -> (u64, Want) {
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
pub fn ok(row: u64, sn: &str) -> (u64, Want) {
    reg(row, 1, sn, 1)
}

/// Invalid, with a message holding each of `msg`.
pub fn inv(row: u64, msg: &[&str]) -> (u64, Want) {
    (
        row,
        Want::Invalid(msg.iter().map(|s| s.to_string()).collect()),
    )
}

/// A duplicate of row `first`.
pub fn dup(row: u64, first: u64) -> (u64, Want) {
    (row, Want::Duplicate(first))
}

/// Skipped on purpose, with this message.
pub fn skipped(row: u64, msg: &str) -> (u64, Want) {
    (row, Want::Skipped(msg.to_string()))
}

/// The latest results line per row.
pub type Latest = HashMap<u64, HashMap<String, String>>;

/// One input and what must come of it.
pub struct Case {
    /// The file's name (in `tests/corpus/` for the checked-in ones).
    pub file: String,
    /// The exit code of `run`.
    pub exit: i32,
    /// Every row that must end, for exits other than 1.
    pub rows: Vec<(u64, Want)>,
    /// For exit 1: words stderr must contain (a leading `!` means: must not contain).
    pub fatal: Vec<&'static str>,
    /// Further checks on the results lines (by row).
    pub extra: Option<fn(&Latest)>,
    /// Rows `check` warns about (a serial a spreadsheet may have damaged); sent all the same.
    pub warned: Vec<u64>,
}

impl Case {
    /// The rows `check` warns about.
    fn warned(mut self, rows: &[u64]) -> Case {
        self.warned = rows.to_vec();
        self
    }
}

/// A file that ends with `exit` and these rows.
pub fn rows(file: &str, exit: i32, rows: Vec<(u64, Want)>) -> Case {
    Case {
        file: file.to_string(),
        exit,
        rows,
        fatal: vec![],
        extra: None,
        warned: vec![],
    }
}

/// A file whose rows all register on plant 1 by user 1 (exit 0): `oks` are `row:serial` words.
pub fn fine(file: &str, oks: &str) -> Case {
    let rows = oks.split_whitespace().map(|w| {
        let (row, sn) = w.split_once(':').unwrap();
        ok(row.parse().unwrap(), sn)
    });
    self::rows(file, 0, rows.collect())
}

/// A file that stops the run (exit 1) with these words on stderr.
pub fn fatal(file: &str, words: &[&'static str]) -> Case {
    Case {
        file: file.to_string(),
        exit: 1,
        rows: vec![],
        fatal: words.to_vec(),
        extra: None,
        warned: vec![],
    }
}

/// `20_bad_ids.csv`: the cells as the results file repeats them.
pub fn bad_id_cells(latest: &Latest) {
    // Formula-looking cells are neutralised, and the huge id is repeated as written.
    assert_eq!(latest[&3]["plant_id"], "'-5");
    assert_eq!(latest[&4]["plant_id"], "'+5");
    assert_eq!(latest[&5]["plant_id"], "18446744073709551616");
}

/// `21_bad_serials.csv`: the cells as the results file repeats them.
pub fn bad_serial_cells(latest: &Latest) {
    assert_eq!(latest[&8]["sn"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(latest[&9]["sn"], "'@SUM(A1)");
    assert_eq!(latest[&14]["sn"], "NB0001", "no-break spaces are trimmed");
    assert_eq!(latest[&15]["sn"], "AB 123", "the tab became a space");
}

/// The huge fields' file: cells and messages are repeated only in part.
pub fn huge_cells_shortened(latest: &Latest) {
    // The results file repeats a huge cell only in part, and messages quote only a little.
    assert!(latest[&3]["sn"].chars().count() <= 260, "sn cell shortened");
    assert!(latest[&4]["plant_id"].chars().count() <= 260);
    assert!(latest[&6]["sn"].chars().count() <= 260);
    for row in [3, 4, 6] {
        assert!(latest[&row]["error_msg"].len() < 400, "message is short");
    }
}

/// The checked-in corpus, with what each file must give.
pub fn corpus_cases() -> Vec<Case> {
    let long_sn = format!("SB{}", "9".repeat(62));
    vec![
        fatal("01_empty.csv", &["is empty", "plant_id, sn, c_user_id"]),
        fine("02_header_only.csv", ""),
        fine("03_header_only_no_newline.csv", ""),
        fatal(
            "04_whitespace_only.csv",
            &["is empty", "plant_id, sn, c_user_id"],
        ),
        fine("05_bom.csv", "2:BOM0001 3:BOM0002"),
        rows(
            "06_excel_de_bom_semicolon_crlf.csv",
            0,
            vec![
                reg(2, 10, "SEMI0001", 7),
                reg(3, 10, "SEMI0002", 7),
                reg(4, 10, "SEMI0003", 7),
            ],
        ),
        fine("07_tabs.tsv", "2:TAB0001 3:TAB0002 5:TAB0003"),
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
        fine("14_blank_lines_and_trailing_commas.csv", "2:BL0001 4:BL0002 7:BL0003"),
        fatal(
            "15_binary_garbage.bin",
            &[
                "missing columns plant_id, sn, c_user_id;",
                "it has: '",
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
        fine("17_cp1252_unused_column.csv", "2:CP0001 3:CP0002"),
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
        )
        // Digits only and shorter than the fleet's usual 7 characters.
        .warned(&[11, 12]),
        rows(
            "23_short_rows.csv",
            3,
            vec![
                ok(2, "SR0001"),
                inv(3, &["c_user_id is missing (the row is too short)"]),
                inv(4, &["sn is missing", "c_user_id is missing"]),
                // Only the note, before the required columns: a note-only row.
                skipped(5, "a note only: \"a\""),
                ok(6, "SR0003"),
            ],
        ),
        fine("24_long_rows.csv", "2:LR0001 3:LR0002 4:LR0003 5:LR0004"),
        fine("25_header_spaces_mixed_case.csv", "2:HS0001 3:hs0002"),
        fine("26_quoted_everything.csv", "2:QE0001 3:QE0002"),
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
        fine("29_excel_sep_line.csv", "2:SEP0001"),
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
        fine("35_trailing_delimiter_header.csv", "2:TD0001 3:TD0002"),
        fine("36_blank_lines_before_header.csv", "2:BH0001 4:BH0002"),
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
