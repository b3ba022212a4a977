//! Allocation profiles (tracemalloc, pprof): `analyze` and `diff` reports, and the flame graph
//! of growth.

use std::fmt::Write;

use plateau_analysis::alloc::{
    AllocDiffReport, ProfileSummary, SiteDiff, SiteGrouping, SiteKey, SiteStat,
};
use plateau_profile::Frame;
use serde::Serialize;

use crate::diff::{
    signed_bytes, suspect_json, write_fingerprints_and_warnings, write_known, write_suspects,
    SuspectJson,
};
use crate::format::printable;
use crate::{format_bytes, format_count, SCHEMA_VERSION};

/// Said wherever allocation-profile sizes are shown.
pub const NO_RETAINED_SIZES: &str = "an allocation profile records where memory was allocated, \
not what holds it: sizes are bytes allocated and not yet freed, there are no retained sizes";

/// Everything `plateau analyze` reports about one allocation profile.
pub struct ProfileReport<'a> {
    pub file: &'a str,
    /// `tracemalloc`, `pprof`.
    pub format: &'a str,
    pub file_size: u64,
    pub grouping: SiteGrouping,
    pub warnings: &'a [String],
    pub summary: &'a ProfileSummary,
}

/// A site in JSON: tracemalloc's `file`/`line` for one frame (plus `function` where the
/// producer records it), `frames` oldest first (Python's `Traceback` order) for stacks.
#[derive(Serialize)]
struct SiteJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<Vec<FrameJson<'a>>>,
}

#[derive(Serialize)]
struct FrameJson<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    function: &'a str,
    file: &'a str,
    line: i64,
}

fn site_json(key: &SiteKey, grouping: SiteGrouping) -> SiteJson<'_> {
    if grouping == SiteGrouping::Traceback {
        return SiteJson {
            function: None,
            file: None,
            line: None,
            frames: Some(
                key.0
                    .iter()
                    .rev()
                    .map(|f| FrameJson {
                        function: &f.function,
                        file: &f.file,
                        line: f.line,
                    })
                    .collect(),
            ),
        };
    }
    let frame = key.0.first();
    let function = frame.map(|f| f.function.as_str()).filter(|f| !f.is_empty());
    match grouping {
        SiteGrouping::Function => SiteJson {
            function: frame.map(|f| f.function.as_str()),
            file: None,
            line: None,
            frames: None,
        },
        _ => SiteJson {
            function,
            file: frame.map(|f| f.file.as_str()),
            line: frame.map(|f| f.line),
            frames: None,
        },
    }
}

#[derive(Serialize)]
struct StatJson<'a> {
    #[serde(flatten)]
    site: SiteJson<'a>,
    size: i64,
    count: i64,
}

fn stat_json(s: &SiteStat, grouping: SiteGrouping) -> StatJson<'_> {
    StatJson {
        site: site_json(&s.key, grouping),
        size: s.size,
        count: s.count,
    }
}

#[derive(Serialize)]
struct DiffSiteJson<'a> {
    #[serde(flatten)]
    site: SiteJson<'a>,
    size: i64,
    size_diff: i64,
    count: i64,
    count_diff: i64,
}

fn diff_site_json(d: &SiteDiff, grouping: SiteGrouping) -> DiffSiteJson<'_> {
    DiffSiteJson {
        site: site_json(&d.key, grouping),
        size: d.size,
        size_diff: d.size_diff,
        count: d.count,
        count_diff: d.count_diff,
    }
}

#[derive(Serialize)]
struct TotalJson<'a> {
    kind: &'a str,
    unit: &'a str,
    total: i64,
}

#[derive(Serialize)]
struct ProfileJson<'a> {
    schema_version: u32,
    tool: String,
    file: &'a str,
    format: &'a str,
    producer: &'static str,
    file_size: u64,
    note: &'static str,
    measure: &'a str,
    grouping: &'static str,
    totals: Vec<TotalJson<'a>>,
    samples: usize,
    stacks: usize,
    sites: Vec<StatJson<'a>>,
    cumulative_sites: Vec<StatJson<'a>>,
    tracebacks: Vec<StatJson<'a>>,
    warnings: &'a [String],
}

