//! Rows against the account, before any add: a plant or user the account does not have (the add
//! would answer 10004 or 10005) ends the row as `invalid`; a plant owned by another user than the
//! row's is a warning only (what the vendor answers then is unconfirmed). A listing that is not
//! complete never marks a row for what it could not list.

use std::collections::BTreeMap;

use super::AccountCache;
use crate::input::Device;
use crate::journal::{Next, ResultLine};
use crate::outcome::Outcome;

/// What the account says about a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The plant is not in the (complete) plant listing: the add would answer 10004.
    PlantMissing,
    /// The user is not in the (complete) user listing: the add would answer 10005.
    UserMissing,
    /// The plant is owned by another user.
    NotOwner {
        /// The plant's owner per the listing.
        owner: u64,
    },
}

impl AccountCache {
    /// What the account says about a plant and user, if anything.
    pub fn assess(&self, plant: u64, user: u64) -> Option<Finding> {
        if self.plant_listing.complete && !self.plants.contains_key(&plant) {
            return Some(Finding::PlantMissing);
        }
        if self.user_listing.complete && !self.users.contains(&user) {
            return Some(Finding::UserMissing);
        }
        match self.plants.get(&plant) {
            Some(Some(owner)) if *owner != user => Some(Finding::NotOwner { owner: *owner }),
            _ => None,
        }
    }
}

/// Screens triaged rows against the account cache and keeps the owner warnings.
#[derive(Debug, Clone)]
pub struct Screen {
    cache: AccountCache,
    refresh: String,
    /// (plant, owner, row's user) → the rows naming that pair.
    warnings: BTreeMap<(u64, u64, u64), Vec<u64>>,
}

impl Screen {
    /// A screen over `cache`; `refresh` is the command that pulls it again, for messages.
    pub fn new(cache: AccountCache, refresh: &str) -> Screen {
        Screen {
            cache,
            refresh: refresh.to_string(),
            warnings: BTreeMap::new(),
        }
    }

    /// The cache screened against.
    pub fn cache(&self) -> &AccountCache {
        &self.cache
    }

    /// The message of an invalid row, naming the listing's date and how to refresh it.
    fn message(&self, device: &Device, finding: &Finding) -> Option<String> {
        let (what, code) = match finding {
            Finding::PlantMissing => (
                format!("plant_id {} is not in the account", device.plant_id),
                10004,
            ),
            Finding::UserMissing => (
                format!("c_user_id {} is not in the account", device.c_user_id),
                10005,
            ),
            Finding::NotOwner { .. } => return None,
        };
        Some(format!(
            "{what} (the add would answer {code}); per {}; if it was added since, refresh with `{}`",
            self.cache.listing_words(),
            self.refresh
        ))
    }

    /// Ends a row to be sent as `invalid` when the account lacks its plant or user; notes an
    /// owner mismatch and lets the row go on. Rows not to be sent pass through untouched.
    pub fn apply(&mut self, next: Next) -> Next {
        let Next::Send(row, device) = next else {
            return next;
        };
        let Some(finding) = self.cache.assess(device.plant_id, device.c_user_id) else {
            return Next::Send(row, device);
        };
        if let Finding::NotOwner { owner } = finding {
            self.warnings
                .entry((device.plant_id, owner, device.c_user_id))
                .or_default()
                .push(row.row);
            return Next::Send(row, device);
        }
        let msg = self.message(&device, &finding).unwrap_or_default();
        Next::Ended(ResultLine::unsent(&row, Outcome::Invalid, msg))
    }

    /// Rows whose plant another user owns.
    pub fn warned_rows(&self) -> u64 {
        self.warnings.values().map(|r| r.len() as u64).sum()
    }

    /// One line per plant and user pair whose plant another user owns, with the rows.
    pub fn warning_lines(&self) -> Vec<String> {
        self.warnings
            .iter()
            .map(|((plant, owner, user), rows)| {
                let shown: Vec<String> = rows.iter().take(10).map(u64::to_string).collect();
                let more = if rows.len() > 10 {
                    format!(" and {} more", rows.len() - 10)
                } else {
                    String::new()
                };
                format!(
                    "warning: plant {plant} is owned by user {owner}, not {user} (rows {}{more}); the add may be refused (10005) or land on {owner}'s plant",
                    shown.join(", ")
                )
            })
            .collect()
    }
}

/// A triaged row through the screen, when there is one.
pub fn screened(screen: Option<&mut Screen>, next: Next) -> Next {
    match screen {
        Some(s) => s.apply(next),
        None => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(complete: bool) -> AccountCache {
        let mut c = AccountCache::default();
        c.plants.insert(1001, Some(501));
        c.plants.insert(1002, None);
        c.users.extend([501, 502]);
        c.plant_listing.complete = complete;
        c.user_listing.complete = complete;
        c
    }

    #[test]
    fn findings_and_partial_listings() {
        let c = cache(true);
        assert_eq!(c.assess(1001, 501), None);
        assert_eq!(c.assess(9, 501), Some(Finding::PlantMissing));
        assert_eq!(c.assess(1001, 9), Some(Finding::UserMissing));
        assert_eq!(c.assess(1001, 502), Some(Finding::NotOwner { owner: 501 }));
        assert_eq!(c.assess(1002, 502), None, "no owner listed: nothing to say");
        let c = cache(false);
        assert_eq!(
            c.assess(9, 9),
            None,
            "a partial cache marks nothing missing"
        );
        assert_eq!(c.assess(1001, 502), Some(Finding::NotOwner { owner: 501 }));
    }
}
