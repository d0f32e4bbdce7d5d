//! Tests of the fleet reader.

use super::csv_file::excel_sep_line;
use super::*;
use std::io::Write;

fn read_all(content: &[u8]) -> Result<Vec<InputRow>, InputError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    FleetReader::open(f.path())?.collect()
}

#[test]
fn reads_comma_file_with_extra_columns_in_any_order() {
    let rows = read_all(b"site,SN,C_User_Id,Plant_ID\nroof,ABC123,7,42\n").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].row, 2);
    assert_eq!(
        rows[0].check,
        Ok(Device {
            plant_id: 42,
            sn: "ABC123".into(),
            c_user_id: 7
        })
    );
}

#[test]
fn bom_semicolons_crlf_and_spaces() {
    let rows = read_all(b"\xEF\xBB\xBF plant_id ; sn ;c_user_id\r\n 1 ; X1 ; 2 \r\n").unwrap();
    assert_eq!(rows[0].check.as_ref().unwrap().sn, "X1");
    let rows = read_all(b"plant_id\tsn\tc_user_id\n1\tX1\t2\n").unwrap();
    assert_eq!(rows[0].check.as_ref().unwrap().plant_id, 1);
}

#[test]
fn row_numbers_follow_the_spreadsheet_with_quoted_newlines_and_blank_lines() {
    let rows =
        read_all(b"plant_id,sn,c_user_id,note\n1,A1,2,\"two\nlines\"\n\n1,A2,2,x\n,,,\n1,A3,2,x")
            .unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, vec![2, 4, 6]);
    let rows =
        read_all(b"\r\nplant_id,sn,c_user_id,note\r\n\r\n\r\n1,A2,2,\"x\r\ny\"\r\n1,A3,2,x\r\n")
            .unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, vec![4, 5]);
    let rows = read_all(b"plant_id,sn,c_user_id\n1,A1,2\n1,A2,2\n").unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, vec![2, 3]);
}

#[test]
fn non_utf8_in_unused_column_is_ignored() {
    let rows = read_all(b"plant_id,sn,c_user_id,name\n1,A1,2,M\xfcller\n").unwrap();
    assert!(rows[0].check.is_ok());
    let rows = read_all(b"plant_id,sn,c_user_id\n1,A\xfc1,2\n").unwrap();
    assert!(rows[0].check.as_ref().unwrap_err().contains("not UTF-8"));
}

#[test]
fn missing_columns_name_what_was_found_and_the_closest() {
    let err = read_all(b"plant id,serial,c_user_id\n1,2,3\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("missing columns plant_id, sn"), "{msg}");
    assert!(msg.contains("'plant id'"), "{msg}");
    assert!(
        msg.contains("add: --column plant_id=\"plant id\" --column sn=serial"),
        "{msg}"
    );
}

#[test]
fn missing_columns_suggest_a_mapping_from_the_closest_headers() {
    let err = read_all(b"Plant ID;Serial;Customer\n1;A1;2\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "--column plant_id=\"Plant ID\" --column sn=Serial --column c_user_id=Customer"
        ),
        "{msg}"
    );
    // Another sheet gets its own mapping, never the same fixed example.
    let err = read_all(b"Station,Seriennummer,End User,Note\n1,A1,2,x\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(
            "--column plant_id=Station --column sn=Seriennummer --column c_user_id=\"End User\""
        ),
        "{msg}"
    );
    assert!(!msg.contains("Plant ID"), "{msg}");
    // A column nothing resembles is named, with what to do.
    let err = read_all(b"plant_id,Serial,Note\n1,A1,x\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("--column sn=Serial;"), "{msg}");
    assert!(
        msg.contains("map c_user_id with --column c_user_id=\"YOUR HEADER\""),
        "{msg}"
    );
}

#[test]
fn a_first_row_of_values_asks_for_a_header_row() {
    let err = read_all(b"1001,AB12,5\n1002,AB13,5\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("the first row holds values ('1001', 'AB12', '5'), not column names; add a header row with plant_id, sn, c_user_id"),
        "{msg}"
    );
}

#[test]
fn empty_and_blank_files_are_fatal() {
    assert!(matches!(read_all(b""), Err(InputError::Empty { .. })));
    assert!(matches!(read_all(b"\n\n"), Err(InputError::Empty { .. })));
}

