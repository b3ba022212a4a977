//! `plateau diff` on the leaky-service snapshots (fixtures/v8/gen/leaky-service.js): a
//! per-request Map cache and a listener leak, next to a big constant table, a buffer pool and
//! a full LRU cache that must not be flagged.

use serde_json::Value;

use crate::{fixture, plateau, scratch_file, stderr, stdout};

fn snapshots() -> Vec<String> {
    ["s0", "s1", "s2", "s3"]
        .iter()
        .map(|s| fixture(&format!("v8/leaky-service/{s}.heapsnapshot.gz")))
        .collect()
}

fn diff_json(files: &[String], extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<&str> = vec!["diff", "--json"];
    args.extend(files.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let out = plateau(&args);
    let doc =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code().unwrap(), doc)
}

#[test]
fn the_map_cache_is_the_top_suspect_and_the_listener_leak_second() {
    let (code, doc) = diff_json(&snapshots(), &[]);
    assert_eq!(code, 1, "a leak exits 1");
    assert_eq!(doc["verdict"], "leak");
    let suspects = doc["suspects"].as_array().unwrap();
    assert_eq!(suspects.len(), 2, "{suspects:#?}");

    let first = &suspects[0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["pattern"], "unbounded-cache");
    assert_eq!(first["class"], "Map");
    assert!(first["path"]
        .as_str()
        .unwrap()
        .ends_with("sessions > cache (Map)"));
    // 300 entries after warm-up, 400 more each round (the generator's own counts).
    let counts: Vec<u64> = first["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert_eq!(counts, [300, 700, 1100, 1500]);
    assert_eq!(first["growth_per_round_count"], 400);
    assert!(first["fix"].as_str().unwrap().contains("LRU"));

    let second = &suspects[1];
    assert_eq!(second["pattern"], "event-listener-leak");
    assert!(second["path"].as_str().unwrap().contains("priceFeed"));
    assert!(second["path"]
        .as_str()
        .unwrap()
        .ends_with("_events > tick (Array)"));
    assert_eq!(
        second["counts"][0],
        Value::Null,
        "no tick listener before round 1"
    );
    assert_eq!(second["counts"][3], 300);
}

#[test]
fn decoys_are_cleared_not_suspected() {
    let (_, doc) = diff_json(&snapshots(), &[]);
    let suspect_paths: Vec<&str> = doc["suspects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    for decoy in ["COUNTRY_TABLE", "BUFFER_POOL", "productCache"] {
        assert!(
            !suspect_paths.iter().any(|p| p.contains(decoy)),
            "{decoy} flagged: {suspect_paths:?}"
        );
    }
    let stable = doc["stable"].as_array().unwrap();
    let reason = |needle: &str| {
        stable
            .iter()
            .find(|c| c["path"].as_str().unwrap_or("").contains(needle))
            .map(|c| c["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{needle} is not listed as stable: {stable:#?}"))
    };
    assert!(reason("COUNTRY_TABLE").starts_with("constant: 2,000 entries"));
    assert!(reason("BUFFER_POOL").starts_with("constant"));
    assert!(reason("productCache").starts_with("bounded: 200 entries"));
}

#[test]
fn json_contract_holds() {
    let (_, doc) = diff_json(&snapshots(), &[]);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["snapshots"].as_array().unwrap().len(), 4);
    for s in doc["suspects"].as_array().unwrap() {
        for key in [
            "rank",
            "pattern",
            "class",
            "path",
            "fingerprint",
            "counts",
            "retained_sizes",
            "growth_per_round_bytes",
            "growth_per_round_count",
            "fix",
        ] {
            assert!(s.get(key).is_some(), "suspects[].{key}");
        }
        assert_eq!(s["counts"].as_array().unwrap().len(), 4);
        assert_eq!(s["retained_sizes"].as_array().unwrap().len(), 4);
    }
    for c in doc["stable"].as_array().unwrap() {
        for key in ["class", "path", "reason"] {
            assert!(c.get(key).is_some(), "stable[].{key}");
        }
    }
}

