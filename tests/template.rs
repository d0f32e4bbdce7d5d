//! `template`: the fill-in workbook's structure (text columns, validation, frozen header, the
//! explanation sheet), `check` on it untouched, and a filled-in copy read back as typed.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::*;

/// The files of an .xlsx (a zip archive), by name.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip archive");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().expect("a file name").to_string(), data)
        })
        .collect()
}

/// One file of an unzipped workbook, as text.
fn part(files: &[(String, Vec<u8>)], name: &str) -> String {
    let (_, data) = files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in the workbook"));
    String::from_utf8(data.clone()).unwrap()
}

/// The value of `attr="..."` in an XML tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// Every `<name ...>` tag (its text up to `>`) in `xml`, in order.
fn tags<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let end = i + rest[i..].find('>').unwrap();
        found.push(&rest[i..=end]);
        rest = &rest[end..];
    }
    found
}

/// Writes the template to `dir/name` with the real binary, which must succeed.
async fn make_template(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = run_bin_env(&["template", path.to_str().unwrap()], &[]).await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(&format!("growatt-onboard check {}", path.display())),
        "says what comes next: {}",
        stdout(&out)
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_has_text_columns_validation_and_a_frozen_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_template(dir.path(), "fleet.xlsx").await;
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes,
        growatt_onboard::template::xlsx().unwrap(),
        "the command writes the library's bytes, the ones a web page serves too"
    );
    let files = unzip(&bytes);

    // Fleet first (the sheet check and run read by default), How to fill second.
    let book = part(&files, "xl/workbook.xml");
    let names: Vec<_> = tags(&book, "sheet")
        .iter()
        .map(|t| attr(t, "name").unwrap().to_string())
        .collect();
    assert_eq!(names, ["Fleet", "How to fill"]);

    // Each of the four columns carries a style whose number format is text (built-in 49, "@"):
    // a cell typed into it later stays text in Excel and LibreOffice.
    let styles = part(&files, "xl/styles.xml");
    let xfs_start = styles.find("<cellXfs").unwrap();
    let xfs_end = styles.find("</cellXfs>").unwrap();
    let xfs = tags(&styles[xfs_start..xfs_end], "xf");
    let sheet = part(&files, "xl/worksheets/sheet1.xml");
    let cols = tags(&sheet, "col");
    for column in 1..=4 {
        let col = cols
            .iter()
            .find(|c| attr(c, "min") == Some(&column.to_string()))
            .unwrap_or_else(|| panic!("column {column} has no format: {cols:?}"));
        let style: usize = attr(col, "style").expect("a column style").parse().unwrap();
        assert_eq!(
            attr(xfs[style], "numFmtId"),
            Some("49"),
            "column {column} is not text: {}",
            xfs[style]
        );
    }

    // The header is frozen: the pane splits below row 1.
    let pane = tags(&sheet, "pane");
    assert_eq!(pane.len(), 1, "{sheet}");
    assert_eq!(attr(pane[0], "ySplit"), Some("1"));
    assert_eq!(attr(pane[0], "state"), Some("frozen"));

    // Validation on the whole of each used column below the header.
    let validations = tags(&sheet, "dataValidation");
    let ranges: Vec<_> = validations
        .iter()
        .map(|v| attr(v, "sqref").unwrap())
        .collect();
    assert_eq!(ranges, ["A2:A1048576", "B2:B1048576", "C2:C1048576"]);
    for v in &validations {
        assert_eq!(attr(v, "type"), Some("custom"), "{v}");
    }
    assert!(
        sheet.contains("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        "serial rule"
    );

    // The explanation sheet covers every column, where to find the ids, and what comes next.
    let strings = part(&files, "xl/sharedStrings.xml");
    for needle in [
        "c_user_id",
        "ShineServer",
        "plantId=",
        "An example row",
        "AB12C34567",
        "growatt-onboard check fleet.xlsx",
        "growatt-onboard run fleet.xlsx",
        "$env:GROWATT_TOKEN",
    ] {
        assert!(strings.contains(needle), "the workbook never says {needle}");
    }
}

#[test]
fn the_shipped_template_is_the_current_one() {
    // samples/fleet-template.xlsx goes into the release archives and is linked from the README.
    let shipped = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/fleet-template.xlsx"
    ))
    .expect("samples/fleet-template.xlsx exists");
    assert!(
        shipped == growatt_onboard::template::xlsx().unwrap(),
        "samples/fleet-template.xlsx is out of date; write it again with \
         `cargo run -- template samples/fleet-template.xlsx --force`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_the_untouched_template_says_no_rows_yet_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_template(dir.path(), "fleet.xlsx").await;
    let sim = start_sim(SimConfig::default()).await;
    let base = sim.base_url();
    let out = run_bin(&["check", path.to_str().unwrap(), "--base-url", &base]).await;
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "{p}: the sheet has no rows yet: fill in plant_id, sn and c_user_id under the header, then check again\n{p}: 0 rows: 0 to send, 0 invalid, 0 duplicate\n",
            p = path.display()
        )
    );
    assert_eq!(sim.stats().requests, 0, "check sent something");
    assert!(!dir.path().join("fleet.results.csv").exists());

    // The CSV form: the header alone, and the same answer for a file.
    let csv = make_template(dir.path(), "fleet.csv").await;
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "plant_id,sn,c_user_id,note\n"
    );
    let out = run_bin_env(&["check", csv.to_str().unwrap()], &[]).await;
    assert_exit(&out, 0);
    assert_printed(&out, &["the file has no rows yet"]);
}

