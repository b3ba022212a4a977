//! `plateau diff`: leak suspects from several snapshots of one process.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use plateau_analysis::{
    diff, newest_object_id, DiffOptions, DiffReport, Redaction, SnapshotDigest,
};
use plateau_graph::{DominatorOptions, Dominators, HeapGraph};
use plateau_report::{diff_json, diff_text};

use crate::cli::DiffArgs;
use crate::load::{is_profile, load_heap};
use crate::progress::Progress;
use crate::Outcome;

pub fn run(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let files = snapshot_files(&args.files)?;
    if files.len() < 2 {
        bail!(
            "{}: growth needs two snapshots or more (better three: a baseline and two rounds)",
            files
                .first()
                .map_or_else(|| "no snapshot".to_string(), |f| f.display().to_string())
        );
    }
    let known = match &args.baseline {
        Some(path) => read_baseline(path)?,
        None => HashSet::new(),
    };
    if is_profile(&files[0])? {
        return super::profile::diff(args, &files, known);
    }
    args.sites.refuse_for_heaps()?;
    if args.cumulative || args.flamegraph.is_some() {
        bail!("--cumulative and --flamegraph apply to allocation profiles (tracemalloc, pprof), not heap snapshots");
    }

    let options = DiffOptions {
        min_growth_bytes: args.min_growth,
        top: args.top,
        redaction: if args.redact {
            Redaction::Strings
        } else {
            Redaction::None
        },
        known,
        ..DiffOptions::default()
    };
    let report = diff_heaps(&files, &options, !args.no_progress)?;

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &diff_json(&report))?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(diff_text(&report).as_bytes())?;
    }
    Ok(if report.suspects.is_empty() {
        Outcome::Fine
    } else {
        Outcome::LeakFound
    })
}

/// Reads heap snapshots oldest first and diffs them (see [`diff`]); warnings of the readers
/// are in the report's.
pub fn diff_heaps(
    files: &[PathBuf],
    options: &DiffOptions,
    show_progress: bool,
) -> anyhow::Result<DiffReport> {
    // Snapshots are read one at a time and digested; only the newest graph is kept. (Reading
    // the next snapshot on the second core while digesting one was tried: on this 2-vCPU
    // machine both stages ran twice as slowly, for more memory.)
    let timings = std::env::var_os("PLATEAU_TIMINGS").is_some();
    let mut digests: Vec<SnapshotDigest> = Vec::with_capacity(files.len());
    let mut newest: Option<(HeapGraph, Dominators, u64)> = None;
    let mut warnings = Vec::new();
    let mut one_process = true;
    for (i, file) in files.iter().enumerate() {
        let size = std::fs::metadata(file).ok().map(|m| m.len());
        let mut progress = Progress::new(size, show_progress);
        let t = std::time::Instant::now();
        let heap = load_heap(file, &mut progress)?;
        let parsed = t.elapsed();
        // Java dumps name objects by address: no ids to match or order by.
        let ids_are_addresses = heap.format == "hprof";
        if ids_are_addresses {
            one_process = false;
        }
        let max_id = newest_object_id(&heap.graph);
        // Within one process the newest snapshot has the largest ids; across processes the
        // order given is all there is (decided once the second snapshot is digested).
        let keep = newest
            .as_ref()
            .is_none_or(|(_, _, id)| !one_process || max_id > *id);
        // Free the previous graph before this one's dominators need memory, except the
        // baseline's while the second snapshot decides whether it needs path matching.
        if keep && i != 1 {
            newest = None;
        }
        progress.phase("dominators");
        let dom = Dominators::compute_with(
            &heap.graph,
            &DominatorOptions {
                subtree_counts: true,
            },
        );
        let dominated = t.elapsed();
        progress.phase("digest");
        let mut digest = SnapshotDigest::new(&file.display().to_string(), &heap.graph, &dom);
        digest.ids_are_addresses = ids_are_addresses;
        if i == 1 {
            one_process = digests[0].same_process(&digest);
            if !one_process {
                // Matching by path is the fallback for snapshots of different processes.
                let (base_graph, base_dom, _) = newest.as_ref().expect("the baseline is kept");
                digests[0].add_paths(base_graph, base_dom);
            }
            if keep {
                newest = None;
            }
        }
        if !one_process {
            digest.add_paths(&heap.graph, &dom);
        }
        if timings {
            eprintln!(
                "timings: {}: parse {:.2}s, dominators {:.2}s, digest {:.2}s",
                file.display(),
                parsed.as_secs_f64(),
                (dominated - parsed).as_secs_f64(),
                (t.elapsed() - dominated).as_secs_f64()
            );
        }
        warnings.extend(
            heap.warnings
                .iter()
                .map(|w| format!("{}: {w}", file.display())),
        );
        digests.push(digest);
        if keep {
            newest = Some((heap.graph, dom, max_id));
        }
    }
    // V8 hands out ids in increasing order, so within one process the newest snapshot has the
    // largest ones.
    let given: Vec<String> = digests.iter().map(|d| d.label.clone()).collect();
    if one_process {
        digests.sort_by_key(|d| d.max_object_id);
    }
    if digests.iter().zip(&given).any(|(d, g)| &d.label != g) {
        warnings.push(format!(
            "snapshots were not given oldest first; ordered by their object ids: {}",
            digests
                .iter()
                .map(|d| d.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (graph, dom, _) = newest.expect("two snapshots or more were read");
    let t = std::time::Instant::now();
    let mut report = diff(&digests, &graph, &dom, options);
    if timings {
        eprintln!("timings: diff {:.2}s", t.elapsed().as_secs_f64());
    }
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}

/// What a directory of snapshots or profiles is expected to hold.
const SNAPSHOT_SUFFIXES: &[&str] = &[
    ".heapsnapshot",
    ".heapsnapshot.gz",
    ".hprof",
    ".hprof.gz",
    ".tracemalloc",
    ".tracemalloc.gz",
    ".pb.gz",
];

/// The files named, a directory expanded to its snapshots in name order.
fn snapshot_files(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
                .with_context(|| format!("cannot list {}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    SNAPSHOT_SUFFIXES.iter().any(|s| name.ends_with(s))
                })
                .collect();
            if found.is_empty() {
                bail!(
                    "{}: no snapshots or profiles in this directory (looked for {})",
                    arg.display(),
                    SNAPSHOT_SUFFIXES.join(", ")
                );
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(arg.clone());
        }
    }
    Ok(files)
}

/// Fingerprints from a previous `--json` output (suspects and known) or from plain lines.
fn read_baseline(path: &Path) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the baseline file {}", path.display()))?;
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
        let mut prints = HashSet::new();
        for list in ["suspects", "known"] {
            for s in doc[list].as_array().into_iter().flatten() {
                if let Some(f) = s["fingerprint"].as_str() {
                    prints.insert(f.to_string());
                }
            }
        }
        if prints.is_empty() && doc.get("suspects").is_none() {
            bail!(
                "{}: JSON without a \"suspects\" list; expected a `plateau diff --json` output",
                path.display()
            );
        }
        return Ok(prints);
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}
