//! GC log readers on real logs (`fixtures/gc/`, made by `fixtures/gc/gen/make.sh`) and on
//! hand-made edge cases. The expected numbers were read off the committed logs.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use plateau_probe::gclog::{
    read_gc_log, GcEvent, GcLogParser, GcParseStats, GcRuntime, LineOutcome,
};

const MIB: u64 = 1 << 20;

fn fixture(name: &str) -> (Vec<GcEvent>, GcParseStats) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/gc")
        .join(name);
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_gc_log(BufReader::new(file)).unwrap()
}

/// Node prints `%.1f` MiB; the parser rounds value * 2^20 to whole bytes.
fn tenth_mib(tenths: u64) -> u64 {
    (tenths as f64 / 10.0 * MIB as f64).round() as u64
}

fn full_floors(events: &[GcEvent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.full)
        .map(|e| e.after_bytes)
        .collect()
}

fn assert_clean(stats: &GcParseStats, runtime: GcRuntime) {
    assert_eq!(stats.runtime, Some(runtime));
    assert_eq!(stats.unparseable, 0, "{:?}", stats.first_unparseable);
}

fn feed_one(line: &str) -> LineOutcome {
    GcLogParser::new().feed(line)
}

fn event(line: &str) -> GcEvent {
    match feed_one(line) {
        LineOutcome::Event(e) => e,
        other => panic!("{line:?}: expected an event, got {other:?}"),
    }
}

#[test]
fn node_trace_gc_mixed_with_console_output() {
    let (events, stats) = fixture("node-trace-gc.log");
    assert_clean(&stats, GcRuntime::Node);
    assert_eq!(stats.lines, 145);
    assert_eq!(events.len(), 83);
    assert_eq!(stats.events, 83);
    assert_eq!(stats.full_events, 7);

    let first = &events[0];
    assert_eq!(first.kind, "Scavenge");
    assert!(!first.full);
    assert_eq!(first.uptime_s, Some(0.026));
    assert_eq!(first.before_bytes, tenth_mib(41));
    assert_eq!(first.after_bytes, tenth_mib(34));
    assert_eq!(first.capacity_bytes, Some(tenth_mib(52)));
    assert!(events
        .iter()
        .all(|e| e.heap.as_deref() == Some("16852:0x1a23ae80")));

    let last = events.last().unwrap();
    assert_eq!(last.kind, "Mark-Compact");
    assert!(last.full);
    assert_eq!(last.uptime_s, Some(0.424));
    assert_eq!(last.after_bytes, tenth_mib(510));
    assert_eq!(last.capacity_bytes, Some(tenth_mib(846)));

    // Incremental (`finalize incremental marking via task`) and forced (`testing`) full GCs
    // alike: the floor rises with the leak.
    let floors: Vec<u64> = [84, 118, 188, 279, 349, 468, 510].map(tenth_mib).to_vec();
    assert_eq!(full_floors(&events), floors);
}

#[test]
fn jvm_g1_xlog_gc() {
    let (events, stats) = fixture("jvm-g1-gc.log");
    assert_clean(&stats, GcRuntime::Jvm);
    assert_eq!(events.len(), 129);
    // 9 Pause Full and 7 Pause Young (Mixed).
    assert_eq!(stats.full_events, 16);
    let first = &events[0];
    assert_eq!(first.kind, "Pause Young (Normal) (G1 Evacuation Pause)");
    assert_eq!(first.uptime_s, Some(0.030));
    assert_eq!(
        (first.before_bytes, first.after_bytes, first.capacity_bytes),
        (6 * MIB, 3 * MIB, Some(64 * MIB))
    );
    let last = events.last().unwrap();
    assert_eq!(last.kind, "Pause Full (System.gc())");
    assert_eq!(last.after_bytes, 45 * MIB);
    let floors: Vec<u64> = [
        15, 29, 33, 34, 25, 39, 42, 44, 35, 48, 38, 40, 42, 43, 44, 45,
    ]
    .map(|m| m * MIB)
    .to_vec();
    assert_eq!(full_floors(&events), floors);
    // Floors: Pause Full (including G1 Compaction Pause) and Pause Young (Mixed); Prepare
    // Mixed, Normal, Remark and Cleanup are not.
    for kind in [
        "Pause Young (Prepare Mixed)",
        "Pause Young (Normal)",
        "Pause Remark",
        "Pause Cleanup",
    ] {
        assert!(events.iter().any(|e| e.kind.starts_with(kind) && !e.full));
    }
    assert!(events
        .iter()
        .any(|e| e.kind.starts_with("Pause Young (Mixed)") && e.full));
    assert!(events
        .iter()
        .any(|e| e.kind == "Pause Full (G1 Compaction Pause)" && e.full));
}

