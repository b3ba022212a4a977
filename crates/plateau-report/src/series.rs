//! `plateau classify` and `plateau watch`: the verdict on a memory series, for people and
//! for programs.

use std::fmt::Write;

use plateau_analysis::series::{Classification, SegmentEnd, Verdict};
use plateau_analysis::{format_bytes, format_duration, format_rate};
use serde::Serialize;

use crate::SCHEMA_VERSION;

/// Where the series came from and what reading it skipped.
pub struct SeriesSource<'a> {
    pub label: &'a str,
    pub readings: usize,
    pub skipped: usize,
    pub warnings: &'a [String],
}

#[derive(Serialize)]
struct Json<'a> {
    schema_version: u32,
    tool: String,
    source: &'a str,
    verdict: &'static str,
    confidence: f64,
    signal: Option<&'static str>,
    slope_bytes_per_s: Option<f64>,
    slope_interval_bytes_per_s: Option<[f64; 2]>,
    p_value: Option<f64>,
    time_to_limit_s: Option<f64>,
    time_to_limit_interval_s: Option<[f64; 2]>,
    limit_bytes: Option<u64>,
    floor_bytes: Option<u64>,
    peak_bytes: Option<u64>,
    current_bytes: Option<u64>,
    imminent_oom: bool,
    restarts: usize,
    oom_kills: usize,
    window: Option<WindowJson>,
    segments: Vec<SegmentJson>,
    evidence: &'a [String],
    readings: usize,
    skipped_lines: usize,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct WindowJson {
    start: f64,
    end: f64,
    points: usize,
    buckets: usize,
}

#[derive(Serialize)]
struct SegmentJson {
    start: f64,
    end: f64,
    points: usize,
    first_bytes: u64,
    peak_bytes: u64,
    ended_by: &'static str,
}

/// Finite numbers only: JSON has no infinity.
fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|x| x.is_finite())
}

fn pair(x: Option<(f64, f64)>) -> Option<[f64; 2]> {
    x.filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| [a, b])
}

/// The JSON document of `plateau classify --json` (and of `watch`'s final verdict).
pub fn classify_json(c: &Classification, source: &SeriesSource) -> serde_json::Value {
    let doc = Json {
        schema_version: SCHEMA_VERSION,
        tool: format!("plateau {}", env!("CARGO_PKG_VERSION")),
        source: source.label,
        verdict: c.verdict.key(),
        confidence: c.confidence,
        signal: c.signal.map(|s| s.key()),
        slope_bytes_per_s: finite(c.slope_bytes_per_s),
        slope_interval_bytes_per_s: pair(c.slope_interval),
        p_value: finite(c.p_value),
        time_to_limit_s: finite(c.time_to_limit_s),
        time_to_limit_interval_s: pair(c.time_to_limit_interval_s),
        limit_bytes: c.limit_bytes,
        floor_bytes: c.floor_bytes,
        peak_bytes: c.peak_bytes,
        current_bytes: c.current_bytes,
        imminent_oom: c.imminent_oom,
        restarts: c.restarts,
        oom_kills: c.oom_kills,
        window: c.window.map(|(start, end)| WindowJson {
            start,
            end,
            points: c.points,
            buckets: c.buckets,
        }),
        segments: c
            .segments
            .iter()
            .map(|s| SegmentJson {
                start: s.start,
                end: s.end,
                points: s.points,
                first_bytes: s.first_bytes,
                peak_bytes: s.peak_bytes,
                ended_by: match s.ended_by {
                    SegmentEnd::Restart => "restart",
                    SegmentEnd::OomKill => "oom_kill",
                    SegmentEnd::LimitChange => "limit_change",
                    SegmentEnd::Drop => "drop",
                    SegmentEnd::Open => "open",
                },
            })
            .collect(),
        evidence: &c.evidence,
        readings: source.readings,
        skipped_lines: source.skipped,
        warnings: source.warnings,
    };
    serde_json::to_value(doc).expect("plain data serializes")
}

/// The headline: verdict word and the one number that matters for it.
pub fn classify_headline(c: &Classification) -> String {
    let word = match c.verdict {
        Verdict::Leak => "LEAK",
        Verdict::Plateau => "PLATEAU",
        Verdict::WarmUp => "WARM-UP",
        Verdict::AllocatorRetention => "ALLOCATOR RETENTION",
        Verdict::Stable => "STABLE",
        Verdict::InsufficientData => "INSUFFICIENT DATA",
    };
    let signal = c.signal.map_or("memory", |s| s.describe());
    let detail = match (c.verdict, c.slope_bytes_per_s) {
        (Verdict::Leak, Some(slope)) => {
            let mut d = format!("{signal} grows {}", format_rate(slope));
            if let Some(tto) = c.time_to_limit_s {
                let _ = write!(
                    d,
                    "; reaches the {} limit in {}",
                    format_bytes(c.limit_bytes.unwrap_or(0)),
                    format_duration(tto)
                );
            }
            d
        }
        (Verdict::Plateau, _) => format!(
            "{signal} holds at about {}",
            format_bytes(c.floor_bytes.unwrap_or(0))
        ),
        (Verdict::WarmUp, Some(_)) => format!("{signal} grew and is levelling off"),
        (Verdict::AllocatorRetention, _) => {
            "resident memory grows while the GC heap does not".to_string()
        }
        (Verdict::Stable, _) => format!(
            "{signal} is not growing (floor {})",
            format_bytes(c.floor_bytes.unwrap_or(0))
        ),
        // The reason follows the line naming the signal.
        _ => c
            .evidence
            .get(1)
            .or(c.evidence.first())
            .cloned()
            .unwrap_or_default(),
    };
    let confidence = if c.verdict == Verdict::InsufficientData {
        String::new()
    } else {
        // Floored: 0.999 is not "100%".
        format!("  (confidence {:.0}%)", (c.confidence * 100.0).floor())
    };
    format!("{word}  {detail}{confidence}")
}

/// The report of `plateau classify`: verdict first, then the evidence.
pub fn classify_text(c: &Classification, source: &SeriesSource) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", classify_headline(c));
    if c.imminent_oom {
        let _ = writeln!(out, "!! OOM imminent");
    }
    let headline = classify_headline(c);
    for line in c
        .evidence
        .iter()
        .filter(|line| !headline.contains(line.as_str()))
    {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(
        out,
        "source: {} ({} readings{})",
        source.label,
        source.readings,
        if source.skipped > 0 {
            format!(", {} lines skipped", source.skipped)
        } else {
            String::new()
        }
    );
    for warning in source.warnings {
        let _ = writeln!(out, "    note: {warning}");
    }
    out
}
