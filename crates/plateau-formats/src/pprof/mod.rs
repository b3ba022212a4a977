//! pprof `profile.proto` files (Go's `runtime/pprof` and `/debug/pprof/heap`, and anything
//! `go tool pprof -proto` converted: jemalloc, gperftools) into the allocation-profile model,
//! [`plateau_profile::AllocProfile`].
//!
//! The input is gzipped protobuf as Go writes it (plain protobuf is read too). A small
//! hand-written decoder ([`wire`]) reads the top-level `Profile` fields one at a time from
//! the stream, keeps samples, locations, functions and mappings in flat tables, and resolves
//! everything once the string table (which Go writes last) has arrived:
//!
//! * **Checked**: `string_table[0]` is `""`; every string index is inside the table; ids of
//!   mappings, locations and functions are nonzero and unique; every `location_id` of a
//!   sample and every `function_id` of a line exists; each sample has one value per
//!   `sample_type`. A failure is a [`FormatError`] naming the field path and byte offset
//!   (`invalid profile: Profile.sample[12] at byte 3456: value count 3, expected 4 (one per
//!   sample_type)`); byte offsets count the decompressed protobuf. A location naming a
//!   mapping that does not exist is only a warning (pprof accepts it too).
//! * **Stacks**: a sample's `location_id`s are leaf first; each location expands to its
//!   lines, inlined callee first and the physical caller last, so the model's leaf-first
//!   stack is every line of every location in order. A frame is the line's function name
//!   (its `system_name` when the name is empty), the function's file and the line number.
//!   A location without lines (an unsymbolized profile) becomes one frame named by its
//!   address, `0x4a3f20`, with the mapping's file as its file, so such profiles still group.
//!   Samples with the same stack are merged (labels are not part of the model; their keys
//!   are summarised in [`PprofMeta::labels`]).
//! * **Values**: `value_types` are the sample types; `default_value` is the index of
//!   `default_sample_type` when set (Go's `allocs` profile names `alloc_space`), else the
//!   last type (pprof's rule: `inuse_space` for a Go heap profile); `period` is
//!   `period_type`/`period` (Go: `space`/`bytes` and the `MemProfileRate`); `time_nanos` and
//!   `comment`s are kept. Go's heap values are already scaled estimates (see
//!   `formats.md` section 4); they are kept as written.
//! * **Producer** (`profile.proto` has no field for it), from frames, mappings and sample
//!   types, first match wins; [`PprofMeta::producer_evidence`] says what decided it:
//!   1. jemalloc: a function named `je_*` or `_rjem_*` (Rust's `tikv-jemallocator`) or
//!      containing `prof_backtrace` or `jemalloc`, or a mapping file containing `jemalloc`;
//!   2. gperftools: a function containing `tcmalloc` or `MallocHook`, or a mapping file
//!      containing `tcmalloc`;
//!   3. Go: a function named `runtime.*` or a source file `*.go`; failing those, Go's heap
//!      sample types exactly (`alloc_objects`, `alloc_space`, `inuse_objects`,
//!      `inuse_space`) when no function names a source file (a stripped Go profile; a
//!      symbolized C or C++ one names `.c`/`.cc` files);
//!   4. otherwise a generic pprof profile.
//!
//!   Allocator frames come first because they are specific: a C or Rust heap profile
//!   converted by `go tool pprof -proto` has the same four sample type names as Go's, and a
//!   cgo program can have both kinds of frames. The producer changes wording and defaults
//!   downstream, never a number.
//!
//! ```no_run
//! use plateau_formats::pprof::{read, PprofOptions};
//! let file = std::io::BufReader::new(std::fs::File::open("heap.pb.gz").unwrap());
//! let parsed = read(file, &PprofOptions::default(), &mut |_bytes| {}).unwrap();
//! let profile = &parsed.value.profile;
//! let inuse = profile.value_index("inuse_space").unwrap_or(profile.default_value);
//! println!("{} in use in {} stacks", profile.total(inuse), profile.stack_count());
//! ```

mod build;
mod decode;
mod producer;
pub(crate) mod wire;

use std::io::Read;

use plateau_profile::AllocProfile;

use crate::hprof::input::Input;
use crate::{FormatError, Parsed};

/// How to read a profile.
#[derive(Clone, Debug)]
pub struct PprofOptions {
    /// Bytes read from the source at a time (default 1 MiB; at least 64). It grows beyond
    /// this only for a single larger top-level field.
    pub buffer_size: usize,
    /// Frames kept per stack after inlined frames are expanded (default 4096): deeper
    /// stacks keep their innermost frames and lose the outermost, with a warning. Real
    /// stacks are far shallower (Go records at most 32 or 128 frames); the limit bounds the
    /// memory a crafted file can ask for.
    pub max_stack_depth: usize,
}

