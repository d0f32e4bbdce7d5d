//! What `verify` says about a plant's device listing beyond linked or pending: a serial found as
//! a collector, and listings that claim more devices than they list (see
//! [`crate::api::device_list`] for how the listing is read).

use crate::text::{count, quote};

/// How many serials a note names before it says "and N more".
const NAMED: usize = 3;

/// The note for a row whose serial is the collector (datalogger) of devices listed on its plant:
/// the row counts as linked, and the person learns which serial the sheet should hold.
pub fn collector_note(row: u64, sn: &str, plant: u64, devices: &[&str]) -> String {
    let mut named: Vec<String> = devices.iter().take(NAMED).map(|d| quote(d)).collect();
    if devices.len() > NAMED {
        named.push(format!("{} more", devices.len() - NAMED));
    }
    format!(
        "growatt-onboard verify: row {row}: {} is the collector (datalogger) serial of {} on plant {plant} ({}), not a device serial; counted as linked",
        quote(sn.trim()),
        count(devices.len() as u64, "device", "devices"),
        named.join(", ")
    )
}

/// The summary's lines about collectors and about listings that claim more devices than they
/// list, each said once however many rows or plants it concerns; empty when neither happened.
pub fn listing_notes(by_collector: u64, short: &[(u64, u64, u64)]) -> String {
    let mut out = String::new();
    if by_collector > 0 {
        out.push_str(&format!(
            "  {} linked by the collector's serial in the sheet, not the device's\n",
            count(by_collector, "row", "rows")
        ));
    }
    if !short.is_empty() {
        let mut named: Vec<String> = short
            .iter()
            .take(NAMED)
            .map(|(plant, claimed, listed)| {
                format!("plant {plant}: {claimed} claimed, {listed} listed")
            })
            .collect();
        if short.len() > NAMED {
            named.push(format!("{} more", short.len() - NAMED));
        }
        out.push_str(&format!(
            "  the device listing of {} claims more devices than it lists ({}); the vendor's listing can leave devices out, so rows not listed there stay pending: check them in ShineServer\n",
            count(short.len() as u64, "plant", "plants"),
            named.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_in_words() {
        assert_eq!(
            collector_note(4, "XGD4A4821T", 9, &["LWJ0BK601J", "LXJEE5F001"]),
            "growatt-onboard verify: row 4: XGD4A4821T is the collector (datalogger) serial of 2 devices on plant 9 (LWJ0BK601J, LXJEE5F001), not a device serial; counted as linked"
        );
        assert!(collector_note(1, "C", 1, &["A", "B", "C", "D", "E"]).contains("(A, B, C, 2 more)"));
        assert_eq!(listing_notes(0, &[]), "");
        let text = listing_notes(1, &[(7, 1, 0)]);
        assert!(
            text.contains("1 row linked by the collector's serial"),
            "{text}"
        );
        assert!(
            text.contains("the device listing of 1 plant claims more devices than it lists (plant 7: 1 claimed, 0 listed)"),
            "{text}"
        );
    }
}
