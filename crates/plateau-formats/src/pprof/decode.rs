//! `profile.proto` messages into flat raw tables, exactly as the file has them (string
//! indexes and ids unresolved: the string table usually comes last).
//!
//! The top level is read from the stream one field at a time (a `Profile` is a sequence of
//! top-level fields, one per sample, location, function, string...), so only one field's
//! bytes need to be contiguous and progress can be reported as the file is read. Each
//! sub-message is decoded from memory with [`Wire`].

use std::collections::{BTreeMap, HashMap};

use super::wire::{decode_varint, wrong_wire, Problem, Tag, Varint, Wire, WireType};
use crate::hprof::input::Input;
use crate::FormatError;

/// A `ValueType`: string indexes of its type and unit, and where it was.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawValueType {
    pub(crate) kind: i64,
    pub(crate) unit: i64,
    pub(crate) offset: u64,
}

/// All samples, flat. Sample `i` has its location ids and its values varint-encoded in
/// `location_ids[location_ends[i-1]..location_ends[i]]` and likewise `values` (kept
/// encoded: they are most of a profile, 1–3 bytes each there and 8 decoded).
#[derive(Debug, Default)]
pub(crate) struct RawSamples {
    pub(crate) location_ids: Vec<u8>,
    pub(crate) location_ends: Vec<usize>,
    pub(crate) values: Vec<u8>,
    pub(crate) value_ends: Vec<usize>,
    /// Where each sample's message starts.
    pub(crate) offsets: Vec<u64>,
    /// Each distinct label (key, string value, unit) and its first use: labels repeat
    /// (every Go heap sample has `bytes`), so they are counted, not stored.
    pub(crate) labels: HashMap<LabelKind, LabelUse>,
}

impl RawSamples {
    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The location ids of sample `i`, leaf first.
    pub(crate) fn locations(&self, i: usize) -> impl Iterator<Item = u64> + '_ {
        let start = if i == 0 { 0 } else { self.location_ends[i - 1] };
        varints(&self.location_ids[start..self.location_ends[i]])
    }

    /// The values of sample `i`, into `out`.
    pub(crate) fn values_into(&self, i: usize, out: &mut Vec<i64>) {
        let start = if i == 0 { 0 } else { self.value_ends[i - 1] };
        out.clear();
        out.extend(varints(&self.values[start..self.value_ends[i]]).map(|v| v as i64));
    }
}

/// Decodes a run of varints checked when it was stored.
fn varints(mut bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    std::iter::from_fn(move || match decode_varint(bytes) {
        Varint::Value(v, n) => {
            bytes = &bytes[n..];
            Some(v)
        }
        _ => None,
    })
}

/// A label as its string indexes (a numeric label has `str` 0; its number is not kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LabelKind {
    pub(crate) key: i64,
    pub(crate) str: i64,
    pub(crate) num_unit: i64,
}

