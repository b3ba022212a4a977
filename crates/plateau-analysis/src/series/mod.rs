//! Memory over time: the series model ([`MemorySeries`]) and the verdict on it ([`classify`]).
//!
//! A series holds several signals of one target (post-GC live heap, anonymous memory, working
//! set, RSS...), the memory limit in force, and restart / OOM-kill events. The classifier picks
//! the best signal, cuts the series at restarts and limit changes, and tells a leak from a
//! plateau, a warm-up or allocator retention (see `classify.rs` for the method).

mod classify;
mod stats;

pub use classify::{classify, Classification, ClassifyOptions, SegmentEnd, SegmentInfo, Verdict};
pub use stats::{mann_kendall, theil_sen, MannKendall, TheilSen};

use std::collections::BTreeMap;

/// Which memory measure a signal carries. The order is the evidence ladder, best first: a
/// rising post-GC live heap is a leak in the program; RSS can rise because the allocator keeps
/// freed pages; cgroup usage includes page cache and is never used alone when better exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Heap after a full collection (V8 Mark-Compact, JVM full and G1 mixed pauses, Go
    /// gctrace).
    GcLive,
    /// Heap in use as a runtime reports it (includes garbage: floor it).
    HeapUsed,
    /// Anonymous memory (`RssAnon`, `smaps_rollup` Anonymous, cgroup `anon`).
    Anonymous,
    /// cgroup usage minus inactive file pages (what the OOM killer weighs).
    WorkingSet,
    /// Resident set size (`VmRSS`, `process_resident_memory_bytes`).
    Resident,
    /// Heap after a partial collection (V8 Scavenge, JVM young pauses): live objects plus all
    /// the old garbage such a collection never visits, so it climbs between major collections
    /// even without a leak: weak evidence, below RSS.
    PostGc,
    /// cgroup usage including page cache (`memory.current`, `usage_in_bytes`).
    Usage,
    /// Bytes of unknown kind (a plain `timestamp,bytes` CSV).
    Bytes,
}

impl Signal {
    pub const ALL: [Signal; 8] = [
        Signal::GcLive,
        Signal::HeapUsed,
        Signal::Anonymous,
        Signal::WorkingSet,
        Signal::Resident,
        Signal::PostGc,
        Signal::Usage,
        Signal::Bytes,
    ];

    /// The short name used in files and JSON.
    pub fn key(self) -> &'static str {
        match self {
            Signal::GcLive => "gc_live",
            Signal::PostGc => "gc_after",
            Signal::HeapUsed => "heap_used",
            Signal::Anonymous => "anon",
            Signal::WorkingSet => "working_set",
            Signal::Resident => "rss",
            Signal::Usage => "usage",
            Signal::Bytes => "bytes",
        }
    }

    pub fn from_key(key: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Words for evidence lines.
    pub fn describe(self) -> &'static str {
        match self {
            Signal::GcLive => "post-GC live heap",
            Signal::PostGc => "heap after partial GCs",
            Signal::HeapUsed => "heap in use",
            Signal::Anonymous => "anonymous memory",
            Signal::WorkingSet => "working set",
            Signal::Resident => "resident memory (RSS)",
            Signal::Usage => "cgroup usage (with page cache)",
            Signal::Bytes => "memory",
        }
    }

    /// Readings taken right after collections: each is a floor candidate already, no
    /// sawtooth to see through.
    fn is_post_gc(self) -> bool {
        matches!(self, Signal::GcLive | Signal::PostGc)
    }

    /// Whether the limit (cgroup or host) applies to this measure, so its peak is what hits it.
    fn counts_against_limit(self) -> bool {
        matches!(
            self,
            Signal::Anonymous | Signal::WorkingSet | Signal::Resident | Signal::Bytes
        )
    }
}

/// One reading: seconds (any epoch; only differences matter) and bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: f64,
    pub bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The target restarted (new pid, new start time, restart counter).
    Restart,
    /// The kernel killed something in the target's cgroup for lack of memory.
    OomKill,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesEvent {
    pub t: f64,
    pub kind: EventKind,
}

/// Everything known about one target's memory over time.
#[derive(Clone, Debug, Default)]
pub struct MemorySeries {
    signals: BTreeMap<Signal, Vec<Point>>,
    limits: Vec<Point>,
    events: Vec<SeriesEvent>,
    out_of_order: usize,
}

impl MemorySeries {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a reading. A reading older than the signal's last one (a clock jump back) is
    /// counted and dropped: the series stays ordered.
    pub fn push(&mut self, signal: Signal, t: f64, bytes: u64) {
        let points = self.signals.entry(signal).or_default();
        if !t.is_finite() || points.last().is_some_and(|last| t < last.t) {
            self.out_of_order += 1;
            return;
        }
        points.push(Point { t, bytes });
    }

    /// Records the memory limit in force from `t` on (`None`: no limit). Repeats are ignored.
    pub fn set_limit(&mut self, t: f64, limit: Option<u64>) {
        // u64::MAX stands for "no limit" so a change from limited to unlimited is a change.
        let bytes = limit.unwrap_or(u64::MAX);
        if self.limits.last().is_some_and(|last| last.bytes == bytes) {
            return;
        }
        self.limits.push(Point { t, bytes });
    }

    pub fn push_event(&mut self, t: f64, kind: EventKind) {
        self.events.push(SeriesEvent { t, kind });
    }

    pub fn signal(&self, signal: Signal) -> &[Point] {
        self.signals.get(&signal).map_or(&[], Vec::as_slice)
    }

    /// Signals present, best evidence first.
    pub fn signals(&self) -> impl Iterator<Item = (Signal, &[Point])> {
        self.signals.iter().map(|(s, p)| (*s, p.as_slice()))
    }

    /// Limit changes, in order; `None` means unlimited from that time.
    pub fn limits(&self) -> impl Iterator<Item = (f64, Option<u64>)> + '_ {
        self.limits
            .iter()
            .map(|p| (p.t, (p.bytes != u64::MAX).then_some(p.bytes)))
    }

    pub fn events(&self) -> &[SeriesEvent] {
        &self.events
    }

    /// Readings dropped because their time went backwards.
    pub fn out_of_order(&self) -> usize {
        self.out_of_order
    }

    pub fn is_empty(&self) -> bool {
        self.signals.values().all(Vec::is_empty)
    }
}
