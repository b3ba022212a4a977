//! DevTools semantics on small hand-made graphs.

use plateau_graph::{Dominators, Location, NodeId};

use crate::common::*;

#[test]
fn ephemeron_table_edge_does_not_retain() {
    // global -> keyHolder -> Key; global -> WeakMap -> table; the value is reached from the
    // table (weak + internal ephemeron edge) and from the key (internal ephemeron edge).
    let pair = "1 / part of key (Key @9) -> value (Value @11) pair in WeakMap (table @7)";
    let nodes = [
        n(SYNTHETIC, "", 1, 0, vec![e(E_SHORTCUT, "global", 1)]),
        n(
            OBJECT,
            "global",
            3,
            10,
            vec![e(E_PROPERTY, "wm", 2), e(E_PROPERTY, "key", 4)],
        ),
        n(OBJECT, "WeakMap", 5, 20, vec![e(E_INTERNAL, "table", 3)]),
        n(
            ARRAY,
            "",
            7,
            100,
            vec![e(E_WEAK, "1", 5), e(E_INTERNAL, pair, 5)],
        ),
        n(OBJECT, "Key", 9, 30, vec![e(E_INTERNAL, pair, 5)]),
        n(OBJECT, "Value", 11, 40, vec![]),
    ];
    let p = parse_all_buffers(&snapshot(&nodes));
    let g = &p.value.graph;
    let table_edges: Vec<_> = g.edges(NodeId(3)).collect();
    assert!(!g.retains(table_edges[0]), "weak edge");
    assert!(!g.retains(table_edges[1]), "ephemeron edge from the table");
    let key_edge = g.edges(NodeId(4)).next().unwrap();
    assert!(g.retains(key_edge), "ephemeron edge from the key");
    let dom = Dominators::compute(g);
    assert_eq!(dom.idom(NodeId(5)), NodeId(4));
    assert_eq!(dom.retained_size(NodeId(4)), 70);
    // The WeakMap's table was moved onto the WeakMap (shallow transfer).
    assert_eq!(g.self_size(NodeId(2)), 120);
    assert_eq!(dom.retained_size(NodeId(2)), 120);
}

#[test]
fn page_owned_nodes_are_not_retained_by_vm_roots() {
    let nodes = [
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![
                e(E_SHORTCUT, "global", 1),
                e(E_ELEMENT, "1", 2),
                e(E_ELEMENT, "2", 5),
            ],
        ),
        n(OBJECT, "global", 3, 10, vec![e(E_PROPERTY, "x", 4)]),
        n(SYNTHETIC, "(GC roots)", 5, 0, vec![e(E_ELEMENT, "0", 3)]),
        n(
            SYNTHETIC,
            "(Strong roots)",
            7,
            0,
            vec![e(E_HIDDEN, "0", 4), e(E_HIDDEN, "1", 6)],
        ),
        n(OBJECT, "X", 9, 50, vec![]),
        n(OBJECT, "RootHeld", 11, 60, vec![e(E_PROPERTY, "y", 4)]),
        n(OBJECT, "VmOnly", 13, 70, vec![]),
    ];
    let p = parse(&snapshot(&nodes)).unwrap();
    let g = &p.value.graph;
    let strong: Vec<_> = g.edges(NodeId(3)).collect();
    assert!(
        !g.retains(strong[0]),
        "non-page-owned (Strong roots) -> page-owned X"
    );
    assert!(g.retains(strong[1]), "into a non-page-owned node");
    let from_root: Vec<_> = g.edges(NodeId(0)).collect();
    assert!(
        from_root.iter().all(|&e| g.retains(e)),
        "the root's edges retain"
    );
    let held = g.edges(NodeId(5)).next().unwrap();
    assert!(!g.retains(held), "RootHeld is not page-owned, X is");
    let dom = Dominators::compute(g);
    assert_eq!(dom.idom(NodeId(4)), NodeId(1), "X is dominated by global");
    assert_eq!(dom.idom(NodeId(6)), NodeId(3));
    // Every non-synthetic child of the root is a user root.
    assert_eq!(g.user_roots(), &[NodeId(1), NodeId(5)]);
}

