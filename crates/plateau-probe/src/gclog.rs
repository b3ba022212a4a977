//! GC telemetry read from runtime logs: Node `--trace-gc`, JVM unified logging (`-Xlog:gc`,
//! `-Xlog:gc*`) and JDK 8 `-verbose:gc` summaries, Go `GODEBUG=gctrace=1`.
//!
//! Owns recognising GC lines among a program's own output and turning them into [`GcEvent`]s.
//! The after-value of a full collection ([`GcEvent::full`]) is the live-heap floor: the best
//! leak signal, since it does not move with allocation rate.

use std::io::{self, BufRead};

const MIB: f64 = 1024.0 * 1024.0;
/// Lines longer than this are cut: GC lines are short, app output may not be.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Unparseable lines are kept for the report; a bounded excerpt is enough.
const MAX_EXCERPT_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcRuntime {
    Node,
    Jvm,
    Go,
}

/// One collection as the log states it. Sizes are bytes; Node and Go print rounded MiB, so
/// their values are multiples of 0.1 MiB and 1 MiB.
#[derive(Debug, Clone, PartialEq)]
pub struct GcEvent {
    pub runtime: GcRuntime,
    /// Seconds since process start, from the line's own stamp.
    pub uptime_s: Option<f64>,
    /// The after-value is a live-heap floor: the whole heap was marked and its garbage freed.
    pub full: bool,
    /// The collector's own name for the event, e.g. `Mark-Compact`, `Pause Young (Normal)
    /// (G1 Evacuation Pause)`, `gc 12 (forced)`.
    pub kind: String,
    pub before_bytes: u64,
    /// Go: the marked (live) heap, the third number of `A->B->C MB`.
    pub after_bytes: u64,
    /// Node: the committed total after GC; JVM: the committed heap; Go: the heap goal.
    pub capacity_bytes: Option<u64>,
    /// Which heap, when a process has several: Node's isolate `pid:0xaddr` (each worker thread
    /// has its own heap, and a floor only means something per heap). `None` for JVM and Go.
    pub heap: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LineOutcome {
    Event(GcEvent),
    /// Not GC output (the program's own output, or GC detail lines without a summary).
    NotGc,
    /// Looks like a GC summary but could not be read; the reason says what was expected.
    Unparseable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnparseableLine {
    /// 1-based line number among the lines fed.
    pub line: u64,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcParseStats {
    pub runtime: Option<GcRuntime>,
    pub lines: u64,
    pub events: u64,
    pub full_events: u64,
    pub unparseable: u64,
    pub first_unparseable: Option<UnparseableLine>,
}

type Parsed = Option<Result<GcEvent, String>>;

/// Reads GC lines one at a time. Without a runtime given, the first line that parses as a GC
/// event fixes it; from then on only that runtime's lines count, which keeps app output that
/// happens to look like another runtime's GC line out.
#[derive(Debug, Default)]
pub struct GcLogParser {
    runtime: Option<GcRuntime>,
    stats: GcParseStats,
    /// Inside Node's `<--- Last few GCs --->` dump, printed on OOM from a ring buffer.
    node_replay: bool,
    node_last_ms: f64,
}

impl GcLogParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn for_runtime(runtime: GcRuntime) -> Self {
        Self {
            runtime: Some(runtime),
            stats: GcParseStats {
                runtime: Some(runtime),
                ..GcParseStats::default()
            },
            ..Self::default()
        }
    }

    pub fn stats(&self) -> &GcParseStats {
        &self.stats
    }

    pub fn feed(&mut self, line: &str) -> LineOutcome {
        self.stats.lines += 1;
        let line = line.trim_end_matches(['\r', '\n']);
        let parsed = match self.runtime {
            Some(runtime) => self.parse_as(runtime, line),
            None => [GcRuntime::Node, GcRuntime::Jvm, GcRuntime::Go]
                .into_iter()
                .find_map(|r| self.parse_as(r, line)),
        };
        match parsed {
            None => LineOutcome::NotGc,
            Some(Ok(event)) => {
                self.runtime = Some(event.runtime);
                self.stats.runtime = Some(event.runtime);
                self.stats.events += 1;
                self.stats.full_events += u64::from(event.full);
                LineOutcome::Event(event)
            }
            Some(Err(reason)) => {
                self.stats.unparseable += 1;
                if self.stats.first_unparseable.is_none() {
                    self.stats.first_unparseable = Some(UnparseableLine {
                        line: self.stats.lines,
                        text: line.chars().take(MAX_EXCERPT_CHARS).collect(),
                        reason: reason.clone(),
                    });
                }
                LineOutcome::Unparseable(reason)
            }
        }
    }

    fn parse_as(&mut self, runtime: GcRuntime, line: &str) -> Parsed {
        match runtime {
            GcRuntime::Node => self.parse_node(line),
            GcRuntime::Jvm => parse_jvm(line),
            GcRuntime::Go => parse_go(line),
        }
    }

    fn parse_node(&mut self, line: &str) -> Parsed {
        // On OOM V8 replays its last few GC lines; with --trace-gc they were already seen.
        if line.contains("<--- Last few GCs --->") {
            self.node_replay = true;
        } else if line.contains("<--- JS stacktrace --->") {
            self.node_replay = false;
        }
        let (isolate, ms, body) = node_stamp(line)?;
        let gc_like = body.contains("->")
            || ["Scavenge", "Mark-", "Minor Mark-"]
                .iter()
                .any(|k| body.starts_with(k));
        if !gc_like || (self.node_replay && ms <= self.node_last_ms) {
            return None;
        }
        let event = node_event(isolate, ms, body);
        if event.is_ok() {
            self.node_last_ms = self.node_last_ms.max(ms);
        }
        Some(event)
    }
}

/// `[pid:0xaddr]   1234 ms: <body>`: the prefix every V8 trace-gc summary line carries.
fn node_stamp(line: &str) -> Option<(&str, f64, &str)> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (isolate, rest) = rest.split_once(']')?;
    let (pid, addr) = isolate.split_once(':')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) || !addr.starts_with("0x") {
        return None;
    }
    let (ms, body) = rest.trim_start().split_once(" ms: ")?;
    Some((isolate, decimal(ms)?, body))
}

