use std::io::Write;
use std::path::Path;
use std::time::Instant;

use plateau_analysis::{summarize_counted, GraphCounts, HeapSummary, Redaction, SummaryOptions};
use plateau_graph::{DominatorOptions, Dominators};
use plateau_report::{analyze_json, analyze_text, AnalyzeReport};

use crate::cli::AnalyzeArgs;
use crate::load::{is_profile, load, load_heap, peak_rss, Loaded, LoadedHeap};
use crate::progress::Progress;
use crate::Outcome;

pub fn run(args: &AnalyzeArgs) -> anyhow::Result<Outcome> {
    let options = SummaryOptions {
        top: args.top,
        redaction: if args.redact {
            Redaction::Strings
        } else {
            Redaction::None
        },
    };
    if is_profile(&args.file)? {
        let mut progress = Progress::new(
            std::fs::metadata(&args.file).ok().map(|m| m.len()),
            !args.no_progress,
        );
        let loaded = load(&args.file, &mut progress)?;
        progress.finish();
        if let Loaded::Profile(p) = loaded {
            return super::profile::analyze(args, *p);
        }
    }
    args.sites.refuse_for_heaps()?;
    let (heap, summary) = analyze_file(&args.file, &options, !args.no_progress)?;
    let file = args.file.display().to_string();
    let report = AnalyzeReport {
        file: &file,
        format: heap.format,
        file_size: heap.file_size,
        retention_rule: heap.retention_rule,
        warnings: &heap.warnings,
        summary: &summary,
        top_classes: args.top.max(10),
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &analyze_json(&report))?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(analyze_text(&report).as_bytes())?;
    }
    Ok(Outcome::Fine)
}

/// Loads, computes dominators, and summarises; phase timings go to stderr when
/// `PLATEAU_TIMINGS` is set (the benchmark reads them).
pub fn analyze_file(
    path: &Path,
    options: &SummaryOptions,
    show_progress: bool,
) -> anyhow::Result<(LoadedHeap, HeapSummary)> {
    let started = Instant::now();
    let mut progress = Progress::new(std::fs::metadata(path).ok().map(|m| m.len()), show_progress);
    let heap = load_heap(path, &mut progress)?;
    let rss_after_parse = peak_rss().unwrap_or(0);
    progress.phase("dominators");
    let t = Instant::now();
    // The duplicate strings and the class counts need only the graph: counted on the
    // second core while the DFS runs on the first.
    let (dom, counts) = Dominators::compute_beside(
        &heap.graph,
        &DominatorOptions {
            subtree_counts: false,
        },
        || GraphCounts::count(&heap.graph, options),
    );
    let dominator_time = t.elapsed();
    let rss_after_dominators = peak_rss().unwrap_or(0);
    progress.phase("summary");
    let t = Instant::now();
    let summary = summarize_counted(&heap.graph, &dom, options, Some(counts));
    let summary_time = t.elapsed();
    progress.finish();
    if std::env::var_os("PLATEAU_TIMINGS").is_some() {
        eprintln!(
            "timings: parse {:.2}s, dominators {:.2}s, summary {:.2}s, total {:.2}s; \
             peak RSS {} MiB (after parse {}, after dominators {}); graph {} MiB, dominators {} MiB",
            heap.parse_time.as_secs_f64(),
            dominator_time.as_secs_f64(),
            summary_time.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            peak_rss().unwrap_or(0) >> 20,
            rss_after_parse >> 20,
            rss_after_dominators >> 20,
            heap.graph.heap_bytes() >> 20,
            dom.heap_bytes() >> 20,
        );
    }
    Ok((heap, summary))
}
