//! The answer policy: the one place that decides what an answer means (finish, retry, pause,
//! stop), for a row's add and for a plant's listing alike.

use std::time::Duration;

use rand::Rng;

use crate::api::Answer;
use crate::outcome::{
    Outcome, CODE_ALREADY, CODE_LEGACY_DOMAIN, CODE_PERMISSION_DENIED, CODE_THROTTLED,
};

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The row has ended with this outcome.
    Finish(Outcome),
    /// Transient: try again after a backoff (if attempts remain; otherwise `failed`).
    Retry,
    /// The API's frequency limit: the row is deferred by the cooldown; the attempt does not
    /// count.
    Throttled,
    /// A legacy host name (-1): stop the run and name the new domain.
    LegacyDomain,
    /// The token was refused. At the start of a run this stops it; later it is about this
    /// item alone: retried when `retry` (an HTTP 401/403 page), else [`Outcome::Rejected`] (the
    /// API's own 10011).
    Denied {
        /// Retry the item when the run goes on.
        retry: bool,
    },
}

impl Verdict {
    /// What a denial means for the item once the token is known to work.
    pub fn past_the_start(self) -> Verdict {
        match self {
            Verdict::Denied { retry: true } => Verdict::Retry,
            Verdict::Denied { retry: false } => Verdict::Finish(Outcome::Rejected),
            other => other,
        }
    }
}

/// What a final answer to a plant's device listing says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingVerdict {
    /// A page of devices.
    Page,
    /// The plant does not exist (the listing's 10003).
    PlantMissing,
    /// Any other code, or a code that outlasted the retries: the listing cannot be used.
    Refused {
        /// The code.
        code: i64,
    },
    /// Retryable failures without an API answer (timeouts, broken pages) used up the attempts.
    Failed,
}

/// What a final answer to `plant/sn_plant` (where a device sits) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocateVerdict {
    /// The answer names the plant.
    Found,
    /// No plant has the device (10005).
    NoSuchDevice,
    /// Any other code, or a code that outlasted the retries.
    Refused {
        /// The code.
        code: i64,
    },
    /// Retryable failures without an API answer used up the attempts.
    Failed,
}

/// Retry settings, resolved once from the command line.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per row, the first included.
    pub max_attempts: u32,
    /// API codes treated as transient.
    pub retry_codes: Vec<i64>,
    /// Delay before the first retry; doubles with each further one.
    pub backoff_base: Duration,
    /// Longest delay between two attempts.
    pub backoff_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            retry_codes: vec![10001],
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Maps an answer to what happens next. Retry codes win over every other meaning, so a user
    /// can make any code transient.
    pub fn verdict(&self, answer: &Answer) -> Verdict {
        match answer {
            // A proxy or overloaded server can wrap any body in a 5xx (or 408/429): the answer
            // is not the API's word, so it is transient whatever code it carries, except the
            // frequency limit, which pauses the run.
            Answer::Envelope {
                http_status: 408 | 429 | 500..=599,
                code,
                ..
            } if *code != CODE_THROTTLED => Verdict::Retry,
            Answer::Envelope { code, .. } if self.retry_codes.contains(code) => Verdict::Retry,
            Answer::Envelope { code: 0, .. } => Verdict::Finish(Outcome::Registered),
            Answer::Envelope {
                code: CODE_ALREADY, ..
            } => Verdict::Finish(Outcome::AlreadyRegistered),
            Answer::Envelope {
                code: CODE_THROTTLED,
                ..
            } => Verdict::Throttled,
            Answer::Envelope {
                code: CODE_LEGACY_DOMAIN,
                ..
            } => Verdict::LegacyDomain,
            Answer::Envelope {
                code: CODE_PERMISSION_DENIED,
                ..
            } => Verdict::Denied { retry: false },
            Answer::Envelope { .. } => Verdict::Finish(Outcome::Rejected),
            Answer::NotEnvelope {
                http_status: 401 | 403,
                ..
            } => Verdict::Denied { retry: true },
            Answer::NotEnvelope { .. } | Answer::Timeout | Answer::Connection(_) => Verdict::Retry,
        }
    }

    /// What the final answer to a listing call means: on `device/list`, 10003 says the plant
    /// does not exist.
    pub fn listing(&self, answer: &Answer, outcome: Outcome) -> ListingVerdict {
        match answer {
            // Retries used up on an answer the API gave: that answer is the word.
            Answer::Envelope { code, .. } if outcome == Outcome::Failed => {
                ListingVerdict::Refused { code: *code }
            }
            Answer::Envelope { code: 0, .. } => ListingVerdict::Page,
            Answer::Envelope {
                code: CODE_ALREADY, ..
            } => ListingVerdict::PlantMissing,
            Answer::Envelope { code, .. } => ListingVerdict::Refused { code: *code },
            _ => ListingVerdict::Failed,
        }
    }

    /// What the final answer to `plant/sn_plant` means: 10005 says no plant has the device.
    pub fn locating(&self, answer: &Answer, outcome: Outcome) -> LocateVerdict {
        match answer {
            Answer::Envelope { code, .. } if outcome == Outcome::Failed => {
                LocateVerdict::Refused { code: *code }
            }
            Answer::Envelope { code: 0, .. } => LocateVerdict::Found,
            Answer::Envelope {
                code: CODE_NO_SUCH_DEVICE,
                ..
            } => LocateVerdict::NoSuchDevice,
            Answer::Envelope { code, .. } => LocateVerdict::Refused { code: *code },
            _ => LocateVerdict::Failed,
        }
    }

    /// The wait before attempt `next` (2 for the first retry): about `base`, doubling, capped,
    /// with ±25 % jitter so rows failing together do not retry together.
    pub fn backoff(&self, next: u32, rng: &mut impl Rng) -> Duration {
        let doublings = next.saturating_sub(2).min(30);
        let plain = self
            .backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_cap);
        let factor = rng.random_range(0.75..1.25);
        plain.mul_f64(factor).min(self.backoff_cap)
    }
}

