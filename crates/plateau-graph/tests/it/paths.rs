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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// The dominators' note of what the user roots reach is exact when given, and a search
    /// that uses it to stop its first phase early finds the same paths as one that does not.
    #[test]
    fn the_user_root_reach_shortens_the_search_but_not_the_paths(
        n in 3usize..30,
        users in prop::collection::vec(1usize..30, 1..3),
        users_first in prop::bool::weighted(0.8),
        raw in prop::collection::vec(
            (0usize..30, 0usize..30, prop::sample::select(vec![0u8, 0, 0, 1, 2])),
            0..90,
        ),
        wanted in 0usize..3,
    ) {
        let mut b = GraphBuilder::new();
        let nodes: Vec<NodeId> =
            (0..n).map(|i| b.node(NodeKind::Object, &format!("N{i}"), 1)).collect();
        let users: Vec<usize> = users.into_iter().map(|u| 1 + u % (n - 1)).collect();
        let to_users = |b: &mut GraphBuilder| {
            for &u in &users {
                b.edge(nodes[0], EdgeKind::Element, "0", nodes[u]);
            }
        };
        if users_first {
            to_users(&mut b);
        }
        let edges: Vec<(usize, usize, EdgeKind)> = raw
            .into_iter()
            .map(|(f, t, k)| {
                let kind = [EdgeKind::Property, EdgeKind::Weak, EdgeKind::Shortcut][k as usize];
                (f % n, t % n, kind)
            })
            .collect();
        for (i, &(f, t, kind)) in edges.iter().enumerate() {
            b.edge(nodes[f], kind, &format!("e{i}"), nodes[t]);
        }
        if !users_first {
            to_users(&mut b);
        }
        for &u in &users {
            b.user_root(nodes[u]);
        }
        let g = b.finish(nodes[0]).unwrap();
        let dom = plateau_graph::Dominators::compute(&g);
        if let Some(reach) = dom.user_root_reach() {
            // Brute force: what retaining edges reach from the user roots, not through the
            // root (the search's first phase never passes it either).
            let mut seen = vec![false; n];
            seen[0] = true;
            let mut stack: Vec<usize> = users.clone();
            while let Some(v) = stack.pop() {
                if std::mem::replace(&mut seen[v], true) {
                    continue;
                }
                for e in g.edges(NodeId(v as u32)) {
                    if g.retains(e) {
                        stack.push(g.edge_target(e).index());
                    }
                }
            }
            for v in 1..n {
                prop_assert_eq!(reach.contains(v), seen[v], "node {}", v);
            }
        }
        let targets: Vec<NodeId> =
            (0..n).filter(|v| v % 3 == wanted % 3).map(|v| NodeId(v as u32)).collect();
        let plain = RetainerPaths::compute_to(&g, &targets);
        let hinted = RetainerPaths::compute_to_with(&g, &targets, dom.user_root_reach());
        for &t in &targets {
            prop_assert_eq!(hinted.path(&g, t), plain.path(&g, t), "target {}", t.0);
        }
    }
}
