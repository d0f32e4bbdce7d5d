//! The account-wide pace: one slot grid shared by every request (retries included), with a
//! burst of one, and its adaptation when first attempts of distinct rows are refused (AIMD that
//! remembers the refused pace and settles below it).
//!
//! Slots are handed out by the scheduler (`schedule.rs`) one period apart on a grid: a slot is
//! the later of the previous slot plus one period and the moment it is asked for, so a sleeper
//! that wakes a little late does not push the later slots back, and idle time is never saved up
//! into a burst.
//!
//! The grid bounds when a request may start; the moment it actually goes out can be a little
//! later (the hand-over to the row's task, a busy core). A late request followed by an on-time
//! one would put more requests into some one-second window than the rate allows, so a second
//! rule holds at the moment of sending: a request goes out no sooner than one window after the
//! request sent `K` requests before it ([`Pacer::clear_to_send`]), with the window about one
//! second and `K` the requests the pace allows in it.
//!
//! When the API refuses first attempts with 10012, the pace that was refused becomes a ceiling:
//! the pace halves, climbs back quickly to 90 % of the ceiling and stays there; only after a long
//! clean stretch does it probe 5 % higher. A refusal costs a short whole-run pause, never the
//! cooldown.

use std::collections::VecDeque;
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
/// The send window holds at most this many requests (at higher paces it is shorter than a
/// second): the moments kept stay small, and an unpaced run spends nothing on it.
const MAX_IN_WINDOW: usize = 1024;

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
    /// Clean answers in a row at the current pace.
    clean_at_pace: u32,
    /// The highest pace that [`HELD_AFTER`] clean answers in a row were sent at: the suggested
    /// `--rate` is never above it.
    highest_held: Option<f64>,
    /// Requests sent since the pace was last lowered.
    sent_since_decrease: u32,
    /// When the last requests went out, oldest first (at most [`MAX_IN_WINDOW`]).
    sent: VecDeque<Instant>,
}

impl State {
    /// The requests allowed in one send window, and the window: as many requests as the pace
    /// allows in one second (at least one, at most [`MAX_IN_WINDOW`]), and that many periods.
    fn send_window(&self) -> (usize, Duration) {
        let per_window = (Duration::from_secs(1).as_nanos() / self.period.as_nanos().max(1))
            .clamp(1, MAX_IN_WINDOW as u128) as usize;
        (per_window, self.period * per_window as u32)
    }
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
    /// The highest pace the run held without a refusal (for [`HELD_AFTER`] answers), if any.
    pub highest_held: Option<f64>,
}

