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
    class_histogram_with(graph, dom, &dom.tree(), None)
}

/// [`class_histogram`] with the dominator tree at hand (it costs 8 bytes a node to build),
/// and the counts and shallow sizes if made already (by [`ClassCounts::count`], which needs
/// only the graph).
pub fn class_histogram_with(
    graph: &HeapGraph,
    dom: &Dominators,
    tree: &DominatorTree,
    counts: Option<ClassCounts>,
) -> Vec<ClassStats> {
    let split = graph.node_count() >= PARALLEL_MIN_NODES;
    histogram(graph, dom, tree, split, counts)
}

/// Each class's object count and shallow size: the part of the class histogram that needs
/// no dominators, so that it can be made beside them.
#[derive(Clone, Debug)]
pub struct ClassCounts(Vec<[u64; 2]>);

impl ClassCounts {
    pub fn count(graph: &HeapGraph) -> ClassCounts {
        let mut counts = vec![[0u64; 2]; graph.class_count()];
        count_range(graph, 0..graph.node_count(), &mut counts);
        ClassCounts(counts)
    }
}

/// Adds the count and shallow size of `nodes` to their classes' (zero-sized nodes aside).
fn count_range<const N: usize>(
    graph: &HeapGraph,
    nodes: std::ops::Range<usize>,
    sums: &mut [[u64; N]],
) {
    for node in nodes.map(|v| NodeId(v as u32)) {
        let size = graph.self_size(node);
        if size > 0 {
            let p = &mut sums[graph.class(node).index()];
            p[0] += 1;
            p[1] += size;
        }
    }
}

/// `split`: cut the dominator tree into subtrees and walk them on two cores (the totals are
/// the same either way); `counts` made already, or to be made here.
fn histogram(
    graph: &HeapGraph,
    dom: &Dominators,
    tree: &DominatorTree,
    split: bool,
    counts: Option<ClassCounts>,
) -> Vec<ClassStats> {
    let counted = counts.is_some();
    let mut stats: Vec<ClassStats> = (0..graph.class_count() as u32)
        .map(|c| ClassStats {
            class: ClassId(c),
            count: 0,
            shallow_size: 0,
            retained_size: 0,
        })
        .collect();
    if let Some(ClassCounts(counts)) = counts {
        for (s, [count, shallow]) in stats.iter_mut().zip(counts) {
            s.count = count;
            s.shallow_size = shallow;
        }
    }

    // Walk the dominator tree keeping the set of classes on the path from the root: a node
    // whose class is already on the path is inside an object of its class and adds nothing.
    // Subtrees are independent given the classes above them, so on a big graph the tree is
    // cut into subtrees, the biggest (by retained size) split into its children while it
    // holds over a third of the heap, and shared out between two cores.
    let root = graph.root();
    // Retained sizes counted at the nodes split, by class.
    let mut at_splits = vec![0u64; graph.class_count()];
    // Subtrees to walk, each with the classes counted above it (an index into `paths`).
    let mut paths: Vec<Vec<u32>> = vec![Vec::new()];
    let mut tops: Vec<(NodeId, u32)> = vec![(root, 0)];
    if split {
        // At most two subtrees can hold over a third of the heap at once: only the children
        // of one just split can be the next to split.
        let share = dom.retained_size(root) / 3;
        let mut big: Vec<usize> = vec![0];
        let mut splits = 0;
        while let Some(i) = big.pop() {
            let (node, path) = tops[i];
            let children = tree.children(node);
            if splits == MAX_SPLITS || dom.retained_size(node) <= share || children.is_empty() {
                continue;
            }
            splits += 1;
            let class = graph.class(node);
            let path = if !paths[path as usize].contains(&class.0) && graph.self_size(node) > 0 {
                at_splits[class.index()] += dom.retained_size(node);
                let mut above = paths[path as usize].clone();
                above.push(class.0);
                paths.push(above);
                (paths.len() - 1) as u32
            } else {
                path
            };
            tops[i].0 = SPLIT;
            for &c in children {
                if dom.retained_size(c) > share {
                    big.push(tops.len());
                }
                tops.push((c, path));
            }
        }
        tops.retain(|t| t.0 != SPLIT);
    }
    // Each part: counts and shallow sizes of a range of nodes (unless made already),
    // retained sizes of a share of the subtrees, by class.
    let part = |nodes: std::ops::Range<usize>, tops: &[(NodeId, u32)]| {
        let mut part = vec![[0u64; 3]; graph.class_count()];
        if !counted {
            count_range(graph, nodes, &mut part);
        }
        walk_subtrees(graph, dom, tree, tops, &paths, &mut part);
        part
    };
    let n = graph.node_count();
    let parts: Vec<Vec<[u64; 3]>> = if tops.len() < 2 {
        vec![part(0..n, &tops)]
    } else {
        // Each subtree to the lighter share, in tree order; each core also counts half the
        // nodes.
        let (mut shares, mut weights) = ([Vec::new(), Vec::new()], [0u64; 2]);
        for top in tops {
            let lighter = (weights[1] < weights[0]) as usize;
            weights[lighter] += dom.retained_size(top.0);
            shares[lighter].push(top);
        }
        std::thread::scope(|scope| {
            let other = scope.spawn(|| part(n / 2..n, &shares[1]));
            let here = part(0..n / 2, &shares[0]);
            vec![here, other.join().expect("the class walk does not panic")]
        })
    };
    for (c, s) in stats.iter_mut().enumerate() {
        s.retained_size = at_splits[c];
        for part in &parts {
            s.count += part[c][0];
            s.shallow_size += part[c][1];
            s.retained_size += part[c][2];
        }
    }
    stats
}

