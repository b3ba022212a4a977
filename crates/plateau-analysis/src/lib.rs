//! Findings about heaps, in the user's terms: class names, retainer paths as sentences, bytes.
//!
//! Owns: the single-snapshot summary ([`summarize`]: class histogram, top retainers,
//! largest collections, duplicate strings); the multi-snapshot diff ([`diff`] over
//! [`SnapshotDigest`]s: new objects grouped under their holder, growth per round, leak
//! patterns with their fixes, fingerprints, what was cleared and why); retainer-path
//! rendering; string redaction; memory series and their verdicts ([`series`]: leak, plateau,
//! warm-up, allocator retention); sizes, durations and rates in words ([`format_bytes`]...).
//!
//! Also owns [`alloc`]: allocation-site profiles (tracemalloc, pprof) grouped, compared and
//! diffed over N profiles exactly as their own tools do, with suspects in the same format.
//!
//! Must not know: files, terminals, JSON, exit codes. It takes a [`plateau_graph::HeapGraph`]
//! with its [`plateau_graph::Dominators`] and returns plain data with public fields.

pub mod alloc;
mod collections;
mod diff;
mod digest;
mod names;
mod path;
mod redact;
pub mod series;
mod strings;
mod summary;
mod units;

pub use collections::{find_collections, largest_collections, Collection, CollectionKind};
pub use diff::{
    diff, ClassGrowth, Cleared, ClearedReason, DiffOptions, DiffReport, Pattern, SnapshotInfo,
    Suspect,
};
pub use digest::{mask_numbers, newest_object_id, DigestEntry, PathTotals, SnapshotDigest};
pub use path::{render_path, script_name, PathStep, RetainerPath};
pub use redact::Redaction;
pub use strings::{duplicate_strings, DuplicateString};
pub use summary::{
    summarize, summarize_counted, Accumulation, ClassRow, CollectionRow, DuplicateRow, GraphCounts,
    HeapSummary, SummaryOptions, TopObject, SUSPECT_SHARE,
};
pub use units::{format_bytes, format_duration, format_rate, format_signed_bytes};
