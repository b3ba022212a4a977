use std::collections::VecDeque;

use crate::{prefetch, BitSet, EdgeId, EdgeKind, HeapGraph, NodeId};

/// Shortest retainer paths: for every node, the edge through which a breadth-first search
/// from the roots first reached it.
///
/// The search runs twice, as Chrome DevTools computes distances: first from the user roots
/// (V8: the global objects), then from the root for whatever is left. So an object that user
/// code can reach gets a path through user code, not through a VM handle table. Weak edges are
/// never followed.
#[derive(Clone, Debug)]
pub struct RetainerPaths {
    /// One more than the parent edge's id; 0 for none. Zero-filled, so that the pages of a
    /// search that stops early are never touched.
    parent_edge: Vec<u32>,
}

impl RetainerPaths {
    /// Paths to every node.
    pub fn compute(graph: &HeapGraph) -> RetainerPaths {
        Self::search(graph, None, 0)
    }

    /// Paths to `targets` (and to the nodes on them) only: the search stops once it has
    /// reached all of them, which on most heaps is after a small part of the graph, since
    /// the objects worth a path (big retainers, big collections) sit near the roots. Paths to
    /// other nodes may be missing.
    pub fn compute_to(graph: &HeapGraph, targets: &[NodeId]) -> RetainerPaths {
        Self::compute_to_with(graph, targets, None)
    }

    /// [`compute_to`](Self::compute_to) knowing which nodes the user roots reach (see
    /// [`Dominators::user_root_reach`](crate::Dominators::user_root_reach)). A target they
    /// do not reach is found by the second phase only, and its path cannot pass through
    /// anything they reach, so the first phase stops once it has the targets they do reach
    /// instead of covering all they reach (nearly the whole of a Java heap, whose threads
    /// lead to almost everything, while a class held as a system class is a common target).
    pub fn compute_to_with(
        graph: &HeapGraph,
        targets: &[NodeId],
        user_reach: Option<&BitSet>,
    ) -> RetainerPaths {
        let mut wanted: Vec<u32> = targets.iter().map(|t| t.0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        // The reach is by retaining edges, the search follows every strong edge: the two
        // agree unless a shortcut edge leaves a node other than the root.
        let user_reach = user_reach.filter(|_| !has_inner_shortcuts(graph));
        // (The root is reached before either phase.)
        let root = graph.root().0;
        let second_phase_only = user_reach.map_or(0, |reach| {
            wanted
                .iter()
                .filter(|&&t| t != root && !reach.contains(t as usize))
                .count()
        });
        Self::search(graph, Some(wanted), second_phase_only)
    }

    /// `second_phase_only`: how many wanted nodes the first phase cannot reach.
    fn search(
        graph: &HeapGraph,
        wanted: Option<Vec<u32>>,
        second_phase_only: usize,
    ) -> RetainerPaths {
        let n = graph.node_count();
        let root = graph.root();
        let mut search = Search {
            graph,
            parent_edge: vec![0; n],
            seen: BitSet::new(n),
            queue: VecDeque::new(),
            left: wanted.as_ref().map_or(usize::MAX, |w| w.len()),
            enough: second_phase_only,
            wanted: wanted.unwrap_or_default(),
        };
        search.seen.insert(root.index());
        search.reach(root);
        // Phase 1: from the user roots, entered through the root's own edges to them.
        for e in graph.edges(root) {
            let t = graph.edge_target(e);
            if graph.user_roots().contains(&t) && graph.edge_kind(e) != EdgeKind::Weak {
                search.visit(e, t);
            }
        }
        search.run();
        // Phase 2: everything else from the root. If phase 1 stopped early, what it left
        // queued is reached from the user roots, so no path phase 2 finds passes through it.
        search.queue.clear();
        search.enough = 0;
        search.queue.push_back(root);
        search.run();
        RetainerPaths {
            parent_edge: search.parent_edge,
        }
    }

    /// The edge through which `n` is first reached, `None` for the root and for nodes no
    /// strong path reaches.
    pub fn parent_edge(&self, n: NodeId) -> Option<EdgeId> {
        let e = self.parent_edge[n.index()];
        (e != 0).then(|| EdgeId(e - 1))
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

/// The breadth-first search's state.
struct Search<'a> {
    graph: &'a HeapGraph,
    parent_edge: Vec<u32>,
    seen: BitSet,
    queue: VecDeque<NodeId>,
    /// Sorted node ids the search is for; empty when it is for every node.
    wanted: Vec<u32>,
    /// Wanted nodes not reached yet (`usize::MAX` when every node is wanted).
    left: usize,
    /// The current phase stops when no more than this many are left.
    enough: usize,
}

/// Whether a shortcut edge leaves some node other than the root (V8's shortcuts from the
/// synthetic root are the usual ones).
fn has_inner_shortcuts(graph: &HeapGraph) -> bool {
    let root = graph.root();
    graph.nodes().filter(|&n| n != root).any(|n| {
        graph
            .edges(n)
            .any(|e| graph.edge_kind(e) == EdgeKind::Shortcut)
    })
}

/// How many queued nodes ahead the search asks for memory: the first edge of a node this far
/// on, the edges of one half as far, the marks and parent slots of the targets of one a sixth
/// as far (at 2 GB: 2.5 s with the next node's marks only, 1.8 s so).
const AHEAD: usize = 12;

impl Search<'_> {
    /// Marks the root's own arrival, which has no edge.
    fn reach(&mut self, n: NodeId) {
        if self.wanted.binary_search(&n.0).is_ok() {
            self.left -= 1;
        }
    }

    /// `t` reached through `e`, unless it was reached before.
    #[inline]
    fn visit(&mut self, e: EdgeId, t: NodeId) {
        if self.seen.contains(t.index()) {
            return;
        }
        self.seen.insert(t.index());
        self.parent_edge[t.index()] = e.0 + 1;
        self.queue.push_back(t);
        if !self.wanted.is_empty() {
            self.reach(t);
        }
    }

    /// Empties the queue, or stops when every wanted node is reached.
    fn run(&mut self) {
        let graph = self.graph;
        let first_edge = graph.first_edge();
        while self.left > self.enough {
            let Some(node) = self.queue.pop_front() else {
                break;
            };
            if let Some(far) = self.queue.get(AHEAD) {
                first_edge.prefetch(far.index());
            }
            if let Some(&half) = self.queue.get(AHEAD / 2) {
                let start = first_edge.get(half.index()) as usize;
                graph.prefetch_edge(start);
            }
            if let Some(&next) = self.queue.get(AHEAD / 6) {
                for e in graph.edges(next) {
                    let t = graph.edge_target(e).index();
                    self.seen.prefetch(t);
                    prefetch(&self.parent_edge, t);
                }
            }
            for e in graph.edges(node) {
                if graph.edge_kind(e) != EdgeKind::Weak {
                    self.visit(e, graph.edge_target(e));
                    if self.left <= self.enough {
                        return;
                    }
                }
            }
        }
    }
}