impl Default for PprofOptions {
    fn default() -> Self {
        PprofOptions {
            buffer_size: 1 << 20,
            max_stack_depth: 4096,
        }
    }
}

/// A profile read from a `profile.proto`: the model and what the file said besides.
#[derive(Clone, Debug)]
pub struct PprofProfile {
    pub profile: AllocProfile,
    pub meta: PprofMeta,
}

/// What a `profile.proto` holds that the model does not, and counts of what was read.
#[derive(Clone, Debug, Default)]
pub struct PprofMeta {
    /// `Sample` messages in the file (before samples of the same stack were merged).
    pub raw_samples: u64,
    pub locations: u64,
    pub functions: u64,
    /// Entries of the string table.
    pub strings: u64,
    /// Locations without any line: their frames are named by address.
    pub unsymbolized_locations: u64,
    pub mappings: Vec<Mapping>,
    /// `duration_nanos`, when set (CPU profiles; Go heap profiles have none).
    pub duration_nanos: Option<i64>,
    /// The `drop_frames` / `keep_frames` regular expressions, when set. pprof removes the
    /// frames they match when it reads a profile (it sets them, to its list of allocator
    /// functions, when it converts a legacy gperftools or jemalloc heap profile); plateau
    /// does not apply them and warns instead. Go never sets them.
    pub drop_frames: Option<String>,
    pub keep_frames: Option<String>,
    /// `default_sample_type`, when set.
    pub default_sample_type: Option<String>,
    /// Label keys of the samples (Go heap profiles: `bytes`, the allocation size class).
    pub labels: Vec<LabelKey>,
    /// Why [`AllocProfile::producer`] is what it is: `function runtime.main`.
    pub producer_evidence: String,
    /// Bytes of (decompressed) protobuf read.
    pub bytes_read: u64,
}

/// A `Mapping`: a binary or library mapped into the profiled process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    pub id: u64,
    pub memory_start: u64,
    pub memory_limit: u64,
    pub file_offset: u64,
    pub filename: String,
    pub build_id: String,
    pub has_functions: bool,
    pub has_filenames: bool,
    pub has_line_numbers: bool,
    pub has_inline_frames: bool,
}

/// One label key over all samples.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelKey {
    pub key: String,
    /// How many labels with this key carry a string, and how many a number.
    pub string_values: u64,
    pub numeric_values: u64,
    /// The first `num_unit` given for the numeric values, if any.
    pub unit: String,
}

/// Reads a pprof profile (gzip is recognised and decompressed transparently). `progress` is
/// called with the number of bytes taken from `reader` so far, about once per MiB — compare
/// it with the file length for a progress bar.
pub fn read<R: Read + Send>(
    reader: R,
    options: &PprofOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed<PprofProfile>, FormatError> {
    crate::with_source(reader, |source, consumed| {
        let mut input = Input::new(source, options.buffer_size.max(64), progress, consumed);
        let raw = decode::decode(&mut input)?;
        if input.cut_short() {
            return Err(FormatError::Truncated {
                offset: input.offset(),
                context: "the gzip stream (it ends before its trailer)".to_string(),
            });
        }
        input.finish_progress();
        let mut warnings = Vec::new();
        let profile = build::build(raw, options, &mut warnings)?;
        Ok(Parsed {
            value: profile,
            warnings,
        })
    })
}

/// Whether `prefix` (the first bytes of a file, already gunzipped) looks like a
/// `profile.proto`: it must open with one of the fields real writers put first — Go's heap
/// profiles `period_type` (`5a`), pprof's own output `sample_type` (`0a`), Go's CPU profiles
/// `time_nanos` (`48`) followed by one of those — holding a `ValueType` of two small varint
/// fields (`08 .. 10 ..`), followed by another `Profile` field. Text, JSON and the other dump
/// formats never match. A gzipped file must be gunzipped first (see [`crate::sniff`]).
///
/// ```
/// use plateau_formats::pprof::is_profile;
/// // period_type {type: 1, unit: 2}, then period (field 12).
/// assert!(is_profile(&[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60, 0x01]));
/// assert!(!is_profile(b"\nhello"));
/// ```
pub fn is_profile(prefix: &[u8]) -> bool {
    decode::looks_like_profile(prefix)
}
