//! Dominator tree and retained sizes by the semi-NCA algorithm (Georgiadis, "Linear-Time
//! Algorithms for Dominators and Related Problems", 2005; the variant LLVM and LeakCanary use):
//! an iterative DFS, semidominators by path-compressed evaluation, then immediate dominators as
//! nearest common ancestors in the DFS tree. Near-linear time, no recursion, and at most 12
//! bytes per node (plus about 2.3 for coded copies) and 4 per retaining edge into a node that
//! two or more of them point to while it runs.
//!
//! What counts as "reachable" follows Chrome DevTools, so retained sizes agree with it:
//! only retaining edges are followed from the root; a node that no retaining edge reaches at
//! all (held only weakly) hangs directly off the root, and so does anything left over after
//! that (cycles held only by each other). Formally the tree is the dominator tree of the graph
//! of retaining edges plus a virtual edge root -> v for each such node v.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::column::ShortSizes;
use crate::{join, prefetch, BitSet, EdgeId, EdgeStarts, HeapGraph, NodeId};

const NONE: u32 = u32::MAX;

/// Below this many nodes the tree is filled on one core.
const PARALLEL_MIN_NODES: usize = 1 << 20;

/// How many edges or predecessors ahead the passes over them prefetch what they will read.
const AHEAD: usize = 16;

/// The dominator tree of a heap graph, with retained sizes.
#[derive(Clone, Debug)]
pub struct Dominators {
    idom: Vec<NodeId>,
    retained: ShortSizes,
    /// Objects in each node's dominator subtree, when asked for.
    dominated: Option<Vec<u32>>,
    strongly_reachable: BitSet,
    /// Nodes retaining edges reach from the user roots, when the DFS tells (see
    /// [`Dominators::user_root_reach`]).
    user_reach: Option<BitSet>,
    weak_only_size: u64,
    weak_only_count: usize,
}

/// What [`Dominators::compute_with`] computes beyond the tree and retained sizes.
#[derive(Clone, Debug, Default)]
pub struct DominatorOptions {
    /// Also count the objects in each node's dominator subtree (4 bytes a node).
    pub subtree_counts: bool,
}

/// Below this many edges everything runs on one thread: a thread costs more than it saves.
const PARALLEL_MIN_EDGES: usize = 1 << 20;

/// The edge passes are bound by memory latency; past a few threads they gain nothing.
const MAX_THREADS: usize = 4;

/// Marks the first predecessor of a vertex's group (DFS numbers stay below 2^31).
const GROUP_START: u32 = 1 << 31;

/// The children lists of a dominator tree, for walks from the root down. Built on demand
/// because it costs 4 bytes a node, plus 4 for each node with children (most objects have
/// none, so this is well under the 8 bytes a node of an offset for every node).
#[derive(Clone, Debug)]
pub struct DominatorTree {
    /// Nodes with children.
    parents: Ranked,
    /// Where the children of the k-th node with children start, and one more entry.
    first_child: Vec<u32>,
    children: Vec<NodeId>,
}

impl DominatorTree {
    /// Nodes `n` immediately dominates, in node order.
    #[inline]
    pub fn children(&self, n: NodeId) -> &[NodeId] {
        match self.parents.rank(n.index()) {
            Some(k) => {
                let k = k as usize;
                &self.children[self.first_child[k] as usize..self.first_child[k + 1] as usize]
            }
            None => &[],
        }
    }
}

/// What [`Dominators::tree_counts`] makes: the nodes with children and where each one's
/// list ends.
#[derive(Clone, Debug)]
pub struct TreeCounts {
    parents: Ranked,
    ends: Vec<u32>,
}

impl TreeCounts {
    /// The children lists, filled from each group's end with nodes from the last down, so
    /// they come out in node order without a second cursor array. On a big tree, the groups
    /// of the first half of the parents and those of the second are filled side by side.
    pub fn fill(self, dom: &Dominators) -> DominatorTree {
        let split = dom.idom.len() >= PARALLEL_MIN_NODES;
        self.fill_on(dom, split)
    }

    /// [`fill`](Self::fill), `split` in two halves side by side or not (the lists are the
    /// same either way).
    fn fill_on(self, dom: &Dominators, split: bool) -> DominatorTree {
        let TreeCounts {
            parents,
            ends: mut first_child,
        } = self;
        let total = first_child.last().copied().unwrap_or(0);
        let mut children = vec![NodeId(0); total as usize];
        // The children of the parents in `nodes` (those of ranks `from..`), into their
        // groups' slots (`firsts`, `kids`: from rank `from`, and from slot `offset`).
        let put = |nodes: std::ops::Range<usize>,
                   (from, offset): (u32, u32),
                   firsts: &mut [u32],
                   kids: &mut [NodeId]| {
            for (v, d) in dom.idom.iter().enumerate().rev() {
                if d.index() != v && nodes.contains(&d.index()) {
                    let k = parents.rank(d.index()).expect("a dominator is marked") - from;
                    let slot = &mut firsts[k as usize];
                    *slot -= 1;
                    kids[(*slot - offset) as usize] = NodeId(v as u32);
                }
            }
        };
        let n = dom.idom.len();
        let count = parents.count();
        let half = count / 2;
        if !split || half == 0 {
            put(0..n, (0, 0), &mut first_child, &mut children);
        } else {
            // Parents are ranked in node order: the second half starts at the node of rank
            // `half`, and its groups where the first half's end.
            let split_node = parents.bits.ones().nth(half).expect("half of the parents");
            let split_slot = first_child[half - 1];
            let (low_firsts, high_firsts) = first_child.split_at_mut(half);
            let (low_kids, high_kids) = children.split_at_mut(split_slot as usize);
            join(
                2,
                || put(0..split_node, (0, 0), low_firsts, low_kids),
                || {
                    put(
                        split_node..n,
                        (half as u32, split_slot),
                        high_firsts,
                        high_kids,
                    )
                },
            );
        }
        DominatorTree {
            parents,
            first_child,
            children,
        }
    }
}

