//! JSON string decoding: escapes, surrogates, invalid UTF-8, refills mid-character.

use plateau_graph::NodeId;

use crate::common::*;

/// A snapshot whose node `i + 1` is named by the raw JSON string literal `raw[i]`.
fn named(raw: &[&str]) -> String {
    let mut nodes = vec![format!("9,1,1,0,{},0,0", raw.len())];
    let mut edges = Vec::new();
    for i in 0..raw.len() {
        nodes.push(format!("3,{},{},8,0,0,0", i + 2, 2 * i + 3));
        edges.push(format!("1,{i},{}", (i + 1) * 7));
    }
    let mut strings = vec!["\"<dummy>\"".to_string(), "\"\"".to_string()];
    strings.extend(raw.iter().map(|s| s.to_string()));
    format!(
        "{{\"snapshot\":{},\"nodes\":[{}],\"edges\":[{}],\"strings\":[{}]}}",
        header(raw.len() + 1, raw.len()),
        nodes.join("\n,"),
        edges.join("\n,"),
        strings.join(",\n")
    )
}

fn names(raw: &[&str]) -> Vec<String> {
    let p = parse_all_buffers(&named(raw));
    (1..=raw.len())
        .map(|i| p.value.graph.name(NodeId(i as u32)).to_string())
        .collect()
}

#[test]
fn escapes() {
    assert_eq!(
        names(&[
            r#""caf\u00e9""#,
            r#""\uF600""#,
            r#""say \"hi\"""#,
            r#""back\\slash""#,
            r#""line\nbreak\ttab\r\b\f\/""#,
            r#""\u0000\u001f""#,
            r#""plain UTF-8: é ü 😀 中文""#,
            r#""""#,
        ]),
        vec![
            "café",
            "\u{F600}",
            "say \"hi\"",
            "back\\slash",
            "line\nbreak\ttab\r\u{8}\u{c}/",
            "\u{0}\u{1f}",
            "plain UTF-8: é ü 😀 中文",
            "",
        ]
    );
}

#[test]
fn surrogates() {
    assert_eq!(
        names(&[
            r#""lone \uD800 high""#,
            r#""lone \uDC00 low""#,
            r#""pair \uD83D\uDE00 ok""#,
            r#""high then text \uD83Dx""#,
            r#""two highs \uD800\uD800""#,
            r#""high at end \uD800""#,
            r#""high then escape \uD800\n""#,
        ]),
        vec![
            "lone \u{FFFD} high",
            "lone \u{FFFD} low",
            "pair 😀 ok",
            "high then text \u{FFFD}x",
            "two highs \u{FFFD}\u{FFFD}",
            "high at end \u{FFFD}",
            "high then escape \u{FFFD}\n",
        ]
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let mut text = named(&["\"AAAA\"", "\"BB\""]).into_bytes();
    let at = text.windows(4).position(|w| w == b"AAAA").unwrap();
    text[at + 1] = 0xff; // not UTF-8 at all
    text[at + 2] = 0xc3; // a lead byte followed by ASCII
    let at = text.windows(2).position(|w| w == b"BB").unwrap();
    text[at + 1] = 0xe2; // a lead byte right before the closing quote
    for size in [64, 65, 66, 67, 1 << 20] {
        let options = plateau_formats::v8::ReadOptions {
            buffer_size: size,
            ..Default::default()
        };
        let p = plateau_formats::v8::read(&text[..], &options, &mut |_| {}).unwrap();
        let g = &p.value.graph;
        assert_eq!(g.name(NodeId(1)), "A\u{FFFD}\u{FFFD}A", "buffer {size}");
        assert_eq!(g.name(NodeId(2)), "B\u{FFFD}", "buffer {size}");
    }
}

#[test]
fn multibyte_characters_across_refills() {
    // Long names of 2-, 3- and 4-byte characters cross every small buffer boundary.
    let long: Vec<String> = ["é", "中", "😀", "a😀é中"]
        .iter()
        .map(|c| format!("\"{}\"", c.repeat(50)))
        .collect();
    let raw: Vec<&str> = long.iter().map(String::as_str).collect();
    let got = names(&raw);
    for (g, c) in got.iter().zip(["é", "中", "😀", "a😀é中"]) {
        assert_eq!(*g, c.repeat(50));
    }
}

#[test]
fn bad_escapes_are_errors() {
    let text = named(&[r#""bad \x escape""#]);
    let at = text.find("\\x").unwrap() + 1;
    assert_eq!(
        error_of(&text),
        format!("syntax error at byte {at} inside \"strings\" (string 2): expected an escape (one of \"\\/bfnrtu), found 'x'")
    );
    let text = named(&[r#""bad \u12G4 hex""#]);
    let at = text.find("\\u12G4").unwrap() + 4;
    assert_eq!(
        error_of(&text),
        format!("syntax error at byte {at} inside \"strings\" (string 2): expected four hex digits after \\u, found 'G'")
    );
}

#[test]
fn unterminated_string() {
    let text = named(&["\"never closed"]);
    let text = &text[..text.len() - 2];
    assert_eq!(
        error_of(text),
        format!(
            "truncated at byte {} inside \"strings\" (string 2)",
            text.len()
        )
    );
}