/// Below this many nodes the class walk stays on one core.
const PARALLEL_MIN_NODES: usize = 1 << 20;

/// How many subtrees the class walk splits at most before sharing them out.
const MAX_SPLITS: usize = 64;

/// A subtree already split into its children.
const SPLIT: NodeId = NodeId(u32::MAX);

/// Adds to `sums[class][2]` the retained size of every node in the dominator subtrees of
/// `tops` that no object of its own class dominates; `paths[p]` lists the classes counted
/// above a top with path `p`.
fn walk_subtrees(
    graph: &HeapGraph,
    dom: &Dominators,
    tree: &DominatorTree,
    tops: &[(NodeId, u32)],
    paths: &[Vec<u32>],
    sums: &mut [[u64; 3]],
) {
    const EXIT: u64 = 1 << 32;
    let mut on_path = vec![false; graph.class_count()];
    let mut stack: Vec<u64> = Vec::new();
    for &(top, path) in tops {
        let above = &paths[path as usize];
        for &c in above {
            on_path[c as usize] = true;
        }
        stack.push(top.0 as u64);
        while let Some(item) = stack.pop() {
            if item & EXIT != 0 {
                on_path[(item & !EXIT) as usize] = false;
                continue;
            }
            let node = NodeId(item as u32);
            let class = graph.class(node);
            let children = tree.children(node);
            if !on_path[class.index()] && graph.self_size(node) > 0 {
                sums[class.index()][2] += dom.retained_size(node);
                if !children.is_empty() {
                    on_path[class.index()] = true;
                    stack.push(EXIT | class.0 as u64);
                }
            }
            stack.extend(children.iter().rev().map(|c| c.0 as u64));
        }
        for &c in above {
            on_path[c as usize] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EdgeKind, GraphBuilder, NodeKind};

    /// The root's subtrees walked on two cores add up to the one walk, on random graphs
    /// whose classes nest (the brute-force oracle in `tests/it/dominators.rs` checks the
    /// one walk).
    #[test]
    fn the_split_walk_equals_the_single_one() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for _ in 0..300 {
            let n = 2 + next(60) as usize;
            let mut b = GraphBuilder::new();
            let nodes: Vec<NodeId> = (0..n)
                .map(|i| {
                    let size = if i == 0 { 0 } else { next(100) };
                    b.node(NodeKind::Object, &format!("C{}", next(4)), size)
                })
                .collect();
            for _ in 0..next(3 * n as u64) {
                let (from, to) = (next(n as u64) as usize, next(n as u64) as usize);
                b.edge(nodes[from], EdgeKind::Property, "f", nodes[to]);
            }
            let g = b.finish(nodes[0]).unwrap();
            let dom = Dominators::compute(&g);
            let tree = dom.tree();
            let one = histogram(&g, &dom, &tree, false, None);
            assert_eq!(histogram(&g, &dom, &tree, true, None), one);
            let counts = ClassCounts::count(&g);
            assert_eq!(histogram(&g, &dom, &tree, true, Some(counts.clone())), one);
            assert_eq!(histogram(&g, &dom, &tree, false, Some(counts)), one);
        }
    }
}
