//! Dominator tree and retained sizes by the semi-NCA algorithm (Georgiadis, "Linear-Time
//! Algorithms for Dominators and Related Problems", 2005; the variant LLVM and LeakCanary use):
//! an iterative DFS, semidominators by path-compressed evaluation, then immediate dominators as
//! nearest common ancestors in the DFS tree. Near-linear time, no recursion, and about 24 bytes
//! per node plus 4 per retaining edge that is not a DFS-tree edge while it runs.
//!
//! What counts as "reachable" follows Chrome DevTools, so retained sizes agree with it:
//! only retaining edges are followed from the root; a node that no retaining edge reaches at
//! all (held only weakly) hangs directly off the root, and so does anything left over after
//! that (cycles held only by each other). Formally the tree is the dominator tree of the graph
//! of retaining edges plus a virtual edge root -> v for each such node v.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::{prefetch, BitSet, EdgeId, HeapGraph, NodeId, U64Column};

const NONE: u32 = u32::MAX;

/// How many edges or predecessors ahead the passes over them prefetch what they will read.
const AHEAD: usize = 16;

/// The dominator tree of a heap graph, with retained sizes.
#[derive(Clone, Debug)]
pub struct Dominators {
    idom: Vec<NodeId>,
    retained: U64Column,
    /// Objects in each node's dominator subtree, when asked for.
    dominated: Option<Vec<u32>>,
    strongly_reachable: BitSet,
    weak_only_size: u64,
    weak_only_count: usize,
}

/// What [`Dominators::compute_with`] computes, and how it trades memory for time.
#[derive(Clone, Debug, Default)]
pub struct DominatorOptions {
    /// Also count the objects in each node's dominator subtree (4 bytes a node).
    pub subtree_counts: bool,
    /// Keep the DFS numbering through the semidominator loop (8 bytes a node more at the
    /// peak) instead of running the DFS a second time: about 15% faster.
    pub keep_numbering: bool,
}

/// Below this many edges everything runs on one thread: a thread costs more than it saves.
const PARALLEL_MIN_EDGES: usize = 1 << 20;

/// The edge passes are bound by memory latency; past a few threads they gain nothing.
const MAX_THREADS: usize = 4;

/// Marks the first predecessor of a vertex's group (DFS numbers stay below 2^31).
const GROUP_START: u32 = 1 << 31;

/// The children lists of a dominator tree, for walks from the root down. Built on demand
/// because it costs 8 bytes a node.
#[derive(Clone, Debug)]
pub struct DominatorTree {
    first_child: Vec<u32>,
    children: Vec<NodeId>,
}

impl DominatorTree {
    /// Nodes `n` immediately dominates, in node order.
    #[inline]
    pub fn children(&self, n: NodeId) -> &[NodeId] {
        let i = n.index();
        &self.children[self.first_child[i] as usize..self.first_child[i + 1] as usize]
    }
}

impl Dominators {
    /// Computes the dominator tree of `graph` from its root.
    ///
    /// Memory is the constraint on big heaps, so the phases are arranged to keep few
    /// node-sized arrays alive at once: the DFS is run twice (the second run rebuilds the
    /// numbering and tree the first one had, after the semidominator loop freed its arrays),
    /// and predecessor groups are delimited by a marker bit instead of an index array.
    pub fn compute(graph: &HeapGraph) -> Dominators {
        Self::compute_with(graph, &DominatorOptions::default())
    }

    /// [`compute`](Self::compute) with options: subtree counts (the snapshot diff wants
    /// them), and speed over memory.
    pub fn compute_with(graph: &HeapGraph, options: &DominatorOptions) -> Dominators {
        let threads = if graph.edge_count() < PARALLEL_MIN_EDGES {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        };
        Self::compute_on(graph, options, threads)
    }

