//! What the simulator has seen: the counters of `GET /__sim/stats` and the meter keeping them.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::admission::TokenCheck;
use crate::answer::Answer;

/// What the simulator has seen so far. Served as JSON at `GET /__sim/stats`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every request to a `/v1/` path, whatever it was answered.
    pub requests: u64,
    /// `error_code` answered -> how many times (keys are the code as text, e.g. `"10003"`).
    pub by_code: BTreeMap<String, u64>,
    /// `sn/add` requests per serial, spelled as received (requests without a serial are not counted).
    pub requests_per_sn: BTreeMap<String, u64>,
    /// Every `sn/add` request per serial as received, in arrival order: when it arrived and
    /// the code it was answered (`None` for a page that was not the API's JSON).
    #[serde(default)]
    pub history_per_sn: BTreeMap<String, Vec<SnRequest>>,
    /// `sn/add` requests answered `0`, per serial as received.
    pub adds_per_sn: BTreeMap<String, u64>,
    /// Requests without a `token` header.
    pub missing_token: u64,
    /// Requests whose `token` header did not match.
    pub wrong_token: u64,
    /// Most requests that arrived within any one-second sliding window.
    pub max_in_one_second: u64,
    /// Requests per whole second since the first request (index 0 is the first second).
    pub per_second: Vec<u64>,
    /// Most requests being handled at the same moment.
    pub max_in_flight: u64,
    /// Arrival of the first request, Unix time in milliseconds.
    pub first_request_unix_ms: Option<u64>,
    /// Arrival of the latest request, Unix time in milliseconds.
    pub last_request_unix_ms: Option<u64>,
    /// Requests held back for the hang delay (see [`crate::SimConfig::hang_rate`]).
    #[serde(default)]
    pub hung: u64,
}

/// One `sn/add` request for one serial.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SnRequest {
    /// Arrival, Unix time in milliseconds.
    pub at_unix_ms: u64,
    /// The `error_code` answered, if the answer was the API's JSON.
    pub code: Option<i64>,
}

/// Keeps [`Stats`] up to date as requests arrive and leave.
#[derive(Default)]
pub(crate) struct Meter {
    pub(crate) stats: Stats,
    /// Arrivals within the last second, oldest first.
    window: VecDeque<Instant>,
    first: Option<Instant>,
    in_flight: u64,
}

/// Counts one arrival `since` the first in its second.
fn bump(per_second: &mut Vec<u64>, since: Duration) {
    let second = since.as_secs() as usize;
    if per_second.len() <= second {
        per_second.resize(second + 1, 0);
    }
    per_second[second] += 1;
}

impl Meter {
    /// Count one arriving `/v1/` request.
    pub(crate) fn arrive(&mut self, now: Instant, now_unix_ms: u64) {
        let s = &mut self.stats;
        s.requests += 1;
        s.first_request_unix_ms.get_or_insert(now_unix_ms);
        s.last_request_unix_ms = Some(now_unix_ms);

        // Windows (t - 1s, t]: an arrival exactly one second before another is not in its
        // window. Arrivals are stamped when their bytes reached the socket, so a request whose
        // handler ran late comes in after later ones: it is put in its place, and every window
        // it falls into is counted again.
        const SECOND: Duration = Duration::from_secs(1);
        let newest = self.window.back().copied().map_or(now, |b| b.max(now));
        while self
            .window
            .front()
            .is_some_and(|t| newest.saturating_duration_since(*t) >= 2 * SECOND)
        {
            self.window.pop_front();
        }
        let at = self.window.partition_point(|t| *t <= now);
        self.window.insert(at, now);
        let in_window_ending = |w: &VecDeque<Instant>, end: usize| {
            let t = w[end];
            let start = w.partition_point(|x| t.saturating_duration_since(*x) >= SECOND);
            (end + 1 - start) as u64
        };
        // The seconds count from the earliest arrival. One counted before an earlier one (at
        // the start, two connections' first requests) moves the start back while every arrival
        // is still at hand; the counts are made again from them.
        let first = *self.first.get_or_insert(now);
        if now < first && s.requests == self.window.len() as u64 {
            self.first = Some(now);
            s.per_second.clear();
            for t in &self.window {
                bump(&mut s.per_second, t.saturating_duration_since(now));
            }
        } else {
            bump(&mut s.per_second, now.saturating_duration_since(first));
        }
        // In order (the usual case) only the new arrival's window is new; out of order, the
        // windows of the arrivals after it within a second grow too.
        let mut end = at;
        while end < self.window.len() && self.window[end].saturating_duration_since(now) < SECOND {
            let n = in_window_ending(&self.window, end);
            s.max_in_one_second = s.max_in_one_second.max(n);
            end += 1;
        }
    }