/// How often a label kind occurs and where first (sample, label of the sample).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabelUse {
    pub(crate) count: u64,
    pub(crate) sample: usize,
    pub(crate) index: usize,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawMapping {
    pub(crate) id: u64,
    pub(crate) memory_start: u64,
    pub(crate) memory_limit: u64,
    pub(crate) file_offset: u64,
    pub(crate) filename: i64,
    pub(crate) build_id: i64,
    pub(crate) has_functions: bool,
    pub(crate) has_filenames: bool,
    pub(crate) has_line_numbers: bool,
    pub(crate) has_inline_frames: bool,
    pub(crate) offset: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawLocation {
    pub(crate) id: u64,
    pub(crate) mapping_id: u64,
    pub(crate) address: u64,
    /// `lines[lines_start..lines_end]`, inlined callee first, the caller last.
    pub(crate) lines_start: usize,
    pub(crate) lines_end: usize,
    pub(crate) is_folded: bool,
    pub(crate) offset: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawLine {
    pub(crate) function_id: u64,
    pub(crate) line: i64,
    pub(crate) column: i64,
    pub(crate) offset: u64,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawFunction {
    pub(crate) id: u64,
    pub(crate) name: i64,
    pub(crate) system_name: i64,
    pub(crate) filename: i64,
    pub(crate) start_line: i64,
    pub(crate) offset: u64,
}

/// A string-valued top-level scalar (`drop_frames`, a comment...): index and offset.
pub(crate) type RawStr = (i64, u64);

/// A `Profile` as decoded, before any cross-reference is checked.
#[derive(Debug, Default)]
pub(crate) struct RawProfile {
    pub(crate) sample_types: Vec<RawValueType>,
    pub(crate) samples: RawSamples,
    pub(crate) mappings: Vec<RawMapping>,
    pub(crate) locations: Vec<RawLocation>,
    pub(crate) lines: Vec<RawLine>,
    pub(crate) functions: Vec<RawFunction>,
    pub(crate) strings: Vec<String>,
    /// Where the first string (which must be empty) was.
    pub(crate) first_string_offset: u64,
    /// Strings that were not UTF-8 (decoded with U+FFFD replacements).
    pub(crate) invalid_utf8: u64,
    pub(crate) drop_frames: Option<RawStr>,
    pub(crate) keep_frames: Option<RawStr>,
    pub(crate) time_nanos: i64,
    pub(crate) duration_nanos: i64,
    pub(crate) period_type: Option<RawValueType>,
    pub(crate) period: i64,
    pub(crate) comments: Vec<RawStr>,
    pub(crate) default_sample_type: Option<RawStr>,
    /// Skipped fields: (message, field number) → how many.
    pub(crate) unknown: BTreeMap<(&'static str, u64), u64>,
    /// Bytes of (decompressed) protobuf read.
    pub(crate) bytes: u64,
}

/// `Profile`'s fields by number: name and the wire type a field of that number starts with
/// in a file (the first field of a file must be one of these).
fn profile_field(field: u64) -> Option<(&'static str, &'static [WireType])> {
    use WireType::*;
    Some(match field {
        1 => ("sample_type", &[Len]),
        2 => ("sample", &[Len]),
        3 => ("mapping", &[Len]),
        4 => ("location", &[Len]),
        5 => ("function", &[Len]),
        6 => ("string_table", &[Len]),
        7 => ("drop_frames", &[Varint]),
        8 => ("keep_frames", &[Varint]),
        9 => ("time_nanos", &[Varint]),
        10 => ("duration_nanos", &[Varint]),
        11 => ("period_type", &[Len]),
        12 => ("period", &[Varint]),
        13 => ("comment", &[Varint, Len]),
        14 => ("default_sample_type", &[Varint]),
        _ => return None,
    })
}

/// Whether `prefix` can be the start of a `profile.proto` message: see
/// [`super::is_profile`].
pub(crate) fn looks_like_profile(prefix: &[u8]) -> bool {
    let mut rest = prefix;
    // Go's CPU profiles start with time_nanos.
    if rest.first() == Some(&0x48) {
        match decode_varint(&rest[1..]) {
            Varint::Value(_, n) => rest = &rest[1 + n..],
            _ => return false,
        }
    }
    // sample_type (0x0a, pprof's own writer) or period_type (0x5a, Go's heap profiles),
    // a short length, then a ValueType made of its two small varint fields only.
    let [0x0a | 0x5a, len, body @ ..] = rest else {
        return false;
    };
    let len = *len as usize;
    if !(2..=22).contains(&len) || body.len() < len || body[0] != 0x08 {
        return false;
    }
    let mut value_type = &body[..len];
    let mut seen = 0u8;
    while let [tag @ (0x08 | 0x10), more @ ..] = value_type {
        let bit = if *tag == 0x08 { 1 } else { 2 };
        if seen & bit != 0 {
            return false;
        }
        seen |= bit;
        match decode_varint(more) {
            Varint::Value(_, n) => value_type = &more[n..],
            _ => return false,
        }
    }
    if !value_type.is_empty() {
        return false;
    }
    // What follows, if the prefix holds it, must be another Profile field.
    let next = &body[len..];
    match decode_varint(next) {
        Varint::Value(key, _) => profile_field(key >> 3)
            .is_some_and(|(_, wires)| wires.iter().any(|w| wire_number(*w) == key & 7)),
        Varint::Truncated => true,
        Varint::TooLong => false,
    }
}

fn wire_number(w: WireType) -> u64 {
    match w {
        WireType::Varint => 0,
        WireType::Fixed64 => 1,
        WireType::Len => 2,
        WireType::Fixed32 => 5,
    }
}

/// Reads the whole `Profile` from `input`.
pub(crate) fn decode(input: &mut Input<'_>) -> Result<RawProfile, FormatError> {
    input.fill(64)?;
    let head = input.bytes();
    let head = head[..head.len().min(64)].to_vec();
    decode_fields(input).map_err(|e| {
        // Text can decode as a few protobuf fields before it fails; say what it is instead.
        if looks_like_text(&head) {
            let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)]).into();
            FormatError::NotPprof(format!(
                "it starts with text ({shown:?}...), not protobuf{}",
                hint(&head)
            ))
        } else {
            e
        }
    })
}

/// At least 4 bytes, all printable ASCII or whitespace: no profile starts like that (its
/// first field's length or varint bytes are control or high bytes).
fn looks_like_text(head: &[u8]) -> bool {
    head.len() >= 4
        && head
            .iter()
            .all(|&b| b.is_ascii_graphic() || b == b' ' || (b'\t'..=b'\r').contains(&b))
}

fn decode_fields(input: &mut Input<'_>) -> Result<RawProfile, FormatError> {
    let mut raw = RawProfile::default();
    // How many of each top-level field so far (for paths such as `Profile.sample[12]`).
    let mut counts = [0u64; 15];
    let mut first = true;
    loop {
        let available = input.fill(20)?;
        let head = input.bytes();
        if head.is_empty() {
            break;
        }
        let at = input.offset();
        let (key, tag_len) = match decode_varint(head) {
            Varint::Value(key, n) => (key, n),
            Varint::Truncated if !available => {
                return Err(FormatError::Truncated {
                    offset: at,
                    context: "a field tag of Profile".to_string(),
                })
            }
            _ => {
                return Err(not_a_profile_or(
                    first,
                    head,
                    Problem::new(at, "a field tag longer than 64 bits"),
                ))
            }
        };
        let field = key >> 3;
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            t => {
                return Err(not_a_profile_or(
                    first,
                    head,
                    Problem::new(
                        at,
                        format!("field {field} has wire type {t}, which profile.proto never uses"),
                    ),
                ))
            }
        };
        let known = profile_field(field);
        if first {
            let fits = known.is_some_and(|(_, wires)| wires.contains(&wire));
            if !fits {
                return Err(not_a_first_field(head));
            }
            first = false;
        }
        let tag = Tag {
            field,
            wire,
            offset: at,
        };
        let index = counts.get(field as usize).copied().unwrap_or(0);
        if let Some(c) = counts.get_mut(field as usize) {
            *c += 1;
        }
        let name = known.map_or("", |(name, _)| name);
        let path = || {
            if known.is_some() {
                format!("Profile.{name}[{index}]")
            } else {
                format!("Profile field {field}")
            }
        };
        match wire {
            WireType::Varint | WireType::Fixed64 | WireType::Fixed32 => {
                let body = &head[tag_len..];
                let (value, value_len) = match wire {
                    WireType::Varint => match decode_varint(body) {
                        Varint::Value(v, n) => (v, n),
                        Varint::Truncated => {
                            return Err(FormatError::Truncated {
                                offset: at,
                                context: path(),
                            })
                        }
                        Varint::TooLong => {
                            return Err(protobuf(
                                Problem::new(at + tag_len as u64, "a varint longer than 64 bits"),
                                &path(),
                            ))
                        }
                    },
                    WireType::Fixed64 if body.len() >= 8 => (0, 8),
                    WireType::Fixed32 if body.len() >= 4 => (0, 4),
                    _ => {
                        return Err(FormatError::Truncated {
                            offset: at,
                            context: path(),
                        })
                    }
                };
                input.consume(tag_len + value_len);
                if known.is_some() {
                    top_scalar(&mut raw, tag, value).map_err(|p| protobuf(p, &path()))?;
                } else {
                    *raw.unknown.entry(("Profile", field)).or_default() += 1;
                }
            }
            WireType::Len => {
                let (len, len_len) = match decode_varint(&head[tag_len..]) {
                    Varint::Value(len, n) => (len, n),
                    Varint::Truncated if !available => {
                        return Err(FormatError::Truncated {
                            offset: at,
                            context: format!("{} (its length)", path()),
                        })
                    }
                    _ => {
                        return Err(protobuf(
                            Problem::new(at + tag_len as u64, "a length longer than 64 bits"),
                            &path(),
                        ))
                    }
                };
                input.consume(tag_len + len_len);
                let body_at = input.offset();
                if known.is_none() {
                    let skipped = input.skip(len)?;
                    if skipped < len {
                        return Err(truncated_body(path(), body_at, len, skipped));
                    }
                    *raw.unknown.entry(("Profile", field)).or_default() += 1;
                    continue;
                }
                let Ok(n) = usize::try_from(len) else {
                    return Err(truncated_body(
                        path(),
                        body_at,
                        len,
                        input.available() as u64,
                    ));
                };
                if !input.fill(n)? {
                    return Err(truncated_body(
                        path(),
                        body_at,
                        len,
                        input.available() as u64,
                    ));
                }
                let mut w = Wire::new(&input.bytes()[..n], body_at);
                top_message(&mut raw, tag, &mut w).map_err(|p| protobuf(p, &path()))?;
                input.consume(n);
            }
        }
    }
    raw.bytes = input.offset();
    Ok(raw)
}