    /// [`compute_with`](Self::compute_with) on `threads` threads; the result does not
    /// depend on how many.
    fn compute_on(graph: &HeapGraph, options: &DominatorOptions, threads: usize) -> Dominators {
        let n = graph.node_count();
        let root = graph.root();

        let mut numbering = Numbering::run(graph);
        let strongly_reached = numbering.strongly_reached as u32;
        // By DFS number rather than through `vertex`: a sequential scan instead of scattered
        // writes.
        let mut strongly_reachable = BitSet::new(n);
        for (v, &d) in numbering.pre.iter().enumerate() {
            if d < strongly_reached {
                strongly_reachable.insert(v);
            }
        }
        // Vertices given a virtual edge from the root, by DFS number.
        let mut from_root = BitSet::new(0);
        if !numbering.from_root.is_empty() {
            from_root = BitSet::new(n);
            for v in (strongly_reached as usize..n).map(|d| numbering.vertex[d] as usize) {
                if numbering.from_root.contains(v) {
                    from_root.insert(numbering.pre[v] as usize);
                }
            }
        }
        let kept_vertex = if options.keep_numbering {
            std::mem::take(&mut numbering.vertex)
        } else {
            numbering.vertex = Vec::new();
            Vec::new()
        };
        let Numbering { pre, parent, .. } = numbering;

        let Predecessors { preds, has_preds } = Predecessors::build(graph, &pre, &parent, threads);
        drop(pre);

        // Semidominators, in decreasing DFS order. `link[v]` is `[ancestor, best]`: the
        // ancestor starts as the DFS parent (and still is for a vertex when its turn comes)
        // and is path-compressed; `best` is the least semidominator on the compressed path.
        // Keeping the two side by side, and the semidominator itself rather than the vertex
        // that has it, makes an evaluation step touch one cache line instead of three.
        let mut link: Vec<[u32; 2]> = parent.iter().zip(0..).map(|(&p, v)| [p, v]).collect();
        let kept_parent = if options.keep_numbering {
            parent
        } else {
            drop(parent);
            Vec::new()
        };
        let mut semi = vec![0u32; n];
        let mut path: Vec<u32> = Vec::new();
        let mut end = preds.len();
        for w in (1..n).rev() {
            let mut s = link[w][0];
            if has_preds.contains(w) {
                // The group runs from its marked first entry up to `end`.
                let mut first = end - 1;
                while preds[first] & GROUP_START == 0 {
                    first -= 1;
                }
                for i in first..end {
                    if i + AHEAD < end {
                        prefetch(&link, (preds[i + AHEAD] & !GROUP_START) as usize);
                    }
                    let v = preds[i] & !GROUP_START;
                    s = s.min(eval(v, w as u32 + 1, &mut link, &mut path));
                    if s == 0 {
                        // Nothing is lower than the root: the rest of the group cannot
                        // change the semidominator. On a 2 GB Java heap this leaves 3.1 M of
                        // 35 M evaluations (14 M when groups were read from their end): the
                        // big groups are instances pointing to their class object, and one
                        // of the first instances already leads back to the root.
                        break;
                    }
                }
                end = first;
            }
            if !from_root.is_empty() && from_root.contains(w) {
                s = 0;
            }
            semi[w] = s;
            link[w][1] = s;
        }
        drop(preds);
        drop(link);
        drop(has_preds);
        drop(from_root);

        // Immediate dominators: the nearest ancestor of the DFS parent at or above the
        // semidominator. The second DFS gives back the numbering and the tree.
        let (vertex, parent) = if options.keep_numbering {
            (kept_vertex, kept_parent)
        } else {
            let again = Numbering::run(graph);
            (again.vertex, again.parent)
        };
        let mut idom = parent;
        for w in 1..n {
            let mut candidate = idom[w];
            while candidate > semi[w] {
                candidate = idom[candidate as usize];
            }
            idom[w] = candidate;
        }
        drop(semi);

        // The node-space dominator array and the retained sizes are independent given the
        // DFS-space tree, so they are built side by side. Retained sizes go children before
        // their dominators (reverse DFS order); four bytes a node suffice whenever the whole
        // heap is under 4 GiB.
        let sizes = graph.self_sizes();
        let node_idoms = || {
            let mut idom_node = vec![root; n];
            for d in 1..n {
                idom_node[vertex[d] as usize] = NodeId(vertex[idom[d] as usize]);
            }
            idom_node
        };
        let retained_sizes = || {
            let mut retained = U64Column::filled(n, graph.total_size());
            match &mut retained {
                U64Column::Narrow(r) => {
                    for (slot, size) in r.iter_mut().zip(sizes.iter()) {
                        // Fits: no size exceeds the total, which fits.
                        *slot = size as u32;
                    }
                    accumulate(r, &vertex, &idom);
                }
                U64Column::Wide(r) => {
                    for (slot, size) in r.iter_mut().zip(sizes.iter()) {
                        *slot = size;
                    }
                    accumulate(r, &vertex, &idom);
                }
            }
            retained
        };
        let (idom_node, retained) = if threads > 1 {
            std::thread::scope(|scope| {
                let retained = scope.spawn(retained_sizes);
                let idom_node = node_idoms();
                (idom_node, retained.join().expect("retained sizes"))
            })
        } else {
            (node_idoms(), retained_sizes())
        };
        drop(idom);
        let dominated = options.subtree_counts.then(|| {
            let mut counts = vec![1u32; n];
            for d in (1..n).rev() {
                let v = vertex[d] as usize;
                let up = idom_node[v].index();
                counts[up] = counts[up].saturating_add(counts[v]);
            }
            counts
        });
        drop(vertex);

        let mut weak_only_size = 0;
        let mut weak_only_count = 0;
        for (v, size) in sizes.iter().enumerate() {
            if !strongly_reachable.contains(v) {
                weak_only_size += size;
                weak_only_count += 1;
            }
        }
        Dominators {
            idom: idom_node,
            retained,
            dominated,
            strongly_reachable,
            weak_only_size,
            weak_only_count,
        }
    }

