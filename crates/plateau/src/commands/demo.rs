//! `plateau demo`: the bundled real example, end to end from a fresh clone.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use plateau_analysis::{Redaction, SummaryOptions};
use plateau_report::{analyze_text, format_bytes, format_count, AnalyzeReport};

use super::analyze::analyze_file;
use crate::cli::DemoArgs;
use crate::Outcome;

/// Snapshots of `fixtures/v8/gen/leaky-service.js`, taken after warm-up and after each of
/// three load rounds.
const SNAPSHOTS: [&str; 4] = ["s0", "s1", "s2", "s3"];

fn fixture_dir() -> PathBuf {
    // The fixtures ship in the repository; `cargo run` from a clone finds them here.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v8/leaky-service")
}

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let dir = fixture_dir();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "plateau demo: a small Node.js service (fixtures/v8/gen/leaky-service.js) was loaded in\n\
         rounds on 127.0.0.1 and snapshotted after warm-up and after each round. What holds its memory?\n"
    )?;
    let options = SummaryOptions {
        top: args.top,
        redaction: Redaction::None,
    };
    let mut last = None;
    let mut growth = Vec::new();
    for name in SNAPSHOTS {
        let path = dir.join(format!("{name}.heapsnapshot.gz"));
        let (heap, summary) = analyze_file(&path, &options, true).with_context(|| {
            format!(
                "the demo's snapshots are missing or damaged ({})",
                dir.display()
            )
        })?;
        let biggest = summary.collections.first().map(|c| {
            (
                c.path.as_ref().map(|p| p.render()).unwrap_or_default(),
                c.collection.length,
                c.retained_size,
            )
        });
        growth.push((name, summary.total_size, summary.nodes, biggest));
        last = Some((path, heap, summary));
    }
    writeln!(out, "Heap after each round, and its largest collection:")?;
    for (name, total, nodes, biggest) in &growth {
        let (path, length, retained) = biggest.clone().unwrap_or_default();
        writeln!(
            out,
            "  {name}  {:>10} in {:>9} objects   largest collection: {} entries, {} retained",
            format_bytes(*total),
            format_count(*nodes as u64),
            format_count(length),
            format_bytes(retained),
        )?;
        if *name == "s3" {
            writeln!(out, "      {path}")?;
        }
    }
    let (path, heap, summary) = last.expect("at least one snapshot");
    let file = path
        .strip_prefix(dir.join("../../.."))
        .unwrap_or(&path)
        .display()
        .to_string();
    writeln!(
        out,
        "\nThe last snapshot in detail (plateau analyze {file}):\n"
    )?;
    let report = AnalyzeReport {
        file: &file,
        format: heap.format,
        file_size: heap.file_size,
        retention_rule: heap.retention_rule,
        warnings: &heap.warnings,
        summary: &summary,
        top_classes: 10,
    };
    out.write_all(analyze_text(&report).as_bytes())?;
    writeln!(
        out,
        "\nNext: `plateau analyze FILE` on your own snapshot (node: v8.writeHeapSnapshot(), or\n\
         --heapsnapshot-signal=SIGUSR2). Diffing snapshots over time to name the leak comes next."
    )?;
    Ok(Outcome::Fine)
}
