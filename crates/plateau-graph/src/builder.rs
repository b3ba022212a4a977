use std::collections::HashMap;

use crate::{
    BitSet, ClassId, ClassInfo, ClassLinks, EdgeKind, GraphError, GraphParts, HeapGraph, NodeId,
    NodeKind, StrId, StringTable, NO_CLASS_OBJECT,
};

/// Builds a small [`HeapGraph`] edge by edge: for tests, examples and synthetic inputs.
/// Readers of real files fill [`GraphParts`] directly instead.
///
/// Each node's class is its name; object ids are `1, 3, 5, ...` in creation order, as V8 gives
/// JavaScript objects odd ids.
#[derive(Default)]
pub struct GraphBuilder {
    strings: StringTable,
    interned: HashMap<String, StrId>,
    kinds: Vec<NodeKind>,
    names: Vec<StrId>,
    sizes: Vec<u64>,
    ids: Vec<u64>,
    edges: Vec<(u32, EdgeKind, u32, NodeId)>,
    retaining_override: Vec<(usize, bool)>,
    user_roots: Vec<NodeId>,
    /// Class objects by class name, and the nodes with a class link.
    class_objects: HashMap<StrId, NodeId>,
    linked: Vec<NodeId>,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.interned.get(s) {
            return id;
        }
        let id = self.strings.push(s);
        self.interned.insert(s.to_string(), id);
        id
    }

    /// Adds a node and returns its id.
    pub fn node(&mut self, kind: NodeKind, name: &str, self_size: u64) -> NodeId {
        let name = self.intern(name);
        let id = NodeId(self.kinds.len() as u32);
        self.kinds.push(kind);
        self.names.push(name);
        self.sizes.push(self_size);
        self.ids.push(2 * id.0 as u64 + 1);
        id
    }

    /// Overrides the object id of a node (default `2 * index + 1`).
    pub fn set_object_id(&mut self, node: NodeId, object_id: u64) {
        self.ids[node.index()] = object_id;
    }

    /// Adds an edge; for element and hidden edges `name` must be a number.
    pub fn edge(&mut self, from: NodeId, kind: EdgeKind, name: &str, to: NodeId) -> usize {
        let raw = if kind.name_is_index() {
            name.parse().expect("index edge names are numbers")
        } else {
            self.intern(name).0
        };
        self.edges.push((from.0, kind, raw, to));
        self.edges.len() - 1
    }

    /// Decides for one edge (by the number [`edge`](Self::edge) returned) whether it retains,
    /// overriding the default rule.
    pub fn set_retaining(&mut self, edge: usize, retains: bool) {
        self.retaining_override.push((edge, retains));
    }

    /// Makes `object` the object of the class named `class_name` (a Java class object), for
    /// [`class_link`](Self::class_link).
    pub fn class_object(&mut self, class_name: &str, object: NodeId) {
        let name = self.intern(class_name);
        self.class_objects.insert(name, object);
    }

    /// Gives `node` a `<class>` link to its class's object (see
    /// [`ClassLinks`](crate::ClassLinks)), which must be declared with
    /// [`class_object`](Self::class_object).
    pub fn class_link(&mut self, node: NodeId) {
        self.linked.push(node);
    }

    /// Marks a node as a user root (V8: a global object).
    pub fn user_root(&mut self, node: NodeId) {
        self.user_roots.push(node);
    }

    /// Sorts edges by source (stable, so each node keeps its edge order) and builds the graph.
    pub fn finish(mut self, root: NodeId) -> Result<HeapGraph, GraphError> {
        let n = self.kinds.len();
        let mut order: Vec<usize> = (0..self.edges.len()).collect();
        order.sort_by_key(|&i| self.edges[i].0);
        let mut position = vec![0usize; self.edges.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new;
        }
        let mut first_edge = vec![0u32; n + 1];
        for &(from, ..) in &self.edges {
            first_edge[from as usize + 1] += 1;
        }
        for i in 0..n {
            first_edge[i + 1] += first_edge[i];
        }
        let sorted: Vec<_> = order.iter().map(|&i| self.edges[i]).collect();
        let edge_kinds: Vec<EdgeKind> = sorted.iter().map(|e| e.1).collect();
        let edge_targets: Vec<NodeId> = sorted.iter().map(|e| e.3).collect();
        let mut retaining =
            crate::default_retaining_edges(&first_edge, &edge_kinds, &edge_targets, root);
        for &(edge, retains) in &self.retaining_override {
            retaining.set(position[edge], retains);
        }
        // One class per distinct name.
        let mut class_of_name: HashMap<StrId, ClassId> = HashMap::new();
        let mut classes = Vec::new();
        let node_classes = self
            .names
            .iter()
            .map(|&name| {
                class_of_name
                    .entry(name)
                    .or_insert_with(|| {
                        classes.push(ClassInfo {
                            name,
                            location: None,
                        });
                        ClassId(classes.len() as u32 - 1)
                    })
                    .0
            })
            .collect::<Vec<u32>>()
            .into();
        let user_roots = std::mem::take(&mut self.user_roots);
        let class_links = (!self.linked.is_empty()).then(|| {
            let mut linked = BitSet::new(n);
            for node in &self.linked {
                linked.insert(node.index());
            }
            let class_objects = classes
                .iter()
                .map(|c| {
                    self.class_objects
                        .get(&c.name)
                        .map_or(NO_CLASS_OBJECT, |o| o.0)
                })
                .collect();
            ClassLinks {
                linked,
                class_objects,
                name: self.intern("<class>"),
            }
        });
        HeapGraph::from_parts(GraphParts {
            strings: self.strings,
            node_kinds: self.kinds,
            node_names: self.names.iter().map(|s| s.0).collect::<Vec<u32>>().into(),
            node_ids: self.ids.into(),
            node_id_shift: 0,
            self_sizes: self.sizes.into(),
            node_classes,
            classes,
            first_edge,
            edge_kinds,
            edge_names: sorted.iter().map(|e| e.2).collect::<Vec<u32>>().into(),
            edge_targets,
            retaining: Some(retaining),
            root,
            user_roots,
            locations: Vec::new(),
            collections: Vec::new(),
            class_links,
        })
    }
}
