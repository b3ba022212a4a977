//! `plateau classify` on real recordings: series that `plateau watch` took of small services
//! (Node.js, JVM, Python) under a bounded constant-rate load on loopback
//! (`fixtures/series/record.sh`). The truth is `fixtures/series/labels.json`, fixed by how
//! each service was built (an unbounded map or list is a leak; a bounded cache or plain churn is
//! not), never by what plateau said: a leak must be `leak` with exit 1, anything else must not
//! be `leak` and must exit 0.

use crate::{fixture, plateau, stderr, stdout};

/// The label of `file` in `fixtures/series/labels.json`: `leak` or `no-leak`.
fn label(file: &str) -> String {
    let text = std::fs::read_to_string(fixture("series/labels.json")).expect("labels.json");
    let labels: serde_json::Value = serde_json::from_str(&text).expect("labels.json is JSON");
    labels["recordings"][file]["label"]
        .as_str()
        .unwrap_or_else(|| panic!("labels.json has no label for {file}"))
        .to_string()
}

/// Classifies the recording and checks the verdict and exit code against its label.
fn check(file: &str) {
    let path = fixture(&format!("series/{file}"));
    let out = plateau(&["classify", &path, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{file}: {e}: {}{}", stdout(&out), stderr(&out)));
    let verdict = doc["verdict"].as_str().unwrap_or_default().to_string();
    let code = out.status.code();
    match label(file).as_str() {
        "leak" => {
            assert_eq!(verdict, "leak", "{file} is a leak; plateau said:\n{doc:#}");
            assert_eq!(code, Some(1), "{file}: a leak exits 1");
        }
        "no-leak" => {
            assert_ne!(
                verdict, "leak",
                "{file} does not leak; plateau said:\n{doc:#}"
            );
            assert_eq!(code, Some(0), "{file}: no leak exits 0");
        }
        other => panic!("{file}: unknown label {other}"),
    }
}

#[test]
fn node_leaky_map_is_a_leak() {
    check("node-leaky.series");
}

#[test]
fn node_leaky_rss_csv_is_a_leak() {
    check("node-leaky.rss.csv");
}

#[test]
fn node_bounded_lru_is_not_a_leak() {
    check("node-fixed.series");
}

// Judged on G1's mixed pauses (8, floor 71 -> 110 MiB): RSS flattens once the heap is
// committed and says nothing.
#[test]
fn java_leaky_static_map_is_a_leak() {
    check("java-leaky.series");
}

#[test]
fn java_bounded_cache_is_not_a_leak() {
    check("java-bounded.series");
}

// Anonymous memory holds between 12.6 and 12.9 MiB; an allocator creep like the first take's
// (0.65 MiB) is under the minimum effect of 1 MiB.
#[test]
fn python_worker_churn_is_not_a_leak() {
    check("python-worker.series");
}

#[test]
fn python_history_list_is_a_leak() {
    check("python-leaky.series");
}
