//! A plant's `GET /v1/device/list`, read as the live server answers it.
//!
//! What the live captures show, and how each is read here:
//! - Each device is listed twice: once as `type` 1 and once as `type` 4 with `status: -1`. A
//!   serial is one device, and its facts come from the row that is not the `-1` shadow.
//! - `count` counts devices, not rows (3 devices in 6 rows). One capture has `count: 1` with
//!   `devices: []`, a vendor regression: a listing that claims more than it lists is reported,
//!   never taken to mean a device is missing from a page still to come.
//! - Every row names its collector in `datalogger_sn`. An installer's sheet often holds the
//!   collector's serial in place of the device's, so a serial that is a listed collector on the
//!   plant is found as one, with the devices behind it.
//! - A virtual meter row (`device_sn: "meter"`, a string `device_id`, no `status`) can appear; it
//!   is read like any row.
//!
//! Paging (an assumption: no capture shows a second page): the client asks for 100 a page and
//! goes on while `count` claims devices not listed yet (without a `count`: while pages come back
//! full), as long as each page brings new devices. So it works whether the server pages by rows
//! or by devices, and whether or not it honours `perpage`, and it stops on an empty page or one
//! that repeats what was seen.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::input::sn_key;

/// A listed device's facts, from its most telling row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The serial as listed.
    pub sn: String,
    /// `status`, as text (empty when the row has none).
    pub status: String,
    /// `last_update_time`, as given (plant local time).
    pub updated: String,
    /// How telling the row was: 0 a `type` 1 row, 1 another type, 2 the `-1` shadow.
    rank: u8,
}

/// What a serial of the fleet is on a plant's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    /// A listed device.
    Device(&'a Listed),
    /// Not a device serial but the collector (datalogger) of listed devices.
    Collector {
        /// The serials of the devices behind it, in order.
        devices: Vec<&'a str>,
        /// The latest `last_update_time` among them.
        updated: &'a str,
    },
}

/// One plant's devices, gathered page by page.
#[derive(Debug, Clone, Default)]
pub struct PlantDevices {
    devices: HashMap<u64, Listed>,
    /// Collector key → the keys of the devices behind it.
    collectors: HashMap<u64, BTreeSet<u64>>,
    /// The latest `count` the listing gave.
    count: Option<u64>,
}

/// Text of a row's field: strings as they are, numbers as written, nothing for null or absent.
fn text(row: &Value, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// How telling a row is (lower is better).
fn rank(row: &Value) -> u8 {
    let kind = row.get("type").and_then(Value::as_i64);
    let status = row.get("status").and_then(Value::as_i64);
    if kind == Some(4) || status == Some(-1) {
        2
    } else if kind == Some(1) {
        0
    } else {
        1
    }
}

impl PlantDevices {
    /// Reads one page's `data`; returns whether the next page should be asked for. `per_page` is
    /// what the request asked for: without a `count`, a full page may have a successor.
    pub fn take_page(&mut self, data: &Value, per_page: u64) -> bool {
        let rows = data
            .get("devices")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(count) = data.get("count").and_then(count_of) {
            self.count = Some(count);
        }
        let before = self.devices.len();
        for row in rows {
            self.take_row(row);
        }
        let new = self.devices.len() > before;
        let more = match self.count {
            Some(count) => count > self.len(),
            None => rows.len() as u64 >= per_page,
        };
        !rows.is_empty() && new && more
    }

    fn take_row(&mut self, row: &Value) {
        let sn = text(row, "device_sn");
        if sn.is_empty() {
            return;
        }
        let key = sn_key(&sn);
        let listed = Listed {
            status: text(row, "status"),
            updated: text(row, "last_update_time"),
            rank: rank(row),
            sn,
        };
        match self.devices.get_mut(&key) {
            Some(kept) if kept.rank <= listed.rank => {}
            Some(kept) => *kept = listed,
            None => {
                self.devices.insert(key, listed);
            }
        }
        let collector = text(row, "datalogger_sn");
        if !collector.is_empty() {
            self.collectors
                .entry(sn_key(&collector))
                .or_default()
                .insert(key);
        }
    }

    /// What `sn` is on this plant: a listed device, the collector of listed devices, or nothing.
    pub fn find(&self, sn: &str) -> Option<Found<'_>> {
        let key = sn_key(sn.trim());
        if let Some(d) = self.devices.get(&key) {
            return Some(Found::Device(d));
        }
        let behind = self.collectors.get(&key)?;
        let mut devices: Vec<&Listed> = behind.iter().filter_map(|k| self.devices.get(k)).collect();
        devices.sort_by(|a, b| a.sn.cmp(&b.sn));
        let updated = devices
            .iter()
            .map(|d| d.updated.as_str())
            .max()
            .unwrap_or_default();
        Some(Found::Collector {
            devices: devices.iter().map(|d| d.sn.as_str()).collect(),
            updated,
        })
    }

    /// Devices listed (each serial once).
    pub fn len(&self) -> u64 {
        self.devices.len() as u64
    }

    /// Whether no device is listed.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// `(count, listed)` when the listing's `count` claims more devices than it listed.
    pub fn claims_more(&self) -> Option<(u64, u64)> {
        self.count
            .filter(|c| *c > self.len())
            .map(|c| (c, self.len()))
    }
}