    /// The immediate dominator; the root's is the root itself.
    #[inline]
    pub fn idom(&self, n: NodeId) -> NodeId {
        self.idom[n.index()]
    }

    /// Bytes freed if `n` were collected: its own size plus all it dominates.
    #[inline]
    pub fn retained_size(&self, n: NodeId) -> u64 {
        self.retained.get(n.index())
    }

    /// Objects in `n`'s dominator subtree, itself included; `None` unless asked for in
    /// [`DominatorOptions`].
    #[inline]
    pub fn dominated_count(&self, n: NodeId) -> Option<u32> {
        self.dominated.as_ref().map(|d| d[n.index()])
    }

    /// The children lists of the tree.
    pub fn tree(&self) -> DominatorTree {
        let n = self.idom.len();
        let mut first_child = vec![0u32; n + 1];
        for (v, d) in self.idom.iter().enumerate() {
            if d.index() != v {
                first_child[d.index() + 1] += 1;
            }
        }
        for i in 0..n {
            first_child[i + 1] += first_child[i];
        }
        let mut fill = first_child.clone();
        let mut children = vec![NodeId(0); first_child[n] as usize];
        for (v, d) in self.idom.iter().enumerate() {
            if d.index() != v {
                children[fill[d.index()] as usize] = NodeId(v as u32);
                fill[d.index()] += 1;
            }
        }
        DominatorTree {
            first_child,
            children,
        }
    }

    /// True when a chain of retaining edges leads from the root to `n`.
    #[inline]
    pub fn is_strongly_reachable(&self, n: NodeId) -> bool {
        self.strongly_reachable.contains(n.index())
    }

    /// Total self size of the nodes no chain of retaining edges reaches (held only weakly,
    /// or not at all).
    pub fn weak_only_size(&self) -> u64 {
        self.weak_only_size
    }

    pub fn weak_only_count(&self) -> usize {
        self.weak_only_count
    }

