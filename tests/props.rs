//! Property tests of the parts that meet untrusted bytes: the fleet reader and its validators,
//! the API envelope decoder, and the results file's cell guard.

use std::io::Write;

use growatt_onboard::api::decode_envelope;
use growatt_onboard::input::{check_sn, parse_id, Device, FleetReader, InputRow};
use growatt_onboard::journal::safe_cell;
use proptest::prelude::*;

const HEADER: &[u8] = b"plant_id,sn,c_user_id\n";

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Writes `bytes` to a temp file and reads every row; the reader's own errors become strings.
fn read_bytes(bytes: &[u8]) -> Result<Vec<Result<InputRow, String>>, String> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    let reader = FleetReader::open(f.path()).map_err(|e| e.to_string())?;
    let rows: Vec<_> = reader.map(|r| r.map_err(|e| e.to_string())).collect();
    // The progress bar's total agrees with what the run reads.
    if rows.iter().all(Result::is_ok) {
        let counted = FleetReader::count_rows(f.path()).unwrap();
        assert_eq!(counted, rows.len() as u64, "count_rows agrees");
    }
    Ok(rows)
}

/// Whatever was read: messages are never empty, rows count up from 2, devices are well formed.
fn check_rows(rows: &[Result<InputRow, String>]) {
    let mut last = 1;
    for r in rows {
        match r {
            Err(msg) => assert!(!msg.is_empty()),
            Ok(row) => {
                assert!(
                    row.row > last,
                    "row numbers increase: {} after {last}",
                    row.row
                );
                last = row.row;
                match &row.check {
                    Err(msg) => assert!(!msg.is_empty(), "row {} has a message", row.row),
                    Ok(d) => {
                        assert!(d.plant_id >= 1 && d.c_user_id >= 1);
                        assert!(!d.sn.is_empty() && d.sn.len() <= 64);
                        assert!(d.sn.bytes().all(|b| b.is_ascii_alphanumeric()));
                    }
                }
            }
        }
    }
}

/// Bytes that make CSV structure: delimiters, quotes, line ends, spaces, NUL, high bytes.
fn csvish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b",;\t\"\n\r ".to_vec()),
        4 => prop::sample::select(b"0123456789AZaz.E+-".to_vec()),
        1 => Just(0u8),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..400)
}

/// What `parse_id` should say, worked out without it: digits only, value 1..=i64::MAX (the
/// API's ids are signed 64-bit numbers).
fn id_oracle(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let v: u128 = digits.parse().unwrap();
    u64::try_from(v).ok().filter(|&v| v <= i64::MAX as u64)
}

fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,30}",
        "[ +-]?[0-9]{1,25}([.,][0-9]{0,3})?([eE][+-]?[0-9]{1,3})?",
        any::<u64>().prop_map(|n| n.to_string()),
        (0u128..1000).prop_map(|d| (u64::MAX as u128 + d).to_string()),
        (0u128..1000).prop_map(|d| (i64::MAX as u128 - 500 + d).to_string()),
        (0usize..5, any::<u64>()).prop_map(|(z, n)| format!("{}{n}", "0".repeat(z))),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_never_panic_the_reader(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        match read_bytes(&bytes) {
            Ok(rows) => check_rows(&rows),
            Err(msg) => prop_assert!(!msg.is_empty()),
        }
    }

    #[test]
    fn csvish_bytes_never_panic_the_reader(bytes in csvish_bytes()) {
        match read_bytes(&bytes) {
            Ok(rows) => check_rows(&rows),
            Err(msg) => prop_assert!(!msg.is_empty()),
        }
    }

    #[test]
    fn any_rows_under_a_valid_header_read_without_panic(
        body in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), csvish_bytes()],
        bom in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend_from_slice(b"\xEF\xBB\xBF");
        }
        bytes.extend_from_slice(HEADER);
        bytes.extend_from_slice(&body);
        let rows = read_bytes(&bytes);
        prop_assert!(rows.is_ok(), "a valid header opens: {rows:?}");
        check_rows(&rows.unwrap());
    }

    #[test]
    fn parse_id_accepts_exactly_positive_i64_digit_strings(
        s in id_text(),
        column in prop::sample::select(vec!["plant_id", "c_user_id"]),
    ) {
        let got = parse_id(column, &s);
        match id_oracle(&s) {
            Some(n) => prop_assert_eq!(got, Ok(n)),
            None => {
                let msg = got.expect_err("rejected");
                prop_assert!(msg.starts_with(column), "names the column: {msg}");
                prop_assert!(msg.len() < 500, "quotes only part of the value: {msg}");
            }
        }
    }

    #[test]
    fn check_sn_accepts_exactly_short_letters_and_digits(
        s in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9]{0,70}",
            "[0-9]{1,12}[.,]?[0-9]{0,3}([eE][+-]?[0-9]{1,3})?",
            "[A-Za-z0-9 \\-_.]{1,20}",
        ],
    ) {
        let valid = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        match check_sn(&s) {
            Ok(sn) => {
                prop_assert!(valid, "accepted {s:?}");
                prop_assert_eq!(sn, s.as_str());
            }
            Err(msg) => {
                prop_assert!(!valid, "rejected the good serial {s:?}: {msg}");
                prop_assert!(msg.starts_with("sn "), "names the column: {msg}");
                prop_assert!(msg.len() < 500, "quotes only part of the value: {msg}");
            }
        }
    }
}

