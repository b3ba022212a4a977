//! Arbitrary bytes into the HPROF reader: it must return a graph or an error, never panic,
//! hang or abort on allocation. When it returns a graph, the graph engine must accept it too
//! (dominators and the class histogram run without panicking).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plateau_formats::hprof::{read, HprofOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a small buffer so that refills land inside every record part.
    let options = HprofOptions {
        buffer_size: 64 + data.first().map_or(0, |&b| b as usize),
        ..HprofOptions::default()
    };
    if let Ok(parsed) = read(data, &options, &mut |_| {}) {
        let graph = &parsed.value.graph;
        let dom = plateau_graph::Dominators::compute(graph);
        let _ = plateau_graph::class_histogram(graph, &dom);
    }
});
