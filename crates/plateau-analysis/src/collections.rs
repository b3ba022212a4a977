use std::collections::HashMap;

use plateau_graph::{Dominators, EdgeKind, HeapGraph, NodeId, NodeKind};

/// What sort of collection an object is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    Map,
    Set,
    Array,
    /// A plain object used as a dictionary (many own properties).
    ObjectDictionary,
    /// The listener array of one event on an EventEmitter (`_events.<name>`).
    Listeners,
}

impl CollectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Map => "map",
            CollectionKind::Set => "set",
            CollectionKind::Array => "array",
            CollectionKind::ObjectDictionary => "object-dictionary",
            CollectionKind::Listeners => "listeners",
        }
    }
}

/// A collection found in a heap, with its element count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    pub node: NodeId,
    pub kind: CollectionKind,
    /// Entries (Map, Set), elements (Array, listeners) or own properties (dictionaries).
    pub length: u64,
    /// False when the count had to be estimated (arrays of unboxed numbers have no
    /// element edges; Map entries whose key and value are both small integers are invisible).
    pub length_exact: bool,
    /// For listener arrays, the event's name.
    pub event: Option<String>,
}

/// Objects with at least this many own properties count as dictionaries.
const DICTIONARY_MIN_PROPERTIES: usize = 64;

/// Every collection in the heap, unordered.
pub fn find_collections(graph: &HeapGraph) -> Vec<Collection> {
    let listener_arrays = listener_arrays(graph);
    let mut found = Vec::new();
    for node in graph.nodes() {
        if graph.kind(node) != NodeKind::Object {
            continue;
        }
        let collection = match graph.name(node) {
            "Map" => internal_target(graph, node, "table").map(|table| {
                let (length, exact) = ordered_hash_entries(graph, table, 3);
                (CollectionKind::Map, length, exact)
            }),
            "Set" => internal_target(graph, node, "table").map(|table| {
                let (length, exact) = ordered_hash_entries(graph, table, 2);
                (CollectionKind::Set, length, exact)
            }),
            "Array" => {
                let (length, exact) = array_length(graph, node);
                let kind = if listener_arrays.contains_key(&node) {
                    CollectionKind::Listeners
                } else {
                    CollectionKind::Array
                };
                Some((kind, length, exact))
            }
            "Object" => {
                let properties = graph
                    .edges(node)
                    .filter(|&e| {
                        graph.edge_kind(e) == EdgeKind::Property
                            && graph.edge_name(e) != Some("__proto__")
                    })
                    .count();
                (properties >= DICTIONARY_MIN_PROPERTIES).then_some((
                    CollectionKind::ObjectDictionary,
                    properties as u64,
                    true,
                ))
            }
            _ => None,
        };
        if let Some((kind, length, length_exact)) = collection {
            found.push(Collection {
                node,
                kind,
                length,
                length_exact,
                event: listener_arrays.get(&node).cloned(),
            });
        }
    }
    found
}

/// The largest collections by retained size.
pub fn largest_collections(graph: &HeapGraph, dom: &Dominators, top: usize) -> Vec<Collection> {
    let mut all = find_collections(graph);
    all.sort_by(|a, b| {
        dom.retained_size(b.node)
            .cmp(&dom.retained_size(a.node))
            .then(a.node.cmp(&b.node))
    });
    all.truncate(top);
    all
}

fn internal_target(graph: &HeapGraph, node: NodeId, name: &str) -> Option<NodeId> {
    graph
        .edges(node)
        .find(|&e| graph.edge_kind(e) == EdgeKind::Internal && graph.edge_name(e) == Some(name))
        .map(|e| graph.edge_target(e))
}

/// Entries of a V8 OrderedHashMap/OrderedHashSet backing store. Its internal edges are named
/// by slot: 3 header slots, `buckets` bucket heads, then `entry_slots` slots per entry (key,
/// [value,] chain). Only heap values have edges, so entries are counted from the slots that
/// have one; the bucket count is the largest power of two the first entry's slot allows.
fn ordered_hash_entries(graph: &HeapGraph, table: NodeId, entry_slots: u32) -> (u64, bool) {
    let mut slots: Vec<u32> = graph
        .edges(table)
        .filter(|&e| graph.edge_kind(e) == EdgeKind::Internal)
        .filter_map(|e| graph.edge_name(e)?.parse().ok())
        .collect();
    let Some(&first) = slots.iter().min() else {
        return (0, false);
    };
    if first < 4 {
        return (slots.len() as u64, false);
    }
    let buckets = 1u32 << (31 - (first - 3).leading_zeros());
    let data_start = 3 + buckets;
    slots.retain(|&s| s >= data_start);
    for s in &mut slots {
        *s = (*s - data_start) / entry_slots;
    }
    slots.sort_unstable();
    slots.dedup();
    (slots.len() as u64, true)
}

/// Length of a JS array: its element edges, or for arrays of unboxed numbers (no edges) an
/// estimate from the size of its elements store.
fn array_length(graph: &HeapGraph, array: NodeId) -> (u64, bool) {
    let mut max_index = None;
    for e in graph.edges(array) {
        if graph.edge_kind(e) == EdgeKind::Element {
            let index = graph.edge_name_raw(e) as u64;
            max_index = Some(max_index.map_or(index, |m: u64| m.max(index)));
        }
    }
    match max_index {
        Some(i) => (i + 1, true),
        // A JSArray is 32 bytes, its FixedDoubleArray 16 plus 8 per element; V8 moved the
        // store's size onto the array.
        None => (graph.self_size(array).saturating_sub(48) / 8, false),
    }
}

/// Listener arrays of EventEmitters: `emitter._events.<event>` when it is an Array.
fn listener_arrays(graph: &HeapGraph) -> HashMap<NodeId, String> {
    let mut arrays = HashMap::new();
    for node in graph.nodes() {
        for e in graph.edges(node) {
            if graph.edge_kind(e) != EdgeKind::Property || graph.edge_name(e) != Some("_events") {
                continue;
            }
            let events = graph.edge_target(e);
            for ev in graph.edges(events) {
                let target = graph.edge_target(ev);
                if graph.edge_kind(ev) == EdgeKind::Property
                    && graph.kind(target) == NodeKind::Object
                    && graph.name(target) == "Array"
                {
                    if let Some(name) = graph.edge_name(ev) {
                        arrays.insert(target, name.to_string());
                    }
                }
            }
        }
    }
    arrays
}
