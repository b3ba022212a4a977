/// A column of unsigned integers stored in 4 bytes each until a value needs 8.
///
/// V8 object ids and self sizes always fit in 32 bits; HPROF addresses and a few huge Java
/// arrays do not. Storing 4 bytes per node where that suffices keeps a 14-million-node graph
/// 110 MB smaller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum U64Column {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Default for U64Column {
    fn default() -> Self {
        U64Column::Narrow(Vec::new())
    }
}

impl U64Column {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        U64Column::Narrow(Vec::with_capacity(capacity))
    }

    /// Appends a value, widening the whole column the first time one needs 64 bits.
    #[inline]
    pub fn push(&mut self, value: u64) {
        match self {
            U64Column::Narrow(v) if value <= u32::MAX as u64 => v.push(value as u32),
            U64Column::Wide(v) => v.push(value),
            U64Column::Narrow(_) => self.widen_and_push(value),
        }
    }

    /// Out of line, so that the common push inlines (the heap-dump reader's hottest call).
    #[cold]
    #[inline(never)]
    fn widen_and_push(&mut self, value: u64) {
        if let U64Column::Narrow(v) = self {
            let mut wide: Vec<u64> = Vec::with_capacity(v.capacity().max(v.len() + 1));
            wide.extend(v.iter().map(|&x| x as u64));
            *self = U64Column::Wide(wide);
        }
        if let U64Column::Wide(v) = self {
            v.push(value);
        }
    }

    #[inline]
    pub fn get(&self, index: usize) -> u64 {
        match self {
            U64Column::Narrow(v) => v[index] as u64,
            U64Column::Wide(v) => v[index],
        }
    }

    /// Asks the CPU to bring `index`'s value into cache (see [`crate::prefetch`]).
    #[inline]
    pub fn prefetch(&self, index: usize) {
        match self {
            U64Column::Narrow(v) => crate::prefetch(v, index),
            U64Column::Wide(v) => crate::prefetch(v, index),
        }
    }

    /// Overwrites one value, widening the column if needed.
    pub fn set(&mut self, index: usize, value: u64) {
        match self {
            U64Column::Narrow(v) => match u32::try_from(value) {
                Ok(small) => v[index] = small,
                Err(_) => {
                    let mut wide: Vec<u64> = v.iter().map(|&x| x as u64).collect();
                    wide[index] = value;
                    *self = U64Column::Wide(wide);
                }
            },
            U64Column::Wide(v) => v[index] = value,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            U64Column::Narrow(v) => v.len(),
            U64Column::Wide(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    pub fn sum(&self) -> u64 {
        match self {
            U64Column::Narrow(v) => v.iter().map(|&x| x as u64).sum(),
            U64Column::Wide(v) => v.iter().sum(),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            U64Column::Narrow(v) => v.shrink_to_fit(),
            U64Column::Wide(v) => v.shrink_to_fit(),
        }
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            U64Column::Narrow(v) => v.capacity() * 4,
            U64Column::Wide(v) => v.capacity() * 8,
        }
    }
}

/// Object ids, in 4 bytes each even when they are 64-bit addresses: HPROF ids are the
/// addresses of 8-byte-aligned objects in a heap that usually spans less than 32 GiB, so
/// `(id - base) >> shift` fits 32 bits where the ids themselves do not (a 32-million-object
/// dump above 4 GiB saves 121 MiB). Id 0 (synthetic nodes) stays 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IdColumn {
    Plain(U64Column),
    /// Ids that fit 32 bits.
    Narrow(DeltaColumn),
    /// The value at `i` is 0 for id 0, else `((id - base) >> shift) + 1`.
    Offset {
        base: u64,
        shift: u32,
        values: DeltaColumn,
    },
}

impl IdColumn {
    /// Packs wide ids as offsets when they all fit; narrow columns stay as they are, unless
    /// they hold ids shifted right by `shift` bits, which become offsets in place.
    pub(crate) fn pack(ids: U64Column, shift: u32) -> IdColumn {
        let ids =
            match ids {
                U64Column::Narrow(values) if shift > 0 => {
                    // The least id but 0: zeros wrap to the top (a scan that vectorizes).
                    let least = values.iter().map(|&v| v.wrapping_sub(1)).min();
                    let Some(base) = least.filter(|&m| m != u32::MAX).map(|m| m + 1) else {
                        return IdColumn::Plain(U64Column::Narrow(values));
                    };
                    return IdColumn::Offset {
                        base: (base as u64) << shift,
                        shift,
                        values: DeltaColumn::pack_with(values, |v| {
                            if v == 0 {
                                0
                            } else {
                                v - base + 1
                            }
                        }),
                    };
                }
                U64Column::Wide(values) if shift > 0 => {
                    U64Column::Wide(values.into_iter().map(|v| v << shift).collect())
                }
                ids => ids,
            };
        let wide = match ids {
            U64Column::Narrow(values) => return IdColumn::Narrow(DeltaColumn::pack(values)),
            U64Column::Wide(wide) => wide,
        };
        let nonzero = || wide.iter().copied().filter(|&id| id != 0);
        let (Some(base), Some(max)) = (nonzero().min(), nonzero().max()) else {
            return IdColumn::Plain(U64Column::Wide(wide));
        };
        // The common alignment: every id's distance from the base is a multiple of 2^shift.
        let shift = nonzero()
            .map(|id| (id - base).trailing_zeros())
            .min()
            .unwrap_or(0)
            .min(63);
        if ((max - base) >> shift) >= u32::MAX as u64 {
            return IdColumn::Plain(U64Column::Wide(wide));
        }
        let values = wide
            .iter()
            .map(|&id| {
                if id == 0 {
                    0
                } else {
                    (((id - base) >> shift) + 1) as u32
                }
            })
            .collect();
        IdColumn::Offset {
            base,
            shift,
            values: DeltaColumn::pack(values),
        }
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u64 {
        match self {
            IdColumn::Plain(c) => c.get(index),
            IdColumn::Narrow(values) => values.get(index) as u64,
            IdColumn::Offset {
                base,
                shift,
                values,
            } => match values.get(index) {
                0 => 0,
                v => base + (((v - 1) as u64) << shift),
            },
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            IdColumn::Plain(c) => c.heap_bytes(),
            IdColumn::Narrow(values) | IdColumn::Offset { values, .. } => values.heap_bytes(),
        }
    }
}

/// 32-bit values that mostly climb in small steps (object ids: a heap dump lists objects in
/// address order, V8 numbers them as it meets them) in about 2.25 bytes each: blocks of
/// [`DELTA_BLOCK`] values, each the block's first value plus a 2-byte step from it, and the
/// blocks that do not fit (a jump past a big array, a descent between heap regions) kept
/// whole. A 2 GB dump's 31.8 M ids take 68 MiB instead of 121.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeltaColumn {
    /// Each block's first value.
    firsts: Vec<u32>,
    /// `value - first` of every value of a block that fits, two to a slot (the lower half
    /// the even position; those of blocks kept whole are unused). Written over the values
    /// they come from, front to back: packing allocates no second column, whose fresh pages
    /// cost more than the pass itself on a big heap.
    steps: Vec<u32>,
    /// Per block: where its values start in `whole`, or `NOT_WHOLE`.
    whole_at: Vec<u32>,
    whole: Vec<u32>,
}

