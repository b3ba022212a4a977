use std::collections::VecDeque;

use crate::{EdgeId, EdgeKind, HeapGraph, NodeId};

const NONE: u32 = u32::MAX;

/// Shortest retainer paths: for every node, the edge through which a breadth-first search
/// from the roots first reached it.
///
/// The search runs twice, as Chrome DevTools computes distances: first from the user roots
/// (V8: the global objects), then from the root for whatever is left. So an object that user
/// code can reach gets a path through user code, not through a VM handle table. Weak edges are
/// never followed.
#[derive(Clone, Debug)]
pub struct RetainerPaths {
    parent_edge: Vec<u32>,
}

impl RetainerPaths {
    pub fn compute(graph: &HeapGraph) -> RetainerPaths {
        let n = graph.node_count();
        let root = graph.root();
        let mut parent_edge = vec![NONE; n];
        let mut seen = crate::BitSet::new(n);
        seen.insert(root.index());
        let mut queue = VecDeque::new();

        let bfs =
            |queue: &mut VecDeque<NodeId>, seen: &mut crate::BitSet, parent_edge: &mut Vec<u32>| {
                while let Some(node) = queue.pop_front() {
                    for e in graph.edges(node) {
                        if graph.edge_kind(e) == EdgeKind::Weak {
                            continue;
                        }
                        let t = graph.edge_target(e);
                        if !seen.contains(t.index()) {
                            seen.insert(t.index());
                            parent_edge[t.index()] = e.0;
                            queue.push_back(t);
                        }
                    }
                }
            };

        // Phase 1: from the user roots, entered through the root's own edges to them.
        for e in graph.edges(root) {
            let t = graph.edge_target(e);
            if graph.user_roots().contains(&t)
                && graph.edge_kind(e) != EdgeKind::Weak
                && !seen.contains(t.index())
            {
                seen.insert(t.index());
                parent_edge[t.index()] = e.0;
                queue.push_back(t);
            }
        }
        bfs(&mut queue, &mut seen, &mut parent_edge);
        // Phase 2: everything else from the root.
        queue.push_back(root);
        bfs(&mut queue, &mut seen, &mut parent_edge);
        RetainerPaths { parent_edge }
    }

    /// The edge through which `n` is first reached, `None` for the root and for nodes no
    /// strong path reaches.
    pub fn parent_edge(&self, n: NodeId) -> Option<EdgeId> {
        let e = self.parent_edge[n.index()];
        (e != NONE).then_some(EdgeId(e))
    }

    /// The edges from the root to `n`, root side first. `None` when no strong path reaches
    /// `n`; empty for the root itself.
    pub fn path(&self, graph: &HeapGraph, n: NodeId) -> Option<Vec<EdgeId>> {
        let mut edges = Vec::new();
        let mut node = n;
        while node != graph.root() {
            let e = self.parent_edge(node)?;
            edges.push(e);
            node = graph.edge_source(e);
        }
        edges.reverse();
        Some(edges)
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.parent_edge.capacity() * 4
    }
}
