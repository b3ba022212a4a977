//! `plateau analyze` and `plateau diff` on allocation profiles: real CPython tracemalloc dumps
//! (fixtures/tracemalloc/gen/leaky_service.py) checked against Python's own `compare_to`,
//! and real Go heap profiles (fixtures/pprof/gen/leaky.go) against `go tool pprof`.

use serde_json::Value;

use crate::{fixture, plateau, scratch_dir, stderr, stdout};

fn json_of(args: &[&str]) -> (i32, Value) {
    let out = plateau(args);
    let doc =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code().unwrap(), doc)
}

fn tracemalloc(name: &str) -> String {
    fixture(&format!("tracemalloc/leaky-service/{name}.tracemalloc"))
}

/// One oracle row as plateau prints it: file and line, or the frames oldest first.
fn oracle_rows(pair: &str, key: &str) -> Vec<Value> {
    let path = fixture(&format!(
        "tracemalloc/leaky-service/oracle/compare/{pair}.{key}.jsonl"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            let mut out = serde_json::Map::new();
            if let Some(frames) = row["frames"].as_array() {
                // The oracle lists frames most recent first; Python's Traceback (and plateau)
                // oldest first.
                let frames: Vec<Value> = frames
                    .iter()
                    .rev()
                    .map(|f| serde_json::json!({"file": f[0], "line": f[1]}))
                    .collect();
                out.insert("frames".into(), Value::Array(frames));
            } else {
                out.insert("file".into(), row["file"].clone());
                out.insert("line".into(), row["line"].clone());
            }
            for k in ["size", "size_diff", "count", "count_diff"] {
                out.insert(k.into(), row[k].clone());
            }
            Value::Object(out)
        })
        .collect()
}

#[test]
fn tracemalloc_diff_sites_equal_pythons_compare_to() {
    for (pair, old, new) in [
        ("s1-vs-s0", "s0", "s1"),
        ("s2-vs-s0", "s0", "s2"),
        ("s2-vs-s1", "s1", "s2"),
    ] {
        for (key, by, cumulative) in [
            ("lineno", "lineno", false),
            ("filename", "filename", false),
            ("traceback", "traceback", false),
            ("lineno-cumulative", "lineno", true),
            ("filename-cumulative", "filename", true),
        ] {
            let (old, new) = (tracemalloc(old), tracemalloc(new));
            let mut args = vec!["diff", &old, &new, "--by", by, "--json"];
            if cumulative {
                args.push("--cumulative");
            }
            let (_, doc) = json_of(&args);
            let sites = doc["sites"].as_array().unwrap();
            let expected = oracle_rows(pair, key);
            assert_eq!(
                sites.len(),
                expected.len(),
                "{pair} {key}: number of entries"
            );
            for (i, (got, want)) in sites.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "{pair} {key}: entry {i}");
            }
        }
    }
}