impl Dominators {
    /// Computes the dominator tree of `graph` from its root.
    ///
    /// Memory is the constraint on big heaps, so the phases are arranged to keep few
    /// node-sized arrays alive at once: only nodes two or more edges point to get a
    /// predecessor list, the lists are delimited by a marker bit, and the DFS numbers are
    /// dropped once the lists are renumbered.
    pub fn compute(graph: &HeapGraph) -> Dominators {
        Self::compute_with(graph, &DominatorOptions::default())
    }

    /// [`compute`](Self::compute) with options: subtree counts (the snapshot diff wants
    /// them).
    pub fn compute_with(graph: &HeapGraph, options: &DominatorOptions) -> Dominators {
        Self::compute_on(graph, options, threads_for(graph), || ()).0
    }

    /// [`compute_with`](Self::compute_with), with `beside` run on the second core once the
    /// predecessor lists are made, while the DFS (the longer of the two) goes on: a caller's
    /// work that needs only the graph and little memory fills that core's wait.
    pub fn compute_beside<T: Send>(
        graph: &HeapGraph,
        options: &DominatorOptions,
        beside: impl FnOnce() -> T + Send,
    ) -> (Dominators, T) {
        Self::compute_on(graph, options, threads_for(graph), beside)
    }

    /// [`compute_with`](Self::compute_with) on `threads` threads; the result does not
    /// depend on how many.
    fn compute_on<T: Send>(
        graph: &HeapGraph,
        options: &DominatorOptions,
        threads: usize,
        beside: impl FnOnce() -> T + Send,
    ) -> (Dominators, T) {
        let n = graph.node_count();
        let root = graph.root();

        // The predecessor lists do not depend on the numbering, so they are gathered on a
        // second core while the DFS (one long dependent walk) runs on this one.
        let (numbering, (preds, beside)) = join(
            threads,
            || Numbering::run(graph),
            || (Predecessors::build(graph), beside()),
        );
        let strongly_reached = numbering.strongly_reached as u32;
        // Two scans of the DFS numbers, side by side (by DFS number rather than through
        // `vertex`: sequential reads instead of scattered writes).
        let (user_reach, strongly_reachable) = join(
            threads,
            || user_root_reach(graph, &numbering),
            || BitSet::from_fn(n, |v| numbering.pre[v] < strongly_reached),
        );
        let Numbering {
            pre,
            vertices,
            parents,
            from_root,
            root_children,
            ..
        } = numbering;
        // Vertices whose semidominator is the root, by DFS number: those given a virtual edge
        // from it, and those a child of the root points to from a higher DFS number (that
        // child's semidominator is the root, so the evaluation of that predecessor would give
        // the root). Their predecessor groups are dropped unread: on a 2 GB Java heap the
        // "System class" roots decide 301 class objects so, whose groups (their instances'
        // class links) held 19.0 M of the 36.5 M entries.
        let mut semi_is_root = BitSet::new(n);
        for v in from_root.ones() {
            semi_is_root.insert(pre[v] as usize);
        }
        drop(from_root);
        for &u in &root_children {
            let u = NodeId(u);
            for e in graph.edges(u).filter(|&e| graph.retains(e)) {
                let t = graph.edge_target(e).index();
                if pre[t] < pre[u.index()] {
                    semi_is_root.insert(pre[t] as usize);
                }
            }
        }
        drop(root_children);
        let groups = preds.renumber(&pre, &semi_is_root, threads);
        drop(pre);

        // Semidominators, in decreasing DFS order. `link[v]` is `[ancestor, best]`: the
        // ancestor starts as the DFS parent (and still is for a vertex when its turn comes)
        // and is path-compressed; `best` is the least semidominator on the compressed path,
        // and starts as the parent, a vertex's semidominator unless its turn lowers it.
        // Keeping the two side by side, and the semidominator itself rather than the vertex
        // that has it, makes an evaluation step touch one cache line instead of three. The
        // DFS order and the parents stay coded until the loop is done (the loop finds a
        // vertex's parent in `link` when its turn comes; on a 2 GB Java heap 2 x 121 MiB
        // are 35 + 34 MiB coded, 1.16 and 1.13 bytes a node). `link` is one flat array so
        // that its memory can hold the order and the dominators afterwards.
        let mut flat: Vec<u32> = vec![0; 2 * n];
        let (link, _) = flat.as_chunks_mut::<2>();
        // In two halves side by side (the second from the parents' middle).
        let start_links = |pairs: &mut [[u32; 2]], from: usize| {
            let distances = parents.iter_from(if from == 0 { (0, 0) } else { parents.middle });
            for ((v, pair), distance) in (from..).zip(pairs).zip(distances) {
                let parent = (v as i64 - distance) as u32;
                *pair = [parent, parent];
            }
        };
        let middle = parents.middle.0;
        let (low, high) = link.split_at_mut(middle);
        join(
            threads,
            || start_links(low, 0),
            || start_links(high, middle),
        );
        // Most vertices' semidominator is their DFS parent, and then the parent is also the
        // immediate dominator; only the others are remembered (which, and their
        // semidominators in decreasing DFS order). They are among the vertices with a
        // predecessor group (1.16 M of 31.8 M on a 2 GB Java heap), or hang off the root; an
        // array of every semidominator took 121 MiB at the phase's peak.
        let mut lowered = BitSet::new(n);
        let mut lowered_semi: Vec<u32> = Vec::new();
        let mut path: Vec<u32> = Vec::new();
        let list = &groups.preds;
        // Groups are met in decreasing DFS order, so their starts are read from the end.
        let mut left = groups.starts.len();
        // Only the vertices with a group, or whose semidominator is the root, need looking
        // at: the others' semidominator is their parent, as `link` starts out.
        let (grouped_words, root_words) = (groups.grouped.words(), semi_is_root.words());
        let looked_at = (0..grouped_words.len()).rev().flat_map(|k| {
            let mut rest = grouped_words[k] | root_words[k];
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = 63 - rest.leading_zeros() as usize;
                    rest &= !(1u64 << bit);
                    k * 64 + bit
                })
            })
        });
        for w in looked_at.take_while(|&w| w > 0) {
            // The DFS parent is a predecessor, and the only one of a vertex without a group.
            let parent_w = link[w][0];
            let mut s = parent_w;
            if groups.grouped.contains(w) {
                left -= 1;
                if left >= AHEAD {
                    prefetch(list, groups.starts[left - AHEAD] as usize);
                }
                let mut i = groups.starts[left] as usize;
                loop {
                    if i + AHEAD < list.len() {
                        prefetch(link, (list[i + AHEAD] & !GROUP_START) as usize);
                    }
                    let v = list[i] & !GROUP_START;
                    s = s.min(eval(v, w as u32 + 1, link, &mut path));
                    i += 1;
                    if s == 0 || i == list.len() || list[i] & GROUP_START != 0 {
                        // Nothing is lower than the root: the rest of the group cannot
                        // change the semidominator. On a 2 GB Java heap this leaves 4.3 M of
                        // 36.5 M evaluations (1.16 M groups): the big groups are instances
                        // pointing to their class object, and one of the first instances
                        // (groups are in source order) already leads back to the root.
                        break;
                    }
                }
            }
            if semi_is_root.contains(w) {
                s = 0;
            }
            if s < parent_w {
                lowered.insert(w);
                lowered_semi.push(s);
            }
            link[w][1] = s;
        }
        drop(groups);
        drop(semi_is_root);
        // The flat array now holds the DFS order (`vertex`) in its first half and the
        // parents, the first guess at the immediate dominators (`up`), in its second.
        let (vertex, up) = flat.split_at_mut(n);
        join(
            threads,
            || {
                let mut last = 0i64;
                for (slot, delta) in vertex.iter_mut().zip(vertices.iter()) {
                    last += delta;
                    *slot = last as u32;
                }
            },
            || {
                for ((slot, d), distance) in up.iter_mut().zip(0..).zip(parents.iter()) {
                    *slot = (d - distance) as u32;
                }
            },
        );
        drop(vertices);
        drop(parents);
        // The retained sizes are summed on two cores, from the middle of the DFS order up
        // and from there down; the middle vertex's DFS ancestors, which both halves add to,
        // are found while `up` still holds the parents (see `Sums`).
        let middle = if threads > 1 { n / 2 } else { n };
        let mut above_middle = BitSet::new(n);
        let mut ancestors = Vec::new();
        if middle < n {
            let mut d = up[middle] as usize;
            while d != 0 {
                above_middle.insert(vertex[d] as usize);
                ancestors.push(vertex[d]);
                d = up[d] as usize;
            }
        }
        for (w, semi) in lowered.ones().zip(lowered_semi.into_iter().rev()) {
            let mut candidate = up[w];
            while candidate > semi {
                candidate = up[candidate as usize];
            }
            up[w] = candidate;
        }
        drop(lowered);

        // Node-space dominators, then, the dominators in DFS space dropped, retained sizes.
        // One after the other rather than side by side, so that three node-sized arrays are
        // alive at once, not four (2 GB Java heap: 121 MiB less at the phase's end for about
        // 0.1 s).
        // A scatter (each node is written once): two halves of the DFS order side by side.
        // Every node but the root is written: no pass to set them first (a zeroed
        // allocation, taken in place, whose pages the scatter's two cores touch first).
        let idom_slots: Vec<AtomicU32> = vec![0u32; n].into_iter().map(AtomicU32::new).collect();
        idom_slots[root.index()].store(root.0, Ordering::Relaxed);
        let scatter = |ds: std::ops::Range<usize>| {
            for d in ds {
                let v = vertex[d] as usize;
                idom_slots[v].store(vertex[up[d] as usize], Ordering::Relaxed);
            }
        };
        let half = n / 2;
        join(
            threads,
            || scatter(1..half.max(1)),
            || scatter(half.max(1)..n),
        );
        // Same size and alignment: collected in place.
        let idom_node: Vec<NodeId> = idom_slots
            .into_iter()
            .map(|slot| NodeId(slot.into_inner()))
            .collect();
        flat.truncate(n);
        flat.shrink_to_fit();
        let vertex = flat;
        let self_size = |v: usize| graph.self_size(NodeId(v as u32));
        let weak_only = || {
            let (mut size, mut count) = (0u64, 0usize);
            for v in (0..n).filter(|&v| !strongly_reachable.contains(v)) {
                size += self_size(v);
                count += 1;
            }
            (size, count)
        };
        let sums = Sums {
            vertex: &vertex,
            idom: &idom_node,
            root: root.index(),
            middle,
            above_middle: &above_middle,
            ancestors: &ancestors,
            threads,
        };
        let dominated = || {
            options.subtree_counts.then(|| {
                let mut counts = vec![1u32; n];
                for &v in vertex[1..].iter().rev() {
                    let up = idom_node[v as usize].index();
                    counts[up] = counts[up].saturating_add(counts[v as usize]);
                }
                counts
            })
        };
        // In four bytes a node whenever the whole heap is under 4 GiB (no sum exceeds it),
        // then in two (see `ShortSizes`) once the order is gone.
        let total = graph.total_size();
        let (retained, dominated, (weak_only_size, weak_only_count)) = if total <= u32::MAX as u64 {
            let (cells, units, weak) = sums.sizes::<AtomicU32, _>(&self_size, total, weak_only);
            let dominated = dominated();
            drop(vertex);
            let retained = ShortSizes::pack(n, units, |v| cells[v].get());
            (retained, dominated, weak)
        } else {
            let (cells, units, weak) = sums.sizes::<AtomicU64, _>(&self_size, total, weak_only);
            let dominated = dominated();
            drop(vertex);
            let retained = ShortSizes::pack(n, units, |v| cells[v].get());
            (retained, dominated, weak)
        };

        let dominators = Dominators {
            idom: idom_node,
            retained,
            dominated,
            strongly_reachable,
            user_reach,
            weak_only_size,
            weak_only_count,
        };
        (dominators, beside)
    }

    /// The nodes that retaining edges reach from the graph's user roots (without passing
    /// through the root, as nothing in a heap points to it), when the DFS that
    /// numbered the graph tells them apart: when the root's edges to user roots come before
    /// its other edges (as a Java heap's threads do), those nodes are numbered first, before
    /// the first other child of the root. `None` otherwise, or without user roots.
    pub fn user_root_reach(&self) -> Option<&BitSet> {
        self.user_reach.as_ref()
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
        self.tree_counts().fill(self)
    }

    /// The first half of [`tree`](Self::tree): which nodes have children and where each one's
    /// list will start (4 bytes for each node with children, a tree's smaller half), so that
    /// a caller can make it beside other work before the lists themselves.
    pub fn tree_counts(&self) -> TreeCounts {
        let n = self.idom.len();
        let mut parents = BitSet::new(n);
        for (v, d) in self.idom.iter().enumerate() {
            if d.index() != v {
                parents.insert(d.index());
            }
        }
        let parents = Ranked::new(parents);
        // Counts, then each group's end (the fill moves it down to the group's start).
        let count = parents.count();
        let mut ends = vec![0u32; count + 1];
        for (v, d) in self.idom.iter().enumerate() {
            if d.index() != v {
                ends[parents.rank(d.index()).expect("a dominator is marked") as usize] += 1;
            }
        }
        for k in 1..count {
            ends[k] += ends[k - 1];
        }
        ends[count] = if count == 0 { 0 } else { ends[count - 1] };
        TreeCounts { parents, ends }
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
            + self.user_reach.as_ref().map_or(0, BitSet::heap_bytes)
    }
}

