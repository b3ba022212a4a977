//! Rendering of findings: terminal tables for people, versioned JSON for programs.
//!
//! Owns: the JSON contract (`schema_version`, field names, units: bytes, 1-based source
//! lines), number and size formatting, table layout.
//!
//! Must not know: how findings were made, files, exit codes. It takes plain findings from
//! `plateau-analysis` and returns strings or JSON values.

mod alloc;
mod analyze;
mod diff;
mod format;
mod series;

pub use alloc::{
    alloc_diff_json, alloc_diff_text, alloc_diff_verdict, flame_graph_svg, profile_json,
    profile_text, ProfileReport, NO_RETAINED_SIZES,
};
pub use analyze::{analyze_json, analyze_text, AnalyzeReport};
pub use diff::{diff_json, diff_text, diff_verdict};
pub use format::{format_bytes, format_count};
pub use series::{classify_headline, classify_json, classify_text, SeriesSource};

/// Version of every JSON document plateau prints. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
