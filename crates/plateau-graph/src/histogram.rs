use crate::{ClassId, DominatorTree, Dominators, HeapGraph, NodeId};

/// Per-class totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassStats {
    pub class: ClassId,
    /// Objects of the class with a non-zero shallow size.
    pub count: u64,
    pub shallow_size: u64,
    /// Bytes the class's objects retain together, each counted once: an object dominated by
    /// another object of the same class adds nothing (Chrome DevTools' top-ancestor rule).
    pub retained_size: u64,
}

/// The class histogram, in class order. Zero-sized nodes (V8 sizes that were attributed to
/// their owner) are left out of counts, as Chrome DevTools leaves them out.
pub fn class_histogram(graph: &HeapGraph, dom: &Dominators) -> Vec<ClassStats> {
    class_histogram_with(graph, dom, &dom.tree())
}

/// [`class_histogram`] with the dominator tree at hand (it costs 8 bytes a node to build).
pub fn class_histogram_with(
    graph: &HeapGraph,
    dom: &Dominators,
    tree: &DominatorTree,
) -> Vec<ClassStats> {
    let mut stats: Vec<ClassStats> = (0..graph.class_count() as u32)
        .map(|c| ClassStats {
            class: ClassId(c),
            count: 0,
            shallow_size: 0,
            retained_size: 0,
        })
        .collect();
    for node in graph.nodes() {
        let size = graph.self_size(node);
        if size > 0 {
            let s = &mut stats[graph.class(node).index()];
            s.count += 1;
            s.shallow_size += size;
        }
    }

    // Walk the dominator tree keeping the set of classes on the path from the root: a node
    // whose class is already on the path is inside an object of its class and adds nothing.
    const EXIT: u64 = 1 << 32;
    let mut on_path = vec![false; graph.class_count()];
    let mut stack: Vec<u64> = vec![graph.root().0 as u64];
    while let Some(item) = stack.pop() {
        if item & EXIT != 0 {
            on_path[(item & !EXIT) as usize] = false;
            continue;
        }
        let node = NodeId(item as u32);
        let class = graph.class(node);
        let children = tree.children(node);
        if !on_path[class.index()] && graph.self_size(node) > 0 {
            stats[class.index()].retained_size += dom.retained_size(node);
            if !children.is_empty() {
                on_path[class.index()] = true;
                stack.push(EXIT | class.0 as u64);
            }
        }
        stack.extend(children.iter().rev().map(|c| c.0 as u64));
    }
    stats
}
