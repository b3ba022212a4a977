//! Which program wrote a profile, from what is in it (`profile.proto` has no producer field).
//!
//! The heuristic is documented in the module docs of [`super`] (Producer).

use plateau_profile::{Producer, ValueType};

use super::decode::RawProfile;
use super::Mapping;

const GO_HEAP_TYPES: [&str; 4] = [
    "alloc_objects",
    "alloc_space",
    "inuse_objects",
    "inuse_space",
];

/// The producer and the evidence for it, as a short phrase (`function runtime.main`).
pub(crate) fn detect_producer(
    raw: &RawProfile,
    value_types: &[ValueType],
    mappings: &[Mapping],
) -> (Producer, String) {
    // String indexes of every function were checked before this is called.
    let text = |i: i64| -> &str {
        usize::try_from(i)
            .ok()
            .and_then(|i| raw.strings.get(i))
            .map_or("", String::as_str)
    };
    let names = || {
        raw.functions
            .iter()
            .flat_map(|f| [text(f.name), text(f.system_name)])
            .filter(|n| !n.is_empty())
    };
    let mapping_files = || mappings.iter().map(|m| m.filename.as_str());

    let jemalloc_function = |n: &&str| {
        n.starts_with("je_")
            || n.starts_with("_rjem_")
            || n.contains("prof_backtrace")
            || n.contains("jemalloc")
    };
    if let Some(n) = names().find(jemalloc_function) {
        return (Producer::Jemalloc, format!("function {n}"));
    }
    if let Some(f) = mapping_files().find(|f| f.contains("jemalloc")) {
        return (Producer::Jemalloc, format!("mapping {f}"));
    }
    if let Some(n) = names().find(|n| n.contains("tcmalloc") || n.contains("MallocHook")) {
        return (Producer::Gperftools, format!("function {n}"));
    }
    if let Some(f) = mapping_files().find(|f| f.contains("tcmalloc")) {
        return (Producer::Gperftools, format!("mapping {f}"));
    }
    if let Some(n) = names().find(|n| n.starts_with("runtime.")) {
        return (Producer::GoPprof, format!("function {n}"));
    }
    if let Some(f) = raw
        .functions
        .iter()
        .map(|f| text(f.filename))
        .find(|f| f.ends_with(".go"))
    {
        return (Producer::GoPprof, format!("source file {f}"));
    }
    // No frame evidence: Go's exact heap layout, when no function names a source file (a
    // file here would be another language's: .go files matched above).
    let kinds: Vec<&str> = value_types.iter().map(|t| t.kind.as_str()).collect();
    if kinds == GO_HEAP_TYPES && raw.functions.iter().all(|f| text(f.filename).is_empty()) {
        return (
            Producer::GoPprof,
            format!("sample types {} (Go's heap profile)", kinds.join(", ")),
        );
    }
    (
        Producer::Pprof,
        "no allocator or Go runtime frames, no Go heap sample types".to_string(),
    )
}
