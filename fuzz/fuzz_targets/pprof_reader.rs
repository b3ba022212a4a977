//! Arbitrary bytes into the pprof reader: it must return a profile or an error, never panic,
//! hang or abort on allocation. When it returns a profile, every sample's stack and values
//! must be usable (frames resolve, one value per value type, totals add up).

#![no_main]

use libfuzzer_sys::fuzz_target;
use plateau_formats::pprof::{read, PprofOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a small buffer (so refills land inside every field) and a small
    // stack limit (so the cut is exercised).
    let first = data.first().map_or(0, |&b| b as usize);
    let options = PprofOptions {
        buffer_size: 64 + first,
        max_stack_depth: 1 + first * 4,
    };
    if let Ok(parsed) = read(data, &options, &mut |_| {}) {
        let p = &parsed.value.profile;
        assert!(p.default_value < p.value_types.len());
        for (i, s) in p.samples().iter().enumerate() {
            assert_eq!(p.values(i).len(), p.value_types.len());
            for &f in p.stack(s.stack) {
                let _ = p.frame(f);
            }
        }
        for v in 0..p.value_types.len() {
            let _ = p.total(v);
        }
    }
});
