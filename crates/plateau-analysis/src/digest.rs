use std::collections::HashMap;

use plateau_graph::{
    class_histogram, ClassId, Dominators, HeapGraph, NodeId, NodeKind, RetainerPaths, U64Column,
};

use crate::collections::find_collections;
use crate::summary::class_rows;
use crate::{ClassRow, CollectionKind, Redaction, RetainerPath};

/// What comparisons need from one snapshot once its graph is gone: every object's id, class,
/// retained size and the number of objects it dominates, the class totals, and the length of
/// every collection. About 16 bytes an object, against ~50 for the graph.
#[derive(Clone, Debug)]
pub struct SnapshotDigest {
    pub label: String,
    pub nodes: usize,
    pub total_size: u64,
    /// See [`newest_object_id`].
    pub max_object_id: u64,
    /// Object ids, ascending; the columns below are in the same order.
    ids: U64Column,
    class_of: Vec<u32>,
    retained: U64Column,
    dominated: Vec<u32>,
    /// Distinct class names; `class_of` indexes it.
    class_names: Vec<String>,
    pub classes: Vec<ClassRow>,
    collections: HashMap<u64, (CollectionKind, u64)>,
    /// Collections of some size by retainer path with numbers masked, summed over the
    /// collections that share a path: what survives when ids do not (another process).
    by_path: HashMap<String, PathTotals>,
    /// Object ids are addresses the GC moves (Java heap dumps), not identities: snapshots
    /// are then matched by path and class only, never by id.
    pub ids_are_addresses: bool,
}

/// Collections sharing one masked retainer path, in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTotals {
    pub kind: CollectionKind,
    pub class: String,
    /// The path as rendered in this snapshot (first collection seen).
    pub path: String,
    pub instances: u64,
    pub length: u64,
    pub retained_size: u64,
    /// The id of the collection on this path that retains the most.
    pub largest_object_id: u64,
    pub(crate) largest_retained: u64,
}

/// Collections this small are left out of path matching.
const PATH_MIN_LENGTH: u64 = 32;

/// One object as a digest remembers it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DigestEntry {
    pub retained_size: u64,
    /// Objects in its dominator subtree, itself included.
    pub dominated: u32,
}

impl SnapshotDigest {
    /// Digests a snapshot. `dom` must carry subtree counts
    /// ([`plateau_graph::DominatorOptions::subtree_counts`]).
    pub fn new(label: &str, graph: &HeapGraph, dom: &Dominators) -> SnapshotDigest {
        let n = graph.node_count();
        let order = nodes_by_object_id(graph);
        let mut ids = U64Column::with_capacity(n);
        let mut class_of = Vec::with_capacity(n);
        let mut retained = U64Column::with_capacity(n);
        let mut dominated = Vec::with_capacity(n);
        for &v in &order {
            ids.push(graph.object_id(v));
            class_of.push(graph.class(v).0);
            retained.push(dom.retained_size(v));
            dominated.push(
                dom.dominated_count(v)
                    .expect("SnapshotDigest needs dominators computed with subtree counts"),
            );
        }
        drop(order);
        let class_names: Vec<String> = (0..graph.class_count() as u32)
            .map(|c| graph.class_name(ClassId(c)).to_string())
            .collect();

        // Class totals: count, shallow, and retained by the top-ancestor rule.
        let classes = class_rows(graph, class_histogram(graph, dom));
        let collections = find_collections(graph)
            .into_iter()
            .map(|c| (graph.object_id(c.node), (c.kind, c.length)))
            .collect();

        SnapshotDigest {
            label: label.to_string(),
            nodes: n,
            total_size: graph.total_size(),
            max_object_id: newest_object_id(graph),
            ids,
            class_of,
            retained,
            dominated,
            class_names,
            classes,
            collections,
            by_path: HashMap::new(),
            ids_are_addresses: false,
        }
    }

    /// Adds the collections of some size by masked retainer path, which the diff needs only
    /// when snapshots do not share object ids (another process). A BFS and a path per
    /// collection: done on demand.
    pub fn add_paths(&mut self, graph: &HeapGraph, dom: &Dominators) {
        let paths = RetainerPaths::compute(graph);
        let order = nodes_by_object_id(graph);
        let mut by_path: HashMap<String, PathTotals> = HashMap::new();
        let sized: Vec<(NodeId, CollectionKind, u64)> = self
            .collections_with_nodes(&order)
            .filter(|&(_, _, length)| length >= PATH_MIN_LENGTH)
            .collect();
        for (node, kind, length) in sized {
            let Some(path) = RetainerPath::to(graph, &paths, node, Redaction::None) else {
                continue;
            };
            let rendered = path.render();
            let totals = by_path
                .entry(mask_numbers(&rendered))
                .or_insert_with(|| PathTotals {
                    kind,
                    class: graph.class_name_of(node).to_string(),
                    path: rendered,
                    instances: 0,
                    length: 0,
                    retained_size: 0,
                    largest_object_id: 0,
                    largest_retained: 0,
                });
            let retained = dom.retained_size(node);
            totals.instances += 1;
            totals.length += length;
            totals.retained_size += retained;
            if totals.instances == 1 || retained > totals.largest_retained {
                totals.largest_retained = retained;
                totals.largest_object_id = graph.object_id(node);
            }
        }
        self.by_path = by_path;
    }

