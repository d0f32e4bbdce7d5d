//! A workbook's zip archive checked before it is opened: what each part inflates to is bounded,
//! so a small file whose shared strings inflate to gigabytes (a zip bomb) is refused with its
//! size instead of filling memory.
//!
//! The bound is checked against the size each part declares in the archive's table of contents.
//! A part cannot inflate past what it declares: the zip reader the workbook reader uses stops a
//! part with an error at its declared size, so a lying declaration ends the read, never the
//! memory.

use std::path::Path;

use crate::text::size;

/// Most a part read whole may inflate to: the shared strings, the workbook, the styles, an .ods
/// file's `content.xml`. A million-row fleet's shared strings (a serial a row, plus plant and
/// user ids as text) take about 60 MiB.
pub const MAX_PART: u64 = 128 << 20;

/// Most a worksheet may inflate to. Sheets are read cell by cell, so this bounds the time spent
/// rather than memory: a million rows of 16 columns is about 700 MiB of XML.
pub const MAX_SHEET: u64 = 1 << 30;

/// Most a part may inflate per byte stored, once it inflates past [`RATIO_FROM`]: spreadsheet XML
/// packs 5 to 30 times; a bomb packs a thousand times and more.
pub const MAX_RATIO: u64 = 100;

/// The size from which [`MAX_RATIO`] applies: small parts of repeated markup may pack tighter.
pub const RATIO_FROM: u64 = 64 << 20;

/// Whether the workbook reader may read this part: XML, relationships and binary records
/// (.xlsb). Pictures and other media are never read, whatever their size.
fn is_read(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".xml", ".rels", ".bin", ".vml"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// A worksheet's part, read as a stream.
fn is_sheet(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("xl/worksheets/") && !name.contains("/_rels/")
}

/// Checks every part of the zip archive at `path` against [`MAX_PART`] and [`MAX_SHEET`].
/// `Err(words)` names the first part over its bound and what it inflates to; an archive that
/// cannot be read at all is left to the workbook reader, which says so.
pub(super) fn check_parts(path: &Path) -> Result<(), String> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Ok(());
    };
    for i in 0..archive.len() {
        // The raw entry: its header only, nothing inflated.
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let name = String::from_utf8_lossy(part.name_raw()).into_owned();
        if !is_read(&name) {
            continue;
        }
        let (bound, what) = if is_sheet(&name) {
            (MAX_SHEET, "a worksheet")
        } else {
            (MAX_PART, "a part read whole")
        };
        let (inflates, stored) = (part.size(), part.compressed_size());
        if inflates > bound {
            return Err(format!(
                "its part {} inflates to {} ({} in the file), more than the {} this tool reads from {what}; the file is damaged or built to exhaust memory (a zip bomb). Open it in Excel or LibreOffice and save it again, or save it as CSV",
                crate::text::quote(&name),
                size(inflates),
                size(stored),
                size(bound),
            ));
        }
        if inflates > RATIO_FROM && inflates > stored.saturating_mul(MAX_RATIO) {
            return Err(format!(
                "its part {} inflates to {} from {} in the file, more than {MAX_RATIO} times: the file is built to exhaust memory (a zip bomb) or damaged. Open it in Excel or LibreOffice and save it again, or save it as CSV",
                crate::text::quote(&name),
                size(inflates),
                size(stored),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_parts_are_bounded_how() {
        assert!(is_read("xl/sharedStrings.xml"));
        assert!(is_read("xl/_rels/workbook.xml.rels"));
        assert!(is_read("xl/worksheets/sheet1.bin"));
        assert!(!is_read("xl/media/image1.png"));
        assert!(is_sheet("xl/worksheets/sheet1.xml"));
        assert!(!is_sheet("xl/worksheets/_rels/sheet1.xml.rels"));
        assert!(!is_sheet("xl/sharedStrings.xml"));
        assert!(!is_sheet("content.xml"));
    }
}
