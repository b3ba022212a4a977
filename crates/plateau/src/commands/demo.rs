//! `plateau demo`: the bundled real example, end to end from a fresh clone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use plateau_analysis::series::{classify, ClassifyOptions};
use plateau_analysis::{diff, summarize, DiffOptions, Redaction, SnapshotDigest, SummaryOptions};
use plateau_graph::{DominatorOptions, Dominators};
use plateau_probe::store::read_series_file;
use plateau_report::{analyze_text, classify_headline, diff_text, AnalyzeReport};

use super::compare::{compare, compare_text, read_run};
use super::repro::{execute, install_stop_handler, run_text, ReproConfig};
use crate::cli::DemoArgs;
use crate::load::{load_heap, LoadedHeap};
use crate::progress::Progress;
use crate::Outcome;

/// Snapshots of `fixtures/v8/gen/leaky-service.js`, taken after warm-up and after each of
/// three load rounds of 400 requests.
const SNAPSHOTS: [&str; 4] = ["s0", "s1", "s2", "s3"];

fn workspace_root() -> PathBuf {
    // The fixtures ship in the repository; `cargo run` from a clone finds them here.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let root = workspace_root();
    let dir = root.join("fixtures/v8/leaky-service");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "plateau demo, step 1: is it a leak? Memory of two small Node.js services recorded by\n\
         `plateau watch` under a constant load on 127.0.0.1 (fixtures/series): one keeps every\n\
         response in a Map, the other in a bounded LRU cache.\n"
    )?;
    for name in ["node-leaky", "node-fixed"] {
        let path = root.join(format!("fixtures/series/{name}.series"));
        let loaded = read_series_file(&path)
            .with_context(|| format!("the demo's recordings are missing ({})", path.display()))?;
        let verdict = classify(&loaded.series, &ClassifyOptions::default());
        writeln!(out, "$ plateau classify {}", relative(&path, &root))?;
        writeln!(out, "{}\n", classify_headline(&verdict))?;
    }
    writeln!(
        out,
        "Step 2: what leaks? Another small Node.js service (fixtures/v8/gen/leaky-service.js) was\n\
         loaded on 127.0.0.1 in rounds of 400 requests and snapshotted after warm-up (s0) and\n\
         after each round (s1-s3). What grows, what holds the memory, and what is merely big?\n"
    )?;
    let files: Vec<PathBuf> = SNAPSHOTS
        .iter()
        .map(|name| dir.join(format!("{name}.heapsnapshot.gz")))
        .collect();
    let (digests, heap, dom) = digest_all(&files, &root)?;

    let shown: Vec<String> = files.iter().map(|f| relative(f, &root)).collect();
    writeln!(out, "$ plateau diff {}\n", shown.join(" "))?;
    let report = diff(&digests, &heap.graph, &dom, &DiffOptions::default());
    out.write_all(diff_text(&report).as_bytes())?;

    let file = relative(&files[files.len() - 1], &root);
    writeln!(out, "\n$ plateau analyze {file} --top {}\n", args.top)?;
    let options = SummaryOptions {
        top: args.top,
        redaction: Redaction::None,
    };
    let summary = summarize(&heap.graph, &dom, &options);
    let analysis = AnalyzeReport {
        file: &file,
        format: heap.format,
        file_size: heap.file_size,
        retention_rule: heap.retention_rule,
        warnings: &heap.warnings,
        summary: &summary,
        top_classes: 10,
    };
    out.write_all(analyze_text(&analysis).as_bytes())?;
    writeln!(
        out,
        "\nThe biggest structure (COUNTRY_TABLE) is not the leak: it never grows. The diff names\n\
         the Map that gains 400 entries a round and the listener array behind it. Try it on your\n\
         own snapshots: plateau diff s0.heapsnapshot s1.heapsnapshot s2.heapsnapshot (Node:\n\
         v8.writeHeapSnapshot(), or node --heapsnapshot-signal=SIGUSR2)."
    )?;

    writeln!(
        out,
        "\nStep 3: the same question for Java. A small JDK 17 token service\n\
         (fixtures/hprof/gen/TokenStore.java) dumped with `jcmd <pid> GC.heap_dump -gz=1` after\n\
         2,000, 4,000 and 6,000 requests. Objects move between Java dumps, so they are matched by\n\
         retainer path and class; the LRU and the buffer pool are decoys.\n"
    )?;
    let java: Vec<PathBuf> = ["s0", "s1", "s2"]
        .iter()
        .map(|name| root.join(format!("fixtures/hprof/token-store/{name}.hprof.gz")))
        .collect();
    let (digests, heap, dom) = digest_all(&java, &root)?;
    let shown: Vec<String> = java.iter().map(|f| relative(f, &root)).collect();
    writeln!(out, "$ plateau diff {}\n", shown.join(" "))?;
    let options = DiffOptions {
        top: 3,
        ..DiffOptions::default()
    };
    let mut report = diff(&digests, &heap.graph, &dom, &options);
    // The warning says objects were matched by path: the text above says so already.
    report.warnings.clear();
    out.write_all(diff_text(&report).as_bytes())?;

    live_loop(&mut out, &root)?;
    Ok(Outcome::Fine)
}