/// What one of a run's first answers says about the whole run, whatever it means for its row:
/// when every first answer says the same, the run stops with that diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symptom {
    /// The token was refused (10011, HTTP 401/403).
    Denied,
    /// The server could not be reached (DNS, connection refused, TLS).
    Unreachable,
    /// A web page (a login page, other HTML) where the API's JSON was expected.
    NotApi,
    /// An answer from the API, or a transient failure that says nothing about the setup.
    Fine,
}

/// The [`Symptom`] of an answer.
pub fn symptom(answer: &Answer) -> Symptom {
    match answer {
        Answer::Envelope {
            code: CODE_PERMISSION_DENIED,
            ..
        }
        | Answer::NotEnvelope {
            http_status: 401 | 403,
            ..
        } => Symptom::Denied,
        // A proxy's 5xx page or an overload is transient, not a wrong address.
        Answer::NotEnvelope {
            http_status: 408 | 429 | 500..=599,
            ..
        } => Symptom::Fine,
        // A web page served where the API should answer: a login page (HTTP 200) or a site's
        // "not found". Oversized or cut-off bodies say nothing about the address.
        Answer::NotEnvelope {
            http_status: 200..=299 | 404,
            why,
        } if why.contains(crate::api::HTML_PAGE) => Symptom::NotApi,
        // A redirect (to a login page, a portal, another site): the OpenAPI answers its JSON
        // where it is asked and never redirects, and the client does not follow, so every
        // answer at this address will be the same redirect.
        Answer::NotEnvelope { http_status, .. } if crate::api::is_redirect(*http_status) => {
            Symptom::NotApi
        }
        Answer::Connection(why) if why.starts_with(crate::api::CONNECT_FAILED) => {
            Symptom::Unreachable
        }
        _ => Symptom::Fine,
    }
}

/// The base URL to use instead of a legacy host name that answered -1: server → openapi,
/// server-us → openapi-us, server-cn → openapi-cn (the vendor's own mapping).
pub fn new_domain(base: &url::Url) -> String {
    let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    let region = host
        .strip_suffix(".growatt.com")
        .and_then(|h| h.strip_prefix("server"))
        .unwrap_or("");
    match region {
        "-us" | "-cn" | "-au" => format!("https://openapi{region}.growatt.com"),
        _ => "https://openapi.growatt.com".to_string(),
    }
}

