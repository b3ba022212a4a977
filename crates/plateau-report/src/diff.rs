use std::fmt::Write;

use plateau_analysis::{ClearedReason, DiffReport, Suspect};
use serde::Serialize;

use crate::format::{printable, LocationJson};
use crate::{format_bytes, format_count, SCHEMA_VERSION};

#[derive(Serialize)]
struct Json<'a> {
    schema_version: u32,
    tool: String,
    verdict: &'static str,
    snapshots: Vec<SnapshotJson<'a>>,
    same_process: bool,
    suspects: Vec<SuspectJson<'a>>,
    known: Vec<SuspectJson<'a>>,
    stable: Vec<StableJson<'a>>,
    growing_classes: Vec<ClassJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct SnapshotJson<'a> {
    file: &'a str,
    nodes: usize,
    total_size: u64,
}

#[derive(Serialize)]
pub(crate) struct SuspectJson<'a> {
    rank: usize,
    score: f64,
    pattern: &'static str,
    class: &'a str,
    id: u64,
    path: Option<String>,
    fingerprint: &'a str,
    counts: &'a [Option<u64>],
    count_unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retained_sizes: Option<&'a [Option<u64>]>,
    /// Allocation sites: bytes in use per profile, measured as `size_measure` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    sizes: Option<&'a [Option<u64>]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_measure: Option<&'a str>,
    growth_per_round_bytes: i64,
    growth_per_round_count: i64,
    new_objects: u64,
    /// The topmost new objects under it by class: count and retained bytes.
    added_classes: Vec<AddedJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    held_classes: Vec<HeldJson<'a>>,
    representative_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LocationJson>,
    /// The script the location is in, when the snapshot links it.
    #[serde(skip_serializing_if = "Option::is_none")]
    script: Option<&'a str>,
    fix: &'static str,
}

#[derive(Serialize)]
struct AddedJson<'a> {
    class: &'a str,
    count: u64,
    retained_size: u64,
}

#[derive(Serialize)]
struct HeldJson<'a> {
    class: &'a str,
    count: u64,
    shallow_size: u64,
}

#[derive(Serialize)]
struct StableJson<'a> {
    class: &'a str,
    path: Option<String>,
    retained_size: u64,
    reason: String,
}

#[derive(Serialize)]
struct ClassJson<'a> {
    name: &'a str,
    counts: &'a [u64],
    shallow_sizes: &'a [u64],
    retained_sizes: &'a [u64],
    growth_per_round_count: i64,
    growth_per_round_bytes: i64,
}

pub(crate) fn suspect_json(s: &Suspect) -> SuspectJson<'_> {
    let allocated = s.size_measure.is_some();
    SuspectJson {
        rank: s.rank,
        score: s.score,
        pattern: s.pattern.as_str(),
        class: &s.class,
        id: s.object_id,
        path: s
            .path
            .as_ref()
            .map(|p| p.render())
            .or_else(|| s.path_text.clone()),
        fingerprint: &s.fingerprint,
        counts: &s.counts,
        count_unit: s.count_unit,
        retained_sizes: (!allocated).then_some(&s.retained_sizes[..]),
        sizes: allocated.then_some(&s.retained_sizes[..]),
        size_measure: s.size_measure.as_deref(),
        growth_per_round_bytes: s.growth_per_round_bytes,
        growth_per_round_count: s.growth_per_round_count,
        new_objects: s.new_objects,
        added_classes: s
            .new_classes
            .iter()
            .map(|(class, count, retained_size)| AddedJson {
                class,
                count: *count,
                retained_size: *retained_size,
            })
            .collect(),
        held_classes: s
            .held_classes
            .iter()
            .map(|(class, count, shallow_size)| HeldJson {
                class,
                count: *count,
                shallow_size: *shallow_size,
            })
            .collect(),
        representative_path: s.representative.as_ref().map(|p| p.render()),
        location: LocationJson::from(s.location),
        script: s.script.as_deref(),
        fix: s.pattern.fix(),
    }
}