/// Predecessor lists of the nodes more than one retaining edge points to, grouped by target
/// in node order, each group in source order with its first entry marked with
/// [`GROUP_START`]. A node only one edge points to needs no list: that edge is its DFS-tree
/// edge (or the node hangs off the root anyway), so its parent is all the semidominator loop
/// would learn from it. Being in node space, the lists can be gathered before the numbering
/// exists; [`renumber`](Self::renumber) then turns the sources into DFS numbers.
struct Predecessors {
    preds: Vec<u32>,
    /// Nodes with a list, and where each list starts, in node order.
    shared: BitSet,
    starts: Vec<u32>,
}

/// [`Predecessors`] in DFS-number space: the sources renumbered, and the groups looked up
/// by their target's DFS number.
struct DfsGroups {
    preds: Vec<u32>,
    /// Vertices with a group.
    grouped: BitSet,
    /// Where each group starts, in DFS order of the vertices that have one.
    starts: Vec<u32>,
}

impl Predecessors {
    fn build(graph: &HeapGraph) -> Predecessors {
        let n = graph.node_count();
        let first_edge = graph.first_edge();
        let retaining = graph.retaining_edges();
        let target = |e: usize| graph.edge_target(EdgeId(e as u32)).index();

        let link = |u: usize| graph.class_link(NodeId(u as u32)).map(NodeId::index);
        // In-degrees over retaining edges (a class object's links counted at once); then, for
        // the nodes with two or more, the end of their group (a cursor that the fill below
        // moves down to its start); NONE for the others.
        let mut cursor = vec![0u32; n];
        retained_targets(graph, &graph.class_link_counts(), |t, count, ahead| {
            if ahead {
                prefetch(&cursor, t);
            } else {
                cursor[t] += count;
            }
        });
        // The nodes with two or more; the end of each one's group (a cursor the fill below
        // moves down to its start), by rank among them: the node-sized counts are gone
        // before the lists are made, so the two never meet beside the DFS's own arrays.
        let shared = Ranked::new(BitSet::from_fn(n, |t| cursor[t] >= 2));
        let mut ends: Vec<u32> = Vec::with_capacity(shared.count());
        let mut total = 0u32;
        for &c in cursor.iter().filter(|&&c| c >= 2) {
            total += c;
            ends.push(total);
        }
        drop(cursor);
        // Sources from the last down, each group filled from its end: groups come out in
        // source order, which is what lets the semidominator loop stop early.
        let mut preds = vec![0u32; total as usize];
        let mut put = |t: usize, u: usize| {
            if let Some(k) = shared.rank(t) {
                ends[k as usize] -= 1;
                preds[ends[k as usize] as usize] = u as u32;
            }
        };
        for u in (0..n).rev() {
            for e in (first_edge.get(u) as usize..first_edge.get(u + 1) as usize).rev() {
                if e >= AHEAD {
                    shared.bits.prefetch(target(e - AHEAD));
                }
                if retaining.contains(e) {
                    put(target(e), u);
                }
            }
            // The class link is the node's first edge, so its last here.
            if let Some(t) = link(u) {
                put(t, u);
            }
        }
        for &start in &ends {
            preds[start as usize] |= GROUP_START;
        }
        Predecessors {
            preds,
            shared: shared.bits,
            starts: ends,
        }
    }