#[test]
fn short_row_is_invalid() {
    let rows = read_all(b"plant_id,sn,c_user_id\n1,A1\n").unwrap();
    assert!(rows[0]
        .check
        .as_ref()
        .unwrap_err()
        .contains("c_user_id is missing"));
}

#[test]
fn ids_must_be_positive_integers_with_spreadsheet_hints() {
    assert_eq!(parse_id("plant_id", "42"), Ok(42));
    assert_eq!(parse_id("plant_id", "007"), Ok(7));
    assert!(parse_id("plant_id", "0").unwrap_err().contains("positive"));
    assert!(parse_id("plant_id", "-3")
        .unwrap_err()
        .contains("not a positive integer"));
    assert!(parse_id("plant_id", "abc")
        .unwrap_err()
        .contains("'abc' is not a positive"));
    assert!(parse_id("plant_id", "").unwrap_err().contains("empty"));
    assert!(parse_id("c_user_id", "12345.0")
        .unwrap_err()
        .contains("converted to a number by a spreadsheet"));
    assert!(parse_id("plant_id", "99999999999999999999999")
        .unwrap_err()
        .contains("too large"));
}

#[test]
fn serials_are_letters_and_digits() {
    assert_eq!(check_sn("BQC0A1234F"), Ok("BQC0A1234F"));
    assert!(check_sn("AB-12").unwrap_err().contains("'-'"));
    assert!(check_sn("AB 12").unwrap_err().contains("a space"));
    assert!(check_sn("1.23E+10").unwrap_err().contains("spreadsheet"));
    assert!(check_sn("123456789.0").unwrap_err().contains("spreadsheet"));
    assert!(check_sn("1,23457E+11").unwrap_err().contains("spreadsheet"));
    assert!(check_sn(&"A".repeat(65))
        .unwrap_err()
        .contains("65 characters"));
    assert!(check_sn("=HYPERLINK(1)").is_err());
}

#[test]
fn long_values_are_quoted_short() {
    let long = "x".repeat(10_000);
    let msg = parse_id("plant_id", &long).unwrap_err();
    assert!(msg.len() < 200, "{}", msg.len());
}

#[test]
fn delimiter_sniffing() {
    assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3"), b';');
    assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
    assert_eq!(sniff_delimiter(b"a\tb\tc"), b'\t');
    assert_eq!(sniff_delimiter(b"\"x;y\",b,c\n"), b',');
    assert_eq!(sniff_delimiter(b""), b',');
}

#[test]
fn spreadsheet_cells_read_as_a_person_sees_them() {
    use calamine::Data;
    assert_eq!(cell_text(&Data::Float(1234567890.0)), "1234567890");
    assert_eq!(cell_text(&Data::Float(123456789012.0)), "123456789012");
    assert_eq!(cell_text(&Data::Float(12.5)), "12.5");
    assert_eq!(cell_text(&Data::Int(42)), "42");
    assert_eq!(cell_text(&Data::String(" AB12 ".into())), " AB12 ");
    assert_eq!(cell_text(&Data::Empty), "");
    assert_eq!(cell_text(&Data::Bool(true)), "TRUE");
}

#[test]
fn column_mapping_and_excel_sep_line() {
    let mut o = ReadOptions::default();
    o.map_columns(&["plant_id=\"Plant ID\"".into(), "SN = Serial".into()])
        .unwrap();
    assert_eq!(
        o.columns,
        ["Plant ID".to_string(), "Serial".into(), "c_user_id".into()]
    );
    assert!(o.map_columns(&["plant=Plant".into()]).is_err());
    assert!(o.map_columns(&["sn".into()]).is_err());
    assert!(o.map_columns(&["sn=".into()]).is_err());
    assert_eq!(excel_sep_line(b"sep=;\r\nx"), Some(b';'));
    assert_eq!(excel_sep_line(b"\xEF\xBB\xBFsep=\t\n"), Some(b'\t'));
    assert_eq!(excel_sep_line(b"sep=;x\n"), None);
    assert_eq!(excel_sep_line(b"plant_id,sn"), None);
}

