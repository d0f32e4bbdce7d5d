//! Pulling the account's plants and end users into the cache, 100 a page, within the vendor's
//! 10 calls a day per listing, saved after every page so that a pull stopped for any reason
//! (the day's calls spent, Ctrl-C, a refusal) goes on from the next page later.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{now_rfc3339, today, AccountCache, CacheError, CacheKey, ListingState, DAILY_CAP};
use super::{MAX_PAGES, PER_PAGE};
use crate::api::Answer;
use crate::engine::{Call, Engine, ListingVerdict, Stop, Verdict};

/// The two listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Plants,
    Users,
}

impl Which {
    fn path(self) -> &'static str {
        match self {
            Which::Plants => "v1/plant/list",
            Which::Users => "v1/user/c_user_list",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Which::Plants => "plants",
            Which::Users => "users",
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    /// Listing calls sent by this pull (plant/list, user/c_user_list).
    pub calls: (u32, u32),
    /// Both listings are complete now.
    pub complete: bool,
    /// Today's calls ran out before a listing was complete (names the listings).
    pub cap_reached: Vec<&'static str>,
    /// A listing could not go on (a refusal or a failure), in words.
    pub failed: Option<String>,
    /// The run stopped (Ctrl-C, --max-runtime, a refused token) before the pull ended.
    pub stopped: bool,
    /// The server refused a listing call as too frequent (10012): its daily cap is likely spent
    /// (by another client, or by pulls this cache does not know of). The pull ended there.
    pub refused_by_server: bool,
}

/// Pulls what the cache still lacks. A listing already complete is read again from page 1 when
/// `refresh` is set (`account pull`), else left alone. Today's calls per endpoint stay within
/// [`DAILY_CAP`] unless `force`.
pub async fn pull(
    engine: &Arc<Engine>,
    key: &CacheKey,
    cache: &mut AccountCache,
    refresh: bool,
    force: bool,
) -> Result<PullReport, CacheError> {
    let mut report = PullReport::default();
    if cache.calls.day != today() {
        cache.calls.day = today();
        cache.calls.plant_list = 0;
        cache.calls.user_list = 0;
    }
    for which in [Which::Plants, Which::Users] {
        let state = listing_state(cache, which);
        if state.complete {
            if !refresh {
                continue;
            }
            state.next_page = 1;
            state.complete = false;
        }
        if state.next_page == 0 {
            state.next_page = 1;
        }
        loop {
            let spent = spent_today(cache, which);
            if *spent >= DAILY_CAP && !force {
                report.cap_reached.push(which.noun());
                break;
            }
            let page = listing_state(cache, which).next_page;
            let query = [
                ("page", page.to_string()),
                ("perpage", PER_PAGE.to_string()),
            ];
            let label = format!("{} page {page}", which.path());
            let before = engine.counters.requests.load(Ordering::Relaxed);
            let refused = AtomicBool::new(false);
            // A listing refused as too frequent is the server's daily cap, not a pace to wait
            // out: stop the pull rather than pause and ask again.
            let call = engine
                .call(&label, || async {
                    let attempt = engine.client.get(which.path(), &query).await;
                    if engine.policy().verdict(&attempt.answer) == Verdict::Throttled {
                        refused.store(true, Ordering::Relaxed);
                        engine.halt(Stop::Throttled);
                    }
                    attempt
                })
                .await;
            let sent = engine.counters.requests.load(Ordering::Relaxed) - before;
            let sent = u32::try_from(sent).unwrap_or(u32::MAX);
            *spent_today(cache, which) = spent_today(cache, which).saturating_add(sent);
            match which {
                Which::Plants => report.calls.0 += sent,
                Which::Users => report.calls.1 += sent,
            }
            let (outcome, attempt) = match call {
                Call::Stopped => {
                    report.refused_by_server = refused.load(Ordering::Relaxed);
                    report.stopped = !report.refused_by_server;
                    key.save(cache)?;
                    return Ok(report);
                }
                Call::Ended {
                    outcome, attempt, ..
                } => (outcome, attempt),
            };
            match engine.policy().listing(&attempt.answer, outcome) {
                ListingVerdict::Page => {}
                ListingVerdict::PlantMissing | ListingVerdict::Refused { .. } => {
                    let (code, msg) = match &attempt.answer {
                        Answer::Envelope { code, msg, .. } => (*code, msg.as_str()),
                        _ => (0, ""),
                    };
                    report.failed = Some(format!(
                        "{} page {page} answered {code} {msg}; pull again later",
                        which.path()
                    ));
                    key.save(cache)?;
                    return Ok(report);
                }
                ListingVerdict::Failed => {
                    report.failed = Some(format!(
                        "{} page {page} failed ({}); pull again later",
                        which.path(),
                        attempt.answer
                    ));
                    key.save(cache)?;
                    return Ok(report);
                }
            }
            let data = attempt.data.unwrap_or_default();
            if page == 1 {
                // A new pass: what it lists replaces the last pass's entries, so plants and users
                // gone from the account leave the cache too.
                match which {
                    Which::Plants => cache.plants.clear(),
                    Which::Users => cache.users.clear(),
                }
            }
            let items = take_page(cache, which, &data);
            let count = data.get("count").and_then(|c| c.as_u64());
            let state = listing_state(cache, which);
            if page == 1 || state.started_at.is_none() {
                state.started_at = Some(now_rfc3339());
            }
            state.pulled_at = Some(now_rfc3339());
            state.count = count.or(state.count);
            let pages = count.map_or(
                if items as u64 >= PER_PAGE {
                    page + 1
                } else {
                    page
                },
                |c| c.div_ceil(PER_PAGE),
            );
            if items == 0 || page >= pages || page >= MAX_PAGES {
                state.complete = true;
                state.next_page = 1;
            } else {
                state.next_page = page + 1;
            }
            let done = state.complete;
            key.save(cache)?;
            if done {
                break;
            }
        }
    }
    report.complete = cache.complete();
    Ok(report)
}

fn listing_state(cache: &mut AccountCache, which: Which) -> &mut ListingState {
    match which {
        Which::Plants => &mut cache.plant_listing,
        Which::Users => &mut cache.user_listing,
    }
}

fn spent_today(cache: &mut AccountCache, which: Which) -> &mut u32 {
    match which {
        Which::Plants => &mut cache.calls.plant_list,
        Which::Users => &mut cache.calls.user_list,
    }
}

/// A JSON number or numeric string as an id.
fn id(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Adds one page's entries to the cache; returns how many the page held.
fn take_page(cache: &mut AccountCache, which: Which, data: &serde_json::Value) -> usize {
    let field = match which {
        Which::Plants => "plants",
        Which::Users => "c_user",
    };
    let items = data
        .get(field)
        .and_then(|d| d.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    for item in items {
        match which {
            Which::Plants => {
                if let Some(plant) = id(item.get("plant_id")) {
                    cache.plants.insert(plant, id(item.get("user_id")));
                }
            }
            Which::Users => {
                if let Some(user) = id(item.get("c_user_id")) {
                    cache.users.insert(user);
                }
            }
        }
    }
    items.len()
}
