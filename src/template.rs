//! The fill-in fleet workbook (`template`, and the same bytes for anything else that hands it
//! out): a `Fleet` sheet with the columns prepared and a `How to fill` sheet that explains them.
//!
//! The commonest damage to a fleet sheet is a spreadsheet turning a serial or an id into a number
//! (leading zeros gone, a long serial shown as `1.23457E+16`). The template prevents it up front:
//! the id and serial columns are formatted as text, so what a person types stays as typed, and
//! data validation warns at typing time about what `check` would reject later. The workbook's
//! bytes are the same on every call (a fixed creation date), so a download can be checksummed.

use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DocProperties, ExcelDateTime, Format,
    FormatAlign, FormatBorder, Formula, Workbook, Worksheet, XlsxError,
};

use crate::input::MAX_SN_LEN;

/// The fill-in sheet's name; it is the first sheet, the one `check` and `run` read by default.
pub const SHEET: &str = "Fleet";
/// The explanation sheet's name.
pub const HELP_SHEET: &str = "How to fill";
/// The fill-in sheet's header: the three columns the tool reads, and one it ignores.
pub const COLUMNS: [&str; 4] = ["plant_id", "sn", "c_user_id", "note"];
/// The name the template is offered under.
pub const FILE_NAME: &str = "fleet-template.xlsx";
/// The workbook's media type, for serving it.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Excel's built-in Text number format ("@"), the one its Format Cells dialog sets.
const TEXT: u8 = 49;
/// The last row of a sheet (0-based), the end of the validated ranges.
const LAST_ROW: u32 = 1_048_575;
/// Most digits a positive id up to 9223372036854775807 has.
const MAX_ID_DIGITS: usize = 19;

/// The template as CSV: just the header, for those who keep the fleet in a text file.
pub fn csv() -> String {
    format!("{}\n", COLUMNS.join(","))
}

/// The template as an .xlsx workbook's bytes.
pub fn xlsx() -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    // A fixed date instead of "now": every build and every call gives the same bytes.
    book.set_properties(
        &DocProperties::new()
            .set_title("growatt-onboard fleet")
            .set_comment("Fill in the sheet Fleet, one device a row; see the sheet How to fill.")
            .set_creation_datetime(&ExcelDateTime::from_ymd(2025, 1, 1)?),
    );
    fleet_sheet(book.add_worksheet())?;
    help_sheet(book.add_worksheet())?;
    book.save_to_buffer()
}

/// The header cells' look, shared by both sheets.
fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_num_format_index(TEXT)
        .set_background_color(Color::RGB(0xEEEEEE))
        .set_border_bottom(FormatBorder::Thin)
}