#[test]
fn jvm_g1_xlog_gc_star_counts_only_summaries() {
    let (events, stats) = fixture("jvm-g1-gc-star.log");
    assert_clean(&stats, GcRuntime::Jvm);
    assert_eq!(stats.lines, 751);
    // 49 `[gc ]` summary lines; Eden/Metaspace `->` lines and gc,start lines are details.
    assert_eq!(events.len(), 49);
    assert_eq!(stats.full_events, 7);
    assert_eq!(events[0].uptime_s, Some(0.034));
    assert_eq!(events[0].after_bytes, 3 * MIB);
    assert_eq!(events.last().unwrap().after_bytes, 25 * MIB);
    let floors: Vec<u64> = [15, 26, 29, 33, 35, 29, 25].map(|m| m * MIB).to_vec();
    assert_eq!(full_floors(&events), floors);
}

#[test]
fn jvm_parallel_xlog_gc() {
    let (events, stats) = fixture("jvm-parallel-gc.log");
    assert_clean(&stats, GcRuntime::Jvm);
    assert_eq!(events.len(), 108);
    assert_eq!(stats.full_events, 9);
    assert_eq!(events[0].kind, "Pause Young (Allocation Failure)");
    assert_eq!(
        (events[0].before_bytes, events[0].after_bytes),
        (16 * MIB, 4 * MIB)
    );
    assert_eq!(events[0].capacity_bytes, Some(61 * MIB));
    assert_eq!(events.last().unwrap().after_bytes, 44 * MIB);
    let floors = full_floors(&events);
    assert_eq!(floors.first(), Some(&(14 * MIB)));
    assert!(floors.windows(2).all(|w| w[0] <= w[1]), "{floors:?}");
}

#[test]
fn jvm_zgc_xlog_gc() {
    let (events, stats) = fixture("jvm-zgc-gc.log");
    assert_clean(&stats, GcRuntime::Jvm);
    // `Allocation Stall` / `Relocation Stall` lines are not collections.
    assert_eq!(events.len(), 13);
    assert!(events.iter().all(|e| e.full && e.capacity_bytes.is_none()));
    assert_eq!(
        (events[0].before_bytes, events[0].after_bytes),
        (64 * MIB, 30 * MIB)
    );
    let forced: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == "Garbage Collection (System.gc())")
        .map(|e| e.after_bytes)
        .collect();
    assert_eq!(forced, vec![18 * MIB, 28 * MIB]);
}

#[test]
fn go_gctrace_mixed_with_program_output() {
    let (events, stats) = fixture("go-gctrace.log");
    assert_clean(&stats, GcRuntime::Go);
    assert_eq!(stats.lines, 142);
    assert_eq!(events.len(), 137);
    assert_eq!(stats.full_events, 137);
    let first = &events[0];
    assert_eq!(first.kind, "gc 1");
    assert_eq!(first.uptime_s, Some(0.0));
    assert_eq!((first.before_bytes, first.after_bytes), (3 * MIB, 0));
    assert_eq!(first.capacity_bytes, Some(4 * MIB));
    let last = events.last().unwrap();
    assert_eq!(last.kind, "gc 137 (forced)");
    assert_eq!(last.uptime_s, Some(0.186));
    assert_eq!(last.after_bytes, 16 * MIB);
    assert_eq!(last.capacity_bytes, Some(33 * MIB));
    let forced: Vec<u64> = events
        .iter()
        .filter(|e| e.kind.ends_with("(forced)"))
        .map(|e| e.after_bytes)
        .collect();
    assert_eq!(forced, vec![4 * MIB, 8 * MIB, 12 * MIB, 16 * MIB]);
}

#[test]
fn empty_log() {
    let (events, stats) = read_gc_log(&b""[..]).unwrap();
    assert!(events.is_empty());
    assert_eq!(stats, GcParseStats::default());
}