/// `<kind> A (B) -> C (D) MB, ...` with MiB values (V8's `MB` is `KB * KB`).
fn node_event(isolate: &str, ms: f64, body: &str) -> Result<GcEvent, String> {
    const EXPECTED: &str = "expected '<kind> <before> (<total>) -> <after> (<total>) MB'";
    let (left, right) = body.split_once(" -> ").ok_or(EXPECTED)?;
    let (left, _before_total) = left.rsplit_once(' ').ok_or(EXPECTED)?;
    let (kind, before) = left.trim_end().rsplit_once(' ').ok_or(EXPECTED)?;
    let mut right = right.split_whitespace();
    let (after, after_total, unit) = (right.next(), right.next(), right.next());
    if !unit.is_some_and(|u| u.starts_with("MB")) {
        return Err(EXPECTED.into());
    }
    let mib = |s: &str| -> Result<u64, String> {
        decimal(s)
            .map(|v| (v * MIB).round() as u64)
            .ok_or_else(|| format!("expected a size in MB, found {s:?}"))
    };
    let total = after_total
        .and_then(|t| t.strip_prefix('('))
        .and_then(|t| t.strip_suffix(')'))
        .ok_or(EXPECTED)?;
    let kind = kind.trim();
    Ok(GcEvent {
        runtime: GcRuntime::Node,
        uptime_s: Some(ms / 1000.0),
        // Mark-Compact (Mark-sweep in old V8) marks the whole heap; Minor Mark-Compact and
        // Scavenge only the young generation.
        full: kind.starts_with("Mark-"),
        kind: kind.to_string(),
        before_bytes: mib(before)?,
        after_bytes: mib(after.ok_or(EXPECTED)?)?,
        capacity_bytes: Some(mib(total)?),
        heap: Some(isolate.to_string()),
    })
}

fn parse_jvm(line: &str) -> Parsed {
    let line = line.trim_start();
    jdk8_line(line).or_else(|| unified_line(line))
}

/// JDK 9+ unified logging: `[decorations]... GC(n) <kind> A->B(C) <time>`.
fn unified_line(line: &str) -> Parsed {
    let mut rest = line;
    let mut uptime_s = None;
    while let Some(after_bracket) = rest.strip_prefix('[') {
        let (decoration, tail) = after_bracket.split_once(']')?;
        let decoration = decoration.trim();
        if let Some(s) = uptime_decoration(decoration) {
            uptime_s = Some(s);
        } else if decoration.split(',').next().map(str::trim) == Some("gc") && decoration != "gc" {
            // Tagged gc,heap / gc,phases / gc,metaspace ...: detail lines, never summaries.
            return None;
        }
        rest = tail;
    }
    let msg = rest.trim_start().strip_prefix("GC(")?;
    let (id, body) = msg.split_once(')')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let body = body.trim();
    let arrow = body.rfind("->")?;
    let start = body[..arrow].rfind([' ', '\t']).map_or(0, |i| i + 1);
    let end = body[arrow..]
        .find([' ', '\t'])
        .map_or(body.len(), |i| arrow + i);
    let kind = body[..start].trim();
    let sizes = jvm_sizes(&body[start..end]);
    let summary_kind = [
        "Pause",
        "Garbage Collection",
        "Major Collection",
        "Minor Collection",
        "Concurrent cleanup",
    ]
    .iter()
    .any(|k| kind.starts_with(k));
    match sizes {
        // Region counts (`Eden regions: 6->0(4)`) and similar details are not summaries.
        Err(_) if !summary_kind => None,
        Err(reason) => Some(Err(reason)),
        Ok((before, after, capacity)) => Some(Ok(GcEvent {
            runtime: GcRuntime::Jvm,
            uptime_s,
            full: jvm_full(kind),
            kind: kind.to_string(),
            before_bytes: before,
            after_bytes: after,
            capacity_bytes: capacity,
            heap: None,
        })),
    }
}

