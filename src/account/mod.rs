//! The account's plants and end users, cached locally: one file per server and token (keyed by a
//! fingerprint of the token, never the token), with the day's listing calls, whether each listing
//! is complete, and the page to go on from.
//!
//! `pull` fills it through the engine, `screen` uses it to flag rows before any add, and
//! `locate` asks where a device sits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::Token;

pub mod listing;
pub mod locate;
pub mod lock;
pub mod pull;
pub mod screen;

pub use listing::{collector_note, listing_notes};
pub use locate::{locate, Located};
pub use lock::CacheLock;
pub use pull::{pull, PullReport};
pub use screen::{screened, Finding, Screen};

/// Calls a day the vendor documents for each listing endpoint.
pub const DAILY_CAP: u32 = 10;
/// Plants or users asked for per page: the API's maximum.
pub const PER_PAGE: u64 = 100;
/// The API refuses pages past this (10014).
pub const MAX_PAGES: u64 = 250;

/// The fingerprint naming a token's cache: the first 16 hex digits of its SHA-256. The token
/// itself is never written anywhere.
pub fn fingerprint(token: &Token) -> String {
    let digest = Sha256::digest(token.expose().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The server part of a cache's name: the base URL's host and port, safe as a file name.
pub fn server_label(base: &reqwest::Url) -> String {
    let host = base.host_str().unwrap_or("server");
    let label = match base.port() {
        Some(port) => format!("{host}-{port}"),
        None => host.to_string(),
    };
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The folder holding the caches: `--cache DIR`, else the platform's cache folder.
pub fn cache_dir(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(dir) => Some(dir.to_path_buf()),
        None => dirs::cache_dir().map(|d| d.join("growatt-onboard")),
    }
}

/// One listing (plants or users) as far as it has been pulled.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListingState {
    /// The `count` the API last gave.
    pub count: Option<u64>,
    /// The next page to ask for.
    pub next_page: u64,
    /// Every page has been read.
    pub complete: bool,
    /// When the first page of this pass was read (RFC 3339), for "listed on …" messages.
    pub started_at: Option<String>,
    /// When the last page was read (RFC 3339).
    pub pulled_at: Option<String>,
}

/// Listing calls spent on one UTC day.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DailyCalls {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// `plant/list` calls that day.
    pub plant_list: u32,
    /// `user/c_user_list` calls that day.
    pub user_list: u32,
}

/// The cache file's content.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountCache {
    /// The server it was pulled from (host and port).
    pub server: String,
    /// The token's fingerprint (see [`fingerprint`]).
    pub token_fingerprint: String,
    /// Plant id → the user who owns it (when the listing named one).
    pub plants: BTreeMap<u64, Option<u64>>,
    /// End-user ids.
    pub users: BTreeSet<u64>,
    /// How far the plant listing is.
    pub plant_listing: ListingState,
    /// How far the user listing is.
    pub user_listing: ListingState,
    /// The listing calls of the last day any were made.
    pub calls: DailyCalls,
}

/// A cache problem; fatal for the command.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The file cannot be read or written.
    #[error("account cache {path}: {}", crate::text::io_reason(.source))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a cache this tool wrote.
    #[error("account cache {path} is damaged ({why}); delete it and pull again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Another pull (`account pull`, or a `check` or `run` pulling a missing cache) is using
    /// the cache.
    #[error("another account pull is using the account cache {} (lock {} is held); wait for it to end, then pull again", .cache.display(), .lock.display())]
    Busy {
        /// The cache file.
        cache: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// No folder for caches.
    #[error("no cache folder on this system; pass --cache DIR")]
    NoDir,
}

/// Where one server's and token's cache lives.
#[derive(Debug, Clone)]
pub struct CacheKey {
    /// The cache file.
    pub path: PathBuf,
    /// See [`server_label`].
    pub server: String,
    /// See [`fingerprint`].
    pub token_fingerprint: String,
}

impl CacheKey {
    /// The cache of `base` and `token` under `--cache DIR` or the platform's cache folder.
    pub fn new(
        dir: Option<&Path>,
        base: &reqwest::Url,
        token: &Token,
    ) -> Result<CacheKey, CacheError> {
        let dir = cache_dir(dir).ok_or(CacheError::NoDir)?;
        let server = server_label(base);
        let token_fingerprint = fingerprint(token);
        Ok(CacheKey {
            path: dir.join(format!("account-{server}-{token_fingerprint}.json")),
            server,
            token_fingerprint,
        })
    }

    /// The cache, or `None` when there is none yet.
    pub fn load(&self) -> Result<Option<AccountCache>, CacheError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CacheError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CacheError::Damaged {
                path: self.path.clone(),
                why: e.to_string(),
            })
    }

    /// An empty cache for this key.
    pub fn empty(&self) -> AccountCache {
        AccountCache {
            server: self.server.clone(),
            token_fingerprint: self.token_fingerprint.clone(),
            plant_listing: ListingState {
                next_page: 1,
                ..ListingState::default()
            },
            user_listing: ListingState {
                next_page: 1,
                ..ListingState::default()
            },
            ..AccountCache::default()
        }
    }

    /// Writes the cache whole: to a temporary file beside it, then renamed over it, so a crash
    /// leaves the old cache or the new one, never half of one.
    pub fn save(&self, cache: &AccountCache) -> Result<(), CacheError> {
        let io = |source| CacheError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = serde_json::to_vec_pretty(cache).map_err(|e| io(std::io::Error::other(e)))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// Today's UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    now[..10].to_string()
}