const DELTA_BLOCK: usize = 32;
const NOT_WHOLE: u32 = u32::MAX;

impl DeltaColumn {
    pub(crate) fn pack(values: Vec<u32>) -> DeltaColumn {
        Self::pack_with(values, |v| v)
    }

    /// The column of `map` of each value, made in place of `values`.
    pub(crate) fn pack_with(mut values: Vec<u32>, map: impl Fn(u32) -> u32) -> DeltaColumn {
        let len = values.len();
        let blocks = len.div_ceil(DELTA_BLOCK);
        let mut firsts = Vec::with_capacity(blocks);
        let mut whole_at = Vec::with_capacity(blocks);
        let mut whole = Vec::new();
        for block in 0..blocks {
            let at = block * DELTA_BLOCK;
            let end = (at + DELTA_BLOCK).min(len);
            for v in &mut values[at..end] {
                *v = map(*v);
            }
            let first = values[at];
            firsts.push(first);
            let fits = values[at..end]
                .iter()
                .all(|&v| v >= first && v - first <= u16::MAX as u32);
            if fits {
                whole_at.push(NOT_WHOLE);
                // Slot `i / 2` takes values `i` and `i + 1`, both read before it is written
                // (`i / 2 <= i`); a block's slots lie below its values.
                for i in (at..end).step_by(2) {
                    let low = values[i] - first;
                    let high = if i + 1 < end {
                        values[i + 1] - first
                    } else {
                        0
                    };
                    values[i / 2] = low | high << 16;
                }
            } else {
                whole_at.push(whole.len() as u32);
                whole.extend_from_slice(&values[at..end]);
            }
        }
        values.truncate(len.div_ceil(2));
        values.shrink_to_fit();
        let steps = values;
        whole.shrink_to_fit();
        DeltaColumn {
            firsts,
            steps,
            whole_at,
            whole,
        }
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u32 {
        // Out of range panics on the indexing: the last block, whole or not, ends the arrays.
        let block = index / DELTA_BLOCK;
        match self.whole_at[block] {
            NOT_WHOLE => {
                self.firsts[block] + ((self.steps[index / 2] >> (16 * (index & 1))) & 0xffff)
            }
            at => self.whole[at as usize + index % DELTA_BLOCK],
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.firsts.capacity() * 4
            + self.steps.capacity() * 4
            + self.whole_at.capacity() * 4
            + self.whole.capacity() * 4
    }
}

/// Self sizes, one byte each where a dictionary covers them: a Java heap's objects come in
/// a few hundred sizes (one per class, and short arrays), so a 2 GB dump's 32 M sizes take
/// about 33 MB instead of 127 MB (a 1 GB V8 snapshot's, 40 MB less). Sizes beyond 32 bits
/// keep 8 bytes each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SizeColumn {
    Coded(CodedColumn),
    Wide(Vec<u64>),
}

impl SizeColumn {
    pub(crate) fn pack(sizes: U64Column) -> SizeColumn {
        match sizes {
            U64Column::Narrow(v) => SizeColumn::Coded(CodedColumn::pack(v)),
            U64Column::Wide(v) => SizeColumn::Wide(v),
        }
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u64 {
        match self {
            SizeColumn::Coded(c) => c.get(index) as u64,
            SizeColumn::Wide(v) => v[index],
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            SizeColumn::Coded(c) => c.len(),
            SizeColumn::Wide(v) => v.len(),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            SizeColumn::Coded(c) => c.heap_bytes(),
            SizeColumn::Wide(v) => v.capacity() * 8,
        }
    }
}

/// Where each node's stored edges start (`node count + 1` non-decreasing values), in about 2
/// bytes a node instead of 4: a 4-byte base every [`EDGE_BLOCK`] nodes and each node's
/// 2-byte offset from its block's base; the rare offsets past 16 bits (nodes after a huge
/// array in their block) are kept beside. 121 -> 65 MiB on a 2 GB Java heap, under every
/// phase that follows the parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeStarts {
    bases: Vec<u32>,
    offsets: Vec<u16>,
    /// `(node, start)` of each node whose offset is [`FAR`], by node.
    far: Vec<(u32, u32)>,
}

const EDGE_BLOCK_BITS: u32 = 5;
/// Nodes a base covers.
const EDGE_BLOCK: usize = 1 << EDGE_BLOCK_BITS;
/// The offset of a node whose start is kept in [`EdgeStarts::far`].
const FAR: u16 = u16::MAX;

impl EdgeStarts {
    pub fn pack(starts: &[u32]) -> EdgeStarts {
        let mut bases = Vec::with_capacity(starts.len().div_ceil(EDGE_BLOCK));
        let mut offsets = Vec::with_capacity(starts.len());
        let mut far = Vec::new();
        for (i, &start) in starts.iter().enumerate() {
            if i % EDGE_BLOCK == 0 {
                bases.push(start);
            }
            // Non-decreasing within a block, so never below its base.
            match u16::try_from(start - bases[i >> EDGE_BLOCK_BITS]) {
                Ok(offset) if offset != FAR => offsets.push(offset),
                _ => {
                    offsets.push(FAR);
                    far.push((i as u32, start));
                }
            }
        }
        EdgeStarts {
            bases,
            offsets,
            far,
        }
    }

