//! Raw tables into an [`AllocProfile`]: every string index, id and count checked, each
//! location expanded to its lines (inlined callee first), samples of the same stack merged.

use std::collections::{BTreeMap, HashMap};

use plateau_profile::{Frame, FrameId, ProfileBuilder, ValueType};

use super::decode::{RawProfile, RawValueType};
use super::producer::detect_producer;
use super::{LabelKey, Mapping, PprofMeta, PprofOptions, PprofProfile};
use crate::FormatError;

/// Ids of one kind (mapping, location, function) to their position in the file. Ids are
/// arbitrary; writers usually number from 1, so a dense table is tried first.
enum IdIndex {
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u32>),
}

impl IdIndex {
    /// Indexes `ids`; on a duplicate or a zero id, says which position is at fault.
    fn new(ids: impl ExactSizeIterator<Item = u64> + Clone) -> Result<IdIndex, IdError> {
        let n = ids.len();
        let max = ids.clone().max().unwrap_or(0);
        let mut index = if max <= (n as u64).saturating_mul(4).saturating_add(16) {
            IdIndex::Dense(vec![u32::MAX; max as usize + 1])
        } else {
            IdIndex::Sparse(HashMap::with_capacity(n))
        };
        for (i, id) in ids.enumerate() {
            if id == 0 {
                return Err(IdError::Zero(i));
            }
            let i32 = u32::try_from(i).map_err(|_| IdError::TooMany)?;
            let previous = match &mut index {
                IdIndex::Dense(v) => {
                    let slot = &mut v[id as usize];
                    let before = *slot;
                    *slot = i32;
                    (before != u32::MAX).then_some(before)
                }
                IdIndex::Sparse(m) => m.insert(id, i32),
            };
            if let Some(first) = previous {
                return Err(IdError::Duplicate(i, first as usize, id));
            }
        }
        Ok(index)
    }

    #[inline]
    fn get(&self, id: u64) -> Option<usize> {
        match self {
            IdIndex::Dense(v) => match v.get(usize::try_from(id).ok()?) {
                Some(&i) if i != u32::MAX => Some(i as usize),
                _ => None,
            },
            IdIndex::Sparse(m) => m.get(&id).map(|&i| i as usize),
        }
    }
}

enum IdError {
    Zero(usize),
    Duplicate(usize, usize, u64),
    TooMany,
}

fn id_error(e: IdError, what: &str, offset_of: impl Fn(usize) -> u64) -> FormatError {
    match e {
        IdError::Zero(i) => FormatError::Profile {
            what: format!("Profile.{what}[{i}]"),
            offset: offset_of(i),
            problem: "id 0, which is reserved (ids are nonzero)".to_string(),
        },
        IdError::Duplicate(i, first, id) => FormatError::Profile {
            what: format!("Profile.{what}[{i}]"),
            offset: offset_of(i),
            problem: format!("id {id} is also the id of Profile.{what}[{first}]"),
        },
        IdError::TooMany => FormatError::TooLarge(format!("more than 2^32 {what}s")),
    }
}

/// The string at `index`, or an error naming the field that holds the index.
fn string(
    table: &[String],
    index: i64,
    what: impl FnOnce() -> String,
    offset: u64,
) -> Result<&str, FormatError> {
    match usize::try_from(index).ok().and_then(|i| table.get(i)) {
        Some(s) => Ok(s),
        None => Err(FormatError::Profile {
            what: what(),
            offset,
            problem: if index < 0 {
                format!("string index {index} is negative")
            } else {
                format!(
                    "string index {index} is past the end of the string table ({} strings)",
                    table.len()
                )
            },
        }),
    }
}

fn value_type(table: &[String], vt: &RawValueType, what: &str) -> Result<ValueType, FormatError> {
    Ok(ValueType::new(
        string(table, vt.kind, || format!("{what}.type"), vt.offset)?,
        string(table, vt.unit, || format!("{what}.unit"), vt.offset)?,
    ))
}

