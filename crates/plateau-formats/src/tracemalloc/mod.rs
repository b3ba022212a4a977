//! Python `tracemalloc` snapshots (`Snapshot.dump()`, a pickle): a streaming reader into an
//! [`AllocProfile`], that runs nothing.
//!
//! A dump is `pickle.dump(snapshot, f, pickle.HIGHEST_PROTOCOL)`: a `tracemalloc.Snapshot`
//! whose `__dict__` holds `traces` (a `tracemalloc._Traces` whose `_traces` is a list of raw
//! trace tuples) and `traceback_limit` (formats.md section 3). This module reads it with its
//! own pickle machine that knows only the opcodes `dump()` writes with protocols 2 to 5 and
//! only two globals, `tracemalloc.Snapshot` and `tracemalloc._Traces`, as names: any other
//! opcode (`REDUCE`, `INST`, `OBJ`, `EXT*`, `PERSID`...) or global (`os.system`...) is an
//! error naming it and its byte offset, reported before anything is done with it. No Python
//! object is ever created, so a hostile file can only be refused.
//!
//! Each trace adds `[size, 1]` to the sample of its traceback: value types `size`/`bytes`
//! (the default) and `count`/`count`, frames `("", filename, lineno)` (tracemalloc records no
//! function names), stacks leaf first (the most recent frame first, as the dump writes them).
//! So per-stack samples are what `Snapshot.statistics('traceback')` groups, and their leaf
//! frames what `statistics('lineno')` groups. Domains (`PyTraceMalloc_Track` users such as
//! numpy) are summed with everything else, as `statistics()` does; [`TracemallocMeta`] counts
//! the traces outside domain 0.
//!
//! All three trace layouts read: `(domain, size, frames, total_nframe)` (3.9+),
//! `(domain, size, frames)` (3.6-3.8), `(size, frames)` (3.4-3.5). `_traces` may be a list
//! (what every version writes) or a tuple.
//!
//! The file is never held: traces go into the profile as they are read, and what stays is
//! the pickle memo (16 bytes per memoized value: about one per trace) and one sample per
//! distinct traceback. gzip input is decompressed transparently.
//!
//! ```
//! use plateau_formats::tracemalloc::{read, TracemallocOptions};
//! // pickletools.optimize(pickle.dumps(Snapshot([(0, 64, (('app.py', 3),), 1)], 1), 5))
//! let dump: &[u8] = b"\x80\x05\x95k\x00\x00\x00\x00\x00\x00\x00\x8c\x0btracemalloc\x94\
//!     \x8c\x08Snapshot\x93)\x81}(\x8c\x06tracesh\x00\x8c\x07_Traces\x93)\x81}\x8c\x07_traces\
//!     ](K\x00K@\x8c\x06app.pyK\x03\x86\x85K\x01tasb\x8c\x0ftraceback_limitK\x01ub.";
//! let parsed = read(dump, &TracemallocOptions::default(), &mut |_| {}).unwrap();
//! let profile = &parsed.value.profile;
//! assert_eq!(profile.total(0), 64);
//! assert_eq!(parsed.value.meta.traces, 1);
//! assert_eq!(profile.frames()[0].file, "app.py");
//! ```

mod pickle;

use std::io::Read;

use plateau_profile::{AllocProfile, Producer, ProfileBuilder, ValueType};

use crate::hprof::input::Input;
use crate::{FormatError, Parsed};
pub use pickle::TraceLayout;
use pickle::{Class, List, Machine, Value};

/// How to read a snapshot.
#[derive(Clone, Debug)]
pub struct TracemallocOptions {
    /// Bytes read from the source at a time (default 1 MiB; at least 64). Grows only for a
    /// single longer string.
    pub buffer_size: usize,
}

impl Default for TracemallocOptions {
    fn default() -> Self {
        TracemallocOptions {
            buffer_size: 1 << 20,
        }
    }
}

/// What the dump says about itself, and what reading it found.
#[derive(Clone, Debug, Default)]
pub struct TracemallocMeta {
    /// The pickle protocol (5 from Python 3.8 on, 4 before).
    pub protocol: u8,
    /// The traces' tuple layout; None when there are no traces.
    pub layout: Option<TraceLayout>,
    /// Traces read (`len(snapshot.traces)`).
    pub traces: u64,
    /// Σ size over the traces, bytes.
    pub total_size: u64,
    /// `snapshot.traceback_limit`: frames kept per trace.
    pub traceback_limit: u32,
    /// Traces whose `total_nframe` says the traceback was cut at `traceback_limit` (3.9+
    /// layout only; always 0 for older ones, which do not record it).
    pub truncated_traces: u64,
    /// Traces outside domain 0 (memory tracked through `PyTraceMalloc_Track`, e.g. numpy).
    pub foreign_domain_traces: u64,
    /// Distinct tracebacks (stacks with at least one trace).
    pub tracebacks: u64,
    /// Bytes of (decompressed) pickle read, up to and including `STOP`.
    pub bytes_read: u64,
}

