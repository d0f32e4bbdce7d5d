//! The open-addressing table behind the run's serial table ([`Seen`](super::Seen)) and the
//! reports' latest line per serial: a `u64` key to a small value, 8 bytes a slot plus the
//! value's own (12 with a `u32`), at most 80 % full and grown by half, so a million keys cost
//! about 15 MB and no general-purpose map's peak at every resize.

/// A table from a `u64` key to a value. Key 0 marks an empty slot; it has a place of its own,
/// so any key can be stored.
#[derive(Debug, Clone)]
pub(crate) struct KeyTable<V> {
    keys: Vec<u64>,
    vals: Vec<V>,
    len: usize,
    zero: Option<V>,
}

impl<V: Copy + Default> KeyTable<V> {
    /// An empty table with room for `slots` keys before its first growth.
    pub fn with_slots(slots: usize) -> KeyTable<V> {
        KeyTable {
            keys: vec![0; slots],
            vals: vec![V::default(); slots],
            len: 0,
            zero: None,
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.len + usize::from(self.zero.is_some())
    }

    /// Slots in all, held or empty.
    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.keys.len()
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: u64) -> usize {
        let n = self.keys.len();
        // Fibonacci hashing, then a multiply-shift onto any table size.
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = ((u128::from(h) * n as u128) >> 64) as usize;
        while self.keys[i] != key && self.keys[i] != 0 {
            i = if i + 1 == n { 0 } else { i + 1 };
        }
        i
    }

    /// The value of `key`, when the table holds it.
    pub fn get(&self, key: u64) -> Option<V> {
        if key == 0 {
            return self.zero;
        }
        let i = self.slot(key);
        (self.keys[i] == key).then(|| self.vals[i])
    }

    /// The value of `key`, made by `make` when there is none.
    pub fn entry(&mut self, key: u64, make: impl FnOnce() -> V) -> &mut V {
        if key == 0 {
            return self.zero.get_or_insert_with(make);
        }
        if (self.len + 1) * 5 > self.keys.len() * 4 {
            self.grow();
        }
        let i = self.slot(key);
        if self.keys[i] != key {
            self.keys[i] = key;
            self.vals[i] = make();
            self.len += 1;
        }
        &mut self.vals[i]
    }

    /// Half as many slots again, every key placed anew.
    fn grow(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        let vals = std::mem::take(&mut self.vals);
        let slots = keys.len() + keys.len() / 2;
        self.keys = vec![0; slots];
        self.vals = vec![V::default(); slots];
        for (k, v) in keys.into_iter().zip(vals) {
            if k != 0 {
                let i = self.slot(k);
                self.keys[i] = k;
                self.vals[i] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_key_through_growth() {
        let mut t = KeyTable::with_slots(1024);
        for k in 0..50_000u64 {
            assert_eq!(*t.entry(k * 7919, || k as u32), k as u32);
        }
        for k in 0..50_000u64 {
            assert_eq!(t.get(k * 7919), Some(k as u32), "{k}");
        }
        assert_eq!(t.get(3), None);
        assert_eq!(*t.entry(0, || 9), 0, "key 0 has its own place");
        assert_eq!(t.len(), 50_000);
        assert!(t.slots() * 4 >= t.len() * 5);
    }
}
