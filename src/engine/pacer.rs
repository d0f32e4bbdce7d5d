//! The account-wide pace: one slot grid shared by every request (retries included), with a
//! burst of one, and its adaptation when first attempts of distinct rows are refused (AIMD that
//! remembers the refused pace and settles below it).
//!
//! Slots are handed out by the scheduler (`schedule.rs`) one period apart on a grid: a slot is
//! the later of the previous slot plus one period and the moment it is asked for, so a sleeper
//! that wakes a little late does not push the later slots back, and idle time is never saved up
//! into a burst.
//!
//! When the API refuses first attempts with 10012, the pace that was refused becomes a ceiling:
//! the pace halves, climbs back quickly to 90 % of the ceiling and stays there; only after a long
//! clean stretch does it probe 5 % higher. A refusal costs a short whole-run pause, never the
//! cooldown.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::units::Rate;

/// Clean answers needed before the pace climbs one step back towards the cap.
const CLEAN_PER_STEP: u32 = 10;
/// Each step adds this share of the target rate.
const STEP_SHARE: f64 = 0.1;
/// The pace never drops below this share of the target.
const FLOOR_SHARE: f64 = 1.0 / 64.0;
/// The pace settles at this share of the lowest refused pace.
const SETTLE_SHARE: f64 = 0.9;
/// Clean answers at the settled pace before the ceiling is probed higher.
const PROBE_CLEAN: u32 = 400;
/// How much each probe raises the ceiling.
const PROBE_STEP: f64 = 1.05;
/// Requests sent at a new pace before a refusal may lower it again. Refusals of single rows
/// (a run started again while its deferred rows still cool down) come one after another at
/// the start of a run; without this, each would halve the pace once more.
const SENDS_BETWEEN_DECREASES: u32 = 20;

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
    /// Grows by one at each refusal; a request remembers the epoch it was sent in, so the 10012
    /// answers of requests already in flight when the pace dropped do not drop it again.
    epoch: u64,
    clean: u32,
    /// Times the account-wide pace was refused.
    pauses: u32,
    /// The pace refused last (lowered by later refusals, raised slowly by probes).
    ceiling: Option<f64>,
    /// The lowest pace ever refused, for the summary's suggested `--rate`.
    lowest_refused: Option<f64>,
    /// Requests sent since the pace was last lowered.
    sent_since_decrease: u32,
}

fn period(per_second: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / per_second)
        .unwrap_or(Duration::from_secs(86_400))
        .max(Duration::from_nanos(1))
}

/// Where the pace stands, for progress and summaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceStatus {
    /// The pace now, in requests per second.
    pub per_second: f64,
    /// When the current whole-run pause ends, if paused.
    pub paused_until: Option<Instant>,
    /// Times the account-wide pace was refused (each a short pause and a slower pace).
    pub pauses: u32,
    /// The lowest pace the API refused, if any.
    pub lowest_refused: Option<f64>,
}

