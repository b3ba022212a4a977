use std::collections::HashMap;

use plateau_graph::{EdgeKind, HeapGraph, NodeId, NodeKind};

use crate::names::TopK;

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

/// Bytes of one copy of a string: the string object, plus its character array where that is
/// an object of its own (a Java `String`'s `value`).
fn string_bytes(graph: &HeapGraph, node: NodeId) -> u64 {
    let arrays: u64 = graph
        .edges(node)
        .filter(|&e| {
            graph.edge_kind(e) == EdgeKind::Property
                && graph.edge_name(e) == Some("value")
                && graph.kind(graph.edge_target(e)) == NodeKind::Array
        })
        .map(|e| graph.self_size(graph.edge_target(e)))
        .sum();
    graph.self_size(node) + arrays
}

/// Strings present in two or more copies, most wasteful first, and the bytes all duplicates
/// waste together.
///
/// A Java string's copy counts its `value` array too: interning frees both.
///
/// V8's string table is de-duplicated, so equal contents share a name id: copies are counted
/// per id in a flat array. The size is part of a group's key because V8 cuts names at 1024
/// characters (two long strings can share a name), so the few ids seen twice are split by
/// size in a second pass.
pub fn duplicate_strings(graph: &HeapGraph, top: usize) -> (Vec<DuplicateString>, u64) {
    let is_string =
        |node: NodeId| graph.kind(node) == NodeKind::String && graph.self_size(node) > 0;
    // Copies of each name, then, in place, the group of each name seen twice or more: its
    // first copy, that copy's size, and how many copies have that size; copies of another
    // size (rare) are grouped by name and size beside. A hash map of every group took
    // 110 MiB at the peak of a 2 GB Java heap's summary.
    let mut slots = vec![0u32; graph.strings().len()];
    for node in graph.nodes().filter(|&n| is_string(n)) {
        let c = &mut slots[graph.name_id(node).0 as usize];
        *c = c.saturating_add(1);
    }
    const SINGLE: u32 = u32::MAX;
    let mut groups: Vec<(NodeId, u64, u64)> = Vec::new();
    for slot in &mut slots {
        if *slot >= 2 {
            *slot = groups.len() as u32;
            groups.push((NodeId(SINGLE), 0, 0));
        } else {
            *slot = SINGLE;
        }
    }
    let mut others: HashMap<(u32, u64), (u64, NodeId)> = HashMap::new();
    for node in graph.nodes().filter(|&n| is_string(n)) {
        let name = graph.name_id(node).0;
        let slot = slots[name as usize];
        if slot == SINGLE {
            continue;
        }
        let size = string_bytes(graph, node);
        let group = &mut groups[slot as usize];
        if group.0 .0 == SINGLE {
            *group = (node, 1, size);
        } else if group.2 == size {
            group.1 += 1;
        } else {
            others.entry((name, size)).or_insert((0, node)).0 += 1;
        }
    }
    drop(slots);
    let groups = groups
        .into_iter()
        .map(|(node, copies, size)| (size, (copies, node)))
        .chain(others.into_iter().map(|((_, size), group)| (size, group)));
    let mut wasted_total = 0;
    let mut largest = TopK::new(top);
    for (size, (copies, node)) in groups {
        if copies >= 2 {
            let wasted = size * (copies - 1);
            wasted_total += wasted;
            largest.push(wasted, (node, copies, size));
        }
    }
    let dups = largest
        .into_sorted()
        .into_iter()
        .map(|(wasted, (node, copies, size))| DuplicateString {
            node,
            copies,
            size_each: size,
            total_size: size * copies,
            wasted,
        })
        .collect();
    (dups, wasted_total)
}
