//! Recognising a heap-dump or profile format from the first bytes of a file.
//!
//! ```
//! use plateau_formats::sniff::{sniff, Format};
//! assert_eq!(sniff(br#"{"snapshot":{"meta":{"#), Format::V8HeapSnapshot);
//! assert_eq!(sniff(b"JAVA PROFILE 1.0.2\0"), Format::Hprof);
//! assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
//! // A Go heap profile, gunzipped: period_type {space, bytes}, then period.
//! assert_eq!(sniff(&[0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60, 0x01]), Format::Pprof);
//! ```

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How many leading bytes [`sniff`] looks at (more are ignored; fewer are fine).
pub const SNIFF_LEN: usize = 4096;

/// What a file looks like from its first bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A V8 `.heapsnapshot`: a JSON object whose first keys are `snapshot` or `nodes`.
    V8HeapSnapshot,
    /// gzip-compressed data (`1f 8b`); decompress with [`crate::maybe_gunzip`] and sniff again.
    Gzip,
    /// A Java HPROF heap dump (`JAVA PROFILE 1.0.x`).
    Hprof,
    /// A Python pickle (protocol 2 or later starts with `0x80`), e.g. a tracemalloc dump.
    Pickle,
    /// A pprof `profile.proto` (already gunzipped; Go writes them gzipped): recognised only
    /// by the fields real writers put first, see [`crate::pprof::is_profile`].
    Pprof,
    /// Some other JSON object.
    OtherJson,
    /// Anything else.
    Unknown,
}

impl Format {
    /// A short lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V8HeapSnapshot => "v8 heap snapshot",
            Format::Gzip => "gzip",
            Format::Hprof => "hprof",
            Format::Pickle => "python pickle",
            Format::Pprof => "pprof profile",
            Format::OtherJson => "json",
            Format::Unknown => "unknown",
        }
    }
}

/// Detects the format of a file from its first bytes (pass at least [`SNIFF_LEN`] when the
/// file is that long).
pub fn sniff(prefix: &[u8]) -> Format {
    let prefix = &prefix[..prefix.len().min(SNIFF_LEN)];
    if prefix.starts_with(&GZIP_MAGIC) {
        return Format::Gzip;
    }
    if prefix.starts_with(b"JAVA PROFILE ") {
        return Format::Hprof;
    }
    if prefix.first() == Some(&0x80) {
        return Format::Pickle;
    }
    if crate::pprof::is_profile(prefix) {
        return Format::Pprof;
    }
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| &text[i..]) {
        Some([b'{', rest @ ..]) => {
            let rest = trim_start(rest);
            if rest.starts_with(b"\"snapshot\"")
                || rest.starts_with(b"\"nodes\"")
                || memchr::memmem::find(rest, b"\"node_fields\"").is_some()
            {
                Format::V8HeapSnapshot
            } else {
                Format::OtherJson
            }
        }
        _ => Format::Unknown,
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let i = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[i..]
}