    /// The first edge of node `i` (`i` up to the node count, whose value is the edge count).
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self.offsets[i] {
            FAR => self.far_start(i),
            offset => self.bases[i >> EDGE_BLOCK_BITS] + offset as u32,
        }
    }

    #[cold]
    #[inline(never)]
    fn far_start(&self, i: usize) -> u32 {
        let at = self
            .far
            .binary_search_by_key(&(i as u32), |f| f.0)
            .expect("every far offset is listed");
        self.far[at].1
    }

    /// Node count + 1.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// How many values are at most `e`: one past the node whose edges hold edge `e`.
    pub fn count_at_most(&self, e: u32) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.get(mid) <= e {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// Asks the CPU to bring node `i`'s offset into cache (the bases are 16 times fewer, and
    /// mostly cached already).
    #[inline]
    pub fn prefetch(&self, i: usize) {
        crate::prefetch(&self.offsets, i);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.bases.capacity() * 4 + self.offsets.capacity() * 2 + self.far.capacity() * 8
    }
}

/// Sizes (retained sizes: most objects retain little) in 2 bytes each, counted in units of a
/// power of two that divides them all (that of the self sizes they are sums of: 8 bytes on a
/// Java heap, so values below 512 KiB), the larger ones kept beside by position. 121 -> 61 MiB for a 2 GB Java heap's
/// retained sizes, under the whole summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShortSizes {
    shift: u32,
    /// The value in units, or [`LONG`] for a value kept in `long`.
    short: Vec<u16>,
    /// `(position, value)` of each value too large, by position.
    long: Vec<(u32, u64)>,
    /// `buckets[b]`: the first entry of `long` at position `b << BUCKET_BITS` or beyond.
    buckets: Vec<u32>,
}

const LONG: u16 = u16::MAX;

impl ShortSizes {
    /// The values `value` gives for `0..len`, each a multiple of the lowest set bit of
    /// `divisor` (retained sizes are sums of self sizes: the bitwise or of those will do);
    /// big columns in two halves side by side.
    pub(crate) fn pack(
        len: usize,
        divisor: u64,
        value: impl Fn(usize) -> u64 + Sync,
    ) -> ShortSizes {
        let half = if len < 1 << 20 { len } else { len / 2 };
        let threads = if half < len { 2 } else { 1 };
        let shift = divisor.trailing_zeros().min(32);
        let mut short = vec![0u16; len];
        let (first, second) = short.split_at_mut(half);
        let code = |slots: &mut [u16], from: usize| {
            let mut long = Vec::new();
            for (i, slot) in (from..).zip(slots.iter_mut()) {
                let v = value(i);
                *slot = match u16::try_from(v >> shift) {
                    Ok(units) if units != LONG => units,
                    _ => {
                        long.push((i as u32, v));
                        LONG
                    }
                };
            }
            long
        };
        let (mut long, later) = crate::join(threads, || code(first, 0), || code(second, half));
        long.extend(later);
        long.shrink_to_fit();
        let buckets = bucket_starts(short.len(), &long);
        ShortSizes {
            shift,
            short,
            long,
            buckets,
        }
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u64 {
        match self.short[index] {
            LONG => self.get_long(index),
            units => (units as u64) << self.shift,
        }
    }

    #[cold]
    #[inline(never)]
    fn get_long(&self, index: usize) -> u64 {
        let b = index >> BUCKET_BITS;
        let near = &self.long[self.buckets[b] as usize..self.buckets[b + 1] as usize];
        let at = near
            .binary_search_by_key(&(index as u32), |e| e.0)
            .expect("every long value is listed");
        near[at].1
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.short.capacity() * 2 + self.long.capacity() * 16 + self.buckets.capacity() * 4
    }
}

/// Small integers (edge names: string ids and element indices; node names) in one byte
/// each: a dictionary of the 255 commonest values, sampled, and the others kept beside by
/// position. A Java heap has a few hundred field and class names and mostly short arrays,
/// so a 2 GB dump's 67 M edge names shrink from 268 MB to about 90 MB and its 32 M node
/// names (class names, and the text of 5.6 M Strings) from 127 MB to about 80 MB, node classes
/// to 32 MB. Where the
/// dictionary covers too little (V8's many property names) the values stay 4 bytes each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CodedColumn {
    Plain(Vec<u32>),
    Coded {
        /// A dictionary index, or [`ESCAPE`] for a value kept in `escapes`.
        codes: Vec<u8>,
        dictionary: Vec<u32>,
        /// `(position, value)` of every escaped value, by position.
        escapes: Vec<(u32, u32)>,
        /// `buckets[b]`: the first escape at position `b << BUCKET_BITS` or beyond, so a
        /// lookup searches a few escapes, not millions.
        buckets: Vec<u32>,
    },
}

const BUCKET_BITS: u32 = 8;

/// For a column of `len` values and its values kept beside (`(position, value)`, by
/// position): where each bucket of `1 << BUCKET_BITS` positions starts among them, and one
/// more, so that a lookup searches a few entries, not millions.
fn bucket_starts<T>(len: usize, beside: &[(u32, T)]) -> Vec<u32> {
    let mut buckets = Vec::with_capacity((len >> BUCKET_BITS) + 2);
    let mut at = 0usize;
    for b in 0..(len >> BUCKET_BITS) + 2 {
        while at < beside.len() && (beside[at].0 as usize) < b << BUCKET_BITS {
            at += 1;
        }
        buckets.push(at as u32);
    }
    buckets
}

const ESCAPE: u8 = u8::MAX;
/// Values sampled to choose the dictionary: enough to find the 255 commonest (the last of
/// them is still seen dozens of times), few enough that the sampling, one core's work before
/// the packing splits in two, stays short (1 << 20 took 12-21 ms a column at 2 GB; the
/// columns came out the same size).
const SAMPLE: usize = 1 << 18;
/// Values below this are coded through a table, the others through [`HASHED`] slots.
const DIRECT: usize = 1 << 12;
/// Slots of the open-addressed table of the dictionary's larger values: at most a quarter
/// full, so a probe ends within a slot or two.
const HASHED: usize = 1 << 10;

#[inline]
fn hashed_slot(v: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B9) >> 22) as usize % HASHED
}

/// The dictionary of a [`CodedColumn`] and the tables that code a value.
struct Coder {
    dictionary: Vec<u32>,
    direct: Vec<u8>,
    hashed: Vec<(u32, u8)>,
}

