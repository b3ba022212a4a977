//! Reads a pprof profile and prints its totals and the functions with the most flat value,
//! like `go tool pprof -top` (flat = the function is the allocating frame; cum = it is
//! anywhere on the stack, counted once per stack), then how long reading took and the peak
//! RSS on stderr:
//! `cargo run --release -p plateau-formats --example pprof_top -- FILE [--sample_index=NAME]
//! [--nodecount=N]`.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use plateau_formats::pprof::{read, PprofOptions};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A value the way pprof prints it: bytes scaled to the largest unit that keeps it >= 1,
/// two decimals with ".00" dropped; other units as plain numbers.
fn label(v: i64, unit: &str) -> String {
    if v == 0 {
        return "0".to_string();
    }
    let mut x = v as f64;
    let mut suffix = "";
    if unit == "bytes" {
        suffix = "B";
        for s in ["kB", "MB", "GB", "TB", "PB"] {
            if x.abs() >= 1024.0 {
                x /= 1024.0;
                suffix = s;
            }
        }
    }
    let s = format!("{x:.2}");
    format!("{}{suffix}", s.strip_suffix(".00").unwrap_or(&s))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: pprof_top FILE [--sample_index=NAME] [--nodecount=N]");
        std::process::exit(2);
    };
    let option = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string))
    };
    let nodecount: usize = option("nodecount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let file = File::open(path).unwrap_or_else(|e| {
        eprintln!("error: {path}: {e}");
        std::process::exit(1);
    });
    let start = Instant::now();
    let parsed = match read(BufReader::new(file), &PprofOptions::default(), &mut |_| {}) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            std::process::exit(1);
        }
    };
    let read_secs = start.elapsed().as_secs_f64();
    let p = &parsed.value.profile;
    let meta = &parsed.value.meta;
    for w in &parsed.warnings {
        eprintln!("warning: {w}");
    }
    let index = match option("sample_index") {
        Some(name) => p.value_index(&name).unwrap_or_else(|| {
            eprintln!("error: no sample type {name:?}");
            std::process::exit(2);
        }),
        None => p.default_value,
    };
    let vt = &p.value_types[index];
    println!(
        "{path}: {} ({}), {} samples in the file, {} stacks, {} frames, {} locations, {} functions",
        p.producer.as_str(),
        meta.producer_evidence,
        meta.raw_samples,
        p.stack_count(),
        p.frames().len(),
        meta.locations,
        meta.functions
    );
    for (i, t) in p.value_types.iter().enumerate() {
        println!(
            "total {}/{}: {} ({})",
            t.kind,
            t.unit,
            p.total(i),
            label(p.total(i), &t.unit)
        );
    }

    // Flat and cum per function name.
    let start = Instant::now();
    let mut by_function: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for (s, sample) in p.samples().iter().enumerate() {
        let v = p.values(s)[index];
        if v == 0 {
            continue;
        }
        let stack = p.stack(sample.stack);
        if let Some(&leaf) = stack.first() {
            by_function.entry(&p.frame(leaf).function).or_default().0 += v;
        }
        seen.clear();
        for &f in stack {
            let name = p.frame(f).function.as_str();
            if !seen.contains(&name) {
                seen.push(name);
                by_function.entry(name).or_default().1 += v;
            }
        }
    }
    let total: i64 = (0..p.samples().len())
        .map(|s| p.values(s)[index].abs())
        .sum();
    let mut rows: Vec<(&str, i64, i64)> = by_function
        .into_iter()
        .map(|(name, (flat, cum))| (name, flat, cum))
        .collect();
    rows.sort_by(|a, b| {
        b.1.abs()
            .cmp(&a.1.abs())
            .then(b.2.abs().cmp(&a.2.abs()))
            .then(a.0.cmp(b.0))
    });
    let top_secs = start.elapsed().as_secs_f64();
    println!("Type: {}", vt.kind);
    println!("{} total, {} functions", label(total, &vt.unit), rows.len());
    println!("      flat  flat%   sum%        cum   cum%");
    let pct = |v: i64| {
        if total == 0 {
            0.0
        } else {
            v as f64 * 100.0 / total as f64
        }
    };
    let mut sum = 0;
    for (name, flat, cum) in rows.iter().take(nodecount) {
        sum += flat;
        println!(
            "{:>10} {:>5.2}% {:>5.2}% {:>10} {:>5.2}%  {name}",
            label(*flat, &vt.unit),
            pct(*flat),
            pct(sum),
            label(*cum, &vt.unit),
            pct(*cum)
        );
    }
    eprintln!(
        "read {:.3} s, top {:.3} s, {:.1} MB of protobuf, peak RSS {:.1} MiB",
        read_secs,
        top_secs,
        meta.bytes_read as f64 / 1e6,
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
