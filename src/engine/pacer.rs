//! Pacing: one schedule shared by every request (retries included), with a burst of one, and the
//! throttle adaptation around it (pause, multiplicative decrease, additive increase).
//!
//! Each request reserves the next start slot on a grid one period apart, then sleeps until it.
//! Slots are reserved before the wait, so a sleeper that wakes a little late does not push the
//! later slots back: the achieved rate stays on the configured one (a limiter that recomputes
//! from the moment a waiter wakes loses that lateness at every request, about 1 % at 50/s). A
//! slot is never earlier than the moment it is reserved, so idle time is never saved up into a
//! burst: the first second, and every one-second window, holds at most the rate (plus the one
//! request a window closed at both ends can hold).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::units::Rate;

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
    /// Time between two starts at the current pace.
    period: Duration,
    /// The next free start slot.
    next: Instant,
    per_second: f64,
    paused_until: Option<Instant>,
    /// Grows by one at each pause; a request remembers the epoch it was sent in, so the 10012
    /// answers of requests already in flight when a pause began do not halve the pace again.
    epoch: u64,
    clean: u32,
    pauses: u32,
}

fn period(per_second: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / per_second)
        .unwrap_or(Duration::from_secs(86_400))
        .max(Duration::from_nanos(1))
}

/// Tokio's timer fires on millisecond ticks.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// Waits until `slot`. The timer would round a wait shorter than its tick up to a whole
/// millisecond, which at high rates (a slot every few microseconds) adds that much latency to
/// every request after a burst of answers; such short waits yield to other tasks instead.
async fn wait_until(slot: Instant) {
    let now = Instant::now();
    if slot <= now {
        return;
    }
    if slot - now >= TIMER_TICK {
        tokio::time::sleep_until(slot.into()).await;
        return;
    }
    while Instant::now() < slot {
        tokio::task::yield_now().await;
    }
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
                period: period(per_second),
                next: Instant::now(),
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
            let (slot, epoch) = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.paused_until {
                    Some(until) if until > now => (Err(until), s.epoch),
                    _ => {
                        let slot = s.next.max(now);
                        s.next = slot + s.period;
                        (Ok(slot), s.epoch)
                    }
                }
            };
            match slot {
                Err(pause_end) => tokio::time::sleep_until(pause_end.into()).await,
                Ok(slot) => {
                    wait_until(slot).await;
                    // A pause that began while this request waited takes precedence.
                    if self.lock().epoch == epoch {
                        return epoch;
                    }
                }
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
        s.period = period(s.per_second);
        // The schedule starts afresh after the pause: no slot saved up during it.
        s.next = until;
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
            s.period = period(s.per_second);
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
    async fn slots_keep_to_the_grid_and_never_burst() {
        let p = Pacer::new("20/s".parse().unwrap());
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..11 {
            p.ready().await;
            starts.push(start.elapsed());
        }
        // The first goes at once, the rest 50 ms apart on the grid, however late each woke.
        assert!(starts[0] < Duration::from_millis(20), "{starts:?}");
        for (k, t) in starts.iter().enumerate().skip(1) {
            assert!(
                *t >= Duration::from_millis(50 * k as u64),
                "{k}: {starts:?}"
            );
        }
        // Idle time is not saved up: after a pause in demand the next start waits its turn.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = Instant::now();
        p.ready().await;
        p.ready().await;
        assert!(before.elapsed() >= Duration::from_millis(45));
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
