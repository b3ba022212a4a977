//! Java collections' logical sizes. A `HashMap` keeps its entry count in an `int size`
//! field, and primitive fields are not edges of the graph, so the reader picks the few
//! counting fields of the JDK's collections out of the instance bytes as it streams them
//! and turns them into [`StoredCollection`]s once the graph's edges are known (a
//! `ConcurrentHashMap` adds its counter cells; a `HashSet` is the size of its map).
//!
//! A class is recognised by its place in the hierarchy: a subclass of `LinkedHashMap`
//! (an LRU overriding `removeEldestEntry`) is a map like its ancestor.

use plateau_graph::{CollectionShape, EdgeKind, NameColumn, NodeId, StoredCollection};

use super::reader::Layout;

/// How a collection's element count is found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Count {
    /// An int field holds it.
    Field,
    /// `ArrayDeque`: `(tail - head)` modulo the capacity.
    HeadTail,
    /// `ConcurrentHashMap`: `baseCount` plus the values of the `counterCells`.
    BaseAndCells,
    /// `LinkedBlockingQueue`: an `AtomicInteger` named by `via`.
    Atomic,
    /// `CopyOnWriteArrayList`: the length of its array, which is always exactly full.
    ArrayLength,
    /// A set backed by a map or list named by `via`: the size of that.
    Inner,
    /// Not a collection: a number another collection's count needs (counter cells).
    Value,
}

