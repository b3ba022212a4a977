use std::fmt;

use crate::column::{CodedColumn, IdColumn, SizeColumn};
use crate::EdgeStarts;
use crate::{BitSet, NameColumn, StringTable, U64Column};

/// A node (object) of a heap graph: its position in the graph's arrays.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// An edge (reference) of a heap graph: its position in the graph's edge arrays.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeId(pub u32);

/// A string of a graph's [`StringTable`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrId(pub u32);

/// A class (constructor, type) of a graph's class table.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u32);

impl NodeId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl EdgeId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ClassId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What sort of thing a node is. The V8 node types, which HPROF objects map onto.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NodeKind {
    Hidden,
    Array,
    String,
    Object,
    Code,
    Closure,
    RegExp,
    Number,
    Native,
    Synthetic,
    ConsString,
    SlicedString,
    Symbol,
    BigInt,
    ObjectShape,
    WasmObject,
    /// A type this version of plateau does not know.
    Other,
}

impl NodeKind {
    /// The lower-case name V8 uses for this type (`"concatenated string"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Hidden => "hidden",
            NodeKind::Array => "array",
            NodeKind::String => "string",
            NodeKind::Object => "object",
            NodeKind::Code => "code",
            NodeKind::Closure => "closure",
            NodeKind::RegExp => "regexp",
            NodeKind::Number => "number",
            NodeKind::Native => "native",
            NodeKind::Synthetic => "synthetic",
            NodeKind::ConsString => "concatenated string",
            NodeKind::SlicedString => "sliced string",
            NodeKind::Symbol => "symbol",
            NodeKind::BigInt => "bigint",
            NodeKind::ObjectShape => "object shape",
            NodeKind::WasmObject => "wasm object",
            NodeKind::Other => "other",
        }
    }

    /// The kind V8 calls `name`, or [`NodeKind::Other`].
    pub fn from_v8_name(name: &str) -> NodeKind {
        match name {
            "hidden" => NodeKind::Hidden,
            "array" => NodeKind::Array,
            "string" => NodeKind::String,
            "object" => NodeKind::Object,
            "code" => NodeKind::Code,
            "closure" => NodeKind::Closure,
            "regexp" => NodeKind::RegExp,
            "number" => NodeKind::Number,
            "native" => NodeKind::Native,
            "synthetic" => NodeKind::Synthetic,
            "concatenated string" => NodeKind::ConsString,
            "sliced string" => NodeKind::SlicedString,
            "symbol" => NodeKind::Symbol,
            "bigint" => NodeKind::BigInt,
            "object shape" => NodeKind::ObjectShape,
            "wasm object" => NodeKind::WasmObject,
            _ => NodeKind::Other,
        }
    }

    /// Strings of any representation (flat, concatenated, sliced).
    pub fn is_string(self) -> bool {
        matches!(
            self,
            NodeKind::String | NodeKind::ConsString | NodeKind::SlicedString
        )
    }
}

/// What sort of reference an edge is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EdgeKind {
    /// A closure's captured variable; the name is the variable's.
    Context,
    /// An array element; the name is an index.
    Element,
    /// A named property (or a Java field).
    Property,
    /// A VM-internal field such as `table` or `elements`.
    Internal,
    /// A numbered VM-internal reference; the name is an index.
    Hidden,
    /// A synthetic convenience link (V8: root to the global object).
    Shortcut,
    /// A reference that never keeps its target alive.
    Weak,
    /// A type this version of plateau does not know.
    Other,
}

impl EdgeKind {
    /// True when the edge's name is a number (an index), not a string.
    #[inline]
    pub fn name_is_index(self) -> bool {
        matches!(self, EdgeKind::Element | EdgeKind::Hidden)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Context => "context",
            EdgeKind::Element => "element",
            EdgeKind::Property => "property",
            EdgeKind::Internal => "internal",
            EdgeKind::Hidden => "hidden",
            EdgeKind::Shortcut => "shortcut",
            EdgeKind::Weak => "weak",
            EdgeKind::Other => "other",
        }
    }

    const ALL: [EdgeKind; 8] = [
        EdgeKind::Context,
        EdgeKind::Element,
        EdgeKind::Property,
        EdgeKind::Internal,
        EdgeKind::Hidden,
        EdgeKind::Shortcut,
        EdgeKind::Weak,
        EdgeKind::Other,
    ];

    /// The kind V8 calls `name`, or [`EdgeKind::Other`].
    pub fn from_v8_name(name: &str) -> EdgeKind {
        match name {
            "context" => EdgeKind::Context,
            "element" => EdgeKind::Element,
            "property" => EdgeKind::Property,
            "internal" => EdgeKind::Internal,
            "hidden" => EdgeKind::Hidden,
            "shortcut" => EdgeKind::Shortcut,
            "weak" => EdgeKind::Weak,
            _ => EdgeKind::Other,
        }
    }
}

