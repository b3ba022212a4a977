//! Object id -> node lookups: an open-addressing hash table of node indices whose keys live
//! in the graph's own id column, so the table costs 4 bytes a slot (6 bytes a node at its
//! load factor of 2/3) and no copy of the 8-byte ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use plateau_graph::U64Column;

const EMPTY: u32 = u32::MAX;

/// Spreads an id (usually an 8-aligned address) over the high bits.
#[inline]
fn mix(id: u64) -> u64 {
    (id ^ (id >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn get(ids: &U64Column, i: u32) -> u64 {
    ids.get(i as usize)
}

pub(crate) struct IdIndex {
    slots: Vec<u32>,
}

impl IdIndex {
    /// Indexes nodes `0..ids.len()` by id; id 0 (null) is never indexed. Returns the index and
    /// how many nodes repeat an id already indexed (the first one wins).
    pub(crate) fn build(ids: &U64Column) -> (IdIndex, u64) {
        let n = ids.len();
        let cap = (n + n / 2).max(16);
        let mut index = IdIndex {
            slots: vec![EMPTY; cap],
        };
        let mut duplicates = 0;
        for node in 0..n as u32 {
            let id = get(ids, node);
            if id == 0 {
                continue;
            }
            let mut slot = index.slot(id);
            loop {
                let s = index.slots[slot];
                if s == EMPTY {
                    index.slots[slot] = node;
                    break;
                }
                if get(ids, s) == id {
                    duplicates += 1;
                    break;
                }
                slot += 1;
                if slot == cap {
                    slot = 0;
                }
            }
        }
        (index, duplicates)
    }

    #[inline]
    fn slot(&self, id: u64) -> usize {
        ((mix(id) as u128 * self.slots.len() as u128) >> 64) as usize
    }

    /// The node with this id.
    #[inline]
    pub(crate) fn get(&self, ids: &U64Column, id: u64) -> Option<u32> {
        if id == 0 {
            return None;
        }
        let cap = self.slots.len();
        let mut slot = self.slot(id);
        loop {
            let s = self.slots[slot];
            if s == EMPTY {
                return None;
            }
            if get(ids, s) == id {
                return Some(s);
            }
            slot += 1;
            if slot == cap {
                slot = 0;
            }
        }
    }
}

/// A fast hasher for integer keys (ids, serials) in the reader's small maps; the standard
/// SipHash costs more than the rest of an instance record's decoding.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        mix(self.0)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(17) ^ n;
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_nothing_else() {
        let ids: U64Column = (0..1000u64).map(|i| 0xfc00_0000 + i * 24).collect();
        let mut with_dup = ids.clone();
        with_dup.push(0xfc00_0000);
        with_dup.push(0);
        let (index, dups) = IdIndex::build(&with_dup);
        assert_eq!(dups, 1);
        for i in 0..1000u32 {
            assert_eq!(index.get(&with_dup, 0xfc00_0000 + i as u64 * 24), Some(i));
        }
        assert_eq!(index.get(&with_dup, 0xfc00_0008), None);
        assert_eq!(index.get(&with_dup, 0), None);
        let wide: U64Column = vec![1 << 40, (1 << 40) + 8].into();
        let (index, _) = IdIndex::build(&wide);
        assert_eq!(index.get(&wide, (1 << 40) + 8), Some(1));
    }
}