    /// Into DFS-number space, the sources renumbered on `threads` threads, without the
    /// groups of the vertices in `semi_is_root` (by DFS number), whose semidominator is known.
    fn renumber(self, pre: &[u32], semi_is_root: &BitSet, threads: usize) -> DfsGroups {
        let Predecessors {
            mut preds,
            shared,
            mut starts,
        } = self;
        // The groups kept, moved down over the others, in place; the freed end of the list
        // goes back before the loop that would have read it. The kept targets' DFS numbers
        // are noted on the way (read once, here).
        let mut kept = 0;
        let mut write = 0;
        let mut numbers: Vec<u32> = Vec::new();
        for (k, t) in shared.ones().enumerate() {
            let start = starts[k] as usize;
            let end = starts.get(k + 1).map_or(preds.len(), |&s| s as usize);
            let number = pre[t];
            if semi_is_root.contains(number as usize) {
                continue;
            }
            preds.copy_within(start..end, write);
            starts[kept] = write as u32;
            numbers.push(number);
            kept += 1;
            write += end - start;
        }
        drop(shared);
        preds.truncate(write);
        preds.shrink_to_fit();
        starts.truncate(kept);
        starts.shrink_to_fit();
        let renumber = |chunk: &mut [u32]| {
            for i in 0..chunk.len() {
                if i + AHEAD < chunk.len() {
                    prefetch(pre, (chunk[i + AHEAD] & !GROUP_START) as usize);
                }
                let entry = chunk[i];
                chunk[i] = pre[(entry & !GROUP_START) as usize] | (entry & GROUP_START);
            }
        };
        let chunk_len = preds.len().div_ceil(threads.max(1)).max(1);
        if threads > 1 {
            std::thread::scope(|scope| {
                for chunk in preds.chunks_mut(chunk_len) {
                    scope.spawn(move || renumber(chunk));
                }
            });
        } else {
            renumber(&mut preds);
        }
        let mut grouped = BitSet::new(pre.len());
        for &number in &numbers {
            grouped.insert(number as usize);
        }
        // Each group's start moved to its target's rank among the grouped vertices.
        let grouped = Ranked::new(grouped);
        let mut dfs_starts = vec![0u32; starts.len()];
        for (&number, start) in numbers.iter().zip(starts) {
            let rank = grouped.rank(number as usize).expect("marked just above");
            dfs_starts[rank as usize] = start;
        }
        DfsGroups {
            preds,
            grouped: grouped.bits,
            starts: dfs_starts,
        }
    }
}