#[test]
fn sn_keys_are_case_insensitive_and_distinct() {
    assert_eq!(sn_key("abc123"), sn_key("ABC123"));
    assert_ne!(sn_key("ABC123"), sn_key("ABC124"));
    assert_ne!(sn_key("A"), sn_key("0A"));
    assert_ne!(sn_key("0"), sn_key("00"));
    assert_eq!(sn_key(&"Z".repeat(20)), sn_key(&"z".repeat(20)));
    assert!(sn_key("ZZZZZZZZZZZZ") < 1 << 63);
    assert!(sn_key(&"Z".repeat(13)) >= 1 << 63);
}

fn open_with(
    content: &[u8],
    options: &ReadOptions,
) -> Result<(FleetReader, NamedFile), InputError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    let reader = FleetReader::open_with(f.path(), options)?;
    Ok((reader, f))
}

type NamedFile = tempfile::NamedTempFile;

fn rows_of(reader: FleetReader) -> Vec<(u64, String)> {
    reader
        .map(|r| {
            let r = r.unwrap();
            (r.row, r.sn)
        })
        .collect()
}

#[test]
fn the_header_is_found_below_a_title_and_rows_keep_their_numbers() {
    let csv = "ACME Solar — installations June 2026\nExported 2026-06-30\n\nplant_id;sn;c_user_id;note\n1;A1;2;x\n\n1;A2;2;\"two\nlines\"\n1;A3;2;\n";
    let (reader, _f) = open_with(csv.as_bytes(), &ReadOptions::default()).unwrap();
    assert_eq!(reader.header_row, 4);
    assert_eq!(reader.delimiter, b';', "the title line has no delimiter");
    assert_eq!(
        reader.header_note().as_deref(),
        Some("header on row 4 (rows 1–3 above it are skipped)")
    );
    assert_eq!(
        rows_of(reader),
        [(5, "A1".to_string()), (7, "A2".into()), (8, "A3".into())]
    );
    // A comma in the title of a semicolon file does not pick the delimiter.
    let (reader, _f) = open_with(
        b"ACME Solar, June 2026\nplant_id;sn;c_user_id\n1;B1;2\n",
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(reader.delimiter, b';');
    assert_eq!(
        reader.header_note().as_deref(),
        Some("header on row 2 (row 1 above it is skipped)")
    );
    assert_eq!(rows_of(reader), [(3, "B1".to_string())]);
    // With the header first, nothing changes: no note, data from row 2.
    let (reader, _f) =
        open_with(b"plant_id,sn,c_user_id\n1,C1,2\n", &ReadOptions::default()).unwrap();
    assert_eq!((reader.header_row, reader.header_note()), (1, None));
}

#[test]
fn a_title_naming_some_of_the_columns_is_not_taken_for_the_header() {
    let csv =
        b"sn,plant_id,Fill in plant_id, sn and c_user_id below\nplant_id,sn,c_user_id\n1,A1,2\n";
    let (reader, _f) = open_with(csv, &ReadOptions::default()).unwrap();
    assert_eq!(reader.header_row, 2);
    assert_eq!(rows_of(reader), [(3, "A1".to_string())]);
    // A mapped header is found the same way.
    let mut options = ReadOptions::default();
    options
        .map_columns(&[
            "plant_id=Plant ID".into(),
            "sn=Serial No.".into(),
            "c_user_id=Customer ID".into(),
        ])
        .unwrap();
    let csv = b"Serial No. list\nPlant ID,Serial No.,Customer ID\n1,D1,2\n";
    let (reader, _f) = open_with(csv, &options).unwrap();
    assert_eq!(rows_of(reader), [(3, "D1".to_string())]);
}

#[test]
fn no_header_in_the_top_rows_names_the_rows_and_the_closest_with_a_mapping() {
    let msg = read_all(b"ACME Solar\n\nPlant ID;Serial No.;Customer ID\n1;A;1\n")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no header in rows 1–4: none holds plant_id, sn and c_user_id; the closest, row 3, is missing columns plant_id, sn, c_user_id; it has: 'Plant ID', 'Serial No.', 'Customer ID'"),
        "{msg}"
    );
    assert!(
        msg.contains("add: --column plant_id=\"Plant ID\" --column sn=\"Serial No.\" --column c_user_id=\"Customer ID\""),
        "{msg}"
    );
    // Only the top rows are searched: a header on row 21 is not found.
    let mut csv = "title\n".repeat(20);
    csv.push_str("plant_id,sn,c_user_id\n1,A,2\n");
    let msg = read_all(csv.as_bytes()).unwrap_err().to_string();
    assert!(
        msg.contains("no header in rows 1–20: none holds plant_id, sn and c_user_id; row 1 is missing columns plant_id, sn, c_user_id; it has: 'title'; name columns"),
        "{msg}"
    );
    // A serial that reads like a column name in a data row is not taken for the closest.
    let msg = read_all(b"Report\n1,SN,1\n").unwrap_err().to_string();
    assert!(msg.contains("row 1 is missing columns"), "{msg}");
    assert!(msg.contains("it has: 'Report'"), "{msg}");
}