/// `leak` when a suspect passed the thresholds, `no-leak` otherwise.
pub fn diff_verdict(report: &DiffReport) -> &'static str {
    if report.suspects.is_empty() {
        "no-leak"
    } else {
        "leak"
    }
}

/// The JSON document of `plateau diff --json`.
pub fn diff_json(report: &DiffReport) -> serde_json::Value {
    let doc = Json {
        schema_version: SCHEMA_VERSION,
        tool: format!("plateau {}", env!("CARGO_PKG_VERSION")),
        verdict: diff_verdict(report),
        snapshots: report
            .snapshots
            .iter()
            .map(|s| SnapshotJson {
                file: &s.label,
                nodes: s.nodes,
                total_size: s.total_size,
            })
            .collect(),
        same_process: report.same_process,
        suspects: report.suspects.iter().map(suspect_json).collect(),
        known: report.known.iter().map(suspect_json).collect(),
        stable: report
            .stable
            .iter()
            .map(|c| StableJson {
                class: &c.class,
                path: c.path.as_ref().map(|p| p.render()),
                retained_size: c.retained_size,
                reason: reason_text(&c.reason),
            })
            .collect(),
        growing_classes: report
            .growing_classes
            .iter()
            .map(|g| ClassJson {
                name: &g.name,
                counts: &g.counts,
                shallow_sizes: &g.shallow_sizes,
                retained_sizes: &g.retained_sizes,
                growth_per_round_count: g.growth_per_round_count,
                growth_per_round_bytes: g.growth_per_round_bytes,
            })
            .collect(),
        warnings: &report.warnings,
    };
    serde_json::to_value(doc).expect("the diff document serializes")
}

/// Why a structure was cleared, in words.
pub fn reason_text(reason: &ClearedReason) -> String {
    match reason {
        ClearedReason::Constant { length, unit } => {
            format!(
                "constant: {} {unit} in every snapshot",
                format_count(*length)
            )
        }
        ClearedReason::Bounded { length, unit } => format!(
            "bounded: {} {unit} in every snapshot while its members were replaced (a full cache)",
            format_count(*length)
        ),
        ClearedReason::Stopped { until } => format!(
            "grew until snapshot {until}, then stopped (a warm-up, or a bounded cache that filled)"
        ),
    }
}

fn series(values: &[Option<u64>], fmt: impl Fn(u64) -> String) -> String {
    values
        .iter()
        .map(|v| v.map_or_else(|| "-".to_string(), &fmt))
        .collect::<Vec<_>>()
        .join(" -> ")
}

pub(crate) fn signed_bytes(b: i64) -> String {
    if b < 0 {
        format!("-{}", format_bytes(b.unsigned_abs()))
    } else {
        format!("+{}", format_bytes(b as u64))
    }
}