impl Coder {
    /// The 255 commonest of a sample of the values `value` gives for `0..len`.
    fn sample(len: usize, value: impl FnMut(usize) -> u32) -> Coder {
        let step = len.div_ceil(SAMPLE).max(1);
        let mut sample: Vec<u32> = (0..len).step_by(step).map(value).collect();
        sample.sort_unstable();
        let mut runs: Vec<(usize, u32)> = Vec::new();
        for group in sample.chunk_by(|a, b| a == b) {
            runs.push((group.len(), group[0]));
        }
        // Commonest first; ties by value, so the coding is deterministic.
        runs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        runs.truncate(ESCAPE as usize);
        let mut dictionary: Vec<u32> = runs.into_iter().map(|(_, v)| v).collect();
        dictionary.sort_unstable();
        let mut direct = vec![ESCAPE; DIRECT];
        // Larger values through a small open-addressed table (a binary search per value was
        // a third of the packing's time for node names, whose String texts have large ids).
        let mut hashed = vec![(u32::MAX, ESCAPE); HASHED];
        for (code, &v) in dictionary.iter().enumerate() {
            if (v as usize) < DIRECT {
                direct[v as usize] = code as u8;
            } else {
                let mut at = hashed_slot(v);
                while hashed[at].1 != ESCAPE {
                    at = (at + 1) % HASHED;
                }
                hashed[at] = (v, code as u8);
            }
        }
        Coder {
            dictionary,
            direct,
            hashed,
        }
    }

    /// `v`'s code, or [`ESCAPE`].
    #[inline]
    fn code(&self, v: u32) -> u8 {
        if (v as usize) < DIRECT {
            return self.direct[v as usize];
        }
        let mut at = hashed_slot(v);
        loop {
            match self.hashed[at] {
                (key, code) if key == v && code != ESCAPE => return code,
                (_, ESCAPE) => return ESCAPE,
                _ => at = (at + 1) % HASHED,
            }
        }
    }

    /// The column of `codes` and its `escapes` (by position).
    fn finish(self, codes: Vec<u8>, mut escapes: Vec<(u32, u32)>) -> CodedColumn {
        escapes.shrink_to_fit();
        let len = codes.len();
        let buckets = bucket_starts(len, &escapes);
        CodedColumn::Coded {
            codes,
            dictionary: self.dictionary,
            escapes,
            buckets,
        }
    }
}

impl CodedColumn {
    /// Codes `values` when at most one in four falls outside the dictionary (then at most
    /// 3 bytes a value). Coded from the end a chunk at a time, each chunk's values freed as
    /// its codes are written, so the two never coexist whole (41 MiB at the peak of a 2 GB
    /// Java heap's parse).
    pub(crate) fn pack(mut values: Vec<u32>) -> CodedColumn {
        const CHUNK: usize = 1 << 20;
        let len = values.len();
        let coder = Coder::sample(len, |i| values[i]);
        let most_escapes = len / 4;
        // Zeroed, so its pages cost nothing until written.
        let mut codes = vec![0u8; len];
        let mut escapes: Vec<(u32, u32)> = Vec::new();
        let mut end = len;
        while end > 0 {
            let start = end.saturating_sub(CHUNK);
            for (i, &v) in (start..end).zip(&values[start..end]) {
                let code = coder.code(v);
                if code == ESCAPE {
                    escapes.push((i as u32, v));
                }
                codes[i] = code;
            }
            if escapes.len() > most_escapes {
                // Back to plain values: those not freed yet, then the coded ones decoded.
                escapes.sort_unstable_by_key(|e| e.0);
                let mut escaped = escapes.iter().filter(|e| e.0 as usize >= start);
                values.truncate(start);
                values.reserve_exact(len - start);
                for &code in &codes[start..] {
                    values.push(match code {
                        ESCAPE => escaped.next().expect("every escape is listed").1,
                        code => coder.dictionary[code as usize],
                    });
                }
                return CodedColumn::Plain(values);
            }
            values.truncate(start);
            values.shrink_to_fit();
            end = start;
        }
        escapes.sort_unstable_by_key(|e| e.0);
        coder.finish(codes, escapes)
    }

    /// [`pack`](Self::pack) on values from a column of another form, without a 4-byte copy
    /// of it: `make` gives a function from position to value, which is asked for positions
    /// in increasing order (a sample, then a run), so it may keep a cursor. Big columns are
    /// coded in two halves side by side, each with a function of its own.
    pub(crate) fn pack_with<V: FnMut(usize) -> u32>(
        len: usize,
        make: impl Fn() -> V + Sync,
    ) -> CodedColumn {
        let coder = Coder::sample(len, make());
        let half = if len < 1 << 20 { len } else { len / 2 };
        let mut codes = vec![0u8; len];
        let (first, second) = codes.split_at_mut(half);
        let code = |slots: &mut [u8], from: usize| {
            let mut value = make();
            let mut escapes = Vec::new();
            for (i, slot) in (from..).zip(slots.iter_mut()) {
                let v = value(i);
                *slot = coder.code(v);
                if *slot == ESCAPE {
                    escapes.push((i as u32, v));
                }
            }
            escapes
        };
        let threads = if half < len { 2 } else { 1 };
        let (mut escapes, later) = crate::join(threads, || code(first, 0), || code(second, half));
        escapes.extend(later);
        if escapes.len() > len / 4 {
            return CodedColumn::Plain((0..len).map(make()).collect());
        }
        coder.finish(codes, escapes)
    }

