//! Findings about heaps, in the user's terms: class names, retainer paths as sentences, bytes.
//!
//! Owns: the single-snapshot summary ([`summarize`]: class histogram, top retainers,
//! largest collections, duplicate strings), retainer-path rendering, string redaction.
//! Later: multi-snapshot diffs, growth tracking, leak-pattern detectors, series verdicts.
//!
//! Must not know: files, terminals, JSON, exit codes. It takes a [`plateau_graph::HeapGraph`]
//! with its [`plateau_graph::Dominators`] and returns plain data with public fields.

mod collections;
mod names;
mod path;
mod redact;
mod strings;
mod summary;

pub use collections::{find_collections, largest_collections, Collection, CollectionKind};
pub use path::{render_path, PathStep, RetainerPath};
pub use redact::Redaction;
pub use strings::{duplicate_strings, DuplicateString};
pub use summary::{
    summarize, ClassRow, CollectionRow, DuplicateRow, HeapSummary, SummaryOptions, TopObject,
};