fn truncated_body(path: String, at: u64, len: u64, present: u64) -> FormatError {
    FormatError::Truncated {
        offset: at + present,
        context: format!("{path} (a {len}-byte field, {present} bytes present)"),
    }
}

fn protobuf(p: Problem, path: &str) -> FormatError {
    FormatError::Protobuf {
        offset: p.offset,
        context: format!("{path}{}", p.path),
        problem: p.problem,
    }
}

/// An undecodable first field means the input is something else; later, it is corruption.
fn not_a_profile_or(first: bool, head: &[u8], p: Problem) -> FormatError {
    if first {
        not_a_first_field(head)
    } else {
        protobuf(p, "Profile")
    }
}

fn not_a_first_field(head: &[u8]) -> FormatError {
    FormatError::NotPprof(format!(
        "it starts with {}, which does not open a profile.proto field (a Go heap profile \
         starts with 0x5a, period_type; pprof's own output with 0x0a, sample_type){}",
        describe_start(head),
        hint(head)
    ))
}

fn describe_start(head: &[u8]) -> String {
    let b = head[0];
    if b.is_ascii_graphic() {
        format!("byte 0x{b:02x} ('{}')", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// What the input probably is, when it is recognisably something else.
fn hint(head: &[u8]) -> &'static str {
    if head.starts_with(b"heap profile:") || head.starts_with(b"heap_v2/") {
        "; this is a legacy text heap profile (Go's debug=1, gperftools, jemalloc): fetch \
         /debug/pprof/heap without debug=1, or convert it with `go tool pprof -proto`"
    } else if head.starts_with(b"--- ") {
        "; this looks like a legacy text profile: convert it with `go tool pprof -proto`"
    } else if head.first() == Some(&b'{') {
        "; this looks like JSON"
    } else if head.starts_with(b"JAVA PROFILE") {
        "; this is a Java HPROF heap dump"
    } else {
        ""
    }
}

fn as_bool(v: u64) -> bool {
    v != 0
}

/// A top-level varint field.
fn top_scalar(raw: &mut RawProfile, tag: Tag, value: u64) -> Result<(), Problem> {
    let v = value as i64;
    match tag.field {
        7 | 8 | 9 | 10 | 12 | 13 | 14 if tag.wire == WireType::Varint => match tag.field {
            7 => raw.drop_frames = Some((v, tag.offset)),
            8 => raw.keep_frames = Some((v, tag.offset)),
            9 => raw.time_nanos = v,
            10 => raw.duration_nanos = v,
            12 => raw.period = v,
            13 => raw.comments.push((v, tag.offset)),
            _ => raw.default_sample_type = Some((v, tag.offset)),
        },
        _ => return Err(wrong_top_wire(tag)),
    }
    Ok(())
}

/// A known top-level field with a wire type its schema type cannot have.
fn wrong_top_wire(tag: Tag) -> Problem {
    let (name, wires) = profile_field(tag.field).unwrap_or(("?", &[]));
    let expected = if wires.len() > 1 {
        "wire type 0 (varint) or 2 (packed varints)"
    } else if wires.first() == Some(&WireType::Len) {
        "wire type 2 (length-delimited)"
    } else {
        "wire type 0 (varint)"
    };
    Problem::new(
        tag.offset,
        format!(
            "field {} ({name}) has {}, expected {expected}",
            tag.field,
            tag.wire.describe()
        ),
    )
}

/// A top-level length-delimited field (a message, a string, packed comments).
fn top_message(raw: &mut RawProfile, tag: Tag, w: &mut Wire<'_>) -> Result<(), Problem> {
    match tag.field {
        1 => {
            let vt = value_type(w)?;
            raw.sample_types.push(vt);
        }
        2 => sample(raw, w)?,
        3 => {
            let m = mapping(raw, w)?;
            raw.mappings.push(m);
        }
        4 => location(raw, w)?,
        5 => {
            let f = function(raw, w)?;
            raw.functions.push(f);
        }
        6 => {
            let bytes = w.rest();
            if raw.strings.is_empty() {
                raw.first_string_offset = w.offset();
            }
            let s = match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => {
                    raw.invalid_utf8 += 1;
                    String::from_utf8_lossy(bytes).into_owned()
                }
            };
            raw.strings.push(s);
        }
        11 => raw.period_type = Some(value_type(w)?),
        13 => {
            while !w.is_empty() {
                let at = w.offset();
                let v = w.varint()?;
                raw.comments.push((v as i64, at));
            }
        }
        _ => return Err(wrong_top_wire(tag)),
    }
    Ok(())
}

fn unknown(
    unknown: &mut BTreeMap<(&'static str, u64), u64>,
    message: &'static str,
    w: &mut Wire<'_>,
    tag: Tag,
) -> Result<(), Problem> {
    *unknown.entry((message, tag.field)).or_default() += 1;
    w.skip(tag.wire)
}

fn value_type(w: &mut Wire<'_>) -> Result<RawValueType, Problem> {
    let mut vt = RawValueType {
        offset: w.offset(),
        ..RawValueType::default()
    };
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => vt.kind = w.scalar(tag, "type")? as i64,
            2 => vt.unit = w.scalar(tag, "unit")? as i64,
            _ => w.skip(tag.wire)?,
        }
    }
    Ok(vt)
}