/// The JSON document of `plateau analyze --json` on an allocation profile.
pub fn profile_json(report: &ProfileReport) -> serde_json::Value {
    let s = report.summary;
    let cumulative_grouping = if report.grouping == SiteGrouping::Traceback {
        SiteGrouping::Lineno
    } else {
        report.grouping
    };
    let doc = ProfileJson {
        schema_version: SCHEMA_VERSION,
        tool: format!("plateau {}", env!("CARGO_PKG_VERSION")),
        file: report.file,
        format: report.format,
        producer: s.producer.as_str(),
        file_size: report.file_size,
        note: NO_RETAINED_SIZES,
        measure: &s.measure,
        grouping: report.grouping.as_str(),
        totals: s
            .totals
            .iter()
            .map(|(kind, unit, total)| TotalJson {
                kind,
                unit,
                total: *total,
            })
            .collect(),
        samples: s.samples,
        stacks: s.stacks,
        sites: s
            .top_sites
            .iter()
            .map(|t| stat_json(t, report.grouping))
            .collect(),
        cumulative_sites: s
            .top_cumulative
            .iter()
            .map(|t| stat_json(t, cumulative_grouping))
            .collect(),
        tracebacks: s
            .top_tracebacks
            .iter()
            .map(|t| stat_json(t, SiteGrouping::Traceback))
            .collect(),
        warnings: report.warnings,
    };
    serde_json::to_value(doc).expect("the profile document serializes")
}

fn share(part: i64, total: i64) -> String {
    if total == 0 {
        "-".to_string()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / total as f64)
    }
}

fn bytes(b: i64) -> String {
    if b < 0 {
        signed_bytes(b)
    } else {
        format_bytes(b as u64)
    }
}

fn write_stats(out: &mut String, title: &str, stats: &[SiteStat], total: i64, stack: bool) {
    if stats.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}");
    for s in stats {
        let site = if stack {
            s.key.path_text()
        } else {
            s.key.label()
        };
        let _ = writeln!(
            out,
            "  {:>10} {:>6} {:>10}  {}",
            bytes(s.size),
            share(s.size, total),
            format_count(s.count.max(0) as u64),
            printable(&site)
        );
    }
}

/// The terminal report of `plateau analyze` on an allocation profile.
pub fn profile_text(report: &ProfileReport) -> String {
    let s = report.summary;
    let mut out = String::new();
    let measure_total = s
        .totals
        .iter()
        .find(|(kind, ..)| *kind == s.measure)
        .map_or(0, |t| t.2);
    let _ = writeln!(
        out,
        "{}  {} ({}), {} on disk",
        printable(report.file),
        report.format,
        s.producer.as_str(),
        format_bytes(report.file_size),
    );
    let totals = s
        .totals
        .iter()
        .map(|(kind, unit, total)| {
            if unit == "bytes" {
                format!("{kind} {}", bytes(*total))
            } else {
                format!("{kind} {}", format_count(total.max(&0).unsigned_abs()))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "totals: {totals}; {} records, {} distinct stacks",
        format_count(s.samples as u64),
        format_count(s.stacks as u64)
    );
    let _ = writeln!(out, "note: {NO_RETAINED_SIZES}");
    let by = report.grouping.as_str();
    let _ = writeln!(
        out,
        "\n{:>12} {:>6} {:>10}  site",
        s.measure, "share", "count"
    );
    write_stats(
        &mut out,
        &format!("top sites by {by} (the allocating frame)"),
        &s.top_sites,
        measure_total,
        report.grouping == SiteGrouping::Traceback,
    );
    write_stats(
        &mut out,
        "cumulative (every frame of the stack)",
        &s.top_cumulative,
        measure_total,
        false,
    );
    if report.grouping != SiteGrouping::Traceback {
        write_stats(
            &mut out,
            "top stacks (oldest frame first)",
            &s.top_tracebacks,
            measure_total,
            true,
        );
    }
    for w in report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

#[derive(Serialize)]
struct DiffJson<'a> {
    schema_version: u32,
    tool: String,
    verdict: &'static str,
    kind: &'static str,
    producer: &'static str,
    note: &'static str,
    measure: &'a str,
    by: &'static str,
    cumulative: bool,
    profiles: Vec<ProfileInfoJson<'a>>,
    sites: Vec<DiffSiteJson<'a>>,
    suspects: Vec<SuspectJson<'a>>,
    known: Vec<SuspectJson<'a>>,
    stable: Vec<StableJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct ProfileInfoJson<'a> {
    file: &'a str,
    total_size: i64,
    total_count: i64,
    sites: usize,
}

#[derive(Serialize)]
struct StableJson<'a> {
    #[serde(flatten)]
    site: SiteJson<'a>,
    sizes: &'a [i64],
    reason: &'static str,
}

/// `leak` when a site grew past the thresholds in every round, `no-leak` otherwise.
pub fn alloc_diff_verdict(report: &AllocDiffReport) -> &'static str {
    if report.suspects.is_empty() {
        "no-leak"
    } else {
        "leak"
    }
}

