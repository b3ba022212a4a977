//! Dominators, retained sizes and the class histogram against a brute-force oracle: delete a
//! node and see what becomes unreachable.

use plateau_graph::{
    class_histogram, DominatorOptions, Dominators, EdgeKind, GraphBuilder, HeapGraph, NodeId,
    NodeKind, RetainerPaths,
};
use proptest::prelude::*;

/// A random graph: node sizes, classes, edges `(from, to, kind)`, and class links: an object
/// for some of the four classes, and the nodes linked to theirs (a link to a class without
/// one is left out).
#[derive(Debug, Clone)]
struct Spec {
    sizes: Vec<u64>,
    classes: Vec<u8>,
    edges: Vec<(usize, usize, EdgeKind)>,
    class_objects: [Option<usize>; 4],
    linked: Vec<bool>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..40).prop_flat_map(|n| {
        let kinds = prop_oneof![
            6 => Just(EdgeKind::Property),
            2 => Just(EdgeKind::Element),
            2 => Just(EdgeKind::Weak),
            1 => Just(EdgeKind::Shortcut),
            1 => Just(EdgeKind::Internal),
        ];
        (
            prop::collection::vec(prop_oneof![1 => Just(0u64), 5 => 1u64..1000], n),
            prop::collection::vec(0u8..4, n),
            prop::collection::vec((0..n, 0..n, kinds), 0..n * 3),
            prop::array::uniform4(prop::option::weighted(0.3, 0..n)),
            prop::collection::vec(prop::bool::weighted(0.5), n),
        )
            .prop_map(|(sizes, classes, edges, class_objects, linked)| Spec {
                sizes,
                classes,
                edges,
                class_objects,
                linked,
            })
    })
}

fn build(spec: &Spec) -> HeapGraph {
    build_with(spec, Links::Kept)
}

/// How a spec's class links are built.
#[derive(Clone, Copy, PartialEq)]
enum Links {
    /// As the graph's class links.
    Kept,
    /// As ordinary stored edges, each linked node's first.
    Stored,
}

fn build_with(spec: &Spec, links: Links) -> HeapGraph {
    let mut b = GraphBuilder::new();
    let nodes: Vec<NodeId> = spec
        .sizes
        .iter()
        .zip(&spec.classes)
        .map(|(&s, &c)| b.node(NodeKind::Object, &format!("C{c}"), s))
        .collect();
    for (c, object) in spec.class_objects.iter().enumerate() {
        if let Some(o) = *object {
            b.class_object(&format!("C{c}"), nodes[o]);
        }
    }
    // Links first: the builder keeps each node's edges in the order they were added.
    for v in (0..nodes.len()).filter(|&v| spec.linked[v]) {
        // (A node is never its own class object: the graph refuses that link.)
        if let Some(o) = spec.class_objects[spec.classes[v] as usize].filter(|&o| o != v) {
            match links {
                Links::Kept => b.class_link(nodes[v]),
                Links::Stored => {
                    b.edge(nodes[v], EdgeKind::Internal, "<class>", nodes[o]);
                }
            }
        }
    }
    for (i, &(from, to, kind)) in spec.edges.iter().enumerate() {
        let name = if kind.name_is_index() {
            i.to_string()
        } else {
            format!("e{i}")
        };
        b.edge(nodes[from], kind, &name, nodes[to]);
    }
    b.finish(nodes[0]).unwrap()
}

/// The flow graph the engine promises to compute dominators of: retaining edges, plus a
/// virtual edge from the root to every node the root cannot reach.
fn flow_graph(g: &HeapGraph) -> Vec<Vec<usize>> {
    let n = g.node_count();
    let mut succ = vec![Vec::new(); n];
    let mut has_pred = vec![false; n];
    for v in g.nodes() {
        for e in g.edges(v) {
            if g.retains(e) {
                succ[v.index()].push(g.edge_target(e).index());
                has_pred[g.edge_target(e).index()] = true;
            }
        }
    }
    let root = g.root().index();
    let reach = reachable(&succ, root, None);
    // Orphans first; whatever they do not reach afterwards is attached too.
    for v in 0..n {
        if !reach[v] && !has_pred[v] {
            succ[root].push(v);
        }
    }
    let reach = reachable(&succ, root, None);
    for v in 0..n {
        if !reach[v] {
            succ[root].push(v);
        }
    }
    succ
}