fn sample(raw: &mut RawProfile, w: &mut Wire<'_>) -> Result<(), Problem> {
    let index = raw.samples.offsets.len();
    raw.samples.offsets.push(w.offset());
    let mut labels = 0;
    while !w.is_empty() {
        let tag = w.tag()?;
        let s = &mut raw.samples;
        match tag.field {
            1 => packed_varints(w, tag, "location_id", &mut s.location_ids)
                .map_err(|p| p.within(".location_id"))?,
            2 => packed_varints(w, tag, "value", &mut s.values).map_err(|p| p.within(".value"))?,
            3 => {
                let mut m = w.message(tag, "label")?;
                let kind = label(&mut m).map_err(|p| p.within(format!(".label[{labels}]")))?;
                s.labels
                    .entry(kind)
                    .or_insert(LabelUse {
                        count: 0,
                        sample: index,
                        index: labels,
                    })
                    .count += 1;
                labels += 1;
            }
            _ => unknown(&mut raw.unknown, "Sample", w, tag)?,
        }
    }
    let s = &mut raw.samples;
    s.location_ends.push(s.location_ids.len());
    s.value_ends.push(s.values.len());
    Ok(())
}

/// A repeated integer field of a sample, packed or not, appended to `out` as varints
/// (checked).
fn packed_varints(
    w: &mut Wire<'_>,
    tag: Tag,
    name: &str,
    out: &mut Vec<u8>,
) -> Result<(), Problem> {
    match tag.wire {
        WireType::Varint => {
            let mut v = w.varint()?;
            while v >= 0x80 {
                out.push(v as u8 | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
            Ok(())
        }
        WireType::Len => {
            let mut packed = w.len_delimited()?;
            let bytes = packed.rest();
            while !packed.is_empty() {
                packed.varint()?;
            }
            out.extend_from_slice(bytes);
            Ok(())
        }
        _ => Err(wrong_wire(
            tag,
            name,
            "wire type 0 (varint) or 2 (packed varints)",
        )),
    }
}

fn label(w: &mut Wire<'_>) -> Result<LabelKind, Problem> {
    let mut l = LabelKind {
        key: 0,
        str: 0,
        num_unit: 0,
    };
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => l.key = w.scalar(tag, "key")? as i64,
            2 => l.str = w.scalar(tag, "str")? as i64,
            3 => drop(w.scalar(tag, "num")?),
            4 => l.num_unit = w.scalar(tag, "num_unit")? as i64,
            _ => w.skip(tag.wire)?,
        }
    }
    Ok(l)
}