/// The template with `rows` typed into the sheet Fleet, as a spreadsheet program stores text
/// typed into a text column: string cells carrying the column's style.
fn fill(template: &[u8], rows: &[[&str; 4]]) -> Vec<u8> {
    let files = unzip(template);
    let sheet = part(&files, "xl/worksheets/sheet1.xml");
    let style = |column: usize| {
        let cols = tags(&sheet, "col");
        let col = cols
            .iter()
            .find(|c| attr(c, "min") == Some(&column.to_string()))
            .unwrap();
        attr(col, "style").unwrap().to_string()
    };
    let mut xml = String::new();
    for (i, row) in rows.iter().enumerate() {
        let r = i + 2;
        xml.push_str(&format!("<row r=\"{r}\">"));
        for (c, value) in row.iter().enumerate() {
            let letter = ["A", "B", "C", "D"][c];
            xml.push_str(&format!(
                "<c r=\"{letter}{r}\" s=\"{}\" t=\"inlineStr\"><is><t>{value}</t></is></c>",
                style(c + 1)
            ));
        }
        xml.push_str("</row>");
    }
    let filled = sheet.replacen("</row></sheetData>", &format!("</row>{xml}</sheetData>"), 1);
    assert_ne!(filled, sheet, "the header row was not where expected");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in files {
        out.start_file(name.as_str(), options).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            out.write_all(filled.as_bytes()).unwrap();
        } else {
            out.write_all(&data).unwrap();
        }
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filled_template_reads_back_exactly_as_typed() {
    let dir = tempfile::tempdir().unwrap();
    let template = make_template(dir.path(), "fleet.xlsx").await;
    let serial = "12345678901234567"; // 17 digits: a number would keep only 15 of them
    let filled = fill(
        &std::fs::read(&template).unwrap(),
        &[
            ["00123", serial, "0042", "site A, leading zeros"],
            ["4567", "ab12C34567", "890", "mixed case"],
        ],
    );
    let path = write(dir.path(), "filled.xlsx", filled);

    let rows: Vec<_> = growatt_onboard::input::FleetReader::open(&path)
        .expect("the filled template opens")
        .map(|r| r.expect("a row"))
        .collect();
    let read: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.row,
                r.plant_id.as_str(),
                r.sn.as_str(),
                r.c_user_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (2, "00123", serial, "0042"),
            (3, "4567", "ab12C34567", "890")
        ]
    );
    assert!(rows.iter().all(|r| r.check.is_ok()), "{rows:?}");

    let out = run_bin_env(&["check", path.to_str().unwrap()], &[]).await;
    assert_exit(&out, 0);
    assert_printed(&out, &["2 rows: 2 to send, 0 invalid, 0 duplicate"]);

    // And a run sends the serial whole; the results file repeats the cells as typed.
    let sim = start_sim(SimConfig {
        open_world: true,
        ..SimConfig::default()
    })
    .await;
    let out = run_against(&sim, &path, &["--rate", "100/s", "--no-progress"]).await;
    assert_exit(&out, 0);
    assert_eq!(
        sim.stats().adds_per_sn.get(serial),
        Some(&1),
        "{:?}",
        sim.stats()
    );
    let lines = read_results(&dir.path().join("filled.results.csv"));
    let first = lines.iter().find(|l| l["row"] == "2").unwrap();
    assert_eq!(
        (
            first["plant_id"].as_str(),
            first["sn"].as_str(),
            first["c_user_id"].as_str()
        ),
        ("00123", serial, "0042")
    );
    assert_eq!(first["outcome"], "registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_never_overwrites_a_file_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = write(dir.path(), "fleet.xlsx", "a fleet someone filled in");
    let out = run_bin_env(&["template", fleet.to_str().unwrap()], &[]).await;
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&fleet).unwrap(),
        "a fleet someone filled in"
    );

    let out = run_bin_env(&["template", fleet.to_str().unwrap(), "--force"], &[]).await;
    assert_exit(&out, 0);
    assert!(std::fs::read(&fleet).unwrap().starts_with(b"PK"));

    // Neither .xlsx nor .csv: a usage error that says which names work, and no file.
    let ods = dir.path().join("fleet.ods");
    let out = run_bin_env(&["template", ods.to_str().unwrap()], &[]).await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains(".xlsx"), "{}", stderr(&out));
    assert!(!ods.exists());
}
