//! V8 `.heapsnapshot` files (Node.js, Chrome, Electron, Deno): a streaming reader and the
//! V8 semantics Chrome DevTools applies on load.
//!
//! The reader never holds the file: a byte-level tokenizer walks a large buffer refilled from
//! the [`std::io::Read`], the flat integer arrays (`nodes`, `edges`, `locations`...) go
//! straight into typed columns, `strings` straight into one [`StringTable`], and everything
//! else (`trace_tree`, unknown keys) is skipped without buffering. Field positions and type
//! names are looked up by name in `snapshot.meta`, so old layouts (no `detachedness`, no
//! `trace_node_id`) and reordered fields read the same.
//!
//! ```
//! use plateau_formats::v8::{read, ReadOptions};
//! let json = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],
//!   "node_types":[["synthetic","object"],"string","number","number","number"],
//!   "edge_fields":["type","name_or_index","to_node"],
//!   "edge_types":[["property","shortcut"],"string_or_number","node"]},"node_count":2,"edge_count":1},
//!   "nodes":[0,0,1,0,1, 1,1,3,40,0], "edges":[1,2,5], "strings":["<dummy>","","global"]}"#;
//! let parsed = read(json.as_bytes(), &ReadOptions::default(), &mut |_| {}).unwrap();
//! let graph = &parsed.value.graph;
//! assert_eq!(graph.node_count(), 2);
//! assert_eq!(graph.total_size(), 40);
//! ```

mod header;
mod input;
pub mod semantics;
mod sinks;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use plateau_graph::{
    EdgeKind, GraphParts, HeapGraph, Location, NameColumn, NodeId, NodeKind, StrId, StringTable,
};

use crate::error::describe_byte;
use crate::{FormatError, Parsed};
use header::Header;
use input::Ctx;
use input::Input;
use semantics::Arrays;
use sinks::{
    Discard, EdgeColumns, EdgeSink, LocationSink, NodeColumns, NodeSink, TraceFunctionSink,
    MAX_RECORDS,
};

/// How to read a snapshot. `ReadOptions::default()` reproduces Chrome DevTools.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Keep `locations` (where constructors and functions were defined). Default true.
    pub keep_locations: bool,
    /// Move the self size of owned internal arrays and hidden objects onto their owner, as
    /// DevTools' "Shallow Size" column does. Default true.
    pub transfer_shallow_sizes: bool,
    /// Name plain `Object`s after their properties (`{id, name, items}`), as DevTools does.
    /// Default true.
    pub infer_interfaces: bool,
    /// The uncompressed length of the input when known. Bounds what the reader reserves up
    /// front from the header's claimed counts (it grows normally beyond that).
    pub size_hint: Option<u64>,
    /// Bytes read from the source at a time (default 8 MiB; at least 64).
    pub buffer_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            keep_locations: true,
            transfer_shallow_sizes: true,
            infer_interfaces: true,
            size_hint: None,
            buffer_size: 8 << 20,
        }
    }
}

/// What the snapshot says about itself, and what reading it found.
#[derive(Clone, Debug, Default)]
pub struct SnapshotMeta {
    /// Node records read (not the header's claim).
    pub node_count: usize,
    /// Edge records read.
    pub edge_count: usize,
    /// Entries of the `strings` array.
    pub string_count: usize,
    /// Locations kept (after dropping invalid ones).
    pub location_count: usize,
    /// `snapshot.meta.node_fields`, as written.
    pub node_fields: Vec<String>,
    pub edge_fields: Vec<String>,
    /// `snapshot.meta.node_types[type]`.
    pub node_types: Vec<String>,
    pub edge_types: Vec<String>,
    /// `snapshot.title` (old Chrome snapshots).
    pub title: Option<String>,
    /// The snapshot was taken with allocation tracking (`trace_function_infos` and
    /// `trace_tree` are populated).
    pub has_allocation_traces: bool,
    pub trace_function_count: u64,
    /// Σ self_size as written, before the shallow-size transfer (the transfer moves sizes,
    /// so the graph's total equals this).
    pub raw_total_size: u64,
    /// `snapshot.extra_native_bytes` (newer Chrome); DevTools adds it to the total it shows.
    pub extra_native_bytes: u64,
    /// Whether DevTools' shallow-size transfer applied (it needs a user root).
    pub shallow_sizes_transferred: bool,
    /// Interface definitions inferred for plain objects.
    pub interfaces: usize,
    /// Native nodes renamed `Detached …` by detachedness propagation.
    pub detached_nodes: usize,
    /// Bytes of (decompressed) JSON read.
    pub bytes_read: u64,
}