#[test]
fn app_output_is_not_gc() {
    let mut parser = GcLogParser::new();
    for line in [
        "",
        "server listening on :8080",
        "[2024-05-01 12:00:00] GET /api -> 200 (12ms)",
        "[12345:0x55d] Shrinking page 0x1: end 0x2 -> 0x3",
        "[0.002s][info][gc] Using G1",
        "[0.032s][info][gc,heap     ] GC(0) Eden regions: 6->0(4)",
        "GC(0) Eden regions: 6->0(4)",
        "[0.032s][info][gc,metaspace] GC(0) Metaspace: 74K(320K)->74K(320K) NonClass: 71K(192K)->71K(192K) Class: 3K(128K)->3K(128K)",
        "[0.030s][info][gc,start    ] GC(0) Pause Young (Normal) (G1 Evacuation Pause)",
        "[0.126s][info][gc] GC(13) To-space exhausted",
        "[0.116s][info][gc] Allocation Stall (main) 11.663ms",
        "scvg0: inuse: 3, idle: 0, sys: 3, released: 0, consumed: 3 (MB)",
        "gcc -O2 main.c",
        "\u{fffd}\u{fffd} binary junk -> (((",
    ] {
        assert_eq!(parser.feed(line), LineOutcome::NotGc, "{line:?}");
    }
    assert_eq!(parser.stats().events + parser.stats().unparseable, 0);
    assert_eq!(parser.stats().runtime, None);
}

