use plateau_graph::{HeapGraph, StrId};

/// The handful of names the analysis looks for, tagged by string id once, so a pass over
/// millions of nodes and edges compares integers instead of strings.
pub(crate) struct NameTags {
    tags: Vec<u8>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Name {
    Other = 0,
    Map,
    Set,
    Array,
    Object,
    Table,
    Events,
    Proto,
}

impl NameTags {
    pub(crate) fn new(graph: &HeapGraph) -> NameTags {
        let strings = graph.strings();
        let tags = (0..strings.len() as u32)
            .map(|i| {
                (match strings.get(StrId(i)) {
                    "Map" => Name::Map,
                    "Set" => Name::Set,
                    "Array" => Name::Array,
                    "Object" => Name::Object,
                    "table" => Name::Table,
                    "_events" => Name::Events,
                    "__proto__" => Name::Proto,
                    _ => Name::Other,
                }) as u8
            })
            .collect();
        NameTags { tags }
    }

    #[inline]
    pub(crate) fn is(&self, id: StrId, name: Name) -> bool {
        self.tags[id.0 as usize] == name as u8
    }

    #[inline]
    pub(crate) fn of(&self, id: StrId) -> Name {
        match self.tags[id.0 as usize] {
            1 => Name::Map,
            2 => Name::Set,
            3 => Name::Array,
            4 => Name::Object,
            5 => Name::Table,
            6 => Name::Events,
            7 => Name::Proto,
            _ => Name::Other,
        }
    }
}

/// Keeps the `k` largest items seen, by key, ties broken by the smaller item.
pub(crate) struct TopK<T: Ord> {
    k: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, std::cmp::Reverse<T>)>>,
}

impl<T: Ord> TopK<T> {
    pub(crate) fn new(k: usize) -> Self {
        TopK {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether [`push`](Self::push) would keep `(key, item)` now: lets a caller skip
    /// working out whether a node qualifies at all when it would be dropped anyway.
    #[inline]
    pub(crate) fn admits(&self, key: u64, item: &T) -> bool {
        if self.heap.len() < self.k {
            return true;
        }
        match self.heap.peek() {
            None => false,
            Some(smallest) => {
                key > smallest.0 .0 || (key == smallest.0 .0 && *item < smallest.0 .1 .0)
            }
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: u64, item: T) {
        if !self.admits(key, &item) {
            return;
        }
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap
            .push(std::cmp::Reverse((key, std::cmp::Reverse(item))));
    }

    /// The items, largest key first.
    pub(crate) fn into_sorted(self) -> Vec<(u64, T)> {
        let mut items: Vec<(u64, T)> = self
            .heap
            .into_iter()
            .map(|std::cmp::Reverse((key, std::cmp::Reverse(item)))| (key, item))
            .collect();
        items.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::TopK;

    #[test]
    fn keeps_the_largest_with_stable_ties() {
        let mut top = TopK::new(3);
        for (key, item) in [(5, 'a'), (9, 'b'), (1, 'c'), (9, 'a'), (7, 'd'), (5, 'e')] {
            top.push(key, item);
        }
        assert_eq!(top.into_sorted(), vec![(9, 'a'), (9, 'b'), (7, 'd')]);
    }

    #[test]
    fn admits_exactly_what_push_would_keep() {
        let mut top = TopK::new(2);
        assert!(top.admits(0, &'z'));
        top.push(5, 'b');
        top.push(7, 'c');
        // Full: the smallest kept is (5, 'b'); ties go to the smaller item.
        assert!(!top.admits(4, &'a'));
        assert!(!top.admits(5, &'b'));
        assert!(!top.admits(5, &'c'));
        assert!(top.admits(5, &'a'));
        assert!(top.admits(6, &'z'));
        assert!(!TopK::<char>::new(0).admits(u64::MAX, &'a'));
    }
}