struct Rule {
    /// The class declaring the fields, in JVM form.
    class: &'static [u8],
    shape: Option<CollectionShape>,
    count: Count,
    /// The primitive fields read (int or long), declared by `class`.
    fields: [&'static [u8]; 2],
    /// The reference field the count goes through (`Atomic`, `Inner`, `BaseAndCells`).
    via: &'static str,
    /// The backing array, whose length is the capacity.
    backing: &'static str,
}

const fn rule(
    class: &'static [u8],
    shape: Option<CollectionShape>,
    count: Count,
    fields: [&'static [u8]; 2],
    via: &'static str,
    backing: &'static str,
) -> Rule {
    Rule {
        class,
        shape,
        count,
        fields,
        via,
        backing,
    }
}

use CollectionShape::{List, Map, Queue, Set};
use Count::*;

const RULES: &[Rule] = &[
    rule(
        b"java/util/HashMap",
        Some(Map),
        Field,
        [b"size", b""],
        "",
        "table",
    ),
    rule(
        b"java/util/Hashtable",
        Some(Map),
        Field,
        [b"count", b""],
        "",
        "table",
    ),
    rule(
        b"java/util/TreeMap",
        Some(Map),
        Field,
        [b"size", b""],
        "",
        "",
    ),
    // Keys and values share one table: two slots an entry.
    rule(
        b"java/util/IdentityHashMap",
        Some(Map),
        Field,
        [b"size", b""],
        "",
        "table",
    ),
    rule(
        b"java/util/WeakHashMap",
        Some(Map),
        Field,
        [b"size", b""],
        "",
        "table",
    ),
    rule(
        b"java/util/concurrent/ConcurrentHashMap",
        Some(Map),
        BaseAndCells,
        [b"baseCount", b""],
        "counterCells",
        "table",
    ),
    rule(
        b"java/util/ArrayList",
        Some(List),
        Field,
        [b"size", b""],
        "",
        "elementData",
    ),
    rule(
        b"java/util/Vector",
        Some(List),
        Field,
        [b"elementCount", b""],
        "",
        "elementData",
    ),
    rule(
        b"java/util/LinkedList",
        Some(List),
        Field,
        [b"size", b""],
        "",
        "",
    ),
    rule(
        b"java/util/concurrent/CopyOnWriteArrayList",
        Some(List),
        ArrayLength,
        [b"", b""],
        "",
        "array",
    ),
    rule(
        b"java/util/ArrayDeque",
        Some(Queue),
        HeadTail,
        [b"head", b"tail"],
        "",
        "elements",
    ),
    rule(
        b"java/util/PriorityQueue",
        Some(Queue),
        Field,
        [b"size", b""],
        "",
        "queue",
    ),
    rule(
        b"java/util/concurrent/ArrayBlockingQueue",
        Some(Queue),
        Field,
        [b"count", b""],
        "",
        "items",
    ),
    rule(
        b"java/util/concurrent/LinkedBlockingQueue",
        Some(Queue),
        Atomic,
        [b"", b""],
        "count",
        "",
    ),
    rule(
        b"java/util/concurrent/LinkedBlockingDeque",
        Some(Queue),
        Field,
        [b"count", b""],
        "",
        "",
    ),
    rule(
        b"java/util/HashSet",
        Some(Set),
        Inner,
        [b"", b""],
        "map",
        "",
    ),
    rule(b"java/util/TreeSet", Some(Set), Inner, [b"", b""], "m", ""),
    rule(
        b"java/util/concurrent/CopyOnWriteArraySet",
        Some(Set),
        Inner,
        [b"", b""],
        "al",
        "",
    ),
    rule(
        b"java/util/concurrent/ConcurrentHashMap$KeySetView",
        Some(Set),
        Inner,
        [b"", b""],
        "map",
        "",
    ),
    rule(
        b"java/util/concurrent/ConcurrentHashMap$CounterCell",
        None,
        Value,
        [b"value", b""],
        "",
        "",
    ),
    rule(
        b"java/util/concurrent/atomic/AtomicInteger",
        None,
        Value,
        [b"value", b""],
        "",
        "",
    ),
];

/// The rule for a class named `name` (JVM form), if it declares a collection's count.
pub(crate) fn rule_for(name: &[u8]) -> Option<u8> {
    RULES.iter().position(|r| r.class == name).map(|i| i as u8)
}

/// Whether `field` is one of the counting fields of rule `rule`: its slot (0 or 1).
pub(crate) fn counting_slot(rule: u8, field: &[u8]) -> Option<u8> {
    RULES[rule as usize]
        .fields
        .iter()
        .position(|&f| !f.is_empty() && f == field)
        .map(|s| s as u8)
}

/// Where a layout reads a counting field: offset in the instance bytes and its size (4 for
/// int, 8 for long).
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct CountingField {
    pub(crate) offset: u32,
    pub(crate) size: u8,
}

/// An instance of a counted class, with the values of its counting fields. 16 bytes: a 2 GB
/// dump has 3 M of them, kept until the dump is read. The values are counts and indices of
/// Java collections (ints; the `long` ones, `ConcurrentHashMap.baseCount` and its cells,
/// count elements too), so 32 bits hold them; a larger one is kept as the nearest that fits.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Counted {
    pub(crate) node: u32,
    pub(crate) rule: u8,
    pub(crate) values: [i32; 2],
}

/// Reads the counting fields of an instance whose layout has a rule.
pub(crate) fn read_counted(layout: &Layout, node: u32, bytes: &[u8]) -> Option<Counted> {
    let rule = layout.collection?;
    let mut values = [0i32; 2];
    for (value, field) in values.iter_mut().zip(&layout.counting) {
        let Some(f) = field else { continue };
        let at = f.offset as usize;
        let end = at + f.size as usize;
        if end > bytes.len() {
            return None;
        }
        *value = match f.size {
            4 => i32::from_be_bytes(bytes[at..end].try_into().ok()?),
            8 => i64::from_be_bytes(bytes[at..end].try_into().ok()?)
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            _ => return None,
        };
    }
    Some(Counted { node, rule, values })
}

/// The graph's view of edges and array lengths, as `build` holds them.
/// The edge columns during the build: as the reader left them, targets resolved.
#[derive(Clone, Copy)]
pub(crate) struct EdgeColumns<'a> {
    pub(crate) first_edge: &'a [u32],
    pub(crate) kinds: &'a [EdgeKind],
    pub(crate) names: &'a NameColumn,
    pub(crate) targets: &'a [NodeId],
}

impl EdgeColumns<'_> {
    /// The edges of `node`.
    pub(crate) fn of(&self, node: usize) -> std::ops::Range<usize> {
        self.first_edge[node] as usize..self.first_edge[node + 1] as usize
    }
}

pub(crate) struct EdgeView<'a> {
    pub(crate) edges: EdgeColumns<'a>,
    /// The string id of a field name, if any field has it.
    pub(crate) name_id: &'a dyn Fn(&str) -> Option<u32>,
    /// Array lengths by node (other nodes: anything).
    pub(crate) array_length: &'a dyn Fn(NodeId) -> u64,
    pub(crate) is_array: &'a dyn Fn(NodeId) -> bool,
}

