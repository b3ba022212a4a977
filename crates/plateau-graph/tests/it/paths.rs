//! Shortest retainer paths against a brute-force breadth-first search.

use plateau_graph::{EdgeKind, GraphBuilder, NodeId, NodeKind, RetainerPaths};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn paths_are_valid_and_shortest(
        n in 2usize..30,
        raw in prop::collection::vec((0usize..30, 0usize..30, prop::bool::weighted(0.2)), 0..90),
        user_roots in prop::collection::vec((0usize..30, prop::bool::weighted(0.3)), 0..3),
        wanted in 0usize..3,
    ) {
        let mut b = GraphBuilder::new();
        let nodes: Vec<NodeId> = (0..n).map(|i| b.node(NodeKind::Object, &format!("N{i}"), 1)).collect();
        let edges: Vec<(usize, usize, bool)> =
            raw.into_iter().map(|(f, t, w)| (f % n, t % n, w)).collect();
        for (i, &(f, t, weak)) in edges.iter().enumerate() {
            let kind = if weak { EdgeKind::Weak } else { EdgeKind::Property };
            b.edge(nodes[f], kind, &format!("e{i}"), nodes[t]);
        }
        for &(u, _) in user_roots.iter().filter(|&&(_, pick)| pick) {
            b.user_root(nodes[u % n]);
        }
        let g = b.finish(nodes[0]).unwrap();
        let paths = RetainerPaths::compute(&g);
        // A search for some nodes only stops early but finds the same paths to them.
        let targets: Vec<NodeId> = (0..n).filter(|v| v % 3 == wanted % 3).map(|v| NodeId(v as u32)).collect();
        let some = RetainerPaths::compute_to(&g, &targets);
        for &t in &targets {
            prop_assert_eq!(some.path(&g, t), paths.path(&g, t));
        }
        // With user roots, paths go through them when they can, shortest or not (see
        // `user_roots_win_over_vm_roots`); without, they are shortest.
        if !g.user_roots().is_empty() {
            return Ok(());
        }
        // Brute-force distances over strong edges.
        let mut dist = vec![usize::MAX; n];
        dist[0] = 0;
        let mut frontier = vec![0usize];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for &v in &frontier {
                for &(f, t, weak) in &edges {
                    if f == v && !weak && dist[t] == usize::MAX {
                        dist[t] = dist[v] + 1;
                        next.push(t);
                    }
                }
            }
            frontier = next;
        }
        for v in 0..n {
            match paths.path(&g, NodeId(v as u32)) {
                None => prop_assert_eq!(dist[v], usize::MAX),
                Some(path) => {
                    prop_assert_eq!(path.len(), dist[v]);
                    let mut at = g.root();
                    for e in path {
                        prop_assert_eq!(g.edge_source(e), at);
                        prop_assert!(g.edge_kind(e) != EdgeKind::Weak);
                        at = g.edge_target(e);
                    }
                    prop_assert_eq!(at, NodeId(v as u32));
                }
            }
        }
    }
}

#[test]
fn user_roots_win_over_vm_roots() {
    // root -> handles -> obj (2 hops), root -> global -> a -> obj (3 hops): the path goes
    // through the global object.
    let mut b = GraphBuilder::new();
    let root = b.node(NodeKind::Synthetic, "", 0);
    let handles = b.node(NodeKind::Synthetic, "(Global handles)", 0);
    let global = b.node(NodeKind::Object, "global", 10);
    let a = b.node(NodeKind::Object, "App", 10);
    let obj = b.node(NodeKind::Object, "Thing", 10);
    b.edge(root, EdgeKind::Element, "1", handles);
    b.edge(root, EdgeKind::Shortcut, "global", global);
    b.edge(handles, EdgeKind::Hidden, "0", obj);
    b.edge(global, EdgeKind::Property, "app", a);
    b.edge(a, EdgeKind::Property, "thing", obj);
    b.user_root(global);
    let g = b.finish(root).unwrap();
    let paths = RetainerPaths::compute(&g);
    let labels: Vec<String> = paths
        .path(&g, obj)
        .unwrap()
        .into_iter()
        .map(|e| g.edge_label(e))
        .collect();
    assert_eq!(labels, ["global", "app", "thing"]);
}