/// A tracemalloc snapshot as plateau keeps it.
#[derive(Clone, Debug)]
pub struct TracemallocDump {
    /// Value types `[size (bytes), count (count)]`, default `size`; one sample per distinct
    /// traceback; `traceback_limit` set.
    pub profile: AllocProfile,
    pub meta: TracemallocMeta,
}

/// Reads a `tracemalloc.Snapshot.dump()` file (gzip is recognised and decompressed
/// transparently). `progress` is called with the number of bytes taken from `reader` so far,
/// about once per MiB.
pub fn read<R: Read + Send>(
    reader: R,
    options: &TracemallocOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed<TracemallocDump>, FormatError> {
    crate::with_source(reader, |source, consumed| {
        let input = Input::new(source, options.buffer_size.max(64), progress, consumed);
        let builder = ProfileBuilder::new(
            Producer::Tracemalloc,
            vec![
                ValueType::new("size", "bytes"),
                ValueType::new("count", "count"),
            ],
        );
        let mut m = Machine::new(input, builder);
        let mut warnings = Vec::new();
        m.header()?;
        let (root, stop_at) = m.run()?;
        let bytes_read = m.input.offset();
        if !m.stack.is_empty() {
            warnings.push(format!(
                "{} value(s) left on the pickle stack under the snapshot at STOP were ignored \
                 (as Python's pickle.load ignores them)",
                m.stack.len()
            ));
        }
        let traceback_limit = validate(&mut m, root, stop_at, &mut warnings)?;
        if m.input.fill(1)? {
            warnings.push(format!(
                "bytes after the pickle's STOP opcode (from byte {bytes_read}) were ignored, as \
                 Python's Snapshot.load ignores them"
            ));
        }
        if m.input.cut_short() {
            warnings.push(format!(
                "the compressed stream ends early (after {} bytes of pickle), past the pickle's \
                 STOP: the snapshot itself is complete",
                m.input.offset() + m.input.available() as u64
            ));
        }
        m.input.finish_progress();
        if m.bad_utf8 > 0 {
            warnings.push(format!(
                "{} string(s) were not valid UTF-8 (file names with undecodable bytes, written as \
                 lone surrogates); their invalid bytes read as U+FFFD",
                m.bad_utf8
            ));
        }

        let stats = &m.stats;
        let mut meta = TracemallocMeta {
            protocol: m.protocol,
            layout: stats.layout,
            traces: stats.traces,
            total_size: stats.total_size.max(0) as u64,
            traceback_limit,
            truncated_traces: stats.truncated,
            foreign_domain_traces: stats.foreign_domain,
            tracebacks: 0,
            bytes_read,
        };
        let Machine { mut builder, .. } = m;
        {
            let p = builder.meta();
            p.default_value = 0;
            p.traceback_limit = Some(traceback_limit);
            if meta.truncated_traces > 0 {
                p.comments.push(format!(
                    "{} of {} traces had deeper stacks than the traceback_limit of {} frames kept",
                    meta.truncated_traces, meta.traces, traceback_limit
                ));
            }
        }
        let profile = builder.finish();
        meta.tracebacks = profile.samples().len() as u64;
        Ok(Parsed {
            value: TracemallocDump { profile, meta },
            warnings,
        })
    })
}

/// Checks that the pickled value is a snapshot and that its traces are the ones that went
/// into the profile; returns `traceback_limit`.
fn validate(
    m: &mut Machine<'_>,
    root: Value,
    at: u64,
    warnings: &mut Vec<String>,
) -> Result<u32, FormatError> {
    let not = |what: String| FormatError::NotTracemalloc(what);
    let snapshot = object_of(m, root, Class::Snapshot).ok_or_else(|| {
        not(format!(
            "the pickle (STOP at byte {at}) holds {}, expected a tracemalloc.Snapshot object",
            m.describe(root)
        ))
    })?;
    let mut traces = None;
    let mut limit = None;
    let mut unknown = Unknown::default();
    each_attr(
        m,
        snapshot,
        "tracemalloc.Snapshot",
        |key, value| match key {
            "traces" => traces = Some(value),
            "traceback_limit" => limit = Some(value),
            _ => unknown.add(key),
        },
    )?;
    unknown.warn("tracemalloc.Snapshot", warnings);
    let traces = traces.ok_or_else(|| {
        not("the tracemalloc.Snapshot has no \"traces\" attribute (it was never built)".into())
    })?;
    let limit = match limit {
        Some(Value::Int(n)) if (0..=u32::MAX as i64).contains(&n) => n as u32,
        Some(v) => {
            return Err(not(format!(
                "the Snapshot's traceback_limit is {}, expected an int from 0 to 2^32-1",
                m.describe(v)
            )))
        }
        None => {
            return Err(not(
                "the tracemalloc.Snapshot has no \"traceback_limit\" attribute".into(),
            ))
        }
    };
    let holder = object_of(m, traces, Class::Traces).ok_or_else(|| {
        not(format!(
            "the Snapshot's traces are {}, expected a tracemalloc._Traces object",
            m.describe(traces)
        ))
    })?;
    let mut raw = None;
    let mut unknown = Unknown::default();
    each_attr(m, holder, "tracemalloc._Traces", |key, value| match key {
        "_traces" => raw = Some(value),
        _ => unknown.add(key),
    })?;
    unknown.warn("tracemalloc._Traces", warnings);
    let raw =
        raw.ok_or_else(|| not("the tracemalloc._Traces has no \"_traces\" attribute".into()))?;
    let elsewhere = |m: &Machine<'_>| {
        not(format!(
            "{} traces were appended to a list that is not the snapshot's _traces",
            m.stats.traces
        ))
    };
    match raw {
        Value::List(l) => match &m.lists[l as usize] {
            List::Traces => {}
            List::Items(items) if items.is_empty() => {
                if m.trace_list.is_some() {
                    return Err(elsewhere(m));
                }
            }
            List::Items(items) => {
                let first = items[0];
                return Err(not(format!(
                    "the snapshot's _traces list holds {}, expected trace tuples",
                    m.describe(first)
                )));
            }
        },
        Value::EmptyTuple => {
            if m.trace_list.is_some() {
                return Err(elsewhere(m));
            }
        }
        Value::Tuple(t) => {
            if m.trace_list.is_some() {
                return Err(elsewhere(m));
            }
            for i in 0..m.tuples[t as usize].len() {
                let v = m.tuples[t as usize][i];
                if !matches!(v, Value::Trace { .. }) {
                    return Err(not(format!(
                        "the snapshot's _traces tuple holds {}, expected trace tuples",
                        m.describe(v)
                    )));
                }
                m.add_trace(v, at)?;
            }
        }
        v => {
            return Err(not(format!(
                "the snapshot's _traces is {}, expected a list of trace tuples",
                m.describe(v)
            )))
        }
    }
    Ok(limit)
}

