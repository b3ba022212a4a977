//! The streaming pass: HPROF records into node and edge columns, with object ids still raw
//! (they are resolved to nodes once every object has been seen, in `build`).

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use plateau_graph::{EdgeKind, NodeKind, U64Column, MAX_NODES};

use super::collections::{self, Counted, CountingField};
use super::index::IdMap;
use super::input::Input;
use super::segments::{
    append_column, CloseOnDrop, Decoded, Done, Frozen, Job, Queue, IN_FLIGHT, MAX_SEGMENT,
};
use super::HprofOptions;
use crate::FormatError;

pub(crate) const NONE: u32 = u32::MAX;

/// Slots of the decoders' recent-class cache.
const RECENT_CLASSES: usize = 64;

/// Recently seen class ids and their class indices, by a few bits of the id: objects of a
/// handful of classes alternate (a String, its bytes, a map node), which one remembered class
/// kept sending to the hash map. Class ids are addresses, 8-aligned: the bits above the
/// alignment spread them.
pub(crate) struct RecentClasses(Box<[(u64, u32); RECENT_CLASSES]>);

impl RecentClasses {
    pub(crate) fn new() -> RecentClasses {
        RecentClasses(Box::new([(0, NONE); RECENT_CLASSES]))
    }

    /// The class of `class_id` if it was seen lately.
    #[inline]
    pub(crate) fn get(&self, class_id: u64) -> Option<u32> {
        match self.0[(class_id >> 3) as usize % RECENT_CLASSES] {
            (id, c) if id == class_id && c != NONE => Some(c),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn remember(&mut self, class_id: u64, class: u32) {
        self.0[(class_id >> 3) as usize % RECENT_CLASSES] = (class_id, class);
    }
}

// Top-level record tags.
const UTF8: u8 = 0x01;
const LOAD_CLASS: u8 = 0x02;
const STACK_FRAME: u8 = 0x04;
const STACK_TRACE: u8 = 0x05;
const START_THREAD: u8 = 0x0A;
const HEAP_DUMP: u8 = 0x0C;
const HEAP_DUMP_SEGMENT: u8 = 0x1C;
const HEAP_DUMP_END: u8 = 0x2C;

// Heap-dump sub-record tags.
pub(crate) const ROOT_UNKNOWN: u8 = 0xFF;
pub(crate) const ROOT_JNI_GLOBAL: u8 = 0x01;
pub(crate) const ROOT_JNI_LOCAL: u8 = 0x02;
pub(crate) const ROOT_JAVA_FRAME: u8 = 0x03;
pub(crate) const ROOT_NATIVE_STACK: u8 = 0x04;
pub(crate) const ROOT_STICKY_CLASS: u8 = 0x05;
pub(crate) const ROOT_THREAD_BLOCK: u8 = 0x06;
pub(crate) const ROOT_MONITOR_USED: u8 = 0x07;
pub(crate) const ROOT_THREAD_OBJECT: u8 = 0x08;
const CLASS_DUMP: u8 = 0x20;
pub(crate) const INSTANCE_DUMP: u8 = 0x21;
pub(crate) const OBJ_ARRAY_DUMP: u8 = 0x22;
pub(crate) const PRIM_ARRAY_DUMP: u8 = 0x23;
const HEAP_DUMP_INFO: u8 = 0xFE;
pub(crate) const ROOT_INTERNED_STRING: u8 = 0x89;
pub(crate) const ROOT_FINALIZING: u8 = 0x8A;
pub(crate) const ROOT_DEBUGGER: u8 = 0x8B;
pub(crate) const ROOT_REFERENCE_CLEANUP: u8 = 0x8C;
pub(crate) const ROOT_VM_INTERNAL: u8 = 0x8D;
pub(crate) const ROOT_JNI_MONITOR: u8 = 0x8E;
pub(crate) const UNREACHABLE: u8 = 0x90;
pub(crate) const PRIM_ARRAY_NODATA: u8 = 0xC3;

// Basic types.
pub(crate) const T_OBJECT: u8 = 2;
pub(crate) const T_CHAR: u8 = 5;
pub(crate) const T_BYTE: u8 = 8;

/// Longest `byte[]`/`char[]` (in bytes) whose contents are kept, for naming threads and
/// `String`s (duplicate strings are found among these).
const SHORT_ARRAY_MAX: usize = 256;
/// At most this many bytes of such contents are kept: strings dumped after the store is
/// full keep the class name, and threads fall back to their serial number.
const SHORT_STORE_LIMIT: usize = 64 << 20;

pub(crate) fn record_name(tag: u8) -> &'static str {
    match tag {
        UTF8 => "UTF8",
        LOAD_CLASS => "LOAD_CLASS",
        0x03 => "UNLOAD_CLASS",
        STACK_FRAME => "STACK_FRAME",
        STACK_TRACE => "STACK_TRACE",
        0x06 => "ALLOC_SITES",
        0x07 => "HEAP_SUMMARY",
        START_THREAD => "START_THREAD",
        0x0B => "END_THREAD",
        HEAP_DUMP => "HEAP_DUMP",
        0x0D => "CPU_SAMPLES",
        0x0E => "CONTROL_SETTINGS",
        HEAP_DUMP_SEGMENT => "HEAP_DUMP_SEGMENT",
        HEAP_DUMP_END => "HEAP_DUMP_END",
        _ => "unknown",
    }
}

pub(crate) fn sub_record_name(tag: u8) -> &'static str {
    match tag {
        ROOT_UNKNOWN => "ROOT_UNKNOWN",
        ROOT_JNI_GLOBAL => "ROOT_JNI_GLOBAL",
        ROOT_JNI_LOCAL => "ROOT_JNI_LOCAL",
        ROOT_JAVA_FRAME => "ROOT_JAVA_FRAME",
        ROOT_NATIVE_STACK => "ROOT_NATIVE_STACK",
        ROOT_STICKY_CLASS => "ROOT_STICKY_CLASS",
        ROOT_THREAD_BLOCK => "ROOT_THREAD_BLOCK",
        ROOT_MONITOR_USED => "ROOT_MONITOR_USED",
        ROOT_THREAD_OBJECT => "ROOT_THREAD_OBJECT",
        CLASS_DUMP => "CLASS_DUMP",
        INSTANCE_DUMP => "INSTANCE_DUMP",
        OBJ_ARRAY_DUMP => "OBJECT_ARRAY_DUMP",
        PRIM_ARRAY_DUMP => "PRIMITIVE_ARRAY_DUMP",
        HEAP_DUMP_INFO => "HEAP_DUMP_INFO",
        ROOT_INTERNED_STRING => "ROOT_INTERNED_STRING",
        ROOT_FINALIZING => "ROOT_FINALIZING",
        ROOT_DEBUGGER => "ROOT_DEBUGGER",
        ROOT_REFERENCE_CLEANUP => "ROOT_REFERENCE_CLEANUP",
        ROOT_VM_INTERNAL => "ROOT_VM_INTERNAL",
        ROOT_JNI_MONITOR => "ROOT_JNI_MONITOR",
        UNREACHABLE => "UNREACHABLE",
        PRIM_ARRAY_NODATA => "PRIMITIVE_ARRAY_NODATA",
        _ => "unknown",
    }
}

/// Bytes of a value of basic type `t`; `None` for a byte that is no basic type.
#[inline]
pub(crate) fn type_size(t: u8, id_size: usize) -> Option<usize> {
    match t {
        T_OBJECT => Some(id_size),
        4 | 8 => Some(1),
        5 | 9 => Some(2),
        6 | 10 => Some(4),
        7 | 11 => Some(8),
        _ => None,
    }
}

/// The JVM's name of a primitive array class by element type (`[I`).
pub(crate) fn primitive_array_descriptor(t: u8) -> Option<&'static str> {
    Some(match t {
        4 => "[Z",
        5 => "[C",
        6 => "[F",
        7 => "[D",
        8 => "[B",
        9 => "[S",
        10 => "[I",
        11 => "[J",
        _ => return None,
    })
}

#[inline]
pub(crate) fn id_at(bytes: &[u8], at: usize, id_size: usize) -> u64 {
    if id_size == 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(b)
    } else {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        u32::from_be_bytes(b) as u64
    }
}

#[inline]
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

#[inline]
fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// JVM symbols (`UTF8` records), raw modified UTF-8 back to back.
#[derive(Default)]
pub(crate) struct Symbols {
    spans: IdMap<u64, (usize, u32)>,
    bytes: Vec<u8>,
}

impl Symbols {
    pub(crate) fn get(&self, id: u64) -> Option<&[u8]> {
        self.spans
            .get(&id)
            .map(|&(start, len)| &self.bytes[start..start + len as usize])
    }