#[test]
fn header_row_forces_the_header_and_a_wrong_one_is_named() {
    let options = |n| ReadOptions {
        header_row: Some(n),
        ..ReadOptions::default()
    };
    // The first row holding the columns is row 1, but the header is said to be row 3.
    let csv = b"plant_id,sn,c_user_id\nold export below\nplant_id,sn,c_user_id\n1,A1,2\n";
    let (reader, _f) = open_with(csv, &options(3)).unwrap();
    assert_eq!(reader.header_row, 3);
    assert_eq!(rows_of(reader), [(4, "A1".to_string())]);
    let msg = open_with(csv, &options(2)).err().unwrap().to_string();
    assert!(
        msg.contains("--header-row 2: row 2 is missing columns plant_id, sn, c_user_id; it has: 'old export below'"),
        "{msg}"
    );
    let msg = open_with(csv, &options(4)).err().unwrap().to_string();
    assert!(
        msg.contains("--header-row 4: row 4 holds values ('1', 'A1', '2'), not column names"),
        "{msg}"
    );
    let msg = open_with(b"a\n\nplant_id,sn,c_user_id\n", &options(2))
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("--header-row 2: row 2 is empty"), "{msg}");
    let msg = open_with(csv, &options(9)).err().unwrap().to_string();
    assert!(
        msg.contains(
            "--header-row 9: the file ends before row 9: its last row with anything in it is row 4"
        ),
        "{msg}"
    );
}

#[test]
fn a_note_alone_or_a_skip_mark_skips_a_row_and_nothing_else_does() {
    let long = "n".repeat(70);
    let text = format!(
        "note, SKIP ,plant_id,sn,c_user_id\n\
         hello\n\
         {long},,,,\n\
         \"line\nbreak\",,,,\n\
         , y ,1,BAD SN,2\n\
         ,  ,1,A1,2\n\
         seen,,1,A2,2\n\
         half,,1,,2\n"
    );
    let rows = read_all(text.as_bytes()).unwrap();
    let skips: Vec<Option<&str>> = rows.iter().map(|r| r.skip.as_deref()).collect();
    let cut = format!("a note only: \"{}…\"", "n".repeat(60));
    assert_eq!(
        skips,
        [
            Some("a note only: \"hello\""),
            Some(cut.as_str()),
            Some("a note only: \"line\\nbreak\""),
            Some("skip column: \"y\""),
            None,
            None,
            None,
        ]
    );
    // A half-filled row is a mistake to fix, not a skip.
    assert!(rows[6].check.is_err());
}

#[test]
fn the_skip_column_is_mapped_by_name() {
    let mut o = ReadOptions::default();
    o.map_columns(&["skip=\"On hold\"".into()]).unwrap();
    assert_eq!(o.skip.as_deref(), Some("On hold"));
    assert_eq!(o.columns, REQUIRED.map(String::from));
    assert!(o.map_columns(&["skip=".into()]).is_err());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"plant_id,sn,c_user_id,skip,On Hold\n1,A1,2,x,\n1,A2,2,,yes\n")
        .unwrap();
    let rows: Vec<InputRow> = FleetReader::open_with(f.path(), &o)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Mapped, the named column is the skip column and `skip` is just another column.
    assert_eq!(rows[0].skip, None);
    assert_eq!(rows[1].skip.as_deref(), Some("skip column: \"yes\""));
}
