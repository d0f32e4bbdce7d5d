//! The simulated world: plants and their users, devices, and which device is linked to which plant.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::answer::{
    Answer, DEVICE_EXISTS, LIST_PLANT_MISSING, OK, PAGE_SIZE_TOO_BIG, PAGE_TOO_HIGH,
    PLANT_ID_EMPTY, PLANT_MISSING, SN_WRONG, USER_ID_EMPTY, USER_MISSING,
};
use crate::form::{AddForm, ListQuery};
use crate::Fixture;

/// Largest page the list endpoint serves, as on the real server (`10013` above it).
const MAX_PER_PAGE: u64 = 100;
/// Highest page number the list endpoint serves (`10014` above it).
const MAX_PAGE: u64 = 250;
/// Page size used when a list request does not give a usable `perpage`.
const DEFAULT_PER_PAGE: u64 = 20;

#[derive(Clone, Debug)]
struct Device {
    sn: String,
    online: bool,
}

/// Plants, devices and associations, keyed by upper-cased serial for case-insensitive matching.
#[derive(Clone, Debug)]
pub(crate) struct World {
    plants: HashMap<u64, HashSet<u64>>,
    devices: HashMap<String, Device>,
    /// Associated serials -> when (Unix ms). Fixture serials count as linked at start-up.
    links: HashMap<String, u64>,
    /// Serials per plant in association order, so list pages are stable. Only linked serials:
    /// an association made while the device is offline waits in `pending`.
    by_plant: BTreeMap<u64, Vec<String>>,
    /// Accepted associations of offline devices: serial -> (plant, when it links, if ever on its own).
    pending: HashMap<String, (u64, Option<u64>)>,
    /// See [`crate::SimConfig::link_delay`].
    pub(crate) link_delay_ms: Option<u64>,
    /// See [`crate::SimConfig::open_world`].
    pub(crate) open_world: bool,
}

/// One row of `device/list`, with the live rows' fields in their order. Each device is listed
/// twice, as live: a `type` 1 row with its status, and a `type` 4 row with `status: -1`.
#[derive(Serialize, Debug)]
struct ListedDevice {
    last_update_time: String,
    device_id: u64,
    device_sn: String,
    lost: bool,
    model: &'static str,
    #[serde(rename = "type")]
    kind: u32,
    /// The simulator's fixture names no collectors, so this is empty.
    datalogger_sn: String,
    manufacturer: &'static str,
    status: i64,
}

impl World {
    pub(crate) fn new(fixture: &Fixture, now_unix_ms: u64) -> World {
        let mut plants: HashMap<u64, HashSet<u64>> = HashMap::new();
        for p in &fixture.plants {
            plants
                .entry(p.plant_id)
                .or_default()
                .extend(p.c_user_ids.iter().copied());
        }
        // The account's extra plants exist for adds too, with their owner as their one user.
        for (plant_id, owner) in fixture.owned_plants() {
            let users = plants.entry(plant_id).or_default();
            users.extend(owner);
        }
        let devices = fixture
            .devices
            .iter()
            .map(|d| {
                let key = d.sn.trim().to_ascii_uppercase();
                let device = Device {
                    sn: d.sn.trim().to_string(),
                    online: d.online,
                };
                (key, device)
            })
            .collect();
        let links = fixture
            .associated
            .iter()
            .map(|sn| sn.trim().to_ascii_uppercase())
            .chain((fixture.account.located.iter()).map(|l| l.sn.trim().to_ascii_uppercase()))
            .map(|key| (key, now_unix_ms))
            .collect();
        World {
            plants,
            devices,
            links,
            by_plant: BTreeMap::new(),
            pending: HashMap::new(),
            link_delay_ms: None,
            open_world: false,
        }
    }

    /// Whether a plant id exists (every numeric one in an open world).
    fn plant_exists(&self, id: u64) -> bool {
        self.open_world || self.plants.contains_key(&id)
    }

