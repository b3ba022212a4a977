//! Layouts other than Node 20's, gzip input, locations, scripts, buffer boundaries.

use std::io::{BufReader, Cursor, Read, Write};

use plateau_formats::v8::{read, ReadOptions};
use plateau_formats::{maybe_gunzip, sniff};
use plateau_graph::{EdgeKind, Location, NodeId, NodeKind};

use crate::common::*;

/// A snapshot with the given node and edge field orders. Nodes are
/// `(type, name, id, self_size, edge_count)`; other fields are written as 0 (or 77 for an
/// unknown field, to prove it is ignored). Edges are `(type, name_or_index, to ordinal)`.
fn custom(
    node_fields: &[&str],
    edge_fields: &[&str],
    nodes: &[(u32, u32, u64, u64, u32)],
    edges: &[(u32, u32, u32)],
    strings: &[&str],
) -> String {
    let nf = node_fields.len();
    let type_at = node_fields.iter().position(|f| *f == "type").unwrap();
    let mut node_types: Vec<String> = node_fields
        .iter()
        .map(|_| "\"number\"".to_string())
        .collect();
    node_types[type_at] = NODE_TYPES.to_string();
    let etype_at = edge_fields.iter().position(|f| *f == "type").unwrap();
    let mut edge_types: Vec<String> = edge_fields
        .iter()
        .map(|_| "\"number\"".to_string())
        .collect();
    edge_types[etype_at] = EDGE_TYPES.to_string();
    let quote = |v: &[&str]| {
        v.iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let node_nums: Vec<String> = nodes
        .iter()
        .map(|&(ty, name, id, size, ec)| {
            node_fields
                .iter()
                .map(|f| match *f {
                    "type" => ty as u64,
                    "name" => name as u64,
                    "id" => id,
                    "self_size" => size,
                    "edge_count" => ec as u64,
                    "unknown_extra" => 77,
                    _ => 0,
                })
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let edge_nums: Vec<String> = edges
        .iter()
        .map(|&(ty, name, to)| {
            edge_fields
                .iter()
                .map(|f| match *f {
                    "type" => ty as u64,
                    "name_or_index" => name as u64,
                    "to_node" => to as u64 * nf as u64,
                    _ => 0,
                })
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":[{}],"node_types":[{}],"edge_fields":[{}],"edge_types":[{}]}},"node_count":{},"edge_count":{}}},"nodes":[{}],"edges":[{}],"strings":[{}]}}"#,
        quote(node_fields),
        node_types.join(","),
        quote(edge_fields),
        edge_types.join(","),
        nodes.len(),
        edges.len(),
        node_nums.join("\n,"),
        edge_nums.join("\n,"),
        quote(strings)
    )
}

const STRINGS: &[&str] = &["<dummy>", "", "global", "Thing", "x", "(GC roots)"];
/// root -shortcut-> global -property x-> Thing; root -element-> (GC roots)
const NODES: &[(u32, u32, u64, u64, u32)] = &[
    (SYNTHETIC, 1, 1, 0, 2),
    (OBJECT, 2, 3, 100, 1),
    (OBJECT, 3, 5, 40, 0),
    (SYNTHETIC, 5, 7, 0, 0),
];
const EDGES: &[(u32, u32, u32)] = &[(E_SHORTCUT, 2, 1), (E_ELEMENT, 1, 3), (E_PROPERTY, 4, 2)];

fn check_layout(text: &str) {
    let p = parse_all_buffers(text);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let g = &p.value.graph;
    assert_eq!(g.node_count(), 4);
    assert_eq!(g.edge_count(), 3);
    assert_eq!(g.name(NodeId(2)), "Thing");
    assert_eq!(g.kind(NodeId(2)), NodeKind::Object);
    assert_eq!(g.object_id(NodeId(2)), 5);
    assert_eq!(g.self_size(NodeId(1)), 100);
    assert_eq!(g.total_size(), 140);
    let e = g.edges(NodeId(1)).next().unwrap();
    assert_eq!(g.edge_kind(e), EdgeKind::Property);
    assert_eq!(g.edge_name(e), Some("x"));
    assert_eq!(g.edge_target(e), NodeId(2));
    assert_eq!(g.user_roots(), &[NodeId(1)]);
    let dom = plateau_graph::Dominators::compute(g);
    assert_eq!(dom.retained_size(NodeId(1)), 140);
}

#[test]
fn node20_layout_7_fields() {
    let f = [
        "type",
        "name",
        "id",
        "self_size",
        "edge_count",
        "trace_node_id",
        "detachedness",
    ];
    let text = custom(
        &f,
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    );
    check_layout(&text);
    let p = parse(&text).unwrap();
    assert_eq!(p.value.meta.node_fields.len(), 7);
}

#[test]
fn old_layout_6_fields_without_detachedness() {
    let f = [
        "type",
        "name",
        "id",
        "self_size",
        "edge_count",
        "trace_node_id",
    ];
    check_layout(&custom(
        &f,
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    ));
}

#[test]
fn very_old_layout_5_fields_without_trace_node_id() {
    let f = ["type", "name", "id", "self_size", "edge_count"];
    check_layout(&custom(
        &f,
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    ));
}

#[test]
fn fields_in_another_order_and_unknown_fields() {
    let f = [
        "unknown_extra",
        "edge_count",
        "id",
        "self_size",
        "name",
        "type",
        "detachedness",
    ];
    check_layout(&custom(
        &f,
        &["to_node", "type", "name_or_index"],
        NODES,
        EDGES,
        STRINGS,
    ));
    let f = [
        "name",
        "type",
        "id",
        "edge_count",
        "self_size",
        "unknown_extra",
    ];
    check_layout(&custom(
        &f,
        &["name_or_index", "to_node", "type"],
        NODES,
        EDGES,
        STRINGS,
    ));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_through_maybe_gunzip_and_directly() {
    let text = custom(
        &["type", "name", "id", "self_size", "edge_count"],
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    );
    let gz = gzip(text.as_bytes());
    assert_eq!(sniff::sniff(&gz), sniff::Format::Gzip);

    let mut plain = String::new();
    maybe_gunzip(Cursor::new(gz.clone()))
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, text);
    // Not gzip: passes through.
    let mut same = String::new();
    maybe_gunzip(Cursor::new(text.clone().into_bytes()))
        .unwrap()
        .read_to_string(&mut same)
        .unwrap();
    assert_eq!(same, text);

    let via = read(
        maybe_gunzip(Cursor::new(gz.clone())).unwrap(),
        &ReadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(via.value.graph.total_size(), 140);
    let mut last = 0;
    let direct = read(&gz[..], &ReadOptions::default(), &mut |n| last = n).unwrap();
    assert_eq!(direct.value.graph.total_size(), 140);
    assert_eq!(
        last,
        gz.len() as u64,
        "progress reports compressed bytes taken"
    );
    assert_eq!(direct.value.meta.bytes_read, text.len() as u64);
}

#[test]
fn multi_member_gzip() {
    let text = custom(
        &["type", "name", "id", "self_size", "edge_count"],
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    );
    let (a, b) = text.split_at(text.len() / 2);
    let mut gz = gzip(a.as_bytes());
    gz.extend(gzip(b.as_bytes()));
    let p = read(
        maybe_gunzip(BufReader::with_capacity(1, Cursor::new(gz.clone()))).unwrap(),
        &ReadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(p.value.graph.node_count(), 4);
    let p = read(&gz[..], &ReadOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.value.graph.node_count(), 4);
}

#[test]
fn corrupt_gzip_is_an_io_error() {
    let text = custom(
        &["type", "name", "id", "self_size", "edge_count"],
        &["type", "name_or_index", "to_node"],
        NODES,
        EDGES,
        STRINGS,
    );
    let mut gz = gzip(text.as_bytes());
    let mid = gz.len() / 2;
    gz[mid] ^= 0xff;
    gz[mid + 1] ^= 0xff;
    let err = read(&gz[..], &ReadOptions::default(), &mut |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("i/o error at byte ")
            || msg.starts_with("truncated")
            || msg.contains("syntax"),
        "{msg}"
    );
}

#[test]
fn progress_is_reported() {
    let mut nodes = vec![n(
        SYNTHETIC,
        "",
        1,
        0,
        (1..2000).map(|i| e(E_ELEMENT, &i.to_string(), i)).collect(),
    )];
    for i in 1..2000 {
        nodes.push(n(OBJECT, "Thing", 2 * i as u64 + 1, 16, vec![]));
    }
    let text = snapshot(&nodes);
    let mut calls = Vec::new();
    let options = ReadOptions {
        buffer_size: 4096,
        ..ReadOptions::default()
    };
    read(text.as_bytes(), &options, &mut |n| calls.push(n)).unwrap();
    assert!(calls.len() >= text.len() / 4096, "{} calls", calls.len());
    assert!(calls.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*calls.last().unwrap(), text.len() as u64);
}

#[test]
fn locations_sorted_last_wins_invalid_dropped() {
    let nodes = [
        n(SYNTHETIC, "", 1, 0, vec![e(E_SHORTCUT, "g", 1)]),
        n(
            OBJECT,
            "global",
            3,
            10,
            vec![e(E_PROPERTY, "a", 2), e(E_PROPERTY, "b", 3)],
        ),
        n(OBJECT, "Foo", 5, 20, vec![]),
        n(CLOSURE, "f", 7, 30, vec![]),
    ];
    let text = snapshot_with_locations(&nodes, &[(3, 9, 1, 2), (2, 7, 10, 4), (2, 8, 11, 5)]);
    // One location whose object index is not a node offset, one past the last node.
    let text = text.replacen(
        "\"locations\":[",
        "\"locations\":[15,1,1,1\n,70,1,1,1\n,",
        1,
    );
    let p = parse_all_buffers(&text);
    let g = &p.value.graph;
    assert_eq!(
        g.location(NodeId(2)),
        Some(Location {
            script_id: 8,
            line: 11,
            column: 5
        })
    );
    assert_eq!(
        g.location(NodeId(3)),
        Some(Location {
            script_id: 9,
            line: 1,
            column: 2
        })
    );
    assert_eq!(g.location(NodeId(1)), None);
    assert_eq!(p.value.meta.location_count, 2);
    assert_eq!(
        p.warnings,
        vec![
            "1 locations name an object_index that is not a multiple of the node field count: ignored",
            "1 locations name a node past the last one: ignored",
        ]
    );
    // Objects with a location are classed by name and location; closures by name only.
    let foo = g.class(NodeId(2));
    assert_eq!(
        g.class_info(foo).location,
        Some(Location {
            script_id: 8,
            line: 11,
            column: 5
        })
    );
    assert_eq!(g.class_info(g.class(NodeId(3))).location, None);

    let without = parse_opts(
        &text,
        &ReadOptions {
            keep_locations: false,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(without.value.graph.location(NodeId(2)), None);
    assert_eq!(without.value.meta.location_count, 0);
}

#[test]
fn scripts_title_and_allocation_traces() {
    let nodes = [n(SYNTHETIC, "", 1, 0, vec![])];
    let text = snapshot(&nodes)
        .replacen(
            "\"trace_function_count\":0",
            "\"trace_function_count\":2,\"title\":\"Snapshot 1\",\"extra_native_bytes\":5",
            1,
        )
        .replacen(
            "\"strings\":[\"<dummy>\"",
            "\"strings\":[\"<dummy>\",\"main\",\"/app/server.js\"",
            1,
        )
        .replacen(
            "\"trace_function_infos\":[]",
            "\"trace_function_infos\":[1,1,2,17,3,4\n,2,1,0,0,0,0]",
            1,
        )
        .replacen(
            "\"trace_tree\":[]",
            "\"trace_tree\":[1,0,0,0,[2,1,5,40,[]]]",
            1,
        )
        .replacen("\"samples\":[]", "\"samples\":[0,1\n,1000,5]", 1);
    let p = parse_all_buffers(&text);
    let meta = &p.value.meta;
    assert!(meta.has_allocation_traces);
    assert_eq!(meta.title.as_deref(), Some("Snapshot 1"));
    assert_eq!(meta.extra_native_bytes, 5);
    assert_eq!(
        p.value.scripts.get(&17).map(String::as_str),
        Some("/app/server.js")
    );
    assert_eq!(p.value.scripts.len(), 1);
}

#[test]
fn byte_order_mark_and_whitespace() {
    let text = format!(
        "\u{feff}  \n{}",
        snapshot(&[n(SYNTHETIC, "", 1, 0, vec![])])
    );
    assert_eq!(parse(&text).unwrap().value.graph.node_count(), 1);
    // Pretty-printed JSON reads the same.
    let text = snapshot(&[
        n(SYNTHETIC, "", 1, 0, vec![e(E_ELEMENT, "0", 1)]),
        n(OBJECT, "Thing", 3, 40, vec![]),
    ]);
    let pretty = text
        .replace(',', " ,\r\n\t ")
        .replace('[', "[ \n")
        .replace(']', "\n ]")
        .replace(':', " : ");
    let p = parse_all_buffers(&pretty);
    assert_eq!(p.value.graph.total_size(), 40);
}

#[test]
fn root_index_and_user_roots() {
    // The root is the last node; (Document DOM trees) is a user root.
    let nodes = [
        n(OBJECT, "Window", 3, 10, vec![]),
        n(SYNTHETIC, "(Document DOM trees)", 5, 0, vec![]),
        n(SYNTHETIC, "(GC roots)", 7, 0, vec![]),
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![
                e(E_SHORTCUT, "w", 0),
                e(E_ELEMENT, "1", 1),
                e(E_ELEMENT, "2", 2),
                e(E_SHORTCUT, "w2", 0),
            ],
        ),
    ];
    let text = snapshot(&nodes).replacen(
        "\"trace_function_count\":0",
        "\"trace_function_count\":0,\"root_index\":21",
        1,
    );
    let p = parse(&text).unwrap();
    let g = &p.value.graph;
    assert_eq!(g.root(), NodeId(3));
    assert_eq!(g.user_roots(), &[NodeId(0), NodeId(1)]);
}

#[test]
fn reservation_is_bounded_by_the_size_hint() {
    // A header claiming 4 billion nodes and edges neither aborts nor reserves them.
    let text = snapshot(&[n(SYNTHETIC, "", 1, 0, vec![])])
        .replacen("\"node_count\":1", "\"node_count\":4294967295", 1)
        .replacen("\"edge_count\":0", "\"edge_count\":4294967295", 1);
    for hint in [None, Some(text.len() as u64)] {
        let options = ReadOptions {
            size_hint: hint,
            ..ReadOptions::default()
        };
        let p = parse_opts(&text, &options).unwrap();
        assert_eq!(p.value.graph.node_count(), 1);
        assert_eq!(p.warnings.len(), 2);
        assert!(
            p.value.graph.heap_bytes() < 1 << 20,
            "{}",
            p.value.graph.heap_bytes()
        );
    }
}