/// Which JVM summaries leave only live objects behind.
/// - `Pause Full` (G1, Parallel, Serial, Shenandoah) compacts the whole heap.
/// - Shenandoah `Pause Degenerated GC` finishes a whole-heap cycle stop-the-world.
/// - ZGC `Garbage Collection` / generational `Major Collection` mark the whole heap and free
///   every garbage page; the after-value also holds what was allocated during the concurrent
///   cycle, as V8's Mark-Compact holds its black allocation.
///
/// - G1 `Pause Young (Mixed)` runs after a whole-heap marking and evacuates the old regions
///   with the most garbage; regions over the live threshold (85%) keep theirs, so the value is
///   live plus a bounded residue: the floor GCViewer and GCeasy read for G1, and the only one
///   a G1 service that never needs a full GC gives.
///
/// Not floors: `Pause Remark` frees only fully empty regions and `Pause Cleanup` frees nothing
/// more; Shenandoah's `Concurrent cleanup` frees its collection set, and regions under the
/// garbage threshold keep theirs; young pauses never touch the old generation.
fn jvm_full(kind: &str) -> bool {
    [
        "Pause Full",
        "Pause Young (Mixed)",
        "Pause Degenerated",
        "Garbage Collection",
        "Major Collection",
    ]
    .iter()
    .any(|k| kind.starts_with(k))
}

/// Unified-logging uptime decorations: `1.234s` (uptime), `1234ms` (uptimemillis),
/// `1234ns` (uptimenanos). Wall-clock `time`, `timemillis` and `timenanos` are not uptimes.
fn uptime_decoration(d: &str) -> Option<f64> {
    if let Some(ms) = d.strip_suffix("ms") {
        let v: u64 = ms.parse().ok()?;
        // timemillis is epoch milliseconds (13 digits); an uptime of 3 years is 11.
        (v < 100_000_000_000).then_some(v as f64 / 1e3)
    } else if let Some(ns) = d.strip_suffix("ns") {
        let v: u64 = ns.parse().ok()?;
        (v < 100_000_000_000_000_000).then_some(v as f64 / 1e9)
    } else {
        decimal(d.strip_suffix('s')?)
    }
}

/// A plain `123` or `1.234` (no sign, exponent, `inf` or `nan`, which `f64::from_str` takes).
fn decimal(s: &str) -> Option<f64> {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.')
        .then(|| s.parse().ok())?
}

/// `A->B(C)` with K/M/G suffixes, or ZGC's `A(p%)->B(q%)` (no capacity).
fn jvm_sizes(token: &str) -> Result<(u64, u64, Option<u64>), String> {
    let expected = || format!("expected '<before>-><after>(<capacity>)' sizes, found {token:?}");
    let (before, after) = token.split_once("->").ok_or_else(expected)?;
    if let Some((before, pct)) = before.split_once('(') {
        if !pct.ends_with("%)") {
            return Err(expected());
        }
        let after = after.split_once('(').ok_or_else(expected)?.0;
        return Ok((
            jvm_size(before).ok_or_else(expected)?,
            jvm_size(after).ok_or_else(expected)?,
            None,
        ));
    }
    let (after, capacity) = after
        .strip_suffix(')')
        .and_then(|a| a.split_once('('))
        .ok_or_else(expected)?;
    Ok((
        jvm_size(before).ok_or_else(expected)?,
        jvm_size(after).ok_or_else(expected)?,
        Some(jvm_size(capacity).ok_or_else(expected)?),
    ))
}

/// `1234K`, `56M`, `24.0M`, `0.0B`; 1024-based as HotSpot prints them.
fn jvm_size(s: &str) -> Option<u64> {
    let shift = match s.bytes().last()? {
        b'B' => 0,
        b'K' => 10,
        b'M' => 20,
        b'G' => 30,
        b'T' => 40,
        _ => return None,
    };
    let num = &s[..s.len() - 1];
    match num.parse::<u64>() {
        Ok(v) => v.checked_mul(1 << shift),
        Err(_) => decimal(num).map(|v| (v * (1u64 << shift) as f64).round() as u64),
    }
}

