//! Parity with Chrome DevTools on real snapshots: `fixtures/v8/oracle/*.devtools.json` hold
//! the figures DevTools' own HeapSnapshot engine computes for each fixture (counts, totals,
//! the 100 largest objects, every Summary class). plateau must agree exactly.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use plateau_formats::v8::{read, ReadOptions};
use plateau_graph::{class_histogram, Dominators, Location};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v8")
}

/// `leaky-service-s0` → `leaky-service/s0.heapsnapshot.gz`, `tiny` → `tiny.heapsnapshot.gz`.
fn snapshot_for(stem: &str) -> PathBuf {
    let dir = fixtures();
    let nested = stem
        .rsplit_once('-')
        .map(|(group, name)| dir.join(group).join(format!("{name}.heapsnapshot.gz")));
    match nested {
        Some(path) if path.exists() => path,
        _ => dir.join(format!("{stem}.heapsnapshot.gz")),
    }
}

fn parse_location(text: &str) -> Location {
    let v: Vec<u32> = text.split(',').map(|p| p.parse().unwrap()).collect();
    Location {
        script_id: v[0],
        line: v[1],
        column: v[2],
    }
}

/// Compares one snapshot with its oracle; returns the differences.
fn compare(oracle_path: &Path, path: &Path) -> Vec<String> {
    let stem = path.file_name().unwrap().to_str().unwrap();
    let oracle: Value = serde_json::from_reader(File::open(oracle_path).unwrap()).unwrap();
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = read(BufReader::new(file), &ReadOptions::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let s = parsed.value;
    let g = &s.graph;
    let dom = Dominators::compute(g);
    let hist = class_histogram(g, &dom);
    let mut diffs = Vec::new();
    let check = |diffs: &mut Vec<String>, what: String, ours: u64, theirs: u64| {
        if ours != theirs {
            diffs.push(format!("{stem}: {what}: plateau {ours}, DevTools {theirs}"));
        }
    };
    let num = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));

    check(
        &mut diffs,
        "node count".into(),
        g.node_count() as u64,
        num(&oracle, "node_count"),
    );
    check(
        &mut diffs,
        "edge count".into(),
        g.edge_count() as u64,
        num(&oracle, "edge_count"),
    );
    check(
        &mut diffs,
        "total size".into(),
        g.total_size(),
        num(&oracle, "total_size"),
    );
    check(
        &mut diffs,
        "root retained size".into(),
        dom.retained_size(g.root()),
        num(&oracle, "total_size"),
    );
    check(
        &mut diffs,
        "raw total size".into(),
        s.meta.raw_total_size,
        num(&oracle, "total_size"),
    );

    let by_id: HashMap<u64, plateau_graph::NodeId> =
        g.nodes().map(|n| (g.object_id(n), n)).collect();
    for o in oracle["top_objects"].as_array().unwrap() {
        let id = num(o, "id");
        let Some(&n) = by_id.get(&id) else {
            diffs.push(format!("{stem}: no node with id {id}"));
            continue;
        };
        check(
            &mut diffs,
            format!("self size of @{id}"),
            g.self_size(n),
            num(o, "self_size"),
        );
        check(
            &mut diffs,
            format!("retained size of @{id}"),
            dom.retained_size(n),
            num(o, "retained_size"),
        );
        let class = o["class_name"].as_str().unwrap();
        if g.class_name_of(n) != class {
            diffs.push(format!(
                "{stem}: class of @{id}: plateau {:?}, DevTools {class:?}",
                g.class_name_of(n)
            ));
        }
    }

    let mut ours: HashMap<(String, Option<Location>), &plateau_graph::ClassStats> = HashMap::new();
    for stats in hist.iter().filter(|s| s.count > 0) {
        let info = g.class_info(stats.class);
        let key = (g.class_name(stats.class).to_string(), info.location);
        if ours.insert(key.clone(), stats).is_some() {
            diffs.push(format!("{stem}: two plateau classes {key:?}"));
        }
    }
    let classes = oracle["classes"].as_array().unwrap();
    if oracle.get("classes_truncated_to").is_none() {
        check(
            &mut diffs,
            "class count".into(),
            ours.len() as u64,
            classes.len() as u64,
        );
    }
    for c in classes {
        let name = c["name"].as_str().unwrap().to_string();
        let location = c["location"].as_str().map(parse_location);
        let Some(stats) = ours.get(&(name.clone(), location)) else {
            diffs.push(format!(
                "{stem}: plateau has no class {name:?} at {location:?}"
            ));
            continue;
        };
        let label = match location {
            Some(l) => format!("{name} ({},{},{})", l.script_id, l.line, l.column),
            None => name.clone(),
        };
        check(
            &mut diffs,
            format!("count of {label}"),
            stats.count,
            num(c, "count"),
        );
        check(
            &mut diffs,
            format!("self size of {label}"),
            stats.shallow_size,
            num(c, "self_size"),
        );
        check(
            &mut diffs,
            format!("retained size of {label}"),
            stats.retained_size,
            num(c, "retained_size"),
        );
    }
    diffs
}

#[test]
fn retained_sizes_and_classes_match_devtools() {
    let dir = fixtures().join("oracle");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("{} not present: parity test skipped", dir.display());
        return;
    };
    let mut oracles: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".devtools.json")))
        .collect();
    oracles.sort();
    assert!(!oracles.is_empty(), "no oracle files in {}", dir.display());
    let mut pairs: Vec<(PathBuf, PathBuf)> = oracles
        .iter()
        .map(|oracle| {
            let name = oracle.file_name().unwrap().to_str().unwrap();
            (
                oracle.clone(),
                snapshot_for(name.trim_end_matches(".devtools.json")),
            )
        })
        .collect();
    // More pairs, e.g. for a big snapshot: PLATEAU_PARITY_EXTRA=oracle.json=file.heapsnapshot,...
    if let Ok(extra) = std::env::var("PLATEAU_PARITY_EXTRA") {
        for pair in extra.split(',').filter(|p| !p.is_empty()) {
            let (oracle, snapshot) = pair.split_once('=').expect("ORACLE=SNAPSHOT");
            pairs.push((oracle.into(), snapshot.into()));
        }
    }
    let mut all = Vec::new();
    for (oracle, snapshot) in &pairs {
        let diffs = compare(oracle, snapshot);
        eprintln!("{}: {} differences", oracle.display(), diffs.len());
        all.extend(diffs);
    }
    assert!(
        all.is_empty(),
        "{} differences from DevTools:\n{}",
        all.len(),
        all.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}