/// How many threads the passes over `graph` use.
fn threads_for(graph: &HeapGraph) -> usize {
    if graph.edge_count() < PARALLEL_MIN_EDGES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    }
}

/// Signed integers as zigzag LEB128: one byte each below 64 in magnitude. For arrays a phase
/// does not read, kept small until it is done with (the DFS order as deltas, the parents as
/// distances below their vertex: see `Numbering`).
struct Varints {
    bytes: Vec<u8>,
    len: usize,
    /// Where the value `len / 2` of the expected `len` starts (index, byte), so that two
    /// cores can read a half each; `(0, 0)` until it is pushed.
    middle: (usize, usize),
    middle_at: usize,
}

impl Varints {
    /// Room for about `len` values without growing.
    fn with_capacity(len: usize) -> Varints {
        Varints {
            bytes: Vec::with_capacity(len + len / 4),
            len: 0,
            middle: (0, 0),
            middle_at: len / 2,
        }
    }

    #[inline]
    fn push(&mut self, value: i64) {
        if self.len == self.middle_at {
            self.middle = (self.len, self.bytes.len());
        }
        let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
        while zigzag >= 0x80 {
            self.bytes.push(zigzag as u8 | 0x80);
            zigzag >>= 7;
        }
        self.bytes.push(zigzag as u8);
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.iter_from((0, 0))
    }

    /// The values from `first` (index, byte: the start or [`middle`](Self::middle)) on.
    fn iter_from(&self, (first, mut at): (usize, usize)) -> impl Iterator<Item = i64> + '_ {
        (first..self.len).map(move |_| {
            let (mut zigzag, mut shift) = (0u64, 0);
            loop {
                let byte = self.bytes[at];
                at += 1;
                zigzag |= ((byte & 0x7f) as u64) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64)
        })
    }
}

