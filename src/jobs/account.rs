//! The account jobs: pulling the plant and user listings into the cache, and the screen that
//! `check` and `run` put before any add (pulling first when there is no cache yet).

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::settings::RequestConfig;
use crate::account::{
    self, AccountCache, CacheError, CacheKey, CacheLock, PullReport, Screen, DAILY_CAP,
};
use crate::api::ClientError;
use crate::engine::{Engine, Job, Sink, Stop, Wording};
use crate::exit::Exit;

/// The command that refreshes the cache, for messages.
pub const REFRESH: &str = "growatt-onboard account pull";

/// A problem with the account cache or its pull.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The cache cannot be found, read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The pull stopped before it ended, for this reason (in words).
    #[error("the account pull stopped: {words}")]
    Stopped {
        /// Why.
        stop: Stop,
        /// Why, in the words of the front.
        words: String,
    },
    /// A listing could not go on (a refusal or a failure), in words.
    #[error("{0}")]
    Failed(String),
}

impl super::JobError for AccountError {
    /// A stop's own exit code (130 for an interruption), else 1.
    fn exit(&self) -> Exit {
        match self {
            AccountError::Stopped { stop, .. } => stop.exit(),
            _ => Exit::Fatal,
        }
    }
}

/// What a pull left in the cache, for the front to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The cache file.
    pub path: PathBuf,
    /// Plants and users listed.
    pub plants: usize,
    /// Users listed.
    pub users: usize,
    /// Both listings are complete.
    pub complete: bool,
    /// Today's calls of plant/list and user/c_user_list.
    pub calls_today: (u32, u32),
    /// What this pull did.
    pub report: PullReport,
    /// Per listing whose day's calls ran out: its noun, what is listed, and the count the
    /// account claims (when it said).
    pub cap_reached: Vec<(&'static str, usize, Option<u64>)>,
    /// The pull stopped before it ended (Ctrl-C, `--max-runtime`): what it listed is kept, and
    /// the next pull goes on from there.
    pub stopped: Option<Stop>,
}

impl Pulled {
    fn new(key: &CacheKey, cache: &AccountCache, report: PullReport) -> Pulled {
        let cap_reached = report
            .cap_reached
            .iter()
            .map(|noun| {
                if *noun == "plants" {
                    (*noun, cache.plants.len(), cache.plant_listing.count)
                } else {
                    (*noun, cache.users.len(), cache.user_listing.count)
                }
            })
            .collect();
        Pulled {
            path: key.path.clone(),
            plants: cache.plants.len(),
            users: cache.users.len(),
            complete: cache.complete(),
            calls_today: cache.calls_today(),
            report,
            cap_reached,
            stopped: None,
        }
    }

    /// The closing lines of a pull, in words (the daily cap named): what the cache holds, then
    /// where it is, each a line of its own, then a line per listing cut short.
    pub fn describe(&self) -> Vec<String> {
        let (p, u) = self.calls_today;
        let mut lines = vec![
            format!(
                "growatt-onboard account: {} plants, {} users ({}); {} listing calls now, today plant/list {p} of {DAILY_CAP}, user/c_user_list {u} of {DAILY_CAP}",
                self.plants,
                self.users,
                if self.complete { "complete" } else { "partial" },
                self.report.calls.0 + self.report.calls.1,
            ),
            self.cache_line(),
        ];
        if self.report.refused_by_server {
            lines.push(format!(
                "growatt-onboard account: the server refused a listing call as too frequent (10012): its daily cap of {DAILY_CAP} is likely spent by another client or an earlier pull; run `{REFRESH}` again tomorrow (UTC)"
            ));
        }
        for (noun, listed, count) in &self.cap_reached {
            let count = count.map_or_else(|| "more".to_string(), |c| c.to_string());
            lines.push(format!(
                "growatt-onboard account: the account has {count} {noun} and today's {DAILY_CAP} calls listed {listed}; run `{REFRESH}` again tomorrow (UTC) for the rest, or pass --force to call past the vendor's documented cap"
            ));
        }
        lines
    }
}

impl Pulled {
    /// The second closing line: where the cache is.
    pub fn cache_line(&self) -> String {
        format!("  cache: {}", self.path.display())
    }
}

