//! Reads tracemalloc snapshots (`Snapshot.dump()` files, gzipped or not) into allocation
//! profiles and prints what each holds, how fast it was read, and the peak RSS:
//! `cargo run --release -p plateau-formats --example tracemalloc_load -- FILE... [--compare-lineno]`.
//! All profiles are kept until the end, as a diff of two snapshots would keep them.
//!
//! `--compare-lineno` (two files, old then new) also does what Python's
//! `new.compare_to(old, 'lineno')` does — group by allocating line, diff, sort by
//! (|size_diff|, size, |count_diff|, count) — and prints the top 10, so that
//! `bench/tracemalloc/run.sh` times the same work on both sides. It is a benchmark stand-in,
//! not plateau's diff.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use plateau_formats::tracemalloc::{read, TracemallocOptions};
use plateau_profile::AllocProfile;

/// Σ (size, count) per allocating (leaf) frame, keyed by (file, line).
fn by_line(p: &AllocProfile) -> HashMap<(&str, i64), (i64, i64)> {
    let mut out: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
    for (i, s) in p.samples().iter().enumerate() {
        let Some(&leaf) = p.stack(s.stack).first() else {
            continue;
        };
        let f = p.frame(leaf);
        let v = p.values(i);
        let e = out.entry((f.file.as_str(), f.line)).or_default();
        e.0 += v[0];
        e.1 += v[1];
    }
    out
}

/// (file, line, size, size_diff, count, count_diff), Python's compare_to order (ties by
/// file and line, where Python compares whole tracebacks: the same for lineno keys).
type Diff<'a> = (&'a str, i64, i64, i64, i64, i64);

fn compare_lineno<'a>(old: &'a AllocProfile, new: &'a AllocProfile) -> Vec<Diff<'a>> {
    let mut old_groups = by_line(old);
    let mut out: Vec<Diff<'a>> = Vec::new();
    for ((file, line), (size, count)) in by_line(new) {
        let (os, oc) = old_groups.remove(&(file, line)).unwrap_or((0, 0));
        out.push((file, line, size, size - os, count, count - oc));
    }
    for ((file, line), (size, count)) in old_groups {
        out.push((file, line, 0, -size, 0, -count));
    }
    out.sort_by(|a, b| {
        let key = |d: &Diff<'a>| (d.3.abs(), d.2, d.5.abs(), d.4, d.0, d.1);
        key(b).cmp(&key(a))
    });
    out
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let compare = args.iter().any(|a| a == "--compare-lineno");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if paths.is_empty() || (compare && paths.len() != 2) {
        eprintln!("usage: tracemalloc_load FILE... | tracemalloc_load OLD NEW --compare-lineno");
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
    if compare {
        let start = Instant::now();
        let diff = compare_lineno(&kept[0].profile, &kept[1].profile);
        let secs = start.elapsed().as_secs_f64();
        for (file, line, size, size_diff, count, count_diff) in diff.iter().take(10) {
            println!(
                "{file}:{line}: size={size} B ({size_diff:+} B), count={count} ({count_diff:+})"
            );
        }
        println!("compare_to lineno: {} groups in {secs:.4} s", diff.len());
    }
    println!(
        "total {:.3} s for {} file(s), peak RSS {:.1} MiB",
        all.elapsed().as_secs_f64(),
        kept.len(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