    /// True when `a` dominates `b` (every node dominates itself).
    pub fn dominates(&self, a: NodeId, mut b: NodeId) -> bool {
        loop {
            if a == b {
                return true;
            }
            let up = self.idom(b);
            if up == b {
                return false;
            }
            b = up;
        }
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        self.idom.capacity() * 4
            + self.retained.heap_bytes()
            + self.dominated.as_ref().map_or(0, |d| d.capacity() * 4)
            + self.strongly_reachable.heap_bytes()
    }
}

/// Predecessor lists in DFS-number space, grouped by target in increasing order, the first of
/// each group marked with [`GROUP_START`]. The DFS-tree edge is left out: the parent is every
/// vertex's first semidominator candidate anyway.
struct Predecessors {
    preds: Vec<u32>,
    has_preds: BitSet,
}

impl Predecessors {
    /// Counts on `threads` threads, then fills on one.
    fn build(graph: &HeapGraph, pre: &[u32], parent: &[u32], threads: usize) -> Predecessors {
        let n = pre.len();
        let chunks = node_chunks(graph.first_edge(), threads);
        // Group sizes, then (after the prefix sum) fill cursors. Atomic so that the threads
        // can share one array: one per thread would cost 4 bytes a node each.
        let mut count: Vec<AtomicU32> = (0..=n).map(|_| AtomicU32::new(0)).collect();
        if threads > 1 {
            std::thread::scope(|scope| {
                for nodes in chunks {
                    let count = &count;
                    scope.spawn(move || {
                        pred_edges(graph, pre, parent, nodes, |t, _, soon| {
                            prefetch(count, soon + 1);
                            count[t + 1].fetch_add(1, Relaxed);
                        })
                    });
                }
            });
        } else {
            pred_edges(graph, pre, parent, 0..n, |t, _, soon| {
                prefetch(&count, soon + 1);
                *count[t + 1].get_mut() += 1
            });
        }
        let mut has_preds = BitSet::new(n);
        let mut total = 0u32;
        for d in 0..n {
            let c = count[d + 1].get_mut();
            if *c > 0 {
                has_preds.insert(d);
            }
            total += *c;
            *c = total;
        }
        // The fill stays on one thread: atomic cursors made it barely faster with the second
        // core free and much slower without, and left the order inside a group to chance.
        let mut count: Vec<u32> = count.into_iter().map(AtomicU32::into_inner).collect();
        let mut preds = vec![0u32; total as usize];
        pred_edges(graph, pre, parent, 0..n, |t, pre_u, soon| {
            prefetch(&count, soon);
            preds[count[t] as usize] = pre_u;
            count[t] += 1;
        });
        // `count[t]` now ends group t; group t starts where group t - 1 ended.
        for d in 0..n {
            if has_preds.contains(d) {
                let start = if d == 0 { 0 } else { count[d - 1] };
                preds[start as usize] |= GROUP_START;
            }
        }
        Predecessors { preds, has_preds }
    }
}

/// Splits the nodes into `parts` ranges of about as many edges each.
fn node_chunks(first_edge: &[u32], parts: usize) -> Vec<Range<usize>> {
    let n = first_edge.len() - 1;
    let edges = first_edge[n] as u64;
    let bounds: Vec<usize> = (0..=parts)
        .map(|i| {
            let at = edges * i as u64 / parts as u64;
            first_edge.partition_point(|&f| (f as u64) < at).min(n)
        })
        .collect();
    let mut chunks: Vec<Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
    chunks.last_mut().expect("at least one part").end = n;
    chunks
}

/// Calls `f(t, pre[u], soon)` for each retaining edge u -> t out of `nodes` that is not a
/// DFS-tree edge, `t` being the target's DFS number and `soon` that of an edge a few steps
/// on (for `f` to prefetch what it will touch there).
#[inline]
fn pred_edges(
    graph: &HeapGraph,
    pre: &[u32],
    parent: &[u32],
    nodes: Range<usize>,
    mut f: impl FnMut(usize, u32, usize),
) {
    let first_edge = graph.first_edge();
    let retaining = graph.retaining_edges();
    let edge_count = graph.edge_count();
    let mut soon = 0;
    for u in nodes {
        let pre_u = pre[u];
        for e in first_edge[u]..first_edge[u + 1] {
            // Two reads depend on the target: its number, then its parent by that number.
            let ahead = e as usize + AHEAD;
            if ahead < edge_count {
                prefetch(pre, graph.edge_target(EdgeId(ahead as u32)).index());
                let half = graph
                    .edge_target(EdgeId((ahead - AHEAD / 2) as u32))
                    .index();
                soon = pre[half] as usize;
                prefetch(parent, soon);
            }
            if retaining.contains(e as usize) {
                let t = pre[graph.edge_target(EdgeId(e)).index()] as usize;
                if parent[t] != pre_u {
                    f(t, pre_u, soon);
                }
            }
        }
    }
}