/// `count` as a number, also when sent as a numeric string.
fn count_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(sn: &str, kind: i64, status: i64, logger: &str, at: &str) -> Value {
        json!({"device_sn": sn, "type": kind, "status": status, "datalogger_sn": logger,
               "last_update_time": at, "lost": true, "device_id": 0})
    }

    #[test]
    fn each_device_once_from_its_type_1_row() {
        let mut p = PlantDevices::default();
        // The shadow first, then the real row: the real one wins either way.
        let data = json!({"count": 2, "devices": [
            row("AAA1", 4, -1, "DL1", "2025-01-01 00:00:00"),
            row("AAA1", 1, 0, "DL1", "2025-01-01 00:00:00"),
            row("BBB2", 1, 1, "DL2", "2025-02-01 00:00:00"),
            row("BBB2", 4, -1, "DL2", "2025-02-01 00:00:00"),
        ]});
        assert!(!p.take_page(&data, 100));
        assert_eq!(p.len(), 2);
        assert_eq!(p.claims_more(), None);
        match p.find("aaa1") {
            Some(Found::Device(d)) => assert_eq!(d.status, "0"),
            other => panic!("{other:?}"),
        }
        match p.find("BBB2") {
            Some(Found::Device(d)) => assert_eq!(d.status, "1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_collector_serial_is_found_with_its_devices() {
        let mut p = PlantDevices::default();
        let data = json!({"count": 2, "devices": [
            row("LXJ1", 1, 0, "XGD9", "2025-04-11 11:03:48"),
            row("LWJ2", 1, 0, "XGD9", "2024-11-19 14:14:26"),
            row("LWJ2", 4, -1, "XGD9", "2024-11-19 14:14:26"),
        ]});
        p.take_page(&data, 100);
        assert_eq!(
            p.find(" xgd9 "),
            Some(Found::Collector {
                devices: vec!["LWJ2", "LXJ1"],
                updated: "2025-04-11 11:03:48"
            })
        );
        assert_eq!(p.find("NOPE"), None);
    }

    #[test]
    fn paging_goes_on_while_a_page_is_full_or_count_claims_more() {
        // Paged by rows: 100 rows are 50 devices of 60; the next page is asked for.
        let page = |from: usize, n: usize| {
            let rows: Vec<Value> = (from..from + n)
                .flat_map(|i| {
                    let sn = format!("SN{i:04}");
                    [row(&sn, 1, 0, "", ""), row(&sn, 4, -1, "", "")]
                })
                .collect();
            json!({"count": 60, "devices": rows})
        };
        let mut p = PlantDevices::default();
        assert!(p.take_page(&page(0, 50), 100));
        assert!(!p.take_page(&page(50, 10), 100));
        assert_eq!(p.len(), 60);
        // A server that ignores perpage and gives 20 rows a page: count carries it on.
        let mut p = PlantDevices::default();
        for from in [0, 10, 20, 30, 40] {
            assert!(p.take_page(&page(from, 10), 100));
        }
        assert!(!p.take_page(&page(50, 10), 100));
        assert_eq!(p.len(), 60);
        // Without a count, a full page asks for the next one, a short page ends it.
        let strip = |mut v: Value| {
            v.as_object_mut().unwrap().remove("count");
            v
        };
        let mut p = PlantDevices::default();
        assert!(p.take_page(&strip(page(0, 50)), 100));
        assert!(!p.take_page(&strip(page(50, 10)), 100));
        // Paged by devices: 100 devices in 200 rows cover a count of 100; no further call.
        let mut p = PlantDevices::default();
        let mut whole = page(0, 100);
        whole["count"] = json!(100);
        assert!(!p.take_page(&whole, 100));
        // A page repeating what was seen ends it, whatever count says.
        let mut p = PlantDevices::default();
        assert!(p.take_page(&page(0, 10), 100));
        assert!(!p.take_page(&page(0, 10), 100));
        assert_eq!(p.claims_more(), Some((60, 10)));
    }

    #[test]
    fn a_listing_that_claims_more_than_it_lists() {
        let mut p = PlantDevices::default();
        assert!(!p.take_page(&json!({"devices": [], "count": 1}), 100));
        assert_eq!(p.claims_more(), Some((1, 0)));
        assert!(p.is_empty());
        let mut p = PlantDevices::default();
        assert!(!p.take_page(&json!({"devices": [], "count": "0"}), 100));
        assert_eq!(p.claims_more(), None);
        // A meter row without status or a numeric id reads like any row.
        let mut p = PlantDevices::default();
        p.take_page(
            &json!({"count": 1, "devices": [{"device_sn": "meter", "device_id": "", "type": 3}]}),
            100,
        );
        assert!(matches!(p.find("meter"), Some(Found::Device(d)) if d.status.is_empty()));
    }
}