#[test]
fn weak_self_and_shortcut_edges() {
    let nodes = [
        n(SYNTHETIC, "", 1, 0, vec![e(E_SHORTCUT, "global", 1)]),
        n(
            OBJECT,
            "global",
            3,
            10,
            vec![
                e(E_PROPERTY, "self", 1),
                e(E_SHORTCUT, "bound_this", 2),
                e(E_WEAK, "w", 3),
                e(E_PROPERTY, "a", 4),
            ],
        ),
        n(OBJECT, "A", 5, 1, vec![]),
        n(OBJECT, "B", 7, 2, vec![]),
        n(
            OBJECT,
            "C",
            9,
            3,
            vec![e(E_PROPERTY, "a", 2), e(E_PROPERTY, "b", 3)],
        ),
    ];
    let g = parse(&snapshot(&nodes)).unwrap().value.graph;
    let flags: Vec<bool> = g.edges(NodeId(1)).map(|e| g.retains(e)).collect();
    assert_eq!(flags, vec![false, false, false, true]);
    let dom = Dominators::compute(&g);
    assert_eq!(dom.idom(NodeId(2)), NodeId(4));
    assert_eq!(dom.retained_size(NodeId(4)), 6);
}

#[test]
fn shallow_sizes_move_to_unique_owners() {
    let nodes = [
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![e(E_SHORTCUT, "global", 1), e(E_ELEMENT, "1", 7)],
        ),
        n(
            OBJECT,
            "global",
            3,
            10,
            vec![
                e(E_PROPERTY, "a", 2),
                e(E_PROPERTY, "b", 3),
                e(E_PROPERTY, "s", 8),
            ],
        ),
        // A owns its elements array, which owns a hidden node.
        n(
            OBJECT,
            "A",
            5,
            16,
            vec![e(E_INTERNAL, "elements", 4), e(E_INTERNAL, "shared", 5)],
        ),
        n(
            OBJECT,
            "B",
            7,
            16,
            vec![e(E_INTERNAL, "shared", 5), e(E_WEAK, "w", 6)],
        ),
        n(
            ARRAY,
            "(object elements)",
            9,
            100,
            vec![e(E_INTERNAL, "x", 10)],
        ),
        // Shared by A and B: stays.
        n(ARRAY, "", 11, 200, vec![]),
        // Reached only weakly: stays.
        n(ARRAY, "", 13, 300, vec![]),
        // Owned by a synthetic node: stays.
        n(HIDDEN, "system / Foo", 15, 400, vec![]),
        n(STRING, "external", 17, 20, vec![e(E_INTERNAL, "data", 9)]),
        n(NATIVE, "system / ExternalStringData", 19, 500, vec![]),
        n(HIDDEN, "system / Bar", 21, 1000, vec![]),
    ];
    let p = parse(&snapshot(&nodes)).unwrap();
    let g = &p.value.graph;
    let sizes: Vec<u64> = g.nodes().map(|n| g.self_size(n)).collect();
    assert_eq!(sizes, vec![0, 10, 1116, 16, 0, 200, 300, 400, 520, 0, 0]);
    // The option turns it off.
    let options = plateau_formats::v8::ReadOptions {
        transfer_shallow_sizes: false,
        ..Default::default()
    };
    let raw = parse_opts(&snapshot(&nodes), &options).unwrap();
    assert!(!raw.value.meta.shallow_sizes_transferred);
    assert_eq!(raw.value.graph.self_size(NodeId(2)), 16);
    assert_eq!(g.total_size(), 2562);
    assert_eq!(p.value.meta.raw_total_size, 2562);
    assert!(p.value.meta.shallow_sizes_transferred);

    // Without a user root (internals exposed) nothing moves.
    let mut nodes = nodes.to_vec();
    nodes[0].edges[0].ty = E_ELEMENT;
    nodes[0].edges[0].name = "0".into();
    nodes[1].ty = SYNTHETIC;
    nodes[7].ty = SYNTHETIC;
    let p = parse(&snapshot(&nodes)).unwrap();
    assert!(!p.value.meta.shallow_sizes_transferred);
    assert_eq!(p.value.graph.self_size(NodeId(2)), 16);
}