/// Clean answers in a row at one pace before the run counts that pace as held: enough that a
/// limit with a burst allowance (a bucket of 10) cannot hide a pace above it.
pub const HELD_AFTER: u32 = 50;

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
                clean_at_pace: 0,
                highest_held: None,
                sent_since_decrease: SENDS_BETWEEN_DECREASES,
                sent: VecDeque::new(),
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

    /// A request that holds its slot is about to go out at `now`. `Ok` records it as sent;
    /// `Err(until)` when the request sent `K` requests before would then be less than one send
    /// window ago (it went out late): wait until then and ask again. The moment recorded is the
    /// actual one, so no window of actual sends holds more than `K`; a caller should wait
    /// precisely (the scheduler's `wait_precisely`), since each overshoot delays the requests
    /// `K`, `2K` … after it by as much. On the grid, with nothing late, no request waits.
    pub fn clear_to_send(&self, now: Instant) -> Result<(), Instant> {
        let mut s = self.lock();
        let (per_window, window) = s.send_window();
        while s.sent.len() > per_window {
            s.sent.pop_front();
        }
        if s.sent.len() == per_window {
            if let Some(until) = s.sent.front().map(|first| *first + window) {
                if until > now {
                    return Err(until);
                }
            }
            s.sent.pop_front();
        }
        s.sent.push_back(now);
        Ok(())
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
        s.clean_at_pace = 0;
        // The schedule starts afresh after the pause: no slot saved up during it.
        s.next = until;
        s.clean = 0;
        Some(s.per_second)
    }

    /// A clean answer (anything but 10012): after enough of them the pace climbs one step
    /// towards 90 % of the refused pace; a long clean stretch there probes the ceiling higher.
    pub fn clean(&self) {
        let mut s = self.lock();
        s.clean_at_pace = s.clean_at_pace.saturating_add(1);
        if s.clean_at_pace >= HELD_AFTER {
            let pace = s.per_second;
            s.highest_held = Some(s.highest_held.map_or(pace, |h| h.max(pace)));
        }
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
            s.clean_at_pace = 0;
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
            highest_held: s.highest_held,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pace_counts_as_held_after_enough_clean_answers_at_it() {
        let p = Pacer::new("10/s".parse().unwrap());
        for _ in 0..HELD_AFTER - 1 {
            p.clean();
        }
        assert_eq!(p.status().highest_held, None);
        p.clean();
        assert_eq!(p.status().highest_held, Some(10.0));
        let e = take_now(&p);
        p.refused(e, Duration::from_millis(1));
        assert_eq!(p.status().highest_held, Some(10.0), "held once, kept");
    }

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

    /// How late a precise wait wakes, in microseconds.
    const WAKE_US: u64 = 50;

    /// Sends at `times` (milliseconds from a start), each as soon as it is cleared; returns
    /// when each went out.
    fn send_at(p: &Pacer, t0: Instant, times: &[u64]) -> Vec<Instant> {
        times
            .iter()
            .map(|ms| {
                let mut at = t0 + Duration::from_millis(*ms);
                while let Err(until) = p.clear_to_send(at) {
                    assert!(until > at);
                    // A precise wake-up, a little after the moment waited for.
                    at = until + Duration::from_micros(WAKE_US);
                }
                at
            })
            .collect()
    }

    #[test]
    fn a_late_request_does_not_crowd_a_window() {
        let p = Pacer::new("10/s".parse().unwrap());
        let t0 = Instant::now();
        // On the grid nothing waits.
        let on_grid: Vec<u64> = (0..30).map(|k| k * 100).collect();
        let sent = send_at(&p, t0, &on_grid);
        assert_eq!(sent[29], t0 + Duration::from_millis(2900));
        // The 31st goes out 70 ms late, the next ones on time: the one ten after the late one
        // waits until a second after it.
        let p = Pacer::new("10/s".parse().unwrap());
        let mut times: Vec<u64> = (0..40).map(|k| k * 100).collect();
        times[30] += 70;
        let sent = send_at(&p, t0, &times);
        assert_eq!(sent[31], t0 + Duration::from_millis(3100));
        assert_eq!(sent[40 - 1], t0 + Duration::from_millis(3900));
        assert_eq!(sent[30], t0 + Duration::from_millis(3070));
        let p = Pacer::new("10/s".parse().unwrap());
        let mut times: Vec<u64> = (0..50).map(|k| k * 100).collect();
        times[30] += 70;
        let sent = send_at(&p, t0, &times);
        assert_eq!(
            sent[40],
            t0 + Duration::from_millis(4070) + Duration::from_micros(WAKE_US)
        );
        assert_eq!(sent[41], t0 + Duration::from_millis(4100));
    }

    #[test]
    fn no_window_holds_more_than_the_pace_allows_whatever_is_late() {
        // Grid times with pseudo-random lateness up to 40 ms at 50/s.
        let p = Pacer::new("50/s".parse().unwrap());
        let t0 = Instant::now();
        let mut x: u64 = 12345;
        let times: Vec<u64> = (0..2000)
            .map(|k| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let late = if (x >> 60) == 0 { (x >> 20) % 41 } else { 0 };
                k * 20 + late
            })
            .collect();
        let sent = send_at(&p, t0, &times);
        for (i, a) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|b| **b < *a + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 50,
                "{in_window} requests in the second from send {i}"
            );
        }
        // The pace itself is kept: no request is later than the worst lateness (40 ms) plus one
        // wake-up for each second of the run (a request waits for the one a second before it).
        for (k, at) in sent.iter().enumerate() {
            let grid = t0 + Duration::from_millis(k as u64 * 20);
            let wakes = (k as u64 / 50 + 1) * WAKE_US;
            assert!(
                *at <= grid + Duration::from_micros(40_000 + wakes),
                "request {k} {:?} after its grid point",
                *at - grid
            );
        }
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