impl EdgeView<'_> {
    fn field(&self, node: u32, name: &str) -> Option<NodeId> {
        if name.is_empty() {
            return None;
        }
        let id = (self.name_id)(name)?;
        let edges = &self.edges;
        edges
            .of(node as usize)
            .find(|&e| {
                matches!(edges.kinds[e], EdgeKind::Property | EdgeKind::Weak)
                    && edges.names.get(e) == id
            })
            .map(|e| edges.targets[e])
    }

    fn elements(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let edges = &self.edges;
        edges
            .of(node.index())
            .filter(|&e| edges.kinds[e] == EdgeKind::Element)
            .map(|e| edges.targets[e])
    }
}

/// Turns the counted instances into collections with their lengths and capacities.
pub(crate) fn stored_collections(
    counted: &mut [Counted],
    view: &EdgeView,
) -> Vec<StoredCollection> {
    counted.sort_unstable_by_key(|c| c.node);
    let find = |node: NodeId| -> Option<&Counted> {
        counted
            .binary_search_by_key(&node.0, |c| c.node)
            .ok()
            .map(|i| &counted[i])
    };
    let value_of = |node: NodeId| -> Option<i64> {
        find(node)
            .filter(|c| RULES[c.rule as usize].count == Value)
            .map(|c| c.values[0] as i64)
    };
    // Everything but `Inner` first (those get a placeholder): sets look their backing
    // collection up. One list, by node, with no copy of it at any time: a 2 GB dump has
    // 3 M collections.
    let mut stored: Vec<StoredCollection> = Vec::new();
    let mut inner = Vec::new();
    for c in counted.iter() {
        let rule = &RULES[c.rule as usize];
        let Some(shape) = rule.shape else { continue };
        if rule.count == Inner {
            inner.push(stored.len());
            stored.push(StoredCollection::new(NodeId(c.node), shape, 0, None));
            continue;
        }
        let backing = view.field(c.node, rule.backing);
        let capacity = if rule.backing.is_empty() {
            None
        } else {
            Some(match backing {
                Some(array) if (view.is_array)(array) => {
                    let slots = (view.array_length)(array);
                    if rule.class == b"java/util/IdentityHashMap" {
                        slots / 2
                    } else {
                        slots
                    }
                }
                // A table not allocated yet (an empty HashMap).
                _ => 0,
            })
        };
        let length = match rule.count {
            Field => c.values[0].max(0) as u64,
            HeadTail => {
                let cap = capacity.unwrap_or(0) as i64;
                if cap == 0 {
                    0
                } else {
                    (c.values[1] as i64 - c.values[0] as i64).rem_euclid(cap) as u64
                }
            }
            BaseAndCells => {
                let cells: i64 = view
                    .field(c.node, rule.via)
                    .map(|array| view.elements(array).filter_map(value_of).sum())
                    .unwrap_or(0);
                (c.values[0] as i64 + cells).max(0) as u64
            }
            Atomic => view
                .field(c.node, rule.via)
                .and_then(value_of)
                .unwrap_or(0)
                .max(0) as u64,
            ArrayLength => capacity.unwrap_or(0),
            Inner | Value => continue,
        };
        stored.push(StoredCollection::new(
            NodeId(c.node),
            shape,
            length,
            capacity,
        ));
    }
    let length_of = |node: NodeId| -> Option<u64> {
        let i = stored.binary_search_by_key(&node, |s| s.node).ok()?;
        let s = &stored[i];
        // A placeholder is no backing collection.
        inner.binary_search(&i).is_err().then_some(s.length())
    };
    let lengths: Vec<Option<u64>> = inner
        .iter()
        .map(|&i| {
            let c = stored[i].node;
            let rule = counted
                .binary_search_by_key(&c.0, |k| k.node)
                .map(|k| &RULES[counted[k].rule as usize])
                .expect("every stored collection was counted");
            view.field(c.0, rule.via).and_then(length_of)
        })
        .collect();
    let mut drop_at = Vec::new();
    for (&i, length) in inner.iter().zip(lengths) {
        match length {
            Some(length) => stored[i].set_length(length),
            // Its backing collection was not found: not listed.
            None => drop_at.push(i),
        }
    }
    if !drop_at.is_empty() {
        let mut position = 0;
        stored.retain(|_| {
            position += 1;
            drop_at.binary_search(&(position - 1)).is_err()
        });
    }
    // A node counted twice (a corrupt dump repeating an id) is listed once.
    stored.dedup_by_key(|s| s.node);
    stored
}