fn mapping(raw: &mut RawProfile, w: &mut Wire<'_>) -> Result<RawMapping, Problem> {
    let mut m = RawMapping {
        offset: w.offset(),
        ..RawMapping::default()
    };
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => m.id = w.scalar(tag, "id")?,
            2 => m.memory_start = w.scalar(tag, "memory_start")?,
            3 => m.memory_limit = w.scalar(tag, "memory_limit")?,
            4 => m.file_offset = w.scalar(tag, "file_offset")?,
            5 => m.filename = w.scalar(tag, "filename")? as i64,
            6 => m.build_id = w.scalar(tag, "build_id")? as i64,
            7 => m.has_functions = as_bool(w.scalar(tag, "has_functions")?),
            8 => m.has_filenames = as_bool(w.scalar(tag, "has_filenames")?),
            9 => m.has_line_numbers = as_bool(w.scalar(tag, "has_line_numbers")?),
            10 => m.has_inline_frames = as_bool(w.scalar(tag, "has_inline_frames")?),
            _ => unknown(&mut raw.unknown, "Mapping", w, tag)?,
        }
    }
    Ok(m)
}

fn location(raw: &mut RawProfile, w: &mut Wire<'_>) -> Result<(), Problem> {
    let mut l = RawLocation {
        offset: w.offset(),
        lines_start: raw.lines.len(),
        ..RawLocation::default()
    };
    let mut lines = 0;
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => l.id = w.scalar(tag, "id")?,
            2 => l.mapping_id = w.scalar(tag, "mapping_id")?,
            3 => l.address = w.scalar(tag, "address")?,
            4 => {
                let mut m = w.message(tag, "line")?;
                let line = line(raw, &mut m).map_err(|p| p.within(format!(".line[{lines}]")))?;
                raw.lines.push(line);
                lines += 1;
            }
            5 => l.is_folded = as_bool(w.scalar(tag, "is_folded")?),
            _ => unknown(&mut raw.unknown, "Location", w, tag)?,
        }
    }
    l.lines_end = raw.lines.len();
    raw.locations.push(l);
    Ok(())
}

