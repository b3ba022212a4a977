//! The `snapshot` header: `meta` (field and type names) and the declared counts.

use serde_json::Value;

use super::input::MAX_FIELDS;
use crate::FormatError;

/// Positions of the node fields plateau uses, located by name in `meta.node_fields`.
#[derive(Clone, Debug)]
pub(crate) struct NodeLayout {
    pub fields: Vec<String>,
    pub ty: usize,
    pub name: usize,
    pub id: usize,
    pub self_size: usize,
    pub edge_count: usize,
    pub detachedness: Option<usize>,
    /// `meta.node_types[ty]`.
    pub types: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct EdgeLayout {
    pub fields: Vec<String>,
    pub ty: usize,
    pub name: usize,
    pub to_node: usize,
    pub types: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct LocationLayout {
    pub fields: usize,
    pub object_index: usize,
    pub script_id: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct TraceFunctionLayout {
    pub fields: usize,
    pub script_name: usize,
    pub script_id: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct Header {
    pub nodes: NodeLayout,
    pub edges: EdgeLayout,
    /// `None` when `meta.location_fields` is absent or lacks a field (the array is skipped).
    pub locations: Option<LocationLayout>,
    pub trace_functions: Option<TraceFunctionLayout>,
    pub node_count: Option<u64>,
    pub edge_count: Option<u64>,
    pub trace_function_count: u64,
    pub root_index: Option<u64>,
    pub title: Option<String>,
    pub extra_native_bytes: Option<u64>,
}

fn meta_err(field: impl Into<String>, problem: impl Into<String>) -> FormatError {
    FormatError::Meta {
        field: field.into(),
        problem: problem.into(),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_list(v: Option<&Value>, field: &str) -> Result<Vec<String>, FormatError> {
    let v = v.ok_or_else(|| meta_err(field, "missing"))?;
    let arr = v.as_array().ok_or_else(|| {
        meta_err(
            field,
            format!("is {}, expected an array of strings", describe(v)),
        )
    })?;
    arr.iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str().map(str::to_string).ok_or_else(|| {
                meta_err(
                    format!("{field}[{i}]"),
                    format!("is {}, expected a string", describe(s)),
                )
            })
        })
        .collect()
}

/// Record widths above this are refused (V8 writes 7 node and 3 edge fields).
fn check_width(fields: &[String], list: &str) -> Result<(), FormatError> {
    if fields.len() > MAX_FIELDS {
        return Err(meta_err(
            list,
            format!(
                "{} fields; plateau reads at most {MAX_FIELDS}",
                fields.len()
            ),
        ));
    }
    Ok(())
}

fn position(fields: &[String], list: &str, name: &str) -> Result<usize, FormatError> {
    fields
        .iter()
        .position(|f| f == name)
        .ok_or_else(|| meta_err(list, format!("missing {name:?} (fields are {fields:?})")))
}

/// `meta.<types_key>[type_offset]`: the names of the values of the `type` field.
fn type_names(
    meta: &serde_json::Map<String, Value>,
    types_key: &str,
    type_offset: usize,
) -> Result<Vec<String>, FormatError> {
    let field = format!("snapshot.meta.{types_key}");
    let v = meta
        .get(types_key)
        .ok_or_else(|| meta_err(&field, "missing"))?;
    let arr = v
        .as_array()
        .ok_or_else(|| meta_err(&field, format!("is {}, expected an array", describe(v))))?;
    let types = string_list(arr.get(type_offset), &format!("{field}[{type_offset}]"))?;
    if types.len() > 256 {
        return Err(meta_err(
            format!("{field}[{type_offset}]"),
            format!("{} types; plateau supports at most 256", types.len()),
        ));
    }
    Ok(types)
}

fn opt_u64(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

/// Parses the raw bytes of the `snapshot` value.
pub(crate) fn parse(bytes: &[u8], warnings: &mut Vec<String>) -> Result<Header, FormatError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| meta_err("snapshot", format!("not valid JSON: {e}")))?;
    let snapshot = value.as_object().ok_or_else(|| {
        meta_err(
            "snapshot",
            format!("is {}, expected an object", describe(&value)),
        )
    })?;
    let meta_value = snapshot
        .get("meta")
        .ok_or_else(|| meta_err("snapshot.meta", "missing"))?;
    let meta = meta_value.as_object().ok_or_else(|| {
        meta_err(
            "snapshot.meta",
            format!("is {}, expected an object", describe(meta_value)),
        )
    })?;

    let node_fields = string_list(meta.get("node_fields"), "snapshot.meta.node_fields")?;
    let nf = "snapshot.meta.node_fields";
    check_width(&node_fields, nf)?;
    let node_ty = position(&node_fields, nf, "type")?;
    let nodes = NodeLayout {
        ty: node_ty,
        name: position(&node_fields, nf, "name")?,
        id: position(&node_fields, nf, "id")?,
        self_size: position(&node_fields, nf, "self_size")?,
        edge_count: position(&node_fields, nf, "edge_count")?,
        detachedness: node_fields.iter().position(|f| f == "detachedness"),
        types: type_names(meta, "node_types", node_ty)?,
        fields: node_fields,
    };

    let edge_fields = string_list(meta.get("edge_fields"), "snapshot.meta.edge_fields")?;
    let ef = "snapshot.meta.edge_fields";
    check_width(&edge_fields, ef)?;
    let edge_ty = position(&edge_fields, ef, "type")?;
    let edges = EdgeLayout {
        ty: edge_ty,
        name: position(&edge_fields, ef, "name_or_index")?,
        to_node: position(&edge_fields, ef, "to_node")?,
        types: type_names(meta, "edge_types", edge_ty)?,
        fields: edge_fields,
    };

    let locations = match meta.get("location_fields") {
        None => None,
        Some(v) => {
            let fields = string_list(Some(v), "snapshot.meta.location_fields")?;
            let find = |name: &str| fields.iter().position(|f| f == name);
            match (
                fields.len() <= MAX_FIELDS,
                find("object_index"),
                find("script_id"),
                find("line"),
                find("column"),
            ) {
                (true, Some(object_index), Some(script_id), Some(line), Some(column)) => {
                    Some(LocationLayout {
                        fields: fields.len(),
                        object_index,
                        script_id,
                        line,
                        column,
                    })
                }
                _ => {
                    warnings.push(format!(
                        "snapshot.meta.location_fields {fields:?} lacks one of object_index, \
                         script_id, line, column (or has more than {MAX_FIELDS} fields): \
                         locations ignored"
                    ));
                    None
                }
            }
        }
    };

    let trace_functions = match meta.get("trace_function_info_fields") {
        None => None,
        Some(v) => {
            let fields = string_list(Some(v), "snapshot.meta.trace_function_info_fields")
                .unwrap_or_default();
            let find = |name: &str| fields.iter().position(|f| f == name);
            match (find("script_name"), find("script_id")) {
                (Some(script_name), Some(script_id)) if fields.len() <= MAX_FIELDS => {
                    Some(TraceFunctionLayout {
                        fields: fields.len(),
                        script_name,
                        script_id,
                    })
                }
                _ => None,
            }
        }
    };

    let count = |key: &str, warnings: &mut Vec<String>| match snapshot.get(key) {
        None => None,
        Some(v) => {
            let n = v.as_u64();
            if n.is_none() {
                warnings.push(format!(
                    "snapshot.{key} is {}, expected an unsigned integer: ignored",
                    describe(v)
                ));
            }
            n
        }
    };
    let node_count = count("node_count", warnings);
    let edge_count = count("edge_count", warnings);
    let root_index = count("root_index", warnings);
    Ok(Header {
        nodes,
        edges,
        locations,
        trace_functions,
        node_count,
        edge_count,
        trace_function_count: opt_u64(snapshot.get("trace_function_count")).unwrap_or(0),
        root_index,
        title: snapshot
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string),
        extra_native_bytes: opt_u64(snapshot.get("extra_native_bytes")),
    })
}
