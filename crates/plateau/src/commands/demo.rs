//! `plateau demo`: the bundled real example, end to end from a fresh clone.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use plateau_analysis::{largest_collections, summarize, Redaction, SummaryOptions};
use plateau_graph::Dominators;
use plateau_report::{analyze_text, format_bytes, format_count, AnalyzeReport};

use crate::cli::DemoArgs;
use crate::load::load_heap;
use crate::progress::Progress;
use crate::Outcome;

/// Snapshots of `fixtures/v8/gen/leaky-service.js`, taken after warm-up and after each of
/// three load rounds of 400 requests.
const SNAPSHOTS: [&str; 4] = ["s0", "s1", "s2", "s3"];

/// Collections followed across the snapshots.
const TRACKED: usize = 3;

fn workspace_root() -> PathBuf {
    // The fixtures ship in the repository; `cargo run` from a clone finds them here.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Length and retained size of each collection, by V8 object id (stable within a process).
type CollectionSizes = HashMap<u64, (u64, u64)>;

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let root = workspace_root();
    let dir = root.join("fixtures/v8/leaky-service");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "plateau demo: a small Node.js service (fixtures/v8/gen/leaky-service.js) was loaded on\n\
         127.0.0.1 in rounds of 400 requests and snapshotted after warm-up (s0) and after each\n\
         round (s1-s3). What holds its memory, and what grows?\n"
    )?;
    let options = SummaryOptions {
        top: args.top,
        redaction: Redaction::None,
    };
    let mut per_snapshot: Vec<(&str, u64, CollectionSizes)> = Vec::new();
    let mut last = None;
    for name in SNAPSHOTS {
        let path = dir.join(format!("{name}.heapsnapshot.gz"));
        let mut progress = Progress::new(None, true);
        let heap = load_heap(&path, &mut progress).with_context(|| {
            format!(
                "the demo's snapshots are missing or damaged ({})",
                dir.display()
            )
        })?;
        let dom = Dominators::compute(&heap.graph);
        let sizes = largest_collections(&heap.graph, &dom, 50)
            .into_iter()
            .map(|c| {
                (
                    heap.graph.object_id(c.node),
                    (c.length, dom.retained_size(c.node)),
                )
            })
            .collect();
        per_snapshot.push((name, heap.graph.total_size(), sizes));
        if name == SNAPSHOTS[SNAPSHOTS.len() - 1] {
            let summary = summarize(&heap.graph, &dom, &options);
            last = Some((path, heap, summary));
        }
    }
    let (path, heap, summary) = last.expect("the last snapshot was analysed");

    let totals: Vec<String> = per_snapshot
        .iter()
        .map(|(name, total, _)| format!("{name} {}", format_bytes(*total)))
        .collect();
    writeln!(out, "Heap: {}\n", totals.join(" -> "))?;
    writeln!(
        out,
        "The largest collections of s3, followed back by object id (entries, retained):"
    )?;
    for row in summary.collections.iter().take(TRACKED) {
        let history: Vec<String> = per_snapshot
            .iter()
            .map(|(_, _, sizes)| match sizes.get(&row.object_id) {
                Some((length, retained)) => {
                    format!("{} ({})", format_count(*length), format_bytes(*retained))
                }
                None => "-".to_string(),
            })
            .collect();
        let path = row
            .path
            .as_ref()
            .map(|p| p.render_short())
            .unwrap_or_default();
        writeln!(out, "  {path}\n      {}", history.join(" -> "))?;
    }

    let file = relative(&path, &root);
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
        "\nOne collection grows every round while the bigger COUNTRY_TABLE stays constant: size alone\n\
         does not name a leak, growth does. Try `plateau analyze FILE` on your own snapshot (Node:\n\
         v8.writeHeapSnapshot(), or --heapsnapshot-signal=SIGUSR2)."
    )?;
    Ok(Outcome::Fine)
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
