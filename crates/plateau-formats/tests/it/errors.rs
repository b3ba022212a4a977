//! Every way a file can be wrong gives one error naming where and what.

use crate::common::*;

/// A valid two-node snapshot: the root and one object.
fn small() -> String {
    snapshot(&[
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![e(E_SHORTCUT, "1", 1), e(E_ELEMENT, "1", 1)],
        ),
        n(OBJECT, "Thing", 3, 40, vec![]),
    ])
}

#[test]
fn the_small_snapshot_is_valid() {
    let p = parse(&small()).unwrap();
    assert_eq!(p.value.graph.node_count(), 2);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn empty_input() {
    assert_eq!(
        error_of(""),
        "empty input: expected a V8 heap snapshot (a JSON object)"
    );
    assert!(error_of(" \n\t ").starts_with("empty input"));
}

#[test]
fn not_json() {
    assert_eq!(
        error_of("hello"),
        "not a V8 heap snapshot: byte 0 is 'h', expected `{` opening a JSON object"
    );
    assert_eq!(
        error_of("\n  JAVA PROFILE 1.0.2"),
        "not a V8 heap snapshot: byte 3 is 'J', expected `{` opening a JSON object"
    );
    let msg = error_of("[1,2,3]");
    assert!(msg.contains("byte 0 is '[' (an array)"), "{msg}");
    let msg = error_of("\u{0}\u{1}");
    assert!(msg.contains("byte 0 is byte 0x00"), "{msg}");
}

#[test]
fn json_of_another_shape() {
    let msg = error_of(r#"{"name": "x", "items": [1, 2, {"a": null}]}"#);
    assert_eq!(
        msg,
        "not a V8 heap snapshot: the top-level object has no \"snapshot\" header"
    );
    assert!(error_of("{}").contains("no \"snapshot\" header"));
}

#[test]
fn missing_arrays() {
    let text = small();
    let without = |key: &str| {
        let start = text.find(&format!("\"{key}\":")).unwrap();
        let end = start + text[start..].find("],\n").unwrap() + 3;
        format!("{}{}", &text[..start], &text[end..])
    };
    assert_eq!(
        error_of(&without("nodes")),
        "not a V8 heap snapshot: the top-level object has no \"nodes\" array"
    );
    assert_eq!(
        error_of(&without("edges")),
        "not a V8 heap snapshot: the top-level object has no \"edges\" array"
    );
    let no_strings = text.replace(
        &text[text.find(",\n\"strings\"").unwrap()..text.len() - 2],
        "",
    );
    assert_eq!(
        error_of(&no_strings),
        "not a V8 heap snapshot: the top-level object has no \"strings\" array"
    );
}

#[test]
fn header_must_come_first() {
    let text = small();
    let header_end = text.find(",\n\"nodes\"").unwrap();
    let header = &text[1..header_end];
    let rest = &text[header_end + 2..text.len() - 2];
    let moved = format!("{{{rest},\n{header}}}");
    assert_eq!(
        error_of(&moved),
        "\"nodes\" at byte 1 comes before \"snapshot\": the header (snapshot.meta) must precede the arrays it describes"
    );
}

#[test]
fn keys_in_another_order_are_fine() {
    let text = small();
    // strings first, then the header, then edges before nodes.
    let strings_at = text.find("\"strings\"").unwrap();
    let strings = &text[strings_at..text.len() - 2];
    let header_end = text.find(",\n\"nodes\"").unwrap();
    let header = &text[1..header_end];
    let nodes_at = text.find("\"nodes\"").unwrap();
    let edges_at = text.find("\"edges\"").unwrap();
    let nodes = &text[nodes_at..edges_at - 2];
    let edges_end = text.find(",\n\"trace_function_infos\"").unwrap();
    let edges = &text[edges_at..edges_end];
    let reordered = format!("{{{strings},{header},\"extra\":{{\"a\":[1,{{}}]}},{edges},{nodes}}}");
    let p = parse(&reordered).unwrap();
    assert_eq!(p.value.graph.node_count(), 2);
    assert_eq!(p.value.graph.edge_count(), 2);
}

#[test]
fn truncated_inside_each_array() {
    let text = small();
    for (key, context) in [
        ("\"nodes\":[", "\"nodes\" (expected 7 fields per node)"),
        ("\"edges\":[", "\"edges\" (expected 3 fields per edge)"),
        ("\"strings\":[", "\"strings\" (string 0)"),
        ("\"snapshot\":", "\"snapshot\""),
    ] {
        let cut = text.find(key).unwrap() + key.len() + 3;
        let msg = error_of(&text[..cut]);
        assert_eq!(
            msg,
            format!("truncated at byte {cut} inside {context}"),
            "{key}"
        );
    }
    // Cut right after a complete array.
    let cut = text.find(",\n\"edges\"").unwrap();
    assert_eq!(
        error_of(&text[..cut]),
        format!("truncated at byte {cut} inside the top-level object")
    );
}

#[test]
fn truncated_at_every_byte_is_an_error_not_a_panic() {
    let text = small();
    for cut in 0..text.len() - 2 {
        assert!(parse(&text[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn edge_counts_must_add_up() {
    // The root claims 3 edges; only 2 edge records exist (and the Thing claims 0).
    let text = small().replacen("9,1,1,0,2,0,0", "9,1,1,0,3,0,0", 1);
    assert_eq!(
        error_of(&text),
        "inconsistent snapshot: the nodes' edge_count fields add up to 3 edges, but \"edges\" holds 2 edge records"
    );
}

#[test]
fn node_array_must_be_whole_records() {
    let text = small().replacen("3,3,3,40,0,0,0]", "3,3,3,40,0,0,0,1]", 1);
    let end = text.find(",1]").unwrap() + 2;
    assert_eq!(
        error_of(&text),
        format!(
            "\"nodes\" ends at byte {end} with 15 numbers, not a multiple of the 7 fields per node"
        )
    );
}

#[test]
fn header_counts_that_disagree_are_warnings() {
    let text = small().replacen("\"node_count\":2", "\"node_count\":4000000000", 1);
    let p = parse(&text).unwrap();
    assert_eq!(
        p.warnings,
        vec!["snapshot.node_count says 4000000000 nodes but \"nodes\" holds 2: using 2"]
    );
    let text = small().replacen("\"edge_count\":2", "\"edge_count\":1", 1);
    assert_eq!(
        parse(&text).unwrap().warnings,
        vec!["snapshot.edge_count says 1 edges but \"edges\" holds 2: using 2"]
    );
}

#[test]
fn edge_targets_are_validated() {
    let text = small().replacen("1,1,7]", "1,1,700]", 1);
    assert_eq!(
        error_of(&text),
        "edge 1: \"to_node\" 700 points past the last node (there are 2 nodes, so to_node must be below 14)"
    );
    let text = small().replacen("1,1,7]", "1,1,8]", 1);
    let at = text.find("1,1,8]").unwrap() + 5;
    assert_eq!(
        error_of(&text),
        format!("edge 1 at byte {at}: \"to_node\" 8 is not a multiple of the node field count 7")
    );
}

#[test]
fn string_indices_are_validated() {
    // strings: <dummy>, "", "1", "Thing"
    let text = small().replacen("3,3,3,40", "3,99,3,40", 1);
    assert_eq!(
        error_of(&text),
        "node 1: \"name\" 99 is out of range of the 4 strings"
    );
    let text = small().replacen("5,2,7", "5,77,7", 1);
    assert_eq!(
        error_of(&text),
        "edge 0 (shortcut): \"name_or_index\" 77 is out of range of the 4 strings"
    );
    // An element edge's name is an index, not a string.
    let text = small().replacen("1,1,7]", "1,77,7]", 1);
    assert!(parse(&text).is_ok());
}

#[test]
fn type_indices_are_validated() {
    let text = small().replacen("3,3,3,40", "42,3,3,40", 1);
    let at = text.find("42,3,3,40").unwrap() + "42,3,3,40,0,0,0".len();
    assert_eq!(
        error_of(&text),
        format!("node 1 at byte {at}: \"type\" 42 is out of range of the 16 node types in snapshot.meta")
    );
    let text = small().replacen("1,1,7]", "7,1,7]", 1);
    let msg = error_of(&text);
    assert!(
        msg.starts_with("edge 1 at byte ")
            && msg.ends_with("\"type\" 7 is out of range of the 7 edge types in snapshot.meta"),
        "{msg}"
    );
}

#[test]
fn numbers_too_large() {
    let text = small().replacen("3,3,3,40", "3,3,123456789012345678901234,40", 1);
    let at = text.find("123456789012345678901234").unwrap() + 20;
    assert_eq!(
        error_of(&text),
        format!("number too large at byte {at} inside \"nodes\" (expected 7 fields per node): it does not fit in 64 bits")
    );
    // u64::MAX itself is fine for an id.
    let text = small().replacen("3,3,3,40", "3,3,18446744073709551615,40", 1);
    let p = parse(&text).unwrap();
    assert_eq!(p.value.graph.object_id(plateau_graph::NodeId(1)), u64::MAX);
    // A name must fit in 32 bits.
    let text = small().replacen("3,3,3,40", "3,4294967296,3,40", 1);
    let msg = error_of(&text);
    assert!(msg.starts_with("node 1 at byte "), "{msg}");
    assert!(
        msg.ends_with("\"name\" 4294967296 does not fit in 32 bits"),
        "{msg}"
    );
}

#[test]
fn syntax_errors_name_the_byte() {
    let text = small().replacen("\"nodes\":[9,1,1", "\"nodes\":[9,,1", 1);
    let at = text.find(",,").unwrap() + 1;
    assert_eq!(
        error_of(&text),
        format!("syntax error at byte {at} inside \"nodes\" (expected 7 fields per node): expected an unsigned integer, found ','")
    );
    let text = small().replacen("\"nodes\":[9,1,1", "\"nodes\":[9 1,1", 1);
    let at = text.find("9 1").unwrap() + 2;
    assert_eq!(
        error_of(&text),
        format!("syntax error at byte {at} inside \"nodes\" (expected 7 fields per node): expected ',' or ']', found '1'")
    );
    let text = small().replacen("\"nodes\":[9,1,1", "\"nodes\":[9,-1,1", 1);
    assert!(error_of(&text).contains("expected an unsigned integer, found '-'"));
    let text = small().replacen("3,3,3,40", "3,3,3,4.5", 1);
    assert!(error_of(&text).contains("expected ',' or ']', found '.'"));
    let text = small().replacen("\"nodes\":[", "\"nodes\":{", 1);
    let at = text.find("\"nodes\":{").unwrap() + 8;
    assert_eq!(
        error_of(&text),
        format!("\"nodes\" at byte {at} is an object, expected an array")
    );
    let text = small().replacen("\"strings\":[", "\"strings\":[1,", 1);
    assert!(error_of(&text).contains("inside \"strings\" (string 0): expected a string, found '1'"));
    let text =
        small()
            .replacen("\n\"edges\"", "\n\"edges\" ", 1)
            .replacen("\"edges\" :", "\"edges\";", 1);
    assert!(error_of(&text).contains("expected ':'"));
}

#[test]
fn duplicate_keys() {
    let text = small().replacen("\"trace_tree\":[]", "\"edges\":[]", 1);
    let at = text.rfind("\"edges\":[]").unwrap();
    assert_eq!(
        error_of(&text),
        format!("duplicate key \"edges\" at byte {at}")
    );
}

#[test]
fn meta_fields_are_found_by_name() {
    let text = small().replacen(
        "\"edge_count\",\"trace_node_id\"",
        "\"edges\",\"trace_node_id\"",
        1,
    );
    assert_eq!(
        error_of(&text),
        "invalid snapshot header: snapshot.meta.node_fields: missing \"edge_count\" (fields are [\"type\", \"name\", \"id\", \"self_size\", \"edges\", \"trace_node_id\", \"detachedness\"])"
    );
    let text = small().replacen("\"to_node\"", "\"target\"", 1);
    assert!(error_of(&text)
        .starts_with("invalid snapshot header: snapshot.meta.edge_fields: missing \"to_node\""));
    let text = small().replacen("\"meta\":", "\"mata\":", 1);
    assert_eq!(
        error_of(&text),
        "invalid snapshot header: snapshot.meta: missing"
    );
}

#[test]
fn trailing_data_is_a_warning() {
    let text = format!("{}garbage", small());
    let p = parse(&text).unwrap();
    assert_eq!(
        p.warnings,
        vec![format!(
            "ignored data after the end of the snapshot object at byte {}",
            text.len() - 7
        )]
    );
}

#[test]
fn root_index() {
    let text = small().replacen(
        "\"trace_function_count\":0",
        "\"trace_function_count\":0,\"root_index\":3",
        1,
    );
    assert_eq!(
        error_of(&text),
        "invalid snapshot header: snapshot.root_index: 3 is not the array offset of one of the 2 nodes (7 fields each)"
    );
}

#[test]
fn no_nodes() {
    let text = snapshot(&[]);
    assert_eq!(
        error_of(&text),
        "inconsistent snapshot: \"nodes\" is empty: a snapshot has at least its root node"
    );
}

#[test]
fn self_sizes_that_overflow() {
    let text = small().replacen("3,3,3,40", "3,3,3,18446744073709551615", 1);
    let p = parse(&text).unwrap();
    assert_eq!(p.value.graph.total_size(), u64::MAX);
    let text = small().replacen("9,1,1,0,2", "9,1,1,1,2", 1).replacen(
        "3,3,3,40",
        "3,3,3,18446744073709551615",
        1,
    );
    assert_eq!(
        error_of(&text),
        "inconsistent snapshot: the self sizes add up to more than 2^64 bytes"
    );
}