/// Adds each vertex's retained size to its immediate dominator's, children before their
/// dominators (reverse DFS order).
fn accumulate<T: Copy + std::ops::AddAssign>(retained: &mut [T], vertex: &[u32], idom: &[u32]) {
    for d in (1..vertex.len()).rev() {
        let size = retained[vertex[d] as usize];
        retained[vertex[idom[d] as usize] as usize] += size;
    }
}

/// A depth-first numbering of the graph over retaining edges: from the root, then from each
/// orphan (no retaining edge points to it), then from each node still left, the last two
/// given a virtual edge from the root. Deterministic, so running it twice gives one result.
struct Numbering {
    /// DFS number of each node.
    pre: Vec<u32>,
    /// Node of each DFS number.
    vertex: Vec<u32>,
    /// DFS number of each vertex's DFS parent.
    parent: Vec<u32>,
    /// Vertices reached from the root through retaining edges.
    strongly_reached: usize,
    /// Nodes with a virtual edge from the root; empty when every node was reached.
    from_root: BitSet,
}

impl Numbering {
    fn run(graph: &HeapGraph) -> Numbering {
        let n = graph.node_count();
        let mut pre = vec![NONE; n];
        let mut vertex: Vec<u32> = Vec::with_capacity(n);
        let mut parent: Vec<u32> = Vec::with_capacity(n);
        let mut walk = Dfs {
            first_edge: graph.first_edge(),
            graph,
            retaining: graph.retaining_edges(),
            pre: &mut pre,
            vertex: &mut vertex,
            parent: &mut parent,
            stack: Vec::new(),
        };
        walk.run(graph.root().0, 0);
        let strongly_reached = walk.vertex.len();
        let mut from_root = BitSet::new(0);
        if strongly_reached < n {
            // Which unreached nodes some retaining edge points to: the others are orphans.
            // Only unreached nodes can hold such an edge (one from a reached node would have
            // reached its target), so only their edges are read.
            let mut has_retainer = BitSet::new(n);
            for u in (0..n).filter(|&u| walk.pre[u] == NONE) {
                for e in walk.first_edge[u]..walk.first_edge[u + 1] {
                    if walk.retaining.contains(e as usize) {
                        has_retainer.insert(graph.edge_target(EdgeId(e)).index());
                    }
                }
            }
            from_root = BitSet::new(n);
            for v in 0..n {
                if walk.pre[v] == NONE && !has_retainer.contains(v) {
                    from_root.insert(v);
                    walk.run(v as u32, 0);
                }
            }
            drop(has_retainer);
            // Mark all of them before numbering any: numbering one reaches others.
            let rest: Vec<u32> = (0..n as u32)
                .filter(|&v| walk.pre[v as usize] == NONE)
                .collect();
            for &v in &rest {
                from_root.insert(v as usize);
            }
            for v in rest {
                if walk.pre[v as usize] == NONE {
                    walk.run(v, 0);
                }
            }
        }
        drop(walk);
        debug_assert_eq!(vertex.len(), n);
        Numbering {
            pre,
            vertex,
            parent,
            strongly_reached,
            from_root,
        }
    }
}

/// Iterative depth-first numbering over retaining edges.
struct Dfs<'a> {
    first_edge: &'a [u32],
    graph: &'a HeapGraph,
    retaining: &'a BitSet,
    pre: &'a mut Vec<u32>,
    vertex: &'a mut Vec<u32>,
    parent: &'a mut Vec<u32>,
    stack: Vec<(u32, u32)>,
}