#[test]
fn class_names_by_type() {
    let kinds = [
        (HIDDEN, "system / Context", "(system)"),
        (ARRAY, "(object elements)", "(array)"),
        (STRING, "hello", "(string)"),
        (OBJECT, "Foo", "Foo"),
        (CODE, "fn", "(compiled code)"),
        (CLOSURE, "fn", "Function"),
        (REGEXP, "a+b", "RegExp"),
        (NATIVE, "<div id=\"x\" class=\"y\">", "<div>"),
        (NATIVE, "<span>", "<span>"),
        (NATIVE, "Node / TCPWrap", "Node / TCPWrap"),
        (SYNTHETIC, "(GC roots)", "(synthetic)"),
        (14, "system / Map", "(object shape)"),
        (10, "(concatenated string)", "(concatenated string)"),
    ];
    let mut nodes = vec![n(SYNTHETIC, "", 1, 0, vec![])];
    for (i, (ty, name, _)) in kinds.iter().enumerate() {
        nodes.push(n(*ty, name, 3 + 2 * i as u64, 8, vec![]));
        nodes[0].edges.push(e(E_ELEMENT, &i.to_string(), i + 1));
    }
    let p = parse(&snapshot(&nodes)).unwrap();
    let g = &p.value.graph;
    for (i, (_, _, class)) in kinds.iter().enumerate() {
        assert_eq!(g.class_name_of(NodeId(i as u32 + 1)), *class);
    }
    // The two closures share one class with... nothing else; RegExp is one class.
    let regexp = g.class(NodeId(7));
    assert_eq!(g.class_name(regexp), "RegExp");
}

#[test]
fn same_named_constructors_at_different_locations_are_different_classes() {
    let nodes = [
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![
                e(E_ELEMENT, "0", 1),
                e(E_ELEMENT, "1", 2),
                e(E_ELEMENT, "2", 3),
                e(E_ELEMENT, "3", 4),
                e(E_ELEMENT, "4", 5),
            ],
        ),
        n(OBJECT, "Item", 3, 8, vec![]),
        n(OBJECT, "Item", 5, 8, vec![]),
        n(OBJECT, "Item", 7, 8, vec![]),
        n(OBJECT, "Item", 9, 8, vec![]),
        n(CLOSURE, "Item", 11, 8, vec![]),
    ];
    let text = snapshot_with_locations(
        &nodes,
        &[(1, 5, 10, 2), (2, 5, 10, 2), (3, 6, 1, 1), (5, 5, 10, 2)],
    );
    let g = parse(&text).unwrap().value.graph;
    assert_eq!(g.class(NodeId(1)), g.class(NodeId(2)));
    assert_ne!(g.class(NodeId(1)), g.class(NodeId(3)));
    assert_ne!(g.class(NodeId(1)), g.class(NodeId(4)));
    assert_ne!(g.class(NodeId(3)), g.class(NodeId(4)));
    assert_eq!(g.class_info(g.class(NodeId(4))).location, None);
    assert_eq!(
        g.class_info(g.class(NodeId(3))).location,
        Some(Location {
            script_id: 6,
            line: 1,
            column: 1
        })
    );
    assert_eq!(g.class_name_of(NodeId(5)), "Function");
    assert_eq!(g.class_info(g.class(NodeId(5))).location, None);
}

/// A root with `objects` plain Objects, each with the given property names (plus
/// `__proto__`).
fn plain_objects(objects: &[&[&str]]) -> String {
    let mut nodes = vec![n(SYNTHETIC, "", 1, 0, vec![e(E_SHORTCUT, "global", 1)])];
    nodes.push(n(OBJECT, "global", 3, 8, vec![]));
    let proto = objects.len() + 2;
    for (i, props) in objects.iter().enumerate() {
        nodes[1].edges.push(e(E_ELEMENT, &i.to_string(), i + 2));
        let mut edges: Vec<E> = props.iter().map(|p| e(E_PROPERTY, p, proto)).collect();
        edges.insert(0, e(E_PROPERTY, "__proto__", proto));
        edges.push(e(E_INTERNAL, "map", proto));
        nodes.push(n(OBJECT, "Object", 5 + 2 * i as u64, 16, edges));
    }
    nodes.push(n(OBJECT, "Proto", 1001, 8, vec![]));
    snapshot(&nodes)
}

