//! Pulling the account's plants and end users into the cache, 100 a page, within the vendor's
//! 10 calls a day per listing, saved after every page so that a pull stopped for any reason
//! (the day's calls spent, Ctrl-C, a refusal) goes on from the next page later.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{now_rfc3339, today, AccountCache, CacheError, CacheKey, ListingState, DAILY_CAP};
use super::{MAX_PAGES, PER_PAGE};
use crate::api::Answer;
use crate::engine::{Engine, ListingVerdict, Stop, Verdict};

/// The two listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Plants,
    Users,
}

/// What a listing is called: its path, the key of a page's list in the answer's `data`, and
/// one entry and many, in words.
struct Words {
    path: &'static str,
    field: &'static str,
    one: &'static str,
    noun: &'static str,
}

impl Which {
    const fn words(self) -> Words {
        match self {
            Which::Plants => Words {
                path: "v1/plant/list",
                field: "plants",
                one: "plant",
                noun: "plants",
            },
            Which::Users => Words {
                path: "v1/user/c_user_list",
                field: "c_user",
                one: "user",
                noun: "users",
            },
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
    /// Listings that were complete and stay so: their refresh did not complete.
    pub kept_complete: Vec<&'static str>,
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
        // The listing's state changes only when a page comes: a pull that ends before then
        // leaves it as it was (a complete listing stays complete until its new pass lists).
        let page = if state.complete {
            if !refresh {
                continue;
            }
            1
        } else {
            state.next_page.max(1)
        };
        // A refresh of a complete listing that does not complete leaves the complete one as it
        // was: a failed refresh never downgrades what the cache knows.
        let kept = (state.complete && refresh).then(|| Kept::of(cache, which));
        let go_on = pull_listing(engine, key, cache, which, page, force, &mut report).await?;
        if let Some(kept) = kept.filter(|_| !listing_state(cache, which).complete) {
            kept.restore(cache, which);
            key.save(cache)?;
            report.kept_complete.push(which.words().noun);
        }
        if !go_on {
            return Ok(report);
        }
    }
    report.complete = cache.complete();
    Ok(report)
}

/// How many times a transient answer to one listing page is asked again.
const LISTING_RETRIES: u32 = 2;

/// A complete listing as it was before a refresh started: its entries and state.
struct Kept {
    plants: std::collections::BTreeMap<u64, Option<u64>>,
    users: std::collections::BTreeSet<u64>,
    state: super::ListingState,
}

impl Kept {
    fn of(cache: &mut AccountCache, which: Which) -> Kept {
        Kept {
            plants: if which == Which::Plants {
                cache.plants.clone()
            } else {
                Default::default()
            },
            users: if which == Which::Users {
                cache.users.clone()
            } else {
                Default::default()
            },
            state: listing_state(cache, which).clone(),
        }
    }