impl Dfs<'_> {
    /// Numbers everything unnumbered reachable from `start`, whose DFS parent is `start_parent`.
    fn run(&mut self, start: u32, start_parent: u32) {
        self.pre[start as usize] = self.vertex.len() as u32;
        self.vertex.push(start);
        self.parent.push(start_parent);
        self.stack.push((start, self.first_edge[start as usize]));
        while let Some(top) = self.stack.last_mut() {
            let (node, mut e) = *top;
            let end = self.first_edge[node as usize + 1];
            let mut next = None;
            while e < end {
                let t = self.graph.edge_target(EdgeId(e)).0;
                e += 1;
                if self.pre[t as usize] == NONE && self.retaining.contains(e as usize - 1) {
                    next = Some(t);
                    break;
                }
            }
            top.1 = e;
            match next {
                Some(t) => {
                    self.pre[t as usize] = self.vertex.len() as u32;
                    self.parent.push(self.pre[node as usize]);
                    self.vertex.push(t);
                    self.stack.push((t, self.first_edge[t as usize]));
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

/// Path-compressed evaluation: the least semidominator on the path from `v` up to (not
/// including) the first vertex not yet processed (`< last_linked`). `link` is as in
/// [`Dominators::compute_with`].
#[inline]
fn eval(v: u32, last_linked: u32, link: &mut [[u32; 2]], path: &mut Vec<u32>) -> u32 {
    let [up, best] = link[v as usize];
    if up < last_linked {
        return best;
    }
    path.clear();
    let mut x = v;
    loop {
        path.push(x);
        x = link[x as usize][0];
        if link[x as usize][0] < last_linked {
            break;
        }
    }
    let [mut p_up, mut p_best] = link[x as usize];
    while let Some(y) = path.pop() {
        let y = &mut link[y as usize];
        y[0] = p_up;
        if p_best < y[1] {
            y[1] = p_best;
        } else {
            p_best = y[1];
        }
        p_up = y[0];
    }
    link[v as usize][1]
}

#[cfg(test)]
mod tests {
    use super::{DominatorOptions, Dominators};
    use crate::{EdgeKind, GraphBuilder, NodeId, NodeKind};

    /// The threaded passes give what the single-threaded ones do (the oracle tests in
    /// tests/it only reach graphs too small for threads).
    #[test]
    fn threads_do_not_change_the_result() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut b = GraphBuilder::new();
        let n = 20_000u64;
        let nodes: Vec<NodeId> = (0..n)
            .map(|_| b.node(NodeKind::Object, "C", next(100)))
            .collect();
        for i in 0..60_000 {
            // Mostly short hops forward, so that part of the graph is unreachable from the
            // root and cycles and shared children are common.
            let from = next(n) as usize;
            let to = ((from as u64 + next(50)) % n) as usize;
            let kind = if next(10) == 0 {
                EdgeKind::Weak
            } else {
                EdgeKind::Property
            };
            b.edge(nodes[from], kind, &format!("e{i}"), nodes[to]);
        }
        let g = b.finish(nodes[0]).unwrap();
        for keep_numbering in [false, true] {
            let options = DominatorOptions {
                subtree_counts: true,
                keep_numbering,
            };
            let one = Dominators::compute_on(&g, &options, 1);
            assert!(one.weak_only_count() > 0 && one.weak_only_count() < n as usize);
            for threads in [2, 3] {
                let many = Dominators::compute_on(&g, &options, threads);
                assert_eq!(one.idom, many.idom);
                assert_eq!(one.retained, many.retained);
                assert_eq!(one.dominated, many.dominated);
                assert_eq!(one.strongly_reachable, many.strongly_reachable);
                assert_eq!(one.weak_only_size, many.weak_only_size);
                assert_eq!(one.weak_only_count, many.weak_only_count);
            }
        }
    }
}
