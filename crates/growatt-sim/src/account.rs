//! The account-level reads: `plant/list` and `user/c_user_list` (100 a page, at most 10 calls a
//! day each, on a simulated day that tests can advance) and `plant/sn_plant` (where a device
//! sits, once every 5 minutes per serial).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::answer::{Answer, FREQUENT_ACCESS, PAGE_SIZE_TOO_BIG, PAGE_TOO_HIGH, SN_WRONG};
use crate::form::pairs;
use crate::world::World;
use crate::Fixture;

/// Calls a day each listing endpoint allows, as documented by the vendor.
pub const DAILY_LISTING_CAP: u64 = 10;
/// How long the same `sn_plant` request is refused (10012) after it was answered.
pub const SN_PLANT_COOLDOWN: Duration = Duration::from_secs(300);
/// Largest page the listings serve (10013 above it).
const MAX_PER_PAGE: u64 = 100;
/// Highest page the listings serve (10014 above it).
const MAX_PAGE: u64 = 250;
/// Page size when a request gives no usable `perpage`.
const DEFAULT_PER_PAGE: u64 = 20;

/// The daily cap is used up (the vendor's exact answer is undocumented; the frequency code).
const DAILY_CAP_REACHED: Answer = Answer {
    code: FREQUENT_ACCESS.code,
    msg: "the daily limit of 10 calls for this endpoint is used up",
};
/// `sn_plant` for a serial that is on no plant.
const DEVICE_MISSING: Answer = Answer {
    code: 10005,
    msg: "device does not exist",
};

/// The listing endpoints with a daily cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Listing {
    /// `GET /v1/plant/list`.
    Plants,
    /// `GET /v1/user/c_user_list`.
    Users,
}

/// What the account endpoints have seen, served at `GET /__sim/account`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountStats {
    /// The simulated day, from 0; `POST /__sim/next_day` moves it on.
    pub day: u64,
    /// `plant/list` calls on the current day, refused ones included.
    pub plant_list_today: u64,
    /// `user/c_user_list` calls on the current day, refused ones included.
    pub user_list_today: u64,
    /// Most calls one listing endpoint received on any one day.
    pub max_listing_calls_in_a_day: u64,
    /// Listing calls refused because the day's cap was used up.
    pub over_cap: u64,
    /// `plant/list` calls over all days.
    pub plant_list_total: u64,
    /// `user/c_user_list` calls over all days.
    pub user_list_total: u64,
    /// `plant/sn_plant` calls, per serial as received.
    pub sn_plant_per_sn: HashMap<String, u64>,
    /// `sn_plant` calls refused for coming within the cooldown of the same request.
    pub sn_plant_too_soon: u64,
}

/// The account as the listings show it, and the counters of its endpoints.
pub(crate) struct Book {
    plants: Vec<(u64, Option<u64>)>,
    users: Vec<u64>,
    owners: HashMap<u64, Option<u64>>,
    located: HashMap<String, (u64, u64)>,
    last_sn_plant: HashMap<String, Instant>,
    pub(crate) stats: AccountStats,
}

impl Book {
    pub(crate) fn new(fixture: &Fixture) -> Book {
        let plants = fixture.owned_plants();
        Book {
            owners: plants.iter().copied().collect(),
            plants,
            users: fixture.users(),
            located: fixture
                .account
                .located
                .iter()
                .map(|l| (l.sn.trim().to_ascii_uppercase(), (l.plant_id, l.user_id)))
                .collect(),
            last_sn_plant: HashMap::new(),
            stats: AccountStats::default(),
        }
    }

    /// A new simulated day: the daily caps start over.
    pub(crate) fn next_day(&mut self) {
        self.stats.day += 1;
        self.stats.plant_list_today = 0;
        self.stats.user_list_today = 0;
    }

    /// Answers one admitted listing call: the `data` object, or the error answer.
    pub(crate) fn list(&mut self, which: Listing, query: &[u8]) -> Result<Value, Answer> {
        let s = &mut self.stats;
        let today = match which {
            Listing::Plants => {
                s.plant_list_total += 1;
                &mut s.plant_list_today
            }
            Listing::Users => {
                s.user_list_total += 1;
                &mut s.user_list_today
            }
        };
        *today += 1;
        let today = *today;
        s.max_listing_calls_in_a_day = s.max_listing_calls_in_a_day.max(today);
        if today > DAILY_LISTING_CAP {
            s.over_cap += 1;
            return Err(DAILY_CAP_REACHED);
        }
        let (mut page, mut perpage) = (1, DEFAULT_PER_PAGE);
        for (k, v) in pairs(query) {
            let n = v.trim().parse::<u64>().ok().filter(|n| *n > 0);
            match (&*k, n) {
                ("page", Some(n)) => page = n,
                ("perpage", Some(n)) => perpage = n,
                _ => {}
            }
        }
        if perpage > MAX_PER_PAGE {
            return Err(PAGE_SIZE_TOO_BIG);
        }
        if page > MAX_PAGE {
            return Err(PAGE_TOO_HIGH);
        }
        let skip = ((page - 1) * perpage) as usize;
        let take = perpage as usize;
        Ok(match which {
            Listing::Plants => {
                let plants: Vec<Value> = self
                    .plants
                    .iter()
                    .skip(skip)
                    .take(take)
                    .map(|(id, owner)| {
                        json!({
                            "plant_id": id,
                            "name": format!("Plant {id}"),
                            "user_id": owner,
                            "status": 1,
                            "create_date": "2024-01-01",
                            "peak_power": 10.0,
                            "country": "",
                            "city": "",
                        })
                    })
                    .collect();
                json!({ "count": self.plants.len(), "plants": plants })
            }
            Listing::Users => {
                let users: Vec<Value> = self
                    .users
                    .iter()
                    .skip(skip)
                    .take(take)
                    .map(|id| {
                        json!({
                            "c_user_id": id,
                            "c_user_name": format!("user{id}"),
                            "c_user_email": "",
                            "c_user_tel": "",
                            "c_user_regtime": "2024-01-01 00:00:00",
                        })
                    })
                    .collect();
                json!({ "count": self.users.len(), "c_user": users })
            }
        })
    }

    /// Answers one admitted `plant/sn_plant`: where the device sits.
    pub(crate) fn sn_plant(
        &mut self,
        world: &World,
        body: &[u8],
        now: Instant,
    ) -> Result<Value, Answer> {
        let raw = pairs(body)
            .find(|(k, _)| k == "device_sn")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let key = raw.trim().to_ascii_uppercase();
        if key.is_empty() {
            return Err(SN_WRONG);
        }
        *self.stats.sn_plant_per_sn.entry(raw).or_default() += 1;
        if let Some(last) = self.last_sn_plant.get(&key) {
            if now.saturating_duration_since(*last) < SN_PLANT_COOLDOWN {
                self.stats.sn_plant_too_soon += 1;
                return Err(FREQUENT_ACCESS);
            }
        }
        self.last_sn_plant.insert(key.clone(), now);
        let (plant_id, user_id) = match world.plant_of(&key) {
            Some(plant) => (plant, self.owners.get(&plant).copied().flatten()),
            None if world.is_associated(&key) => match self.located.get(&key) {
                Some((plant, user)) => (*plant, Some(*user)),
                None => return Err(DEVICE_MISSING),
            },
            None => return Err(DEVICE_MISSING),
        };
        Ok(json!({ "plant": {
            "plant_id": plant_id,
            "user_id": user_id,
            "name": format!("Plant {plant_id}"),
        }}))
    }
}