    #[inline]
    pub(crate) fn get(&self, index: usize) -> u32 {
        match self {
            CodedColumn::Plain(values) => values[index],
            CodedColumn::Coded {
                codes,
                dictionary,
                escapes,
                buckets,
            } => match codes[index] {
                ESCAPE => {
                    let b = index >> BUCKET_BITS;
                    let near = &escapes[buckets[b] as usize..buckets[b + 1] as usize];
                    let at = near
                        .binary_search_by_key(&(index as u32), |e| e.0)
                        .expect("every escaped position is listed");
                    near[at].1
                }
                code => dictionary[code as usize],
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            CodedColumn::Plain(values) => values.len(),
            CodedColumn::Coded { codes, .. } => codes.len(),
        }
    }

    /// The first position whose value fails `ok`, positions `exempt` says may hold anything
    /// aside. A scan of the codes with `ok` decided once a code: where [`get`](Self::get) on
    /// each position would look every escape up.
    pub(crate) fn first_failing(
        &self,
        ok: impl Fn(u32) -> bool,
        exempt: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        match self {
            CodedColumn::Plain(values) => (0..values.len()).find(|&i| !ok(values[i]) && !exempt(i)),
            CodedColumn::Coded {
                codes,
                dictionary,
                escapes,
                ..
            } => {
                let mut ok_code = [false; 256];
                for (slot, &value) in ok_code.iter_mut().zip(dictionary) {
                    *slot = ok(value);
                }
                // The escape code is never "ok" here: chunks of codes all ok are passed over
                // by a scan without branches, the others (few) looked at one by one.
                ok_code[ESCAPE as usize] = false;
                const CHUNK: usize = 64;
                for (k, chunk) in codes.chunks(CHUNK).enumerate() {
                    if chunk
                        .iter()
                        .fold(true, |all, &code| all & ok_code[code as usize])
                    {
                        continue;
                    }
                    let from = k * CHUNK;
                    let mut escaped = escapes.partition_point(|e| (e.0 as usize) < from);
                    for (i, &code) in (from..).zip(chunk) {
                        let fine = match code {
                            ESCAPE => {
                                escaped += 1;
                                ok(escapes[escaped - 1].1)
                            }
                            code => ok_code[code as usize],
                        };
                        if !fine && !exempt(i) {
                            return Some(i);
                        }
                    }
                }
                None
            }
        }
    }

    /// The column with the values at `dropped` positions left out and each `(position,
    /// value)` of `inserted` put in before the value at that position (or at the end), both
    /// sorted by position, inserts in their order. Copies runs of codes between the edits, so
    /// a few edits among millions of values cost about a copy of the codes.
    pub(crate) fn edited(self, dropped: &[u32], inserted: &[(u32, u32)]) -> CodedColumn {
        let CodedColumn::Coded {
            codes,
            dictionary,
            escapes,
            ..
        } = self
        else {
            let CodedColumn::Plain(values) = self else {
                unreachable!()
            };
            return CodedColumn::Plain(edit_runs(&values, dropped, inserted));
        };
        let len = codes.len() - dropped.len() + inserted.len();
        let mut out_codes: Vec<u8> = Vec::with_capacity(len);
        let mut out_escapes: Vec<(u32, u32)> = Vec::with_capacity(escapes.len() + inserted.len());
        let mut pending = escapes.iter().peekable();
        let code_of = |v: u32| dictionary.binary_search(&v).map_or(ESCAPE, |c| c as u8);
        // Copies old positions `from..to`, moving their escapes along (or, with `keep`
        // false, passes over them).
        let mut copy = |from: usize,
                        to: usize,
                        keep: bool,
                        out_codes: &mut Vec<u8>,
                        out_escapes: &mut Vec<(u32, u32)>| {
            let shift = out_codes.len() as i64 - from as i64;
            if keep {
                out_codes.extend_from_slice(&codes[from..to]);
            }
            while let Some(&&(at, value)) = pending.peek() {
                if at as usize >= to {
                    break;
                }
                pending.next();
                if keep && at as usize >= from {
                    out_escapes.push(((at as i64 + shift) as u32, value));
                }
            }
        };
        let (mut at, mut d, mut i) = (0usize, 0usize, 0usize);
        loop {
            let next_drop = dropped.get(d).map_or(usize::MAX, |&p| p as usize);
            let next_insert = inserted.get(i).map_or(usize::MAX, |&(p, _)| p as usize);
            let next = next_drop.min(next_insert).min(codes.len());
            copy(at, next, true, &mut out_codes, &mut out_escapes);
            at = next;
            if next_insert == at {
                let value = inserted[i].1;
                let code = code_of(value);
                if code == ESCAPE {
                    out_escapes.push((out_codes.len() as u32, value));
                }
                out_codes.push(code);
                i += 1;
            } else if next_drop == at && at < codes.len() {
                copy(at, at + 1, false, &mut out_codes, &mut out_escapes);
                at += 1;
                d += 1;
            } else {
                break;
            }
        }
        out_escapes.sort_unstable_by_key(|e| e.0);
        let buckets = bucket_starts(out_codes.len(), &out_escapes);
        CodedColumn::Coded {
            codes: out_codes,
            dictionary,
            escapes: out_escapes,
            buckets,
        }
    }

    /// Appends a value: its code when the dictionary has it, else an escape.
    pub(crate) fn push(&mut self, value: u32) {
        match self {
            CodedColumn::Plain(values) => values.push(value),
            CodedColumn::Coded {
                codes,
                dictionary,
                escapes,
                buckets,
            } => {
                let at = codes.len();
                match dictionary.binary_search(&value) {
                    Ok(code) => codes.push(code as u8),
                    Err(_) => {
                        codes.push(ESCAPE);
                        escapes.push((at as u32, value));
                    }
                }
                // Every bucket that starts past this position starts after its escapes.
                let next = (at >> BUCKET_BITS) + 1;
                if buckets.len() < next + 1 {
                    buckets.resize(next + 1, 0);
                }
                for start in &mut buckets[next..] {
                    *start = escapes.len() as u32;
                }
            }
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            CodedColumn::Plain(values) => values.capacity() * 4,
            CodedColumn::Coded {
                codes,
                dictionary,
                escapes,
                buckets,
            } => {
                codes.capacity()
                    + dictionary.capacity() * 4
                    + escapes.capacity() * 8
                    + buckets.capacity() * 4
            }
        }
    }
}

/// A column of names (string ids, or indices for element edges) as a reader hands it to
/// [`GraphParts`](crate::GraphParts): as it is, for [`HeapGraph::from_parts`](crate::HeapGraph::from_parts)
/// to pack beside its other columns, or packed already (one byte a value through a sampled
/// dictionary, the others kept beside), which a reader does as soon as the names are final so
/// that 4 bytes a value never meet its later peaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameColumn(Names);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Names {
    Unpacked(Vec<u32>),
    Packed(CodedColumn),
}

impl Default for NameColumn {
    fn default() -> Self {
        NameColumn(Names::Unpacked(Vec::new()))
    }
}

impl From<Vec<u32>> for NameColumn {
    fn from(values: Vec<u32>) -> Self {
        NameColumn(Names::Unpacked(values))
    }
}

