//! Reads a V8 heap snapshot and prints what it found, how fast, and the peak RSS:
//! `cargo run --release -p plateau-formats --example v8_read -- FILE [--dominators] [--no-hint]`.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use plateau_formats::v8::{read, ReadOptions};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: v8_read FILE [--dominators] [--no-hint]");
        std::process::exit(2);
    };
    let file = File::open(path).expect("open");
    let len = file.metadata().map(|m| m.len()).ok();
    let options = ReadOptions {
        size_hint: len.filter(|_| !path.ends_with(".gz") && !args.iter().any(|a| a == "--no-hint")),
        ..ReadOptions::default()
    };
    let start = Instant::now();
    let mut calls = 0u32;
    let parsed = read(BufReader::new(file), &options, &mut |_| calls += 1);
    let elapsed = start.elapsed().as_secs_f64();
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let s = &parsed.value;
    let mb = s.meta.bytes_read as f64 / 1e6;
    println!(
        "{path}: {} nodes, {} edges, {} strings, {} classes, total {} B, {} interfaces",
        s.meta.node_count,
        s.meta.edge_count,
        s.meta.string_count,
        s.graph.class_count(),
        s.graph.total_size(),
        s.meta.interfaces
    );
    println!(
        "read {mb:.1} MB in {elapsed:.3} s = {:.0} MB/s (including semantics); {calls} progress calls; graph heap {:.1} MiB; peak RSS {:.1} MiB",
        mb / elapsed,
        s.graph.heap_bytes() as f64 / (1 << 20) as f64,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    println!(
        "  of which strings {:.1} MiB, retaining bits {:.1} MiB",
        s.graph.strings().heap_bytes() as f64 / (1 << 20) as f64,
        s.graph.retaining_edges().heap_bytes() as f64 / (1 << 20) as f64
    );
    for w in &parsed.warnings {
        println!("warning: {w}");
    }
    if args.iter().any(|a| a == "--dominators") {
        let start = Instant::now();
        let dom = plateau_graph::Dominators::compute(&s.graph);
        let hist = plateau_graph::class_histogram(&s.graph, &dom);
        let unreached = s
            .graph
            .nodes()
            .filter(|&n| !dom.is_strongly_reachable(n))
            .count();
        println!(
            "{unreached} nodes not reachable from the root over retaining edges ({} of them weak-only, {} B)",
            dom.weak_only_count(),
            dom.weak_only_size()
        );
        println!(
            "dominators + histogram in {:.3} s ({} classes); root retained {}; peak RSS {:.1} MiB",
            start.elapsed().as_secs_f64(),
            hist.len(),
            dom.retained_size(s.graph.root()),
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
}