/// Where in the source an object's constructor or a function was defined.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub script_id: u32,
    /// 0-based.
    pub line: u32,
    /// 0-based.
    pub column: u32,
}

/// A class of the graph: the name shown to users, and for runtimes where two constructors
/// can share a name (JavaScript), where it was defined.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClassInfo {
    pub name: StrId,
    pub location: Option<Location>,
}

/// What sort of collection a runtime says an object is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CollectionShape {
    Map,
    Set,
    List,
    Queue,
}

/// A collection whose element count the runtime keeps in a primitive field (a Java
/// `HashMap.size`), which a heap graph has no edge for: the reader reads it and hands it on.
/// 16 bytes: a 2 GB Java heap has millions of them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoredCollection {
    pub node: NodeId,
    pub shape: CollectionShape,
    length: u32,
    capacity: u32,
}

/// [`StoredCollection::capacity`] when there is no backing array.
const NO_CAPACITY: u32 = u32::MAX;

/// A count in the 32 bits a stored collection keeps, below [`NO_CAPACITY`].
fn saturate(count: u64) -> u32 {
    count.min(NO_CAPACITY as u64 - 1) as u32
}

impl StoredCollection {
    /// Counts past 32 bits (no runtime's collections hold that many) are kept as
    /// `u32::MAX - 1`.
    pub fn new(
        node: NodeId,
        shape: CollectionShape,
        length: u64,
        capacity: Option<u64>,
    ) -> StoredCollection {
        StoredCollection {
            node,
            shape,
            length: saturate(length),
            capacity: capacity.map_or(NO_CAPACITY, saturate),
        }
    }

    /// Entries or elements, as the collection counts them.
    pub fn length(&self) -> u64 {
        self.length as u64
    }

    pub fn set_length(&mut self, length: u64) {
        self.length = saturate(length);
    }

    /// Slots of its backing array (hash-table buckets, list capacity), when it has one.
    pub fn capacity(&self) -> Option<u64> {
        (self.capacity != NO_CAPACITY).then_some(self.capacity as u64)
    }
}

/// Java's `<class>` links: an edge from each instance and object array to its class's
/// object, kept as a rule instead of stored: over a third of a Java heap's references are
/// these (24 M of 67 M at 2 GB, 113 MiB of edge columns). Each linked node's link is
/// its first edge, before its stored ones; it is an [`EdgeKind::Internal`] edge named
/// `name`, it always retains (a node cannot be its own class object), and its [`EdgeId`] is
/// the stored edge count plus the node's index.
#[derive(Clone, Debug)]
pub struct ClassLinks {
    /// The nodes with a link.
    pub linked: BitSet,
    /// The object of each class (by [`ClassId`]), or [`NO_CLASS_OBJECT`]. A linked node's
    /// class must have one.
    pub class_objects: Vec<u32>,
    pub name: StrId,
}

/// [`ClassLinks::class_objects`] for a class with no object in the graph.
pub const NO_CLASS_OBJECT: u32 = u32::MAX;