#[test]
fn fingerprints_are_stable_and_a_baseline_accepts_known_leaks() {
    let (_, first) = diff_json(&snapshots(), &[]);
    // Another subset of rounds: other counts, same leaks, same fingerprints.
    let files = snapshots();
    let (_, second) = diff_json(&files[1..], &[]);
    let prints = |doc: &Value| -> Vec<String> {
        doc["suspects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["fingerprint"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(prints(&first), prints(&second));

    let baseline = scratch_file("known.json", first.to_string().as_bytes());
    let (code, doc) = diff_json(&files, &["--baseline", baseline.to_str().unwrap()]);
    assert_eq!(code, 0, "known leaks do not fail the run");
    assert_eq!(doc["suspects"].as_array().unwrap().len(), 0);
    assert_eq!(doc["known"].as_array().unwrap().len(), 2);
}

#[test]
fn snapshots_out_of_order_are_ordered_by_their_ids() {
    let files = snapshots();
    let shuffled = vec![
        files[2].clone(),
        files[0].clone(),
        files[3].clone(),
        files[1].clone(),
    ];
    let (code, doc) = diff_json(&shuffled, &[]);
    assert_eq!(code, 1);
    let order: Vec<&str> = doc["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert!(order[0].ends_with("s0.heapsnapshot.gz") && order[3].ends_with("s3.heapsnapshot.gz"));
    assert!(doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("ordered by their object ids")));
    assert_eq!(doc["suspects"][0]["pattern"], "unbounded-cache");
}

#[test]
fn one_snapshot_is_not_enough() {
    let files = snapshots();
    let out = plateau(&["diff", &files[0]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("two snapshots or more"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn text_report_leads_with_the_verdict_and_the_fix() {
    let mut args = vec!["diff"];
    let files = snapshots();
    args.extend(files.iter().map(String::as_str));
    let out = plateau(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("LEAK  2 suspects across 4 snapshots"),
        "{text}"
    );
    assert!(text.contains("#1  unbounded cache"), "{text}");
    assert!(text.contains("fix: bound it"), "{text}");
    assert!(text.contains("stable (checked, not growing)"), "{text}");
}

#[test]
fn snapshots_of_different_processes_fall_back_to_paths() {
    // tiny.heapsnapshot comes from another node process: start-up ids recur, classes do not.
    let files = snapshots();
    let mixed = vec![
        fixture("v8/tiny.heapsnapshot.gz"),
        files[1].clone(),
        files[2].clone(),
    ];
    let (code, doc) = diff_json(&mixed, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["same_process"], false);
    assert!(doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("do not share object ids")));
    let first = &doc["suspects"][0];
    assert_eq!(first["pattern"], "unbounded-cache");
    assert!(first["path"]
        .as_str()
        .unwrap()
        .ends_with("sessions > cache (Map)"));
    // The same leak keeps its fingerprint whichever way it was matched.
    let (_, same) = diff_json(&files, &[]);
    assert_eq!(first["fingerprint"], same["suspects"][0]["fingerprint"]);
}

/// One real leak per service (fixtures/v8/leaks/gen), three snapshots each, and the same
/// decoys in all: COUNTRY_TABLE (big, constant), templateCache (filled during warm-up),
/// pageCache (a full LRU whose entries are replaced on every request).
fn check_leak(service: &str, pattern: &str, path_fragment: &str) {
    let files: Vec<String> = ["s0", "s1", "s2"]
        .iter()
        .map(|s| fixture(&format!("v8/leaks/{service}/{s}.heapsnapshot.gz")))
        .collect();
    let (code, doc) = diff_json(&files, &[]);
    assert_eq!(code, 1, "{service}: a leak exits 1");
    let suspects = doc["suspects"].as_array().unwrap();
    let summary: Vec<String> = suspects
        .iter()
        .map(|s| format!("{} {}", s["pattern"], s["path"]))
        .collect();
    assert_eq!(
        suspects.len(),
        1,
        "{service}: exactly the leak: {summary:#?}"
    );
    assert_eq!(suspects[0]["pattern"], pattern, "{service}: {summary:#?}");
    let path = suspects[0]["path"].as_str().unwrap();
    assert!(path.contains(path_fragment), "{service}: {path}");
    for decoy in ["COUNTRY_TABLE", "templateCache", "pageCache"] {
        assert!(!path.contains(decoy), "{service}: decoy {decoy} flagged");
    }
}

#[test]
fn listener_leak() {
    check_leak(
        "listener-leak",
        "event-listener-leak",
        "feed (PriceFeed) > _events > tick (Array)",
    );
}

#[test]
fn map_cache() {
    check_leak("map-cache", "unbounded-cache", "sessions > cache (Map)");
}

#[test]
fn socket_leak() {
    check_leak("socket-leak", "socket-leak", "Node / TCPSocketWrap");
}

#[test]
fn timer_leak() {
    check_leak(
        "timer-leak",
        "timer-leak",
        "timerListMap > [60000] (TimersList)",
    );
}

#[test]
fn global_array() {
    check_leak(
        "global-array",
        "global-growth",
        "global > requestLog (Array)",
    );
}

#[test]
fn closure_retention() {
    check_leak("closure-retention", "closure-retention", "handlers (Array)");
}

#[test]
fn a_corrupt_snapshot_fails_the_diff_with_exit_2() {
    let bad = scratch_file(
        "s1.heapsnapshot",
        br#"{"snapshot":{"meta":{"node_fields":["type"#,
    );
    let files = snapshots();
    let out = plateau(&["diff", &files[0], bad.to_str().unwrap(), &files[2]]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("s1.heapsnapshot") && !err.contains("panicked"),
        "{err}"
    );
}