/// What the account jobs tell their front.
#[derive(Debug, Clone)]
pub enum AccountEvent {
    /// A pull ended (also the one a screen makes when there is no cache yet).
    Pulled(Pulled),
    /// The cache is partial: rows are flagged only for what it lists.
    Partial {
        /// Plants listed so far.
        plants: usize,
        /// Users listed so far.
        users: usize,
    },
}

/// The cache for this server and token, locked for a pull: where it lives, its lock, and what
/// it holds (an empty cache when there is none yet). The lock is taken before the cache is read,
/// so two pulls never count the day's calls apart.
pub fn open_cache(
    dir: Option<&Path>,
    request: &RequestConfig,
) -> Result<(CacheKey, CacheLock, AccountCache), AccountError> {
    let key = CacheKey::new(dir, &request.base, &request.token)?;
    let lock = key.lock()?;
    let cache = key.load()?.unwrap_or_else(|| key.empty());
    Ok((key, lock, cache))
}

/// `account pull`: lists what the cache lacks (everything again when `refresh`), within the
/// daily cap unless `force`, until done or `cancel`. The caller holds the cache's `lock`. A pull
/// cut short by `cancel` or `--max-runtime` is no error: it tells what it kept and why it
/// stopped ([`Pulled::stopped`]); a stop that says the server or token is wrong is.
pub async fn pull(
    request: &RequestConfig,
    (key, _lock): (&CacheKey, &CacheLock),
    cache: &mut AccountCache,
    refresh: bool,
    force: bool,
    cancel: &CancellationToken,
) -> Result<Pulled, AccountError> {
    let client = request.client()?;
    let mut engine_cfg = request.engine(false);
    engine_cfg.concurrency = 1;
    // A retry is a call like any other against the cap: a failed page ends this pull, and the
    // next pull goes on from it.
    engine_cfg.policy.max_attempts = 1;
    // A 10012 ends the pull instead of pausing it: the engine's events say nothing it needs.
    let engine = Engine::new(client, engine_cfg, Sink::none());
    let watchers = engine.watch(cancel);
    let report = account::pull(&engine, key, cache, refresh, force).await;
    watchers.end().await;
    let refused = report.as_ref().is_ok_and(|r| r.refused_by_server);
    let stop = engine.stop_reason().filter(|_| !refused);
    if let Some(stop) = stop.as_ref().filter(|s| s.exit() == Exit::Fatal) {
        return Err(AccountError::Stopped {
            words: stop.describe_job(Wording::CommandLine, Job::AccountPull),
            stop: stop.clone(),
        });
    }
    let mut pulled = Pulled::new(key, cache, report?);
    pulled.stopped = stop;
    Ok(pulled)
}

/// The account screen for `check` and `run`: the cache, pulled first when there is none.
pub async fn screen(
    dir: Option<&Path>,
    request: &RequestConfig,
    cancel: &CancellationToken,
    events: &Sink<AccountEvent>,
) -> Result<Screen, AccountError> {
    let key = CacheKey::new(dir, &request.base, &request.token)?;
    let cache = match key.load()? {
        Some(cache) if cache.listed_on().is_some() => cache,
        // No cache, or one that never got a page (a first pull cut short): pull it now.
        _ => {
            let lock = key.lock()?;
            // Read again under the lock: a pull that held it may have just filled the cache.
            let mut cache = key.load()?.unwrap_or_else(|| key.empty());
            if cache.listed_on().is_none() {
                let pulled = pull(request, (&key, &lock), &mut cache, false, false, cancel).await?;
                let failed = pulled.report.failed.clone();
                let stopped = pulled.stopped.clone();
                events.emit(AccountEvent::Pulled(pulled));
                if let Some(stop) = stopped {
                    return Err(AccountError::Stopped {
                        words: stop.describe_job(Wording::CommandLine, Job::AccountPull),
                        stop,
                    });
                }
                if let Some(why) = failed {
                    return Err(AccountError::Failed(why));
                }
            }
            cache
        }
    };
    if !cache.complete() {
        events.emit(AccountEvent::Partial {
            plants: cache.plants.len(),
            users: cache.users.len(),
        });
    }
    Ok(Screen::new(cache, REFRESH))
}
