//! Java HPROF heap dumps (`jcmd <pid> GC.heap_dump`, `jmap -dump`, HotSpot's
//! `-XX:+HeapDumpOnOutOfMemoryError`, Android's ART via `JAVA PROFILE 1.0.3`): a streaming
//! reader into the same [`HeapGraph`] as V8 snapshots, with Java's semantics applied once.
//!
//! The reader never holds the file. One pass over any [`std::io::Read`] (gzip, including the
//! multi-member gzip `jcmd GC.heap_dump -gz` writes, is recognised and decompressed) turns
//! records into graph columns as they arrive:
//!
//! * **Nodes**: one per instance, object array, primitive array and class object (a
//!   `CLASS_DUMP`; its node's class is `java.lang.Class`, its name the class's own, dotted:
//!   `java.util.HashMap$Node`, `int[]`, `java.lang.String[]`), plus a synthetic root and one
//!   synthetic node per GC-root group (see below).
//! * **Edges**: instance fields by name (`table`, `value`), array elements by index, static
//!   fields from the class object (`static TOKENS`), `<class>` from every instance and object
//!   array to its class, `<super>`, `<classloader>`, `<signers>`, `<protection_domain>` from
//!   class objects. Null references make no edge. The `<class>` edges (over a third of all)
//!   are not collected: the graph keeps them as a rule, a bit a node
//!   ([`plateau_graph::ClassLinks`]), derived from the node columns at the end.
//! * **Roots**: the root's edges go to `Thread "main"`-style nodes (one per thread with a
//!   `ROOT_THREAD_OBJECT`; they lead to the `java.lang.Thread`, which in turn holds that
//!   thread's stack locals, JNI locals and monitors as `<local in Foo.bar(Foo.java:12)>`-style
//!   edges) and to one node per other root kind (`System class`, `JNI global`,
//!   `Busy monitor`, ..., and the thread-bound kinds whose thread is unknown). The thread
//!   nodes are the graph's user roots: retainer paths start from threads when they can.
//! * **Retention** ([`JAVA_RETENTION_RULE`]): `java.lang.ref.Reference.referent` edges are
//!   weak and never retain, nor do self references; everything else does, the `<class>`
//!   edge included (an instance keeps its class loaded, as in Eclipse MAT; a class is
//!   normally also held by its loader or as a system class, so it rarely ends up dominated
//!   by one of its instances).
//! * **Shallow sizes** follow Eclipse MAT's rules (formats.md section 2.9): header and
//!   reference sizes from the id size and a compressed-oops test on object-array addresses,
//!   object alignment from the greatest common divisor of address gaps.
//!
//! Instance field bytes are decoded as soon as the class and all its superclasses have been
//! dumped (HotSpot writes every `CLASS_DUMP` first, so that is always). An instance whose
//! class layout is not known yet (other writers interleave freely) keeps its raw field bytes
//! until the end of the stream; only such instances cost memory beyond the graph itself.
//! Heap-dump segments (about 1 MiB each from HotSpot) are decoded on a second core as well,
//! a few in flight, and appended in file order (`segments`), so the result, errors and
//! warnings included, are those of the single pass.
//!
//! ```no_run
//! use plateau_formats::hprof::{read, HprofOptions};
//! let file = std::io::BufReader::new(std::fs::File::open("heap.hprof.gz").unwrap());
//! let parsed = read(file, &HprofOptions::default(), &mut |_bytes| {}).unwrap();
//! println!("{} objects, id size {}", parsed.value.graph.node_count(), parsed.value.meta.id_size);
//! ```

mod build;
mod collections;
mod index;
pub(crate) mod input;
mod names;
mod reader;
mod segments;

use std::io::Read;

use plateau_graph::{HeapGraph, NodeId};

use crate::{FormatError, Parsed};
pub use names::java_class_name;

/// Which references keep their target alive in a Java heap graph, in one sentence for
/// reports (next to the V8 rule).
pub const JAVA_RETENTION_RULE: &str = "Java: java.lang.ref.Reference.referent never retains \
(weak, soft, phantom and final references alike, so a Finalizer does not keep the object it \
will finalize); objects held only that way hang off the root and are reported as weakly \
reachable. Every other reference retains, an object's <class> link included";

/// How to read a dump. `HprofOptions::default()` gives Eclipse MAT's default sizes.
#[derive(Clone, Debug)]
pub struct HprofOptions {
    /// Bytes read from the source at a time (default 4 MiB; at least 64). The buffer grows
    /// beyond this only for a single larger record part (a huge instance or symbol).
    pub buffer_size: usize,
    /// Link every instance and object array to its class object with a `<class>` edge
    /// (retaining, as in MAT; default true). The graph keeps them as a rule, a bit a node,
    /// rather than stored edges (see `plateau_graph::ClassLinks`).
    pub class_edges: bool,
    /// Count the `java.lang.Class` instance itself in a class object's shallow size, as MAT
    /// does with its "include class instance size" option. Default false: a class object's
    /// shallow size is its static fields only (MAT's default).
    pub class_instance_size: bool,
    /// Decode heap-dump segments on a second thread too, on machines with two cores or more
    /// (default true). The result is the same either way.
    pub parallel: bool,
}