fn object_of(m: &Machine<'_>, v: Value, class: Class) -> Option<u32> {
    match v {
        Value::Object(o) if m.objects[o as usize].class == class => Some(o),
        _ => None,
    }
}

/// Calls `f` with an object's attributes in the order they were set (so later ones win, as
/// in Python).
fn each_attr(
    m: &Machine<'_>,
    object: u32,
    class: &str,
    mut f: impl FnMut(&str, Value),
) -> Result<(), FormatError> {
    let o = &m.objects[object as usize];
    if o.builds.is_empty() {
        return Err(FormatError::NotTracemalloc(format!(
            "the {class} object has no state (no BUILD): Snapshot.dump() always writes its \
             __dict__"
        )));
    }
    for &(dict, len) in &o.builds {
        for &(k, v) in &m.dicts[dict as usize][..len] {
            match k {
                Value::Str(s) => f(&m.strings[s as usize], v),
                k => {
                    return Err(FormatError::NotTracemalloc(format!(
                        "the {class}'s state has the key {}, expected attribute names (str)",
                        m.describe(k)
                    )))
                }
            }
        }
    }
    Ok(())
}

/// Attribute names tracemalloc does not write: the first few by name, then a count.
#[derive(Default)]
struct Unknown {
    names: Vec<String>,
    more: u64,
}

impl Unknown {
    const SHOWN: usize = 5;

    fn add(&mut self, key: &str) {
        if self.names.iter().any(|n| n == key) {
            return;
        }
        if self.names.len() < Self::SHOWN {
            self.names.push(key.to_string());
        } else {
            self.more += 1;
        }
    }

    fn warn(self, class: &str, warnings: &mut Vec<String>) {
        for key in &self.names {
            warnings.push(format!(
                "the {class} has an attribute {key:?} tracemalloc does not write; ignored"
            ));
        }
        if self.more > 0 {
            warnings.push(format!(
                "the {class} has {} more attributes tracemalloc does not write (repeats \
                 included); ignored",
                self.more
            ));
        }
    }
}
