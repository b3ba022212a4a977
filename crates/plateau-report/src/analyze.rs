use std::fmt::Write;

use plateau_analysis::HeapSummary;
use serde::Serialize;

use crate::format::{ellipsize, printable, LocationJson};
use crate::{format_bytes, format_count, SCHEMA_VERSION};

/// Everything `plateau analyze` reports about one file.
pub struct AnalyzeReport<'a> {
    pub file: &'a str,
    /// `v8-heapsnapshot`, ...
    pub format: &'a str,
    pub file_size: u64,
    /// The runtime's rule for which references retain, in words.
    pub retention_rule: &'a str,
    pub warnings: &'a [String],
    pub summary: &'a HeapSummary,
    /// Rows of the class table in text output (JSON lists every class).
    pub top_classes: usize,
}

#[derive(Serialize)]
struct Json<'a> {
    schema_version: u32,
    tool: String,
    file: &'a str,
    format: &'a str,
    file_size: u64,
    retention_rule: &'a str,
    summary: SummaryJson,
    classes: Vec<ClassJson<'a>>,
    top_retainers: Vec<ObjectJson<'a>>,
    collections: Vec<CollectionJson<'a>>,
    duplicate_strings: Vec<DuplicateJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct SummaryJson {
    nodes: usize,
    edges: usize,
    total_size: u64,
    weak_only_size: u64,
    weak_only_count: usize,
    duplicate_strings_wasted: u64,
}

#[derive(Serialize)]
struct ClassJson<'a> {
    name: &'a str,
    count: u64,
    shallow_size: u64,
    retained_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LocationJson>,
}

#[derive(Serialize)]
struct ObjectJson<'a> {
    id: u64,
    name: &'a str,
    class: &'a str,
    kind: &'static str,
    shallow_size: u64,
    retained_size: u64,
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LocationJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script: Option<&'a str>,
    /// Present when the object retains 10% of the heap or more (a problem suspect).
    #[serde(skip_serializing_if = "Option::is_none")]
    accumulation_point: Option<AccumulationJson<'a>>,
}

#[derive(Serialize)]
struct AccumulationJson<'a> {
    id: u64,
    class: &'a str,
    retained_size: u64,
    dominated_children: u64,
    depth: u32,
}

#[derive(Serialize)]
struct CollectionJson<'a> {
    id: u64,
    class: &'a str,
    kind: &'static str,
    length: u64,
    length_exact: bool,
    /// Slots of the backing array and the share in use (Java collections).
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fill_ratio: Option<f64>,
    shallow_size: u64,
    retained_size: u64,
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
}

#[derive(Serialize)]
struct DuplicateJson<'a> {
    value: &'a str,
    copies: u64,
    size_each: u64,
    total_size: u64,
    wasted: u64,
}

/// The JSON document of `plateau analyze --json`.
pub fn analyze_json(report: &AnalyzeReport) -> serde_json::Value {
    let s = report.summary;
    let doc = Json {
        schema_version: SCHEMA_VERSION,
        tool: format!("plateau {}", env!("CARGO_PKG_VERSION")),
        file: report.file,
        format: report.format,
        file_size: report.file_size,
        retention_rule: report.retention_rule,
        summary: SummaryJson {
            nodes: s.nodes,
            edges: s.edges,
            total_size: s.total_size,
            weak_only_size: s.weak_only_size,
            weak_only_count: s.weak_only_count,
            duplicate_strings_wasted: s.duplicate_strings_wasted,
        },
        classes: s
            .classes
            .iter()
            .map(|c| ClassJson {
                name: &c.name,
                count: c.count,
                shallow_size: c.shallow_size,
                retained_size: c.retained_size,
                location: LocationJson::from(c.location),
            })
            .collect(),
        top_retainers: s
            .top_retainers
            .iter()
            .map(|o| ObjectJson {
                id: o.object_id,
                name: &o.name,
                class: &o.class,
                kind: o.kind.as_str(),
                shallow_size: o.shallow_size,
                retained_size: o.retained_size,
                path: o.path.as_ref().map(|p| p.render()),
                location: LocationJson::from(o.location),
                script: o.script.as_deref(),
                accumulation_point: o.accumulation.as_ref().map(|a| AccumulationJson {
                    id: a.object_id,
                    class: &a.class,
                    retained_size: a.retained_size,
                    dominated_children: a.dominated_children,
                    depth: a.depth,
                }),
            })
            .collect(),
        collections: s
            .collections
            .iter()
            .map(|c| CollectionJson {
                id: c.object_id,
                class: &c.class,
                kind: c.collection.kind.as_str(),
                length: c.collection.length,
                length_exact: c.collection.length_exact,
                capacity: c.collection.capacity,
                fill_ratio: c
                    .collection
                    .fill_ratio()
                    .map(|r| (r * 1000.0).round() / 1000.0),
                shallow_size: c.shallow_size,
                retained_size: c.retained_size,
                path: c.path.as_ref().map(|p| p.render()),
                event: c.collection.event.as_deref(),
            })
            .collect(),
        duplicate_strings: s
            .duplicate_strings
            .iter()
            .map(|d| DuplicateJson {
                value: &d.value,
                copies: d.duplicate.copies,
                size_each: d.duplicate.size_each,
                total_size: d.duplicate.total_size,
                wasted: d.duplicate.wasted,
            })
            .collect(),
        warnings: report.warnings,
    };
    serde_json::to_value(doc).expect("the analyze document serializes")
}

