//! What `verify` finds and says, shared by its listing pass (`verify.rs`) and its locating pass
//! (`locate.rs`): the link statuses, the rows it checks, its events and its report.

use std::collections::BTreeMap;

use crate::account::Located;
use crate::engine::EngineEvent;
use crate::exit::Exit;

/// What `verify` tells its front while it works.
#[derive(Debug, Clone)]
pub enum VerifyEvent {
    /// The machinery's own news.
    Engine(EngineEvent),
    /// A warning that always matters (a damaged results file).
    Warning(String),
    /// A plant's listing failed: its rows stay unchecked.
    PlantUnchecked {
        /// The plant cell of its first row.
        plant: String,
        /// Rows left unchecked.
        rows: usize,
        /// Why, in words.
        why: String,
    },
    /// A row's serial is the collector (datalogger) of devices listed on its plant, in words.
    Collector(String),
    /// Where a device not on its plant was found (or that it was found nowhere).
    Located {
        /// The row.
        row: u64,
        /// Its serial.
        sn: String,
        /// Its plant cell.
        plant_cell: String,
        /// Its user cell.
        user_cell: String,
        /// What the API said.
        located: Located,
    },
}

/// How a row stands after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkStatus {
    /// The serial is listed on its plant.
    Linked,
    /// Not listed yet: the device has not come online since it was added.
    Pending,
    /// The plant itself does not exist (the list call answered 10003).
    PlantMissing,
    /// `--locate`: the device sits on another plant (the `located_*` columns say which).
    Elsewhere,
}

impl LinkStatus {
    /// The word used in the verify file.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStatus::Linked => "linked",
            LinkStatus::Pending => "pending",
            LinkStatus::PlantMissing => "plant_missing",
            LinkStatus::Elsewhere => "elsewhere",
        }
    }
}

/// What a verify run found.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// Rows whose latest results outcome is registered or already_registered.
    pub registered_rows: u64,
    /// Of those, rows found linked by an earlier verify (not checked again).
    pub linked_before: u64,
    /// Rows checked now, per status.
    pub checked: BTreeMap<&'static str, u64>,
    /// Rows that could not be checked (their plant's listing failed or the run stopped).
    pub unchecked: u64,
    /// Plants listed.
    pub plants: u64,
    /// Requests sent.
    pub requests: u64,
    /// Of the rows linked now, those whose serial is the collector (datalogger) of listed
    /// devices rather than a device's own.
    pub linked_by_collector: u64,
    /// Plants whose listing claims more devices than it lists: `(plant, count, listed)`.
    pub short_listings: Vec<(u64, u64, u64)>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// The exit code.
    pub exit: Option<Exit>,
}

impl VerifyReport {
    /// Rows linked now or before.
    pub fn linked(&self) -> u64 {
        self.linked_before + self.checked.get("linked").copied().unwrap_or(0)
    }

    /// Rows still not linked (pending, plant missing, or unchecked).
    pub fn not_linked(&self) -> u64 {
        self.registered_rows - self.linked()
    }

    /// The closing lines for stderr.
    pub fn render(&self) -> String {
        let mut out = format!(
            "growatt-onboard verify: {} of {} registered devices linked, {} still pending",
            self.linked(),
            self.registered_rows,
            self.checked.get("pending").copied().unwrap_or(0),
        );
        let missing = self.checked.get("plant_missing").copied().unwrap_or(0);
        if missing > 0 {
            out.push_str(&format!(", {missing} on plants that no longer exist"));
        }
        let elsewhere = self.checked.get("elsewhere").copied().unwrap_or(0);
        if elsewhere > 0 {
            out.push_str(&format!(", {elsewhere} sitting on another plant"));
        }
        if self.unchecked > 0 {
            out.push_str(&format!(", {} not checked (run again)", self.unchecked));
        }
        out.push_str(&format!(
            "\n  {} plants listed with {} requests ({} linked in earlier checks)\n",
            self.plants, self.requests, self.linked_before
        ));
        out.push_str(&crate::account::listing_notes(
            self.linked_by_collector,
            &self.short_listings,
        ));
        if let Some(why) = &self.stopped {
            out.push_str(&format!("  stopped early: {why}\n"));
        }
        out
    }
}

/// A registered row to check.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) row: u64,
    pub(crate) plant_cell: String,
    pub(crate) user_cell: String,
    pub(crate) sn: String,
}