/// Calls `visit(t, k, false)` for the targets of all retaining edges: `k` edges to `t`, one at
/// a time for stored edges, all of a class object's links at once (`links`: see
/// [`HeapGraph::class_link_counts`]); and `visit(t, 0, true)` with the target of the stored
/// edge a few ahead, to ask for its memory.
fn retained_targets(
    graph: &HeapGraph,
    links: &[(NodeId, u32)],
    mut visit: impl FnMut(usize, u32, bool),
) {
    let m = graph.stored_edge_count();
    let retaining = graph.retaining_edges();
    let target = |e: usize| graph.edge_target(EdgeId(e as u32)).index();
    for e in 0..m {
        if e + AHEAD < m {
            visit(target(e + AHEAD), 0, true);
        }
        if retaining.contains(e) {
            visit(target(e), 1, false);
        }
    }
    for &(object, count) in links {
        visit(object.index(), count, false);
    }
}

/// A bit set that also says how many members come before a given one.
#[derive(Clone, Debug)]
struct Ranked {
    bits: BitSet,
    /// Members before each 64-bit word.
    before: Vec<u32>,
}

impl Ranked {
    fn new(bits: BitSet) -> Ranked {
        let mut before = Vec::with_capacity(bits.words().len() + 1);
        let mut count = 0u32;
        for word in bits.words() {
            before.push(count);
            count += word.count_ones();
        }
        before.push(count);
        Ranked { bits, before }
    }

    fn count(&self) -> usize {
        self.before.last().copied().unwrap_or(0) as usize
    }

    /// How many members come before `i`, if `i` is one.
    #[inline]
    fn rank(&self, i: usize) -> Option<u32> {
        let word = self.bits.words()[i >> 6];
        let bit = 1u64 << (i & 63);
        (word & bit != 0).then(|| self.before[i >> 6] + (word & (bit - 1)).count_ones())
    }
}

/// A retained-size cell: each half of the sums reads and writes its own cells plainly, and
/// adds to the cells both halves reach with an atomic add.
trait SizeCell: Sync + Send + Sized {
    /// `len` cells of 0, untouched until written (a zeroed allocation, taken in place).
    fn zeroed(len: usize) -> Vec<Self>;
    fn new(size: u64) -> Self;
    fn get(&self) -> u64;
    fn set(&self, size: u64);
    fn add_shared(&self, size: u64);
}

impl SizeCell for AtomicU32 {
    fn zeroed(len: usize) -> Vec<Self> {
        vec![0u32; len].into_iter().map(AtomicU32::new).collect()
    }

    /// Sizes here are below the heap's total, which fits.
    fn new(size: u64) -> Self {
        AtomicU32::new(size as u32)
    }

    #[inline]
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed) as u64
    }

    /// Sizes here are below the heap's total, which fits.
    #[inline]
    fn set(&self, size: u64) {
        self.store(size as u32, Ordering::Relaxed);
    }

    #[inline]
    fn add_shared(&self, size: u64) {
        self.fetch_add(size as u32, Ordering::Relaxed);
    }
}

impl SizeCell for AtomicU64 {
    fn zeroed(len: usize) -> Vec<Self> {
        vec![0u64; len].into_iter().map(AtomicU64::new).collect()
    }

    fn new(size: u64) -> Self {
        AtomicU64::new(size)
    }

    #[inline]
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }

    #[inline]
    fn set(&self, size: u64) {
        self.store(size, Ordering::Relaxed);
    }

    #[inline]
    fn add_shared(&self, size: u64) {
        self.fetch_add(size, Ordering::Relaxed);
    }
}

/// Retained sizes summed up the dominator tree, children before their dominators, on two
/// cores: the vertices from `middle` to the last DFS number on one, those below `middle` on
/// the other, each in reverse DFS order. A vertex's dominator is a DFS ancestor of it, so a
/// vertex at or past the middle adds either to one past it too or to a DFS ancestor of the
/// middle vertex (`above_middle`): only those cells are shared, added to atomically and read
/// once both halves are done, from the deepest up. The root's sum, everything, is the total.
struct Sums<'a> {
    /// The node of each DFS number.
    vertex: &'a [u32],
    idom: &'a [NodeId],
    root: usize,
    middle: usize,
    /// The DFS ancestors of the vertex numbered `middle` but the root, as nodes: a set, and a
    /// list from the deepest up.
    above_middle: &'a BitSet,
    ancestors: &'a [u32],
    threads: usize,
}

