use std::collections::HashMap;

use plateau_graph::{
    CollectionShape, Dominators, EdgeKind, HeapGraph, NodeId, NodeKind, StoredCollection, StrId,
};

use crate::names::{Name, NameTags, TopK};

/// What sort of collection an object is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    Map,
    Set,
    Array,
    /// A Java `List` (`ArrayList`, `LinkedList`, `CopyOnWriteArrayList`...).
    List,
    /// A Java queue or deque (`ArrayDeque`, `PriorityQueue`, blocking queues).
    Queue,
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
            CollectionKind::List => "list",
            CollectionKind::Queue => "queue",
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
    /// Slots of the backing array (hash buckets, list capacity), where the runtime says.
    pub capacity: Option<u64>,
}

impl Collection {
    /// Used slots of the backing array, 0..=1 (a map's load factor, a list's fill).
    pub fn fill_ratio(&self) -> Option<f64> {
        match self.capacity? {
            0 => None,
            c => Some(self.length as f64 / c as f64),
        }
    }

    fn stored(s: &StoredCollection) -> Collection {
        Collection {
            node: s.node,
            kind: match s.shape {
                CollectionShape::Map => CollectionKind::Map,
                CollectionShape::Set => CollectionKind::Set,
                CollectionShape::List => CollectionKind::List,
                CollectionShape::Queue => CollectionKind::Queue,
            },
            length: s.length(),
            length_exact: true,
            event: None,
            capacity: s.capacity(),
        }
    }
}

/// Objects with at least this many own properties count as dictionaries.
const DICTIONARY_MIN_PROPERTIES: usize = 64;

/// Every collection in the heap, in node order.
pub fn find_collections(graph: &HeapGraph) -> Vec<Collection> {
    if !graph.stored_collections().is_empty() {
        return graph
            .stored_collections()
            .iter()
            .map(Collection::stored)
            .collect();
    }
    let tags = NameTags::new(graph);
    let listeners = listener_arrays(graph, &tags);
    graph
        .nodes()
        .filter_map(|node| {
            let kind = collection_kind(graph, &tags, &listeners, node)?;
            Some(measure(graph, &tags, &listeners, node, kind))
        })
        .collect()
}

/// The `top` largest collections by retained size; only those are measured.
pub fn largest_collections(graph: &HeapGraph, dom: &Dominators, top: usize) -> Vec<Collection> {
    if !graph.stored_collections().is_empty() {
        let mut largest = TopK::new(top);
        for (i, s) in graph.stored_collections().iter().enumerate() {
            largest.push(dom.retained_size(s.node), i);
        }
        return largest
            .into_sorted()
            .into_iter()
            .map(|(_, i)| Collection::stored(&graph.stored_collections()[i]))
            .collect();
    }
    let tags = NameTags::new(graph);
    let listeners = listener_arrays(graph, &tags);
    let mut largest = TopK::new(top);
    for node in graph.nodes() {
        let retained = dom.retained_size(node);
        // The kind is the same for every node in the tie-break, so any works for the test.
        if !largest.admits(retained, &(node, 0)) {
            continue;
        }
        if let Some(kind) = collection_kind(graph, &tags, &listeners, node) {
            largest.push(retained, (node, kind as u8));
        }
    }
    largest
        .into_sorted()
        .into_iter()
        .map(|(_, (node, _))| {
            let kind = collection_kind(graph, &tags, &listeners, node).expect("classified above");
            measure(graph, &tags, &listeners, node, kind)
        })
        .collect()
}

fn collection_kind(
    graph: &HeapGraph,
    tags: &NameTags,
    listeners: &HashMap<NodeId, String>,
    node: NodeId,
) -> Option<CollectionKind> {
    if graph.kind(node) != NodeKind::Object {
        return None;
    }
    match tags.of(graph.name_id(node)) {
        Name::Map => Some(CollectionKind::Map),
        Name::Set => Some(CollectionKind::Set),
        Name::Array if listeners.contains_key(&node) => Some(CollectionKind::Listeners),
        Name::Array => Some(CollectionKind::Array),
        Name::Object => (own_properties(graph, tags, node) >= DICTIONARY_MIN_PROPERTIES)
            .then_some(CollectionKind::ObjectDictionary),
        _ => None,
    }
}

fn measure(
    graph: &HeapGraph,
    tags: &NameTags,
    listeners: &HashMap<NodeId, String>,
    node: NodeId,
    kind: CollectionKind,
) -> Collection {
    let table = || {
        graph
            .edges(node)
            .find(|&e| {
                graph.edge_kind(e) == EdgeKind::Internal
                    && tags.is(StrId(graph.edge_name_raw(e)), Name::Table)
            })
            .map(|e| graph.edge_target(e))
    };
    let (length, length_exact) = match kind {
        CollectionKind::Map => table().map_or((0, false), |t| ordered_hash_entries(graph, t, 3)),
        CollectionKind::Set => table().map_or((0, false), |t| ordered_hash_entries(graph, t, 2)),
        CollectionKind::Array
        | CollectionKind::Listeners
        | CollectionKind::List
        | CollectionKind::Queue => array_length(graph, node),
        CollectionKind::ObjectDictionary => (own_properties(graph, tags, node) as u64, true),
    };
    Collection {
        node,
        kind,
        length,
        length_exact,
        event: listeners.get(&node).cloned(),
        capacity: None,
    }
}

fn own_properties(graph: &HeapGraph, tags: &NameTags, node: NodeId) -> usize {
    graph
        .edges(node)
        .filter(|&e| {
            graph.edge_kind(e) == EdgeKind::Property
                && !tags.is(StrId(graph.edge_name_raw(e)), Name::Proto)
        })
        .count()
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
fn listener_arrays(graph: &HeapGraph, tags: &NameTags) -> HashMap<NodeId, String> {
    let mut arrays = HashMap::new();
    for node in graph.nodes() {
        for e in graph.edges(node) {
            if graph.edge_kind(e) != EdgeKind::Property
                || !tags.is(StrId(graph.edge_name_raw(e)), Name::Events)
            {
                continue;
            }
            let events = graph.edge_target(e);
            for ev in graph.edges(events) {
                let target = graph.edge_target(ev);
                if graph.edge_kind(ev) == EdgeKind::Property
                    && graph.kind(target) == NodeKind::Object
                    && tags.is(graph.name_id(target), Name::Array)
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
