//! Admission before the world is consulted: the server's mode, the token, the frequency limits,
//! injected faults.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::answer::{Answer, FREQUENT_ACCESS, LEGACY_DOMAIN, PERMISSION_DENIED, SYSTEM_ERROR};
use crate::limits::Limits;
use crate::named::parse_by_name;

/// What the server in front of the API is, for rehearsing the run's stop diagnoses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerMode {
    /// The OpenAPI itself.
    #[default]
    Api,
    /// A legacy host name (server.growatt.com): every call answers `-1`.
    LegacyDomain,
    /// Another regional server than the token's: every call answers `10011`.
    WrongRegion,
    /// A login page (HTTP 200, HTML) where JSON was expected, as a wrong base URL serves.
    LoginPage,
}

parse_by_name!(
    ServerMode,
    "server mode",
    [
        ("api", ServerMode::Api),
        ("legacy-domain", ServerMode::LegacyDomain),
        ("wrong-region", ServerMode::WrongRegion),
        ("login-page", ServerMode::LoginPage),
    ]
);

/// Outcome of comparing the `token` header with the configured one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid,
    Missing,
    Wrong,
}

fn check_token(expected: &str, headers: &HeaderMap) -> TokenCheck {
    match headers.get("token") {
        None => TokenCheck::Missing,
        Some(v) if v.as_bytes() == expected.as_bytes() => TokenCheck::Valid,
        Some(_) => TokenCheck::Wrong,
    }
}

/// Token bucket: refills at `rate` per second up to `capacity`, one token per request.
#[derive(Clone, Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    fn new(rate: f64) -> TokenBucket {
        if rate.is_nan() || rate <= 0.0 {
            // Nothing ever refills: every request is over the limit.
            return TokenBucket {
                rate: 0.0,
                capacity: 0.0,
                tokens: 0.0,
                last: None,
            };
        }
        let capacity = rate.ceil().max(1.0);
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    fn try_take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Settings the request path reads on every call.
#[derive(Clone, Debug)]
pub(crate) struct Faults {
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
    pub(crate) fail_rate: f64,
    pub(crate) hang_rate: f64,
    pub(crate) hang: Duration,
    pub(crate) fail_first_rate: f64,
    pub(crate) mode: ServerMode,
}

/// The request as admission sees it: who sent what to which endpoint.
pub(crate) struct Request<'a> {
    pub(crate) token: TokenCheck,
    pub(crate) token_value: &'a [u8],
    pub(crate) endpoint: &'a str,
    pub(crate) params: &'a [u8],
}

impl<'a> Request<'a> {
    /// The request as its headers show it, its `token` compared with `expected`.
    pub(crate) fn new(
        expected: &str,
        headers: &'a HeaderMap,
        endpoint: &'a str,
        params: &'a [u8],
    ) -> Request<'a> {
        Request {
            token: check_token(expected, headers),
            token_value: headers.get("token").map_or(&[][..], |v| v.as_bytes()),
            endpoint,
            params,
        }
    }
}

/// What admission decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Answer this at once, without consulting the world.
    Refuse(Answer),
    /// Answer with an HTML login page instead of the API's JSON.
    LoginPage,
    /// Go on to the endpoint's own checks; `hang` says whether to hold the answer back.
    Admit { hang: bool },
}

/// Draw true with probability `p`; out-of-range or NaN probabilities are clamped, never a panic.
fn chance(rng: &mut StdRng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rng.random::<f64>() < p
    }
}

/// Decides admission and draws delays; one seeded generator makes every draw reproducible.
pub(crate) struct Gate {
    bucket: Option<TokenBucket>,
    limits: Limits,
    /// Requests (hashed) seen once, for `fail_first_rate`.
    seen: HashSet<u64>,
    rng: StdRng,
}

