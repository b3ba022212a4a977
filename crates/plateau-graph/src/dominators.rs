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

use crate::{BitSet, EdgeId, HeapGraph, NodeId, U64Column};

const NONE: u32 = u32::MAX;

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
        let n = graph.node_count();
        let root = graph.root();
        let first_edge = graph.first_edge();
        let retaining = graph.retaining_edges();

        // Which nodes some retaining edge points to: the others, if unreached, are orphans.
        let mut has_retainer = BitSet::new(n);
        for e in 0..graph.edge_count() {
            if retaining.contains(e) {
                has_retainer.insert(graph.edge_target(EdgeId(e as u32)).index());
            }
        }

        let mut numbering = Numbering::run(graph, &has_retainer);
        let strongly_reached = numbering.strongly_reached;
        let mut strongly_reachable = BitSet::new(n);
        for &v in &numbering.vertex[..strongly_reached] {
            strongly_reachable.insert(v as usize);
        }
        // Vertices given a virtual edge from the root, by DFS number.
        let mut from_root = BitSet::new(0);
        if !numbering.from_root.is_empty() {
            from_root = BitSet::new(n);
            for (d, &v) in numbering.vertex.iter().enumerate() {
                if numbering.from_root.contains(v as usize) {
                    from_root.insert(d);
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
        let kept_parent = if options.keep_numbering {
            parent.clone()
        } else {
            Vec::new()
        };

        // Predecessor lists in DFS-number space, grouped by target in increasing order, the
        // first of each group marked with GROUP_START. The DFS-tree edge is left out: the parent
        // is every vertex's first semidominator candidate anyway.
        let mut count = vec![0u32; n + 1];
        for (u, &pre_u) in pre.iter().enumerate() {
            for e in first_edge[u]..first_edge[u + 1] {
                let t = pre[graph.edge_target(EdgeId(e)).index()] as usize;
                if retaining.contains(e as usize) && parent[t] != pre_u {
                    count[t + 1] += 1;
                }
            }
        }
        let mut has_preds = BitSet::new(n);
        for d in 0..n {
            if count[d + 1] > 0 {
                has_preds.insert(d);
            }
            count[d + 1] += count[d];
        }
        let mut preds = vec![0u32; count[n] as usize];
        for (u, &pre_u) in pre.iter().enumerate() {
            for e in first_edge[u]..first_edge[u + 1] {
                let t = pre[graph.edge_target(EdgeId(e)).index()] as usize;
                if retaining.contains(e as usize) && parent[t] != pre_u {
                    preds[count[t] as usize] = pre_u;
                    count[t] += 1;
                }
            }
        }
        // `count[t]` now ends group t; group t starts where group t - 1 ended.
        for d in 0..n {
            if has_preds.contains(d) {
                let start = if d == 0 { 0 } else { count[d - 1] };
                preds[start as usize] |= GROUP_START;
            }
        }
        drop(count);
        drop(pre);

        // Semidominators, in decreasing DFS order. `ancestor` starts as the DFS parent (and
        // still is for a vertex when its turn comes) and is path-compressed; `label[v]` is the
        // vertex of least semidominator on the compressed path.
        let mut ancestor = parent;
        let mut semi: Vec<u32> = (0..n as u32).collect();
        let mut label: Vec<u32> = (0..n as u32).collect();
        let mut path: Vec<u32> = Vec::new();
        let mut end = preds.len();
        for w in (1..n).rev() {
            let mut s = ancestor[w];
            if has_preds.contains(w) {
                loop {
                    end -= 1;
                    let entry = preds[end];
                    let v = entry & !GROUP_START;
                    let u = eval(v, w as u32 + 1, &mut ancestor, &mut label, &semi, &mut path);
                    s = s.min(semi[u as usize]);
                    if entry & GROUP_START != 0 {
                        break;
                    }
                }
            }
            if !from_root.is_empty() && from_root.contains(w) {
                s = 0;
            }
            semi[w] = s;
        }
        drop(preds);
        drop(label);
        drop(ancestor);
        drop(has_preds);
        drop(from_root);

        // Immediate dominators: the nearest ancestor of the DFS parent at or above the
        // semidominator. The second DFS gives back the numbering and the tree.
        let (vertex, parent) = if options.keep_numbering {
            (kept_vertex, kept_parent)
        } else {
            let again = Numbering::run(graph, &has_retainer);
            (again.vertex, again.parent)
        };
        drop(has_retainer);
        let mut idom = parent;
        for w in 1..n {
            let mut candidate = idom[w];
            while candidate > semi[w] {
                candidate = idom[candidate as usize];
            }
            idom[w] = candidate;
        }
        drop(semi);
        let mut idom_node = vec![root; n];
        for d in 1..n {
            idom_node[vertex[d] as usize] = NodeId(vertex[idom[d] as usize]);
        }
        drop(idom);

        // Retained sizes, children before their dominators (reverse DFS order). Four bytes a
        // node suffice whenever the whole heap is under 4 GiB.
        let sizes = graph.self_sizes();
        let mut retained = U64Column::filled(n, graph.total_size());
        for (v, size) in sizes.iter().enumerate() {
            retained.set(v, size);
        }
        let mut dominated = options.subtree_counts.then(|| vec![1u32; n]);
        for d in (1..n).rev() {
            let v = vertex[d] as usize;
            let up = idom_node[v].index();
            retained.set(up, retained.get(up) + retained.get(v));
            if let Some(counts) = dominated.as_mut() {
                counts[up] = counts[up].saturating_add(counts[v]);
            }
        }
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
    fn run(graph: &HeapGraph, has_retainer: &BitSet) -> Numbering {
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
            from_root = BitSet::new(n);
            for v in 0..n {
                if walk.pre[v] == NONE && !has_retainer.contains(v) {
                    from_root.insert(v);
                    walk.run(v as u32, 0);
                }
            }
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

/// Path-compressed evaluation: the vertex of least semidominator on the path from `v` up to
/// (not including) the first vertex not yet processed (`< last_linked`).
#[inline]
fn eval(
    v: u32,
    last_linked: u32,
    ancestor: &mut [u32],
    label: &mut [u32],
    semi: &[u32],
    path: &mut Vec<u32>,
) -> u32 {
    if ancestor[v as usize] < last_linked {
        return label[v as usize];
    }
    path.clear();
    let mut x = v;
    loop {
        path.push(x);
        x = ancestor[x as usize];
        if ancestor[x as usize] < last_linked {
            break;
        }
    }
    let mut p = x;
    let mut p_label = label[p as usize];
    while let Some(y) = path.pop() {
        let yi = y as usize;
        ancestor[yi] = ancestor[p as usize];
        if semi[p_label as usize] < semi[label[yi] as usize] {
            label[yi] = p_label;
        } else {
            p_label = label[yi];
        }
        p = y;
    }
    label[v as usize]
}