    pub(crate) fn enter(&mut self) {
        self.in_flight += 1;
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.in_flight);
    }

    pub(crate) fn leave(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub(crate) fn token(&mut self, check: TokenCheck) {
        match check {
            TokenCheck::Valid => {}
            TokenCheck::Missing => self.stats.missing_token += 1,
            TokenCheck::Wrong => self.stats.wrong_token += 1,
        }
    }

    pub(crate) fn answered(&mut self, a: Answer) {
        *self.stats.by_code.entry(a.code.to_string()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_and_per_second_counts() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        for ms in [0, 500, 900, 1200, 1300, 1499, 2600, 4100] {
            m.arrive(t0 + Duration::from_millis(ms), 1_000 + ms);
        }
        // (0.499, 1.499] holds 500, 900, 1200, 1300, 1499
        assert_eq!(m.stats.max_in_one_second, 5);
        assert_eq!(m.stats.per_second, vec![3, 3, 1, 0, 1]);
        assert_eq!(m.stats.requests, 8);
        assert_eq!(m.stats.first_request_unix_ms, Some(1_000));
        assert_eq!(m.stats.last_request_unix_ms, Some(5_100));

        // an arrival exactly one second after another is in a new window
        let mut m = Meter::default();
        for ms in [0, 1000, 2000, 3000] {
            m.arrive(t0 + Duration::from_millis(ms), ms);
        }
        assert_eq!(m.stats.max_in_one_second, 1);
    }

    #[test]
    fn arrivals_counted_out_of_order_fall_into_their_own_windows() {
        let t0 = Instant::now() + Duration::from_secs(10);
        // Arrivals every 20 ms with a little jitter; every 37th is counted up to 60 ms late,
        // after arrivals that came later than it (its handler ran late).
        let mut seed: u64 = 7;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let times: Vec<u64> = (0..600).map(|k| k * 20_000 + next() % 3_000).collect();
        let mut counted: Vec<(u64, u64)> = times
            .iter()
            .enumerate()
            .map(|(k, us)| {
                let late = if k % 37 == 0 { 60_000 } else { next() % 500 };
                (us + late, *us)
            })
            .collect();
        counted.sort();
        let mut m = Meter::default();
        for (_, us) in &counted {
            m.arrive(t0 + Duration::from_micros(*us), us / 1000);
        }
        let brute = times
            .iter()
            .map(|t| {
                times
                    .iter()
                    .filter(|x| **x <= *t && t - **x < 1_000_000)
                    .count() as u64
            })
            .max()
            .unwrap();
        assert_eq!(m.stats.max_in_one_second, brute);
        assert_eq!(m.stats.requests, 600);
    }

    #[test]
    fn the_first_second_starts_at_the_earliest_arrival_whatever_the_order() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut m = Meter::default();
        // The second request is counted first; fifty more follow every 20 ms.
        m.arrive(t0 + Duration::from_millis(20), 20);
        m.arrive(t0, 0);
        for k in 2..52 {
            m.arrive(t0 + Duration::from_millis(k * 20), k * 20);
        }
        // [0, 1 s) holds the arrivals at 0 … 980 ms: 50; the one at 1,000 ms opens the next.
        assert_eq!(m.stats.per_second, vec![50, 2]);
    }
}