/// Now, RFC 3339 in UTC to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl AccountCache {
    /// Both listings are complete.
    pub fn complete(&self) -> bool {
        self.plant_listing.complete && self.user_listing.complete
    }

    /// Listing calls spent today on each endpoint (0 when the last calls were on another day).
    pub fn calls_today(&self) -> (u32, u32) {
        if self.calls.day == today() {
            (self.calls.plant_list, self.calls.user_list)
        } else {
            (0, 0)
        }
    }

    /// The day the listings were read: the oldest pass's start, `None` before any page came.
    pub fn listed_on(&self) -> Option<String> {
        let days = [
            &self.plant_listing.started_at,
            &self.user_listing.started_at,
        ];
        days.iter()
            .filter_map(|d| d.as_deref())
            .min()
            .map(|d| d.chars().take(10).collect())
    }

    /// The listing a message relies on, in words: `the account listing of 2026-11-25`, or `an
    /// account listing with no page pulled yet`.
    pub fn listing_words(&self) -> String {
        match self.listed_on() {
            Some(day) => format!("the account listing of {day}"),
            None => "an account listing with no page pulled yet".to_string(),
        }
    }

    /// What `account show` prints.
    pub fn describe(&self, path: &Path) -> String {
        let state = |l: &ListingState, listed: usize| {
            if l.complete {
                "complete".to_string()
            } else {
                match l.count {
                    Some(c) => format!(
                        "partial: {listed} of the {c} the account has are listed; the next pull asks for page {}",
                        l.next_page
                    ),
                    None => "no page pulled yet".to_string(),
                }
            }
        };
        let (p, u) = self.calls_today();
        let age = self
            .plant_listing
            .pulled_at
            .iter()
            .chain(self.user_listing.pulled_at.iter())
            .max()
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or_else(
                || "nothing pulled yet".to_string(),
                |d| match d.as_secs() / 60 {
                    0 => "pulled less than a minute ago".to_string(),
                    minutes => format!(
                        "pulled {} ago",
                        humantime::format_duration(std::time::Duration::from_secs(minutes * 60))
                    ),
                },
            );
        format!(
            "account cache {}\n  server {}, token {}…, {age}{}\n  plants: {} ({})\n  users: {} ({})\n  listing calls today: plant/list {p} of {DAILY_CAP}, user/c_user_list {u} of {DAILY_CAP}\n  {}\n",
            path.display(),
            self.server,
            self.token_fingerprint,
            self.listed_on()
                .map_or_else(String::new, |day| format!(" (listing started {day})")),
            self.plants.len(),
            state(&self.plant_listing, self.plants.len()),
            self.users.len(),
            state(&self.user_listing, self.users.len()),
            if self.complete() { "complete" } else { "partial: pull again (the rest comes on a later day when today's calls are spent)" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_not_the_token_and_is_stable() {
        let t = Token::new("0123456789abcdef0123456789abcdef").unwrap();
        let f = fingerprint(&t);
        assert_eq!(f.len(), 16);
        assert_eq!(f, fingerprint(&t));
        assert!(!t.expose().contains(&f));
        let other = Token::new("0123456789abcdef0123456789abcdee").unwrap();
        assert_ne!(f, fingerprint(&other));
        let url = reqwest::Url::parse("http://127.0.0.1:4000/").unwrap();
        assert_eq!(server_label(&url), "127.0.0.1-4000");
        let url = reqwest::Url::parse("https://[::1]/").unwrap();
        assert_eq!(server_label(&url), "___1_");
    }

    #[test]
    fn calls_of_another_day_do_not_count_today() {
        let mut c = AccountCache {
            calls: DailyCalls {
                day: "2000-01-01".into(),
                plant_list: 10,
                user_list: 3,
            },
            ..AccountCache::default()
        };
        assert_eq!(c.calls_today(), (0, 0));
        c.calls.day = today();
        assert_eq!(c.calls_today(), (10, 3));
    }

    #[test]
    fn a_cache_never_pulled_says_so_plainly() {
        let c = AccountCache::default();
        assert_eq!(c.listed_on(), None);
        assert_eq!(
            c.listing_words(),
            "an account listing with no page pulled yet"
        );
        let text = c.describe(Path::new("cache.json"));
        assert!(!text.contains("never"), "{text}");
        assert!(text.contains("nothing pulled yet"), "{text}");
        assert!(text.contains("plants: 0 (no page pulled yet)"), "{text}");
        let mut c = c;
        c.plant_listing.started_at = Some("2026-11-25T10:00:00Z".into());
        assert_eq!(c.listing_words(), "the account listing of 2026-11-25");
        assert!(c
            .describe(Path::new("c"))
            .contains("(listing started 2026-11-25)"));
    }
}
