//! The serials a run knows: done in an earlier run, and seen earlier in this input.
//!
//! One compact open-addressing table ([`KeyTable`]) of 12 bytes a slot (an
//! [`sn_key`](crate::input::sn_key) and a packed row/flags word) serves both duplicate detection and resume, so a million-row fleet
//! needs about 25 MB here instead of two general-purpose maps (more than twice that, with a peak
//! at every resize).

use super::table::KeyTable;

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

/// The table: per serial ([`sn_key`](crate::input::sn_key)), its [`DONE`] and [`SEEN`] flags
/// and first row, packed in one `u32`.
#[derive(Debug, Clone)]
pub struct Seen {
    table: KeyTable<u32>,
    done: usize,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            table: KeyTable::with_slots(1024),
            done: 0,
        }
    }
}

impl Seen {
    /// Serials known.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no serial is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serials marked done.
    pub fn done_count(&self) -> usize {
        self.done
    }

    /// Marks a serial done (from the results file of earlier runs).
    pub fn mark_done(&mut self, key: u64) {
        debug_assert_ne!(key, 0);
        let v = self.table.entry(key, || 0);
        if *v & DONE == 0 {
            *v |= DONE;
            self.done += 1;
        }
    }

    /// Whether a serial is marked done.
    pub fn is_done(&self, key: u64) -> bool {
        self.table.get(key).is_some_and(|v| v & DONE != 0)
    }

    /// Records that `row` of the input has this serial; says whether it is the first sight.
    pub fn sight(&mut self, key: u64, row: u64) -> Sight {
        debug_assert_ne!(key, 0);
        let v = self.table.entry(key, || 0);
        if *v & SEEN != 0 {
            let first = *v & ROW_MASK;
            return Sight::Duplicate {
                first_row: (first != ROW_MASK).then_some(u64::from(first)),
            };
        }
        let done = *v & DONE != 0;
        let packed = u32::try_from(row).map_or(ROW_MASK, |r| r.min(ROW_MASK));
        *v = (*v & DONE) | SEEN | packed;
        Sight::First { done }
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
        assert!(s.table.slots() * 4 >= s.len() * 5);
    }

    #[test]
    fn huge_row_numbers_saturate() {
        let mut s = Seen::default();
        assert_eq!(s.sight(7, u64::MAX), Sight::First { done: false });
        assert_eq!(s.sight(7, 1), Sight::Duplicate { first_row: None });
    }
}
