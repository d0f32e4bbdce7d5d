//! The world the simulator starts from: plants, their users, devices and prior associations.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// A plant (installation) and the end-user accounts allowed to own devices on it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FixturePlant {
    /// The plant's numeric id, as sent in `plant_id`.
    pub plant_id: u64,
    /// End-user (`c_user_id`) accounts attached to this plant.
    pub c_user_ids: Vec<u64>,
}

/// A device serial number known to the simulated server.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FixtureDevice {
    /// The serial as printed on the nameplate; requests match it case-insensitively.
    pub sn: String,
    /// Whether the device currently reports to the server. Absent means online.
    #[serde(default = "default_true")]
    pub online: bool,
}

fn default_true() -> bool {
    true
}

/// The world the simulator starts from: plants with their users, existing devices, and
/// devices that are already linked to a plant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Fixture {
    /// Plants that exist.
    pub plants: Vec<FixturePlant>,
    /// Device serials that exist.
    pub devices: Vec<FixtureDevice>,
    /// Serials already associated with some plant before the simulator starts; adding one
    /// answers `10003`. They are not listed under any fixture plant.
    #[serde(default)]
    pub associated: Vec<String>,
    /// What the account-level listings and `plant/sn_plant` serve beyond the plants above.
    #[serde(default)]
    pub account: FixtureAccount,
}

/// Where a device already sits: the answer `POST /v1/plant/sn_plant` gives for it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FixtureLocation {
    /// The serial, matched case-insensitively.
    pub sn: String,
    /// The plant it sits on (need not be one of the fixture's plants: a previous owner's).
    pub plant_id: u64,
    /// The end user owning that plant.
    pub user_id: u64,
}

/// The account beyond the fixture's plants: where associated devices sit, and filler plants and
/// users that make the account larger than one day's listing allowance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct FixtureAccount {
    /// Where `associated` serials sit. An associated serial not named here is unknown to
    /// `plant/sn_plant` (10005), like a device removed from its plant.
    #[serde(default)]
    pub located: Vec<FixtureLocation>,
    /// Extra plants, ids `2000001..`, each owned by one of the extra users in turn (or by the
    /// first fixture plant's first user when there are none); they exist for `sn/add` too.
    #[serde(default)]
    pub extra_plants: u64,
    /// Extra end users, ids `3000001..`.
    #[serde(default)]
    pub extra_users: u64,
}

/// First id of [`FixtureAccount::extra_plants`].
pub(crate) const EXTRA_PLANT_BASE: u64 = 2_000_001;
/// First id of [`FixtureAccount::extra_users`].
pub(crate) const EXTRA_USER_BASE: u64 = 3_000_001;

impl Fixture {
    /// Every plant of the account with its owner (its first user), fixture plants first, then
    /// the extra ones, in id order within each group.
    pub(crate) fn owned_plants(&self) -> Vec<(u64, Option<u64>)> {
        let mut out: Vec<(u64, Option<u64>)> = self
            .plants
            .iter()
            .map(|p| (p.plant_id, p.c_user_ids.first().copied()))
            .collect();
        let fallback = out.first().and_then(|(_, u)| *u);
        let users = self.account.extra_users;
        out.extend((0..self.account.extra_plants).map(|i| {
            let owner = if users > 0 {
                Some(EXTRA_USER_BASE + i % users)
            } else {
                fallback
            };
            (EXTRA_PLANT_BASE + i, owner)
        }));
        out
    }

    /// Every end user of the account: the fixture plants' users (first seen first), then the
    /// extra ones.
    pub(crate) fn users(&self) -> Vec<u64> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<u64> = self
            .plants
            .iter()
            .flat_map(|p| p.c_user_ids.iter().copied())
            .filter(|u| seen.insert(*u))
            .collect();
        out.extend((0..self.account.extra_users).map(|i| EXTRA_USER_BASE + i));
        out
    }
}

/// Largest fixture file read: a world of a million devices is about 60 MiB of JSON, pretty-printed.
pub const MAX_FIXTURE_BYTES: u64 = 128 << 20;

/// An I/O error in words, without the operating system's error number.
fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
    }
}

impl Fixture {
    /// The world bundled with the tool (`samples/fixture.json`), matching `samples/fleet.csv`.
    pub fn builtin() -> Fixture {
        // The file is compiled in and covered by a test, so a parse failure is a build defect.
        serde_json::from_str(include_str!("../../../samples/fixture.json"))
            .expect("the bundled samples/fixture.json is valid")
    }