#[test]
fn interface_names_for_plain_objects() {
    let objects: &[&[&str]] = &[
        &["y", "x", "z"],
        &["x", "y"],
        &["x", "y", "z"],
        &["y", "x", "z"],
        &["x", "y"],
        &["x", "w", "y"],
        &["a,b", "q"],
        &["a,b", "q"],
        &[],
        &["lonely"],
    ];
    let p = parse_all_buffers(&plain_objects(objects));
    let g = &p.value.graph;
    let class = |i: usize| g.class_name_of(NodeId(i as u32 + 2)).to_string();
    // Candidates: {y, x, z} ×2, {x, y} ×2, {x, y, z} ×1, {x, w, y} ×1, {"a,b", q} ×2, {lonely} ×1.
    assert_eq!(p.value.meta.interfaces, 3);
    assert_eq!(class(0), "{y, x, z}");
    assert_eq!(class(1), "{x, y}");
    // {x, y, z} has the properties of {y, x, z} (3) and {x, y} (2): the larger wins.
    assert_eq!(class(2), "{y, x, z}");
    assert_eq!(class(3), "{y, x, z}");
    assert_eq!(class(5), "{x, y}", "a superset of {{x, y}}");
    assert_eq!(class(6), "{\"a,b\", q}");
    assert_eq!(class(8), "Object", "no properties");
    assert_eq!(class(9), "Object", "only one object has it");
    // The node names stay raw.
    assert_eq!(g.name(NodeId(2)), "Object");

    let options = plateau_formats::v8::ReadOptions {
        infer_interfaces: false,
        ..Default::default()
    };
    let p = parse_opts(&plain_objects(objects), &options).unwrap();
    assert_eq!(p.value.graph.class_name_of(NodeId(2)), "Object");
}

#[test]
fn interface_names_are_cut_at_120_characters() {
    let long: Vec<String> = (0..10).map(|i| format!("property_number_{i:02}")).collect();
    let props: Vec<&str> = long.iter().map(String::as_str).collect();
    let huge = "h".repeat(150);
    let p = parse(&plain_objects(&[
        &props,
        &props,
        &[huge.as_str(), "after"],
        &[huge.as_str(), "after"],
    ]))
    .unwrap();
    let g = &p.value.graph;
    let name = g.class_name_of(NodeId(2));
    // DevTools checks "{" + names so far + the next name (not its ", ") against 120: after
    // six names the length is 1 + 6 × 18 + 5 × 2 = 119, and 119 + 18 > 120.
    assert_eq!(name, format!("{{{}}}", props[..6].join(", ")));
    // The first property is always taken, however long.
    assert_eq!(g.class_name_of(NodeId(4)), format!("{{{huge}}}"));
}

#[test]
fn detached_native_nodes_are_renamed() {
    let mut nodes = vec![
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![e(E_ELEMENT, "0", 1), e(E_ELEMENT, "1", 4)],
        ),
        n(
            NATIVE,
            "<div id=\"a\">",
            3,
            10,
            vec![
                e(E_INTERNAL, "child", 2),
                e(E_INTERNAL, "js", 3),
                e(E_INTERNAL, "shared", 5),
            ],
        ),
        n(NATIVE, "HTMLSpanElement", 5, 10, vec![]),
        n(OBJECT, "Wrapper", 7, 10, vec![]),
        n(NATIVE, "Attached", 9, 10, vec![e(E_INTERNAL, "shared", 5)]),
        n(NATIVE, "Shared", 11, 10, vec![]),
    ];
    nodes[1].detached = 2;
    nodes[4].detached = 1;
    let p = parse(&snapshot(&nodes)).unwrap();
    let g = &p.value.graph;
    assert_eq!(g.name(NodeId(1)), "Detached <div id=\"a\">");
    assert_eq!(g.class_name_of(NodeId(1)), "Detached <div>");
    assert_eq!(g.name(NodeId(2)), "Detached HTMLSpanElement");
    assert_eq!(
        g.name(NodeId(3)),
        "Wrapper",
        "JavaScript objects are not renamed"
    );
    assert_eq!(g.name(NodeId(5)), "Shared", "attached wins");
    assert_eq!(p.value.meta.detached_nodes, 2);
}