/// Each suspect: pattern and growth, series, path, what it holds or added, the fix.
pub(crate) fn write_suspects(out: &mut String, suspects: &[Suspect]) {
    for s in suspects {
        let _ = writeln!(
            out,
            "\n#{:<2} {:<38} {:>12}/round  {:>+8} {}/round",
            s.rank,
            s.pattern.title(),
            signed_bytes(s.growth_per_round_bytes),
            s.growth_per_round_count,
            s.count_unit,
        );
        let _ = writeln!(
            out,
            "    {}  {}: {}   {}: {}",
            printable(&s.class),
            s.count_unit,
            series(&s.counts, format_count),
            s.size_measure.as_deref().unwrap_or("retained"),
            series(&s.retained_sizes, format_bytes),
        );
        if let Some(path) = &s.path {
            let _ = writeln!(out, "    {}", printable(&path.render_short()));
        } else if let Some(path) = &s.path_text {
            let how = if s.size_measure.is_some() {
                "(the stack that grew most)"
            } else {
                "(matched by path)"
            };
            let _ = writeln!(out, "    {} {how}", printable(path));
        } else {
            let _ = writeln!(out, "    (matched by class: all instances together)");
        }
        if !s.new_classes.is_empty() {
            let added = s
                .new_classes
                .iter()
                .map(|(c, count, size)| {
                    format!(
                        "{} {} ({})",
                        format_count(*count),
                        printable(c),
                        format_bytes(*size)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "    added since the baseline: {added}; {} new objects in all",
                format_count(s.new_objects)
            );
        }
        if !s.held_classes.is_empty() {
            let held = s
                .held_classes
                .iter()
                .map(|(c, count, size)| {
                    format!(
                        "{} {} ({})",
                        format_count(*count),
                        printable(c),
                        format_bytes(*size)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(out, "    holds now: {held}");
        }
        if let Some(rep) = &s.representative {
            let _ = writeln!(out, "    e.g. {}", printable(&rep.render_short()));
        }
        if let Some(l) = s.location {
            let script = s
                .script
                .clone()
                .unwrap_or_else(|| format!("script #{}", l.script_id));
            let what = s.new_classes.first().map_or("it", |(c, ..)| c.as_str());
            let _ = writeln!(
                out,
                "    {} is defined at {}:{}:{}",
                printable(what),
                printable(&script),
                l.line + 1,
                l.column + 1
            );
        }
        let _ = writeln!(out, "    fix: {}", s.pattern.fix());
    }
}

/// The terminal report of `plateau diff`: verdict, suspects with path and fix, what was
/// cleared, fingerprints.
pub fn diff_text(report: &DiffReport) -> String {
    let mut out = String::new();
    let heaps = report
        .snapshots
        .iter()
        .map(|s| format_bytes(s.total_size))
        .collect::<Vec<_>>()
        .join(" -> ");
    let n = report.snapshots.len();
    if report.suspects.is_empty() {
        let _ = writeln!(
            out,
            "NO LEAK  nothing grew in every round across {n} snapshots (heap {heaps})"
        );
    } else {
        let _ = writeln!(
            out,
            "LEAK  {} suspect{} across {n} snapshots (heap {heaps})",
            report.suspects.len(),
            if report.suspects.len() == 1 { "" } else { "s" }
        );
    }
    write_suspects(&mut out, &report.suspects);
    write_known(&mut out, &report.known);
    if !report.stable.is_empty() {
        let _ = writeln!(out, "\nstable (checked, not growing)");
        for c in &report.stable {
            let what = c
                .path
                .as_ref()
                .map(|p| p.render_short())
                .unwrap_or_else(|| c.class.clone());
            let _ = writeln!(
                out,
                "    {}  {}: {}",
                printable(&what),
                format_bytes(c.retained_size),
                reason_text(&c.reason)
            );
        }
    }
    if !report.growing_classes.is_empty() {
        let _ = writeln!(
            out,
            "\nclasses that grew in every round (count, shallow size)"
        );
        for g in report.growing_classes.iter().take(5) {
            let _ = writeln!(
                out,
                "    {:<32} {:>+8} objects/round  {:>10}/round  ({})",
                printable(&g.name),
                g.growth_per_round_count,
                signed_bytes(g.growth_per_round_bytes),
                g.counts
                    .iter()
                    .map(|&c| format_count(c))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            );
        }
    }
    write_fingerprints_and_warnings(&mut out, &report.suspects, &report.warnings);
    out
}

/// Suspects accepted by `--baseline`: listed, not counted.
pub(crate) fn write_known(out: &mut String, known: &[Suspect]) {
    if known.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nknown (in the baseline file, not counted)");
    for s in known {
        let _ = writeln!(
            out,
            "    {} {}  {}/round  [{}]",
            s.pattern.title(),
            printable(&s.class),
            signed_bytes(s.growth_per_round_bytes),
            s.fingerprint
        );
    }
}

/// The suspects' fingerprints (to accept them with `--baseline`), then the warnings.
pub(crate) fn write_fingerprints_and_warnings(
    out: &mut String,
    suspects: &[Suspect],
    warnings: &[String],
) {
    if !suspects.is_empty() {
        let prints = suspects
            .iter()
            .map(|s| format!("{} (#{})", s.fingerprint, s.rank))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "\nfingerprints: {prints}   save this --json output and pass it as --baseline to accept them"
        );
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
}