/// The raw arrays a reader fills; [`HeapGraph::from_parts`] checks and adopts them.
///
/// Node arrays are indexed by [`NodeId`], edge arrays by [`EdgeId`]. The edges of node `n`
/// are `first_edge[n] .. first_edge[n + 1]`.
#[derive(Clone, Debug, Default)]
pub struct GraphParts {
    pub strings: StringTable,
    pub node_kinds: Vec<NodeKind>,
    /// [`StrId`]s, as they are or packed (see [`NameColumn`]).
    pub node_names: NameColumn,
    /// The runtime's own object id (V8 heap object id, HPROF address), shifted right by
    /// `node_id_shift` bits.
    pub node_ids: U64Column,
    /// Bits the ids were shifted right by to fit 4 bytes (HPROF: 8-aligned addresses, 3);
    /// 0 for ids stored as they are.
    pub node_id_shift: u32,
    /// Shallow size in bytes, after any runtime-specific size attribution.
    pub self_sizes: U64Column,
    /// [`ClassId`]s, as they are or packed (see [`NameColumn`]).
    pub node_classes: NameColumn,
    pub classes: Vec<ClassInfo>,
    /// Length `node count + 1`, non-decreasing, ending at the edge count.
    pub first_edge: Vec<u32>,
    pub edge_kinds: Vec<EdgeKind>,
    /// A [`StrId`] for named edges, an index for element and hidden edges.
    pub edge_names: NameColumn,
    pub edge_targets: Vec<NodeId>,
    /// Edges that keep their target alive, for dominators and retained sizes. `None` means
    /// [`default_retaining_edges`].
    pub retaining: Option<BitSet>,
    pub root: NodeId,
    /// Roots that user code owns (V8: the global objects). Retainer paths go through them
    /// in preference to VM-internal roots.
    pub user_roots: Vec<NodeId>,
    /// Definition sites of objects, sorted by node.
    pub locations: Vec<(NodeId, Location)>,
    /// Collections whose length the runtime stores in a field, sorted by node (empty for
    /// runtimes whose collections show their elements as edges, like V8).
    pub collections: Vec<StoredCollection>,
    /// Edges to class objects kept as a rule (Java); `None` for runtimes without them.
    pub class_links: Option<ClassLinks>,
}

/// Why a set of arrays does not form a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError(pub String);

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GraphError {}

/// An immutable heap graph in compressed-sparse-row form.
#[derive(Clone, Debug)]
pub struct HeapGraph {
    strings: StringTable,
    node_kinds: Vec<NodeKind>,
    node_names: CodedColumn,
    node_ids: IdColumn,
    self_sizes: SizeColumn,
    /// Σ self sizes, asked for in loops.
    total_size: u64,
    node_classes: CodedColumn,
    classes: Vec<ClassInfo>,
    first_edge: EdgeStarts,
    edge_names: CodedColumn,
    /// Target node in the low [`TARGET_BITS`] bits, [`EdgeKind`] above: one byte a reference
    /// less, which is 42 MB on a 1 GB snapshot.
    edge_targets_and_kinds: Vec<u32>,
    retaining: BitSet,
    root: NodeId,
    user_roots: Vec<NodeId>,
    locations: Vec<(NodeId, Location)>,
    collections: Vec<StoredCollection>,
    class_links: Option<ClassLinks>,
    /// How many nodes have a class link.
    link_count: usize,
}

/// The edges of a node: its class link, if it has one, then its stored edges.
#[derive(Clone, Debug)]
pub struct Edges {
    link: Option<EdgeId>,
    stored: std::ops::Range<u32>,
}

impl Iterator for Edges {
    type Item = EdgeId;