    /// Collections of some size by masked retainer path (see [`mask_numbers`]); empty unless
    /// [`add_paths`](Self::add_paths) ran.
    pub fn collections_by_path(&self) -> &HashMap<String, PathTotals> {
        &self.by_path
    }

    /// The digest's collections as nodes of its graph: `order` is
    /// [`nodes_by_object_id`] of that graph, which lists nodes in the digest's own order.
    pub(crate) fn collections_with_nodes<'a>(
        &'a self,
        order: &'a [NodeId],
    ) -> impl Iterator<Item = (NodeId, CollectionKind, u64)> + 'a {
        self.collections
            .iter()
            .filter_map(move |(&id, &(kind, length))| {
                self.position(id).map(|i| (order[i], kind, length))
            })
    }

    fn position(&self, object_id: u64) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.ids.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.ids.get(mid).cmp(&object_id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The node of the object with this id, `order` being [`nodes_by_object_id`] of the
    /// digest's own graph.
    pub(crate) fn node_of(&self, order: &[NodeId], object_id: u64) -> Option<NodeId> {
        self.position(object_id).map(|i| order[i])
    }

    /// True when an object with this id existed in the snapshot.
    pub fn contains(&self, object_id: u64) -> bool {
        self.position(object_id).is_some()
    }

    pub fn get(&self, object_id: u64) -> Option<DigestEntry> {
        self.position(object_id).map(|i| DigestEntry {
            retained_size: self.retained.get(i),
            dominated: self.dominated[i],
        })
    }

    /// The class name of the object with this id.
    pub fn class_of(&self, object_id: u64) -> Option<&str> {
        self.position(object_id)
            .map(|i| self.class_names[self.class_of[i] as usize].as_str())
    }

    /// Kind and length of the collection with this id.
    pub fn collection(&self, object_id: u64) -> Option<(CollectionKind, u64)> {
        self.collections.get(&object_id).copied()
    }

    /// Object ids, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.ids.iter()
    }

    /// True when `other` looks like a snapshot of the same process: it shares a quarter of the
    /// objects by id, and at most one in twenty of those has another class. (Processes of one
    /// program share their start-up ids, but not what they did since.)
    pub fn same_process(&self, other: &SnapshotDigest) -> bool {
        if self.ids_are_addresses || other.ids_are_addresses {
            return false;
        }
        let (shared, mismatched) = self.shared_ids(other);
        shared * 4 >= self.nodes.min(other.nodes) && mismatched * 20 <= shared
    }

    /// How many objects of `self` share an id with `other`, and how many of those have a
    /// different class there: two snapshots of one process share most ids with equal classes.
    pub fn shared_ids(&self, other: &SnapshotDigest) -> (usize, usize) {
        let (mut i, mut j, mut shared, mut mismatched) = (0, 0, 0, 0);
        while i < self.ids.len() && j < other.ids.len() {
            let (a, b) = (self.ids.get(i), other.ids.get(j));
            match a.cmp(&b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    if self.class_names[self.class_of[i] as usize]
                        != other.class_names[other.class_of[j] as usize]
                    {
                        mismatched += 1;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        (shared, mismatched)
    }
}

/// The largest id of an object the runtime's heap allocated: ids grow as a process runs, so
/// this orders snapshots of one process. Native (embedder) records and synthetic roots are
/// left out: Node gives them ids derived from addresses, which do not grow.
pub fn newest_object_id(graph: &HeapGraph) -> u64 {
    graph
        .nodes()
        .filter(|&v| !matches!(graph.kind(v), NodeKind::Native | NodeKind::Synthetic))
        .map(|v| graph.object_id(v))
        .max()
        .unwrap_or(0)
}

/// A path with every run of digits replaced by `#`: `[12]` and `[7]`, `516` and `5525` match.
pub fn mask_numbers(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_digits = false;
    for c in path.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

/// Nodes in ascending object-id order (ties in node order). Ids that fit 32 bits (V8's
/// always do) are packed with the node into one `u64` and radix-sorted on the id half: two
/// counting passes instead of a comparison sort.
pub(crate) fn nodes_by_object_id(graph: &HeapGraph) -> Vec<NodeId> {
    if graph.nodes().all(|v| graph.object_id(v) <= u32::MAX as u64) {
        let mut packed: Vec<u64> = graph
            .nodes()
            .map(|v| graph.object_id(v) << 32 | v.0 as u64)
            .collect();
        let mut scratch = vec![0u64; packed.len()];
        for shift in [32, 48] {
            let digit = |x: u64| ((x >> shift) & 0xffff) as usize;
            let mut start = vec![0usize; 1 << 16];
            for &x in &packed {
                start[digit(x)] += 1;
            }
            let mut sum = 0;
            for slot in start.iter_mut() {
                let count = *slot;
                *slot = sum;
                sum += count;
            }
            for &x in &packed {
                let d = digit(x);
                scratch[start[d]] = x;
                start[d] += 1;
            }
            std::mem::swap(&mut packed, &mut scratch);
        }
        packed.into_iter().map(|p| NodeId(p as u32)).collect()
    } else {
        let mut order: Vec<NodeId> = graph.nodes().collect();
        order.sort_unstable_by_key(|&v| (graph.object_id(v), v));
        order
    }
}
