//! A stable-toolchain stand-in for `fuzz/fuzz_targets/v8_reader.rs`: thousands of mutations
//! of a small valid snapshot (byte flips, truncations, insertions, deletions, splices of
//! JSON-ish tokens) must each give a result or an error, never a panic.

use plateau_formats::v8::{read, ReadOptions};
use plateau_graph::{class_histogram, Dominators};

use crate::common::*;
use crate::mutate::{mutate, Rng};

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\"",
    b"\\",
    b"\\u",
    b"\\uD800",
    b"0",
    b"7",
    b"4294967296",
    b"18446744073709551616",
    b"-1",
    b"null",
    b"\"nodes\":[",
    b"\"edges\":[",
    b"\"snapshot\":",
    b"\xff",
    b"\xe2\x82",
    b"\n",
    b"1e5",
];

fn seed() -> String {
    let nodes = [
        n(
            SYNTHETIC,
            "",
            1,
            0,
            vec![e(E_SHORTCUT, "global", 1), e(E_ELEMENT, "1", 3)],
        ),
        n(
            OBJECT,
            "global",
            3,
            100,
            vec![e(E_PROPERTY, "map", 2), e(E_PROPERTY, "a,b", 4)],
        ),
        n(OBJECT, "Map", 5, 32, vec![e(E_INTERNAL, "table", 5)]),
        n(
            SYNTHETIC,
            "(GC roots)",
            7,
            0,
            vec![e(E_HIDDEN, "0", 2), e(E_WEAK, "w", 1)],
        ),
        n(
            OBJECT,
            "Object",
            9,
            24,
            vec![e(E_PROPERTY, "x", 2), e(E_PROPERTY, "__proto__", 1)],
        ),
        n(
            ARRAY,
            "",
            11,
            800,
            vec![e(
                E_INTERNAL,
                "1 / part of key (Map @5) -> value (Object @9) pair in WeakMap (table @11)",
                4,
            )],
        ),
    ];
    snapshot_with_locations(&nodes, &[(2, 1, 2, 3)]).replacen(
        "\"strings\":[",
        "\"strings\":[\"caf\\u00e9 \\uD800\",",
        1,
    )
}

/// What the fuzz target does with one input: read it (the first byte picks the buffer
/// size) and, when it reads, run the graph engine over it.
fn fuzz_one(data: &[u8]) -> bool {
    let options = ReadOptions {
        buffer_size: 64 + data.first().map_or(0, |&b| b as usize),
        size_hint: Some(data.len() as u64),
        ..ReadOptions::default()
    };
    match read(data, &options, &mut |_| {}) {
        Ok(parsed) => {
            let graph = &parsed.value.graph;
            let dom = Dominators::compute(graph);
            let _ = class_histogram(graph, &dom);
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

/// The smoke test's own seed and the fuzz crate's seeds.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![seed().into_bytes()];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/v8_reader");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            seeds.push(std::fs::read(entry.path()).unwrap());
        }
    }
    seeds
}

#[test]
fn mutated_snapshots_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x5eed);
    for seed in &seeds {
        assert!(fuzz_one(seed), "every seed must be a valid snapshot");
    }
    let mut ok = 0;
    // FUZZ_SMOKE_RUNS=1000000 for a longer campaign.
    let runs: usize = std::env::var("FUZZ_SMOKE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for i in 0..runs {
        let data = mutate(
            &mut rng,
            &seeds[i % seeds.len()],
            TOKENS,
            b"0123456789,[]{}\"\\ ",
        );
        match std::panic::catch_unwind(|| fuzz_one(&data)) {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(_) => panic!("panic on input {i}: {:?}", String::from_utf8_lossy(&data)),
        }
    }
    eprintln!("{ok} of {runs} mutations still read");
}

#[test]
fn every_truncation_and_gzip_never_panic() {
    let seed = seed();
    for cut in 0..seed.len() {
        let _ = read(
            &seed.as_bytes()[..cut],
            &ReadOptions::default(),
            &mut |_| {},
        );
    }
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        enc.write_all(seed.as_bytes()).unwrap();
    }
    let mut rng = Rng(7);
    for _ in 0..500 {
        let mut data = gz.clone();
        let i = rng.below(data.len());
        data[i] ^= 1 << rng.below(8);
        data.truncate(data.len() - rng.below(8));
        let _ = read(&data[..], &ReadOptions::default(), &mut |_| {});
    }
}
