//! Arbitrary bytes into the V8 `.heapsnapshot` reader: it must return a graph or an error,
//! never panic, hang or abort on allocation. When it returns a graph, the graph engine must
//! accept it too (dominators and the class histogram run without panicking).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plateau_formats::v8::{read, ReadOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a small buffer so that refills land inside every kind of token.
    let buffer_size = 64 + data.first().map_or(0, |&b| b as usize);
    let options = ReadOptions {
        buffer_size,
        size_hint: Some(data.len() as u64),
        ..ReadOptions::default()
    };
    if let Ok(parsed) = read(data, &options, &mut |_| {}) {
        let graph = &parsed.value.graph;
        let dom = plateau_graph::Dominators::compute(graph);
        let _ = plateau_graph::class_histogram(graph, &dom);
    }
});