/// A V8 heap snapshot as plateau keeps it.
#[derive(Clone, Debug)]
pub struct V8Snapshot {
    pub graph: HeapGraph,
    pub meta: SnapshotMeta,
    /// Script names by script id, when `trace_function_infos` name them (allocation
    /// tracking); empty otherwise.
    pub scripts: BTreeMap<u32, String>,
}

/// Without a size hint, never reserve more than this many records from a header's claim.
const DEFAULT_RESERVE_CAP: u64 = 1 << 20;

/// Reads a V8 heap snapshot (JSON; gzip is recognised and decompressed transparently).
/// `progress` is called with the number of bytes taken from `reader` so far, once per buffer
/// refill (every few MB) — compare it with the file length for a progress bar.
pub fn read<R: Read + Send>(
    reader: R,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed<V8Snapshot>, FormatError> {
    crate::with_source(reader, |source, consumed| {
        let mut input = Input::new(source, options.buffer_size, progress, consumed);
        let mut warnings = Vec::new();
        let raw = read_arrays(&mut input, options, &mut warnings)?;
        let bytes_read = input.offset();
        drop(input);
        let mut snapshot = build(raw, options, &mut warnings)?;
        snapshot.meta.bytes_read = bytes_read;
        Ok(Parsed {
            value: snapshot,
            warnings,
        })
    })
}

// ---------------------------------------------------------------------------------------
// Reading.

/// Everything the tokenizer collects, before cross-array validation.
struct RawSnapshot {
    header: Header,
    nodes: NodeColumns,
    edges: EdgeColumns,
    strings: StringTable,
    locations: Vec<(u64, Location)>,
    scripts: BTreeMap<u32, u64>,
    trace_function_infos: u64,
}

fn describe_json_start(b: u8) -> String {
    match b {
        b'{' => "an object".into(),
        b'[' => "an array".into(),
        b'"' => "a string".into(),
        b'-' | b'0'..=b'9' => "a number".into(),
        b't' | b'f' => "a boolean".into(),
        b'n' => "null".into(),
        _ => describe_byte(Some(b)),
    }
}

/// Consumes the `[` opening the value of `key`.
fn open_array(input: &mut Input<'_>, key: &str) -> Result<(), FormatError> {
    match input.peek_token()? {
        Some(b'[') => {
            input.bump();
            Ok(())
        }
        None => Err(input.unexpected(None, "an array", Ctx::Value { key })),
        Some(b) => Err(FormatError::WrongType {
            key: key.to_string(),
            offset: input.offset(),
            expected: "an array",
            found: describe_json_start(b),
        }),
    }
}

/// How many records to reserve for a header's claim.
fn reservation(claimed: Option<u64>, size_hint: Option<u64>, fields: usize) -> usize {
    let cap = match size_hint {
        // Every record takes at least one digit and one separator per field.
        Some(len) => len / (2 * fields as u64).max(1),
        None => DEFAULT_RESERVE_CAP,
    };
    claimed.unwrap_or(0).min(cap).min(MAX_RECORDS) as usize
}

fn read_arrays(
    input: &mut Input<'_>,
    options: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<RawSnapshot, FormatError> {
    // A UTF-8 byte order mark is tolerated.
    if input.peek_prefix(3)? == b"\xEF\xBB\xBF" {
        input.skip_bytes(3);
    }
    match input.peek_token()? {
        None => return Err(FormatError::Empty),
        Some(b'{') => input.bump(),
        Some(b) => {
            return Err(FormatError::NotJsonObject {
                offset: input.offset(),
                found: match b {
                    b'[' | b'"' | b'-' | b'0'..=b'9' => {
                        format!("{} ({})", describe_byte(Some(b)), describe_json_start(b))
                    }
                    _ => describe_byte(Some(b)),
                },
            })
        }
    }

    let mut header: Option<Header> = None;
    let mut nodes: Option<NodeColumns> = None;
    let mut edges: Option<EdgeColumns> = None;
    let mut strings: Option<StringTable> = None;
    let mut locations: Vec<(u64, Location)> = Vec::new();
    let mut scripts = BTreeMap::new();
    let mut trace_function_infos = 0u64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut key = String::new();

    if input.peek_token()? == Some(b'}') {
        input.bump();
    } else {
        loop {
            let first = input.peek_token()?;
            let key_offset = input.offset();
            match first {
                Some(b'"') => input.bump(),
                other => return Err(input.unexpected(other, "a key (a string)", Ctx::TopLevel)),
            }
            key.clear();
            input.read_string(&mut key, Ctx::TopLevel)?;
            input.expect(b':', "':'", Ctx::TopLevel)?;
            if !seen.insert(key.clone()) {
                return Err(FormatError::DuplicateKey {
                    key: key.clone(),
                    offset: key_offset,
                });
            }
            let need_header = |header: &Option<Header>| -> Result<(), FormatError> {
                match header {
                    Some(_) => Ok(()),
                    None => Err(FormatError::HeaderNotFirst {
                        key: key.clone(),
                        offset: key_offset,
                    }),
                }
            };
            match key.as_str() {
                "snapshot" => {
                    let bytes = input.capture_value(Ctx::Value { key: "snapshot" })?;
                    header = Some(header::parse(&bytes, warnings)?);
                }
                "nodes" => {
                    need_header(&header)?;
                    let h = header.as_ref().expect("checked above");
                    open_array(input, "nodes")?;
                    let nf = h.nodes.fields.len();
                    let reserve = reservation(h.node_count, options.size_hint, nf);
                    let mut sink = NodeSink {
                        layout: &h.nodes,
                        cols: NodeColumns {
                            types: Vec::with_capacity(reserve),
                            names: Vec::with_capacity(reserve),
                            ids: plateau_graph::U64Column::with_capacity(reserve),
                            sizes: plateau_graph::U64Column::with_capacity(reserve),
                            first_edge: Vec::with_capacity(reserve + 1),
                            ..NodeColumns::default()
                        },
                    };
                    let ctx = Ctx::Array {
                        key: "nodes",
                        fields: nf,
                        record: "node",
                    };
                    let values = input.read_uint_array(ctx, nf, &mut sink)?;
                    if values % nf as u64 != 0 {
                        return Err(FormatError::PartialRecord {
                            key: "nodes",
                            offset: input.offset() - 1,
                            values,
                            fields: nf,
                            record: "node",
                        });
                    }
                    let mut cols = sink.cols;
                    cols.first_edge.push(cols.edge_total as u32);
                    nodes = Some(cols);
                }
                "edges" => {
                    need_header(&header)?;
                    let h = header.as_ref().expect("checked above");
                    open_array(input, "edges")?;
                    let ef = h.edges.fields.len();
                    let reserve = reservation(h.edge_count, options.size_hint, ef);
                    let kinds: Vec<EdgeKind> = h
                        .edges
                        .types
                        .iter()
                        .map(|t| EdgeKind::from_v8_name(t))
                        .collect();
                    let mut sink = EdgeSink {
                        layout: &h.edges,
                        kinds,
                        node_fields: h.nodes.fields.len() as u64,
                        cols: EdgeColumns {
                            kinds: Vec::with_capacity(reserve),
                            names: Vec::with_capacity(reserve),
                            targets: Vec::with_capacity(reserve),
                        },
                    };
                    let ctx = Ctx::Array {
                        key: "edges",
                        fields: ef,
                        record: "edge",
                    };
                    let values = input.read_uint_array(ctx, ef, &mut sink)?;
                    if values % ef as u64 != 0 {
                        return Err(FormatError::PartialRecord {
                            key: "edges",
                            offset: input.offset() - 1,
                            values,
                            fields: ef,
                            record: "edge",
                        });
                    }
                    edges = Some(sink.cols);
                }
                "locations" => {
                    need_header(&header)?;
                    let h = header.as_ref().expect("checked above");
                    match (&h.locations, options.keep_locations) {
                        (Some(layout), true) => {
                            open_array(input, "locations")?;
                            let mut sink = LocationSink {
                                layout,
                                node_fields: h.nodes.fields.len() as u64,
                                kept: Vec::new(),
                                not_multiple: 0,
                            };
                            let ctx = Ctx::Array {
                                key: "locations",
                                fields: layout.fields,
                                record: "location",
                            };
                            let values = input.read_uint_array(ctx, layout.fields, &mut sink)?;
                            if values % layout.fields as u64 != 0 {
                                warnings.push(format!(
                                    "\"locations\" holds {values} numbers, not a multiple of \
                                     {} fields: the last partial record is ignored",
                                    layout.fields
                                ));
                            }
                            if sink.not_multiple > 0 {
                                warnings.push(format!(
                                    "{} locations name an object_index that is not a multiple \
                                     of the node field count: ignored",
                                    sink.not_multiple
                                ));
                            }
                            locations = sink.kept;
                        }
                        _ => input.skip_value(Ctx::Value { key: "locations" })?,
                    }
                }
                "trace_function_infos" => {
                    match header.as_ref().and_then(|h| h.trace_functions.as_ref()) {
                        Some(layout) => {
                            open_array(input, "trace_function_infos")?;
                            let mut sink = TraceFunctionSink {
                                layout,
                                scripts: BTreeMap::new(),
                            };
                            let ctx = Ctx::Array {
                                key: "trace_function_infos",
                                fields: layout.fields,
                                record: "function",
                            };
                            trace_function_infos =
                                input.read_uint_array(ctx, layout.fields, &mut sink)?
                                    / layout.fields.max(1) as u64;
                            scripts = sink.scripts;
                        }
                        None => input.skip_value(Ctx::Value {
                            key: "trace_function_infos",
                        })?,
                    }
                }
                "samples" => {
                    if input.peek_token()? == Some(b'[') {
                        input.bump();
                        let ctx = Ctx::Array {
                            key: "samples",
                            fields: 1,
                            record: "sample",
                        };
                        input.read_uint_array(ctx, 1, &mut Discard)?;
                    } else {
                        input.skip_value(Ctx::Value { key: "samples" })?;
                    }
                }
                "strings" => {
                    open_array(input, "strings")?;
                    strings = Some(read_strings(input)?);
                }
                _ => {
                    let key = key.clone();
                    input.skip_value(Ctx::Value { key: &key })?;
                }
            }
            match input.peek_token()? {
                Some(b',') => input.bump(),
                Some(b'}') => {
                    input.bump();
                    break;
                }
                other => return Err(input.unexpected(other, "',' or '}'", Ctx::TopLevel)),
            }
        }
    }
    if input.peek_token()?.is_some() {
        warnings.push(format!(
            "ignored data after the end of the snapshot object at byte {}",
            input.offset()
        ));
    }

    let header = header.ok_or(FormatError::MissingKey {
        key: "snapshot",
        what: "header",
    })?;
    let nodes = nodes.ok_or(FormatError::MissingKey {
        key: "nodes",
        what: "array",
    })?;
    let edges = edges.ok_or(FormatError::MissingKey {
        key: "edges",
        what: "array",
    })?;
    let strings = strings.ok_or(FormatError::MissingKey {
        key: "strings",
        what: "array",
    })?;
    Ok(RawSnapshot {
        header,
        nodes,
        edges,
        strings,
        locations,
        scripts,
        trace_function_infos,
    })
}

fn read_strings(input: &mut Input<'_>) -> Result<StringTable, FormatError> {
    let mut table = StringTable::new();
    if input.peek_token()? == Some(b']') {
        input.bump();
        return Ok(table);
    }
    loop {
        let ctx = Ctx::Strings { index: table.len() };
        match input.peek_token()? {
            Some(b'"') => input.bump(),
            other => return Err(input.unexpected(other, "a string", ctx)),
        }
        let mut result = Ok(());
        table.push_with(|s| result = input.read_string(s, ctx));
        result?;
        match input.peek_token()? {
            Some(b',') => input.bump(),
            Some(b']') => {
                input.bump();
                return Ok(table);
            }
            other => return Err(input.unexpected(other, "',' or ']'", ctx)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation across arrays, DevTools semantics, and the graph.

fn build(
    raw: RawSnapshot,
    options: &ReadOptions,
    warnings: &mut Vec<String>,
) -> Result<V8Snapshot, FormatError> {
    let RawSnapshot {
        header,
        nodes,
        edges,
        strings,
        locations,
        scripts,
        trace_function_infos,
    } = raw;
    let n = nodes.names.len();
    let e = edges.kinds.len();
    let nf = header.nodes.fields.len() as u64;
    if n == 0 {
        return Err(FormatError::Inconsistent(
            "\"nodes\" is empty: a snapshot has at least its root node".into(),
        ));
    }
    if nodes.edge_total != e as u64 {
        return Err(FormatError::Inconsistent(format!(
            "the nodes' edge_count fields add up to {} edges, but \"edges\" holds {e} edge records",
            nodes.edge_total
        )));
    }
    if let Some(j) = edges.targets.iter().position(|t| t.index() >= n) {
        return Err(FormatError::Reference {
            what: format!("edge {j}"),
            field: "to_node",
            value: edges.targets[j].0 as u64 * nf,
            problem: format!(
                "points past the last node (there are {n} nodes, so to_node must be below {})",
                n as u64 * nf
            ),
        });
    }
    let string_count = strings.len();
    if let Some(i) = nodes
        .names
        .iter()
        .position(|s| s.0 as usize >= string_count)
    {
        return Err(FormatError::Reference {
            what: format!("node {i}"),
            field: "name",
            value: nodes.names[i].0 as u64,
            problem: format!("is out of range of the {string_count} strings"),
        });
    }
    if let Some(j) =
        (0..e).find(|&j| !edges.kinds[j].name_is_index() && edges.names[j] as usize >= string_count)
    {
        return Err(FormatError::Reference {
            what: format!("edge {j} ({})", edges.kinds[j].as_str()),
            field: "name_or_index",
            value: edges.names[j] as u64,
            problem: format!("is out of range of the {string_count} strings"),
        });
    }
    let root = match header.root_index {
        // DevTools ignores a root_index of 0 or none.
        None | Some(0) => NodeId(0),
        Some(index) => {
            if index % nf != 0 || index / nf >= n as u64 {
                return Err(FormatError::Meta {
                    field: "snapshot.root_index".into(),
                    problem: format!(
                        "{index} is not the array offset of one of the {n} nodes ({nf} fields each)"
                    ),
                });
            }
            NodeId((index / nf) as u32)
        }
    };
    if let Some(claimed) = header.node_count {
        if claimed != n as u64 {
            warnings.push(format!(
                "snapshot.node_count says {claimed} nodes but \"nodes\" holds {n}: using {n}"
            ));
        }
    }
    if let Some(claimed) = header.edge_count {
        if claimed != e as u64 {
            warnings.push(format!(
                "snapshot.edge_count says {claimed} edges but \"edges\" holds {e}: using {e}"
            ));
        }
    }
    for (what, types, known) in [
        (
            "node",
            &header.nodes.types,
            &(|t: &str| NodeKind::from_v8_name(t) != NodeKind::Other) as &dyn Fn(&str) -> bool,
        ),
        (
            "edge",
            &header.edges.types,
            &(|t: &str| EdgeKind::from_v8_name(t) != EdgeKind::Other) as &dyn Fn(&str) -> bool,
        ),
    ] {
        let unknown: Vec<&str> = types
            .iter()
            .map(String::as_str)
            .filter(|t| !known(t))
            .collect();
        if !unknown.is_empty() {
            warnings.push(format!(
                "unknown {what} types {unknown:?} are read as \"other\""
            ));
        }
    }

    // Locations: in range, sorted by node, the last one for a node wins (as in DevTools'
    // location map).
    let mut locations: Vec<(NodeId, Location)> = {
        let before = locations.len();
        let mut kept: Vec<(NodeId, Location)> = locations
            .into_iter()
            .filter(|(node, _)| *node < n as u64)
            .map(|(node, loc)| (NodeId(node as u32), loc))
            .collect();
        if kept.len() < before {
            warnings.push(format!(
                "{} locations name a node past the last one: ignored",
                before - kept.len()
            ));
        }
        // Usually already in node order; a stable sort keeps equal nodes in file order.
        if kept.windows(2).any(|w| w[0].0 > w[1].0) {
            kept.sort_by_key(|(node, _)| *node);
        }
        // In place: keep the last location of each node.
        let mut len = 0;
        for i in 0..kept.len() {
            if len > 0 && kept[len - 1].0 == kept[i].0 {
                kept[len - 1] = kept[i];
            } else {
                kept[len] = kept[i];
                len += 1;
            }
        }
        kept.truncate(len);
        kept
    };
    locations.shrink_to_fit();

    let scripts: BTreeMap<u32, String> = scripts
        .into_iter()
        .filter_map(|(id, name)| {
            let name = strings.try_get(StrId(u32::try_from(name).ok()?))?;
            (!name.is_empty()).then(|| (id, name.to_string()))
        })
        .collect();

    let type_kinds: Vec<NodeKind> = header
        .nodes
        .types
        .iter()
        .map(|t| NodeKind::from_v8_name(t))
        .collect();
    // Every sum the graph engine makes (retained sizes, class totals) is at most this one.
    let raw_total_size = nodes
        .sizes
        .iter()
        .try_fold(0u64, |t, s| t.checked_add(s))
        .ok_or_else(|| {
            FormatError::Inconsistent("the self sizes add up to more than 2^64 bytes".into())
        })?;
    let mut a = Arrays {
        strings,
        node_types: nodes.types,
        type_names: header.nodes.types.clone(),
        type_kinds,
        node_names: nodes.names,
        node_ids: nodes.ids,
        self_sizes: nodes.sizes,
        first_edge: nodes.first_edge,
        edge_kinds: edges.kinds,
        edge_names: edges.names,
        edge_targets: edges.targets,
        root,
        locations,
    };

    // DevTools' initialisation order.
    let mut detached_nodes = 0;
    if let Some(mut state) = nodes.detachedness {
        detached_nodes = semantics::propagate_detachedness(&mut a, &mut state);
    }
    let page_owned = semantics::page_owned(&a);
    let retaining = semantics::essential_edges(&a, &page_owned);
    drop(page_owned);
    let shallow_sizes_transferred =
        options.transfer_shallow_sizes && semantics::transfer_shallow_sizes(&mut a);
    let classes = semantics::classify(&mut a, options.infer_interfaces);
    let user_roots = semantics::user_roots(&a);

    let meta = SnapshotMeta {
        node_count: n,
        edge_count: e,
        string_count,
        location_count: a.locations.len(),
        node_fields: header.nodes.fields,
        edge_fields: header.edges.fields,
        node_types: header.nodes.types,
        edge_types: header.edges.types,
        title: header.title,
        has_allocation_traces: header.trace_function_count > 0 || trace_function_infos > 0,
        trace_function_count: header.trace_function_count,
        raw_total_size,
        extra_native_bytes: header.extra_native_bytes.unwrap_or(0),
        shallow_sizes_transferred,
        interfaces: classes.interfaces,
        detached_nodes,
        bytes_read: 0,
    };

    let Arrays {
        strings,
        node_types,
        type_kinds,
        node_names,
        node_ids,
        self_sizes,
        first_edge,
        edge_kinds,
        edge_names,
        edge_targets,
        root,
        locations,
        ..
    } = a;
    // u8 -> NodeKind (also one byte) reuses the allocation.
    let node_kinds: Vec<NodeKind> = node_types
        .into_iter()
        .map(|t| type_kinds[t as usize])
        .collect();
    let mut parts = GraphParts {
        strings,
        node_kinds,
        node_names: NameColumn::from(node_names.into_iter().map(|s| s.0).collect::<Vec<u32>>()),
        node_ids,
        node_id_shift: 0,
        self_sizes,
        node_classes: NameColumn::from(
            classes
                .node_classes
                .into_iter()
                .map(|c| c.0)
                .collect::<Vec<u32>>(),
        ),
        classes: classes.classes,
        first_edge,
        edge_kinds,
        edge_names: edge_names.into(),
        edge_targets,
        retaining: Some(retaining),
        root,
        user_roots,
        locations,
        collections: Vec::new(),
        class_links: None,
    };
    shrink(&mut parts);
    let graph = HeapGraph::from_parts(parts)?;
    Ok(V8Snapshot {
        graph,
        meta,
        scripts,
    })
}

/// Releases the spare capacity of reservations made from the header's claims.
fn shrink(p: &mut GraphParts) {
    p.node_kinds.shrink_to_fit();
    p.node_names.shrink_to_fit();
    p.node_ids.shrink_to_fit();
    p.self_sizes.shrink_to_fit();
    p.first_edge.shrink_to_fit();
    p.edge_kinds.shrink_to_fit();
    p.edge_names.shrink_to_fit();
    p.edge_targets.shrink_to_fit();
}
