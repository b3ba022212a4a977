//! Arbitrary bytes into the tracemalloc reader: it must return a profile or an error, never
//! panic, hang or abort on allocation, and never act on what the pickle asks for. When it
//! returns a profile, every sample's stack and frames must resolve and the count column must
//! equal the traces read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plateau_formats::tracemalloc::{read, TracemallocOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a small buffer so that refills land inside every opcode argument.
    let options = TracemallocOptions {
        buffer_size: 64 + data.first().map_or(0, |&b| b as usize),
    };
    if let Ok(parsed) = read(data, &options, &mut |_| {}) {
        let profile = &parsed.value.profile;
        assert_eq!(profile.total(1) as u64, parsed.value.meta.traces);
        for sample in profile.samples() {
            for &frame in profile.stack(sample.stack) {
                let _ = profile.frame(frame);
            }
        }
    }
});