    fn restore(self, cache: &mut AccountCache, which: Which) {
        match which {
            Which::Plants => cache.plants = self.plants,
            Which::Users => cache.users = self.users,
        }
        *listing_state(cache, which) = self.state;
    }
}

/// Pages through one listing from `page` until it is complete (true) or the pull must end
/// (false: the day's calls, a refusal, a failure, a stop; `report` says which).
async fn pull_listing(
    engine: &Arc<Engine>,
    key: &CacheKey,
    cache: &mut AccountCache,
    which: Which,
    mut page: u64,
    force: bool,
    report: &mut PullReport,
) -> Result<bool, CacheError> {
    let mut tries = 0;
    loop {
        let spent = spent_today(cache, which);
        if *spent >= DAILY_CAP && !force {
            report.cap_reached.push(which.words().noun);
            // The other listing has a day's calls of its own.
            return Ok(true);
        }
        // The call is counted, and the count saved, before it goes out: a pull killed while
        // it is in flight has spent it all the same.
        *spent = spent.saturating_add(1);
        key.save(cache)?;
        let query = [
            ("page", page.to_string()),
            ("perpage", PER_PAGE.to_string()),
        ];
        let label = format!("{} page {page}", which.words().path);
        let before = engine.counters.requests.load(Ordering::Relaxed);
        let refused = AtomicBool::new(false);
        // A listing refused as too frequent is the server's daily cap, not a pace to wait
        // out: stop the pull rather than pause and ask again.
        let call = engine
            .call(&label, || async {
                let attempt = engine.client.get(which.words().path, &query).await;
                if engine.policy().verdict(&attempt.answer) == Verdict::Throttled {
                    refused.store(true, Ordering::Relaxed);
                    engine.halt(Stop::Throttled);
                }
                attempt
            })
            .await;
        let sent = engine.counters.requests.load(Ordering::Relaxed) - before;
        let sent = u32::try_from(sent).unwrap_or(u32::MAX);
        // One was counted already; a call stopped before it went out is not spent.
        let spent = spent_today(cache, which);
        *spent = spent.saturating_sub(1).saturating_add(sent);
        match which {
            Which::Plants => report.calls.0 += sent,
            Which::Users => report.calls.1 += sent,
        }
        let Some((outcome, attempt)) = call.ended() else {
            report.refused_by_server = refused.load(Ordering::Relaxed);
            report.stopped = !report.refused_by_server;
            key.save(cache)?;
            return Ok(false);
        };
        // A transient answer (10001, or no answer within the time limit) is asked again, a few
        // times, while the day's calls allow: each retry is a call like any other. An answer
        // that is not the API's (a page, a redirect, a broken or oversized body) is not: asking
        // again would only spend the day's calls.
        let transient = match &attempt.answer {
            Answer::Envelope { code, .. } => engine.policy().retry_codes.contains(code),
            Answer::Timeout => true,
            _ => false,
        };
        if transient && tries < LISTING_RETRIES && (force || *spent_today(cache, which) < DAILY_CAP)
        {
            tries += 1;
            key.save(cache)?;
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(tries))).await;
            continue;
        }
        tries = 0;
        match engine.policy().listing(&attempt.answer, outcome) {
            ListingVerdict::Page => {}
            ListingVerdict::PlantMissing | ListingVerdict::Refused { .. } => {
                let (code, msg) = match &attempt.answer {
                    Answer::Envelope { code, msg, .. } => (*code, msg.as_str()),
                    _ => (0, ""),
                };
                report.failed = Some(format!(
                    "{} page {page} answered {code} {msg}; pull again later",
                    which.words().path
                ));
                key.save(cache)?;
                return Ok(false);
            }
            ListingVerdict::Failed => {
                report.failed = Some(format!(
                    "{} page {page} failed ({}); pull again later",
                    which.words().path,
                    attempt.answer
                ));
                key.save(cache)?;
                return Ok(false);
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
        let listed = take_page(cache, which, &data);
        let count = id(data.get("count"));
        let state = listing_state(cache, which);
        if page == 1 || state.started_at.is_none() {
            state.started_at = Some(now_rfc3339());
        }
        state.pulled_at = Some(now_rfc3339());
        state.count = count.or(state.count);
        state.complete = false;
        // A page that lists less than it says is never the end of the listing: the cache
        // stays partial and this page is asked for again by the next pull.
        if let Some(short) = short_page(which, page, count, listed) {
            state.next_page = page;
            report.failed = Some(short);
            key.save(cache)?;
            return Ok(false);
        }
        let listed = listed.unwrap_or_default();
        let pages = count.map_or(
            if listed as u64 >= PER_PAGE {
                page + 1
            } else {
                page
            },
            |c| c.div_ceil(PER_PAGE),
        );
        if listed > 0 && page < pages && page < MAX_PAGES {
            state.next_page = page + 1;
            key.save(cache)?;
            page += 1;
            continue;
        }
        // The listing's last page: complete only when it holds all its count says (entries
        // listed twice, or past the API's last page, leave it short).
        state.next_page = 1;
        let held = match which {
            Which::Plants => cache.plants.len(),
            Which::Users => cache.users.len(),
        } as u64;
        if let Some(c) = count.filter(|c| held < *c) {
            report.failed = Some(format!(
                "{} ended at page {page} with {} where its count says {c} (entries listed twice, or more than the API's {MAX_PAGES} pages hold); {PARTIAL}",
                which.words().path,
                crate::text::count(held, which.words().one, which.words().noun),
            ));
            key.save(cache)?;
            return Ok(false);
        }
        listing_state(cache, which).complete = true;
        key.save(cache)?;
        return Ok(true);
    }
}

/// How a message about a listing that is not whole ends.
const PARTIAL: &str =
    "the listing stays partial (rows are not ruled out for what it could not list); pull again later";

/// What is wrong with a page that lists less than it promises, in words: its list is missing
/// (or not a list), or it names fewer entries than its `count` leaves for this page. `listed` is
/// the number of entries with an id, `None` when the page had no list.
fn short_page(
    which: Which,
    page: u64,
    count: Option<u64>,
    listed: Option<usize>,
) -> Option<String> {
    let Words {
        path,
        field,
        one,
        noun,
    } = which.words();
    let keep = PARTIAL;
    let promised = count.map(|c| c.saturating_sub((page - 1) * PER_PAGE).min(PER_PAGE));
    match (listed, promised) {
        (None, Some(c)) if c > 0 => Some(format!(
            "{path} page {page} says the account has {} but lists none of them (the answer has no `{field}` list); {keep}",
            crate::text::count(count.unwrap_or(c), one, noun),
        )),
        (None, _) => Some(format!(
            "{path} page {page} lists no {noun} (the answer has no `{field}` list); {keep}"
        )),
        (Some(n), Some(c)) if (n as u64) < c => Some(format!(
            "{path} page {page} lists {n} {noun} where its count of {} promises {c} on this page; {keep}",
            count.unwrap_or(c)
        )),
        _ => None,
    }
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

/// Adds one page's entries to the cache; returns how many it named with an id, `None` when the
/// page holds no list at all.
fn take_page(cache: &mut AccountCache, which: Which, data: &serde_json::Value) -> Option<usize> {
    let items = data.get(which.words().field)?.as_array()?;
    let mut taken = 0;
    for item in items {
        match which {
            Which::Plants => {
                if let Some(plant) = id(item.get("plant_id")) {
                    cache.plants.insert(plant, id(item.get("user_id")));
                    taken += 1;
                }
            }
            Which::Users => {
                if let Some(user) = id(item.get("c_user_id")) {
                    cache.users.insert(user);
                    taken += 1;
                }
            }
        }
    }
    Some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_short_when_its_list_is_missing_or_holds_less_than_its_count_leaves() {
        let short = |page, count, listed| short_page(Which::Plants, page, count, listed);
        // Honest pages: full ones, the last one's remainder, an empty account.
        assert_eq!(short(1, Some(250), Some(100)), None);
        assert_eq!(short(3, Some(250), Some(50)), None);
        assert_eq!(short(1, Some(0), Some(0)), None);
        assert_eq!(short(1, None, Some(0)), None);
        assert_eq!(short(1, Some(3), Some(5)), None);
        // Lies.
        let missing = short(1, Some(3), None).unwrap();
        assert!(
            missing.contains("says the account has 3 plants but lists none"),
            "{missing}"
        );
        assert!(missing.contains("no `plants` list"), "{missing}");
        assert!(short(1, None, None).unwrap().contains("lists no plants"));
        assert!(short(1, Some(0), None).is_some());
        let few = short(3, Some(250), Some(20)).unwrap();
        assert!(
            few.contains("lists 20 plants where its count of 250 promises 50"),
            "{few}"
        );
        assert!(few.contains("stays partial"), "{few}");
    }
}