/// JDK 8 `[GC (cause) [Young: ...] A->B(C), t secs]` and `[Full GC (cause) ...]`, with
/// optional `date: ` and `uptime: ` stamps. Only the outermost sizes (whole heap) are read;
/// nested `[...]` generation details are skipped. Multi-line G1 details have no sizes on
/// their first line and are left alone.
fn jdk8_line(line: &str) -> Parsed {
    let mut rest = line;
    let mut uptime_s = None;
    while !rest.starts_with('[') {
        let (stamp, tail) = rest.split_once(": ")?;
        if let Some(v) = decimal(stamp) {
            uptime_s = Some(v);
        } else if !(stamp.starts_with(|c: char| c.is_ascii_digit()) && stamp.contains('T')) {
            return None;
        }
        rest = tail;
    }
    let inner = &rest[1..];
    if !(inner.starts_with("GC ") || inner.starts_with("GC(") || inner.starts_with("Full GC")) {
        return None;
    }
    let mut depth = 1;
    let mut top = String::new();
    for c in inner.chars() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            c if depth == 1 => top.push(c),
            _ => {}
        }
    }
    let arrow = top.find("->")?;
    let start = top[..arrow].rfind(' ').map_or(0, |i| i + 1);
    let end = top[arrow..]
        .find([',', ' '])
        .map_or(top.len(), |i| arrow + i);
    // Nested details may leave their own stamps (`0.123: `) in the outer text.
    let kind: Vec<&str> = top[..start]
        .split_whitespace()
        .filter(|w| !w.ends_with(':'))
        .collect();
    let kind = kind.join(" ");
    Some(
        jvm_sizes(&top[start..end]).map(|(before, after, capacity)| GcEvent {
            runtime: GcRuntime::Jvm,
            uptime_s,
            full: kind.starts_with("Full GC"),
            kind,
            before_bytes: before,
            after_bytes: after,
            capacity_bytes: capacity,
            heap: None,
        }),
    )
}

/// `gc 12 @1.234s 5%: ... ms cpu, 4->4->2 MB, 5 MB goal, [0 MB stacks, 0 MB globals,] 4 P
/// [(forced)]`. Sizes are bytes >> 20 (runtime/mgc.go).
fn parse_go(line: &str) -> Parsed {
    let rest = line.trim_start().strip_prefix("gc ")?;
    let (num, rest) = rest.split_once(' ')?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_prefix('@')?;
    Some(go_event(num, rest))
}

fn go_event(num: &str, rest: &str) -> Result<GcEvent, String> {
    let (at, rest) = rest
        .split_once(' ')
        .ok_or("expected '@<seconds>s' after 'gc N'")?;
    let uptime_s = at
        .strip_suffix('s')
        .and_then(decimal)
        .ok_or_else(|| format!("expected '@<seconds>s', found {at:?}"))?;
    let mut sizes = None;
    let mut goal = None;
    for field in rest.split(", ") {
        if let Some(g) = field.strip_suffix(" MB goal") {
            goal = Some(go_mb(g)?);
        } else if let Some(s) = field.strip_suffix(" MB").filter(|s| s.contains("->")) {
            let mut it = s.split("->");
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some(a), Some(b), Some(c), None) => {
                    sizes = Some((go_mb(a)?, go_mb(b)?, go_mb(c)?))
                }
                _ => return Err(format!("expected '<start>-><end>-><live> MB', found {s:?}")),
            }
        }
    }
    let (before, _end, live) = sizes.ok_or("expected '<start>-><end>-><live> MB'")?;
    let forced = rest.trim_end().ends_with("(forced)");
    Ok(GcEvent {
        runtime: GcRuntime::Go,
        uptime_s: Some(uptime_s),
        // Every Go cycle marks the whole heap; the third number is what it found live.
        full: true,
        kind: format!("gc {num}{}", if forced { " (forced)" } else { "" }),
        before_bytes: before,
        after_bytes: live,
        capacity_bytes: goal,
        heap: None,
    })
}

fn go_mb(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| v.checked_mul(1 << 20))
        .ok_or_else(|| format!("expected a whole number of MB, found {s:?}"))
}

/// Reads a whole log; lines that are not UTF-8 are read lossily (app output may be binary).
pub fn read_gc_log(mut reader: impl BufRead) -> io::Result<(Vec<GcEvent>, GcParseStats)> {
    let mut parser = GcLogParser::new();
    let mut events = Vec::new();
    let mut line = Vec::new();
    while read_line_capped(&mut reader, &mut line)? {
        if let LineOutcome::Event(e) = parser.feed(&String::from_utf8_lossy(&line)) {
            events.push(e);
        }
    }
    Ok((events, parser.stats))
}

/// Reads one line into `out` (without the newline), keeping at most `MAX_LINE_BYTES` of it.
/// Returns false at end of input.
fn read_line_capped(reader: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<bool> {
    out.clear();
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let room = MAX_LINE_BYTES.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = newline.map_or(buf.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(true);
        }
    }
}
