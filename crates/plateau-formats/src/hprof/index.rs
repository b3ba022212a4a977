//! Object id -> node lookups that keep the dump's order.
//!
//! A heap dump lists objects in address order, heap region after heap region (HotSpot
//! walks its heap; a 2 GB JDK 17 dump has a few hundred descents among 32 million
//! objects, all in the class dumps at its start). So the nodes fall into long runs of
//! ascending ids, and a run is searched like a sorted array: a window table maps the high
//! bits of an id to the first node of the run at or above it, and a short binary search
//! over the graph's own id column finishes. Objects refer mostly to their neighbours (a
//! map entry to its key and its value, a String to its bytes), so consecutive lookups touch
//! the same few cache lines, where a hash table would scatter them over hundreds of MB. The
//! nodes outside long runs go to a small hash map. Costs: 4 bytes per window, at most one
//! window per node of a run.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use plateau_graph::U64Column;

/// Runs shorter than this go to the hash map.
const MIN_RUN: usize = 4096;

#[inline]
fn mix(id: u64) -> u64 {
    (id ^ (id >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Nodes `start..end`, whose ids ascend strictly from `min` to `max`.
struct Run {
    start: u32,
    end: u32,
    min: u64,
    max: u64,
    shift: u32,
    /// `windows[w]`: the first node of the run whose id is at least `min + (w << shift)`;
    /// one more entry than windows, holding `end`.
    windows: Vec<u32>,
}

impl Run {
    fn new(ids: &U64Column, start: usize, end: usize) -> Run {
        let min = ids.get(start);
        let max = ids.get(end - 1);
        let nodes = (end - start) as u64;
        // At most one window per node.
        let mut shift = 0;
        while ((max - min) >> shift) + 1 > nodes {
            shift += 1;
        }
        let count = (((max - min) >> shift) + 1) as usize;
        let mut windows = Vec::with_capacity(count + 1);
        // Over the column's own slice (one match, not one a node).
        fn fill(
            windows: &mut Vec<u32>,
            ids: impl Iterator<Item = u64>,
            start: usize,
            min: u64,
            shift: u32,
        ) {
            for (node, id) in (start..).zip(ids) {
                let w = ((id - min) >> shift) as usize;
                if windows.len() <= w {
                    windows.resize(w + 1, node as u32);
                }
            }
        }
        match ids {
            U64Column::Narrow(v) => fill(
                &mut windows,
                v[start..end].iter().map(|&id| id as u64),
                start,
                min,
                shift,
            ),
            U64Column::Wide(v) => fill(
                &mut windows,
                v[start..end].iter().copied(),
                start,
                min,
                shift,
            ),
        }
        windows.push(end as u32);
        Run {
            start: start as u32,
            end: end as u32,
            min,
            max,
            shift,
            windows,
        }
    }

    #[inline]
    fn get(&self, ids: &U64Column, id: u64) -> Option<u32> {
        if id < self.min || id > self.max {
            return None;
        }
        let w = ((id - self.min) >> self.shift) as usize;
        let (mut lo, mut hi) = (self.windows[w], self.windows[w + 1]);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let found = ids.get(mid as usize);
            if found == id {
                return Some(mid);
            }
            if found < id {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        None
    }
}

pub(crate) struct IdIndex {
    runs: Vec<Run>,
    /// Nodes outside the long runs, and any id found in two places (the first node wins).
    rest: IdMap<u64, u32>,
    /// Whether `rest` must be asked before the runs (an id of a run repeats elsewhere).
    rest_first: bool,
}

impl IdIndex {
    /// Indexes nodes `0..ids.len()` by id; id 0 (null) is never indexed. Returns the index and
    /// how many nodes repeat an id already indexed (the first one wins).
    pub(crate) fn build(ids: &U64Column) -> (IdIndex, u64) {
        let n = ids.len();
        let mut index = IdIndex {
            runs: Vec::new(),
            rest: IdMap::default(),
            rest_first: false,
        };
        let mut short: Vec<u32> = Vec::new();
        let mut start = 0;
        while start < n {
            let end = ascending_end(ids, start);
            // Null ids sort first: keep them out of runs.
            let mut first = start;
            while first < end && ids.get(first) == 0 {
                first += 1;
            }
            if end - first >= MIN_RUN {
                index.runs.push(Run::new(ids, first, end));
            } else {
                short.extend((first..end).map(|v| v as u32));
            }
            start = end;
        }
        // Duplicates: a short node whose id a run (or an earlier short node) holds, and ids
        // shared by two runs. The first node in node order wins.
        let mut duplicates = 0;
        for &node in &short {
            let id = ids.get(node as usize);
            if id == 0 {
                continue;
            }
            let in_run = index.runs.iter().find_map(|r| r.get(ids, id));
            match (in_run, index.rest.get(&id).copied()) {
                (_, Some(_)) => duplicates += 1,
                (Some(v), None) => {
                    duplicates += 1;
                    index.rest.insert(id, v.min(node));
                    index.rest_first = true;
                }
                (None, None) => {
                    index.rest.insert(id, node);
                }
            }
        }
        for (a, b) in pairs(index.runs.len()) {
            let (ra, rb) = (&index.runs[a], &index.runs[b]);
            if ra.max < rb.min || rb.max < ra.min {
                continue;
            }
            // Overlapping ranges: walk both in id order.
            let (mut i, mut j) = (ra.start as usize, rb.start as usize);
            while i < ra.end as usize && j < rb.end as usize {
                let (x, y) = (ids.get(i), ids.get(j));
                if x == y {
                    duplicates += 1;
                    let first = (i as u32).min(j as u32);
                    let kept = index.rest.entry(x).or_insert(first);
                    *kept = (*kept).min(first);
                    index.rest_first = true;
                }
                if x <= y {
                    i += 1;
                }
                if y <= x {
                    j += 1;
                }
            }
        }
        (index, duplicates)
    }

    /// Asks the CPU for what [`get`](Self::get) will read first for `id`: its run's window
    /// (`stage` 0), then the middle of the span that window bounds (`stage` 1, once the
    /// window is in cache). Lookups run over edge lists, a few steps ahead of the one made.
    #[inline]
    pub(crate) fn prefetch(&self, ids: &U64Column, id: u64, stage: u8) {
        let Some(run) = self.runs.iter().find(|r| id >= r.min && id <= r.max) else {
            return;
        };
        let w = ((id - run.min) >> run.shift) as usize;
        if stage == 0 {
            plateau_graph::prefetch(&run.windows, w);
        } else {
            let (lo, hi) = (run.windows[w], run.windows[w + 1]);
            ids.prefetch((lo + (hi - lo) / 2) as usize);
        }
    }

    /// The node with this id.
    #[inline]
    pub(crate) fn get(&self, ids: &U64Column, id: u64) -> Option<u32> {
        if id == 0 {
            return None;
        }
        if self.rest_first {
            if let Some(&v) = self.rest.get(&id) {
                return Some(v);
            }
        }
        for run in &self.runs {
            if let Some(v) = run.get(ids, id) {
                return Some(v);
            }
        }
        if self.rest_first {
            None
        } else {
            self.rest.get(&id).copied()
        }
    }
}

/// The end of the strictly ascending run of ids from `start` (which is below the length).
fn ascending_end(ids: &U64Column, start: usize) -> usize {
    fn end_of<T: PartialOrd>(values: &[T], start: usize) -> usize {
        let rest = &values[start..];
        start + 1 + rest.windows(2).take_while(|w| w[1] > w[0]).count()
    }
    match ids {
        U64Column::Narrow(v) => end_of(v, start),
        U64Column::Wide(v) => end_of(v, start),
    }
}

/// Every pair `(a, b)` with `a < b < n`.
fn pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(move |a| (a + 1..n).map(move |b| (a, b)))
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

    /// The index against a plain map on ids with long ascending runs, descents, repeats
    /// (inside a run, across runs, in the short part) and nulls.
    #[test]
    fn agrees_with_a_map_on_runs_repeats_and_nulls() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20 {
            let mut ids: Vec<u64> = Vec::new();
            for _ in 0..(1 + round % 4) {
                // A run of ascending ids with gaps, at a random base.
                let mut id = (next() % (1 << 36)) & !7;
                let len = MIN_RUN + (next() % 20_000) as usize;
                for _ in 0..len {
                    id += 8 * (1 + next() % (if round % 2 == 0 { 6 } else { 3000 }));
                    ids.push(id);
                }
                // A few stray ids, some repeating earlier ones, some nulls.
                for _ in 0..(next() % 50) {
                    let pick = match next() % 3 {
                        0 => ids[(next() % ids.len() as u64) as usize],
                        1 => 0,
                        _ => (next() % (1 << 36)) & !7,
                    };
                    ids.push(pick);
                }
            }
            let column: U64Column = ids.clone().into();
            let (index, dups) = IdIndex::build(&column);
            let mut oracle: HashMap<u64, u32> = HashMap::new();
            let mut expected_dups = 0;
            for (v, &id) in ids.iter().enumerate() {
                if id != 0 && oracle.insert(id, v as u32).is_some() {
                    expected_dups += 1;
                }
            }
            oracle.clear();
            for (v, &id) in ids.iter().enumerate() {
                oracle.entry(id).or_insert(v as u32);
            }
            assert_eq!(dups, expected_dups, "round {round}");
            for (&id, &v) in &oracle {
                let expected = if id == 0 { None } else { Some(v) };
                assert_eq!(index.get(&column, id), expected, "round {round} id {id:#x}");
                assert_eq!(index.get(&column, id + 4), None);
            }
        }
    }

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
