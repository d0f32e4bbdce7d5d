//! What kind of file the input is, told from its first bytes rather than its name: an .xlsx
//! renamed .xls, a workbook without an extension, or a CSV named .xlsx all read right.

use std::io::Read as _;
use std::path::Path;

/// The kinds of input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text: CSV or tab-separated (anything that is not a workbook).
    Text,
    /// A ZIP container: .xlsx, .xlsm, .xlsb or .ods.
    Zip,
    /// An OLE compound file: the old Excel .xls.
    Ole,
}

/// A ZIP file's first bytes.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// An OLE compound file's first bytes.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

impl Kind {
    /// The kind of the file at `path`, from its first bytes. Only a regular file is looked
    /// into: the bytes of a pipe belong to the one reader that reads the fleet, and a FIFO
    /// would block this open; anything else is an error the reader will put in words.
    pub fn of(path: &Path) -> std::io::Result<Kind> {
        let mut head = [0u8; 8];
        let mut file = crate::files::open_regular(path)?;
        let mut n = 0;
        while n < head.len() {
            match file.read(&mut head[n..])? {
                0 => break,
                m => n += m,
            }
        }
        Ok(Kind::of_bytes(&head[..n]))
    }

    /// The kind a file starting with `head` is.
    pub fn of_bytes(head: &[u8]) -> Kind {
        if head.starts_with(ZIP_MAGIC) {
            Kind::Zip
        } else if head.starts_with(OLE_MAGIC) {
            Kind::Ole
        } else {
            Kind::Text
        }
    }

    /// A workbook (read with `--sheet`), not text.
    pub fn is_workbook(self) -> bool {
        self != Kind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_first_bytes() {
        assert_eq!(Kind::of_bytes(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(Kind::of_bytes(OLE_MAGIC), Kind::Ole);
        assert_eq!(Kind::of_bytes(b"plant_id,sn"), Kind::Text);
        assert_eq!(Kind::of_bytes(b""), Kind::Text);
        assert_eq!(Kind::of_bytes(b"PK"), Kind::Text, "too short to be a zip");
    }
}