impl Default for HprofOptions {
    fn default() -> Self {
        HprofOptions {
            buffer_size: 4 << 20,
            class_edges: true,
            class_instance_size: false,
            parallel: true,
        }
    }
}

/// What the dump says about itself, and what reading it found.
#[derive(Clone, Debug, Default)]
pub struct HprofMeta {
    /// `1.0.1`, `1.0.2` (HotSpot) or `1.0.3` (Android ART), from the header.
    pub version: String,
    /// Bytes of an identifier (object ids are addresses): 8 on 64-bit HotSpot, 4 on ART.
    pub id_size: u32,
    /// When the dump was taken, milliseconds since the Unix epoch (header).
    pub timestamp_ms: u64,
    /// Bytes of an object reference in the live heap: `id_size`, or 4 when compressed
    /// oops were detected.
    pub reference_size: u32,
    /// Compressed references detected (a 64-bit dump whose object arrays are packed closer
    /// than 8-byte elements allow).
    pub compressed_oops: bool,
    /// Object alignment in bytes: the greatest common divisor of address gaps, in 8..=256.
    pub object_alignment: u32,
    /// Bytes of an instance header (`id_size + reference_size`: 12 with compressed class
    /// pointers, 16 without, 8 on 32-bit).
    pub header_size: u32,
    /// `INSTANCE_DUMP` records (including `java.lang.Class` instances of primitive types).
    pub instances: u64,
    pub object_arrays: u64,
    /// `PRIMITIVE_ARRAY_DUMP` and Android's no-data variant.
    pub primitive_arrays: u64,
    /// `CLASS_DUMP` records (each one a class-object node).
    pub class_dumps: u64,
    /// `LOAD_CLASS` records, and how many named a class id already loaded (JDK 17 writes
    /// object-array classes twice).
    pub load_class_records: u64,
    pub duplicate_load_class: u64,
    /// `UTF8` records (JVM symbols).
    pub symbols: u64,
    pub stack_traces: u64,
    pub stack_frames: u64,
    /// `HEAP_DUMP` / `HEAP_DUMP_SEGMENT` records.
    pub heap_dump_records: u64,
    /// Whether the segments were closed by `HEAP_DUMP_END`.
    pub heap_dump_end: bool,
    /// GC roots by kind, as the dump lists them (`("JNI global", 39)`...), in tag order.
    pub roots: Vec<(&'static str, u64)>,
    /// Android heaps (`HEAP_DUMP_INFO`) and how many objects each holds, in first-seen order.
    pub heaps: Vec<(String, u64)>,
    /// References to ids the dump holds no object for (dropped).
    pub dangling_references: u64,
    /// Instances whose class was dumped after them (their fields were kept raw until the
    /// end of the stream).
    pub deferred_instances: u64,
    /// Σ shallow size of all objects (the graph's total).
    pub total_size: u64,
    /// Bytes of (decompressed) HPROF read.
    pub bytes_read: u64,
}

/// A thread of the dump: its `ROOT_THREAD_OBJECT` and stack.
#[derive(Clone, Debug)]
pub struct JavaThread {
    /// The thread serial number records refer to it by.
    pub serial: u32,
    /// The `java.lang.Thread` object, when the dump holds it.
    pub node: Option<NodeId>,
    /// The thread's name (`Thread.name` decoded), when the dump holds it.
    pub name: Option<String>,
    /// The synthetic root-group node named after the thread (`Thread "main"`).
    pub group: NodeId,
    /// The stack, innermost frame first, as `Foo.bar(Foo.java:12)`.
    pub frames: Vec<String>,
}

/// A Java heap dump as plateau keeps it.
#[derive(Clone, Debug)]
pub struct HprofDump {
    pub graph: HeapGraph,
    pub meta: HprofMeta,
    pub threads: Vec<JavaThread>,
}

/// Reads an HPROF heap dump (gzip is recognised and decompressed transparently).
/// `progress` is called with the number of bytes taken from `reader` so far, about once per
/// MiB — compare it with the file length for a progress bar.
pub fn read<R: Read + Send>(
    reader: R,
    options: &HprofOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed<HprofDump>, FormatError> {
    crate::with_source(reader, |source, consumed| {
        let input = input::Input::new(source, options.buffer_size, progress, consumed);
        let mut warnings = Vec::new();
        let collected = reader::collect(input, options, &mut warnings)?;
        let dump = build::build(collected, options, &mut warnings)?;
        Ok(Parsed {
            value: dump,
            warnings,
        })
    })
}