#[test]
fn truncated_and_garbled_gc_lines_are_counted() {
    let mut parser = GcLogParser::new();
    let lines = [
        "[1:0x2a]       25 ms: Scavenge 4.1 (4.2) -> 3.",
        "[1:0x2a]       26 ms: Scavenge 4.1 (4.2) -> 3.4 (5.2) MB, 0.54 / 0.00 ms",
        "[1:0x2a]       27 ms: Scavenge x.y (4.2) -> 3.4 (5.2) MB, 0.54 / 0.00 ms",
        "[1:0x2a]       28 ms: Mark-Compact 10.5 (23.2) ->",
    ];
    let outcomes: Vec<LineOutcome> = lines.iter().map(|l| parser.feed(l)).collect();
    assert!(matches!(outcomes[0], LineOutcome::Unparseable(_)));
    assert!(matches!(outcomes[1], LineOutcome::Event(_)));
    match &outcomes[2] {
        LineOutcome::Unparseable(reason) => assert!(reason.contains("\"x.y\""), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(outcomes[3], LineOutcome::Unparseable(_)));
    let stats = parser.stats();
    assert_eq!((stats.events, stats.unparseable), (1, 3));
    let first = stats.first_unparseable.as_ref().unwrap();
    assert_eq!(first.line, 1);
    assert_eq!(first.text, lines[0]);
    assert!(first.reason.contains("expected"), "{}", first.reason);

    let mut jvm = GcLogParser::for_runtime(GcRuntime::Jvm);
    for line in [
        "[0.061s][info][gc] GC(3) Pause Young (Normal) (G1 Evacuation Pause) 39M->9",
        "[0.061s][info][gc] GC(3) Pause Full (System.gc()) 39M->9M(64Q) 1.2ms",
        "GC(4) Garbage Collection (Warmup) 64M(100%)->x(47%)",
        "[GC (Allocation Failure)  33280K->5112K(1259",
        "[0.1s][info][gc] GC(3) Pause Full (System.gc()) 39M->9M(64\u{e9}) 1ms",
    ] {
        assert!(
            matches!(jvm.feed(line), LineOutcome::Unparseable(_)),
            "{line}"
        );
    }
    assert_eq!(jvm.stats().unparseable, 5);

    let mut go = GcLogParser::for_runtime(GcRuntime::Go);
    for line in [
        "gc 7 @0.1s 2%: 0.01+0.2+0.01 ms clock, 0.02+0.1/0.2/0.3+0.02 ms cpu, 4->4 MB, 5 MB goal, 4 P",
        "gc 7 @soon 2%: 0.01+0.2+0.01 ms clock",
        "gc 8 @0.2s 2%: 0.01+0.2+0.01 ms clock, 0.02+0.1/0.2/0.3+0.02 ms cpu",
    ] {
        assert!(matches!(go.feed(line), LineOutcome::Unparseable(_)), "{line}");
    }
}

#[test]
fn runtime_is_fixed_by_the_first_event() {
    let mut parser = GcLogParser::new();
    let go = "gc 1 @0.012s 2%: 0.011+0.50+0.003 ms clock, 0.04+0.1/0.4/0.2+0.01 ms cpu, 4->4->2 MB, 5 MB goal, 4 P";
    assert!(matches!(parser.feed(go), LineOutcome::Event(_)));
    // A Node-looking line in a Go program's output is that program's output.
    let node = "[1:0x2a]       26 ms: Scavenge 4.1 (4.2) -> 3.4 (5.2) MB, 0.54 / 0.00 ms";
    assert_eq!(parser.feed(node), LineOutcome::NotGc);
    assert_eq!(parser.stats().runtime, Some(GcRuntime::Go));
}

#[test]
fn node_variants() {
    let reduce = event("[7:0x1]     5000 ms: Mark-Compact (reduce) 60.2 (70.0) -> 40.1 (50.0) MB, pooled: 0 MB, 20.00 / 0.00 ms  (average mu = 0.9, current mu = 0.8) idle notification; finalize");
    assert_eq!(reduce.kind, "Mark-Compact (reduce)");
    assert!(reduce.full);
    assert_eq!(reduce.after_bytes, tenth_mib(401));
    assert_eq!(reduce.uptime_s, Some(5.0));
    let old = event(
        "[7:0x1]    12 ms: Mark-sweep 1.2 (3.0) -> 1.0 (4.0) MB, 2.1 / 0.0 ms [allocation failure]",
    );
    assert!(old.full);
    let minor =
        event("[7:0x1]    13 ms: Minor Mark-Sweep 3.0 (6.0) -> 2.0 (6.0) MB, 0.31 / 0.00 ms");
    assert!(!minor.full);
    let interleaved = event(
        "[7:0x1]    14 ms: Scavenge (interleaved) 9.0 (12.0) -> 8.5 (12.0) MB, 0.31 / 0.00 ms",
    );
    assert_eq!(interleaved.kind, "Scavenge (interleaved)");
    assert!(!interleaved.full);
}

#[test]
fn node_oom_replay_is_not_counted_twice() {
    let log = "\
[9:0x1]     1000 ms: Mark-Compact 48.1 (50.2) -> 47.9 (50.7) MB, 80.1 / 0.0 ms  (average mu = 0.193, current mu = 0.021) allocation failure; scavenge might not succeed
[9:0x1]     1100 ms: Mark-Compact 48.9 (51.0) -> 48.7 (51.7) MB, 60.1 / 0.0 ms  (average mu = 0.120, current mu = 0.031) allocation failure; scavenge might not succeed

<--- Last few GCs --->

[9:0x1]     1000 ms: Mark-Compact 48.1 (50.2) -> 47.9 (50.7) MB, 80.1 / 0.0 ms  (average mu = 0.193, current mu = 0.021) allocation failure; scavenge might not succeed
[9:0x1]     1100 ms: Mark-Compact 48.9 (51.0) -> 48.7 (51.7) MB, 60.1 / 0.0 ms  (average mu = 0.120, current mu = 0.031) allocation failure; scavenge might not succeed


<--- JS stacktrace --->

FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory
";
    let (events, stats) = read_gc_log(log.as_bytes()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(stats.unparseable, 0);
}

#[test]
fn jvm_decorations_and_collectors() {
    let e = event("[2024-05-01T12:00:00.123+0000][1.234s][info][gc] GC(7) Pause Young (Normal) (G1 Evacuation Pause) 24M->8M(256M) 3.1ms");
    assert_eq!(e.uptime_s, Some(1.234));
    assert_eq!(
        (e.after_bytes, e.capacity_bytes),
        (8 * MIB, Some(256 * MIB))
    );
    assert_eq!(
        event("[1234ms] GC(1) Pause Full (Allocation Failure) 3G->1G(4G) 900ms").uptime_s,
        Some(1.234)
    );
    let epoch = event(
        "[1714564800123ms][gc] GC(1) Pause Full (Allocation Failure) 2048K->1024K(4096K) 9ms",
    );
    assert_eq!(epoch.uptime_s, None);
    assert_eq!(epoch.after_bytes, 1024 * 1024);
    let bare = event("GC(2) Pause Young (Allocation Failure) 4M->1M(15M) 2.1ms");
    assert_eq!((bare.uptime_s, bare.full), (None, false));
    // Shenandoah (lines from a real JDK 17 -XX:+UseShenandoahGC -Xlog:gc run).
    let cleanup = event("[0.148s][info][gc] GC(0) Concurrent cleanup 33M->18M(64M) 0.010ms");
    assert_eq!(
        (cleanup.kind.as_str(), cleanup.full),
        ("Concurrent cleanup", false)
    );
    assert_eq!(
        feed_one("[0.140s][info][gc] GC(0) Pause Init Mark (unload classes) 0.016ms"),
        LineOutcome::NotGc
    );
    assert!(event("[9.1s][info][gc] GC(5) Pause Degenerated GC (Mark) 63M->40M(64M) 2.5ms").full);
    // Generational ZGC (JDK 21).
    let major =
        event("[3.2s][info][gc] GC(4) Major Collection (Proactive) 120M(12%)->80M(8%) 0.210s");
    assert!(major.full);
    assert_eq!(major.after_bytes, 80 * MIB);
    assert!(
        !event(
            "[3.0s][info][gc] GC(3) Minor Collection (Allocation Rate) 300M(30%)->90M(9%) 0.032s"
        )
        .full
    );
}

#[test]
fn jdk8_summaries() {
    let young = event("2024-05-01T12:00:00.123+0000: 0.456: [GC (Allocation Failure) [PSYoungGen: 33280K->5104K(38400K)] 33280K->5112K(125952K), 0.0050000 secs] [Times: user=0.01 sys=0.00, real=0.01 secs]");
    assert_eq!(young.kind, "GC (Allocation Failure)");
    assert_eq!(young.uptime_s, Some(0.456));
    assert!(!young.full);
    assert_eq!(
        (young.before_bytes, young.after_bytes, young.capacity_bytes),
        (33280 * 1024, 5112 * 1024, Some(125952 * 1024))
    );
    let full = event("1.5: [Full GC (Ergonomics) [PSYoungGen: 5104K->0K(38400K)] [ParOldGen: 8K->4960K(87552K)] 5112K->4960K(125952K), [Metaspace: 3044K->3044K(1056768K)], 0.0203 secs]");
    assert_eq!(full.kind, "Full GC (Ergonomics)");
    assert!(full.full);
    assert_eq!(full.after_bytes, 4960 * 1024);
    let verbose = event("[Full GC (System.gc())  5112K->4960K(125952K), 0.0203 secs]");
    assert_eq!((verbose.uptime_s, verbose.full), (None, true));
    let g1 = event("[GC pause (G1 Evacuation Pause) (young) 24M->8192K(256M), 0.0089 secs]");
    assert_eq!(g1.after_bytes, 8 * MIB);
    // The first line of a multi-line G1 PrintGCDetails block carries no sizes.
    assert_eq!(
        feed_one("0.2: [GC pause (G1 Evacuation Pause) (young), 0.0051 secs]"),
        LineOutcome::NotGc
    );
    assert_eq!(feed_one("[CMS-concurrent-mark-start]"), LineOutcome::NotGc);
}

#[test]
fn go_formats_old_and_new() {
    let old = event("gc 12 @3.456s 2%: 0.011+0.50+0.003 ms clock, 0.046+0.15/0.44/0.20+0.013 ms cpu, 40->42->21 MB, 44 MB goal, 8 P");
    assert_eq!(old.kind, "gc 12");
    assert_eq!(old.uptime_s, Some(3.456));
    assert_eq!(
        (old.before_bytes, old.after_bytes, old.capacity_bytes),
        (40 * MIB, 21 * MIB, Some(44 * MIB))
    );
    let new = event("gc 3 @0.021s 1%: 0.013+0.30+0.002 ms clock, 0.10+0.11/0.28/0.52+0.016 ms cpu, 3->3->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 8 P (forced)");
    assert_eq!(new.kind, "gc 3 (forced)");
    assert_eq!(new.after_bytes, MIB);
}

#[test]
fn crlf_and_overlong_lines() {
    let mut log = "x".repeat(200_000);
    log.push('\n');
    log.push_str(
        "[0.030s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->3M(64M) 1.3ms\r\n",
    );
    let (events, stats) = read_gc_log(log.as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(stats.lines, 2);
}

#[test]
fn every_prefix_of_every_real_line_is_survived() {
    // Logs cut mid-line (a killed child, a full pipe) must never panic the reader.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/gc");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut parser = GcLogParser::new();
        for line in text
            .lines()
            .chain(["[1:0x2a]  5 ms: Scavenge 1\u{e9} (2) -> 3 (4) MB"])
        {
            for (i, _) in line.char_indices() {
                let _ = parser.feed(&line[..i]);
            }
        }
    }
}
