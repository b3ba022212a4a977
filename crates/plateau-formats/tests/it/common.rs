//! Helpers to write small snapshots by hand.

use plateau_formats::v8::{read, ReadOptions, V8Snapshot};
use plateau_formats::{FormatError, Parsed};
use plateau_graph::HeapGraph;

pub const NODE_TYPES: &str = r#"["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape","wasm object"]"#;
pub const EDGE_TYPES: &str =
    r#"["context","element","property","internal","hidden","shortcut","weak"]"#;

// Node type indices in NODE_TYPES.
pub const HIDDEN: u32 = 0;
pub const ARRAY: u32 = 1;
pub const STRING: u32 = 2;
pub const OBJECT: u32 = 3;
pub const CODE: u32 = 4;
pub const CLOSURE: u32 = 5;
pub const REGEXP: u32 = 6;
pub const NATIVE: u32 = 8;
pub const SYNTHETIC: u32 = 9;
// Edge type indices in EDGE_TYPES.
pub const E_ELEMENT: u32 = 1;
pub const E_PROPERTY: u32 = 2;
pub const E_INTERNAL: u32 = 3;
pub const E_HIDDEN: u32 = 4;
pub const E_SHORTCUT: u32 = 5;
pub const E_WEAK: u32 = 6;

/// The Node 20 header: 7 node fields, 3 edge fields, 4 location fields.
pub fn header(node_count: usize, edge_count: usize) -> String {
    format!(
        r#"{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{NODE_TYPES},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{EDGE_TYPES},"string_or_number","node"],"trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],"trace_node_fields":["id","function_info_index","count","size","children"],"sample_fields":["timestamp_us","last_assigned_id"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{node_count},"edge_count":{edge_count},"trace_function_count":0}}"#
    )
}

/// A node of a hand-written snapshot (7-field layout).
#[derive(Clone, Debug)]
pub struct N {
    pub ty: u32,
    pub name: &'static str,
    pub id: u64,
    pub size: u64,
    pub detached: u8,
    pub edges: Vec<E>,
}

/// An edge: type, name (a string, or an index for element/hidden edges), target node index.
#[derive(Clone, Debug)]
pub struct E {
    pub ty: u32,
    pub name: String,
    pub to: usize,
}

pub fn n(ty: u32, name: &'static str, id: u64, size: u64, edges: Vec<E>) -> N {
    N {
        ty,
        name,
        id,
        size,
        detached: 0,
        edges,
    }
}

pub fn e(ty: u32, name: &str, to: usize) -> E {
    E {
        ty,
        name: name.to_string(),
        to,
    }
}

/// Serialises nodes (with strings interned in order of appearance) to a V8-shaped snapshot,
/// with `locations` as (node index, script, line, column).
pub fn snapshot_with_locations(nodes: &[N], locations: &[(usize, u32, u32, u32)]) -> String {
    let mut strings: Vec<String> = vec!["<dummy>".to_string()];
    let mut intern = |s: &str| -> usize {
        if let Some(i) = strings.iter().position(|x| x == s) {
            return i;
        }
        strings.push(s.to_string());
        strings.len() - 1
    };
    let mut node_nums = Vec::new();
    let mut edge_nums = Vec::new();
    let mut edge_count = 0;
    for node in nodes {
        let name = intern(node.name);
        node_nums.push(format!(
            "{},{},{},{},{},0,{}",
            node.ty,
            name,
            node.id,
            node.size,
            node.edges.len(),
            node.detached
        ));
        for edge in &node.edges {
            let name = if edge.ty == E_ELEMENT || edge.ty == E_HIDDEN {
                edge.name
                    .parse::<usize>()
                    .expect("index edge names are numbers")
            } else {
                intern(&edge.name)
            };
            edge_nums.push(format!("{},{},{}", edge.ty, name, edge.to * 7));
            edge_count += 1;
        }
    }
    let locs: Vec<String> = locations
        .iter()
        .map(|(node, s, l, c)| format!("{},{s},{l},{c}", node * 7))
        .collect();
    let strings: Vec<String> = strings
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    format!(
        "{{\"snapshot\":{},\n\"nodes\":[{}],\n\"edges\":[{}],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[{}],\n\"strings\":[{}]}}\n",
        header(nodes.len(), edge_count),
        node_nums.join("\n,"),
        edge_nums.join("\n,"),
        locs.join("\n,"),
        strings.join(",\n")
    )
}

pub fn snapshot(nodes: &[N]) -> String {
    snapshot_with_locations(nodes, &[])
}

pub fn parse_opts(text: &str, options: &ReadOptions) -> Result<Parsed<V8Snapshot>, FormatError> {
    read(text.as_bytes(), options, &mut |_| {})
}

pub fn parse(text: &str) -> Result<Parsed<V8Snapshot>, FormatError> {
    parse_opts(text, &ReadOptions::default())
}

/// Parses with every small buffer size too, checking they all agree, to exercise refills
/// inside every token.
pub fn parse_all_buffers(text: &str) -> Parsed<V8Snapshot> {
    let reference = parse(text).unwrap_or_else(|e| panic!("{e}"));
    for size in [64, 65, 67, 71, 100, 128] {
        let options = ReadOptions {
            buffer_size: size,
            ..ReadOptions::default()
        };
        let other = parse_opts(text, &options).unwrap_or_else(|e| panic!("buffer {size}: {e}"));
        assert_same(&reference.value.graph, &other.value.graph, size);
    }
    reference
}

pub fn assert_same(a: &HeapGraph, b: &HeapGraph, what: usize) {
    assert_eq!(a.node_count(), b.node_count(), "buffer {what}");
    assert_eq!(a.edge_count(), b.edge_count(), "buffer {what}");
    for n in a.nodes() {
        assert_eq!(a.name(n), b.name(n), "buffer {what}");
        assert_eq!(a.self_size(n), b.self_size(n), "buffer {what}");
        assert_eq!(a.object_id(n), b.object_id(n), "buffer {what}");
        assert_eq!(a.class_name_of(n), b.class_name_of(n), "buffer {what}");
        let ea: Vec<_> = a
            .edges(n)
            .map(|e| (a.edge_label(e), a.edge_target(e)))
            .collect();
        let eb: Vec<_> = b
            .edges(n)
            .map(|e| (b.edge_label(e), b.edge_target(e)))
            .collect();
        assert_eq!(ea, eb, "buffer {what}");
    }
}

/// The error message, asserting the read failed.
pub fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e.to_string(),
    }
}
