//! Workbooks built from readable parts, for the hostile spreadsheet cases: a fleet sheet of text
//! cells, as many sheets as a case needs, shared strings, and the size a part declares in the
//! archive's table of contents rewritten to anything (a zip bomb's declaration, or a lie).

use std::io::Write as _;
use std::path::Path;

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

/// The `--column` flags that map [`Book::office`]'s header to the fleet's columns.
pub const OFFICE_COLUMNS: [&str; 6] = [
    "--column",
    "plant_id=Plant ID",
    "--column",
    "sn=Serial No.",
    "--column",
    "c_user_id=Customer ID",
];

/// A workbook to write: sheet names (every sheet shows the same fleet) and the fleet's rows.
pub struct Book {
    /// The sheets' names, in order.
    pub sheets: Vec<String>,
    /// The rows of the sheet: text cells, from the sheet's first row (an empty row is written as
    /// a row without cells).
    pub rows: Vec<Vec<String>>,
    /// Shared strings to add (`<si>` items), referenced by no cell: a part the reader reads
    /// whole when it opens the book.
    pub shared: Option<String>,
}

impl Book {
    /// One sheet, `Fleet`, holding the header and `rows` fleet rows.
    pub fn fleet(rows: usize) -> Book {
        let mut all = vec![["plant_id", "sn", "c_user_id"].map(String::from).to_vec()];
        all.extend((0..rows).map(|i| vec!["1".into(), format!("BOOK{i:06}"), "1".into()]));
        Book {
            sheets: vec!["Fleet".into()],
            rows: all,
            shared: None,
        }
    }

    /// The sheet an office keeps: a title row, a date row and an empty row above a header of its
    /// own words ([`OFFICE_COLUMNS`] maps them), then `devices` device rows (sheet rows 5 on,
    /// serials `OFFICE00001`…, plant 1, customer 1), each with an installer and a note column
    /// left empty, and last a row holding only a note.
    pub fn office(devices: usize) -> Book {
        let mut all = vec![
            vec!["ACME Solar — installations June 2026".to_string()],
            vec!["Exported 2026-06-30".to_string()],
            vec![],
            [
                "Plant ID",
                "Serial No.",
                "Customer ID",
                "Installer",
                "Notes",
            ]
            .map(String::from)
            .to_vec(),
        ];
        all.extend((0..devices).map(|i| {
            vec![
                "1".into(),
                format!("OFFICE{:05}", i + 1),
                "1".into(),
                "J. Smith".into(),
                String::new(),
            ]
        }));
        all.push(vec![
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "Roof access pending, call the customer first".into(),
        ]);
        Book {
            sheets: vec!["Installations".into()],
            rows: all,
            shared: None,
        }
    }

    /// The sheet row (1-based) of device `i` (0-based) in [`Book::office`].
    pub fn office_row(i: usize) -> u64 {
        i as u64 + 5
    }

    /// Writes the .xlsx to `path`. Every sheet's relationship points at the one sheet part, so
    /// ten thousand sheets cost a few hundred kilobytes.
    pub fn write(&self, path: &Path) {
        use zip::write::SimpleFileOptions;
        let mut sheet = format!(r#"<worksheet xmlns="{MAIN}"><sheetData>"#);
        for (r, cells) in self.rows.iter().enumerate() {
            sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
            for (c, text) in cells.iter().enumerate() {
                if text.is_empty() {
                    continue;
                }
                let column = char::from(b'A' + c as u8);
                sheet.push_str(&format!(
                    r#"<c r="{column}{}" t="inlineStr"><is><t>{text}</t></is></c>"#,
                    r + 1
                ));
            }
            sheet.push_str("</row>");
        }
        sheet.push_str("</sheetData></worksheet>");
        let mut listed = String::new();
        let mut rels = String::new();
        for (i, name) in self.sheets.iter().enumerate() {
            listed.push_str(&format!(
                r#"<sheet name="{name}" sheetId="{}" r:id="rId{}"/>"#,
                i + 1,
                i + 10
            ));
            rels.push_str(&format!(
                r#"<Relationship Id="rId{}" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>"#,
                i + 10
            ));
        }
        let mut parts = vec![
            (
                "[Content_Types].xml",
                String::from(
                    r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
                ),
            ),
            (
                "_rels/.rels",
                format!(
                    r#"<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
                ),
            ),
            (
                "xl/workbook.xml",
                format!(
                    r#"<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{listed}</sheets></workbook>"#
                ),
            ),
            ("xl/worksheets/sheet1.xml", sheet),
        ];
        let mut book_rels = rels;
        if let Some(shared) = &self.shared {
            book_rels.push_str(&format!(
                r#"<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>"#
            ));
            parts.push((
                "xl/sharedStrings.xml",
                format!(r#"<sst xmlns="{MAIN}">{shared}</sst>"#),
            ));
        }
        parts.push((
            "xl/_rels/workbook.xml.rels",
            format!(r#"<Relationships xmlns="{PKG}">{book_rels}</Relationships>"#),
        ));
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in parts {
            zip.start_file(name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }
}

/// Rewrites the uncompressed size `part` declares, in its local header and in the archive's
/// table of contents, to `size`: what a zip bomb declares, or a lie about what it inflates to.
pub fn declare_size(path: &Path, part: &str, size: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    // (signature, offset of the uncompressed size, offset of the name's length, of the name)
    for (signature, at_size, at_len, at_name) in
        [(b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)]
    {
        let mut i = 0;
        while let Some(p) = find(&bytes[i..], signature) {
            let start = i + p;
            let len = u16::from_le_bytes([bytes[start + at_len], bytes[start + at_len + 1]]);
            let name = &bytes[start + at_name..start + at_name + len as usize];
            if name == part.as_bytes() {
                bytes[start + at_size..start + at_size + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
            i = start + 4;
        }
    }
    assert_eq!(
        patched, 2,
        "{part}: one local header and one directory entry"
    );
    std::fs::write(path, bytes).unwrap();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