impl Sums<'_> {
    /// Each node's self size, filled in two halves side by side, then the sums; with the
    /// bitwise or of the self sizes (every sum is a multiple of its lowest set bit) and what
    /// `beside` gives (see [`add_up`](Self::add_up)).
    fn sizes<C: SizeCell, T: Send>(
        &self,
        self_size: &(impl Fn(usize) -> u64 + Sync),
        total: u64,
        beside: impl FnOnce() -> T + Send,
    ) -> (Vec<C>, u64, T) {
        let mut cells = C::zeroed(self.idom.len());
        let half = cells.len() / 2;
        let (first, second) = cells.split_at_mut(half);
        let put = |slots: &mut [C], from: usize| {
            let mut all = 0;
            for (v, slot) in (from..).zip(slots.iter_mut()) {
                let size = self_size(v);
                all |= size;
                *slot = C::new(size);
            }
            all
        };
        let (low, high) = join(self.threads, || put(first, 0), || put(second, half));
        let beside = self.add_up(&cells, total, beside);
        (cells, low | high, beside)
    }

    /// The sums into `cells` (self sizes on entry); `beside` runs on the core that sums
    /// the upper half, once it is done (the shorter of the two).
    fn add_up<C: SizeCell, T: Send>(
        &self,
        cells: &[C],
        total: u64,
        beside: impl FnOnce() -> T + Send,
    ) -> T {
        let Sums {
            vertex,
            idom,
            root,
            middle,
            above_middle,
            ancestors,
            threads,
        } = *self;
        let add = |numbers: std::ops::Range<usize>| {
            for d in numbers.clone().rev() {
                if d >= numbers.start + AHEAD {
                    let ahead = vertex[d - AHEAD] as usize;
                    prefetch(idom, ahead);
                    prefetch(cells, ahead);
                }
                let v = vertex[d] as usize;
                if above_middle.contains(v) {
                    continue;
                }
                let up = idom[v].index();
                let size = cells[v].get();
                if up == root {
                    continue;
                }
                if above_middle.contains(up) {
                    cells[up].add_shared(size);
                } else {
                    cells[up].set(cells[up].get() + size);
                }
            }
        };
        let (_, beside) = join(
            threads,
            || add(1..middle.min(vertex.len())),
            || {
                add(middle..vertex.len());
                beside()
            },
        );
        for &v in ancestors {
            let up = idom[v as usize].index();
            if up != root {
                cells[up].set(cells[up].get() + cells[v as usize].get());
            }
        }
        cells[root].set(total);
        beside
    }
}

/// A depth-first numbering of the graph over retaining edges: from the root, then from each
/// orphan (no retaining edge points to it), then from each node still left, the last two
/// given a virtual edge from the root. Deterministic, so running it twice gives one result.
struct Numbering {
    /// DFS number of each node.
    pre: Vec<u32>,
    /// The node of each DFS number, coded as deltas (the DFS mostly moves between
    /// neighbouring objects): read back with a running sum.
    vertices: Varints,
    /// The DFS number of each vertex's DFS parent, coded as its distance below the vertex's
    /// own (mostly the vertex just before, or a close ancestor).
    parents: Varints,
    /// Vertices reached from the root through retaining edges.
    strongly_reached: usize,
    /// Nodes with a virtual edge from the root; empty when every node was reached.
    from_root: BitSet,
    /// The nodes whose DFS parent is the root, the root aside.
    root_children: Vec<u32>,
}