/// Step 4: the whole loop on live services: reproduce, capture, diff, name the leak; then the
/// fixed version plateaus. Needs `node` (on this machine kind); skipped with a note otherwise.
fn live_loop(out: &mut impl Write, root: &Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "\nStep 4: the whole loop, live. plateau starts a leaking Node.js session service\n\
         (fixtures/services/node/leaky.js) on a free loopback port, sends 300 warm-up requests and\n\
         three rounds of 1,500, takes a heap snapshot through the inspector after each phase (no\n\
         code changes), diffs them and gives the verdict; then the fixed version (an LRU of 1,000\n\
         sessions), then both runs side by side.\n"
    )?;
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        writeln!(out, "(skipped: `node` is not on PATH)")?;
        return Ok(());
    }
    let runs = std::env::temp_dir().join(format!("plateau-demo-{}", std::process::id()));
    let stop = install_stop_handler()?;
    let mut dirs = Vec::new();
    for name in ["leaky", "fixed"] {
        let script = root.join(format!("fixtures/services/node/{name}.js"));
        let config = ReproConfig {
            name: name.to_string(),
            command: vec!["node".to_string(), script.display().to_string()],
            pid: None,
            url: Some("http://127.0.0.1:{port}/login".to_string()),
            requests_file: None,
            load_cmd: None,
            warmup: 300,
            rounds: 3,
            requests: 1500,
            connections: 8,
            rate: None,
            phase_timeout: Duration::from_secs(120),
            cooldown: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(30),
            health: None,
            runtime: None,
            pprof_url: None,
            capture_timeout: Duration::from_secs(60),
            out_dir: runs.join(name),
            interval: Duration::from_millis(200),
            allow_remote: false,
            min_growth: 8192,
            show_progress: false,
        };
        writeln!(
            out,
            "$ plateau repro --url 'http://127.0.0.1:{{port}}/login' --warmup 300 --rounds 3 --requests 1500 -- node fixtures/services/node/{name}.js\n"
        )?;
        let run = execute(&config, &stop)?;
        out.write_all(run_text(&run).as_bytes())?;
        writeln!(out)?;
        dirs.push(config.out_dir);
    }
    writeln!(out, "$ plateau compare <leaky run> <fixed run>\n")?;
    let doc = compare(&read_run(&dirs[0])?, &read_run(&dirs[1])?);
    out.write_all(compare_text(&doc).as_bytes())?;
    let _ = std::fs::remove_dir_all(&runs);
    Ok(())
}

/// Reads and digests snapshots in order; returns the digests and the last graph. Java dumps
/// get path-keyed totals (their objects are matched by path).
fn digest_all(
    files: &[PathBuf],
    root: &Path,
) -> anyhow::Result<(Vec<SnapshotDigest>, LoadedHeap, Dominators)> {
    let mut digests = Vec::new();
    let mut last = None;
    for path in files {
        let mut progress = Progress::new(None, true);
        let heap = load_heap(path, &mut progress).with_context(|| {
            format!(
                "the demo's snapshots are missing or damaged ({})",
                path.display()
            )
        })?;
        let dom = Dominators::compute_with(
            &heap.graph,
            &DominatorOptions {
                subtree_counts: true,
            },
        );
        let mut digest = SnapshotDigest::new(&relative(path, root), &heap.graph, &dom);
        if heap.format == "hprof" {
            digest.ids_are_addresses = true;
            digest.add_paths(&heap.graph, &dom);
        }
        digests.push(digest);
        last = Some((heap, dom));
    }
    let (heap, dom) = last.expect("the demo reads snapshots");
    Ok((digests, heap, dom))
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