/// Whether an attempt that got `answer` may have been carried out all the same: a timeout, a
/// broken connection or a server error can hide an add the server made.
pub fn may_have_reached(answer: &Answer) -> bool {
    matches!(
        answer,
        Answer::Timeout
            | Answer::Connection(_)
            | Answer::Envelope {
                http_status: 500..=599,
                ..
            }
            | Answer::NotEnvelope {
                http_status: 500..=599,
                ..
            }
    )
}

/// `plant/sn_plant`'s code for a device no plant has.
const CODE_NO_SUCH_DEVICE: i64 = 10005;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn env(code: i64) -> Answer {
        Answer::Envelope {
            http_status: 200,
            code,
            msg: String::new(),
        }
    }

    #[test]
    fn codes_map_to_verdicts() {
        let p = RetryPolicy::default();
        assert_eq!(p.verdict(&env(0)), Verdict::Finish(Outcome::Registered));
        assert_eq!(
            p.verdict(&env(10003)),
            Verdict::Finish(Outcome::AlreadyRegistered)
        );
        assert_eq!(p.verdict(&env(10001)), Verdict::Retry);
        assert_eq!(p.verdict(&env(10012)), Verdict::Throttled);
        assert_eq!(p.verdict(&env(-1)), Verdict::LegacyDomain);
        assert_eq!(p.verdict(&env(10011)), Verdict::Denied { retry: false });
        assert_eq!(
            p.verdict(&env(10011)).past_the_start(),
            Verdict::Finish(Outcome::Rejected)
        );
        for code in [10002, 10004, 10005, 10006, 10007, 10010, 99999] {
            assert_eq!(p.verdict(&env(code)), Verdict::Finish(Outcome::Rejected));
        }
    }

    #[test]
    fn server_errors_are_transient_even_with_an_envelope() {
        let p = RetryPolicy::default();
        let at = |http_status, code| Answer::Envelope {
            http_status,
            code,
            msg: String::new(),
        };
        assert_eq!(p.verdict(&at(502, 0)), Verdict::Retry);
        assert_eq!(p.verdict(&at(503, 10002)), Verdict::Retry);
        assert_eq!(p.verdict(&at(408, 10003)), Verdict::Retry);
        assert_eq!(p.verdict(&at(429, 10012)), Verdict::Throttled);
        assert_eq!(
            p.verdict(&at(200, 10002)),
            Verdict::Finish(Outcome::Rejected)
        );
        assert_eq!(p.verdict(&at(404, 0)), Verdict::Finish(Outcome::Registered));
    }

    #[test]
    fn transport_failures_retry() {
        let p = RetryPolicy::default();
        assert_eq!(p.verdict(&Answer::Timeout), Verdict::Retry);
        assert_eq!(
            p.verdict(&Answer::Connection("reset".into())),
            Verdict::Retry
        );
        let html = |s| Answer::NotEnvelope {
            http_status: s,
            why: "html".into(),
        };
        assert_eq!(p.verdict(&html(502)), Verdict::Retry);
        assert_eq!(p.verdict(&html(429)), Verdict::Retry);
        assert_eq!(p.verdict(&html(408)), Verdict::Retry);
        assert_eq!(p.verdict(&html(200)), Verdict::Retry);
        assert_eq!(p.verdict(&html(403)), Verdict::Denied { retry: true });
        assert_eq!(p.verdict(&html(403)).past_the_start(), Verdict::Retry);
        assert!(may_have_reached(&Answer::Timeout));
        assert!(may_have_reached(&html(502)));
        assert!(!may_have_reached(&html(200)));
    }

    #[test]
    fn symptoms_and_new_domains() {
        let html = |s| Answer::NotEnvelope {
            http_status: s,
            why: format!("HTTP {s}: {} ('<html>')", crate::api::HTML_PAGE),
        };
        assert_eq!(symptom(&env(10011)), Symptom::Denied);
        // A redirect to a login page, with or without its page, is not the API either.
        assert_eq!(symptom(&html(302)), Symptom::NotApi);
        let bare = Answer::NotEnvelope {
            http_status: 303,
            why: "HTTP 303: a redirect to https://sso.example.com/login (not followed); an empty body".into(),
        };
        assert_eq!(symptom(&bare), Symptom::NotApi);
        assert_eq!(bare.redirected_to(), Some("https://sso.example.com/login"));
        assert_eq!(symptom(&html(304)), Symptom::Fine);
        let big = Answer::NotEnvelope {
            http_status: 200,
            why: "HTTP 200 with a body over 64 KiB".into(),
        };
        assert_eq!(symptom(&big), Symptom::Fine);
        assert_eq!(symptom(&html(403)), Symptom::Denied);
        assert_eq!(symptom(&html(200)), Symptom::NotApi);
        assert_eq!(symptom(&html(404)), Symptom::NotApi);
        assert_eq!(symptom(&html(502)), Symptom::Fine);
        assert_eq!(symptom(&env(10001)), Symptom::Fine);
        assert_eq!(symptom(&Answer::Timeout), Symptom::Fine);
        let refused = Answer::Connection(format!("{}: refused", crate::api::CONNECT_FAILED));
        assert_eq!(symptom(&refused), Symptom::Unreachable);
        assert_eq!(
            symptom(&Answer::Connection("the answer broke off".into())),
            Symptom::Fine
        );
        for (legacy, new) in [
            ("https://server.growatt.com/", "https://openapi.growatt.com"),
            (
                "https://server-us.growatt.com",
                "https://openapi-us.growatt.com",
            ),
            (
                "http://server-cn.growatt.com",
                "https://openapi-cn.growatt.com",
            ),
            ("http://127.0.0.1:9", "https://openapi.growatt.com"),
        ] {
            assert_eq!(
                new_domain(&url::Url::parse(legacy).unwrap()),
                new,
                "{legacy}"
            );
        }
    }

    #[test]
    fn custom_retry_codes_win() {
        let p = RetryPolicy {
            retry_codes: vec![10010, 10001],
            ..RetryPolicy::default()
        };
        assert_eq!(p.verdict(&env(10010)), Verdict::Retry);
        let p = RetryPolicy {
            retry_codes: vec![],
            ..RetryPolicy::default()
        };
        assert_eq!(p.verdict(&env(10001)), Verdict::Finish(Outcome::Rejected));
    }

    #[test]
    fn reading_answers_for_listing_and_locating() {
        use {ListingVerdict as L, LocateVerdict as F, Outcome as O};
        let p = RetryPolicy::default();
        // An answer as `device/list` and as `plant/sn_plant` read it.
        let read =
            |answer: Answer, outcome| (p.listing(&answer, outcome), p.locating(&answer, outcome));
        assert_eq!(read(env(0), O::Registered), (L::Page, F::Found));
        assert_eq!(read(Answer::Timeout, O::Failed), (L::Failed, F::Failed));
        // 10003 is a missing plant to the one, 10005 a device on no plant to the other.
        let missing_plant = (L::PlantMissing, F::Refused { code: 10003 });
        assert_eq!(read(env(10003), O::AlreadyRegistered), missing_plant);
        let on_no_plant = (L::Refused { code: 10005 }, F::NoSuchDevice);
        assert_eq!(read(env(10005), O::Rejected), on_no_plant);
        // Any other code is a refusal to both; so is an answer the API gave when retries ran out.
        for (code, outcome) in [
            (10002, O::Rejected),
            (10011, O::Rejected),
            (10001, O::Failed),
        ] {
            let refused = (L::Refused { code }, F::Refused { code });
            assert_eq!(read(env(code), outcome), refused, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let d2 = p.backoff(2, &mut rng).as_secs_f64();
            assert!((0.75..=1.25).contains(&d2), "{d2}");
            let d3 = p.backoff(3, &mut rng).as_secs_f64();
            assert!((1.5..=2.5).contains(&d3), "{d3}");
            let d20 = p.backoff(20, &mut rng).as_secs_f64();
            assert!((45.0..=60.0).contains(&d20), "{d20}");
            assert!(p.backoff(u32::MAX, &mut rng) <= Duration::from_secs(60));
        }
    }
}
