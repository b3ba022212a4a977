/// A fixed-size set of indices, one bit each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
    len: usize,
}

impl BitSet {
    /// A set over `0..len` with every bit clear.
    pub fn new(len: usize) -> Self {
        BitSet {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// The bits, 64 to a word, lowest index in the lowest bit.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The set over `0..len` of the indices for which `member` (called once for each, in
    /// increasing order) says yes; built a word at a time.
    pub fn from_fn(len: usize, mut member: impl FnMut(usize) -> bool) -> Self {
        let mut words = Vec::with_capacity(len.div_ceil(64));
        let mut index = 0;
        while index < len {
            let mut word = 0u64;
            for bit in 0..(len - index).min(64) {
                word |= (member(index + bit) as u64) << bit;
            }
            words.push(word);
            index += 64;
        }
        BitSet { words, len }
    }

    /// A set over `0..len` with every bit set.
    pub fn full(len: usize) -> Self {
        let mut set = BitSet {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        if !len.is_multiple_of(64) {
            if let Some(last) = set.words.last_mut() {
                *last = (1u64 << (len % 64)) - 1;
            }
        }
        set
    }

    /// Number of indices the set ranges over.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set ranges over no index at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn contains(&self, index: usize) -> bool {
        self.words[index >> 6] & (1u64 << (index & 63)) != 0
    }

    /// Asks the CPU to bring `index`'s bit into cache (see [`crate::prefetch`]).
    #[inline]
    pub fn prefetch(&self, index: usize) {
        crate::prefetch(&self.words, index >> 6);
    }

    #[inline]
    pub fn insert(&mut self, index: usize) {
        self.words[index >> 6] |= 1u64 << (index & 63);
    }

    #[inline]
    pub fn remove(&mut self, index: usize) {
        self.words[index >> 6] &= !(1u64 << (index & 63));
    }

    /// Sets or clears one bit.
    #[inline]
    pub fn set(&mut self, index: usize, value: bool) {
        if value {
            self.insert(index)
        } else {
            self.remove(index)
        }
    }

    /// Lengthens the set to `len` bits, the new ones clear.
    pub fn grow(&mut self, len: usize) {
        assert!(len >= self.len, "a bit set only grows");
        self.words.resize(len.div_ceil(64), 0);
        self.len = len;
    }

    /// The members, in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(k, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    k * 64 + bit
                })
            })
        })
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::BitSet;

    #[test]
    fn from_fn_asks_for_each_index_once_in_order() {
        for len in [0, 1, 63, 64, 65, 130] {
            let mut asked = Vec::new();
            let set = BitSet::from_fn(len, |i| {
                asked.push(i);
                i % 3 == 0
            });
            assert_eq!(asked, (0..len).collect::<Vec<_>>());
            let mut expected = BitSet::new(len);
            (0..len)
                .filter(|i| i % 3 == 0)
                .for_each(|i| expected.insert(i));
            assert_eq!(set, expected, "len {len}");
        }
    }

    #[test]
    fn full_sets_exactly_len_bits() {
        for len in [0, 1, 63, 64, 65, 130] {
            assert_eq!(BitSet::full(len).count_ones(), len);
        }
    }

    #[test]
    fn insert_remove_round_trip() {
        let mut set = BitSet::new(100);
        set.insert(3);
        set.insert(99);
        assert!(set.contains(3) && set.contains(99) && !set.contains(4));
        set.remove(3);
        assert!(!set.contains(3));
        assert_eq!(set.count_ones(), 1);
    }
}