impl NameColumn {
    /// The values for `0..len` packed, from a column of another form without a 4-byte copy
    /// of it: `make` gives a function from position to value, asked for positions in
    /// increasing order (see `CodedColumn::pack_with`).
    pub fn pack_with<V: FnMut(usize) -> u32>(
        len: usize,
        make: impl Fn() -> V + Sync,
    ) -> NameColumn {
        NameColumn(Names::Packed(CodedColumn::pack_with(len, make)))
    }

    /// The column packed (a no-op when it is).
    pub fn pack(self) -> NameColumn {
        match self.0 {
            Names::Unpacked(values) => NameColumn(Names::Packed(CodedColumn::pack(values))),
            packed => NameColumn(packed),
        }
    }

    #[inline]
    pub fn get(&self, index: usize) -> u32 {
        match &self.0 {
            Names::Unpacked(values) => values[index],
            Names::Packed(column) => column.get(index),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Names::Unpacked(values) => values.len(),
            Names::Packed(column) => column.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first position whose value fails `ok`, positions `exempt` says may hold anything
    /// aside (a scan: faster than [`get`](Self::get) on each position).
    pub fn first_failing(
        &self,
        ok: impl Fn(u32) -> bool,
        exempt: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        match &self.0 {
            Names::Unpacked(values) => (0..values.len()).find(|&i| !ok(values[i]) && !exempt(i)),
            Names::Packed(column) => column.first_failing(ok, exempt),
        }
    }

    /// The column with the values at `dropped` positions left out and each `(position,
    /// value)` of `inserted` put in before the value at that position (or at the end), both
    /// sorted by position, inserts in their order: a reader's edits to its edge list, made
    /// on names already packed.
    pub fn edited(self, dropped: &[u32], inserted: &[(u32, u32)]) -> NameColumn {
        NameColumn(match self.0 {
            Names::Unpacked(values) => Names::Unpacked(edit_runs(&values, dropped, inserted)),
            Names::Packed(column) => Names::Packed(column.edited(dropped, inserted)),
        })
    }

    pub fn push(&mut self, value: u32) {
        match &mut self.0 {
            Names::Unpacked(values) => values.push(value),
            Names::Packed(column) => column.push(value),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match &mut self.0 {
            Names::Unpacked(values) | Names::Packed(CodedColumn::Plain(values)) => {
                values.shrink_to_fit()
            }
            Names::Packed(CodedColumn::Coded {
                codes,
                escapes,
                buckets,
                ..
            }) => {
                codes.shrink_to_fit();
                escapes.shrink_to_fit();
                buckets.shrink_to_fit();
            }
        }
    }

    /// The packed column.
    pub(crate) fn into_coded(self) -> CodedColumn {
        match self.0 {
            Names::Unpacked(values) => CodedColumn::pack(values),
            Names::Packed(column) => column,
        }
    }
}

/// [`NameColumn::edited`] on plain values.
fn edit_runs(values: &[u32], dropped: &[u32], inserted: &[(u32, u32)]) -> Vec<u32> {
    let mut out = Vec::with_capacity(values.len() - dropped.len() + inserted.len());
    let mut ins = inserted.iter().peekable();
    let mut drops = dropped.iter().peekable();
    for (p, &value) in values.iter().enumerate() {
        while let Some(&(_, v)) = ins.next_if(|&&(at, _)| at as usize == p) {
            out.push(v);
        }
        if drops.next_if(|&&at| at as usize == p).is_none() {
            out.push(value);
        }
    }
    out.extend(ins.map(|&(_, v)| v));
    out
}

impl From<Vec<u64>> for U64Column {
    fn from(values: Vec<u64>) -> Self {
        let mut column = U64Column::with_capacity(values.len());
        for v in values {
            column.push(v);
        }
        column
    }
}

impl FromIterator<u64> for U64Column {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut column = U64Column::new();
        for v in iter {
            column.push(v);
        }
        column
    }
}

#[cfg(test)]
mod tests {
    use super::{
        CodedColumn, DeltaColumn, EdgeStarts, IdColumn, NameColumn, ShortSizes, SizeColumn,
        U64Column, DELTA_BLOCK,
    };

    #[test]
    fn packing_from_the_end_gives_back_every_value() {
        let mut next = crate::xorshift(5);
        let small = |n: usize, next: &mut dyn FnMut() -> u64| -> Vec<u32> {
            (0..n).map(|_| (next() % 50) as u32).collect()
        };
        let large = |n: usize, next: &mut dyn FnMut() -> u64| -> Vec<u32> {
            (0..n)
                .map(|_| 1_000_000 + (next() % 1_000_000) as u32)
                .collect()
        };
        // Coded (a few escapes), too many escapes found in the first chunk coded (the last),
        // and found only in the last chunk coded (the first), after others were freed.
        let mut mostly_small = small(2_500_000, &mut next);
        for i in (0..mostly_small.len()).step_by(97) {
            mostly_small[i] = 5_000_000 + i as u32;
        }
        let late_escapes = [small(2_000_000, &mut next), large(1_000_000, &mut next)].concat();
        let early_escapes = [large(1_000_000, &mut next), small(2_000_000, &mut next)].concat();
        for (values, coded) in [
            (mostly_small, true),
            (late_escapes, false),
            (early_escapes, false),
        ] {
            let packed = CodedColumn::pack(values.clone());
            // The same through `pack_with`, in two halves, with a function that keeps a
            // cursor (asked for positions in increasing order only).
            let with = CodedColumn::pack_with(values.len(), || {
                let mut last: Option<usize> = None;
                let values = &values;
                move |i: usize| {
                    assert!(last.is_none_or(|l| l < i), "positions in increasing order");
                    last = Some(i);
                    values[i]
                }
            });
            assert_eq!(packed, with);
            assert_eq!(matches!(packed, CodedColumn::Coded { .. }), coded);
            assert_eq!(packed.len(), values.len());
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(packed.get(i), v, "position {i}");
            }
        }
    }

    /// `len` random values: nine in ten below `small` (in the dictionary), the others from
    /// `rare` up (beyond it: escaped).
    fn mostly_coded(seed: u64, len: usize, small: u64, rare: u32, span: u64) -> Vec<u32> {
        let mut next = crate::xorshift(seed);
        (0..len)
            .map(|_| match next() % 10 {
                0 => rare + (next() % span) as u32,
                _ => (next() % small) as u32,
            })
            .collect()
    }

    /// The chunked scan finds what a search position by position finds, escapes and
    /// exempt positions included.
    #[test]
    fn first_failing_equals_a_plain_search() {
        let values = mostly_coded(0x51ed_2701_a3c4_9b17, 5_000, 100, 1_000, 100_000);
        let packed = NameColumn::from(values.clone()).pack();
        assert!(
            matches!(&packed.0, super::Names::Packed(CodedColumn::Coded { escapes, .. }) if !escapes.is_empty())
        );
        for limit in [50, 99, 100, 5_000, 60_000, u32::MAX] {
            for every in [1, 7, 1_000_000] {
                let ok = |v: u32| v < limit;
                let exempt = |i: usize| every > 1 && i.is_multiple_of(every);
                let expected = (0..values.len()).find(|&i| !ok(values[i]) && !exempt(i));
                assert_eq!(
                    packed.first_failing(ok, exempt),
                    expected,
                    "below {limit}, every {every}"
                );
            }
        }
        // Each rare value found where it is: every escape read back at its own position.
        for &rare in values.iter().filter(|&&v| v >= 1_000).rev().take(50) {
            let expected = values.iter().position(|&v| v == rare);
            assert_eq!(
                packed.first_failing(|v| v != rare, |_| false),
                expected,
                "{rare}"
            );
        }
    }

    #[test]
    fn edited_names_equal_edits_on_plain_values() {
        // Mostly dictionary values, some escapes, some large (element indices).
        let values = mostly_coded(11, 20_000, 40, 100_000, 50_000);
        let dropped: Vec<u32> = vec![0, 1, 2, 500, 501, 9_999, 19_999];
        let inserted: Vec<(u32, u32)> = vec![
            (0, 7),
            (0, 123_456),
            (3, 8),
            (501, 9),
            (501, 777_777),
            (12_000, 5),
            (20_000, 6),
            (20_000, 654_321),
        ];
        let expected = super::edit_runs(&values, &dropped, &inserted);
        assert_eq!(
            expected.len(),
            values.len() - dropped.len() + inserted.len()
        );
        assert_eq!(&expected[..4], &[7, 123_456, 8, values[3]]);
        let packed = NameColumn::from(values.clone()).pack();
        assert!(matches!(
            packed.0,
            super::Names::Packed(CodedColumn::Coded { .. })
        ));
        let edited = packed.edited(&dropped, &inserted);
        assert_eq!(edited.len(), expected.len());
        for (i, &v) in expected.iter().enumerate() {
            assert_eq!(edited.get(i), v, "position {i}");
        }
        let plain = NameColumn::from(values).edited(&dropped, &inserted);
        assert_eq!(
            (0..plain.len()).map(|i| plain.get(i)).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn short_sizes_give_back_every_size() {
        let mut values: Vec<u64> = (0..3_000u64).map(|i| (i % 40) * 8).collect();
        values[5] = 65_535 * 8; // exactly the escape in units
        values[700] = u64::MAX - 7;
        values[2_999] = 1 << 40;
        let or = |values: &[u64]| values.iter().fold(0, |all, v| all | v);
        let packed = ShortSizes::pack(values.len(), or(&values), |i| values[i]);
        assert_eq!(packed.shift, 3);
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(packed.get(i), v, "value {i}");
        }
        assert_eq!(packed.long.len(), 3);
        // An odd value leaves the units at one byte; no values, no shift past 32.
        let odd_values = [8u64, 3, 70_000];
        let odd = ShortSizes::pack(3, or(&odd_values), |i| odd_values[i]);
        assert_eq!((odd.get(0), odd.get(1), odd.get(2)), (8, 3, 70_000));
        assert_eq!(ShortSizes::pack(0, 0, |_| 0).short.len(), 0);
        // Big enough for two halves, a long value in each.
        let mut big = vec![16u64; 3 << 20];
        big[10] = 1 << 30;
        big[(3 << 20) - 1] = 1 << 31;
        let packed = ShortSizes::pack(big.len(), or(&big), |i| big[i]);
        assert_eq!(packed.shift, 4);
        assert_eq!(packed.long.len(), 2);
        for i in [0, 10, 11, 1 << 20, (3 << 20) - 2, (3 << 20) - 1] {
            assert_eq!(packed.get(i), big[i], "value {i}");
        }
    }

    #[test]
    fn edge_starts_give_back_every_start() {
        // Small steps, a huge array (far offsets after it in its block and the next), empty
        // nodes, a block boundary right after a jump, and an offset of exactly u16::MAX.
        let mut starts = vec![0u32];
        let mut next = crate::xorshift(7);
        for i in 0..5_000u32 {
            let step = match i {
                40 => 200_000,
                95 => 65_535,
                127 => 70_000,
                _ => (next() % 4) as u32,
            };
            starts.push(starts.last().unwrap() + step);
        }
        let packed = EdgeStarts::pack(&starts);
        assert_eq!(packed.len(), starts.len());
        for (i, &s) in starts.iter().enumerate() {
            assert_eq!(packed.get(i), s, "node {i}");
        }
        for e in [0, 1, 7, 199_999, 200_000, 200_001, *starts.last().unwrap()] {
            assert_eq!(
                packed.count_at_most(e),
                starts.partition_point(|&f| f <= e),
                "edge {e}"
            );
        }
        assert!(packed.heap_bytes() < starts.len() * 3);
    }

    /// Values pushed onto a packed column read back like the ones packed, escapes included,
    /// across bucket boundaries.
    #[test]
    fn packed_name_columns_take_pushes() {
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let values: Vec<u32> = (0..5000)
            .map(|_| match next() % 10 {
                0 => next() as u32,
                _ => (next() % 20) as u32,
            })
            .collect();
        let mut column = NameColumn::from(values.clone()).pack();
        assert!(matches!(
            column.0,
            super::Names::Packed(CodedColumn::Coded { .. })
        ));
        let mut expected = values;
        for _ in 0..1000 {
            let v = match next() % 3 {
                0 => next() as u32,
                _ => (next() % 20) as u32,
            };
            column.push(v);
            expected.push(v);
        }
        assert_eq!(column.len(), expected.len());
        for (i, &v) in expected.iter().enumerate() {
            assert_eq!(column.get(i), v, "at {i}");
        }
        let coded = column.into_coded();
        for (i, &v) in expected.iter().enumerate() {
            assert_eq!(coded.get(i), v, "at {i}");
        }
    }

    #[test]
    fn delta_columns_give_back_every_value() {
        // Climbing in small steps, a jump too big for a step, a descent, zeros at the end
        // (synthetic nodes), and a last block shorter than the others.
        let mut values: Vec<u32> = (0..1_000u32).map(|i| 4_000 + 3 * i).collect();
        values.push(4_000_000_000);
        values.extend((0..200u32).map(|i| 50 + i));
        values.extend([0; 7]);
        let packed = DeltaColumn::pack(values.clone());
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(packed.get(i), v, "value {i}");
        }
        // Two blocks kept whole: the one with the jump and the descent after it, and the
        // last (24 values), which ends in zeros.
        assert_eq!(values.len() % DELTA_BLOCK, 24);
        assert_eq!(packed.whole.len(), DELTA_BLOCK + 24);
        assert!(packed.heap_bytes() < values.len() * 4 * 3 / 4);
        assert_eq!(DeltaColumn::pack(Vec::new()).heap_bytes(), 0);
        // An odd length whose last block fits, and values mapped as they are packed.
        let odd: Vec<u32> = (0..DELTA_BLOCK as u32 + 5).map(|i| 7 + i * i).collect();
        let mapped = DeltaColumn::pack_with(odd.clone(), |v| v + 1);
        assert!(mapped.whole.is_empty());
        for (i, &v) in odd.iter().enumerate() {
            assert_eq!(mapped.get(i), v + 1, "odd value {i}");
        }
    }

    #[test]
    fn size_columns_give_back_every_size() {
        // Mostly a few sizes, some rare ones (escaped), then one past 32 bits.
        let sizes: Vec<u64> = (0..50_000u64)
            .map(|i| {
                if i % 7 == 0 {
                    1_000 + i
                } else {
                    16 + 8 * (i % 5)
                }
            })
            .collect();
        let mut narrow = U64Column::new();
        sizes.iter().for_each(|&s| narrow.push(s));
        let coded = SizeColumn::pack(narrow.clone());
        assert!(matches!(
            coded,
            SizeColumn::Coded(CodedColumn::Coded { .. })
        ));
        assert!(coded.heap_bytes() < narrow.heap_bytes() / 2);
        assert_eq!(coded.len(), sizes.len());
        assert!(sizes.iter().enumerate().all(|(i, &s)| coded.get(i) == s));
        narrow.push(1 << 40);
        let wide = SizeColumn::pack(narrow);
        assert_eq!(wide.get(sizes.len()), 1 << 40);
        assert_eq!(wide.get(7), sizes[7]);
    }

    #[test]
    fn wide_ids_pack_as_offsets_and_read_back() {
        let ids: Vec<u64> = vec![
            0,
            0x6_8000_0010,
            0x6_8000_0000,
            0x7_ffc7_7018,
            0,
            0x6_8000_0018,
        ];
        let packed = IdColumn::pack(ids.clone().into(), 0);
        assert!(
            matches!(packed, IdColumn::Offset { shift: 3, .. }),
            "{packed:?}"
        );
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(packed.get(i), id);
        }
        // Too far apart for 32 bits even at the common alignment: kept as they are.
        let far: Vec<u64> = vec![1 << 40, (1 << 40) + (1u64 << 36) + 8];
        let kept = IdColumn::pack(far.clone().into(), 0);
        assert!(matches!(kept, IdColumn::Plain(_)));
        assert_eq!(kept.get(1), far[1]);
        // Narrow ids stay narrow.
        let narrow = IdColumn::pack(vec![1, 2, 3].into(), 0);
        assert!(matches!(narrow, IdColumn::Narrow(_)));
        assert_eq!(narrow.get(2), 3);
        // Ids stored shifted (4 bytes each) read back whole.
        let shifted: Vec<u64> = ids.iter().map(|&id| id >> 3).collect();
        let unshifted = IdColumn::pack(shifted.into(), 3);
        assert!(matches!(unshifted, IdColumn::Offset { shift: 3, .. }));
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(unshifted.get(i), id);
        }
        // Only synthetic nodes: nothing to offset from.
        let none = IdColumn::pack(vec![0u64, 0].into(), 3);
        assert!(matches!(none, IdColumn::Plain(_)));
        assert_eq!(none.get(1), 0);
    }

    #[test]
    fn widens_on_demand_and_keeps_values() {
        let mut c = U64Column::new();
        c.push(1);
        c.push(u32::MAX as u64);
        assert!(matches!(c, U64Column::Narrow(_)));
        c.push(1 << 40);
        assert!(matches!(c, U64Column::Wide(_)));
        assert_eq!(c.iter().collect::<Vec<_>>(), [1, u32::MAX as u64, 1 << 40]);
        assert_eq!(c.sum(), 1 + u32::MAX as u64 + (1 << 40));
        let mut d: U64Column = vec![5, 6].into();
        d.set(0, 1 << 33);
        assert_eq!(d.get(0), 1 << 33);
        assert_eq!(d.get(1), 6);
    }

    #[test]
    fn coded_columns_read_back_every_value() {
        // Commonest values coded, rare ones (and big ones) escaped.
        let mut values: Vec<u32> = (0..100_000u32).map(|i| i % 260).collect();
        values.extend([70_000, 5_000_000, u32::MAX, 3]);
        let coded = CodedColumn::pack(values.clone());
        let CodedColumn::Coded { escapes, .. } = &coded else {
            panic!(
                "260 distinct values are mostly coded: {:?}",
                coded.heap_bytes()
            );
        };
        assert!(!escapes.is_empty() && escapes.len() < values.len() / 4);
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(coded.get(i), v, "position {i}");
        }
        assert!(coded.heap_bytes() < values.len() * 2);
        // Mostly distinct values stay plain.
        let distinct: Vec<u32> = (0..10_000u32).map(|i| i * 7).collect();
        // (255 values coded out of 10,000.)
        let plain = CodedColumn::pack(distinct.clone());
        assert!(matches!(plain, CodedColumn::Plain(_)));
        assert_eq!(plain.get(9_999), distinct[9_999]);
        assert!(matches!(
            CodedColumn::pack(Vec::new()),
            CodedColumn::Coded { .. }
        ));
    }
}