    /// Whether a serial (upper-cased key) exists (every alphanumeric one in an open world).
    fn device_exists(&self, sn_key: &str) -> bool {
        self.devices.contains_key(sn_key)
            || (self.open_world
                && !sn_key.is_empty()
                && sn_key.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// Apply one admitted `sn/add`, in the server's order of checks.
    pub(crate) fn add(&mut self, form: &AddForm, now_unix_ms: u64) -> Answer {
        let plant_raw = form.plant_id.as_deref().unwrap_or_default().trim();
        let user_raw = form.c_user_id.as_deref().unwrap_or_default().trim();
        let sn_key = form
            .sn
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        if plant_raw.is_empty() {
            return PLANT_ID_EMPTY;
        }
        if user_raw.is_empty() {
            return USER_ID_EMPTY;
        }
        let Some(plant_id) = plant_raw
            .parse::<u64>()
            .ok()
            .filter(|id| self.plant_exists(*id))
        else {
            return PLANT_MISSING;
        };
        if sn_key.is_empty() || !self.device_exists(&sn_key) {
            return SN_WRONG;
        }
        let user_ok = user_raw.parse::<u64>().is_ok_and(|u| {
            self.open_world || self.plants.get(&plant_id).is_some_and(|us| us.contains(&u))
        });
        if !user_ok {
            return USER_MISSING;
        }
        if self.links.contains_key(&sn_key) {
            return DEVICE_EXISTS;
        }
        self.links.insert(sn_key.clone(), now_unix_ms);
        // Open-world serials outside the fixture are online.
        let online = self
            .devices
            .get(&sn_key)
            .map_or(self.open_world, |d| d.online);
        if online {
            self.by_plant.entry(plant_id).or_default().push(sn_key);
        } else {
            let due = self.link_delay_ms.map(|d| now_unix_ms.saturating_add(d));
            self.pending.insert(sn_key, (plant_id, due));
        }
        OK
    }

    /// Links the pending associations whose device has come online by `now_unix_ms`.
    fn promote(&mut self, now_unix_ms: u64) {
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (_, at))| at.is_some_and(|at| at <= now_unix_ms))
            .map(|(sn, _)| sn.clone())
            .collect();
        for sn in due {
            self.bring_online(&sn, now_unix_ms);
        }
    }

    /// The plant a serial (upper-cased key) was associated with by an add here, linked or not.
    pub(crate) fn plant_of(&self, sn_key: &str) -> Option<u64> {
        if let Some((plant, _)) = self.pending.get(sn_key) {
            return Some(*plant);
        }
        self.by_plant
            .iter()
            .find(|(_, serials)| serials.iter().any(|s| s == sn_key))
            .map(|(plant, _)| *plant)
    }

    /// Whether a serial (upper-cased key) is associated with some plant.
    pub(crate) fn is_associated(&self, sn_key: &str) -> bool {
        self.links.contains_key(sn_key)
    }

    /// Marks a device online (as `POST /__sim/online` does); a pending association links now.
    /// Returns whether the serial exists.
    pub(crate) fn bring_online(&mut self, sn_key: &str, now_unix_ms: u64) -> bool {
        let Some(device) = self.devices.get_mut(sn_key) else {
            return false;
        };
        device.online = true;
        if let Some((plant, _)) = self.pending.remove(sn_key) {
            self.links.insert(sn_key.to_string(), now_unix_ms);
            self.by_plant
                .entry(plant)
                .or_default()
                .push(sn_key.to_string());
        }
        true
    }

    /// Answer one admitted `device/list`: the `data` object, or the error answer.
    pub(crate) fn list(&mut self, q: &ListQuery, now_unix_ms: u64) -> Result<Value, Answer> {
        self.promote(now_unix_ms);
        let plant_raw = q.plant_id.as_deref().unwrap_or_default().trim();
        if plant_raw.is_empty() {
            return Err(PLANT_ID_EMPTY);
        }
        let plant_id = plant_raw
            .parse::<u64>()
            .ok()
            .filter(|id| self.plant_exists(*id))
            .ok_or(LIST_PLANT_MISSING)?;
        // Unusable paging values fall back to the defaults rather than failing the call.
        let number = |raw: &Option<String>| {
            raw.as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        let perpage = number(&q.perpage).unwrap_or(DEFAULT_PER_PAGE);
        let page = number(&q.page).unwrap_or(1);
        if perpage > MAX_PER_PAGE {
            return Err(PAGE_SIZE_TOO_BIG);
        }
        if page > MAX_PAGE {
            return Err(PAGE_TOO_HIGH);
        }
        let serials = self
            .by_plant
            .get(&plant_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // `count` counts devices, not rows, as live. How the live server pages two rows a device
        // is not known; here a page holds `perpage` devices, each as its two rows.
        let count = serials.len() as u64;
        let devices: Vec<ListedDevice> = serials
            .iter()
            .skip(((page - 1) * perpage) as usize)
            .take(perpage as usize)
            .flat_map(|key| {
                let online = self.devices.get(key).is_none_or(|d| d.online);
                let sn = self
                    .devices
                    .get(key)
                    .map_or(key.as_str(), |d| d.sn.as_str());
                let at = self.links.get(key).copied().unwrap_or_default();
                let row = |kind, status| ListedDevice {
                    last_update_time: format_datetime(at),
                    device_id: 0,
                    device_sn: sn.to_string(),
                    lost: !online,
                    model: "S25B08D00T00P0FU03M012C",
                    kind,
                    datalogger_sn: String::new(),
                    manufacturer: "Growatt",
                    status,
                };
                [row(1, i64::from(online)), row(4, -1)]
            })
            .collect();
        // The live keys' order: `devices`, then `count`.
        Ok(json!({
            "devices": devices,
            "count": count,
        }))
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), the timestamp style of the API's answers. A time past the year
/// 9999, which no clock gives, formats as an empty string.
fn format_datetime(unix_ms: u64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
