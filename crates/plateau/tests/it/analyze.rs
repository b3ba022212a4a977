use serde_json::Value;

use crate::{fixture, plateau, stdout};

fn analyze_json(file: &str, extra: &[&str]) -> Value {
    let path = fixture(file);
    let mut args = vec!["analyze", path.as_str(), "--json"];
    args.extend_from_slice(extra);
    let out = plateau(&args);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("analyze --json prints one JSON document")
}

#[test]
fn json_contract_holds() {
    let doc = analyze_json("v8/leaky-service/s3.heapsnapshot.gz", &[]);
    assert_eq!(doc["schema_version"], 1);
    let summary = &doc["summary"];
    for key in ["nodes", "edges", "total_size"] {
        assert!(summary[key].as_u64().unwrap() > 0, "summary.{key}");
    }
    let classes = doc["classes"].as_array().unwrap();
    assert!(!classes.is_empty());
    for c in classes {
        for key in ["name", "count", "shallow_size", "retained_size"] {
            assert!(!c[key].is_null(), "classes[].{key}");
        }
    }
    let top = doc["top_retainers"].as_array().unwrap();
    assert!(!top.is_empty());
    let sizes: Vec<u64> = top
        .iter()
        .map(|o| o["retained_size"].as_u64().unwrap())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "ordered by retained size"
    );
    for o in top {
        for key in [
            "id",
            "name",
            "class",
            "shallow_size",
            "retained_size",
            "path",
        ] {
            assert!(o.get(key).is_some(), "top_retainers[].{key}");
        }
    }
    for c in doc["collections"].as_array().unwrap() {
        for key in ["class", "path", "length", "retained_size"] {
            assert!(c.get(key).is_some(), "collections[].{key}");
        }
    }
    assert!(doc["duplicate_strings"].is_array());
}

#[test]
fn the_leaking_map_is_the_top_retainer_and_largest_collection() {
    let doc = analyze_json("v8/leaky-service/s3.heapsnapshot.gz", &[]);
    let top = &doc["top_retainers"][0];
    assert_eq!(top["class"], "Map", "{top}");
    let path = top["path"].as_str().unwrap();
    assert!(path.ends_with("sessions > cache (Map)"), "{path}");
    let biggest = &doc["collections"][0];
    assert_eq!(biggest["kind"], "map");
    assert!(biggest["length"].as_u64().unwrap() > 100, "{biggest}");
}

#[test]
fn redaction_masks_string_contents() {
    let plain = analyze_json("v8/leaky-service/s3.heapsnapshot.gz", &[]);
    let redacted = analyze_json("v8/leaky-service/s3.heapsnapshot.gz", &["--redact"]);
    let dup = plain["duplicate_strings"].as_array().unwrap();
    assert!(!dup.is_empty(), "the fixture has duplicate strings");
    for d in redacted["duplicate_strings"].as_array().unwrap() {
        assert!(
            d["value"].as_str().unwrap().starts_with("<redacted "),
            "{d}"
        );
    }
}

#[test]
fn text_report_starts_with_the_answer() {
    let path = fixture("v8/leaky-service/s3.heapsnapshot.gz");
    let out = plateau(&["analyze", &path]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("HEAP "), "{text}");
    assert!(
        text.lines().nth(1).unwrap().starts_with("most held by Map"),
        "{text}"
    );
}