#[test]
fn tracemalloc_leak_is_the_session_cache_and_the_decoys_are_not_suspects() {
    let files: Vec<String> = ["s0", "s1", "s2"].iter().map(|s| tracemalloc(s)).collect();
    let (code, doc) = json_of(&["diff", &files[0], &files[1], &files[2], "--json"]);
    assert_eq!(code, 1, "a leak exits 1");
    assert_eq!(doc["verdict"], "leak");
    assert_eq!(doc["kind"], "allocation-profile");
    assert_eq!(doc["measure"], "size");
    assert!(doc["note"].as_str().unwrap().contains("no retained sizes"));
    let suspects = doc["suspects"].as_array().unwrap();
    let top = &suspects[0];
    assert_eq!(top["pattern"], "growing-allocation-site");
    let class = top["class"].as_str().unwrap();
    assert!(class.starts_with("gen/sessions_é.py:"), "{class}");
    assert_eq!(top["size_measure"], "size");
    assert!(
        top.get("retained_sizes").is_none(),
        "no retained sizes: {top:#}"
    );
    let sizes: Vec<u64> = top["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    // Decoys: the lru_cache, the bounded deque, the buffer pool.
    for s in suspects {
        let class = s["class"].as_str().unwrap();
        for decoy in ["leaky_service.py:54", "functools", "collections"] {
            assert!(!class.contains(decoy), "decoy {decoy} flagged: {s:#}");
        }
    }
    let stable = doc["stable"].as_array().unwrap();
    assert!(
        stable
            .iter()
            .any(|s| s["file"] == "gen/leaky_service.py" && s["line"] == 54),
        "the buffer pool is listed as stable: {stable:#?}"
    );
    // The same dump twice: nothing grows.
    let (code, doc) = json_of(&["diff", &files[1], &files[1], "--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["verdict"], "no-leak");
}

#[test]
fn tracemalloc_analyze_lists_top_lines_with_their_totals() {
    let (code, doc) = json_of(&["analyze", &tracemalloc("s2"), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["format"], "tracemalloc");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("tracemalloc/leaky-service/oracle/summary.json")).unwrap(),
    )
    .unwrap();
    let size_total = doc["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "size")
        .unwrap()["total"]
        .clone();
    assert_eq!(size_total, summary["dumps"][2]["size"], "{summary:#}");
    // Python's statistics('lineno')[0] is the buffer pool.
    let first = &doc["sites"][0];
    assert_eq!(first["file"], "gen/leaky_service.py");
    assert_eq!(first["line"], 54);
}

fn go(name: &str) -> String {
    fixture(&format!("pprof/go-leaky/{name}.pb.gz"))
}

/// `go tool pprof -top -base h1 h2`: `main.newSession  552.73kB` flat.
#[test]
fn pprof_diff_of_two_profiles_is_pprofs_base() {
    let (_, doc) = json_of(&["diff", &go("h1"), &go("h2"), "--by", "function", "--json"]);
    let sites = doc["sites"].as_array().unwrap();
    let new_session = sites
        .iter()
        .find(|s| s["function"] == "main.newSession")
        .expect("main.newSession is a site");
    let kb = new_session["size_diff"].as_i64().unwrap() as f64 / 1024.0;
    assert!((kb - 552.73).abs() < 0.005, "{kb} kB");
    assert_eq!(doc["measure"], "inuse_space");
}

#[test]
fn pprof_leak_is_the_session_map_and_the_pool_is_stable() {
    let (code, doc) = json_of(&["diff", &go("h0"), &go("h1"), &go("h2"), "--json"]);
    assert_eq!(code, 1);
    assert_eq!(doc["producer"], "go-pprof");
    let top = &doc["suspects"][0];
    assert_eq!(top["class"], "main.newSession");
    assert!(top["path"]
        .as_str()
        .unwrap()
        .contains("main.(*sessionStore).remember"));
    for s in doc["suspects"].as_array().unwrap() {
        let class = s["class"].as_str().unwrap();
        assert!(
            !class.contains("newPool") && !class.contains("lru"),
            "decoy flagged: {class}"
        );
    }
    let (code, _) = json_of(&[
        "diff",
        &go("h0"),
        &go("h1"),
        &go("h2"),
        "--sample-index",
        "alloc_space",
        "--json",
    ]);
    assert_eq!(code, 1, "alloc_space grows too (and is warned about)");
}

#[test]
fn pprof_analyze_gives_pprofs_total_and_top_function() {
    let (_, doc) = json_of(&["analyze", &go("h2"), "--json"]);
    let total = doc["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "inuse_space")
        .unwrap()["total"]
        .as_i64()
        .unwrap();
    // "Showing nodes accounting for 3908.73kB, 99.30% of 3936.44kB total"
    assert!((total as f64 / 1024.0 - 3936.44).abs() < 0.005, "{total}");
    assert_eq!(doc["sites"][0]["function"], "main.newPool");
    assert_eq!(doc["grouping"], "function");
}

#[test]
fn a_flame_graph_of_the_growth_is_written_and_escaped() {
    let dir = scratch_dir();
    let dir = dir.path();
    let svg = dir.join("growth.svg");
    let out = plateau(&[
        "diff",
        &go("h0"),
        &go("h2"),
        "--flamegraph",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml"));
    assert!(text.contains("main.newSession"));
    assert!(text.contains("main.(*sessionStore).remember"));
    assert!(!text.contains("main.newPool"), "the pool did not grow");
}

#[test]
fn profiles_and_heap_snapshots_do_not_mix() {
    let out = plateau(&["diff", &go("h0"), &fixture("v8/tiny.heapsnapshot.gz")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("heap snapshot among allocation profiles"),
        "{}",
        stderr(&out)
    );
    let out = plateau(&["diff", &go("h0"), &tracemalloc("s0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot compare a go-pprof profile with a tracemalloc"),
        "{}",
        stderr(&out)
    );
}
