//! Record sinks: the typed columns each flat integer array of a snapshot fills, with the
//! per-record checks that need no other array.

use std::collections::BTreeMap;

use plateau_graph::{EdgeKind, Location, NodeId, StrId, U64Column};

use super::header;
use super::input::{field, RecordError, RecordSink, MAX_FIELDS};
use crate::FormatError;

/// More nodes or edges than this do not fit plateau's 32-bit ids.
pub(crate) const MAX_RECORDS: u64 = u32::MAX as u64 - 1;

pub(crate) fn too_large_32(what: String, field: &str, value: u64) -> RecordError {
    let field = field.to_string();
    RecordError::new(move |offset| FormatError::Field {
        what,
        offset,
        field,
        value,
        problem: "does not fit in 32 bits".into(),
    })
}

#[derive(Default)]
pub(crate) struct NodeColumns {
    pub(crate) types: Vec<u8>,
    pub(crate) names: Vec<StrId>,
    pub(crate) ids: U64Column,
    pub(crate) sizes: U64Column,
    pub(crate) first_edge: Vec<u32>,
    pub(crate) edge_total: u64,
    /// `detachedness & 3`, when the snapshot has the field and some node's is not 0.
    pub(crate) detachedness: Option<Vec<u8>>,
}

pub(crate) struct NodeSink<'h> {
    pub(crate) layout: &'h header::NodeLayout,
    pub(crate) cols: NodeColumns,
}

impl RecordSink for NodeSink<'_> {
    #[inline(always)]
    fn record(&mut self, r: &[u64; MAX_FIELDS]) -> Result<(), RecordError> {
        let l = self.layout;
        let i = self.cols.names.len();
        let ty = field(r, l.ty);
        if ty >= l.types.len() as u64 {
            let count = l.types.len();
            return Err(RecordError::new(move |offset| FormatError::Field {
                what: format!("node {i}"),
                offset,
                field: "type".into(),
                value: ty,
                problem: format!("is out of range of the {count} node types in snapshot.meta"),
            }));
        }
        let name = field(r, l.name);
        if name > u32::MAX as u64 {
            return Err(too_large_32(format!("node {i}"), "name", name));
        }
        if i as u64 >= MAX_RECORDS {
            return Err(RecordError::new(|_| {
                FormatError::TooLarge(format!("more than {MAX_RECORDS} nodes"))
            }));
        }
        let c = &mut self.cols;
        c.types.push(ty as u8);
        c.names.push(StrId(name as u32));
        c.ids.push(field(r, l.id));
        c.sizes.push(field(r, l.self_size));
        c.first_edge.push(c.edge_total as u32);
        c.edge_total = c.edge_total.saturating_add(field(r, l.edge_count));
        if c.edge_total > MAX_RECORDS {
            let total = c.edge_total;
            return Err(RecordError::new(move |offset| {
                FormatError::TooLarge(format!(
                "node {i} at byte {offset} brings the edge count to {total}, more than {MAX_RECORDS}"
            ))
            }));
        }
        if let Some(o) = l.detachedness {
            // Almost every node has state 0: the column exists from the first other one on.
            let state = (field(r, o) & 3) as u8;
            if state != 0 && c.detachedness.is_none() {
                let mut col = Vec::with_capacity(c.names.capacity());
                col.resize(i, 0);
                c.detachedness = Some(col);
            }
            if let Some(col) = c.detachedness.as_mut() {
                col.push(state);
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct EdgeColumns {
    pub(crate) kinds: Vec<EdgeKind>,
    pub(crate) names: Vec<u32>,
    /// Target node ordinals (to_node / node field count), range-checked later.
    pub(crate) targets: Vec<NodeId>,
}

pub(crate) struct EdgeSink<'h> {
    pub(crate) layout: &'h header::EdgeLayout,
    pub(crate) kinds: Vec<EdgeKind>,
    pub(crate) node_fields: u64,
    pub(crate) cols: EdgeColumns,
}

#[inline]
pub(crate) fn div_fields(v: u64, fields: u64) -> u64 {
    // Constant divisors for the layouts that exist make this a multiply.
    match fields {
        7 => v / 7,
        6 => v / 6,
        5 => v / 5,
        _ => v / fields,
    }
}

impl RecordSink for EdgeSink<'_> {
    #[inline(always)]
    fn record(&mut self, r: &[u64; MAX_FIELDS]) -> Result<(), RecordError> {
        let l = self.layout;
        let j = self.cols.kinds.len();
        let ty = field(r, l.ty);
        if ty >= self.kinds.len() as u64 {
            let count = self.kinds.len();
            return Err(RecordError::new(move |offset| FormatError::Field {
                what: format!("edge {j}"),
                offset,
                field: "type".into(),
                value: ty,
                problem: format!("is out of range of the {count} edge types in snapshot.meta"),
            }));
        }
        let name = field(r, l.name);
        if name > u32::MAX as u64 {
            return Err(too_large_32(format!("edge {j}"), "name_or_index", name));
        }
        let to = field(r, l.to_node);
        let nf = self.node_fields;
        let ordinal = div_fields(to, nf);
        if ordinal * nf != to {
            return Err(RecordError::new(move |offset| FormatError::Field {
                what: format!("edge {j}"),
                offset,
                field: "to_node".into(),
                value: to,
                problem: format!("is not a multiple of the node field count {nf}"),
            }));
        }
        if ordinal >= MAX_RECORDS {
            return Err(too_large_32(format!("edge {j}"), "to_node", to));
        }
        if j as u64 >= MAX_RECORDS {
            return Err(RecordError::new(|_| {
                FormatError::TooLarge(format!("more than {MAX_RECORDS} edges"))
            }));
        }
        self.cols.kinds.push(self.kinds[ty as usize]);
        self.cols.names.push(name as u32);
        self.cols.targets.push(NodeId(ordinal as u32));
        Ok(())
    }
}

/// Raw locations: (node ordinal, location); invalid ones counted and dropped.
pub(crate) struct LocationSink<'h> {
    pub(crate) layout: &'h header::LocationLayout,
    pub(crate) node_fields: u64,
    pub(crate) kept: Vec<(u64, Location)>,
    pub(crate) not_multiple: u64,
}