    pub(crate) fn is(&self, id: u64, text: &[u8]) -> bool {
        self.get(id) == Some(text)
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// An edge name before the graph's string table exists: field and static names are symbol
/// ids, whose text may arrive after the records that use them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NameKey {
    Field(u64),
    Static(u64),
    Text(Box<str>),
}

pub(crate) const KEY_CLASS: u32 = 0;
const KEY_SUPER: u32 = 1;
const KEY_LOADER: u32 = 2;
const KEY_SIGNERS: u32 = 3;
const KEY_PROTECTION_DOMAIN: u32 = 4;

pub(crate) struct NameKeys {
    map: HashMap<NameKey, u32>,
    pub(crate) list: Vec<NameKey>,
}

impl NameKeys {
    fn new() -> NameKeys {
        let mut keys = NameKeys {
            map: HashMap::new(),
            list: Vec::new(),
        };
        for (expected, text) in [
            (KEY_CLASS, "<class>"),
            (KEY_SUPER, "<super>"),
            (KEY_LOADER, "<classloader>"),
            (KEY_SIGNERS, "<signers>"),
            (KEY_PROTECTION_DOMAIN, "<protection_domain>"),
        ] {
            let got = keys.key(NameKey::Text(text.into()));
            debug_assert_eq!(got, expected);
        }
        keys
    }

    pub(crate) fn key(&mut self, key: NameKey) -> u32 {
        if let Some(&k) = self.map.get(&key) {
            return k;
        }
        let k = self.list.len() as u32;
        self.list.push(key.clone());
        self.map.insert(key, k);
        k
    }
}

/// How a class is named.
#[derive(Clone, Debug)]
pub(crate) enum ClassName {
    /// Neither a `LOAD_CLASS` nor a synthetic name.
    Unnamed,
    /// A symbol id from `LOAD_CLASS` (internal form, `java/lang/String`).
    Symbol(u64),
    /// A name plateau gives (primitive array classes the dump never loads).
    Text(String),
}

pub(crate) struct ClassDef {
    pub(crate) id: u64,
    pub(crate) name: ClassName,
    /// The class object's node, `NONE` until its `CLASS_DUMP`.
    pub(crate) node: u32,
    pub(crate) super_id: u64,
    /// The defining class loader's object id (0: the bootstrap loader).
    pub(crate) loader: u64,
    /// Own instance fields in descriptor order: (name symbol, basic type).
    pub(crate) fields: Vec<(u64, u8)>,
    pub(crate) static_refs: u32,
    pub(crate) static_prim_bytes: u64,
    /// The flattened layout (`Collected::layouts`), `NONE` until known.
    pub(crate) layout: u32,
    /// `class_dumps` when a layout was last found incomplete (retry only after more dumps).
    layout_tried: u64,
}

impl ClassDef {
    fn new(id: u64) -> ClassDef {
        ClassDef {
            id,
            name: ClassName::Unnamed,
            node: NONE,
            super_id: 0,
            loader: 0,
            fields: Vec::new(),
            static_refs: 0,
            static_prim_bytes: 0,
            layout: NONE,
            layout_tried: u64::MAX,
        }
    }
}

/// A reference field at a fixed position of an instance's field bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RefField {
    pub(crate) offset: u32,
    pub(crate) name: u32,
    /// `java.lang.ref.Reference.referent`.
    pub(crate) weak: bool,
}

/// A class's instance fields with its superclasses', flattened.
#[derive(Clone, Debug, Default)]
pub(crate) struct Layout {
    /// Field bytes of an instance as dumped (Σ field sizes, references id-sized).
    pub(crate) bytes: u64,
    pub(crate) refs: Vec<RefField>,
    /// Where `java.lang.String.coder` is, for `String` itself.
    pub(crate) coder: Option<u32>,
    /// False when a superclass was never dumped: only the fields before it are known.
    pub(crate) complete: bool,
    /// The collection rule of the nearest JDK collection class in the hierarchy, and where
    /// its counting fields are (see `collections`).
    pub(crate) collection: Option<u8>,
    pub(crate) counting: [Option<CountingField>; 2],
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Root {
    pub(crate) tag: u8,
    pub(crate) obj: u64,
    /// Thread serial for thread-bound roots.
    pub(crate) thread: u32,
    /// Frame index (Java frame, JNI local, JNI monitor) or stack-trace serial (thread
    /// object); `NONE` when absent.
    pub(crate) extra: u32,
}

pub(crate) struct Frame {
    pub(crate) method: u64,
    pub(crate) source: u64,
    pub(crate) class_serial: u32,
    pub(crate) line: i32,
}

pub(crate) struct Trace {
    pub(crate) frames: Vec<u64>,
}

/// An instance whose class layout was unknown when it was read.
pub(crate) struct Deferred {
    pub(crate) node: u32,
    pub(crate) class: u32,
    pub(crate) start: usize,
    pub(crate) len: u32,
}

/// Contents of short `byte[]`/`char[]` arrays: (node, start, len, element type), by node.
#[derive(Default)]
pub(crate) struct ShortArrays {
    pub(crate) index: Vec<(u32, u32, u16, u8)>,
    pub(crate) bytes: Vec<u8>,
    /// `buckets[b]`: the first entry of `index` for a node of `b << BUCKET_BITS` or above, so
    /// a lookup searches a few entries, not millions (a third of the String naming's time).
    buckets: Vec<u32>,
}

const BUCKET_BITS: u32 = 6;

impl ShortArrays {
    /// Whether `len` more bytes of contents fit the store.
    #[inline]
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.bytes.len() + len <= SHORT_STORE_LIMIT
    }

    /// Makes lookups fast; call once every array is in.
    pub(crate) fn seal(&mut self) {
        let Some(&(last, ..)) = self.index.last() else {
            return;
        };
        let count = (last >> BUCKET_BITS) as usize + 2;
        self.buckets = Vec::with_capacity(count);
        let mut at = 0usize;
        for b in 0..count {
            let first_node = (b as u64) << BUCKET_BITS;
            while at < self.index.len() && (self.index[at].0 as u64) < first_node {
                at += 1;
            }
            self.buckets.push(at as u32);
        }
    }

    /// The kept contents of array `node` and its element type.
    pub(crate) fn contents(&self, node: u32) -> Option<(&[u8], u8)> {
        let b = (node >> BUCKET_BITS) as usize;
        let entries = match (self.buckets.get(b), self.buckets.get(b + 1)) {
            (Some(&from), Some(&to)) => &self.index[from as usize..to as usize],
            _ if self.buckets.is_empty() => &self.index[..],
            _ => return None,
        };
        let i = entries.binary_search_by_key(&node, |e| e.0).ok()?;
        let (_, start, len, t) = entries[i];
        Some((
            &self.bytes[start as usize..start as usize + len as usize],
            t,
        ))
    }
}

#[derive(Default)]
pub(crate) struct NodeColumns {
    pub(crate) kinds: Vec<NodeKind>,
    /// Object ids, encoded by [`encode_id`] (4 bytes each below 32 GiB of addresses).
    pub(crate) ids: U64Column,
    /// Index into `Collected::classes`; `NONE` for class objects (set to `java.lang.Class`
    /// later).
    pub(crate) classes: ClassColumn,
    /// Instances: field byte count; arrays: length; class objects: 0.
    pub(crate) raw: U64Column,
    pub(crate) first_edge: Vec<u32>,
}

/// Class indices, 2 bytes each while every one fits (a dump has a few thousand classes: 60 MiB
/// less for 32 M objects while the dump is read), 4 after; [`NONE`] is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClassColumn {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for ClassColumn {
    fn default() -> Self {
        ClassColumn::Narrow(Vec::new())
    }
}

/// [`NONE`] in a narrow column.
const NARROW_NONE: u16 = u16::MAX;