fn reachable(succ: &[Vec<usize>], root: usize, removed: Option<usize>) -> Vec<bool> {
    let mut seen = vec![false; succ.len()];
    if removed == Some(root) {
        return seen;
    }
    let mut stack = vec![root];
    seen[root] = true;
    while let Some(v) = stack.pop() {
        for &t in &succ[v] {
            if !seen[t] && Some(t) != removed {
                seen[t] = true;
                stack.push(t);
            }
        }
    }
    seen
}

/// `dominators[v]` = every node whose removal cuts `v` off the root, plus `v` itself.
fn brute_force_dominators(g: &HeapGraph) -> Vec<Vec<bool>> {
    let succ = flow_graph(g);
    let n = g.node_count();
    let mut doms = vec![vec![false; n]; n];
    for d in 0..n {
        let reach = reachable(&succ, g.root().index(), Some(d));
        for v in 0..n {
            if !reach[v] {
                doms[v][d] = true;
            }
        }
    }
    doms
}

fn check(spec: &Spec) {
    let g = build(spec);
    let options = DominatorOptions {
        subtree_counts: true,
    };
    check_with(spec, &g, &Dominators::compute_with(&g, &options));
}

fn check_with(spec: &Spec, g: &HeapGraph, dom: &Dominators) {
    let doms = brute_force_dominators(g);
    let n = g.node_count();
    let root = g.root().index();
    for v in 0..n {
        // The immediate dominator is the strict dominator with the most dominators itself.
        let expected_idom = if v == root {
            root
        } else {
            (0..n)
                .filter(|&d| d != v && doms[v][d])
                .max_by_key(|&d| doms[d].iter().filter(|&&x| x).count())
                .unwrap()
        };
        assert_eq!(
            dom.idom(NodeId(v as u32)).index(),
            expected_idom,
            "idom of {v} in {spec:?}"
        );
        let expected_retained: u64 = (0..n).filter(|&u| doms[u][v]).map(|u| spec.sizes[u]).sum();
        assert_eq!(
            dom.retained_size(NodeId(v as u32)),
            expected_retained,
            "retained size of {v}"
        );
        let expected_count = (0..n).filter(|&u| doms[u][v]).count() as u32;
        assert_eq!(dom.dominated_count(NodeId(v as u32)), Some(expected_count));
    }
    assert_eq!(dom.retained_size(g.root()), g.total_size());

    // Top-ancestor class retained sizes.
    let hist = class_histogram(g, dom);
    for stats in &hist {
        let c = stats.class;
        let counted = |v: usize| g.class(NodeId(v as u32)) == c && spec.sizes[v] > 0;
        let expected: u64 = (0..n)
            .filter(|&v| counted(v))
            .filter(|&v| !(0..n).any(|a| a != v && doms[v][a] && counted(a)))
            .map(|v| dom.retained_size(NodeId(v as u32)))
            .sum();
        assert_eq!(stats.retained_size, expected, "class {}", g.class_name(c));
        let count = (0..n).filter(|&v| counted(v)).count() as u64;
        assert_eq!(stats.count, count);
    }

    // Weakly reachable bytes: what no retaining path from the root reaches.
    let mut succ = vec![Vec::new(); n];
    for v in g.nodes() {
        for e in g.edges(v) {
            if g.retains(e) {
                succ[v.index()].push(g.edge_target(e).index());
            }
        }
    }
    let strong = reachable(&succ, root, None);
    let weak_only: u64 = (0..n).filter(|&v| !strong[v]).map(|v| spec.sizes[v]).sum();
    assert_eq!(dom.weak_only_size(), weak_only);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn dominators_match_brute_force(spec in spec()) {
        check(&spec);
    }

    /// Class links kept as a rule read, and give the answers, exactly as the same links
    /// stored as edges: edges in the same order, dominators, retained sizes, retainer paths.
    #[test]
    fn class_links_equal_stored_class_edges(spec in spec()) {
        let kept = build_with(&spec, Links::Kept);
        let stored = build_with(&spec, Links::Stored);
        prop_assert_eq!(kept.edge_count(), stored.edge_count());
        let read = |g: &HeapGraph, v: NodeId| -> Vec<_> {
            g.edges(v)
                .map(|e| (g.edge_kind(e), g.edge_label(e), g.edge_target(e), g.retains(e), g.edge_source(e)))
                .collect()
        };
        for v in kept.nodes() {
            prop_assert_eq!(read(&kept, v), read(&stored, v));
            prop_assert_eq!(kept.out_degree(v), stored.out_degree(v));
        }
        let options = DominatorOptions { subtree_counts: true };
        let (a, b) = (Dominators::compute_with(&kept, &options), Dominators::compute_with(&stored, &options));
        for v in kept.nodes() {
            prop_assert_eq!(a.idom(v), b.idom(v));
            prop_assert_eq!(a.retained_size(v), b.retained_size(v));
            prop_assert_eq!(a.dominated_count(v), b.dominated_count(v));
            prop_assert_eq!(a.is_strongly_reachable(v), b.is_strongly_reachable(v));
        }
        let label = |g: &HeapGraph, path: Option<Vec<plateau_graph::EdgeId>>| {
            path.map(|p| p.into_iter().map(|e| (g.edge_source(e), g.edge_label(e), g.edge_target(e))).collect::<Vec<_>>())
        };
        let (pa, pb) = (RetainerPaths::compute(&kept), RetainerPaths::compute(&stored));
        for v in kept.nodes() {
            prop_assert_eq!(label(&kept, pa.path(&kept, v)), label(&stored, pb.path(&stored, v)));
        }
    }
}

