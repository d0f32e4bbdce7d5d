//! Pacing: one `governor` limiter shared by every request (retries included), with burst 1, and
//! the throttle adaptation around it (pause, multiplicative decrease, additive increase).

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::Rate;

/// Clean answers needed before the pace climbs one step back towards the target.
const CLEAN_PER_STEP: u32 = 10;
/// Each step adds this share of the target rate.
const STEP_SHARE: f64 = 0.1;
/// The pace never drops below this share of the target.
const FLOOR_SHARE: f64 = 1.0 / 64.0;

/// The shared pace of a run.
pub struct Pacer {
    target: f64,
    state: Mutex<State>,
}

struct State {
    limiter: Arc<DefaultDirectRateLimiter>,
    per_second: f64,
    paused_until: Option<Instant>,
    /// Grows by one at each pause; a request remembers the epoch it was sent in, so the 10012
    /// answers of requests already in flight when a pause began do not halve the pace again.
    epoch: u64,
    clean: u32,
    pauses: u32,
}

fn limiter(per_second: f64) -> Arc<DefaultDirectRateLimiter> {
    let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
    // `with_period` gives a burst of one: the first second never sends double.
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(quota))
}

/// Where the pace stands, for progress and summaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceStatus {
    /// The pace now, in requests per second.
    pub per_second: f64,
    /// When the current pause ends, if paused.
    pub paused_until: Option<Instant>,
    /// Pauses so far.
    pub pauses: u32,
}

impl Pacer {
    /// A pacer at `rate`.
    pub fn new(rate: Rate) -> Pacer {
        let per_second = rate.per_second();
        Pacer {
            target: per_second,
            state: Mutex::new(State {
                limiter: limiter(per_second),
                per_second,
                paused_until: None,
                epoch: 0,
                clean: 0,
                pauses: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain numbers behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a request may start: after any pause, at the pace. Returns the epoch the
    /// request is sent in, for [`Pacer::throttled`].
    pub async fn ready(&self) -> u64 {
        loop {
            let (limiter, paused_until, epoch) = {
                let s = self.lock();
                (s.limiter.clone(), s.paused_until, s.epoch)
            };
            if let Some(until) = paused_until {
                if until > Instant::now() {
                    tokio::time::sleep_until(until.into()).await;
                    continue;
                }
            }
            limiter.until_ready().await;
            if self.lock().epoch == epoch {
                return epoch;
            }
        }
    }

    /// A 10012 answer to a request sent in `epoch`. When it is the first since that epoch began,
    /// starts a pause of `pause`, halves the pace and returns when the pause ends; the answers of
    /// other requests already in flight return `None`.
    pub fn throttled(&self, epoch: u64, pause: Duration) -> Option<Instant> {
        let mut s = self.lock();
        if s.epoch != epoch {
            return None;
        }
        let until = Instant::now() + pause;
        s.epoch += 1;
        s.pauses += 1;
        s.paused_until = Some(until);
        s.per_second = (s.per_second / 2.0).max(self.target * FLOOR_SHARE);
        s.limiter = limiter(s.per_second);
        s.clean = 0;
        Some(until)
    }

    /// A clean answer (anything but 10012): after enough of them the pace climbs one step.
    pub fn clean(&self) {
        let mut s = self.lock();
        if s.per_second >= self.target {
            return;
        }
        s.clean += 1;
        if s.clean >= CLEAN_PER_STEP {
            s.clean = 0;
            s.per_second = (s.per_second + self.target * STEP_SHARE).min(self.target);
            s.limiter = limiter(s.per_second);
        }
    }

    /// The pace now.
    pub fn status(&self) -> PaceStatus {
        let s = self.lock();
        PaceStatus {
            per_second: s.per_second,
            paused_until: s.paused_until.filter(|u| *u > Instant::now()),
            pauses: s.pauses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttle_halves_once_per_pause_and_climbs_back() {
        let p = Pacer::new("10/s".parse().unwrap());
        let e = p.ready().await;
        assert!(p.throttled(e, Duration::from_millis(50)).is_some());
        // A second in-flight answer from the same epoch does not halve again.
        assert!(p.throttled(e, Duration::from_millis(50)).is_none());
        let s = p.status();
        assert_eq!(s.pauses, 1);
        assert!((s.per_second - 5.0).abs() < 1e-9);
        assert!(s.paused_until.is_some());
        let started = Instant::now();
        let e2 = p.ready().await;
        assert!(started.elapsed() >= Duration::from_millis(40));
        assert_eq!(e2, e + 1);
        for _ in 0..CLEAN_PER_STEP * 5 {
            p.clean();
        }
        assert!((p.status().per_second - 10.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn floor_holds() {
        let p = Pacer::new("64/s".parse().unwrap());
        for _ in 0..20 {
            let e = p.lock().epoch;
            p.throttled(e, Duration::ZERO);
        }
        assert!((p.status().per_second - 1.0).abs() < 1e-9);
    }
}