/// One generated fleet file and what reading it must give.
#[derive(Debug, Clone)]
struct Fleet {
    bytes: Vec<u8>,
    want: Vec<(u64, Device)>,
}

/// A cell as written: padding, optional quotes (forced when the content needs them).
fn cell(content: &[u8], pad: (usize, usize), quote: bool, delim: u8) -> Vec<u8> {
    let mut inner = Vec::new();
    inner.extend(std::iter::repeat_n(b' ', pad.0));
    inner.extend_from_slice(content);
    inner.extend(std::iter::repeat_n(b' ', pad.1));
    let needs = inner
        .iter()
        .any(|&b| b == delim || b == b'"' || b == b'\n' || b == b'\r');
    if !(quote || needs) {
        return inner;
    }
    let mut out = vec![b'"'];
    for &b in &inner {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

#[derive(Debug, Clone)]
struct RowGen {
    plant: u64,
    sn: String,
    user: u64,
    /// Padding around the three values.
    pads: [(usize, usize); 3],
    /// Quote each of the columns (required first, then extras).
    quotes: Vec<bool>,
    /// Content of the extra columns: any bytes, including delimiters, quotes and line ends.
    extras: Vec<Vec<u8>>,
    /// Blank lines before this row.
    blanks: usize,
}

fn pad() -> impl Strategy<Value = (usize, usize)> {
    (0usize..3, 0usize..3)
}

fn row_gen(extra_cols: usize) -> impl Strategy<Value = RowGen> {
    (
        1..=i64::MAX as u64,
        "[A-Za-z0-9]{1,64}",
        1..=i64::MAX as u64,
        [pad(), pad(), pad()],
        prop::collection::vec(any::<bool>(), 3 + extra_cols),
        prop::collection::vec(
            prop_oneof![
                "[a-z ]{0,6}".prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..12),
            ],
            extra_cols,
        ),
        prop_oneof![4 => Just(0usize), 1 => 1usize..3],
    )
        .prop_map(|(plant, sn, user, pads, quotes, extras, blanks)| RowGen {
            plant,
            sn,
            user,
            pads,
            quotes,
            extras,
            blanks,
        })
}

fn fleet() -> impl Strategy<Value = Fleet> {
    (0usize..4).prop_flat_map(|extra_cols| {
        (
            prop::sample::select(vec![b',', b';', b'\t']),
            prop::sample::select(vec!["\n", "\r\n", "\r"]),
            any::<bool>(),
            any::<bool>(),
            // Header names of the extra columns, and how the required ones are spelt.
            prop::collection::vec("[a-z][a-z ]{0,7}", extra_cols),
            [any::<bool>(), any::<bool>(), any::<bool>()],
            [pad(), pad(), pad()],
            Just((0..3 + extra_cols).collect::<Vec<usize>>()).prop_shuffle(),
            prop::collection::vec(row_gen(extra_cols), 1..6),
        )
            .prop_map(
                move |(delim, eol, bom, final_eol, names, upper, hpads, order, rows)| {
                    build_fleet(
                        delim, eol, bom, final_eol, &names, upper, hpads, &order, &rows,
                    )
                },
            )
    })
}

#[allow(clippy::too_many_arguments)]
fn build_fleet(
    delim: u8,
    eol: &str,
    bom: bool,
    final_eol: bool,
    names: &[String],
    upper: [bool; 3],
    hpads: [(usize, usize); 3],
    order: &[usize],
    rows: &[RowGen],
) -> Fleet {
    let required = ["plant_id", "sn", "c_user_id"];
    let mut header_cells: Vec<Vec<u8>> = Vec::new();
    for (i, name) in required.iter().enumerate() {
        let name = if upper[i] {
            name.to_uppercase()
        } else {
            name.to_string()
        };
        header_cells.push(cell(name.as_bytes(), hpads[i], false, delim));
    }
    for name in names {
        // An extra column named like a required one would be a different test.
        let name = if required.contains(&name.trim()) {
            format!("x{name}")
        } else {
            name.clone()
        };
        header_cells.push(cell(name.as_bytes(), (0, 0), false, delim));
    }
    let join = |cells: &[Vec<u8>]| -> Vec<u8> {
        let mut line = Vec::new();
        for (n, &i) in order.iter().enumerate() {
            if n > 0 {
                line.push(delim);
            }
            line.extend_from_slice(&cells[i]);
        }
        line
    };
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
    }
    bytes.extend(join(&header_cells));
    let mut want = Vec::new();
    let mut row = 1;
    for r in rows {
        for _ in 0..r.blanks {
            bytes.extend_from_slice(eol.as_bytes());
            row += 1;
        }
        bytes.extend_from_slice(eol.as_bytes());
        row += 1;
        let values = [r.plant.to_string(), r.sn.clone(), r.user.to_string()];
        let mut cells: Vec<Vec<u8>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| cell(v.as_bytes(), r.pads[i], r.quotes[i], delim))
            .collect();
        for (j, e) in r.extras.iter().enumerate() {
            cells.push(cell(e, (0, 0), r.quotes[3 + j], delim));
        }
        bytes.extend(join(&cells));
        want.push((
            row,
            Device {
                plant_id: r.plant,
                sn: r.sn.clone(),
                c_user_id: r.user,
            },
        ));
    }
    if final_eol {
        bytes.extend_from_slice(eol.as_bytes());
    }
    Fleet { bytes, want }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_rows_round_trip_whatever_the_layout(f in fleet()) {
        let rows = read_bytes(&f.bytes);
        prop_assert!(rows.is_ok(), "opens: {:?}\n{:?}", rows, String::from_utf8_lossy(&f.bytes));
        let got: Vec<(u64, Result<Device, String>)> = rows
            .unwrap()
            .into_iter()
            .map(|r| {
                let r = r.expect("no read error");
                (r.row, r.check)
            })
            .collect();
        let want: Vec<(u64, Result<Device, String>)> =
            f.want.iter().map(|(n, d)| (*n, Ok(d.clone()))).collect();
        prop_assert_eq!(got, want, "file: {:?}", String::from_utf8_lossy(&f.bytes));
    }

    #[test]
    fn decode_envelope_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(msg) = decode_envelope(&bytes) {
            prop_assert!(!msg.is_empty());
        }
    }

    #[test]
    fn decode_envelope_on_json_never_panics(
        s in r#"\{("error_code"|"error_msg"|"data"|[a-z]{1,4}|[:,\[\]{}"0-9.eE+\- ]|true|null){0,12}\}?"#,
    ) {
        let _ = decode_envelope(s.as_bytes());
    }

    #[test]
    fn generated_envelopes_decode_to_their_code_and_message(
        code in any::<i64>(),
        as_string in any::<bool>(),
        msg in any::<String>(),
        data in prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            prop::collection::vec(any::<u32>(), 0..4).prop_map(serde_json::Value::from),
            (any::<String>(), any::<bool>())
                .prop_map(|(k, v)| serde_json::json!({ k: v, "nested": { "error_code": 7 } })),
        ],
        with_data in any::<bool>(),
    ) {
        let code_value = if as_string {
            serde_json::Value::from(code.to_string())
        } else {
            serde_json::Value::from(code)
        };
        let mut env = serde_json::json!({ "error_code": code_value, "error_msg": msg });
        if with_data {
            env["data"] = data;
        }
        let body = serde_json::to_vec(&env).unwrap();
        prop_assert_eq!(decode_envelope(&body), Ok((code, msg)));
    }

    #[test]
    fn safe_cell_keeps_one_line_and_no_formula(s in prop_oneof![
        any::<String>(),
        "[=+\\-@\t\r\n ]{0,3}[a-zA-Z0-9=+\\-@\t\r\n ]{0,12}",
    ]) {
        let out = safe_cell(&s);
        prop_assert!(!out.contains('\n') && !out.contains('\r'), "{out:?}");
        prop_assert!(!out.starts_with(['=', '+', '-', '@', '\t', '\r']), "{out:?}");
        // Harmless text passes unchanged.
        if !s.chars().any(char::is_control) && !s.trim_start().starts_with(['=', '+', '-', '@']) {
            prop_assert_eq!(out, s);
        }
    }
}
