//! Opening an input file: detect its format, decompress, parse, and time each phase. Heap
//! dumps become a graph; allocation profiles (tracemalloc, pprof) a profile.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use plateau_formats::sniff::{sniff, Format};
use plateau_graph::HeapGraph;
use plateau_profile::AllocProfile;

use crate::progress::{CountingReader, Progress};

/// A parsed heap graph and what the user should know about how it was read.
pub struct LoadedHeap {
    pub graph: HeapGraph,
    pub format: &'static str,
    pub retention_rule: &'static str,
    pub warnings: Vec<String>,
    pub file_size: u64,
    pub parse_time: Duration,
}

/// A parsed allocation profile.
pub struct LoadedProfile {
    pub profile: AllocProfile,
    /// `tracemalloc`, `pprof`.
    pub format: &'static str,
    pub warnings: Vec<String>,
    pub file_size: u64,
}

/// What a file held.
pub enum Loaded {
    Heap(Box<LoadedHeap>),
    Profile(Box<LoadedProfile>),
}

/// Whether a file is an allocation profile (from its first bytes, gunzipped when needed).
pub fn is_profile(path: &Path) -> anyhow::Result<bool> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut format =
        peek_format(&mut reader).with_context(|| format!("cannot read {}", path.display()))?;
    if format == Some(Format::Gzip) {
        let gunzipped = plateau_formats::maybe_gunzip(reader)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut buffered = BufReader::new(gunzipped);
        format = peek_format(&mut buffered)
            .with_context(|| format!("cannot decompress {}", path.display()))?;
    }
    Ok(matches!(format, Some(Format::Pickle) | Some(Format::Pprof)))
}

/// Reads a heap graph from `path`; an allocation profile is an error saying what it is.
pub fn load_heap(path: &Path, progress: &mut Progress) -> anyhow::Result<LoadedHeap> {
    match load(path, progress)? {
        Loaded::Heap(heap) => Ok(*heap),
        Loaded::Profile(p) => bail!(
            "{}: a {} allocation profile, not a heap snapshot: it has no object graph to walk",
            path.display(),
            p.format
        ),
    }
}

pub const V8_RETENTION_RULE: &str = "V8 (Chrome DevTools rules): weak references never retain; \
shortcut edges retain only from the root; a WeakMap value is retained by its key, not the table; \
objects held only weakly hang off the root and are reported as weakly reachable";

/// Reads a heap graph or an allocation profile from `path`, naming the file in every error.
pub fn load(path: &Path, progress: &mut Progress) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (counting, count) = CountingReader::new(file);
    let mut reader = BufReader::with_capacity(1 << 20, counting);
    let display = path.display();
    let format = peek_format(&mut reader).with_context(|| format!("cannot read {display}"))?;
    let (reader, inner): (Box<dyn Read + Send>, _) = match format {
        Some(Format::Gzip) => {
            // What is inside the gzip stream decides the parser.
            let gunzipped = plateau_formats::maybe_gunzip(reader)
                .with_context(|| format!("cannot read {display}"))?;
            let mut buffered = BufReader::with_capacity(1 << 20, gunzipped);
            let inner = peek_format(&mut buffered)
                .with_context(|| format!("cannot decompress {display}"))?;
            (Box::new(buffered), inner)
        }
        other => (Box::new(reader), other),
    };
    let expected = "expected a V8 .heapsnapshot, a Java HPROF dump, a Python tracemalloc \
                    dump or a pprof profile";
    match inner {
        Some(Format::V8HeapSnapshot | Format::Hprof | Format::Pickle | Format::Pprof) => {}
        None => bail!("{display}: the file is empty; {expected}"),
        Some(Format::OtherJson) => bail!(
            "{display}: JSON, but not a V8 heap snapshot; expected an object starting with {{\"snapshot\":{{\"meta\":"
        ),
        Some(other) => bail!("{display}: {} data; {expected}", other.as_str()),
    }
    progress.phase("reading");
    let mut on_progress = |_: u64| progress.set_position(count.load(Ordering::Relaxed));
    let profile = |profile: AllocProfile, warnings, format| {
        Loaded::Profile(Box::new(LoadedProfile {
            profile,
            format,
            warnings,
            file_size,
        }))
    };
    if inner == Some(Format::Pickle) {
        let parsed = plateau_formats::tracemalloc::read(
            reader,
            &plateau_formats::tracemalloc::TracemallocOptions::default(),
            &mut on_progress,
        )
        .with_context(|| format!("{display}"))?;
        return Ok(profile(
            parsed.value.profile,
            parsed.warnings,
            "tracemalloc",
        ));
    }
    if inner == Some(Format::Pprof) {
        let parsed = plateau_formats::pprof::read(
            reader,
            &plateau_formats::pprof::PprofOptions::default(),
            &mut on_progress,
        )
        .with_context(|| format!("{display}"))?;
        return Ok(profile(parsed.value.profile, parsed.warnings, "pprof"));
    }
    if inner == Some(Format::Hprof) {
        let parsed = plateau_formats::hprof::read(
            reader,
            &plateau_formats::hprof::HprofOptions::default(),
            &mut on_progress,
        )
        .with_context(|| format!("{display}"))?;
        return Ok(Loaded::Heap(Box::new(LoadedHeap {
            graph: parsed.value.graph,
            format: "hprof",
            retention_rule: plateau_formats::hprof::JAVA_RETENTION_RULE,
            warnings: parsed.warnings,
            file_size,
            parse_time: started.elapsed(),
        })));
    }
    let parsed = plateau_formats::v8::read(
        reader,
        &plateau_formats::v8::ReadOptions::default(),
        &mut on_progress,
    )
    .with_context(|| format!("{display}"))?;
    Ok(Loaded::Heap(Box::new(LoadedHeap {
        graph: parsed.value.graph,
        format: "v8-heapsnapshot",
        retention_rule: V8_RETENTION_RULE,
        warnings: parsed.warnings,
        file_size,
        parse_time: started.elapsed(),
    })))
}

/// The format of what `reader` holds, without consuming it; `None` when it is empty.
fn peek_format(reader: &mut impl BufRead) -> std::io::Result<Option<Format>> {
    let prefix = reader.fill_buf()?;
    Ok((!prefix.is_empty()).then(|| sniff(prefix)))
}

/// Peak resident memory of this process so far, in bytes (Linux), for timing reports.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
