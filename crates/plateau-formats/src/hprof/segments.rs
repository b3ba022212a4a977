//! Heap-dump segments decoded on two cores.
//!
//! A HotSpot dump holds its heap in segments of about 1 MiB (2,043 at 2 GB): the class dumps
//! at the start, then runs of instance, array and root sub-records. Once the classes'
//! layouts are known, decoding such a run needs nothing the reader changes, so the reader
//! hands whole segments to a worker thread (and decodes queued ones itself while it waits)
//! and appends the decoded columns in file order: nodes and edges are numbered exactly as
//! the single pass numbers them. A segment holding anything else (a class dump, an instance
//! of a class without a known layout, a record that does not fit) is decoded by the reader's
//! own single pass instead, in its turn, so errors and warnings are the single pass's own.

use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex};

use plateau_graph::{NodeKind, U64Column};

use super::collections::Counted;
use super::index::IdMap;
use super::reader::{
    count_root, encode_id, fold_gap, id_at, keeps_contents, push_element_edges, type_size, u32_at,
    EdgeColumns, InstanceFields, Layout, NodeColumns, OverlapTest, RecentClasses, Root, RootShape,
    INSTANCE_DUMP, NONE, OBJ_ARRAY_DUMP, PRIM_ARRAY_DUMP, PRIM_ARRAY_NODATA, T_OBJECT,
};

/// Larger segments (and plain `HEAP_DUMP` records, which can hold a whole heap) are read by
/// the single pass, which never holds a record in memory.
pub(crate) const MAX_SEGMENT: u64 = 64 << 20;

/// Segments read but not yet appended: enough to keep both cores busy, a few MiB.
pub(crate) const IN_FLIGHT: usize = 8;

/// What decoding a segment needs of the classes: a snapshot of the reader's.
pub(crate) struct Frozen {
    pub(crate) id: usize,
    pub(crate) class_by_id: IdMap<u64, u32>,
    /// Each class's layout (an index into `layouts`), `NONE` when it has none.
    pub(crate) layout_of: Vec<u32>,
    pub(crate) layouts: Vec<Layout>,
    /// Primitive array classes by element type.
    pub(crate) prim_classes: [u32; 12],
}

/// A segment's sub-records, with nodes numbered from 0 and edge offsets from 0.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) nodes: NodeColumns,
    pub(crate) edges: EdgeColumns,
    pub(crate) roots: Vec<Root>,
    pub(crate) root_counts: Vec<(u8, u64)>,
    pub(crate) utf16: Vec<u32>,
    pub(crate) counted: Vec<Counted>,
    /// Array contents worth keeping: (node, start in `short_bytes`, length, element type).
    /// The store's limit is applied when the segment is appended.
    pub(crate) short_index: Vec<(u32, u32, u16, u8)>,
    pub(crate) short_bytes: Vec<u8>,
    pub(crate) instances: u64,
    pub(crate) object_arrays: u64,
    pub(crate) primitive_arrays: u64,
    pub(crate) layout_mismatches: u64,
    /// The first object's id, the last one's, and the GCD of the gaps between (0: none).
    pub(crate) first_id: Option<u64>,
    pub(crate) last_id: u64,
    pub(crate) gcd: u64,
    /// The first object array (8-byte ids only) and the overlap test over the segment's.
    pub(crate) first_array: Option<(u64, u64)>,
    pub(crate) overlap: OverlapTest,
}

impl Decoded {
    /// Empties every column, keeping their allocations for the next segment.
    fn clear(&mut self) {
        let nodes = &mut self.nodes;
        nodes.kinds.clear();
        clear_column(&mut nodes.ids);
        nodes.classes.clear();
        clear_column(&mut nodes.raw);
        nodes.first_edge.clear();
        let edges = &mut self.edges;
        edges.kinds.clear();
        edges.names.clear();
        clear_column(&mut edges.targets);
        self.roots.clear();
        self.root_counts.clear();
        self.utf16.clear();
        self.counted.clear();
        self.short_index.clear();
        self.short_bytes.clear();
        self.instances = 0;
        self.object_arrays = 0;
        self.primitive_arrays = 0;
        self.layout_mismatches = 0;
        self.first_id = None;
        self.last_id = 0;
        self.gcd = 0;
        self.first_array = None;
        self.overlap = OverlapTest::default();
    }
}