#[test]
fn diamond_and_chain() {
    // 0 -> 1 -> 2 -> 4, 0 -> 3 -> 4: node 4 is dominated by the root only.
    check(&Spec {
        sizes: vec![0, 10, 20, 30, 40],
        classes: vec![0, 1, 1, 2, 3],
        edges: vec![
            (0, 1, EdgeKind::Property),
            (1, 2, EdgeKind::Property),
            (2, 4, EdgeKind::Property),
            (0, 3, EdgeKind::Property),
            (3, 4, EdgeKind::Property),
        ],
        class_objects: [None; 4],
        linked: vec![false; 5],
    });
}

#[test]
fn weak_only_nodes_hang_off_the_root() {
    // 0 -> 1 (strong), 1 -> 2 (weak), 2 -> 3: 2 and 3 are held only weakly.
    let spec = Spec {
        sizes: vec![0, 10, 20, 30],
        classes: vec![0, 1, 2, 3],
        edges: vec![
            (0, 1, EdgeKind::Property),
            (1, 2, EdgeKind::Weak),
            (2, 3, EdgeKind::Property),
        ],
        class_objects: [None; 4],
        linked: vec![false; 4],
    };
    check(&spec);
    let g = build(&spec);
    let dom = Dominators::compute(&g);
    assert_eq!(dom.idom(NodeId(2)), NodeId(0));
    assert_eq!(dom.retained_size(NodeId(2)), 50);
    assert_eq!(dom.weak_only_size(), 50);
    assert!(!dom.is_strongly_reachable(NodeId(3)));
}

#[test]
fn shortcut_edges_retain_only_from_the_root() {
    // 0 -> 1 -> 2, 1 -shortcut-> 3, 0 -> 3 -> 2? no: 3 reached from the root only.
    let spec = Spec {
        sizes: vec![0, 10, 20, 30],
        classes: vec![0, 1, 2, 3],
        edges: vec![
            (0, 1, EdgeKind::Shortcut),
            (1, 2, EdgeKind::Property),
            (2, 3, EdgeKind::Shortcut),
        ],
        class_objects: [None; 4],
        linked: vec![false; 4],
    };
    check(&spec);
    let g = build(&spec);
    let dom = Dominators::compute(&g);
    assert_eq!(dom.retained_size(NodeId(1)), 30);
    assert_eq!(dom.idom(NodeId(3)), NodeId(0));
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    let mut b = GraphBuilder::new();
    let root = b.node(NodeKind::Synthetic, "", 0);
    let mut prev = root;
    for _ in 0..1_000_000 {
        let next = b.node(NodeKind::Object, "Link", 8);
        b.edge(prev, EdgeKind::Property, "next", next);
        prev = next;
    }
    let g = b.finish(root).unwrap();
    let dom = Dominators::compute(&g);
    assert_eq!(dom.retained_size(root), 8_000_000);
    assert_eq!(dom.retained_size(NodeId(1)), 8_000_000);
    assert_eq!(dom.idom(prev).0, prev.0 - 1);
}