impl ClassColumn {
    #[inline]
    fn narrow(k: u32) -> Option<u16> {
        match k {
            NONE => Some(NARROW_NONE),
            k => u16::try_from(k).ok().filter(|&k| k != NARROW_NONE),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, k: u32) {
        match self {
            ClassColumn::Narrow(v) => match Self::narrow(k) {
                Some(small) => v.push(small),
                None => {
                    self.widen();
                    self.push(k);
                }
            },
            ClassColumn::Wide(v) => v.push(k),
        }
    }

    #[cold]
    fn widen(&mut self) {
        if let ClassColumn::Narrow(v) = self {
            let wide = v
                .iter()
                .map(|&k| if k == NARROW_NONE { NONE } else { k as u32 })
                .collect();
            *self = ClassColumn::Wide(wide);
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            ClassColumn::Narrow(v) => match v[i] {
                NARROW_NONE => NONE,
                k => k as u32,
            },
            ClassColumn::Wide(v) => v[i],
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            ClassColumn::Narrow(v) => v.len(),
            ClassColumn::Wide(v) => v.len(),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Every `NONE` replaced by `k`.
    pub(crate) fn replace_none(&mut self, k: u32) {
        if Self::narrow(k).is_none() {
            self.widen();
        }
        match self {
            ClassColumn::Narrow(v) => v
                .iter_mut()
                .filter(|x| **x == NARROW_NONE)
                .for_each(|x| *x = k as u16),
            ClassColumn::Wide(v) => v.iter_mut().filter(|x| **x == NONE).for_each(|x| *x = k),
        }
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            ClassColumn::Narrow(v) => v.truncate(len),
            ClassColumn::Wide(v) => v.truncate(len),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn extend_from(&mut self, other: &ClassColumn) {
        match (&mut *self, other) {
            (ClassColumn::Narrow(to), ClassColumn::Narrow(from)) => to.extend_from_slice(from),
            (ClassColumn::Wide(to), ClassColumn::Wide(from)) => to.extend_from_slice(from),
            _ => {
                for i in 0..other.len() {
                    self.push(other.get(i));
                }
            }
        }
    }
}

/// Edge names while the dump is read: name keys (a few thousand) and element indices, 2
/// bytes each; the larger (elements past 65,534 of big arrays: 1.3 M of 43 M at 2 GB) kept
/// beside by position. 164 -> 93 MiB at 2 GB while the dump is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EdgeNames {
    short: Vec<u16>,
    /// `(position, name)` of each name too large, by position.
    long: Vec<(u32, u32)>,
}

/// A name kept in [`EdgeNames::long`].
const LONG_NAME: u16 = u16::MAX;

impl EdgeNames {
    #[inline]
    pub(crate) fn push(&mut self, name: u32) {
        match u16::try_from(name) {
            Ok(short) if short != LONG_NAME => self.short.push(short),
            _ => {
                self.long.push((self.short.len() as u32, name));
                self.short.push(LONG_NAME);
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self.short[i] {
            LONG_NAME => {
                let at = self
                    .long
                    .binary_search_by_key(&(i as u32), |l| l.0)
                    .expect("every long name is listed");
                self.long[at].1
            }
            short => short as u32,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.short.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.short.truncate(len);
        let keep = self.long.partition_point(|l| (l.0 as usize) < len);
        self.long.truncate(keep);
    }

    pub(crate) fn clear(&mut self) {
        self.truncate(0);
    }

    pub(crate) fn extend_from(&mut self, other: &EdgeNames) {
        let base = self.short.len() as u32;
        self.short.extend_from_slice(&other.short);
        self.long
            .extend(other.long.iter().map(|&(at, name)| (base + at, name)));
    }
}

#[derive(Default)]
pub(crate) struct EdgeColumns {
    pub(crate) kinds: Vec<EdgeKind>,
    /// A `NameKeys` index, or the element index for element edges.
    pub(crate) names: EdgeNames,
    /// Raw object ids, encoded by [`encode_id`].
    pub(crate) targets: U64Column,
}

impl NodeColumns {
    /// One object; `id` encoded by [`encode_id`].
    #[inline]
    pub(crate) fn push(&mut self, kind: NodeKind, id: u64, class: u32, raw: u64, first_edge: u32) {
        self.kinds.push(kind);
        self.ids.push(id);
        self.classes.push(class);
        self.raw.push(raw);
        self.first_edge.push(first_edge);
    }
}

impl EdgeColumns {
    /// One reference; `target` encoded by [`encode_id`].
    #[inline]
    pub(crate) fn push(&mut self, kind: EdgeKind, name: u32, target: u64) {
        self.kinds.push(kind);
        self.names.push(name);
        self.targets.push(target);
    }
}

/// Object ids in the target column: 8-byte ids are 8-aligned addresses, rotated so the
/// column stays 4 bytes a value for heaps below 32 GB (unaligned ids just widen it).
#[inline]
pub(crate) fn encode_id(id: u64, id_size: usize) -> u64 {
    if id_size == 8 {
        id.rotate_right(3)
    } else {
        id
    }
}

#[inline]
pub(crate) fn decode_id(v: u64, id_size: usize) -> u64 {
    if id_size == 8 {
        v.rotate_left(3)
    } else {
        v
    }
}

/// Everything the streaming pass collects.
pub(crate) struct Collected {
    pub(crate) id_size: usize,
    pub(crate) version: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) symbols: Symbols,
    pub(crate) classes: Vec<ClassDef>,
    pub(crate) class_by_id: IdMap<u64, u32>,
    pub(crate) class_by_serial: IdMap<u32, u64>,
    pub(crate) layouts: Vec<Layout>,
    pub(crate) frames: IdMap<u64, Frame>,
    pub(crate) traces: IdMap<u32, Trace>,
    /// `START_THREAD` names by thread serial (old writers only).
    pub(crate) thread_names: IdMap<u32, u64>,
    pub(crate) nodes: NodeColumns,
    pub(crate) edges: EdgeColumns,
    pub(crate) keys: NameKeys,
    pub(crate) roots: Vec<Root>,
    pub(crate) deferred: Vec<Deferred>,
    pub(crate) deferred_bytes: Vec<u8>,
    /// `java.lang.String` nodes whose coder says UTF-16.
    pub(crate) utf16: Vec<u32>,
    pub(crate) short: ShortArrays,
    /// Instances of JDK collections (and the numbers their counts need).
    pub(crate) counted: Vec<Counted>,
    /// Primitive array classes by element type.
    pub(crate) prim_classes: [u32; 12],
    pub(crate) compressed_refs: bool,
    /// GCD of address gaps (0 until two objects were seen; stops at 8 or below).
    pub(crate) gcd: u64,
    pub(crate) instances: u64,
    pub(crate) object_arrays: u64,
    pub(crate) primitive_arrays: u64,
    pub(crate) class_dumps: u64,
    pub(crate) duplicate_class_dumps: u64,
    pub(crate) load_class_records: u64,
    pub(crate) duplicate_load_class: u64,
    pub(crate) symbol_records: u64,
    pub(crate) heap_dump_records: u64,
    pub(crate) heap_dump_end: bool,
    pub(crate) root_counts: Vec<(u8, u64)>,
    /// Android heaps: (name symbol, objects).
    pub(crate) heaps: Vec<(u64, u64)>,
    pub(crate) layout_mismatches: u64,
    pub(crate) bytes_read: u64,
}

/// Why reading stopped inside a record.
pub(crate) enum Stop {
    /// The input ended.
    Eof,
    Fatal(FormatError),
}

impl From<FormatError> for Stop {
    fn from(e: FormatError) -> Stop {
        Stop::Fatal(e)
    }
}

struct Reader<'a> {
    input: Input<'a>,
    c: Collected,
    id: usize,
    /// The record being read: tag and offset.
    rec: (u8, u64),
    /// The sub-record being read inside a heap dump record.
    sub: Option<(u8, u64)>,
    /// Offset just past the heap dump record being read.
    rec_end: u64,
    recent_classes: RecentClasses,
    overlap: OverlapTest,
    prev_id: u64,
    current_heap: Option<usize>,
    unknown_tags: Vec<(u8, u64)>,
    saw_plain_heap_dump: bool,
    /// The worker's queue, when segments are decoded on two cores (see `segments`).
    queue: Option<Arc<Queue>>,
    /// Segments handed out, in file order.
    pending: VecDeque<Pending>,
    /// The class snapshot segments are decoded with, and the (classes, class dumps, layouts)
    /// counts it was taken at.
    frozen: Option<((usize, u64, usize), Arc<Frozen>)>,
    spare_bytes: Vec<Vec<u8>>,
    spare_out: Vec<Decoded>,
}

/// A segment handed to the decoders: its record, where its body starts and ends, and where
/// its result arrives.
struct Pending {
    rec: (u8, u64),
    body: u64,
    rec_end: u64,
    done: Receiver<Done>,
}

/// Reads the header and every record.
pub(crate) fn collect(
    input: Input<'_>,
    options: &HprofOptions,
    warnings: &mut Vec<String>,
) -> Result<Collected, FormatError> {
    let mut r = Reader {
        input,
        c: Collected {
            id_size: 8,
            version: String::new(),
            timestamp_ms: 0,
            symbols: Symbols::default(),
            classes: Vec::new(),
            class_by_id: IdMap::default(),
            class_by_serial: IdMap::default(),
            layouts: Vec::new(),
            frames: IdMap::default(),
            traces: IdMap::default(),
            thread_names: IdMap::default(),
            nodes: NodeColumns::default(),
            edges: EdgeColumns::default(),
            keys: NameKeys::new(),
            roots: Vec::new(),
            deferred: Vec::new(),
            deferred_bytes: Vec::new(),
            utf16: Vec::new(),
            short: ShortArrays::default(),
            counted: Vec::new(),
            prim_classes: [NONE; 12],
            compressed_refs: false,
            gcd: 0,
            instances: 0,
            object_arrays: 0,
            primitive_arrays: 0,
            class_dumps: 0,
            duplicate_class_dumps: 0,
            load_class_records: 0,
            duplicate_load_class: 0,
            symbol_records: 0,
            heap_dump_records: 0,
            heap_dump_end: false,
            root_counts: Vec::new(),
            heaps: Vec::new(),
            layout_mismatches: 0,
            bytes_read: 0,
        },
        id: 8,
        rec: (0, 0),
        sub: None,
        rec_end: 0,
        recent_classes: RecentClasses::new(),
        overlap: OverlapTest::default(),
        prev_id: 0,
        current_heap: None,
        unknown_tags: Vec::new(),
        saw_plain_heap_dump: false,
        queue: None,
        pending: VecDeque::new(),
        frozen: None,
        spare_bytes: Vec::new(),
        spare_out: Vec::new(),
    };
    r.header()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if options.parallel && cores >= 2 {
        let queue = Arc::new(Queue::default());
        r.queue = Some(Arc::clone(&queue));
        std::thread::scope(|scope| {
            let _close = CloseOnDrop(&queue);
            scope.spawn(|| queue.work());
            r.records(warnings)
        })?;
        r.queue = None;
    } else {
        r.records(warnings)?;
    }
    if r.input.cut_short() {
        warnings.push(format!(
            "the compressed stream ends early (after {} bytes of HPROF)",
            r.input.offset()
        ));
    }
    for (tag, count) in &r.unknown_tags {
        warnings.push(format!(
            "skipped {count} record(s) of unknown tag 0x{tag:02x} (by their length)"
        ));
    }
    r.input.finish_progress();
    r.c.compressed_refs = r.overlap.found;
    r.c.bytes_read = r.input.offset();
    if r.c.edges.kinds.len() >= (u32::MAX - (1 << 20)) as usize {
        return Err(FormatError::TooLarge(format!(
            "{} references: beyond plateau's 32-bit edge ids",
            r.c.edges.kinds.len()
        )));
    }
    if r.c.heap_dump_records == 0 {
        return Err(FormatError::Inconsistent(
            "the HPROF file has no HEAP_DUMP (0x0c) or HEAP_DUMP_SEGMENT (0x1c) record: \
             it holds no heap (a CPU or allocation profile?)"
                .into(),
        ));
    }
    Ok(r.c)
}

impl Reader<'_> {
    fn header(&mut self) -> Result<(), FormatError> {
        const MAGIC: &[u8] = b"JAVA PROFILE ";
        // The version string is NUL-terminated; real ones are 18 bytes.
        self.input.fill(64)?;
        let bytes = self.input.bytes();
        if bytes.is_empty() {
            return Err(FormatError::Truncated {
                offset: 0,
                context: "the HPROF header (the input is empty)".into(),
            });
        }
        let head = &bytes[..bytes.len().min(MAGIC.len())];
        if head != &MAGIC[..head.len()] || bytes.len() < MAGIC.len() {
            if head == &MAGIC[..head.len()] {
                return Err(FormatError::Truncated {
                    offset: bytes.len() as u64,
                    context: "the HPROF header".into(),
                });
            }
            let shown: String = bytes
                .iter()
                .take(16)
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            return Err(FormatError::Syntax {
                offset: 0,
                context: "the HPROF header".into(),
                expected: "\"JAVA PROFILE 1.0.x\" followed by a NUL byte".into(),
                found: format!("{shown:?}"),
            });
        }
        let Some(nul) = bytes.iter().position(|&b| b == 0) else {
            if bytes.len() < 64 {
                return Err(FormatError::Truncated {
                    offset: bytes.len() as u64,
                    context: "the HPROF header's version string".into(),
                });
            }
            return Err(FormatError::Syntax {
                offset: 0,
                context: "the HPROF header".into(),
                expected: "a NUL byte ending \"JAVA PROFILE 1.0.x\" within 64 bytes".into(),
                found: "none".into(),
            });
        };
        let version = String::from_utf8_lossy(&bytes[MAGIC.len()..nul]).into_owned();
        self.input.consume(nul + 1);
        let at = self.input.offset();
        if !self.input.fill(12)? {
            return Err(FormatError::Truncated {
                offset: self.input.offset() + self.input.available() as u64,
                context: "the HPROF header (id size and timestamp)".into(),
            });
        }
        let b = self.input.bytes();
        let id_size = u32_at(b, 0);
        let ts = ((u32_at(b, 4) as u64) << 32) | u32_at(b, 8) as u64;
        if id_size != 4 && id_size != 8 {
            return Err(FormatError::Field {
                what: "the HPROF header".into(),
                offset: at,
                field: "id_size".into(),
                value: id_size as u64,
                problem: "is not 4 or 8 (bytes per object id)".into(),
            });
        }
        self.input.consume(12);
        self.id = id_size as usize;
        self.c.id_size = self.id;
        self.c.version = version;
        self.c.timestamp_ms = ts;
        Ok(())
    }

    fn rec_context(&self) -> String {
        let (tag, off) = self.rec;
        format!("{} (0x{tag:02x}) record at byte {off}", record_name(tag))
    }

    fn context(&self) -> String {
        match self.sub {
            Some((tag, off)) => format!(
                "{} (0x{tag:02x}) sub-record at byte {off} of {}",
                sub_record_name(tag),
                self.rec_context()
            ),
            None => self.rec_context(),
        }
    }

    fn records(&mut self, warnings: &mut Vec<String>) -> Result<(), FormatError> {
        let mut heap_started = false;
        loop {
            let off = self.input.offset();
            if !self.input.fill(9)? {
                self.drain()?;
                let left = self.input.available();
                if left == 0 {
                    break;
                }
                if heap_started {
                    warnings.push(format!(
                        "the dump ends at byte {} inside a record header at byte {off}",
                        off + left as u64
                    ));
                    self.input.consume(left);
                    return Ok(());
                }
                return Err(FormatError::Truncated {
                    offset: off + left as u64,
                    context: format!(
                        "the record header at byte {off} (9 bytes: tag, time, length)"
                    ),
                });
            }
            let b = self.input.bytes();
            let tag = b[0];
            let len = u32_at(b, 5) as u64;
            self.input.consume(9);
            if !self.handed_out(tag, len) {
                // Records are read in file order: the segments handed out come first.
                self.drain()?;
            }
            self.rec = (tag, off);
            self.sub = None;
            if tag == HEAP_DUMP || tag == HEAP_DUMP_SEGMENT {
                heap_started = true;
            }
            match self.record(tag, len, warnings) {
                Ok(()) => {}
                Err(Stop::Fatal(e)) => return Err(e),
                Err(Stop::Eof) => {
                    let at = self.input.offset() + self.input.available() as u64;
                    if heap_started {
                        let objects = self.c.nodes.kinds.len();
                        warnings.push(format!(
                            "the dump ends at byte {at} inside {} (the record says it runs to \
                             byte {}): the graph holds the {objects} objects read before it",
                            self.context(),
                            off + 9 + len
                        ));
                        return Ok(());
                    }
                    return Err(FormatError::Truncated {
                        offset: at,
                        context: self.context(),
                    });
                }
            }
        }
        self.drain()?;
        if self.c.heap_dump_records > 0
            && !self.c.heap_dump_end
            && self.c.version.as_str() != "1.0.1"
            && self.saw_segments()
        {
            warnings.push(
                "no HEAP_DUMP_END record after the heap dump segments: the dump may be incomplete"
                    .into(),
            );
        }
        Ok(())
    }

    /// Whether a record goes to the segment decoders (see `segments`).
    fn handed_out(&self, tag: u8, len: u64) -> bool {
        self.queue.is_some() && (tag == HEAP_DUMP_SEGMENT || tag == HEAP_DUMP) && len <= MAX_SEGMENT
    }

    /// Reads the body of the heap-dump record at hand (`len` bytes) and queues it.
    fn hand_out(&mut self, len: usize) -> Result<(), Stop> {
        let body = self.input.offset();
        let (rec, rec_end) = (self.rec, self.rec_end);
        let mut bytes = self.spare_bytes.pop().unwrap_or_default();
        if bytes.len() < len {
            bytes.resize(len, 0);
        }
        let got = match self.input.read_exact_or_end(&mut bytes[..len]) {
            Ok(got) => got,
            Err(e) => {
                self.drain()?;
                return Err(e.into());
            }
        };
        // The dump ends inside this record: the single pass reads as far as it goes. Class
        // dumps are read by the single pass too, at once, so that the segments after them
        // are decoded with their classes.
        if got < len {
            self.drain()?;
            (self.rec, self.rec_end, self.sub, self.current_heap) = (rec, rec_end, None, None);
            self.input.unread(&bytes[..got]);
            self.spare_bytes.push(bytes);
            return self.heap_dump();
        }
        if bytes.first() == Some(&CLASS_DUMP) {
            self.drain()?;
            return self.single_pass(bytes, len, body, rec, rec_end);
        }
        let frozen = self.frozen();
        let (reply, done) = sync_channel(1);
        let out = self.spare_out.pop().unwrap_or_default();
        if let Some(queue) = &self.queue {
            queue.push(Job {
                bytes,
                len,
                frozen,
                out,
                reply,
            });
        }
        self.pending.push_back(Pending {
            rec,
            body,
            rec_end,
            done,
        });
        while self.pending.len() > IN_FLIGHT {
            self.settle()?;
        }
        Ok(())
    }

    /// The class snapshot for the next segment: the last one while no class changed.
    fn frozen(&mut self) -> Arc<Frozen> {
        let stamp = |c: &Collected| (c.classes.len(), c.class_dumps, c.layouts.len());
        if let Some((at, frozen)) = &self.frozen {
            if *at == stamp(&self.c) {
                return Arc::clone(frozen);
            }
        }
        // Layouts for every class dumped so far, not only those with instances yet.
        for c in 0..self.c.classes.len() {
            if self.c.classes[c].node != NONE {
                self.layout(c as u32);
            }
        }
        let frozen = Arc::new(Frozen {
            id: self.id,
            class_by_id: self.c.class_by_id.clone(),
            layout_of: self.c.classes.iter().map(|d| d.layout).collect(),
            layouts: self.c.layouts.clone(),
            prim_classes: self.c.prim_classes,
        });
        self.frozen = Some((stamp(&self.c), Arc::clone(&frozen)));
        frozen
    }

    /// Appends the oldest segment handed out, decoding it here if no thread has started it,
    /// or reading it by the single pass if the decoder could not.
    fn settle(&mut self) -> Result<(), Stop> {
        let Some(front) = self.pending.front() else {
            return Ok(());
        };
        let done = loop {
            if let Ok(done) = front.done.try_recv() {
                break done;
            }
            match self.queue.as_ref().and_then(|q| q.steal()) {
                Some(job) => job.run(),
                None => match front.done.recv() {
                    Ok(done) => break done,
                    Err(_) => {
                        return Err(Stop::Fatal(FormatError::Inconsistent(
                            "the heap-dump segment decoder stopped without a result".into(),
                        )))
                    }
                },
            }
        };
        let Some(p) = self.pending.pop_front() else {
            return Ok(());
        };
        let appended = done.ok && self.append(&done.out);
        self.spare_out.push(done.out);
        if appended {
            self.spare_bytes.push(done.bytes);
            Ok(())
        } else {
            self.single_pass(done.bytes, done.len, p.body, p.rec, p.rec_end)
        }
    }

    /// Settles every segment handed out.
    fn drain(&mut self) -> Result<(), FormatError> {
        while !self.pending.is_empty() {
            match self.settle() {
                Ok(()) => {}
                Err(Stop::Fatal(e)) => return Err(e),
                // Only whole segments are handed out.
                Err(Stop::Eof) => {
                    return Err(FormatError::Truncated {
                        offset: self.input.offset(),
                        context: self.context(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads heap-dump record `rec`'s body, `bytes[..len]` from byte `body` on, as the
    /// single pass reads one from the file.
    fn single_pass(
        &mut self,
        bytes: Vec<u8>,
        len: usize,
        body: u64,
        rec: (u8, u64),
        rec_end: u64,
    ) -> Result<(), Stop> {
        self.rec = rec;
        self.sub = None;
        self.rec_end = rec_end;
        self.current_heap = None;
        let file = std::mem::replace(&mut self.input, Input::over(bytes, len, body));
        let result = self.heap_dump();
        let segment = std::mem::replace(&mut self.input, file);
        self.spare_bytes.push(segment.into_buffer());
        result
    }

    /// Appends a decoded segment's columns after the objects read so far; `false` when they
    /// would pass plateau's limits (the single pass then says where).
    fn append(&mut self, d: &Decoded) -> bool {
        let c = &mut self.c;
        let base = c.nodes.kinds.len();
        let edge_base = c.edges.kinds.len();
        if base + d.nodes.kinds.len() + 1024 >= MAX_NODES
            || edge_base + d.edges.kinds.len() >= (u32::MAX - (1 << 20)) as usize
        {
            return false;
        }
        let (base, edge_base) = (base as u32, edge_base as u32);
        let nodes = &mut c.nodes;
        nodes.kinds.extend_from_slice(&d.nodes.kinds);
        append_column(&mut nodes.ids, &d.nodes.ids);
        nodes.classes.extend_from(&d.nodes.classes);
        append_column(&mut nodes.raw, &d.nodes.raw);
        nodes
            .first_edge
            .extend(d.nodes.first_edge.iter().map(|&e| e + edge_base));
        let edges = &mut c.edges;
        edges.kinds.extend_from_slice(&d.edges.kinds);
        edges.names.extend_from(&d.edges.names);
        append_column(&mut edges.targets, &d.edges.targets);
        c.roots.extend_from_slice(&d.roots);
        for &(tag, count) in &d.root_counts {
            match c.root_counts.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, total)) => *total += count,
                None => c.root_counts.push((tag, count)),
            }
        }
        c.utf16.extend(d.utf16.iter().map(|&v| v + base));
        c.counted.extend(d.counted.iter().map(|&k| Counted {
            node: k.node + base,
            ..k
        }));
        for &(node, start, len, t) in &d.short_index {
            if c.short.has_room(len as usize) {
                let at = c.short.bytes.len() as u32;
                let contents = &d.short_bytes[start as usize..start as usize + len as usize];
                c.short.bytes.extend_from_slice(contents);
                c.short.index.push((node + base, at, len, t));
            }
        }
        c.instances += d.instances;
        c.object_arrays += d.object_arrays;
        c.primitive_arrays += d.primitive_arrays;
        c.layout_mismatches += d.layout_mismatches;
        if let Some(first) = d.first_id {
            c.gcd = fold_gap(c.gcd, self.prev_id, first);
            if d.gcd != 0 {
                c.gcd = fold_gcd(c.gcd, d.gcd);
            }
            self.prev_id = d.last_id;
        }
        if self.id == 8 {
            self.overlap.then(d.first_array, &d.overlap);
        }
        true
    }

    fn saw_segments(&self) -> bool {
        self.c.heap_dump_records > 0 && !self.saw_plain_heap_dump
    }

    /// Reads one record's body of `len` bytes.
    fn record(&mut self, tag: u8, len: u64, warnings: &mut Vec<String>) -> Result<(), Stop> {
        let id = self.id;
        match tag {
            UTF8 => {
                if len < id as u64 {
                    return Err(self.bad_length(len, &format!("at least {id} bytes (an id)")));
                }
                self.need_top(id)?;
                let sym = id_at(self.input.bytes(), 0, id);
                self.input.consume(id);
                let text_len = len - id as u64;
                let start = self.c.symbols.bytes.len();
                let got = self.input.read_into(text_len, &mut self.c.symbols.bytes)?;
                if got < text_len {
                    self.c.symbols.bytes.truncate(start);
                    return Err(Stop::Eof);
                }
                if text_len <= u32::MAX as u64 {
                    self.c
                        .symbols
                        .spans
                        .entry(sym)
                        .or_insert((start, text_len as u32));
                }
                self.c.symbol_records += 1;
            }
            LOAD_CLASS => {
                let expect = 8 + 2 * id as u64;
                if len != expect {
                    return Err(self.bad_length(len, &format!("{expect} bytes ({id}-byte ids)")));
                }
                self.need_top(expect as usize)?;
                let b = self.input.bytes();
                let serial = u32_at(b, 0);
                let class_id = id_at(b, 4, id);
                let name = id_at(b, 8 + id, id);
                self.input.consume(expect as usize);
                self.c.load_class_records += 1;
                let c = self.class_index(class_id);
                let class = &mut self.c.classes[c as usize];
                match class.name {
                    ClassName::Symbol(_) => self.c.duplicate_load_class += 1,
                    _ => class.name = ClassName::Symbol(name),
                }
                self.c.class_by_serial.insert(serial, class_id);
                if let Some(text) = self.c.symbols.get(name) {
                    if let Some(t) = (4..=11)
                        .find(|&t| primitive_array_descriptor(t).map(str::as_bytes) == Some(text))
                    {
                        if self.c.prim_classes[t as usize] == NONE {
                            self.c.prim_classes[t as usize] = c;
                        }
                    }
                }
            }
            STACK_FRAME => {
                let expect = 8 + 4 * id as u64;
                if len != expect {
                    return Err(self.bad_length(len, &format!("{expect} bytes ({id}-byte ids)")));
                }
                self.need_top(expect as usize)?;
                let b = self.input.bytes();
                let frame = id_at(b, 0, id);
                let f = Frame {
                    method: id_at(b, id, id),
                    source: id_at(b, 3 * id, id),
                    class_serial: u32_at(b, 4 * id),
                    line: u32_at(b, 4 * id + 4) as i32,
                };
                self.input.consume(expect as usize);
                self.c.frames.insert(frame, f);
            }
            STACK_TRACE => {
                if len < 12 {
                    return Err(self.bad_length(len, "at least 12 bytes"));
                }
                self.need_top(12)?;
                let b = self.input.bytes();
                let serial = u32_at(b, 0);
                let n = u32_at(b, 8) as u64;
                if len != 12 + n * id as u64 {
                    return Err(self.bad_length(
                        len,
                        &format!(
                            "{} bytes for {n} frames of {id}-byte ids",
                            12 + n * id as u64
                        ),
                    ));
                }
                self.input.consume(12);
                let mut frames = Vec::with_capacity((n as usize).min(1 << 16));
                for _ in 0..n {
                    self.need_top(id)?;
                    frames.push(id_at(self.input.bytes(), 0, id));
                    self.input.consume(id);
                }
                self.c.traces.insert(serial, Trace { frames });
            }
            START_THREAD => {
                let expect = 12 + 4 * id as u64;
                if len != expect {
                    return Err(self.bad_length(len, &format!("{expect} bytes ({id}-byte ids)")));
                }
                self.need_top(expect as usize)?;
                let b = self.input.bytes();
                let serial = u32_at(b, 0);
                let name = id_at(b, 8 + id, id);
                self.input.consume(expect as usize);
                self.c.thread_names.insert(serial, name);
            }
            HEAP_DUMP | HEAP_DUMP_SEGMENT => {
                if tag == HEAP_DUMP {
                    self.saw_plain_heap_dump = true;
                }
                self.c.heap_dump_records += 1;
                // Android resets the heap at each segment.
                self.current_heap = None;
                self.rec_end = self.input.offset() + len;
                if self.handed_out(tag, len) {
                    self.hand_out(len as usize)?;
                } else {
                    self.heap_dump()?;
                }
                self.sub = None;
            }
            HEAP_DUMP_END => {
                self.c.heap_dump_end = true;
                if len > 0 {
                    warnings.push(format!(
                        "HEAP_DUMP_END (0x2c) record at byte {} has a {len}-byte body (expected none): skipped",
                        self.rec.1
                    ));
                    self.skip_top(len)?;
                }
            }
            0x03 | 0x06 | 0x07 | 0x0B | 0x0D | 0x0E => self.skip_top(len)?,
            _ => {
                match self.unknown_tags.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, count)) => *count += 1,
                    None => self.unknown_tags.push((tag, 1)),
                }
                self.skip_top(len)?;
            }
        }
        Ok(())
    }

    fn bad_length(&self, len: u64, expected: &str) -> Stop {
        Stop::Fatal(FormatError::Syntax {
            offset: self.rec.1 + 5,
            context: self.rec_context(),
            expected: format!("a body of {expected}"),
            found: format!(
                "a length of {len} bytes (is the id size {} in the header right?)",
                self.id
            ),
        })
    }

    /// `n` contiguous bytes inside a top-level record (whose length was checked).
    #[inline]
    fn need_top(&mut self, n: usize) -> Result<(), Stop> {
        if self.input.fill(n)? {
            Ok(())
        } else {
            Err(Stop::Eof)
        }
    }

    fn skip_top(&mut self, len: u64) -> Result<(), Stop> {
        if self.input.skip(len)? < len {
            return Err(Stop::Eof);
        }
        Ok(())
    }

    /// `n` contiguous bytes of the current sub-record, which must lie inside its record.
    #[inline]
    fn need(&mut self, n: usize, what: &str) -> Result<(), Stop> {
        let at = self.input.offset();
        if at + n as u64 > self.rec_end {
            return Err(self.overrun(n as u64, what));
        }
        if self.input.fill(n)? {
            Ok(())
        } else {
            Err(Stop::Eof)
        }
    }

    #[cold]
    fn overrun(&self, n: u64, what: &str) -> Stop {
        let at = self.input.offset();
        Stop::Fatal(FormatError::Syntax {
            offset: at,
            context: self.context(),
            expected: format!("{n} bytes of {what}"),
            found: format!(
                "only {} left in the record, which ends at byte {}",
                self.rec_end.saturating_sub(at),
                self.rec_end
            ),
        })
    }

    #[cold]
    fn bad_type(&self, offset: u64, t: u8, what: &str) -> Stop {
        Stop::Fatal(FormatError::Syntax {
            offset,
            context: self.context(),
            expected: format!(
                "a basic type for {what} (2 object, 4 boolean, 5 char, 6 float, 7 double, 8 byte, \
                 9 short, 10 int, 11 long)"
            ),
            found: t.to_string(),
        })
    }

    fn class_index(&mut self, class_id: u64) -> u32 {
        if let Some(&c) = self.c.class_by_id.get(&class_id) {
            return c;
        }
        let c = self.c.classes.len() as u32;
        self.c.classes.push(ClassDef::new(class_id));
        self.c.class_by_id.insert(class_id, c);
        c
    }

    #[inline]
    fn class_of_instance(&mut self, class_id: u64) -> u32 {
        if let Some(c) = self.recent_classes.get(class_id) {
            return c;
        }
        let c = self.class_index(class_id);
        self.recent_classes.remember(class_id, c);
        c
    }

    fn prim_class(&mut self, t: u8) -> u32 {
        let c = self.c.prim_classes[t as usize];
        if c != NONE {
            return c;
        }
        // The dump never loaded this array class: a class of plateau's own (no object).
        let c = self.c.classes.len() as u32;
        let mut def = ClassDef::new(0);
        def.name = ClassName::Text(super::names::java_class_name(
            primitive_array_descriptor(t).unwrap_or("[?"),
        ));
        self.c.classes.push(def);
        self.c.prim_classes[t as usize] = c;
        c
    }

    fn new_node(&mut self, kind: NodeKind, id: u64, class: u32, raw: u64) -> Result<u32, Stop> {
        let nodes = &mut self.c.nodes;
        let n = nodes.kinds.len();
        // Room for the synthetic root and root groups added at the end.
        if n + 1024 >= MAX_NODES || self.c.edges.kinds.len() >= (u32::MAX - (1 << 20)) as usize {
            return Err(Stop::Fatal(FormatError::TooLarge(format!(
                "more than {} objects or 2^32 references at byte {}: beyond plateau's 32-bit node \
                 and edge ids",
                MAX_NODES - 1024,
                self.input.offset()
            ))));
        }
        let first_edge = self.c.edges.kinds.len() as u32;
        nodes.push(kind, encode_id(id, self.id), class, raw, first_edge);
        self.c.gcd = fold_gap(self.c.gcd, self.prev_id, id);
        self.prev_id = id;
        if let Some(h) = self.current_heap {
            self.c.heaps[h].1 += 1;
        }
        Ok(n as u32)
    }

    #[inline]
    fn edge(&mut self, kind: EdgeKind, name: u32, target: u64) {
        self.c.edges.push(kind, name, encode_id(target, self.id));
    }

    /// Undoes a sub-record that the input cut short: nodes and edges back to `mark`.
    fn rollback(&mut self, mark: (usize, usize)) {
        let (n, e) = mark;
        let nodes = &mut self.c.nodes;
        nodes.kinds.truncate(n);
        truncate_column(&mut nodes.ids, n);
        nodes.classes.truncate(n);
        truncate_column(&mut nodes.raw, n);
        nodes.first_edge.truncate(n);
        let edges = &mut self.c.edges;
        edges.kinds.truncate(e);
        edges.names.truncate(e);
        truncate_column(&mut edges.targets, e);
    }

    fn heap_dump(&mut self) -> Result<(), Stop> {
        let id = self.id;
        while self.input.offset() < self.rec_end {
            let sub_off = self.input.offset();
            self.sub = None;
            if !self.input.fill(1)? {
                return Err(Stop::Eof);
            }
            let tag = self.input.bytes()[0];
            self.sub = Some((tag, sub_off));
            self.input.consume(1);
            let mark = (self.c.nodes.kinds.len(), self.c.edges.kinds.len());
            let result = match tag {
                INSTANCE_DUMP => self.instance_dump(),
                OBJ_ARRAY_DUMP => self.object_array_dump(),
                PRIM_ARRAY_DUMP | PRIM_ARRAY_NODATA => self.primitive_array_dump(tag),
                CLASS_DUMP => self.class_dump(),
                HEAP_DUMP_INFO => self.heap_dump_info(),
                _ if RootShape::of(tag, id).is_some() => self.root(tag),
                _ => {
                    return Err(Stop::Fatal(FormatError::Syntax {
                        offset: sub_off,
                        context: self.rec_context(),
                        expected: "a heap-dump sub-record tag (0x01-0x08, 0x20-0x23, 0x89-0x8e, \
                                   0x90, 0xc3, 0xfe or 0xff)"
                            .into(),
                        found: format!("0x{tag:02x}"),
                    }))
                }
            };
            if let Err(stop) = result {
                if matches!(stop, Stop::Eof) {
                    self.rollback(mark);
                }
                return Err(stop);
            }
        }
        Ok(())
    }

    /// A root sub-record of a tag [`RootShape::of`] knows.
    fn root(&mut self, tag: u8) -> Result<(), Stop> {
        let Some(shape) = RootShape::of(tag, self.id) else {
            return Ok(());
        };
        self.need(shape.len, "root fields")?;
        let root = shape.read(tag, self.input.bytes(), self.id);
        self.input.consume(shape.len);
        self.c.roots.push(root);
        count_root(&mut self.c.root_counts, tag);
        Ok(())
    }

    fn heap_dump_info(&mut self) -> Result<(), Stop> {
        let id = self.id;
        self.need(4 + id, "heap id and name")?;
        let name = id_at(self.input.bytes(), 4, id);
        self.input.consume(4 + id);
        let h = match self.c.heaps.iter().position(|(n, _)| *n == name) {
            Some(h) => h,
            None => {
                self.c.heaps.push((name, 0));
                self.c.heaps.len() - 1
            }
        };
        self.current_heap = Some(h);
        Ok(())
    }

    fn class_dump(&mut self) -> Result<(), Stop> {
        let id = self.id;
        let fixed = 7 * id + 8;
        self.need(fixed, "class header")?;
        let b = self.input.bytes();
        let class_id = id_at(b, 0, id);
        let super_id = id_at(b, id + 4, id);
        let loader = id_at(b, 2 * id + 4, id);
        let signers = id_at(b, 3 * id + 4, id);
        let domain = id_at(b, 4 * id + 4, id);
        self.input.consume(fixed);

        // Constant pool: skipped (HotSpot writes none; values are never references to keep).
        self.need(2, "constant pool count")?;
        let n_cp = u16_at(self.input.bytes(), 0);
        self.input.consume(2);
        for _ in 0..n_cp {
            let at = self.input.offset();
            self.need(3, "constant pool entry")?;
            let t = self.input.bytes()[2];
            self.input.consume(3);
            let size = type_size(t, id).ok_or_else(|| self.bad_type(at + 2, t, "a constant"))?;
            self.need(size, "constant pool value")?;
            self.input.consume(size);
        }

        self.need(2, "static field count")?;
        let n_static = u16_at(self.input.bytes(), 0);
        self.input.consume(2);
        let mut static_refs: Vec<(u64, u64)> = Vec::new();
        let mut ref_count = 0u32;
        let mut prim_bytes = 0u64;
        for _ in 0..n_static {
            let at = self.input.offset();
            self.need(id + 1, "static field")?;
            let b = self.input.bytes();
            let name = id_at(b, 0, id);
            let t = b[id];
            self.input.consume(id + 1);
            let size = type_size(t, id)
                .ok_or_else(|| self.bad_type(at + id as u64, t, "a static field"))?;
            self.need(size, "static field value")?;
            if t == T_OBJECT {
                ref_count += 1;
                let value = id_at(self.input.bytes(), 0, id);
                if value != 0 {
                    static_refs.push((name, value));
                }
            } else {
                prim_bytes += size as u64;
            }
            self.input.consume(size);
        }

        self.need(2, "instance field count")?;
        let n_fields = u16_at(self.input.bytes(), 0);
        self.input.consume(2);
        let mut fields = Vec::with_capacity(n_fields as usize);
        for _ in 0..n_fields {
            let at = self.input.offset();
            self.need(id + 1, "instance field descriptor")?;
            let b = self.input.bytes();
            let name = id_at(b, 0, id);
            let t = b[id];
            self.input.consume(id + 1);
            type_size(t, id)
                .ok_or_else(|| self.bad_type(at + id as u64, t, "an instance field"))?;
            fields.push((name, t));
        }

        let c = self.class_index(class_id);
        if self.c.classes[c as usize].node != NONE {
            self.c.duplicate_class_dumps += 1;
            return Ok(());
        }
        let node = self.new_node(NodeKind::Object, class_id, NONE, 0)?;
        {
            let def = &mut self.c.classes[c as usize];
            def.node = node;
            def.super_id = super_id;
            def.loader = loader;
            def.fields = fields;
            def.static_refs = ref_count;
            def.static_prim_bytes = prim_bytes;
        }
        self.c.class_dumps += 1;
        for (key, target) in [
            (KEY_SUPER, super_id),
            (KEY_LOADER, loader),
            (KEY_SIGNERS, signers),
            (KEY_PROTECTION_DOMAIN, domain),
        ] {
            if target != 0 {
                self.edge(EdgeKind::Internal, key, target);
            }
        }
        for (name, target) in static_refs {
            let key = self.c.keys.key(NameKey::Static(name));
            self.edge(EdgeKind::Property, key, target);
        }
        Ok(())
    }

    fn instance_dump(&mut self) -> Result<(), Stop> {
        let id = self.id;
        let fixed = 2 * id + 8;
        self.need(fixed, "instance header")?;
        let b = self.input.bytes();
        let obj = id_at(b, 0, id);
        let class_id = id_at(b, id + 4, id);
        let n = u32_at(b, 2 * id + 4) as usize;
        self.input.consume(fixed);
        self.need(n, "instance field values")?;
        let c = self.class_of_instance(class_id);
        let node = self.new_node(NodeKind::Object, obj, c, n as u64)?;
        self.c.instances += 1;
        match self.layout(c) {
            Some(l) => {
                let c = &mut self.c;
                let layout = &c.layouts[l as usize];
                let bytes = &self.input.bytes()[..n];
                InstanceFields::read(layout, node, bytes, id, &mut c.edges).keep(
                    node,
                    &mut c.layout_mismatches,
                    &mut c.utf16,
                    &mut c.counted,
                );
            }
            None => {
                // The class (or a superclass) is dumped later: keep the bytes until then.
                let start = self.c.deferred_bytes.len();
                self.c
                    .deferred_bytes
                    .extend_from_slice(&self.input.bytes()[..n]);
                self.c.deferred.push(Deferred {
                    node,
                    class: c,
                    start,
                    len: n as u32,
                });
            }
        }
        self.input.consume(n);
        Ok(())
    }

    /// The layout of class `c` if it and all its superclasses have been dumped.
    fn layout(&mut self, c: u32) -> Option<u32> {
        let def = &self.c.classes[c as usize];
        if def.layout != NONE {
            return Some(def.layout);
        }
        if def.layout_tried == self.c.class_dumps {
            return None;
        }
        let c_ = &mut self.c;
        match compute_layout(
            &c_.classes,
            &c_.class_by_id,
            &c_.symbols,
            &mut c_.keys,
            c_.id_size,
            c,
            false,
        ) {
            Some(layout) => {
                let l = self.c.layouts.len() as u32;
                self.c.layouts.push(layout);
                self.c.classes[c as usize].layout = l;
                Some(l)
            }
            None => {
                self.c.classes[c as usize].layout_tried = self.c.class_dumps;
                None
            }
        }
    }

    fn object_array_dump(&mut self) -> Result<(), Stop> {
        let id = self.id;
        let fixed = 2 * id + 8;
        self.need(fixed, "object array header")?;
        let b = self.input.bytes();
        let obj = id_at(b, 0, id);
        let len = u32_at(b, id + 4) as u64;
        let class_id = id_at(b, id + 8, id);
        self.input.consume(fixed);
        let data = len * id as u64;
        if self.input.offset() + data > self.rec_end {
            return Err(self.overrun(data, "array elements"));
        }
        let c = self.class_of_instance(class_id);
        self.new_node(NodeKind::Array, obj, c, len)?;
        self.c.object_arrays += 1;
        if id == 8 {
            self.overlap.see(obj, len);
        }
        let mut index = 0u64;
        while index < len {
            let chunk = ((len - index) as usize).min(1 << 16);
            if !self.input.fill(chunk * id)? {
                return Err(Stop::Eof);
            }
            let bytes = &self.input.bytes()[..chunk * id];
            push_element_edges(bytes, id, index, &mut self.c.edges);
            self.input.consume(chunk * id);
            index += chunk as u64;
        }
        Ok(())
    }

    fn primitive_array_dump(&mut self, tag: u8) -> Result<(), Stop> {
        let id = self.id;
        let fixed = id + 9;
        self.need(fixed, "primitive array header")?;
        let b = self.input.bytes();
        let obj = id_at(b, 0, id);
        let len = u32_at(b, id + 4) as u64;
        let t = b[id + 8];
        let at = self.input.offset() + id as u64 + 8;
        self.input.consume(fixed);
        let elem = match type_size(t, id) {
            Some(size) if t != T_OBJECT => size as u64,
            _ => return Err(self.bad_type(at, t, "array elements")),
        };
        let data = if tag == PRIM_ARRAY_NODATA {
            0
        } else {
            len * elem
        };
        if self.input.offset() + data > self.rec_end {
            return Err(self.overrun(data, "array elements"));
        }
        let c = self.prim_class(t);
        let node = self.new_node(NodeKind::Array, obj, c, len)?;
        self.c.primitive_arrays += 1;
        let short = &mut self.c.short;
        if keeps_contents(t, data) && short.has_room(data as usize) {
            if !self.input.fill(data as usize)? {
                return Err(Stop::Eof);
            }
            let start = short.bytes.len() as u32;
            short
                .bytes
                .extend_from_slice(&self.input.bytes()[..data as usize]);
            short.index.push((node, start, data as u16, t));
            self.input.consume(data as usize);
        } else if self.input.skip(data)? < data {
            return Err(Stop::Eof);
        }
        Ok(())
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The GCD of the address gaps so far, `so_far`, after the gap from `prev` to `id` (object
/// alignment is clamped to 8..=256: once the GCD is down to 8 it stays there).
#[inline]
pub(crate) fn fold_gap(so_far: u64, prev: u64, id: u64) -> u64 {
    let gap = id.abs_diff(prev);
    if prev == 0 || id == 0 || gap == 0 {
        return so_far;
    }
    fold_gcd(so_far, gap)
}

/// `so_far` joined with a nonzero GCD of more gaps (see [`fold_gap`]).
#[inline]
pub(crate) fn fold_gcd(so_far: u64, more: u64) -> u64 {
    if so_far == 8 {
        8
    } else {
        gcd(so_far, more).max(8)
    }
}

/// The fields of a root sub-record: the object id, then `skip` bytes, a thread serial and a
/// frame index / trace serial when the tag has them.
#[derive(Clone, Copy)]
pub(crate) struct RootShape {
    skip: usize,
    thread: bool,
    extra: bool,
    /// Bytes after the tag.
    pub(crate) len: usize,
}

impl RootShape {
    /// `None` for a tag that is no root.
    #[inline]
    pub(crate) fn of(tag: u8, id: usize) -> Option<RootShape> {
        let (skip, thread, extra) = match tag {
            ROOT_UNKNOWN
            | ROOT_STICKY_CLASS
            | ROOT_MONITOR_USED
            | ROOT_INTERNED_STRING
            | ROOT_FINALIZING
            | ROOT_DEBUGGER
            | ROOT_REFERENCE_CLEANUP
            | ROOT_VM_INTERNAL
            | UNREACHABLE => (0, false, false),
            ROOT_JNI_GLOBAL => (id, false, false),
            ROOT_JNI_LOCAL | ROOT_JAVA_FRAME | ROOT_JNI_MONITOR | ROOT_THREAD_OBJECT => {
                (0, true, true)
            }
            ROOT_NATIVE_STACK | ROOT_THREAD_BLOCK => (0, true, false),
            _ => return None,
        };
        let len = id + skip + 4 * (thread as usize + extra as usize);
        Some(RootShape {
            skip,
            thread,
            extra,
            len,
        })
    }

    /// The root in `b`, which holds at least `len` bytes.
    #[inline]
    pub(crate) fn read(self, tag: u8, b: &[u8], id: usize) -> Root {
        Root {
            tag,
            obj: id_at(b, 0, id),
            thread: if self.thread {
                u32_at(b, id + self.skip)
            } else {
                0
            },
            extra: if self.extra {
                u32_at(b, id + self.skip + 4)
            } else {
                NONE
            },
        }
    }
}

/// Counts a root of `tag` (tags in the order first seen).
#[inline]
pub(crate) fn count_root(counts: &mut Vec<(u8, u64)>, tag: u8) {
    match counts.iter_mut().find(|(t, _)| *t == tag) {
        Some((_, count)) => *count += 1,
        None => counts.push((tag, 1)),
    }
}

/// What an instance's field bytes hold besides its references (which go to the edges).
pub(crate) struct InstanceFields {
    /// The field byte count differs from the class layout's.
    pub(crate) mismatch: bool,
    /// A `java.lang.String` whose coder says UTF-16.
    pub(crate) utf16: bool,
    /// A JDK collection's counting fields.
    pub(crate) counted: Option<Counted>,
}

impl InstanceFields {
    /// Reads instance `node`'s field `bytes` by its class `layout`: non-null references
    /// become edges.
    #[inline]
    pub(crate) fn read(
        layout: &Layout,
        node: u32,
        bytes: &[u8],
        id: usize,
        edges: &mut EdgeColumns,
    ) -> InstanceFields {
        for f in &layout.refs {
            let at = f.offset as usize;
            if at + id > bytes.len() {
                break;
            }
            let target = id_at(bytes, at, id);
            if target != 0 {
                let kind = if f.weak {
                    EdgeKind::Weak
                } else {
                    EdgeKind::Property
                };
                edges.push(kind, f.name, encode_id(target, id));
            }
        }
        InstanceFields {
            mismatch: layout.bytes != bytes.len() as u64,
            utf16: layout
                .coder
                .is_some_and(|coder| bytes.get(coder as usize) == Some(&1)),
            counted: collections::read_counted(layout, node, bytes),
        }
    }

    /// Adds what was read of instance `node` to the reader's (or a segment's) columns.
    #[inline]
    pub(crate) fn keep(
        self,
        node: u32,
        mismatches: &mut u64,
        utf16: &mut Vec<u32>,
        counted: &mut Vec<Counted>,
    ) {
        *mismatches += self.mismatch as u64;
        if self.utf16 {
            utf16.push(node);
        }
        counted.extend(self.counted);
    }
}

/// Object array elements from index `first` on (`bytes` holds whole ids): non-null ones
/// become element edges.
#[inline]
pub(crate) fn push_element_edges(bytes: &[u8], id: usize, first: u64, edges: &mut EdgeColumns) {
    for k in 0..bytes.len() / id {
        let target = id_at(bytes, k * id, id);
        if target != 0 {
            edges.push(
                EdgeKind::Element,
                (first + k as u64) as u32,
                encode_id(target, id),
            );
        }
    }
}

/// Whether a primitive array's contents (`data` bytes of element type `t`) are kept, room
/// allowing (see [`ShortArrays::has_room`]).
#[inline]
pub(crate) fn keeps_contents(t: u8, data: u64) -> bool {
    (t == T_BYTE || t == T_CHAR) && data > 0 && data as usize <= SHORT_ARRAY_MAX
}

/// MAT's compressed-oops test: an object array that starts inside the previous one's extent
/// if its references took 8 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OverlapTest {
    /// The last object array seen: (id, length).
    pub(crate) last: Option<(u64, u64)>,
    pub(crate) found: bool,
}

impl OverlapTest {
    #[inline]
    pub(crate) fn see(&mut self, obj: u64, len: u64) {
        if self.found {
            return;
        }
        if let Some((prev, prev_len)) = self.last {
            if prev != 0 && obj > prev && obj < prev.saturating_add(16 + 8 * prev_len) {
                self.found = true;
            }
        }
        self.last = Some((obj, len));
    }

    /// Continues with the arrays another test saw after these, starting with `first`.
    pub(crate) fn then(&mut self, first: Option<(u64, u64)>, later: &OverlapTest) {
        let Some((obj, len)) = first else { return };
        self.see(obj, len);
        if later.found {
            self.found = true;
        } else if !self.found {
            self.last = later.last;
        }
    }
}

fn truncate_column(column: &mut U64Column, len: usize) {
    match column {
        U64Column::Narrow(v) => v.truncate(len),
        U64Column::Wide(v) => v.truncate(len),
    }
}

/// Flattens class `c`'s instance fields with its superclasses'. `None` while a superclass
/// has not been dumped, unless `partial`: then the fields known before the gap.
pub(crate) fn compute_layout(
    classes: &[ClassDef],
    class_by_id: &IdMap<u64, u32>,
    symbols: &Symbols,
    keys: &mut NameKeys,
    id: usize,
    class: u32,
    partial: bool,
) -> Option<Layout> {
    let mut layout = Layout {
        complete: true,
        ..Layout::default()
    };
    let mut k = class;
    let mut steps = 0;
    loop {
        let def = &classes[k as usize];
        if def.node == NONE {
            if !partial {
                return None;
            }
            layout.complete = false;
            break;
        }
        let declaring_reference = is_named(symbols, def, b"java/lang/ref/Reference");
        let declaring_string = k == class && is_named(symbols, def, b"java/lang/String");
        let counting_rule = match (layout.collection, &def.name) {
            (None, ClassName::Symbol(sym)) => symbols.get(*sym).and_then(collections::rule_for),
            _ => None,
        };
        if counting_rule.is_some() {
            layout.collection = counting_rule;
        }
        for &(name, t) in &def.fields {
            let size = type_size(t, id).unwrap_or(0) as u64;
            if let (Some(rule), 4 | 8) = (counting_rule, size) {
                let slot = symbols
                    .get(name)
                    .and_then(|field| collections::counting_slot(rule, field));
                if let (Some(slot), Ok(offset)) = (slot, u32::try_from(layout.bytes)) {
                    layout.counting[slot as usize] = Some(CountingField {
                        offset,
                        size: size as u8,
                    });
                }
            }
            if t == T_OBJECT && layout.bytes <= u32::MAX as u64 {
                layout.refs.push(RefField {
                    offset: layout.bytes as u32,
                    name: keys.key(NameKey::Field(name)),
                    weak: declaring_reference && symbols.is(name, b"referent"),
                });
            }
            if declaring_string && t == T_BYTE && symbols.is(name, b"coder") {
                layout.coder = u32::try_from(layout.bytes).ok();
            }
            layout.bytes += size;
        }
        if def.super_id == 0 {
            break;
        }
        steps += 1;
        match class_by_id.get(&def.super_id) {
            // A cycle of superclasses (corrupt input) ends the walk.
            Some(&s) if steps <= classes.len() => k = s,
            _ => {
                if !partial {
                    return None;
                }
                layout.complete = false;
                break;
            }
        }
    }
    Some(layout)
}

fn is_named(symbols: &Symbols, def: &ClassDef, name: &[u8]) -> bool {
    match def.name {
        ClassName::Symbol(sym) => symbols.is(sym, name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{ClassColumn, EdgeNames, NONE};

    #[test]
    fn class_columns_widen_and_keep_every_class() {
        let mut narrow = ClassColumn::default();
        let mut other = ClassColumn::default();
        for k in [0, 7, NONE, 65_534] {
            narrow.push(k);
            other.push(k);
        }
        assert!(matches!(narrow, ClassColumn::Narrow(_)));
        // 65,535 is the narrow column's NONE: a class index that large widens it.
        narrow.push(65_535);
        narrow.push(1 << 20);
        assert!(matches!(narrow, ClassColumn::Wide(_)));
        narrow.extend_from(&other);
        let expected = [0, 7, NONE, 65_534, 65_535, 1 << 20, 0, 7, NONE, 65_534];
        assert_eq!(narrow.iter().collect::<Vec<_>>(), expected);
        narrow.truncate(3);
        narrow.replace_none(9);
        assert_eq!(narrow.iter().collect::<Vec<_>>(), [0, 7, 9]);
        other.replace_none(70_000);
        assert_eq!(other.iter().collect::<Vec<_>>(), [0, 7, 70_000, 65_534]);
    }

    #[test]
    fn edge_names_keep_large_names_beside() {
        let mut names = EdgeNames::default();
        let values = [3, 65_535, 70_000, 1, u32::MAX, 65_534];
        for &v in &values {
            names.push(v);
        }
        let mut more = EdgeNames::default();
        more.push(100_000);
        more.push(2);
        names.extend_from(&more);
        let all: Vec<u32> = (0..names.len()).map(|i| names.get(i)).collect();
        assert_eq!(all, [3, 65_535, 70_000, 1, u32::MAX, 65_534, 100_000, 2]);
        names.truncate(3);
        names.push(80_000);
        let all: Vec<u32> = (0..names.len()).map(|i| names.get(i)).collect();
        assert_eq!(all, [3, 65_535, 70_000, 80_000]);
        names.clear();
        assert_eq!(names.len(), 0);
    }
}