impl Gate {
    pub(crate) fn new(throttle_per_sec: Option<f64>, limits: Limits, seed: u64) -> Gate {
        Gate {
            bucket: throttle_per_sec.map(TokenBucket::new),
            limits,
            seen: HashSet::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Admission with only a token to go on (no endpoint or parameters known).
    #[cfg(test)]
    pub(crate) fn admit(&mut self, faults: &Faults, token: TokenCheck, now: Instant) -> Admission {
        let req = Request {
            token,
            token_value: b"",
            endpoint: "",
            params: b"",
        };
        self.admit_request(faults, &req, now)
    }

    pub(crate) fn admit_request(
        &mut self,
        faults: &Faults,
        req: &Request<'_>,
        now: Instant,
    ) -> Admission {
        match faults.mode {
            ServerMode::Api => {}
            ServerMode::LoginPage => return Admission::LoginPage,
            ServerMode::LegacyDomain => return Admission::Refuse(LEGACY_DOMAIN),
            ServerMode::WrongRegion => return Admission::Refuse(PERMISSION_DENIED),
        }
        if req.token != TokenCheck::Valid {
            return Admission::Refuse(PERMISSION_DENIED);
        }
        if let Some(bucket) = &mut self.bucket {
            if !bucket.try_take(now) {
                return Admission::Refuse(FREQUENT_ACCESS);
            }
        }
        if !self
            .limits
            .allow(req.token_value, req.endpoint, req.params, now)
        {
            return Admission::Refuse(FREQUENT_ACCESS);
        }
        if faults.fail_first_rate > 0.0 {
            let mut h = DefaultHasher::new();
            (req.endpoint, req.params).hash(&mut h);
            if self.seen.insert(h.finish()) && chance(&mut self.rng, faults.fail_first_rate) {
                return Admission::Refuse(SYSTEM_ERROR);
            }
        }
        if chance(&mut self.rng, faults.fail_rate) {
            return Admission::Refuse(SYSTEM_ERROR);
        }
        Admission::Admit {
            hang: chance(&mut self.rng, faults.hang_rate),
        }
    }

    /// The delay before answering: `latency` plus a uniform draw in `-jitter..=jitter`.
    pub(crate) fn delay(&mut self, faults: &Faults) -> Duration {
        if faults.jitter.is_zero() {
            return faults.latency;
        }
        let j = faults.jitter.as_secs_f64();
        let secs = (faults.latency.as_secs_f64() + self.rng.random_range(-j..=j)).max(0.0);
        Duration::try_from_secs_f64(secs).unwrap_or(faults.latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(fail_rate: f64, hang_rate: f64) -> Faults {
        Faults {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fail_rate,
            hang_rate,
            hang: Duration::from_secs(60),
            fail_first_rate: 0.0,
            mode: ServerMode::Api,
        }
    }

    fn no_limits() -> Limits {
        Limits::new(
            crate::ThrottleModel::Bucket,
            Duration::ZERO,
            Duration::ZERO,
            None,
        )
    }

    #[test]
    fn admission_refuses_tokens_then_throttle_then_fails() {
        let now = Instant::now();
        let mut gate = Gate::new(Some(1.0), no_limits(), 7);
        let f = faults(0.0, 0.0);
        let refused = Admission::Refuse(PERMISSION_DENIED);
        for (token, want) in [
            (TokenCheck::Missing, refused),
            (TokenCheck::Wrong, refused),
            // refused tokens did not use up the one-request bucket
            (TokenCheck::Valid, Admission::Admit { hang: false }),
            (TokenCheck::Valid, Admission::Refuse(FREQUENT_ACCESS)),
            // a wrong token is reported as such even while throttled
            (TokenCheck::Wrong, refused),
        ] {
            assert_eq!(gate.admit(&f, token, now), want, "{token:?}");
        }
        let later = now + Duration::from_secs(1);
        assert_eq!(
            gate.admit(&faults(1.0, 1.0), TokenCheck::Valid, later),
            Admission::Refuse(SYSTEM_ERROR)
        );
        let mut gate = Gate::new(None, no_limits(), 7);
        assert_eq!(
            gate.admit(&faults(0.0, 1.0), TokenCheck::Valid, now),
            Admission::Admit { hang: true }
        );
        // nonsense probabilities are clamped, not a panic
        assert_eq!(
            gate.admit(&faults(f64::NAN, -3.0), TokenCheck::Valid, now),
            Admission::Admit { hang: false }
        );
    }

    #[test]
    fn fault_draws_are_reproducible_from_the_seed() {
        let draws = |seed| {
            let mut gate = Gate::new(None, no_limits(), seed);
            let now = Instant::now();
            (0..200)
                .map(|_| gate.admit(&faults(0.3, 0.0), TokenCheck::Valid, now))
                .collect::<Vec<_>>()
        };
        let a = draws(42);
        assert_eq!(a, draws(42));
        assert_ne!(a, draws(43));
        let failed = a
            .iter()
            .filter(|x| **x == Admission::Refuse(SYSTEM_ERROR))
            .count();
        assert!((30..=90).contains(&failed), "{failed} of 200 at 30%");
    }

    #[test]
    fn modes_answer_before_the_token_and_fail_first_fails_once() {
        let now = Instant::now();
        let mut gate = Gate::new(None, no_limits(), 7);
        let mut f = faults(0.0, 0.0);
        f.mode = ServerMode::LegacyDomain;
        assert_eq!(
            gate.admit(&f, TokenCheck::Wrong, now),
            Admission::Refuse(LEGACY_DOMAIN)
        );
        f.mode = ServerMode::WrongRegion;
        assert_eq!(
            gate.admit(&f, TokenCheck::Valid, now),
            Admission::Refuse(PERMISSION_DENIED)
        );
        f.mode = ServerMode::LoginPage;
        assert_eq!(gate.admit(&f, TokenCheck::Valid, now), Admission::LoginPage);
        f.mode = ServerMode::Api;
        f.fail_first_rate = 1.0;
        let req = |sn: &'static [u8]| Request {
            token: TokenCheck::Valid,
            token_value: b"t",
            endpoint: "/v1/device/sn/add",
            params: sn,
        };
        assert_eq!(
            gate.admit_request(&f, &req(b"sn=A"), now),
            Admission::Refuse(SYSTEM_ERROR)
        );
        assert_eq!(
            gate.admit_request(&f, &req(b"sn=A"), now),
            Admission::Admit { hang: false }
        );
        assert_eq!(
            gate.admit_request(&f, &req(b"sn=B"), now),
            Admission::Refuse(SYSTEM_ERROR)
        );
        assert_eq!("login-page".parse(), Ok(ServerMode::LoginPage));
        assert!("x".parse::<ServerMode>().is_err());
    }

    #[test]
    fn throttle_with_a_fractional_rate() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = TokenBucket::new(0.5);
        assert!(b.try_take(at(0)), "burst of one");
        assert!(!b.try_take(at(1)));
        assert!(!b.try_take(at(1500)), "only 0.75 tokens after 1.5 s");
        assert!(b.try_take(at(2000)), "a full token after 2 s");
        assert!(!b.try_take(at(2100)));
        // no banking beyond the burst: a long quiet spell still allows just one
        assert!(b.try_take(at(60_000)));
        assert!(!b.try_take(at(60_001)));

        let mut b = TokenBucket::new(2.5);
        let burst = (0..10).filter(|_| b.try_take(at(0))).count();
        assert_eq!(burst, 3, "burst is ceil(2.5)");
        assert!(b.try_take(at(400)), "2.5/s refills one token in 0.4 s");
        assert!(!b.try_take(at(500)));

        let mut b = TokenBucket::new(0.0);
        assert!(!b.try_take(at(0)));
        assert!(!b.try_take(at(100_000)));
    }
}
