//! A first look at a fleet file before it is read for real: its sheets, the header, the first
//! rows, and which header each required column would be read from. The web page builds its
//! sheet chooser, column drop-downs and preview table from it.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use super::columns::likely_header;
use super::csv_file::{excel_sep_line, sniff_delimiter};
use super::sheet::{open_book, read_range, sheet_record};
use super::{is_blank, InputError, Kind, REQUIRED};
use crate::text::quote;

/// What [`preview`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preview {
    /// The workbook's sheets (empty for a CSV file).
    pub sheets: Vec<String>,
    /// The sheet read (`None` for a CSV file).
    pub sheet: Option<String>,
    /// The header row's cells.
    pub headers: Vec<String>,
    /// The first data rows' cells.
    pub rows: Vec<Vec<String>>,
    /// For plant_id, sn and c_user_id, the header it would be read from: its own name, or the
    /// closest header, or none.
    pub mapping: [Option<String>; 3],
}

/// The first `rows` data rows of `path` (of `sheet` in a workbook, else its first sheet).
pub fn preview(path: &Path, sheet: Option<&str>, rows: usize) -> Result<Preview, InputError> {
    let mut records = Vec::new();
    let mut out = Preview::default();
    if Kind::of(path)
        .map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .is_workbook()
    {
        use calamine::Reader as _;
        let sheet_err = |message: String| InputError::Sheet {
            path: path.to_path_buf(),
            message,
        };
        let mut book = open_book(path).map_err(sheet_err)?;
        out.sheets = book.sheet_names();
        let name = match sheet {
            Some(want) => out
                .sheets
                .iter()
                .find(|n| n.eq_ignore_ascii_case(want))
                .cloned()
                .ok_or_else(|| sheet_err(format!("there is no sheet '{}'", quote(want))))?,
            None => out
                .sheets
                .first()
                .cloned()
                .ok_or_else(|| sheet_err("the file has no sheets".into()))?,
        };
        let range = read_range(&mut book, &name).map_err(|why| {
            sheet_err(why.unwrap_or_else(|| format!("the sheet '{}' cannot be read", quote(&name))))
        })?;
        let mut record = csv::ByteRecord::new();
        for i in 0..range.height() {
            sheet_record(&range, i, &mut record);
            if !is_blank(&record) {
                records.push(record.clone());
            }
            if records.len() > rows {
                break;
            }
        }
        out.sheet = Some(name);
    } else {
        let mut head = Vec::with_capacity(64 * 1024);
        File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
            .map_err(|source| InputError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
            return Err(InputError::Utf16 {
                path: path.to_path_buf(),
            });
        }
        let sep = excel_sep_line(&head);
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        let text = if sep.is_some() {
            text.splitn(2, |b| *b == b'\n').nth(1).unwrap_or_default()
        } else {
            text
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(sep.unwrap_or_else(|| sniff_delimiter(&head)))
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        for record in reader.byte_records().flatten() {
            if !is_blank(&record) {
                records.push(record);
            }
            if records.len() > rows {
                break;
            }
        }
    }
    let cells = |r: &csv::ByteRecord| -> Vec<String> {
        r.iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect()
    };
    let mut records = records.iter().map(cells);
    let Some(headers) = records.next() else {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
        });
    };
    let mut taken = Vec::new();
    for (i, key) in REQUIRED.iter().enumerate() {
        if let Some(at) = likely_header(key, key, &headers, &taken) {
            taken.push(at);
            out.mapping[i] = Some(headers[at].clone());
        }
    }
    out.headers = headers;
    out.rows = records.take(rows).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_odd_headers_gets_the_closest_mapping_and_its_first_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(
            &path,
            "\u{feff}Plant ID;Serial number;Customer;note\n1001;AAA111;501;x\n\n1002;BBB222;502;\n1003;CCC333;503;\n",
        )
        .unwrap();
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
}