fn clear_column(column: &mut U64Column) {
    match column {
        U64Column::Narrow(v) => v.clear(),
        U64Column::Wide(_) => *column = U64Column::new(),
    }
}

/// Appends `from` to `to`, widening `to` when `from` holds 64-bit values.
pub(crate) fn append_column(to: &mut U64Column, from: &U64Column) {
    match (&mut *to, from) {
        (U64Column::Narrow(a), U64Column::Narrow(b)) => a.extend_from_slice(b),
        (U64Column::Wide(a), U64Column::Narrow(b)) => a.extend(b.iter().map(|&x| x as u64)),
        (U64Column::Wide(a), U64Column::Wide(b)) => a.extend_from_slice(b),
        (U64Column::Narrow(a), U64Column::Wide(b)) => {
            let mut wide: Vec<u64> = Vec::with_capacity(a.len() + b.len());
            wide.extend(a.iter().map(|&x| x as u64));
            wide.extend_from_slice(b);
            *to = U64Column::Wide(wide);
        }
    }
}

/// Decodes `bytes`, one segment's body, into `out` (cleared first). `false` when the segment
/// needs the single pass.
pub(crate) fn decode(frozen: &Frozen, bytes: &[u8], out: &mut Decoded) -> bool {
    out.clear();
    let mut decoder = Decoder {
        frozen,
        out,
        recent: RecentClasses::new(),
    };
    let id = frozen.id;
    let mut at = 0;
    while at < bytes.len() {
        let tag = bytes[at];
        let body = &bytes[at + 1..];
        let used = match tag {
            INSTANCE_DUMP => decoder.instance(body),
            OBJ_ARRAY_DUMP => decoder.object_array(body),
            PRIM_ARRAY_DUMP | PRIM_ARRAY_NODATA => decoder.primitive_array(tag, body),
            _ => RootShape::of(tag, id).and_then(|shape| {
                let b = body.get(..shape.len)?;
                decoder.out.roots.push(shape.read(tag, b, id));
                count_root(&mut decoder.out.root_counts, tag);
                Some(shape.len)
            }),
        };
        match used {
            Some(used) => at += 1 + used,
            None => return false,
        }
    }
    true
}

struct Decoder<'a> {
    frozen: &'a Frozen,
    out: &'a mut Decoded,
    recent: RecentClasses,
}