/// The sheet a person fills in: text columns, validation, frozen header.
fn fleet_sheet(sheet: &mut Worksheet) -> Result<(), XlsxError> {
    sheet.set_name(SHEET)?;
    // Text on whole columns: a cell typed later takes its column's format, so Excel keeps
    // 00123 and 12345678901234567 as typed instead of making numbers of them.
    let text = Format::new().set_num_format_index(TEXT);
    let header = header_format();
    for (c, (name, width)) in COLUMNS.iter().zip([14.0, 26.0, 14.0, 44.0]).enumerate() {
        let c = c as u16;
        sheet.set_column_format(c, &text)?;
        sheet.set_column_width(c, width)?;
        sheet.write_string_with_format(0, c, *name, &header)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.add_data_validation(1, 0, LAST_ROW, 0, &id_validation("A2", "plant_id", PLANT)?)?;
    sheet.add_data_validation(1, 1, LAST_ROW, 1, &sn_validation("B2")?)?;
    sheet.add_data_validation(1, 2, LAST_ROW, 2, &id_validation("C2", "c_user_id", USER)?)?;
    Ok(())
}

/// What the plant id is, shown when its cell is selected.
const PLANT: &str = "The plant's id in ShineServer: digits only, e.g. 1234567. Kept as text, so leading zeros stay as typed.";
/// What the end-user id is, shown when its cell is selected.
const USER: &str = "The end user's account id in ShineServer: digits only, not the login name or e-mail. Kept as text, so leading zeros stay as typed.";

/// The id rule for `cell`: digits only, not all zeros, at most 19 of them. `MID` past the end
/// gives "", which `FIND` finds, so only a character outside the digits counts.
fn id_rule(cell: &str) -> String {
    format!(
        "=AND(LEN({cell})<={MAX_ID_DIGITS},SUBSTITUTE({cell},\"0\",\"\")<>\"\",\
         SUMPRODUCT(--ISERROR(FIND(MID({cell},ROW(INDIRECT(\"1:{MAX_ID_DIGITS}\")),1),\"0123456789\")))=0)"
    )
}

/// The serial rule for `cell`: 1 to 64 letters and digits (ASCII, either case), as `check`
/// accepts; the empty cell is left to the validation's "ignore blank".
fn sn_rule(cell: &str) -> String {
    format!(
        "=AND(LEN({cell})<={MAX_SN_LEN},SUMPRODUCT(--ISERROR(FIND(MID(UPPER({cell}),\
         ROW(INDIRECT(\"1:{MAX_SN_LEN}\")),1),\"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\")))=0)"
    )
}

/// Validation of an id column. A warning rather than a stop: a cell the formula misjudges in
/// some spreadsheet program must not block the person; `check` decides.
fn id_validation(cell: &str, name: &str, input: &str) -> Result<DataValidation, XlsxError> {
    DataValidation::new()
        .allow_custom(Formula::new(id_rule(cell)))
        .set_error_style(DataValidationErrorStyle::Warning)
        .set_input_title(name)?
        .set_input_message(input)?
        .set_error_title(format!("{name}: digits only"))?
        .set_error_message(format!(
            "{name} is a positive number written with digits only (no spaces, dots, dashes or letters). \
             growatt-onboard check will name this row as invalid."
        ))
}

/// Validation of the serial column, a warning like the ids'.
fn sn_validation(cell: &str) -> Result<DataValidation, XlsxError> {
    DataValidation::new()
        .allow_custom(Formula::new(sn_rule(cell)))
        .set_error_style(DataValidationErrorStyle::Warning)
        .set_input_title("sn")?
        .set_input_message(
            "The device's own serial number, as on its label (not the datalogger's): \
             letters and digits only. Kept as text, so long serials stay as typed.",
        )?
        .set_error_title("sn: letters and digits only")?
        .set_error_message(format!(
            "A serial is 1 to {MAX_SN_LEN} letters and digits (no spaces, dashes or dots). \
             growatt-onboard check will name this row as invalid."
        ))
}

/// Each column: its name, what it is, where to find it.
const COLUMN_HELP: [[&str; 3]; 4] = [
    [
        "plant_id",
        "The plant (power station) the device joins: a number.",
        "In ShineServer, open the plant: the number after plantId= in the browser's address is \
         usually its id. The plant must exist before its devices are added. Not sure? See \
         check --account below.",
    ],
    [
        "sn",
        "The device's own serial number (inverter, battery), 1 to 64 letters and digits. \
         Not the datalogger's serial.",
        "On the device's label, or in the plant's device list in ShineServer. Type it exactly; \
         upper or lower case does not matter.",
    ],
    [
        "c_user_id",
        "The end user's account (the plant's owner) the device belongs to: a number, \
         not the login name or e-mail.",
        "In ShineServer's list of your end users (user management): the user's number, not the \
         name. The plant's owner is the usual choice. Not sure? See check --account below.",
    ],
    [
        "note",
        "Anything you like: site name, address, installer. A row holding only a note is skipped, never sent.",
        "",
    ],
];

/// The example row, in the Fleet sheet's columns.
const EXAMPLE: [&str; 4] = ["1234567", "AB12C34567", "89012", "Smith, 12 Garden Lane"];

/// What to do once the sheet is filled in, one step a line.
const NEXT_STEPS: [&str; 5] = [
    "1. Save the workbook as .xlsx (below: fleet.xlsx). Keep Fleet the first sheet, or add --sheet Fleet to the commands.",
    "2. Check it: growatt-onboard check fleet.xlsx. It reads the sheet exactly as run would, sends nothing, needs no token, and names every row to fix.",
    "3. Set your 32-character OpenAPI token. PowerShell: $env:GROWATT_TOKEN = \"...\"   Linux or macOS: export GROWATT_TOKEN=...",
    "4. Register: growatt-onboard run fleet.xlsx. The results land beside the workbook in fleet.results.csv, one line per row.",
    "5. Read the report: growatt-onboard report fleet.results.csv --html report.html. Fix the rows it names, then run again: only rows not yet done are sent.",
];

/// Things that save a second attempt.
const GOOD_TO_KNOW: [&str; 4] = [
    "The plant_id, sn and c_user_id columns are formatted as text, so leading zeros and long serials stay exactly as typed.",
    "Pasting from another file: an id already shown there as 1.23E+11 or 12345.0 has lost its digits; copy from the original, or let check find such rows.",
    "Before the first run, growatt-onboard check fleet.xlsx --account (with the token set) compares every row with the plants and end users of your account.",
    "One row per device; the same serial twice is sent once. Empty rows are passed over. To leave a row out on purpose, add a column named skip and put x in it.",
];

/// The sheet that explains the template.
fn help_sheet(sheet: &mut Worksheet) -> Result<(), XlsxError> {
    sheet.set_name(HELP_SHEET)?;
    let title = Format::new().set_bold().set_font_size(14);
    let heading = Format::new().set_bold().set_font_size(12);
    let header = header_format();
    let wrap = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_num_format_index(TEXT);
    let name = Format::new()
        .set_bold()
        .set_align(FormatAlign::Top)
        .set_num_format_index(TEXT);
    let text = Format::new().set_num_format_index(TEXT);
    sheet.set_column_width(0, 16)?;
    sheet.set_column_width(1, 56)?;
    sheet.set_column_width(2, 70)?;
    sheet.set_column_width(3, 24)?;

    let mut r = 0;
    sheet.write_string_with_format(r, 0, "How to fill the sheet Fleet", &title)?;
    r += 1;
    sheet.write_string(
        r,
        0,
        "One row per device, under the header. Keep the header's names; other columns are ignored.",
    )?;
    r += 2;
    for (c, h) in ["column", "what it is", "where to find it"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(r, c as u16, *h, &header)?;
    }
    for [col, what, where_] in COLUMN_HELP {
        r += 1;
        sheet.write_string_with_format(r, 0, col, &name)?;
        sheet.write_string_with_format(r, 1, what, &wrap)?;
        sheet.write_string_with_format(r, 2, where_, &wrap)?;
    }
    r += 2;
    sheet.write_string_with_format(r, 0, "An example row", &heading)?;
    r += 1;
    for (c, h) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(r, c as u16, *h, &header)?;
    }
    r += 1;
    for (c, v) in EXAMPLE.iter().enumerate() {
        sheet.write_string_with_format(r, c as u16, *v, &text)?;
    }
    r += 2;
    sheet.write_string_with_format(r, 0, "What happens next", &heading)?;
    for step in NEXT_STEPS {
        r += 1;
        sheet.write_string(r, 0, step)?;
    }
    r += 2;
    sheet.write_string_with_format(r, 0, "Good to know", &heading)?;
    for line in GOOD_TO_KNOW {
        r += 1;
        sheet.write_string(r, 0, line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_template_is_the_header_alone() {
        assert_eq!(csv(), "plant_id,sn,c_user_id,note\n");
    }

    #[test]
    fn the_workbook_is_the_same_bytes_every_time() {
        let a = xlsx().expect("builds");
        let b = xlsx().expect("builds");
        assert!(a.starts_with(b"PK"), "an .xlsx is a zip archive");
        assert_eq!(a, b, "a download must be checksummable");
    }

    #[test]
    fn the_validation_formulas_fit_excels_limit() {
        // Excel refuses a validation formula over 255 characters.
        for rule in [id_rule("C1048576"), sn_rule("B1048576")] {
            assert!(rule.len() <= 255, "{} characters: {rule}", rule.len());
        }
        assert!(id_validation("A2", "plant_id", PLANT).is_ok());
        assert!(sn_validation("B2").is_ok());
    }
}
