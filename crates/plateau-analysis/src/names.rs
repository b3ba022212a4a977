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

    #[inline]
    pub(crate) fn push(&mut self, key: u64, item: T) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() == self.k {
            let smallest = &self.heap.peek().expect("k > 0").0;
            if key < smallest.0 || (key == smallest.0 && item >= smallest.1 .0) {
                return;
            }
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
}