impl Decoder<'_> {
    /// The class of `class_id`, `None` when the snapshot does not know it.
    #[inline]
    fn class(&mut self, class_id: u64) -> Option<u32> {
        if let Some(c) = self.recent.get(class_id) {
            return Some(c);
        }
        let c = *self.frozen.class_by_id.get(&class_id)?;
        self.recent.remember(class_id, c);
        Some(c)
    }

    #[inline]
    fn node(&mut self, kind: NodeKind, obj: u64, class: u32, raw: u64) -> u32 {
        let out = &mut *self.out;
        let n = out.nodes.kinds.len() as u32;
        let first_edge = out.edges.kinds.len() as u32;
        out.nodes
            .push(kind, encode_id(obj, self.frozen.id), class, raw, first_edge);
        match out.first_id {
            None => out.first_id = Some(obj),
            Some(_) => out.gcd = fold_gap(out.gcd, out.last_id, obj),
        }
        out.last_id = obj;
        n
    }

    /// An `INSTANCE_DUMP`'s body; the bytes it takes.
    fn instance(&mut self, b: &[u8]) -> Option<usize> {
        let id = self.frozen.id;
        let fixed = 2 * id + 8;
        let head = b.get(..fixed)?;
        let obj = id_at(head, 0, id);
        let class_id = id_at(head, id + 4, id);
        let n = u32_at(head, 2 * id + 4) as usize;
        let fields = b.get(fixed..fixed + n)?;
        let c = self.class(class_id)?;
        let layout = match self.frozen.layout_of[c as usize] {
            NONE => return None,
            l => &self.frozen.layouts[l as usize],
        };
        let node = self.node(NodeKind::Object, obj, c, n as u64);
        self.out.instances += 1;
        let out = &mut *self.out;
        InstanceFields::read(layout, node, fields, id, &mut out.edges).keep(
            node,
            &mut out.layout_mismatches,
            &mut out.utf16,
            &mut out.counted,
        );
        Some(fixed + n)
    }

    /// An `OBJECT_ARRAY_DUMP`'s body; the bytes it takes.
    fn object_array(&mut self, b: &[u8]) -> Option<usize> {
        let id = self.frozen.id;
        let fixed = 2 * id + 8;
        let head = b.get(..fixed)?;
        let obj = id_at(head, 0, id);
        let len = u32_at(head, id + 4) as u64;
        let class_id = id_at(head, id + 8, id);
        let data = len as usize * id;
        let elements = b.get(fixed..fixed + data)?;
        let c = self.class(class_id)?;
        self.node(NodeKind::Array, obj, c, len);
        self.out.object_arrays += 1;
        if id == 8 {
            self.out.first_array.get_or_insert((obj, len));
            self.out.overlap.see(obj, len);
        }
        push_element_edges(elements, id, 0, &mut self.out.edges);
        Some(fixed + data)
    }

    /// A `PRIMITIVE_ARRAY_DUMP`'s (or `PRIMITIVE_ARRAY_NODATA`'s) body; the bytes it takes.
    fn primitive_array(&mut self, tag: u8, b: &[u8]) -> Option<usize> {
        let id = self.frozen.id;
        let fixed = id + 9;
        let head = b.get(..fixed)?;
        let obj = id_at(head, 0, id);
        let len = u32_at(head, id + 4) as u64;
        let t = head[id + 8];
        let elem = match type_size(t, id) {
            Some(size) if t != T_OBJECT => size,
            _ => return None,
        };
        let data = if tag == PRIM_ARRAY_NODATA {
            0
        } else {
            len as usize * elem
        };
        let contents = b.get(fixed..fixed + data)?;
        let c = *self.frozen.prim_classes.get(t as usize)?;
        if c == NONE {
            return None;
        }
        let node = self.node(NodeKind::Array, obj, c, len);
        self.out.primitive_arrays += 1;
        if keeps_contents(t, data as u64) {
            let out = &mut *self.out;
            let start = out.short_bytes.len() as u32;
            out.short_bytes.extend_from_slice(contents);
            out.short_index.push((node, start, data as u16, t));
        }
        Some(fixed + data)
    }
}

/// A segment to decode, with the buffers it is decoded into.
pub(crate) struct Job {
    pub(crate) bytes: Vec<u8>,
    pub(crate) len: usize,
    pub(crate) frozen: Arc<Frozen>,
    pub(crate) out: Decoded,
    pub(crate) reply: SyncSender<Done>,
}

/// A decoded segment (`ok` false: it needs the single pass), with its buffers.
pub(crate) struct Done {
    pub(crate) bytes: Vec<u8>,
    pub(crate) len: usize,
    pub(crate) out: Decoded,
    pub(crate) ok: bool,
}

impl Job {
    pub(crate) fn run(self) {
        let Job {
            bytes,
            len,
            frozen,
            mut out,
            reply,
        } = self;
        let ok = decode(&frozen, &bytes[..len], &mut out);
        // The reader may have stopped at an error: nobody waits for this segment then.
        let _ = reply.send(Done {
            bytes,
            len,
            out,
            ok,
        });
    }
}

/// The queue between the reader and the worker thread.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<(VecDeque<Job>, bool)>,
    wake: Condvar,
}

impl Queue {
    pub(crate) fn push(&self, job: Job) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.push_back(job);
        self.wake.notify_one();
    }

    /// The oldest job no thread has started.
    pub(crate) fn steal(&self) -> Option<Job> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.pop_front()
    }

    /// No more jobs: the worker returns after the one it is running (the reader has settled
    /// every segment it needs by now; the rest, after an error, are dropped).
    pub(crate) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.clear();
        state.1 = true;
        self.wake.notify_all();
    }

    /// The worker thread: runs jobs until the queue is closed and empty.
    pub(crate) fn work(&self) {
        loop {
            let job = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(job) = state.0.pop_front() {
                        break job;
                    }
                    if state.1 {
                        return;
                    }
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            job.run();
        }
    }
}

/// Closes the queue when dropped, however the reading ends.
pub(crate) struct CloseOnDrop<'a>(pub(crate) &'a Queue);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}