impl Numbering {
    fn run(graph: &HeapGraph) -> Numbering {
        let n = graph.node_count();
        let mut pre = vec![NONE; n];
        let mut walk = Dfs {
            first_edge: graph.first_edge(),
            graph,
            retaining: graph.retaining_edges(),
            pre: &mut pre,
            numbered: 0,
            last_vertex: 0,
            vertices: Varints::with_capacity(n),
            parents: Varints::with_capacity(n),
            root_children: Vec::new(),
            stack: Vec::new(),
        };
        walk.run(graph.root().0, 0);
        let strongly_reached = walk.numbered as usize;
        let mut from_root = BitSet::new(0);
        if strongly_reached < n {
            // Which unreached nodes some retaining edge points to: the others are orphans.
            // Only unreached nodes can hold such an edge (one from a reached node would have
            // reached its target), so only their edges are read.
            let mut has_retainer = BitSet::new(n);
            for u in (0..n).filter(|&u| walk.pre[u] == NONE) {
                for e in graph.edges(NodeId(u as u32)) {
                    if graph.retains(e) {
                        has_retainer.insert(graph.edge_target(e).index());
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
        debug_assert_eq!(walk.numbered as usize, n);
        let Dfs {
            vertices,
            parents,
            root_children,
            ..
        } = walk;
        Numbering {
            pre,
            vertices,
            parents,
            strongly_reached,
            from_root,
            root_children,
        }
    }
}

/// See [`Dominators::user_root_reach`]. The vertices numbered before the first DFS child of
/// the root that is not a user root are those the user roots reach, if every user root is
/// among them: each lies in the DFS subtree of a child of the root that is a user root, and
/// each subtree holds everything reachable from its child not numbered before.
fn user_root_reach(graph: &HeapGraph, numbering: &Numbering) -> Option<BitSet> {
    let users = graph.user_roots();
    if users.is_empty() {
        return None;
    }
    let root = graph.root();
    let pre = &numbering.pre;
    let root_number = pre[root.index()];
    let mut children = numbering.root_children.clone();
    children.sort_unstable();
    let first_other = graph
        .edges(root)
        .filter(|&e| graph.retains(e))
        .map(|e| graph.edge_target(e))
        .filter(|t| !users.contains(t) && children.binary_search(&t.0).is_ok())
        .map(|t| pre[t.index()])
        .find(|&d| d != NONE && d != root_number)
        .unwrap_or(numbering.strongly_reached as u32);
    if users.iter().any(|u| pre[u.index()] >= first_other) {
        return None;
    }
    let mut reach = BitSet::new(pre.len());
    for (v, &d) in pre.iter().enumerate() {
        if d < first_other && d != root_number {
            reach.insert(v);
        }
    }
    Some(reach)
}

/// Iterative depth-first numbering over retaining edges.
struct Dfs<'a> {
    first_edge: &'a EdgeStarts,
    graph: &'a HeapGraph,
    retaining: &'a BitSet,
    pre: &'a mut Vec<u32>,
    numbered: u32,
    last_vertex: i64,
    vertices: Varints,
    parents: Varints,
    root_children: Vec<u32>,
    stack: Vec<(u32, u32)>,
}

/// How many edges ahead the DFS asks for a target's number and edge index: a node's next
/// edge is most often the next one the walk follows, once the subtree below is done.
const DFS_AHEAD: u32 = 2;

impl Dfs<'_> {
    /// Numbers everything unnumbered reachable from `start`, whose DFS parent is `start_parent`.
    fn run(&mut self, start: u32, start_parent: u32) {
        self.enter(start, start_parent);
        while let Some(top) = self.stack.last_mut() {
            let (node, mut e) = *top;
            let end = self.first_edge.get(node as usize + 1);
            let mut next = None;
            while e < end {
                if e + DFS_AHEAD < end {
                    let ahead = self.graph.stored_edge_target((e + DFS_AHEAD) as usize) as usize;
                    prefetch(self.pre, ahead);
                    self.first_edge.prefetch(ahead);
                }
                let t = self.graph.stored_edge_target(e as usize);
                e += 1;
                if self.pre[t as usize] == NONE && self.retaining.contains(e as usize - 1) {
                    next = Some(t);
                    break;
                }
            }
            top.1 = e;
            match next {
                Some(t) => self.enter(t, self.pre[node as usize]),
                None => {
                    self.stack.pop();
                }
            }
        }
    }

    /// Numbers `node` and puts it on the stack; then, as its class link is its first edge,
    /// the link's target if that is new (and so on down a chain of links).
    #[inline]
    fn enter(&mut self, mut node: u32, mut parent: u32) {
        loop {
            let number = self.numbered;
            self.numbered += 1;
            self.pre[node as usize] = number;
            self.vertices.push(node as i64 - self.last_vertex);
            self.last_vertex = node as i64;
            self.parents.push(number as i64 - parent as i64);
            if parent == 0 && number != 0 {
                self.root_children.push(node);
            }
            self.stack.push((node, self.first_edge.get(node as usize)));
            match self.graph.class_link(NodeId(node)) {
                Some(class) if self.pre[class.index()] == NONE => {
                    node = class.0;
                    parent = number;
                }
                _ => return,
            }
        }
    }
}

/// Path-compressed evaluation: the least semidominator on the path from `v` up to (not
/// including) the first vertex not yet processed (`< last_linked`). `link` is as in
/// [`Dominators::compute_with`].
#[inline]
fn eval(v: u32, last_linked: u32, link: &mut [[u32; 2]], path: &mut Vec<u32>) -> u32 {
    // Not processed yet: itself (its `best` is only a guess until then).
    if v < last_linked {
        return v;
    }
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

    #[test]
    fn varints_give_back_every_value() {
        use super::Varints;
        let values = [
            0,
            1,
            -2,
            300,
            -5,
            u32::MAX as i64,
            0,
            -(u32::MAX as i64),
            7,
            1 << 40,
        ];
        let mut coded = Varints::with_capacity(2);
        for &v in &values {
            coded.push(v);
        }
        assert_eq!(coded.iter().collect::<Vec<_>>(), values);
        assert_eq!(Varints::with_capacity(0).iter().count(), 0);
        // Read from the middle of the expected length, or from the start before it.
        let mut halves = Varints::with_capacity(values.len());
        for (i, &v) in values.iter().enumerate() {
            halves.push(v);
            let from_middle: Vec<i64> = halves.iter_from(halves.middle).collect();
            let first = halves.middle.0;
            assert_eq!(from_middle, values[first..=i], "after {i}");
        }
        assert_eq!(halves.middle.0, values.len() / 2);
    }

    /// The threaded passes give what the single-threaded ones do (the oracle tests in
    /// tests/it only reach graphs too small for threads).
    #[test]
    fn threads_do_not_change_the_result() {
        let mut random = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |bound: u64| random() % bound;
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
        // Class links too, to a node of the graph's one class.
        b.class_object("C", nodes[7]);
        for &v in nodes.iter().step_by(3).filter(|&&v| v != nodes[7]) {
            b.class_link(v);
        }
        let g = b.finish(nodes[0]).unwrap();
        assert!(g.has_class_links());
        {
            let options = DominatorOptions {
                subtree_counts: true,
            };
            let (one, ()) = Dominators::compute_on(&g, &options, 1, || ());
            assert!(one.weak_only_count() > 0 && one.weak_only_count() < n as usize);
            // The children lists say what the idom array says, in node order.
            let tree = one.tree();
            let mut expected: Vec<Vec<NodeId>> = vec![Vec::new(); g.node_count()];
            for v in g.nodes() {
                if one.idom(v) != v {
                    expected[one.idom(v).index()].push(v);
                }
            }
            assert!(expected.iter().filter(|c| c.is_empty()).count() > 1000);
            let split = one.tree_counts().fill_on(&one, true);
            for v in g.nodes() {
                assert_eq!(tree.children(v), expected[v.index()].as_slice());
                assert_eq!(split.children(v), expected[v.index()].as_slice());
            }
            for threads in [2, 3] {
                let (many, ()) = Dominators::compute_on(&g, &options, threads, || ());
                assert_eq!(one.idom, many.idom);
                assert_eq!(one.retained, many.retained);
                assert_eq!(one.dominated, many.dominated);
                assert_eq!(one.strongly_reachable, many.strongly_reachable);
                assert_eq!(one.user_reach, many.user_reach);
                assert_eq!(one.weak_only_size, many.weak_only_size);
                assert_eq!(one.weak_only_count, many.weak_only_count);
            }
        }
    }
}
