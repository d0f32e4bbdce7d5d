//! The vendor's frequency limits as the simulator can model them, since no source settles which
//! one the real server applies: a global token bucket, a cooldown per identical request, a
//! minimum spacing per endpoint, and daily caps on the listing endpoints.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use crate::named::parse_by_name;

/// Which frequency limit answers `10012`, besides the optional token bucket of
/// [`crate::SimConfig::throttle_per_sec`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ThrottleModel {
    /// Only the global token bucket (when a rate is set).
    #[default]
    Bucket,
    /// The identical request (same token, endpoint and parameters) is refused within
    /// [`crate::SimConfig::cooldown`] of its previous arrival, whatever that one was answered;
    /// a refused request starts the cooldown again.
    Cooldown,
    /// Two requests to the same endpoint must arrive at least [`crate::SimConfig::spacing`]
    /// apart; a refused request does not move the mark.
    Spacing,
}

parse_by_name!(
    ThrottleModel,
    "throttle model",
    [
        ("bucket", ThrottleModel::Bucket),
        ("cooldown", ThrottleModel::Cooldown),
        ("spacing", ThrottleModel::Spacing),
    ]
);

/// The account's plants, a listing endpoint.
pub(crate) const PLANT_LIST: &str = "/v1/plant/list";
/// The account's end users, a listing endpoint.
pub(crate) const USER_LIST: &str = "/v1/user/c_user_list";
/// The listing endpoints the vendor documents as "at most 10 calls a day".
pub(crate) const DAILY_CAPPED: [&str; 2] = [PLANT_LIST, USER_LIST];

/// The limits beyond the bucket, with what they remember.
#[derive(Debug)]
pub(crate) struct Limits {
    model: ThrottleModel,
    cooldown: Duration,
    spacing: Duration,
    daily_cap: Option<u32>,
    /// Identical request (hashed) → its latest arrival.
    last_identical: HashMap<u64, Instant>,
    /// Endpoint → the latest admitted arrival.
    last_on_endpoint: HashMap<String, Instant>,
    /// Endpoint → calls admitted in the current day, and when that day began.
    day: HashMap<String, (u32, Instant)>,
}

/// One day, for the daily caps.
const DAY: Duration = Duration::from_secs(86_400);

impl Limits {
    pub(crate) fn new(
        model: ThrottleModel,
        cooldown: Duration,
        spacing: Duration,
        daily_cap: Option<u32>,
    ) -> Limits {
        Limits {
            model,
            cooldown,
            spacing,
            daily_cap,
            last_identical: HashMap::new(),
            last_on_endpoint: HashMap::new(),
            day: HashMap::new(),
        }
    }

    /// Whether a request to `endpoint` with `params` (the form body or query, as sent) by
    /// `token` arriving `now` is within the limits; false means `10012`.
    pub(crate) fn allow(
        &mut self,
        token: &[u8],
        endpoint: &str,
        params: &[u8],
        now: Instant,
    ) -> bool {
        if self.model == ThrottleModel::Cooldown {
            let mut h = DefaultHasher::new();
            (token, endpoint, params).hash(&mut h);
            let previous = self.last_identical.insert(h.finish(), now);
            if previous.is_some_and(|p| now.saturating_duration_since(p) < self.cooldown) {
                return false;
            }
        }
        if self.model == ThrottleModel::Spacing {
            if let Some(last) = self.last_on_endpoint.get(endpoint) {
                if now.saturating_duration_since(*last) < self.spacing {
                    return false;
                }
            }
            self.last_on_endpoint.insert(endpoint.to_string(), now);
        }
        if let Some(cap) = self.daily_cap.filter(|_| DAILY_CAPPED.contains(&endpoint)) {
            let entry = self.day.entry(endpoint.to_string()).or_insert((0, now));
            if now.saturating_duration_since(entry.1) >= DAY {
                *entry = (0, now);
            }
            if entry.0 >= cap {
                return false;
            }
            entry.0 += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADD: &str = "/v1/device/sn/add";

    /// Limits under `model`, whose cooldown or spacing (whichever it uses) is `gap_ms`.
    fn limits(model: ThrottleModel, gap_ms: u64) -> Limits {
        let gap = Duration::from_millis(gap_ms);
        Limits::new(model, gap, gap, None)
    }

    /// Instants measured in milliseconds from one start.
    fn clock() -> impl Fn(u64) -> Instant {
        let t0 = Instant::now();
        move |ms| t0 + Duration::from_millis(ms)
    }

    #[test]
    fn cooldown_refuses_the_identical_request_only() {
        let at = clock();
        let mut l = limits(ThrottleModel::Cooldown, 5000);
        assert!(l.allow(b"t", ADD, b"sn=A", at(0)));
        assert!(
            l.allow(b"t", ADD, b"sn=B", at(1)),
            "another row is another request"
        );
        assert!(
            l.allow(b"u", ADD, b"sn=A", at(2)),
            "another token is another request"
        );
        assert!(
            !l.allow(b"t", ADD, b"sn=A", at(1000)),
            "identical within the cooldown"
        );
        // the refusal started the cooldown again
        assert!(!l.allow(b"t", ADD, b"sn=A", at(5500)));
        assert!(l.allow(b"t", ADD, b"sn=A", at(10_600)));
    }

    #[test]
    fn spacing_is_per_endpoint() {
        let at = clock();
        let mut l = limits(ThrottleModel::Spacing, 100);
        assert!(l.allow(b"t", ADD, b"sn=A", at(0)));
        assert!(!l.allow(b"t", ADD, b"sn=B", at(50)));
        assert!(
            l.allow(b"t", "/v1/device/list", b"", at(60)),
            "another endpoint"
        );
        assert!(l.allow(b"t", ADD, b"sn=B", at(100)));
        assert!(!l.allow(b"t", ADD, b"sn=C", at(199)));
    }

    #[test]
    fn daily_caps_hold_on_the_listings_only() {
        let t0 = Instant::now();
        let mut l = Limits::new(
            ThrottleModel::Bucket,
            Duration::ZERO,
            Duration::ZERO,
            Some(10),
        );
        for _ in 0..10 {
            assert!(l.allow(b"t", "/v1/plant/list", b"page=1", t0));
        }
        assert!(!l.allow(b"t", "/v1/plant/list", b"page=2", t0));
        assert!(l.allow(b"t", "/v1/user/c_user_list", b"", t0));
        for _ in 0..50 {
            assert!(l.allow(b"t", ADD, b"sn=A", t0));
        }
        assert!(l.allow(b"t", "/v1/plant/list", b"", t0 + DAY));
    }

    #[test]
    fn models_parse() {
        assert_eq!("Cooldown".parse(), Ok(ThrottleModel::Cooldown));
        assert!("gcra".parse::<ThrottleModel>().is_err());
    }
}