/// The JSON document of `plateau diff --json` on allocation profiles: `sites` in
/// `compare_to` order (last profile against the first), then suspects as for heap graphs.
pub fn alloc_diff_json(report: &AllocDiffReport) -> serde_json::Value {
    let doc = DiffJson {
        schema_version: SCHEMA_VERSION,
        tool: format!("plateau {}", env!("CARGO_PKG_VERSION")),
        verdict: alloc_diff_verdict(report),
        kind: "allocation-profile",
        producer: report.producer.as_str(),
        note: NO_RETAINED_SIZES,
        measure: &report.measure,
        by: report.grouping.as_str(),
        cumulative: report.cumulative,
        profiles: report
            .profiles
            .iter()
            .map(|p| ProfileInfoJson {
                file: &p.label,
                total_size: p.total_size,
                total_count: p.total_count,
                sites: p.sites,
            })
            .collect(),
        sites: report
            .sites
            .iter()
            .map(|d| diff_site_json(d, report.grouping))
            .collect(),
        suspects: report.suspects.iter().map(suspect_json).collect(),
        known: report.known.iter().map(suspect_json).collect(),
        stable: report
            .stable
            .iter()
            .map(|s| StableJson {
                site: site_json(&s.key, report.grouping),
                sizes: &s.sizes,
                reason: s.reason,
            })
            .collect(),
        warnings: &report.warnings,
    };
    serde_json::to_value(doc).expect("the diff document serializes")
}