/// The terminal report of `plateau analyze`: the answer first, then the evidence.
pub fn analyze_text(report: &AnalyzeReport) -> String {
    let s = report.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "HEAP  {} in {} objects, {} references  ({}, {})",
        format_bytes(s.total_size),
        format_count(s.nodes as u64),
        format_count(s.edges as u64),
        report.file,
        report.format
    );
    if let Some(top) = s.top_retainers.first() {
        let share = percent(top.retained_size, s.total_size);
        let _ = writeln!(
            out,
            "most held by {} {} ({share} of the heap)",
            describe_object(&top.class, &top.name, top.kind.as_str()),
            format_bytes(top.retained_size),
        );
    }
    if s.weak_only_size > 0 {
        let _ = writeln!(
            out,
            "{} in {} objects reachable only through weak references (not retained)",
            format_bytes(s.weak_only_size),
            format_count(s.weak_only_count as u64)
        );
    }

    if !s.top_retainers.is_empty() {
        let _ = writeln!(
            out,
            "\nTop retainers (retained size: what freeing the object frees)"
        );
        for (i, o) in s.top_retainers.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:>3}. {:>10}  {:>6}  {}",
                i + 1,
                format_bytes(o.retained_size),
                percent(o.retained_size, s.total_size),
                describe_object(&o.class, &o.name, o.kind.as_str()),
            );
            if let Some(path) = &o.path {
                let _ = writeln!(out, "      {}", printable(&path.render_short()));
            }
            if let Some(a) = &o.accumulation {
                let place = if a.depth == 0 {
                    "in itself".to_string()
                } else {
                    format!(
                        "in one {} ({})",
                        printable(&a.class),
                        format_bytes(a.retained_size)
                    )
                };
                let _ = writeln!(
                    out,
                    "      suspect: holds {} of the heap; accumulates {place}, over {} objects it alone keeps",
                    percent(o.retained_size, s.total_size),
                    format_count(a.dominated_children)
                );
            }
        }
    }

    if !s.collections.is_empty() {
        let _ = writeln!(out, "\nLargest collections");
        for c in &s.collections {
            let length = format!(
                "{}{} {}",
                if c.collection.length_exact { "" } else { "~" },
                format_count(c.collection.length),
                match c.collection.kind {
                    plateau_analysis::CollectionKind::Map => "entries",
                    plateau_analysis::CollectionKind::Set => "members",
                    plateau_analysis::CollectionKind::ObjectDictionary => "properties",
                    plateau_analysis::CollectionKind::Listeners => "listeners",
                    plateau_analysis::CollectionKind::Array
                    | plateau_analysis::CollectionKind::List
                    | plateau_analysis::CollectionKind::Queue => "elements",
                }
            );
            let what = match &c.collection.event {
                Some(event) => format!("'{}' listeners", printable(event)),
                None => c.class.clone(),
            };
            let fill = match (c.collection.capacity, c.collection.fill_ratio()) {
                (Some(capacity), Some(ratio)) => format!(
                    ", {:.0}% of {} slots used",
                    ratio * 100.0,
                    format_count(capacity)
                ),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {:>10}  {:<32} {length}{fill}",
                format_bytes(c.retained_size),
                ellipsize(&what, 32),
            );
            if let Some(path) = &c.path {
                let _ = writeln!(out, "      {}", printable(&path.render_short()));
            }
        }
    }

    let _ = writeln!(
        out,
        "\nClasses by retained size (objects nested in one of their own class counted once)"
    );
    let _ = writeln!(
        out,
        "  {:>10}  {:>10}  {:>10}  class",
        "retained", "shallow", "count"
    );
    for c in s.classes.iter().take(report.top_classes) {
        let _ = writeln!(
            out,
            "  {:>10}  {:>10}  {:>10}  {}",
            format_bytes(c.retained_size),
            format_bytes(c.shallow_size),
            format_count(c.count),
            ellipsize(&printable(&c.name), 70)
        );
    }
    if s.classes.len() > report.top_classes {
        let _ = writeln!(
            out,
            "  ... {} more classes (--top N for more, --json for all)",
            format_count((s.classes.len() - report.top_classes) as u64)
        );
    }

    if !s.duplicate_strings.is_empty() {
        let _ = writeln!(
            out,
            "\nDuplicate strings ({} wasted in all)",
            format_bytes(s.duplicate_strings_wasted)
        );
        for d in &s.duplicate_strings {
            let _ = writeln!(
                out,
                "  {:>10} wasted  {:>7} copies  \"{}\"",
                format_bytes(d.duplicate.wasted),
                format_count(d.duplicate.copies),
                ellipsize(&printable(&d.value), 60)
            );
        }
    }
    let _ = writeln!(out, "\nretention rule: {}", report.retention_rule);
    for w in report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn describe_object(class: &str, name: &str, kind: &str) -> String {
    match kind {
        "closure" if !name.is_empty() => format!("{name}() (closure)"),
        // A Java class object stands for the class's statics.
        _ if class == "java.lang.Class" && !name.is_empty() && name != class => {
            format!("class {}", printable(name))
        }
        "string" | "concatenated string" | "sliced string" => {
            format!("string \"{}\"", ellipsize(&printable(name), 40))
        }
        _ => printable(class),
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}
