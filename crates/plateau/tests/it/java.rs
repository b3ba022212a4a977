//! `plateau analyze` and `plateau diff` on real Java 17 heap dumps
//! (fixtures/hprof/gen/TokenStore.java): a static `HashMap` of auth tokens that only grows,
//! next to a bounded LinkedHashMap LRU and a preallocated buffer pool that must not be
//! flagged.

use serde_json::Value;

use crate::{fixture, plateau, scratch_dir, stderr, stdout};

fn dumps() -> Vec<String> {
    ["s0", "s1", "s2"]
        .iter()
        .map(|s| fixture(&format!("hprof/token-store/{s}.hprof.gz")))
        .collect()
}

fn json_of(args: &[&str]) -> (i32, Value) {
    let out = plateau(args);
    let doc =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code().unwrap(), doc)
}

fn find<'a>(rows: &'a Value, key: &str, value: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key].as_str().is_some_and(|v| v.ends_with(value)))
        .unwrap_or_else(|| panic!("no row with {key} ending in {value:?}: {rows:#}"))
}

#[test]
fn analyze_speaks_java() {
    let dump = &dumps()[2];
    let (code, doc) = json_of(&["analyze", "--json", dump]);
    assert_eq!(code, 0);
    assert_eq!(doc["format"], "hprof");
    assert!(doc["retention_rule"]
        .as_str()
        .unwrap()
        .contains("java.lang.ref.Reference.referent never retains"));
    // The class histogram counts what the program made (6,000 tokens after three rounds).
    let tokens = find(&doc["classes"], "name", "TokenStore$AuthToken");
    assert_eq!(tokens["count"], 6000);
    assert_eq!(tokens["shallow_size"], 6000 * 40);
    // Collections carry their logical size and fill, read from their own fields.
    let cache = find(
        &doc["collections"],
        "path",
        "(GC roots) > class TokenStore > static TOKENS (java.util.HashMap)",
    );
    assert_eq!(cache["length"], 6000);
    assert_eq!(cache["capacity"], 8192);
    let lru = find(
        &doc["collections"],
        "path",
        "class TokenStore > static SESSIONS (TokenStore$1)",
    );
    assert_eq!(
        (lru["kind"].as_str(), lru["length"].as_u64()),
        (Some("map"), Some(256))
    );
    // MAT's problem-suspect rule (10% of the heap or more), with the accumulation point:
    // the cache's memory sits in its table.
    let holder = find(
        &doc["top_retainers"],
        "path",
        "class TokenStore > static TOKENS (java.util.HashMap)",
    );
    assert_eq!(
        holder["accumulation_point"]["class"],
        "java.util.HashMap$Node[]"
    );
    assert_eq!(holder["accumulation_point"]["depth"], 1);
    // 1,000 users over 6,000 requests: each "user-N" string exists six times.
    let user = doc["duplicate_strings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["value"].as_str().unwrap().starts_with("user-"))
        .expect("the per-request user strings are duplicates");
    assert_eq!(user["copies"], 6);
    // String (24 B) and its 8-byte Latin-1 value array (24 B) each copy.
    assert_eq!(user["size_each"], 48);
}

#[test]
fn analyze_text_names_classes_and_redacts_strings() {
    let dump = &dumps()[2];
    let out = plateau(&["analyze", dump]);
    let text = stdout(&out);
    assert!(text.contains("most held by class TokenStore"), "{text}");
    assert!(
        text.contains("6,000 entries, 73% of 8,192 slots used"),
        "{text}"
    );
    let redacted = stdout(&plateau(&["analyze", "--redact", dump]));
    assert!(!redacted.contains("user-8"), "{redacted}");
}

#[test]
fn diff_flags_the_token_cache_and_not_the_decoys() {
    let files = dumps();
    let mut args = vec!["diff", "--json"];
    args.extend(files.iter().map(String::as_str));
    let (code, doc) = json_of(&args);
    assert_eq!(code, 1, "a leak exits 1");
    assert_eq!(doc["verdict"], "leak");
    assert_eq!(doc["same_process"], false, "addresses are not identities");
    let suspects = doc["suspects"].as_array().unwrap();
    assert_eq!(suspects.len(), 1, "{suspects:#?}");
    let top = &suspects[0];
    assert_eq!(top["pattern"], "unbounded-cache");
    assert_eq!(top["class"], "java.util.HashMap");
    assert_eq!(
        top["path"],
        "(GC roots) > class TokenStore > static TOKENS (java.util.HashMap)"
    );
    assert_eq!(top["counts"], serde_json::json!([2000, 4000, 6000]));
    assert_eq!(top["growth_per_round_count"], 2000);
    // What it holds, by class: the tokens added in the last two rounds (the first 2,000
    // are shared with a list a local variable holds, so the map does not dominate them).
    let held = find(&top["held_classes"], "class", "TokenStore$AuthToken");
    assert_eq!(held["count"], 4000);
    // The decoys were looked at and found constant.
    let stable = &doc["stable"];
    let pool = find(
        stable,
        "path",
        "static POOL (TokenStore$BufferPool) > free (java.util.ArrayDeque)",
    );
    assert_eq!(pool["reason"], "constant: 48 elements in every snapshot");
    let lru = find(stable, "path", "static SESSIONS (TokenStore$1)");
    assert_eq!(lru["reason"], "constant: 256 entries in every snapshot");
}

#[test]
fn the_same_dump_three_times_is_no_leak() {
    let s0 = dumps().swap_remove(0);
    let out = plateau(&["diff", &s0, &s0, &s0]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_cut_dump_says_where() {
    use std::io::Read;
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&dumps()[0]).unwrap())
        .read_to_end(&mut plain)
        .unwrap();
    let dir = scratch_dir();
    let dir = dir.path();
    let header_only = dir.join("header.hprof");
    std::fs::write(&header_only, &plain[..25]).unwrap();
    let out = plateau(&["analyze", header_only.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("header.hprof") && err.contains("byte"),
        "{err}"
    );
    // Cut inside the heap: what was read is analysed, with a warning naming the cut.
    let cut = dir.join("cut.hprof");
    std::fs::write(&cut, &plain[..plain.len() / 2]).unwrap();
    let out = plateau(&["analyze", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("warning: the dump ends at byte") && text.contains("HEAP_DUMP_SEGMENT"),
        "{text}"
    );
}
