//! Reads tracemalloc snapshots (`Snapshot.dump()` files, gzipped or not) into allocation
//! profiles and prints what each holds, how fast it was read, and the peak RSS:
//! `cargo run --release -p plateau-formats --example tracemalloc_load -- FILE...`.
//! All profiles are kept until the end, as a diff of two snapshots would keep them.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use plateau_formats::tracemalloc::{read, TracemallocOptions};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: tracemalloc_load FILE...");
        std::process::exit(2);
    }
    let all = Instant::now();
    let mut kept = Vec::new();
    for path in &paths {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        };
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let start = Instant::now();
        let parsed = match read(
            BufReader::new(file),
            &TracemallocOptions::default(),
            &mut |_| {},
        ) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{path}: error: {e}");
                std::process::exit(1);
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let d = &parsed.value;
        let p = &d.profile;
        println!(
            "{path}: {} traces, {} B in {} tracebacks, {} frames, traceback_limit {}, \
             protocol {}, layout {}",
            d.meta.traces,
            p.total(0),
            p.samples().len(),
            p.frames().len(),
            d.meta.traceback_limit,
            d.meta.protocol,
            d.meta.layout.map_or("none", |l| l.as_str()),
        );
        println!(
            "  read in {secs:.3} s: {:.0} MB/s of pickle ({:.1} MB, file {:.1} MB), {:.2} M traces/s",
            d.meta.bytes_read as f64 / 1e6 / secs,
            d.meta.bytes_read as f64 / 1e6,
            file_len as f64 / 1e6,
            d.meta.traces as f64 / 1e6 / secs,
        );
        for w in &parsed.warnings {
            println!("  warning: {w}");
        }
        for c in &p.comments {
            println!("  note: {c}");
        }
        kept.push(parsed.value);
    }
    println!(
        "total {:.3} s for {} file(s), peak RSS {:.1} MiB",
        all.elapsed().as_secs_f64(),
        kept.len(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