/// The terminal report of `plateau diff` on allocation profiles.
pub fn alloc_diff_text(report: &AllocDiffReport, top: usize) -> String {
    let mut out = String::new();
    let n = report.profiles.len();
    let totals = report
        .profiles
        .iter()
        .map(|p| bytes(p.total_size))
        .collect::<Vec<_>>()
        .join(" -> ");
    let what = format!("{} {}", report.measure, totals);
    if report.suspects.is_empty() {
        let _ = writeln!(
            out,
            "NO LEAK  no allocation site grew in every round across {n} profiles ({what})"
        );
    } else {
        let _ = writeln!(
            out,
            "LEAK  {} growing allocation site{} across {n} profiles ({what})",
            report.suspects.len(),
            if report.suspects.len() == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, "note: {NO_RETAINED_SIZES}");
    write_suspects(&mut out, &report.suspects);
    let cumulative = if report.cumulative {
        ", cumulative"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "\nsites by {}{cumulative}, last profile against the first",
        report.grouping.as_str()
    );
    for d in report.sites.iter().take(top) {
        let site = if report.grouping == SiteGrouping::Traceback {
            d.key.path_text()
        } else {
            d.key.label()
        };
        let _ = writeln!(
            out,
            "  {}: size={} ({}), count={} ({:+})",
            printable(&site),
            bytes(d.size),
            signed_bytes(d.size_diff),
            format_count(d.count.max(0) as u64),
            d.count_diff
        );
    }
    if report.sites.len() > top {
        let _ = writeln!(
            out,
            "  ... {} more (--top, --json)",
            report.sites.len() - top
        );
    }
    if !report.stable.is_empty() {
        let _ = writeln!(
            out,
            "\nstable (large sites checked, not growing every round)"
        );
        for s in &report.stable {
            let _ = writeln!(
                out,
                "    {}  {}: {}",
                printable(&s.key.label()),
                s.sizes
                    .iter()
                    .map(|&b| bytes(b))
                    .collect::<Vec<_>>()
                    .join(" -> "),
                s.reason
            );
        }
    }
    write_known(&mut out, &report.known);
    write_fingerprints_and_warnings(&mut out, &report.suspects, &report.warnings);
    out
}

/// A self-contained SVG flame graph: `stacks` oldest frame first with a positive weight
/// (bytes of growth); the root at the bottom, widths proportional to weight. Every frame name
/// is XML-escaped; nothing is loaded from outside the file.
pub fn flame_graph_svg(title: &str, stacks: &[(Vec<Frame>, i64)]) -> String {
    #[derive(Default)]
    struct Node {
        weight: i64,
        children: Vec<(String, Node)>,
    }
    let mut root = Node::default();
    for (frames, weight) in stacks.iter().filter(|(_, w)| *w > 0) {
        let mut node = &mut root;
        node.weight += weight;
        for f in frames {
            let label = frame_text(f);
            let i = match node.children.iter().position(|(l, _)| *l == label) {
                Some(i) => i,
                None => {
                    node.children.push((label, Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
            node.weight += weight;
        }
    }
    fn depth(n: &Node) -> usize {
        n.children
            .iter()
            .map(|(_, c)| depth(c) + 1)
            .max()
            .unwrap_or(0)
    }
    const WIDTH: f64 = 1200.0;
    const ROW: f64 = 17.0;
    const TOP: f64 = 40.0;
    let rows = depth(&root) + 1;
    let height = TOP + rows as f64 * ROW + 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">
<style>text {{ font: 11px monospace; fill: #000; pointer-events: none }} rect {{ stroke: #fff; stroke-width: 0.5 }}</style>
<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#f8f8f8"/>
<text x="10" y="18" style="font-size:14px">{}</text>
<text x="10" y="32">{} of growth; width = bytes allocated and not freed since the first profile (no retained sizes)</text>
"##,
        xml_escape(title),
        xml_escape(&format_bytes(root.weight.max(0) as u64))
    );
    let scale = if root.weight > 0 {
        (WIDTH - 20.0) / root.weight as f64
    } else {
        0.0
    };
    // Iterative: (node, label, x, level).
    let mut todo: Vec<(&Node, &str, f64, usize)> = vec![(&root, "all", 10.0, 0)];
    while let Some((node, label, x, level)) = todo.pop() {
        let w = node.weight as f64 * scale;
        if w < 0.3 {
            continue;
        }
        let y = height - 10.0 - (level + 1) as f64 * ROW;
        let hue = 10 + (fnv(label) % 40) as u32;
        let tip = format!(
            "{} ({}, {})",
            label,
            format_bytes(node.weight as u64),
            share(node.weight, root.weight)
        );
        let _ = writeln!(
            svg,
            r#"<g><title>{}</title><rect x="{x:.2}" y="{y:.1}" width="{w:.2}" height="{:.1}" fill="hsl({hue},85%,60%)"/>"#,
            xml_escape(&tip),
            ROW - 1.0
        );
        let chars = ((w - 6.0) / 6.6).floor() as usize;
        if chars >= 3 {
            let mut shown: String = label.chars().take(chars).collect();
            if shown.chars().count() < label.chars().count() {
                shown.pop();
                shown.push('…');
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.2}" y="{:.1}">{}</text>"#,
                x + 3.0,
                y + ROW - 5.0,
                xml_escape(&shown)
            );
        }
        svg.push_str("</g>\n");
        let mut child_x = x;
        for (l, c) in &node.children {
            todo.push((c, l, child_x, level + 1));
            child_x += c.weight as f64 * scale;
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn frame_text(f: &Frame) -> String {
    let place = if f.line > 0 {
        format!("{}:{}", f.file, f.line)
    } else {
        f.file.clone()
    };
    if f.function.is_empty() {
        place
    } else if place.is_empty() {
        f.function.clone()
    } else {
        format!("{} {place}", f.function)
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Escapes text for XML content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {
                let _ = write!(out, "&#x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flame_graph_escapes_names_and_sizes_by_weight() {
        let stacks = vec![
            (
                vec![
                    Frame::new("", "main.py", 1),
                    Frame::new("<lambda>", "a&b.py", 2),
                ],
                3000,
            ),
            (vec![Frame::new("", "main.py", 1)], 1000),
            (vec![Frame::new("", "gone.py", 1)], -5),
        ];
        let svg = flame_graph_svg("growth <s0 → s2>", &stacks);
        assert!(svg.contains("&lt;lambda&gt; a&amp;b.py:2"), "{svg}");
        assert!(svg.contains("growth &lt;s0 → s2&gt;"));
        assert!(!svg.contains("gone.py"));
        assert!(!svg.contains("<lambda>"));
        // main.py spans the whole width, its child three quarters of it.
        assert!(svg.contains(r#"width="1180.00""#), "{svg}");
        assert!(svg.contains(r#"width="885.00""#), "{svg}");
    }
}
