//! A first look at a fleet file before it is read for real: its sheets, the header, the first
//! rows, and which header each required column would be read from. The web page builds its
//! sheet chooser, column drop-downs and preview table from it.

use std::path::Path;

use super::columns::likely_header;
use super::header::{cells, header_note, likeliest, HEADER_SEARCH};
use super::sheet::{load, SheetSource};
use super::{csv_file, InputError, Kind, REQUIRED};

/// What [`preview`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preview {
    /// The workbook's sheets (empty for a CSV file).
    pub sheets: Vec<String>,
    /// The sheet read (`None` for a CSV file).
    pub sheet: Option<String>,
    /// The header row's number, as the sheet shows it.
    pub header_row: u64,
    /// Where the header is, in a short line, when rows above it are skipped: `header on row 4
    /// (rows 1–3 above it are skipped)`.
    pub header_note: Option<String>,
    /// The header row's cells.
    pub headers: Vec<String>,
    /// The first data rows' cells.
    pub rows: Vec<Vec<String>>,
    /// For plant_id, sn and c_user_id, the header it would be read from: its own name, or the
    /// closest header, or none.
    pub mapping: [Option<String>; 3],
}

/// The first `rows` data rows of `path` (of `sheet` in a workbook, else its first sheet), under
/// the header found as `check` finds it: the first of the top rows holding plant_id, sn and
/// c_user_id, else the row most like a header (before any column is mapped).
pub fn preview(path: &Path, sheet: Option<&str>, rows: usize) -> Result<Preview, InputError> {
    let io_err = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Preview::default();
    // The header is among the first rows; `rows` more follow it.
    let wanted = HEADER_SEARCH as usize + rows;
    let mut records: Vec<(u64, Vec<String>)> = Vec::new();
    let mut record = csv::ByteRecord::new();
    if Kind::of(path).map_err(io_err)?.is_workbook() {
        let (sheets, name, range) = load(path, sheet)?;
        let mut source = SheetSource::new(range);
        while let Some(row) = source.next_record(&mut record) {
            if let Some(row) = row {
                records.push((row, cells(&record)));
            }
            if records.len() >= wanted {
                break;
            }
        }
        out.sheets = sheets;
        out.sheet = Some(name);
    } else {
        let file = std::fs::File::open(path).map_err(io_err)?;
        let head = csv_file::read_head(&file).map_err(io_err)?;
        let names = REQUIRED.map(String::from);
        let (mut source, _) = csv_file::start(path, head, file, &names)?;
        while let Some(row) = source.next_record(path, &mut record) {
            match row {
                Ok(Some(row)) => records.push((row, cells(&record))),
                Ok(None) => {}
                // A first look shows what reads; the check says what does not.
                Err(_) if !records.is_empty() => break,
                Err(e) => return Err(e),
            }
            if records.len() >= wanted {
                break;
            }
        }
    }
    let Some(&(first, _)) = records.first() else {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
        });
    };
    let texts: Vec<Vec<String>> = records.iter().map(|(_, c)| c.clone()).collect();
    let at = likeliest(&texts, &REQUIRED.map(String::from));
    let (header_row, headers) = records.remove(at);
    let mut taken = Vec::new();
    for (i, key) in REQUIRED.iter().enumerate() {
        if let Some(at) = likely_header(key, key, &headers, &taken) {
            taken.push(at);
            out.mapping[i] = Some(headers[at].clone());
        }
    }
    out.header_row = header_row;
    out.header_note = header_note(header_row, first);
    out.headers = headers;
    out.rows = records
        .into_iter()
        .skip(at)
        .take(rows)
        .map(|(_, cells)| cells)
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_odd_headers_gets_the_closest_mapping_and_its_first_rows() {
        let (_dir, path) = crate::testing::file_with(
            "f.csv",
            "\u{feff}Plant ID;Serial number;Customer;note\n1001;AAA111;501;x\n\n1002;BBB222;502;\n1003;CCC333;503;\n",
        );
        let p = preview(&path, None, 2).unwrap();
        assert!(p.sheets.is_empty());
        assert_eq!(p.headers, ["Plant ID", "Serial number", "Customer", "note"]);
        assert_eq!(p.rows.len(), 2, "{p:?}");
        assert_eq!(p.rows[1][1], "BBB222");
        assert_eq!(
            p.mapping,
            [
                Some("Plant ID".to_string()),
                Some("Serial number".to_string()),
                Some("Customer".to_string())
            ]
        );
    }

    #[test]
    fn the_sample_workbook_lists_its_sheets_and_maps_its_columns() {
        let p = preview(Path::new("samples/fleet.xlsx"), None, 3).unwrap();
        assert!(!p.sheets.is_empty());
        assert_eq!(p.sheet.as_deref(), Some(p.sheets[0].as_str()));
        assert!(p.mapping.iter().all(Option::is_some), "{p:?}");
        assert_eq!(p.rows.len(), 3);
        let e = preview(Path::new("samples/fleet.xlsx"), Some("Nope"), 3).unwrap_err();
        assert!(e.to_string().contains("no sheet 'Nope'"), "{e}");
    }

    #[test]
    fn the_header_below_a_title_is_previewed_with_its_row_and_the_rows_under_it() {
        let (_dir, path) = crate::testing::file_with(
            "f.csv",
            "ACME Solar, June 2026\n\nPlant ID;Serial No.;Customer ID;Notes\n1001;AAA111;501;\n1002;BBB222;502;x\n",
        );
        let p = preview(&path, None, 5).unwrap();
        assert_eq!(p.header_row, 3);
        assert_eq!(
            p.header_note.as_deref(),
            Some("header on row 3 (rows 1–2 above it are skipped)")
        );
        assert_eq!(
            p.headers,
            ["Plant ID", "Serial No.", "Customer ID", "Notes"]
        );
        assert_eq!(p.rows.len(), 2, "{p:?}");
        assert_eq!(p.rows[0][1], "AAA111");
        assert_eq!(p.mapping[1].as_deref(), Some("Serial No."));
        std::fs::write(&path, "plant_id,sn,c_user_id\n1,A,2\n").unwrap();
        let p = preview(&path, None, 5).unwrap();
        assert_eq!((p.header_row, p.header_note), (1, None));
    }
}
