use std::collections::HashMap;

use plateau_graph::{HeapGraph, NodeId, NodeKind};

/// One string value held in several copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateString {
    /// One of the copies.
    pub node: NodeId,
    pub copies: u64,
    /// Bytes of one copy.
    pub size_each: u64,
    pub total_size: u64,
    /// Bytes that interning (keeping one copy) would free.
    pub wasted: u64,
}

/// Strings present in two or more copies, most wasteful first, and the bytes all duplicates
/// waste together.
///
/// V8's string table is de-duplicated, so equal contents share a name id; the size is part of
/// the key because V8 cuts names at 1024 characters.
pub fn duplicate_strings(graph: &HeapGraph, top: usize) -> (Vec<DuplicateString>, u64) {
    let mut groups: HashMap<(u32, u64), (u64, NodeId)> = HashMap::new();
    for node in graph.nodes() {
        if graph.kind(node) == NodeKind::String && graph.self_size(node) > 0 {
            groups
                .entry((graph.name_id(node).0, graph.self_size(node)))
                .or_insert((0, node))
                .0 += 1;
        }
    }
    let mut dups: Vec<DuplicateString> = groups
        .into_iter()
        .filter(|(_, (copies, _))| *copies >= 2)
        .map(|((_, size), (copies, node))| DuplicateString {
            node,
            copies,
            size_each: size,
            total_size: size * copies,
            wasted: size * (copies - 1),
        })
        .collect();
    let wasted_total = dups.iter().map(|d| d.wasted).sum();
    dups.sort_by(|a, b| b.wasted.cmp(&a.wasted).then(a.node.cmp(&b.node)));
    dups.truncate(top);
    (dups, wasted_total)
}