/// The next slot a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// At this moment, on the grid.
    At(Instant),
    /// Not before this moment: the run is paused.
    PausedUntil(Instant),
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
                ceiling: None,
                lowest_refused: None,
                sent_since_decrease: SENDS_BETWEEN_DECREASES,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain numbers behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next slot as of `now`, without taking it.
    pub fn slot(&self, now: Instant) -> Slot {
        let s = self.lock();
        match s.paused_until {
            Some(until) if until > now => Slot::PausedUntil(until),
            _ => Slot::At(s.next.max(now)),
        }
    }

    /// Takes `slot` (from [`Pacer::slot`]); returns the epoch the request is sent in, for
    /// [`Pacer::refused`].
    pub fn take(&self, slot: Instant) -> u64 {
        let mut s = self.lock();
        s.next = slot.max(s.next) + s.period;
        s.sent_since_decrease = s.sent_since_decrease.saturating_add(1);
        s.epoch
    }

    /// Reserves the next slot as of `now`, in one step: the later of the grid's next slot and
    /// `now`, and moves the grid one period on. The grid is advanced before the caller waits, so
    /// a sleeper that wakes a little late does not push the later slots back; and a slot is never
    /// earlier than the moment it is reserved, so idle time (or the time before the first
    /// request) is never saved up into a burst. `Err(until)` while the run is paused. Returns the
    /// slot and the epoch the request is sent in; a caller that sees the epoch change while it
    /// waits (a pause began) drops the slot and reserves again.
    pub fn reserve(&self, now: Instant) -> Result<(Instant, u64), Instant> {
        let mut s = self.lock();
        if let Some(until) = s.paused_until.filter(|u| *u > now) {
            return Err(until);
        }
        let slot = s.next.max(now);
        s.next = slot + s.period;
        s.sent_since_decrease = s.sent_since_decrease.saturating_add(1);
        Ok((slot, s.epoch))
    }

    /// The current epoch (it grows at each pause).
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Takes a slot at `now` if the grid's next slot is due by then (not paused, not in the
    /// future), in one step, so two takers never share a slot. The slot is `now`, never a
    /// grid point already past: a past slot would let the next request follow this one in less
    /// than a period. Returns the epoch, as [`Pacer::take`].
    pub fn try_take(&self, now: Instant) -> Option<u64> {
        let mut s = self.lock();
        if s.paused_until.is_some_and(|u| u > now) || s.next > now {
            return None;
        }
        s.next = now + s.period;
        s.sent_since_decrease = s.sent_since_decrease.saturating_add(1);
        Some(s.epoch)
    }

    /// A first attempt sent in `epoch` was answered 10012: the account-wide pace is too high.
    /// The first such answer of an epoch remembers the pace as refused, halves it and pauses
    /// the run for `pause`; returns the new pace then. Answers of requests already in flight,
    /// and refusals before [`SENDS_BETWEEN_DECREASES`] requests went out at the new pace,
    /// return `None`.
    pub fn refused(&self, epoch: u64, pause: Duration) -> Option<f64> {
        let mut s = self.lock();
        if s.epoch != epoch || s.sent_since_decrease < SENDS_BETWEEN_DECREASES {
            return None;
        }
        s.sent_since_decrease = 0;
        let refused = s.per_second;
        s.ceiling = Some(s.ceiling.map_or(refused, |c| c.min(refused)));
        s.lowest_refused = Some(s.lowest_refused.map_or(refused, |c| c.min(refused)));
        let until = Instant::now() + pause;
        s.epoch += 1;
        s.pauses += 1;
        s.paused_until = Some(until);
        s.per_second = (refused / 2.0).max(self.target * FLOOR_SHARE);
        s.period = period(s.per_second);
        // The schedule starts afresh after the pause: no slot saved up during it.
        s.next = until;
        s.clean = 0;
        Some(s.per_second)
    }

    /// A clean answer (anything but 10012): after enough of them the pace climbs one step
    /// towards 90 % of the refused pace; a long clean stretch there probes the ceiling higher.
    pub fn clean(&self) {
        let mut s = self.lock();
        let cap = s
            .ceiling
            .map_or(self.target, |c| (c * SETTLE_SHARE).min(self.target));
        if s.per_second >= cap {
            let Some(ceiling) = s.ceiling.filter(|c| c * SETTLE_SHARE < self.target) else {
                return;
            };
            s.clean += 1;
            if s.clean >= PROBE_CLEAN {
                s.clean = 0;
                s.ceiling = Some(ceiling * PROBE_STEP);
            }
            return;
        }
        s.clean += 1;
        if s.clean >= CLEAN_PER_STEP {
            s.clean = 0;
            s.per_second = (s.per_second + self.target * STEP_SHARE).min(cap);
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
            lowest_refused: s.lowest_refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_now(p: &Pacer) -> u64 {
        match p.slot(Instant::now()) {
            Slot::At(t) => p.take(t),
            Slot::PausedUntil(_) => panic!("paused"),
        }
    }

    #[test]
    fn a_refusal_halves_once_per_epoch_and_the_pace_settles_below_it() {
        let p = Pacer::new("10/s".parse().unwrap());
        let e = take_now(&p);
        assert_eq!(p.refused(e, Duration::from_millis(50)), Some(5.0));
        // A second in-flight answer from the same epoch does not halve again.
        assert_eq!(p.refused(e, Duration::from_millis(50)), None);
        // Nor does a refusal before enough requests went out at the new pace.
        let later = Instant::now() + Duration::from_millis(60);
        let e2 = p.take(later);
        assert_eq!(p.refused(e2, Duration::ZERO), None);
        let s = p.status();
        assert_eq!(s.pauses, 1);
        assert_eq!(s.lowest_refused, Some(10.0));
        assert!(matches!(p.slot(Instant::now()), Slot::PausedUntil(_)));
        for _ in 0..CLEAN_PER_STEP * 20 {
            p.clean();
        }
        // Climbs back to 90 % of the refused pace, not to the refused pace.
        assert!(
            (p.status().per_second - 9.0).abs() < 1e-9,
            "{:?}",
            p.status()
        );
        // A long clean stretch probes the ceiling higher, slowly.
        for _ in 0..PROBE_CLEAN {
            p.clean();
        }
        for _ in 0..CLEAN_PER_STEP * 2 {
            p.clean();
        }
        let now = p.status().per_second;
        assert!(
            now > 9.0 && now <= 10.0 * PROBE_STEP * SETTLE_SHARE + 1e-9,
            "{now}"
        );
    }

    #[test]
    fn slots_keep_to_the_grid_and_never_burst() {
        let p = Pacer::new("20/s".parse().unwrap());
        let t0 = Instant::now();
        let Slot::At(a) = p.slot(t0) else { panic!() };
        p.take(a);
        let Slot::At(b) = p.slot(t0) else { panic!() };
        p.take(b);
        assert_eq!(b - a, Duration::from_millis(50));
        // Idle time is not saved up: a slot asked for later is never before the asking.
        let later = t0 + Duration::from_secs(3);
        let Slot::At(c) = p.slot(later) else { panic!() };
        assert_eq!(c, later);
    }

    #[test]
    fn a_slot_is_never_earlier_than_its_taking() {
        // The grid starts when the pacer is made; a first request a little later must not take
        // that past grid point, or the second would follow it in less than a period (51
        // requests in the first second at 50/s).
        let t0 = Instant::now();
        let p = Pacer::new("20/s".parse().unwrap());
        let first = t0 + Duration::from_millis(10);
        assert!(p.try_take(first).is_some());
        assert!(p.try_take(first + Duration::from_millis(40)).is_none());
        assert!(p.try_take(first + Duration::from_millis(50)).is_some());
        // Reserving ahead keeps the grid: slots one period apart, however late each is used.
        let (a, _) = p.reserve(first + Duration::from_millis(50)).unwrap();
        let (b, _) = p.reserve(first + Duration::from_millis(50)).unwrap();
        assert_eq!(b - a, Duration::from_millis(50));
        assert!(a >= first + Duration::from_millis(100));
    }

    #[test]
    fn floor_holds() {
        let p = Pacer::new("64/s".parse().unwrap());
        for _ in 0..20 {
            let e = p.lock().epoch;
            p.lock().sent_since_decrease = SENDS_BETWEEN_DECREASES;
            p.refused(e, Duration::ZERO);
        }
        assert!((p.status().per_second - 1.0).abs() < 1e-9);
    }
}