    /// Read a fixture from a JSON file; the error names the file and what is wrong with it.
    /// Only a regular file of at most [`MAX_FIXTURE_BYTES`] is read: a device (`/dev/zero`), a
    /// pipe or a huge file is refused at once, in words.
    pub fn from_path(path: &Path) -> anyhow::Result<Fixture> {
        let cannot =
            |why: String| anyhow::anyhow!("cannot read fixture file {}: {why}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| cannot(io_words(&e)))?;
        if !meta.is_file() {
            return Err(cannot(
                "it is not a regular file (a folder, a pipe or a device); pass a JSON file".into(),
            ));
        }
        if meta.len() > MAX_FIXTURE_BYTES {
            return Err(cannot(format!(
                "it is {} MiB, more than the {} MiB a fixture may be; for a large world, use --open-world",
                meta.len() >> 20,
                MAX_FIXTURE_BYTES >> 20
            )));
        }
        let file = std::fs::File::open(path).map_err(|e| cannot(io_words(&e)))?;
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_FIXTURE_BYTES + 1),
            &mut text,
        )
        .map_err(|e| cannot(io_words(&e)))?;
        if text.len() as u64 > MAX_FIXTURE_BYTES {
            return Err(cannot(
                "it grew past the size a fixture may be while being read".into(),
            ));
        }
        serde_json::from_slice(&text)
            .with_context(|| format!("fixture file {} is not a valid fixture", path.display()))
    }
}

impl Fixture {
    /// A small world for tests: plants 1001 (users 501, 502) and 1002 (user 503), four devices
    /// of which `AAA0A0004D` is offline, and `AAA0A0003C` associated beforehand (spelled in lower
    /// case, to exercise case-insensitive matching).
    pub fn small() -> Fixture {
        Fixture {
            plants: vec![
                FixturePlant {
                    plant_id: 1001,
                    c_user_ids: vec![501, 502],
                },
                FixturePlant {
                    plant_id: 1002,
                    c_user_ids: vec![503],
                },
            ],
            devices: ["AAA0A0001A", "AAA0A0002B", "AAA0A0003C", "AAA0A0004D"]
                .iter()
                .map(|sn| FixtureDevice {
                    sn: sn.to_string(),
                    online: !sn.ends_with('D'),
                })
                .collect(),
            associated: vec!["aaa0a0003c".into()],
            account: FixtureAccount::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn builtin_fixture_matches_the_sample_fleet() {
        let fx = Fixture::builtin();
        assert_eq!(fx.plants.len(), 8);
        assert!(fx.devices.len() >= 290, "{} devices", fx.devices.len());
        assert!(fx.devices.iter().any(|d| !d.online));
        let known: HashSet<String> = fx.devices.iter().map(|d| d.sn.clone()).collect();
        // Every serial in the fleet that is well formed either exists or is one of the two
        // planted unknown serials.
        let fleet = include_str!("../../../samples/fleet.csv");
        let unknown: Vec<&str> = fleet
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1))
            .filter(|sn| sn.len() == 10 && sn.chars().all(|c| c.is_ascii_alphanumeric()))
            .filter(|sn| !known.contains(&sn.to_ascii_uppercase()))
            .collect();
        assert_eq!(unknown.len(), 2, "{unknown:?}");
        assert_eq!(fleet.lines().count(), 301);
    }

    #[test]
    fn large_account_sample_is_larger_than_a_days_listing() {
        let fx: Fixture =
            serde_json::from_str(include_str!("../../../samples/fixture-large-account.json"))
                .unwrap();
        assert_eq!(fx.owned_plants().len(), 1158);
        assert_eq!(fx.users().len(), 1032);
        let builtin = Fixture::builtin();
        assert_eq!(builtin.account.located.len(), 2);
        assert_eq!(builtin.account.extra_plants, 0);
    }

    #[test]
    fn online_defaults_to_true_and_associated_to_empty() {
        let fx: Fixture = serde_json::from_str(
            r#"{"plants":[],"devices":[{"sn":"X1"},{"sn":"X2","online":false}]}"#,
        )
        .unwrap();
        assert!(fx.devices[0].online);
        assert!(!fx.devices[1].online);
        assert!(fx.associated.is_empty());
    }

    #[test]
    fn bad_fixture_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("world.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = format!("{:#}", Fixture::from_path(&path).unwrap_err());
        assert!(err.contains("world.json"), "{err}");
        let missing = dir.path().join("absent.json");
        let err = format!("{:#}", Fixture::from_path(&missing).unwrap_err());
        assert!(err.contains("absent.json"), "{err}");

        std::fs::write(&path, serde_json::to_string(&Fixture::small()).unwrap()).unwrap();
        assert_eq!(Fixture::from_path(&path).unwrap(), Fixture::small());
    }

    #[test]
    fn a_fixture_that_never_ends_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.json");
        let file = std::fs::File::create(&huge).unwrap();
        file.set_len(MAX_FIXTURE_BYTES + 1).unwrap();
        let err = format!("{:#}", Fixture::from_path(&huge).unwrap_err());
        assert!(err.contains("more than the 128 MiB"), "{err}");
        #[cfg(unix)]
        {
            let err = format!(
                "{:#}",
                Fixture::from_path(Path::new("/dev/zero")).unwrap_err()
            );
            assert!(err.contains("not a regular file"), "{err}");
        }
    }
}
