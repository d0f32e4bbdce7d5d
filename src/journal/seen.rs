//! The serials a run knows: done in an earlier run, and seen earlier in this input.
//!
//! One compact open-addressing table of 12 bytes a slot (an [`sn_key`](crate::input::sn_key) and
//! a packed row/flags word) serves both duplicate detection and resume, so a million-row fleet
//! needs about 25 MB here instead of two general-purpose maps (more than twice that, with a peak
//! at every resize).

/// The serial is done (registered or already registered in the results file).
const DONE: u32 = 1 << 31;
/// The serial has been seen in this input; the low bits hold its first row.
const SEEN: u32 = 1 << 30;
/// Rows beyond this are stored as this (messages then say "an earlier row").
const ROW_MASK: u32 = SEEN - 1;

/// What the table says about a serial met in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// First time in this input; `done` when an earlier run finished it.
    First {
        /// Finished by an earlier run: skip without a request.
        done: bool,
    },
    /// Already on an earlier row of this input.
    Duplicate {
        /// That row, when it fits the table (rows up to about a billion).
        first_row: Option<u64>,
    },
}

/// The table. Key 0 marks an empty slot: [`sn_key`](crate::input::sn_key) never gives 0 for a
/// non-empty serial.
#[derive(Debug, Clone)]
pub struct Seen {
    keys: Vec<u64>,
    vals: Vec<u32>,
    len: usize,
    done: usize,
}

impl Default for Seen {
    fn default() -> Self {
        Seen::with_slots(1024)
    }
}

impl Seen {
    fn with_slots(slots: usize) -> Seen {
        Seen {
            keys: vec![0; slots],
            vals: vec![0; slots],
            len: 0,
            done: 0,
        }
    }

    /// Serials known.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no serial is known.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Serials marked done.
    pub fn done_count(&self) -> usize {
        self.done
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: u64) -> usize {
        let n = self.keys.len();
        // Fibonacci hashing, then a multiply-shift onto any table size.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = ((u128::from(h) * n as u128) >> 64) as usize;
        loop {
            let k = self.keys[i];
            if k == key || k == 0 {
                return i;
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    fn grow_if_needed(&mut self) {
        // At most 80 % full keeps linear probing short; grow by half to keep the peak small.
        if (self.len + 1) * 5 <= self.keys.len() * 4 {
            return;
        }
        let old_keys = std::mem::take(&mut self.keys);
        let old_vals = std::mem::take(&mut self.vals);
        let slots = old_keys.len() + old_keys.len() / 2;
        self.keys = vec![0; slots];
        self.vals = vec![0; slots];
        for (k, v) in old_keys.into_iter().zip(old_vals) {
            if k != 0 {
                let i = self.slot(k);
                self.keys[i] = k;
                self.vals[i] = v;
            }
        }
    }

    /// Marks a serial done (from the results file of earlier runs).
    pub fn mark_done(&mut self, key: u64) {
        debug_assert_ne!(key, 0);
        self.grow_if_needed();
        let i = self.slot(key);
        if self.keys[i] == 0 {
            self.keys[i] = key;
            self.len += 1;
        }
        if self.vals[i] & DONE == 0 {
            self.vals[i] |= DONE;
            self.done += 1;
        }
    }

    /// Whether a serial is marked done.
    pub fn is_done(&self, key: u64) -> bool {
        let i = self.slot(key);
        self.keys[i] == key && self.vals[i] & DONE != 0
    }

    /// Records that `row` of the input has this serial; says whether it is the first sight.
    pub fn sight(&mut self, key: u64, row: u64) -> Sight {
        debug_assert_ne!(key, 0);
        self.grow_if_needed();
        let i = self.slot(key);
        if self.keys[i] == 0 {
            self.keys[i] = key;
            self.len += 1;
        }
        let v = self.vals[i];
        if v & SEEN != 0 {
            let first = v & ROW_MASK;
            return Sight::Duplicate {
                first_row: (first != ROW_MASK).then_some(u64::from(first)),
            };
        }
        let packed = u32::try_from(row).map_or(ROW_MASK, |r| r.min(ROW_MASK));
        self.vals[i] = (v & DONE) | SEEN | packed;
        Sight::First {
            done: v & DONE != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::sn_key;

    #[test]
    fn first_sight_duplicates_and_done() {
        let mut s = Seen::default();
        s.mark_done(sn_key("DONE1"));
        assert!(s.is_done(sn_key("done1")));
        assert!(!s.is_done(sn_key("NEW1")));
        assert_eq!(s.sight(sn_key("NEW1"), 2), Sight::First { done: false });
        assert_eq!(s.sight(sn_key("done1"), 3), Sight::First { done: true });
        assert_eq!(
            s.sight(sn_key("new1"), 9),
            Sight::Duplicate { first_row: Some(2) }
        );
        assert_eq!(
            s.sight(sn_key("DONE1"), 10),
            Sight::Duplicate { first_row: Some(3) }
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.done_count(), 1);
        s.mark_done(sn_key("DONE1"));
        assert_eq!(s.done_count(), 1);
    }

    #[test]
    fn grows_and_keeps_everything() {
        let mut s = Seen::default();
        for i in 0..100_000u64 {
            if i % 3 == 0 {
                s.mark_done(sn_key(&format!("D{i}")));
            }
        }
        for i in 0..100_000u64 {
            let sight = s.sight(sn_key(&format!("D{i}")), i + 2);
            assert_eq!(sight, Sight::First { done: i % 3 == 0 }, "{i}");
        }
        for i in (0..100_000u64).step_by(7) {
            assert_eq!(
                s.sight(sn_key(&format!("d{i}")), 1),
                Sight::Duplicate {
                    first_row: Some(i + 2)
                }
            );
        }
        assert_eq!(s.len(), 100_000);
        assert!(s.keys.len() * 4 >= s.len() * 5);
    }

    #[test]
    fn huge_row_numbers_saturate() {
        let mut s = Seen::default();
        assert_eq!(s.sight(7, u64::MAX), Sight::First { done: false });
        assert_eq!(s.sight(7, 1), Sight::Duplicate { first_row: None });
    }
}