impl RecordSink for LocationSink<'_> {
    fn record(&mut self, r: &[u64; MAX_FIELDS]) -> Result<(), RecordError> {
        let l = self.layout;
        let k = self.kept.len() as u64 + self.not_multiple;
        let object_index = field(r, l.object_index);
        if !object_index.is_multiple_of(self.node_fields) {
            self.not_multiple += 1;
            return Ok(());
        }
        let small = |name: &str, v: u64| {
            u32::try_from(v).map_err(|_| too_large_32(format!("location {k}"), name, v))
        };
        let location = Location {
            script_id: small("script_id", field(r, l.script_id))?,
            line: small("line", field(r, l.line))?,
            column: small("column", field(r, l.column))?,
        };
        self.kept.push((object_index / self.node_fields, location));
        Ok(())
    }
}

/// `(script_id, script_name string index)` pairs of `trace_function_infos`.
pub(crate) struct TraceFunctionSink<'h> {
    pub(crate) layout: &'h header::TraceFunctionLayout,
    pub(crate) scripts: BTreeMap<u32, u64>,
}

impl RecordSink for TraceFunctionSink<'_> {
    fn record(&mut self, r: &[u64; MAX_FIELDS]) -> Result<(), RecordError> {
        let id = field(r, self.layout.script_id);
        if id != 0 && id <= u32::MAX as u64 {
            self.scripts
                .entry(id as u32)
                .or_insert(field(r, self.layout.script_name));
        }
        Ok(())
    }
}

/// Counts records and keeps nothing.
pub(crate) struct Discard;

impl RecordSink for Discard {
    fn record(&mut self, _: &[u64; MAX_FIELDS]) -> Result<(), RecordError> {
        Ok(())
    }
}