pub(crate) fn build(
    raw: RawProfile,
    options: &PprofOptions,
    warnings: &mut Vec<String>,
) -> Result<PprofProfile, FormatError> {
    if raw.bytes == 0 {
        return Err(FormatError::NotPprof("the input is empty".to_string()));
    }
    let table = &raw.strings[..];
    if table.is_empty() {
        if raw.sample_types.is_empty() && raw.samples.len() == 0 {
            return Err(FormatError::NotPprof(format!(
                "{} bytes decode as protobuf but hold no sample_type and no string table",
                raw.bytes
            )));
        }
        return Err(FormatError::Profile {
            what: "Profile.string_table".to_string(),
            offset: raw.bytes,
            problem: "missing (the profile ends without one): every profile has at least the \
                      empty string at index 0"
                .to_string(),
        });
    }
    if !table[0].is_empty() {
        let shown: String = table[0].chars().take(40).collect();
        return Err(FormatError::Profile {
            what: "Profile.string_table[0]".to_string(),
            offset: raw.first_string_offset,
            problem: format!("is {shown:?}, expected the empty string"),
        });
    }
    if raw.sample_types.is_empty() {
        return Err(FormatError::Profile {
            what: "Profile.sample_type".to_string(),
            offset: raw.bytes,
            problem: "missing: without a sample_type (field 1) nothing says what the sample \
                      values measure"
                .to_string(),
        });
    }

    // ------------------------------------------------------------------ header fields
    let value_types = raw
        .sample_types
        .iter()
        .enumerate()
        .map(|(i, vt)| value_type(table, vt, &format!("Profile.sample_type[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let period = match &raw.period_type {
        Some(vt) => Some((value_type(table, vt, "Profile.period_type")?, raw.period)),
        None if raw.period != 0 => Some((ValueType::new("", ""), raw.period)),
        None => None,
    };
    let optional = |s: Option<(i64, u64)>, what: &str| -> Result<Option<String>, FormatError> {
        match s {
            Some((i, at)) if i != 0 => Ok(Some(
                string(table, i, || format!("Profile.{what}"), at)?.to_string(),
            )),
            _ => Ok(None),
        }
    };
    let default_sample_type = optional(raw.default_sample_type, "default_sample_type")?;
    let drop_frames = optional(raw.drop_frames, "drop_frames")?;
    let keep_frames = optional(raw.keep_frames, "keep_frames")?;
    let comments = raw
        .comments
        .iter()
        .enumerate()
        .map(|(i, &(s, at))| {
            string(table, s, || format!("Profile.comment[{i}]"), at).map(str::to_string)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // pprof's rule: the named default type, else the last one.
    let mut default_value = value_types.len() - 1;
    if let Some(name) = &default_sample_type {
        match value_types.iter().position(|t| &t.kind == name) {
            Some(i) => default_value = i,
            None => warnings.push(format!(
                "default_sample_type {name:?} is not one of the sample types; the last one, \
                 {:?}, is the default",
                value_types[default_value].kind
            )),
        }
    }

    // ------------------------------------------------------------------ mappings
    let mapping_index = IdIndex::new(raw.mappings.iter().map(|m| m.id))
        .map_err(|e| id_error(e, "mapping", |i| raw.mappings[i].offset))?;
    let mut mappings = Vec::with_capacity(raw.mappings.len());
    for (i, m) in raw.mappings.iter().enumerate() {
        mappings.push(Mapping {
            id: m.id,
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: string(
                table,
                m.filename,
                || format!("Profile.mapping[{i}].filename"),
                m.offset,
            )?
            .to_string(),
            build_id: string(
                table,
                m.build_id,
                || format!("Profile.mapping[{i}].build_id"),
                m.offset,
            )?
            .to_string(),
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        });
    }

    // ------------------------------------------------------------------ functions
    let function_index = IdIndex::new(raw.functions.iter().map(|f| f.id))
        .map_err(|e| id_error(e, "function", |i| raw.functions[i].offset))?;
    for (i, f) in raw.functions.iter().enumerate() {
        let what = |field: &str| format!("Profile.function[{i}].{field}");
        string(table, f.name, || what("name"), f.offset)?;
        string(table, f.system_name, || what("system_name"), f.offset)?;
        string(table, f.filename, || what("filename"), f.offset)?;
    }

    // ------------------------------------------------------------------ locations
    let location_index = IdIndex::new(raw.locations.iter().map(|l| l.id))
        .map_err(|e| id_error(e, "location", |i| raw.locations[i].offset))?;
    let mut missing_mappings = 0u64;
    let mut unsymbolized = 0u64;
    // Per line: the index of its function, checked once here.
    let mut line_functions = vec![0u32; raw.lines.len()];
    for (i, l) in raw.locations.iter().enumerate() {
        if l.mapping_id != 0 && mapping_index.get(l.mapping_id).is_none() {
            missing_mappings += 1;
        }
        if l.lines_start == l.lines_end {
            unsymbolized += 1;
        }
        for (k, line) in raw.lines[l.lines_start..l.lines_end].iter().enumerate() {
            let problem = if line.function_id == 0 {
                "function_id 0: a line must name a function".to_string()
            } else if let Some(f) = function_index.get(line.function_id) {
                line_functions[l.lines_start + k] = f as u32;
                continue;
            } else {
                format!(
                    "function_id {} is not the id of any function ({} functions)",
                    line.function_id,
                    raw.functions.len()
                )
            };
            return Err(FormatError::Profile {
                what: format!("Profile.location[{i}].line[{k}]"),
                offset: line.offset,
                problem,
            });
        }
    }
    if missing_mappings > 0 {
        warnings.push(format!(
            "{missing_mappings} location(s) name a mapping_id that no mapping has (read \
             without a mapping)"
        ));
    }

    // ------------------------------------------------------------------ producer
    let (producer, producer_evidence) = detect_producer(&raw, &value_types, &mappings);

    // ------------------------------------------------------------------ samples
    let mut builder = ProfileBuilder::new(producer, value_types);
    let n_types = raw.sample_types.len();
    // Each location's frames (its lines, inlined callee first), made on first use.
    let mut location_frames: Vec<FrameId> = Vec::new();
    let mut location_range: Vec<Option<(usize, usize)>> = vec![None; raw.locations.len()];
    let mut stack: Vec<FrameId> = Vec::new();
    let mut cut_stacks = 0u64;
    let mut values: Vec<i64> = Vec::with_capacity(n_types);
    let samples = &raw.samples;
    for i in 0..samples.len() {
        samples.values_into(i, &mut values);
        if values.len() != n_types {
            return Err(FormatError::Profile {
                what: format!("Profile.sample[{i}]"),
                offset: samples.offsets[i],
                problem: format!(
                    "value count {}, expected {n_types} (one per sample_type)",
                    values.len()
                ),
            });
        }
        stack.clear();
        let mut cut = false;
        for id in samples.locations(i) {
            let Some(li) = location_index.get(id) else {
                return Err(FormatError::Profile {
                    what: format!("Profile.sample[{i}].location_id"),
                    offset: samples.offsets[i],
                    problem: format!(
                        "{id} is not the id of any location ({} locations)",
                        raw.locations.len()
                    ),
                });
            };
            if cut {
                continue; // still check every id
            }
            let (start, end) = match location_range[li] {
                Some(r) => r,
                None => {
                    let start = location_frames.len();
                    let l = &raw.locations[li];
                    if l.lines_start == l.lines_end {
                        let file = mapping_index
                            .get(l.mapping_id)
                            .map_or("", |m| mappings[m].filename.as_str());
                        let frame = Frame::new(format!("{:#x}", l.address), file, 0);
                        location_frames.push(builder.frame(frame));
                    }
                    let lines = &raw.lines[l.lines_start..l.lines_end];
                    let functions = &line_functions[l.lines_start..l.lines_end];
                    for (line, &f) in lines.iter().zip(functions) {
                        let f = &raw.functions[f as usize];
                        // Indexes were checked above.
                        let name = &table[f.name as usize];
                        let name = if !name.is_empty() {
                            name.clone()
                        } else if !table[f.system_name as usize].is_empty() {
                            table[f.system_name as usize].clone()
                        } else {
                            format!("{:#x}", l.address)
                        };
                        let frame =
                            Frame::new(name, table[f.filename as usize].as_str(), line.line);
                        location_frames.push(builder.frame(frame));
                    }
                    location_range[li] = Some((start, location_frames.len()));
                    (start, location_frames.len())
                }
            };
            let room = options.max_stack_depth.saturating_sub(stack.len());
            let frames = &location_frames[start..end];
            if frames.len() > room {
                stack.extend_from_slice(&frames[..room]);
                cut = true;
            } else {
                stack.extend_from_slice(frames);
            }
        }
        if cut {
            cut_stacks += 1;
        }
        let id = builder.stack(&stack);
        builder.add(id, &values);
    }
    if cut_stacks > 0 {
        warnings.push(format!(
            "{cut_stacks} stack(s) deeper than {} frames were cut to their {} innermost frames",
            options.max_stack_depth, options.max_stack_depth
        ));
    }

    // ------------------------------------------------------------------ labels
    // Distinct labels in the order they first occur, so an invalid index is reported where
    // it first appears.
    let mut kinds: Vec<_> = samples.labels.iter().collect();
    kinds.sort_by_key(|(_, u)| (u.sample, u.index));
    let mut labels: BTreeMap<&str, LabelKey> = BTreeMap::new();
    for (l, u) in kinds {
        let what = |field: &str| format!("Profile.sample[{}].label[{}].{field}", u.sample, u.index);
        let at = samples.offsets[u.sample];
        let key = string(table, l.key, || what("key"), at)?;
        string(table, l.str, || what("str"), at)?;
        let unit = string(table, l.num_unit, || what("num_unit"), at)?;
        let entry = labels.entry(key).or_insert_with(|| LabelKey {
            key: key.to_string(),
            ..LabelKey::default()
        });
        if l.str != 0 {
            entry.string_values += u.count;
        } else {
            entry.numeric_values += u.count;
            if entry.unit.is_empty() {
                entry.unit = unit.to_string();
            }
        }
    }

    // ------------------------------------------------------------------ warnings, meta
    if let Some(drop) = &drop_frames {
        let shown: String = drop.chars().take(60).collect();
        let more = if shown.len() < drop.len() { "..." } else { "" };
        warnings.push(format!(
            "the profile asks readers to drop frames matching drop_frames ({shown:?}{more}, \
             pprof's allocator list when it converted a legacy heap profile); plateau keeps \
             every frame, so an allocator frame can be a sample's leaf where pprof shows its \
             caller"
        ));
    }
    if raw.invalid_utf8 > 0 {
        warnings.push(format!(
            "{} string(s) of the string table are not UTF-8 (invalid bytes replaced by U+FFFD)",
            raw.invalid_utf8
        ));
    }
    if !raw.unknown.is_empty() {
        let list: Vec<String> = raw
            .unknown
            .iter()
            .map(|((message, field), n)| format!("{message} field {field} x{n}"))
            .collect();
        warnings.push(format!(
            "skipped unknown protobuf fields (a newer profile.proto?): {}",
            list.join(", ")
        ));
    }
    let meta = PprofMeta {
        raw_samples: samples.len() as u64,
        locations: raw.locations.len() as u64,
        functions: raw.functions.len() as u64,
        strings: raw.strings.len() as u64,
        unsymbolized_locations: unsymbolized,
        mappings,
        duration_nanos: (raw.duration_nanos != 0).then_some(raw.duration_nanos),
        drop_frames,
        keep_frames,
        default_sample_type,
        labels: labels.into_values().collect(),
        producer_evidence,
        bytes_read: raw.bytes,
    };
    let mut profile = builder.finish();
    profile.default_value = default_value;
    profile.period = period;
    profile.time_nanos = (raw.time_nanos != 0).then_some(raw.time_nanos);
    profile.comments = comments;
    Ok(PprofProfile { profile, meta })
}