    #[inline]
    fn next(&mut self) -> Option<EdgeId> {
        match self.link.take() {
            Some(e) => Some(e),
            None => self.stored.next().map(EdgeId),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.stored.len() + self.link.is_some() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Edges {}

/// Bits of a packed edge that hold the target node.
const TARGET_BITS: u32 = 29;
const TARGET_MASK: u32 = (1 << TARGET_BITS) - 1;

/// The most nodes a graph can have: edge targets share their 32 bits with the edge kind.
pub const MAX_NODES: usize = TARGET_MASK as usize;

/// The retention rule every runtime shares: weak edges and self references never retain,
/// and shortcut edges retain only from the root.
pub fn default_retaining_edges(
    first_edge: &[u32],
    edge_kinds: &[EdgeKind],
    edge_targets: &[NodeId],
    root: NodeId,
) -> BitSet {
    // Edges come in source order: the source moves on as the edge index passes its end.
    let mut node = 0;
    BitSet::from_fn(edge_kinds.len(), |e| {
        while first_edge[node + 1] as usize <= e {
            node += 1;
        }
        (match edge_kinds[e] {
            EdgeKind::Weak => false,
            EdgeKind::Shortcut => node == root.index(),
            _ => true,
        }) && edge_targets[e].index() != node
    })
}

impl HeapGraph {
    /// Checks that the arrays are consistent and adopts them. Every check names what is wrong.
    pub fn from_parts(parts: GraphParts) -> Result<HeapGraph, GraphError> {
        /// Below this many edges a second thread costs more than it saves.
        const PARALLEL_MIN_EDGES: usize = 1 << 20;
        let n = parts.node_kinds.len();
        let e = parts.edge_kinds.len();
        let err = |msg: String| Err(GraphError(msg));
        if n == 0 {
            return err("the graph has no nodes".into());
        }
        // Class links take the edge ids after the stored edges, one per node.
        let id_space = e + if parts.class_links.is_some() { n } else { 0 };
        if n > MAX_NODES || id_space >= u32::MAX as usize {
            return err(format!(
                "{n} nodes and {e} edges exceed plateau's limits ({MAX_NODES} nodes, 2^32-1 edges)"
            ));
        }
        if let Some(links) = &parts.class_links {
            if links.linked.len() != n || links.class_objects.len() != parts.classes.len() {
                return err(format!(
                    "class links cover {} nodes and {} classes of {n} and {}",
                    links.linked.len(),
                    links.class_objects.len(),
                    parts.classes.len()
                ));
            }
        }
        for (what, len) in [
            ("node names", parts.node_names.len()),
            ("node ids", parts.node_ids.len()),
            ("self sizes", parts.self_sizes.len()),
            ("node classes", parts.node_classes.len()),
        ] {
            if len != n {
                return err(format!("{what}: {len} entries for {n} nodes"));
            }
        }
        for (what, len) in [
            ("edge names", parts.edge_names.len()),
            ("edge targets", parts.edge_targets.len()),
        ] {
            if len != e {
                return err(format!("{what}: {len} entries for {e} edges"));
            }
        }
        if parts.first_edge.len() != n + 1 {
            return err(format!(
                "first_edge has {} entries, expected {}",
                parts.first_edge.len(),
                n + 1
            ));
        }
        if parts.first_edge[0] != 0 || parts.first_edge[n] as usize != e {
            return err(format!(
                "edge index runs from {} to {}, expected 0 to {e}",
                parts.first_edge[0], parts.first_edge[n]
            ));
        }
        // The remaining checks scan every column; on a big graph the default retention rule
        // (a scan of the edges, which cannot fail) runs beside them.
        let check = || -> Result<(), GraphError> {
            let err = |msg: String| Err(GraphError(msg));
            // Scans without an early exit (they vectorize), then a search if one fails.
            let first_edge = &parts.first_edge;
            let decreases = first_edge
                .iter()
                .zip(&first_edge[1..])
                .fold(false, |any, (a, b)| any | (a > b));
            if decreases {
                let i = first_edge.windows(2).position(|w| w[0] > w[1]).unwrap_or(0);
                return err(format!("edge index decreases at node {i}"));
            }
            let highest = parts.edge_targets.iter().map(|t| t.0).max().unwrap_or(0);
            if highest as usize >= n {
                let i = parts
                    .edge_targets
                    .iter()
                    .position(|t| t.index() >= n)
                    .unwrap_or(0);
                return err(format!(
                    "edge {i} points to node {} of {n}",
                    parts.edge_targets[i].0
                ));
            }
            let strings = parts.strings.len();
            if let Some(i) = parts
                .node_names
                .first_failing(|s| (s as usize) < strings, |_| false)
            {
                return err(format!(
                    "node {i} names string {} of {strings}",
                    parts.node_names.get(i)
                ));
            }
            let kinds = &parts.edge_kinds;
            if let Some(i) = parts.edge_names.first_failing(
                |name| (name as usize) < strings,
                |i| kinds[i].name_is_index(),
            ) {
                let name = parts.edge_names.get(i);
                return err(format!("edge {i} names string {name} of {strings}"));
            }
            let classes = parts.classes.len();
            if let Some(i) = parts
                .node_classes
                .first_failing(|c| (c as usize) < classes, |_| false)
            {
                return err(format!(
                    "node {i} has class {} of {classes}",
                    parts.node_classes.get(i)
                ));
            }
            if let Some(c) = parts.classes.iter().find(|c| c.name.0 as usize >= strings) {
                return err(format!("a class names string {} of {strings}", c.name.0));
            }
            if let Some(links) = &parts.class_links {
                if links.name.0 as usize >= strings {
                    return err(format!(
                        "class links name string {} of {strings}",
                        links.name.0
                    ));
                }
                if let Some(&o) = links
                    .class_objects
                    .iter()
                    .find(|&&o| o != NO_CLASS_OBJECT && o as usize >= n)
                {
                    return err(format!("a class object is node {o} of {n}"));
                }
                // By class (a scan of the class codes), the nodes without a link aside.
                let without_object = |c: u32| links.class_objects[c as usize] == NO_CLASS_OBJECT;
                if let Some(v) = parts
                    .node_classes
                    .first_failing(|c| !without_object(c), |v| !links.linked.contains(v))
                {
                    return err(format!("node {v} has a class link but its class no object"));
                }
                // A self reference, which would not retain: no runtime makes one. (Class
                // objects are nodes: checked above.)
                if let Some(&o) = links.class_objects.iter().enumerate().find_map(|(c, o)| {
                    let linked_to_itself = *o != NO_CLASS_OBJECT
                        && links.linked.contains(*o as usize)
                        && parts.node_classes.get(*o as usize) as usize == c;
                    linked_to_itself.then_some(o)
                }) {
                    return err(format!("node {o} is linked to itself as its class"));
                }
            }
            if parts.root.index() >= n {
                return err(format!("root {} is not one of {n} nodes", parts.root.0));
            }
            if let Some(r) = parts.user_roots.iter().find(|r| r.index() >= n) {
                return err(format!("user root {} is not one of {n} nodes", r.0));
            }
            if parts.locations.iter().any(|(node, _)| node.index() >= n)
                || parts.locations.windows(2).any(|w| w[0].0 > w[1].0)
            {
                return err("locations must be sorted by node and name existing nodes".into());
            }
            if parts.collections.iter().any(|c| c.node.index() >= n)
                || parts.collections.windows(2).any(|w| w[0].node >= w[1].node)
            {
                return err(
                    "collections must be sorted by node and name existing nodes once".into(),
                );
            }
            Ok(())
        };
        let retaining = match parts.retaining {
            Some(bits) if bits.len() != e => {
                return err(format!(
                    "retaining-edge set covers {} edges of {e}",
                    bits.len()
                ))
            }
            Some(bits) => {
                check()?;
                bits
            }
            None => {
                let rule = || {
                    default_retaining_edges(
                        &parts.first_edge,
                        &parts.edge_kinds,
                        &parts.edge_targets,
                        parts.root,
                    )
                };
                if e < PARALLEL_MIN_EDGES {
                    check()?;
                    rule()
                } else {
                    let (checked, bits) = std::thread::scope(|scope| {
                        let bits = scope.spawn(rule);
                        (
                            check(),
                            bits.join().expect("the retention rule does not panic"),
                        )
                    });
                    checked?;
                    bits
                }
            }
        };
        let link_count = parts
            .class_links
            .as_ref()
            .map_or(0, |links| links.linked.count_ones());
        let mut strings = parts.strings;
        strings.shrink_to_fit();
        // The edge columns (with the node ids, for balance) and the other node columns are
        // packed side by side on big graphs.
        let (edge_kinds, edge_targets, edge_names) =
            (parts.edge_kinds, parts.edge_targets, parts.edge_names);
        let (node_ids, node_id_shift) = (parts.node_ids, parts.node_id_shift);
        let pack_edges = move || {
            // Kinds go into the targets' high bits, in place: no second array at any time.
            let mut packed: Vec<u32> = edge_targets.into_iter().map(|t| t.0).collect();
            for (slot, kind) in packed.iter_mut().zip(edge_kinds) {
                *slot |= (kind as u32) << TARGET_BITS;
            }
            (
                packed,
                edge_names.into_coded(),
                IdColumn::pack(node_ids, node_id_shift),
            )
        };
        let total_size = parts.self_sizes.sum();
        let (node_names, node_classes, self_sizes, first_edge) = (
            parts.node_names,
            parts.node_classes,
            parts.self_sizes,
            parts.first_edge,
        );
        let pack_nodes = move || {
            (
                node_names.into_coded(),
                node_classes.into_coded(),
                SizeColumn::pack(self_sizes),
                EdgeStarts::pack(&first_edge),
            )
        };
        let ((packed, edge_names, node_ids), (node_names, node_classes, self_sizes, first_edge)) =
            if e < PARALLEL_MIN_EDGES {
                (pack_edges(), pack_nodes())
            } else {
                std::thread::scope(|scope| {
                    let edges = scope.spawn(pack_edges);
                    let nodes = pack_nodes();
                    (edges.join().expect("packing does not panic"), nodes)
                })
            };
        Ok(HeapGraph {
            strings,
            node_kinds: parts.node_kinds,
            node_names,
            node_ids,
            total_size,
            self_sizes,
            node_classes,
            classes: parts.classes,
            first_edge,
            edge_names,
            edge_targets_and_kinds: packed,
            retaining,
            root: parts.root,
            user_roots: parts.user_roots,
            locations: parts.locations,
            collections: parts.collections,
            class_links: parts.class_links,
            link_count,
        })
    }

    #[inline]
    pub fn node_count(&self) -> usize {
        self.node_kinds.len()
    }

    /// Edges, class links included.
    #[inline]
    pub fn edge_count(&self) -> usize {
        self.edge_targets_and_kinds.len() + self.link_count
    }

    /// Edges stored in the edge arrays: those [`first_edge`](Self::first_edge) delimits and
    /// [`retaining_edges`](Self::retaining_edges) covers. Class links come after.
    #[inline]
    pub fn stored_edge_count(&self) -> usize {
        self.edge_targets_and_kinds.len()
    }

    /// The target of `n`'s class link (its class's object), if it has one.
    #[inline]
    pub fn class_link(&self, n: NodeId) -> Option<NodeId> {
        let links = self.class_links.as_ref()?;
        links
            .linked
            .contains(n.index())
            .then(|| NodeId(links.class_objects[self.class(n).index()]))
    }

    /// Each class object with how many nodes link to it, in class order (empty without
    /// class links).
    pub fn class_link_counts(&self) -> Vec<(NodeId, u32)> {
        let Some(links) = &self.class_links else {
            return Vec::new();
        };
        let mut by_class = vec![0u32; self.classes.len()];
        for v in links.linked.ones() {
            by_class[self.class(NodeId(v as u32)).index()] += 1;
        }
        by_class
            .iter()
            .zip(&links.class_objects)
            .filter(|&(&count, _)| count > 0)
            .map(|(&count, &object)| (NodeId(object), count))
            .collect()
    }

    /// Whether `n` has a class link (without finding its target).
    #[inline]
    fn is_linked(&self, n: NodeId) -> bool {
        self.class_links
            .as_ref()
            .is_some_and(|links| links.linked.contains(n.index()))
    }

    /// Whether the graph keeps class links at all (a Java heap).
    #[inline]
    pub fn has_class_links(&self) -> bool {
        self.class_links.is_some()
    }

    /// The edge id of `n`'s class link.
    #[inline]
    fn link_edge(&self, n: NodeId) -> EdgeId {
        EdgeId((self.edge_targets_and_kinds.len() + n.index()) as u32)
    }

    /// The node whose class link `e` is, when `e` is one (never in a graph without links,
    /// where an id past the stored edges stays an error).
    #[inline]
    fn link_source(&self, e: EdgeId) -> Option<NodeId> {
        let stored = self.edge_targets_and_kinds.len() as u32;
        (e.0 >= stored && self.class_links.is_some()).then(|| NodeId(e.0 - stored))
    }

    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeId> + Clone {
        (0..self.node_count() as u32).map(NodeId)
    }

    #[inline]
    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn user_roots(&self) -> &[NodeId] {
        &self.user_roots
    }

    pub fn strings(&self) -> &StringTable {
        &self.strings
    }

    #[inline]
    pub fn kind(&self, n: NodeId) -> NodeKind {
        self.node_kinds[n.index()]
    }

    /// The node's name: constructor name for objects, contents for strings.
    #[inline]
    pub fn name(&self, n: NodeId) -> &str {
        self.strings.get(StrId(self.node_names.get(n.index())))
    }

    #[inline]
    pub fn name_id(&self, n: NodeId) -> StrId {
        StrId(self.node_names.get(n.index()))
    }

    /// The runtime's id of the object.
    #[inline]
    pub fn object_id(&self, n: NodeId) -> u64 {
        self.node_ids.get(n.index())
    }

    #[inline]
    pub fn self_size(&self, n: NodeId) -> u64 {
        self.self_sizes.get(n.index())
    }

    /// Every node's self size, in node order.
    pub fn self_sizes(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        (0..self.self_sizes.len()).map(|i| self.self_sizes.get(i))
    }

    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    #[inline]
    pub fn class(&self, n: NodeId) -> ClassId {
        ClassId(self.node_classes.get(n.index()))
    }

    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    pub fn class_info(&self, c: ClassId) -> &ClassInfo {
        &self.classes[c.index()]
    }

    pub fn class_name(&self, c: ClassId) -> &str {
        self.strings.get(self.classes[c.index()].name)
    }

    /// The node's class name.
    #[inline]
    pub fn class_name_of(&self, n: NodeId) -> &str {
        self.class_name(self.class(n))
    }

    /// Where the node's constructor (or function) was defined, when the snapshot says.
    pub fn location(&self, n: NodeId) -> Option<Location> {
        self.locations
            .binary_search_by_key(&n, |(node, _)| *node)
            .ok()
            .map(|i| self.locations[i].1)
    }

    /// The outgoing edges of `n`: its class link first, if it has one, then its stored
    /// edges.
    #[inline]
    pub fn edges(&self, n: NodeId) -> Edges {
        let i = n.index();
        Edges {
            link: self.is_linked(n).then(|| self.link_edge(n)),
            stored: self.first_edge.get(i)..self.first_edge.get(i + 1),
        }
    }

    #[inline]
    pub fn out_degree(&self, n: NodeId) -> usize {
        let i = n.index();
        (self.first_edge.get(i + 1) - self.first_edge.get(i)) as usize + self.is_linked(n) as usize
    }

    /// Where each node's stored edges start (`node count + 1` entries); a pass over them
    /// alone misses the class links (see [`class_link`](Self::class_link)).
    pub fn first_edge(&self) -> &EdgeStarts {
        &self.first_edge
    }

    /// Asks the CPU to bring edge `e` into cache (see [`crate::prefetch`]).
    #[inline]
    pub(crate) fn prefetch_edge(&self, e: usize) {
        crate::prefetch(&self.edge_targets_and_kinds, e);
    }

    #[inline]
    pub fn edge_kind(&self, e: EdgeId) -> EdgeKind {
        match self.edge_targets_and_kinds.get(e.index()) {
            Some(&packed) => EdgeKind::ALL[(packed >> TARGET_BITS) as usize],
            None => EdgeKind::Internal,
        }
    }

    /// The target of stored edge `e`, without the class-link case.
    #[inline]
    pub(crate) fn stored_edge_target(&self, e: usize) -> u32 {
        self.edge_targets_and_kinds[e] & TARGET_MASK
    }

    #[inline]
    pub fn edge_target(&self, e: EdgeId) -> NodeId {
        match self.edge_targets_and_kinds.get(e.index()) {
            Some(&packed) => NodeId(packed & TARGET_MASK),
            None => self.link_target(e),
        }
    }

    /// The target of class link `e`.
    #[inline(never)]
    fn link_target(&self, e: EdgeId) -> NodeId {
        let source = self
            .link_source(e)
            .expect("an edge id past the stored edges");
        self.class_link(source).expect("a linked node")
    }

    /// The node an edge leaves from (a binary search; for rare lookups such as paths).
    pub fn edge_source(&self, e: EdgeId) -> NodeId {
        if let Some(source) = self.link_source(e) {
            return source;
        }
        let after = self.first_edge.count_at_most(e.0);
        NodeId((after - 1) as u32)
    }

    /// The raw name field: a string id or, for element and hidden edges, an index.
    #[inline]
    pub fn edge_name_raw(&self, e: EdgeId) -> u32 {
        match (&self.class_links, self.link_source(e)) {
            (Some(links), Some(_)) => links.name.0,
            _ => self.edge_names.get(e.index()),
        }
    }

    /// The edge's name as a string, `None` for index-named edges.
    #[inline]
    pub fn edge_name(&self, e: EdgeId) -> Option<&str> {
        let kind = self.edge_kind(e);
        (!kind.name_is_index()).then(|| self.strings.get(StrId(self.edge_name_raw(e))))
    }

    /// The edge as a user reads it: `cache`, `[12]`, `<symbol kHandle>`.
    pub fn edge_label(&self, e: EdgeId) -> String {
        match self.edge_name(e) {
            None => format!("[{}]", self.edge_name_raw(e)),
            Some(name) => name.to_string(),
        }
    }

    /// True when the edge keeps its target alive (counts for dominators). Class links do.
    #[inline]
    pub fn retains(&self, e: EdgeId) -> bool {
        self.link_source(e).is_some() || self.retaining.contains(e.index())
    }

    /// The retaining stored edges (class links, which all retain, are not in it).
    pub fn retaining_edges(&self) -> &BitSet {
        &self.retaining
    }

    /// Bytes of heap memory the graph holds.
    pub fn heap_bytes(&self) -> usize {
        self.strings.heap_bytes()
            + self.node_kinds.capacity()
            + self.node_names.heap_bytes()
            + self.node_ids.heap_bytes()
            + self.self_sizes.heap_bytes()
            + self.node_classes.heap_bytes()
            + self.first_edge.heap_bytes()
            + self.edge_names.heap_bytes()
            + self.edge_targets_and_kinds.capacity() * 4
            + self.retaining.heap_bytes()
            + self.locations.capacity() * 16
            + self.collections.capacity() * std::mem::size_of::<StoredCollection>()
            + self.class_links.as_ref().map_or(0, |links| {
                links.linked.heap_bytes() + links.class_objects.capacity() * 4
            })
    }

    /// Collections whose length the reader read from their fields, sorted by node.
    pub fn stored_collections(&self) -> &[StoredCollection] {
        &self.collections
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three nodes: the root (class 0) points to an instance (class 1) that points to its
    /// class's object (node 2), with a class link from the instance as well.
    fn parts() -> GraphParts {
        let mut strings = StringTable::new();
        let name = strings.push("C");
        GraphParts {
            strings,
            node_kinds: vec![NodeKind::Synthetic, NodeKind::Object, NodeKind::Object],
            node_names: vec![name.0; 3].into(),
            node_ids: vec![0u64, 8, 16].into(),
            self_sizes: vec![0u64, 16, 24].into(),
            node_classes: vec![0u32, 1, 0].into(),
            classes: vec![
                ClassInfo {
                    name,
                    location: None,
                };
                2
            ],
            first_edge: vec![0, 1, 2, 2],
            edge_kinds: vec![EdgeKind::Property; 2],
            edge_names: vec![name.0; 2].into(),
            edge_targets: vec![NodeId(1), NodeId(2)],
            class_links: Some(ClassLinks {
                linked: BitSet::from_fn(3, |v| v == 1),
                class_objects: vec![NO_CLASS_OBJECT, 2],
                name,
            }),
            ..GraphParts::default()
        }
    }

    fn refused(parts: GraphParts) -> String {
        match HeapGraph::from_parts(parts) {
            Ok(_) => panic!("inconsistent parts were accepted"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn each_inconsistency_is_named() {
        let g = HeapGraph::from_parts(parts()).expect("consistent parts");
        assert_eq!(g.class_link(NodeId(1)), Some(NodeId(2)));

        let mut p = parts();
        p.first_edge = vec![0, 2, 1, 2];
        assert_eq!(refused(p), "edge index decreases at node 1");
        let mut p = parts();
        p.edge_targets[1] = NodeId(3);
        assert_eq!(refused(p), "edge 1 points to node 3 of 3");
        let mut p = parts();
        p.class_links.as_mut().unwrap().linked.insert(0);
        assert_eq!(
            refused(p),
            "node 0 has a class link but its class no object"
        );
        // The class object of class 1 is of class 1 itself, and linked.
        let mut p = parts();
        p.node_classes = vec![0u32, 1, 1].into();
        p.class_links.as_mut().unwrap().linked.insert(2);
        assert_eq!(refused(p), "node 2 is linked to itself as its class");
    }
}