fn line(raw: &mut RawProfile, w: &mut Wire<'_>) -> Result<RawLine, Problem> {
    let mut l = RawLine {
        offset: w.offset(),
        ..RawLine::default()
    };
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => l.function_id = w.scalar(tag, "function_id")?,
            2 => l.line = w.scalar(tag, "line")? as i64,
            3 => l.column = w.scalar(tag, "column")? as i64,
            _ => unknown(&mut raw.unknown, "Line", w, tag)?,
        }
    }
    Ok(l)
}

fn function(raw: &mut RawProfile, w: &mut Wire<'_>) -> Result<RawFunction, Problem> {
    let mut f = RawFunction {
        offset: w.offset(),
        ..RawFunction::default()
    };
    while !w.is_empty() {
        let tag = w.tag()?;
        match tag.field {
            1 => f.id = w.scalar(tag, "id")?,
            2 => f.name = w.scalar(tag, "name")? as i64,
            3 => f.system_name = w.scalar(tag, "system_name")? as i64,
            4 => f.filename = w.scalar(tag, "filename")? as i64,
            5 => f.start_line = w.scalar(tag, "start_line")? as i64,
            _ => unknown(&mut raw.unknown, "Function", w, tag)?,
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_unpacked_repeated_fields_read_the_same() {
        // field 1 packed [1, 300], then field 1 unpacked 7 and 2^40.
        let buf = [
            0x0a, 0x03, 0x01, 0xac, 0x02, 0x08, 0x07, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
        ];
        let mut w = Wire::new(&buf, 0);
        let mut out = Vec::new();
        while !w.is_empty() {
            let tag = w.tag().unwrap();
            packed_varints(&mut w, tag, "x", &mut out).unwrap();
        }
        assert_eq!(varints(&out).collect::<Vec<_>>(), [1, 300, 7, 1 << 40]);
        // A packed run that ends inside a varint is refused when stored.
        let mut w = Wire::new(&[0x0a, 0x02, 0x01, 0x80], 0);
        let tag = w.tag().unwrap();
        let e = packed_varints(&mut w, tag, "x", &mut out).unwrap_err();
        assert_eq!(e.problem, "a varint runs past the end of its message");
    }

    #[test]
    fn sniffing_needs_a_value_type_and_a_next_field() {
        assert!(looks_like_profile(&[
            0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x60, 0x01
        ]));
        assert!(!looks_like_profile(&[
            0x5a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x7b
        ]));
        assert!(!looks_like_profile(b"Z\x04\x08\x01\x10\x02"[..4].as_ref()));
    }
}
