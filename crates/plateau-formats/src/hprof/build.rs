//! From the collected columns to a [`HeapGraph`]: object ids resolved to nodes, late edges
//! (instances decoded after their class arrived, threads' stack roots) merged in place,
//! names, MAT shallow sizes and the root groups. Which edges retain is the graph engine's
//! default rule (weak and self references do not).
//!
//! Memory: the id index is a window table per run of ascending ids (at most 4 bytes a node,
//! see `index.rs`), built once and dropped once roots are resolved; edge targets are
//! resolved in place in the 4-byte column the reader filled (heaps below 32 GB); the name
//! column is made only once the array lengths are freed. So the peak is the graph's own
//! columns plus the index, the name keys and the short-array store.

use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use plateau_graph::{
    BitSet, ClassId, ClassInfo, ClassLinks, EdgeKind, GraphParts, HeapGraph, NameColumn, NodeId,
    NodeKind, StrId, StringTable, U64Column, NO_CLASS_OBJECT,
};

use super::collections::{self, EdgeColumns};
use super::index::IdIndex;
use super::names::{decode_string_value, java_class_name, push_latin1, push_modified_utf8};
use super::reader::{
    compute_layout, decode_id, encode_id, id_at, type_size, ClassColumn, ClassName, Collected,
    NameKey, Root, KEY_CLASS, NONE, ROOT_DEBUGGER, ROOT_FINALIZING, ROOT_INTERNED_STRING,
    ROOT_JAVA_FRAME, ROOT_JNI_GLOBAL, ROOT_JNI_LOCAL, ROOT_JNI_MONITOR, ROOT_MONITOR_USED,
    ROOT_NATIVE_STACK, ROOT_REFERENCE_CLEANUP, ROOT_STICKY_CLASS, ROOT_THREAD_BLOCK,
    ROOT_THREAD_OBJECT, ROOT_UNKNOWN, ROOT_VM_INTERNAL, T_CHAR, T_OBJECT, UNREACHABLE,
};
use super::{HprofDump, HprofMeta, HprofOptions, JavaThread};
use crate::FormatError;

/// The group a root of this tag belongs to when it is not attached to a thread.
fn root_group_name(tag: u8) -> &'static str {
    match tag {
        ROOT_STICKY_CLASS => "System class",
        ROOT_JNI_GLOBAL => "JNI global",
        ROOT_JAVA_FRAME => "Java local",
        ROOT_JNI_LOCAL => "JNI local",
        ROOT_NATIVE_STACK => "Native stack",
        ROOT_THREAD_BLOCK => "Thread block",
        ROOT_MONITOR_USED => "Busy monitor",
        ROOT_JNI_MONITOR => "JNI monitor",
        ROOT_THREAD_OBJECT => "Thread",
        ROOT_INTERNED_STRING => "Interned string",
        ROOT_FINALIZING => "Finalizing",
        ROOT_DEBUGGER => "Debugger",
        ROOT_REFERENCE_CLEANUP => "Reference cleanup",
        ROOT_VM_INTERNAL => "VM internal",
        ROOT_UNKNOWN => "Unknown",
        UNREACHABLE => "Unreachable",
        _ => "Other root",
    }
}

/// Order of the root groups under the root (threads come first).
const GROUP_ORDER: [u8; 15] = [
    ROOT_STICKY_CLASS,
    ROOT_JNI_GLOBAL,
    ROOT_JAVA_FRAME,
    ROOT_JNI_LOCAL,
    ROOT_NATIVE_STACK,
    ROOT_THREAD_BLOCK,
    ROOT_MONITOR_USED,
    ROOT_JNI_MONITOR,
    ROOT_INTERNED_STRING,
    ROOT_FINALIZING,
    ROOT_DEBUGGER,
    ROOT_REFERENCE_CLEANUP,
    ROOT_VM_INTERNAL,
    ROOT_UNKNOWN,
    UNREACHABLE,
];

/// An edge added after its source node's own edges were written.
struct Late {
    src: u32,
    kind: EdgeKind,
    name: u32,
    target: u64,
}

fn align(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

pub(crate) fn build(
    mut c: Collected,
    options: &HprofOptions,
    warnings: &mut Vec<String>,
) -> Result<HprofDump, FormatError> {
    let id = c.id_size;
    let n = c.nodes.kinds.len();
    c.nodes.first_edge.push(c.edges.kinds.len() as u32);

    // Sizes, by MAT's rules (formats.md 2.9).
    let pointer = id as u64;
    let refsize = if id == 8 && c.compressed_refs {
        4
    } else {
        id as u64
    };
    let alignment = match c.gcd {
        0 => 8,
        g => (g & g.wrapping_neg()).clamp(8, 256),
    };
    let header = pointer + refsize;

    c.short.seal();

    // Strings: class names, then edge names.
    let mut strings = StringTable::new();
    let mut interned: HashMap<String, StrId> = HashMap::new();
    let mut intern = |strings: &mut StringTable, s: String| -> StrId {
        if let Some(&id) = interned.get(&s) {
            return id;
        }
        let id = strings.push(&s);
        interned.insert(s, id);
        id
    };
    let symbol_text = |c: &Collected, sym: u64| -> String {
        let mut s = String::new();
        match c.symbols.get(sym) {
            Some(bytes) => push_modified_utf8(bytes, &mut s),
            None => s = format!("<symbol 0x{sym:x}>"),
        }
        s
    };
    let mut class_names: Vec<StrId> = Vec::with_capacity(c.classes.len() + 2);
    for def in &c.classes {
        let name = match &def.name {
            ClassName::Symbol(sym) => java_class_name(&symbol_text(&c, *sym)),
            ClassName::Text(text) => text.clone(),
            ClassName::Unnamed => format!("(unknown class 0x{:x})", def.id),
        };
        class_names.push(intern(&mut strings, name));
    }
    let key_text = |c: &Collected, key: &NameKey| match key {
        NameKey::Field(sym) => symbol_text(c, *sym),
        NameKey::Static(sym) => format!("static {}", symbol_text(c, *sym)),
        NameKey::Text(text) => text.to_string(),
    };
    // The keys so far; those of the late edges (deferred instances, stack roots) are
    // interned once they exist, right after these, so every string keeps its id.
    let mut key_names: Vec<StrId> = c
        .keys
        .list
        .iter()
        .map(|key| intern(&mut strings, key_text(&c, key)))
        .collect();
    // Name keys to strings, packed at once (one byte a name from here on) from the reader's
    // 2-byte column, before the id index is built beside the other columns (-110 MiB at 2 GB
    // under the parse's peak and all that follows); the late edges' names go in with the
    // edits of the edge list, below.
    let edge_names = {
        let (names, kinds) = (&c.edges.names, &c.edges.kinds);
        NameColumn::pack_with(names.len(), || {
            |e| {
                let name = names.get(e);
                if kinds[e].name_is_index() {
                    name
                } else {
                    key_names.get(name as usize).map_or(0, |s| s.0)
                }
            }
        })
    };
    drop(std::mem::take(&mut c.edges.names));

    // The class links need only the node columns: found on the second core while the id
    // index is built.
    let ((index, duplicate_ids), linked) = std::thread::scope(|scope| {
        let c = &c;
        let links = scope.spawn(move || options.class_edges.then(|| class_links(c)));
        let index = IdIndex::build(&c.nodes.ids);
        (
            index,
            links.join().expect("finding class links does not panic"),
        )
    });
    if duplicate_ids > 0 {
        warnings.push(format!(
            "{duplicate_ids} objects repeat an id already seen: references go to the first"
        ));
    }

    let mut late: Vec<Late> = Vec::new();
    decode_deferred(&mut c, &mut late, warnings);
    c.utf16.sort_unstable();
    let threads = thread_roots(&mut c, &index, &mut late);
    hold_classes(&mut c, &index, &mut late);
    let (edge_targets, dangling, edits) = resolve(&mut c, &index, late);
    let root_nodes: Vec<Option<u32>> = c
        .roots
        .iter()
        .map(|r| index.get(&c.nodes.ids, encode_id(r.obj, id)))
        .collect();
    drop(index);
    if dangling > 0 {
        warnings.push(format!(
            "{dangling} references point to ids the dump holds no object for: dropped"
        ));
    }
    for key in &c.keys.list[key_names.len()..] {
        key_names.push(intern(&mut strings, key_text(&c, key)));
    }
    let inserted: Vec<(u32, u32)> = edits
        .inserted
        .iter()
        .map(|&(at, kind, name)| {
            let name = if kind.name_is_index() {
                name
            } else {
                key_names.get(name as usize).map_or(0, |s| s.0)
            };
            (at, name)
        })
        .collect();
    let edge_names = edge_names.edited(&edits.dropped, &inserted);
    drop(edits);

    // Classes of the graph: one per class of the dump, then java.lang.Class if the dump
    // lacks it, then the class of the synthetic root nodes.
    let mut classes: Vec<ClassInfo> = class_names
        .iter()
        .map(|&name| ClassInfo {
            name,
            location: None,
        })
        .collect();
    let java_lang_class = match c.classes.iter().position(
        |d| matches!(d.name, ClassName::Symbol(sym) if c.symbols.is(sym, b"java/lang/Class")),
    ) {
        Some(k) => k as u32,
        None => {
            classes.push(ClassInfo {
                name: intern(&mut strings, "java.lang.Class".into()),
                location: None,
            });
            (classes.len() - 1) as u32
        }
    };
    let roots_class = ClassId(classes.len() as u32);
    classes.push(ClassInfo {
        name: intern(&mut strings, "(GC roots)".into()),
        location: None,
    });

    // Node classes (in place: the reader's column becomes the graph's) and names.
    let mut class_objects = BitSet::new(n);
    for def in &c.classes {
        if def.node != NONE {
            class_objects.insert(def.node as usize);
        }
    }
    // Class objects are of `java.lang.Class`. Kept in the reader's column (2 bytes a node)
    // until the graph's packed one is made from it.
    let mut node_classes = std::mem::take(&mut c.nodes.classes);
    node_classes.replace_none(java_lang_class);
    // Collections' lengths (while array lengths are still at hand), then shallow sizes on
    // this core while the Strings are named on another (the longer of the two): independent
    // work over the same read-only columns. The collections find fields by name id (the
    // naming adds strings meanwhile); the sizes take the place of the counts they are made
    // from (field bytes, array lengths), so the two never coexist (121 MiB at 2 GB).
    let mut counted = std::mem::take(&mut c.counted);
    let name_id = |name: &str| interned.get(name).map(|s| s.0);
    let raw = std::mem::take(&mut c.nodes.raw);
    let (stored, self_sizes, undefined_instances, string_names) = {
        let c = &c;
        let sizing = SizeRules {
            pointer,
            refsize,
            header,
            alignment,
            class_instance_size: options.class_instance_size,
            java_lang_class,
        };
        let edges = EdgeColumns {
            first_edge: &c.nodes.first_edge,
            kinds: &c.edges.kinds,
            names: &edge_names,
            targets: &edge_targets,
        };
        let strings = &mut strings;
        let classes = &classes;
        let node_classes = &node_classes;
        let class_objects = &class_objects;
        let counted = &mut counted;
        let name_id = &name_id;
        std::thread::scope(|scope| {
            let named =
                scope.spawn(move || name_strings(c, strings, classes, node_classes, &edges));
            let view = collections::EdgeView {
                edges,
                name_id,
                array_length: &|node: NodeId| raw.get(node.index()),
                is_array: &|node: NodeId| c.nodes.kinds[node.index()] == NodeKind::Array,
            };
            let stored = collections::stored_collections(counted, &view);
            let (sizes, undefined) = shallow_sizes(c, raw, node_classes, class_objects, &sizing);
            (
                stored,
                sizes,
                undefined,
                named.join().expect("naming Strings does not panic"),
            )
        })
    };
    drop(counted);
    // The threads' names are the last use of the short arrays' contents: their store goes
    // before the node names are made (95 MiB at 2 GB).
    let edges = EdgeColumns {
        first_edge: &c.nodes.first_edge,
        kinds: &c.edges.kinds,
        names: &edge_names,
        targets: &edge_targets,
    };
    let mut java_threads = name_threads(&c, &strings, &edges, &threads);
    drop(std::mem::take(&mut c.short));
    // Node names: a class object's is the class it describes, a String's its text, anyone
    // else's its class's; packed as they are made, without a 4-byte column of them.
    for &(v, _) in &string_names {
        c.nodes.kinds[v as usize] = NodeKind::String;
    }
    let mut described: Vec<(u32, StrId)> = c
        .classes
        .iter()
        .zip(&class_names)
        .filter(|(def, _)| def.node != NONE)
        .map(|(def, &name)| (def.node, name))
        .collect();
    described.sort_unstable_by_key(|d| d.0);
    let node_names = {
        // The packing asks for names in increasing node order: the next String is found
        // from the last one's place (searched for once, at the first node asked for).
        let (class_objects, described, string_names) = (&class_objects, &described, &string_names);
        let (classes, node_classes) = (&classes, &node_classes);
        NameColumn::pack_with(n, || {
            let mut next_string: Option<usize> = None;
            move |v| {
                if class_objects.contains(v) {
                    if let Ok(at) = described.binary_search_by_key(&(v as u32), |d| d.0) {
                        return described[at].1 .0;
                    }
                }
                let mut at = next_string
                    .unwrap_or_else(|| string_names.partition_point(|s| (s.0 as usize) < v));
                while at < string_names.len() && (string_names[at].0 as usize) < v {
                    at += 1;
                }
                next_string = Some(at);
                match string_names.get(at) {
                    Some(&(s, name)) if s as usize == v => name.0,
                    _ => classes[node_classes.get(v) as usize].name.0,
                }
            }
        })
    };
    drop(string_names);
    drop(described);
    drop(class_objects);
    if undefined_instances > 0 {
        let classes_without_dump = c
            .classes
            .iter()
            .filter(|d| d.node == NONE && d.id != 0 && !matches!(d.name, ClassName::Text(_)))
            .count();
        warnings.push(format!(
            "{undefined_instances} objects are of classes the dump never defines (no CLASS_DUMP \
             for {classes_without_dump} class ids): kept without fields, sized from their \
             field bytes"
        ));
    }

    // Ids were kept encoded: 8-aligned addresses shifted, 4 bytes each; others decoded.
    let (node_ids, node_id_shift) = match std::mem::take(&mut c.nodes.ids) {
        U64Column::Narrow(v) if id == 8 => (U64Column::Narrow(v), 3),
        U64Column::Wide(v) => (v.into_iter().map(|x| decode_id(x, id)).collect(), 0),
        narrow => (narrow, 0),
    };
    let mut parts = GraphParts {
        strings,
        node_kinds: std::mem::take(&mut c.nodes.kinds),
        node_names,
        node_ids,
        node_id_shift,
        self_sizes,
        node_classes: NameColumn::pack_with(n, || |v| node_classes.get(v)),
        classes,
        first_edge: std::mem::take(&mut c.nodes.first_edge),
        edge_kinds: std::mem::take(&mut c.edges.kinds),
        edge_names,
        edge_targets,
        retaining: None,
        root: NodeId(0),
        user_roots: Vec::new(),
        locations: Vec::new(),
        collections: stored,
        class_links: None,
    };

    // Thread names, then the root and its groups.
    let dangling_roots = add_roots(
        &mut parts,
        &c.roots,
        &root_nodes,
        &mut java_threads,
        roots_class,
    );
    if dangling_roots > 0 {
        warnings.push(format!(
            "{dangling_roots} GC roots name ids the dump holds no object for: ignored"
        ));
    }
    parts.class_links = linked.map(|mut linked| {
        // The root and its groups, added just now, have no link.
        linked.grow(parts.node_kinds.len());
        ClassLinks {
            linked,
            class_objects: (0..parts.classes.len())
                .map(|k| match c.classes.get(k) {
                    Some(def) if def.node != NONE => def.node,
                    _ => NO_CLASS_OBJECT,
                })
                .collect(),
            name: key_names[KEY_CLASS as usize],
        }
    });

    // Which edges retain: the engine's default rule (weak references and self references do
    // not), which `HeapGraph::from_parts` applies when `parts.retaining` is left empty.

    // Every sum the graph engine makes (retained sizes, class totals) is at most this one.
    let total_size = parts
        .self_sizes
        .iter()
        .try_fold(0u64, |t, s| t.checked_add(s))
        .ok_or_else(|| {
            FormatError::Inconsistent("the shallow sizes add up to more than 2^64 bytes".into())
        })?;
    let threads_out: Vec<JavaThread> = java_threads;
    let meta = HprofMeta {
        version: c.version.clone(),
        id_size: id as u32,
        timestamp_ms: c.timestamp_ms,
        reference_size: refsize as u32,
        compressed_oops: id == 8 && c.compressed_refs,
        object_alignment: alignment as u32,
        header_size: header as u32,
        instances: c.instances,
        object_arrays: c.object_arrays,
        primitive_arrays: c.primitive_arrays,
        class_dumps: c.class_dumps,
        load_class_records: c.load_class_records,
        duplicate_load_class: c.duplicate_load_class,
        symbols: c.symbols.len() as u64,
        stack_traces: c.traces.len() as u64,
        stack_frames: c.frames.len() as u64,
        heap_dump_records: c.heap_dump_records,
        heap_dump_end: c.heap_dump_end,
        roots: {
            let mut counts = c.root_counts.clone();
            counts.sort_by_key(|&(tag, _)| tag);
            counts
                .into_iter()
                .map(|(tag, count)| (root_group_name(tag), count))
                .collect()
        },
        heaps: c
            .heaps
            .iter()
            .map(|&(sym, count)| (symbol_text(&c, sym), count))
            .collect(),
        dangling_references: dangling,
        deferred_instances: c.deferred.len() as u64,
        total_size,
        bytes_read: c.bytes_read,
    };
    if c.duplicate_class_dumps > 0 {
        warnings.push(format!(
            "{} CLASS_DUMP records repeat a class already dumped: ignored",
            c.duplicate_class_dumps
        ));
    }
    if c.layout_mismatches > 0 {
        warnings.push(format!(
            "{} instances have a field byte count that differs from their class layout: \
             fields were read as far as both go",
            c.layout_mismatches
        ));
    }
    drop(c);
    shrink(&mut parts);
    let graph = HeapGraph::from_parts(parts)?;
    Ok(HprofDump {
        graph,
        meta,
        threads: threads_out,
    })
}

/// Decodes the instances whose class layout was unknown when they were read.
fn decode_deferred(c: &mut Collected, late: &mut Vec<Late>, warnings: &mut Vec<String>) {
    if c.deferred.is_empty() {
        return;
    }
    let id = c.id_size;
    let mut partial = 0u64;
    let deferred = std::mem::take(&mut c.deferred);
    for d in &deferred {
        if c.classes[d.class as usize].node == NONE {
            // Never dumped: no fields to read (reported with the undefined classes).
            continue;
        }
        let known = c.classes[d.class as usize].layout;
        let l = if known != NONE {
            known
        } else {
            let layout = compute_layout(
                &c.classes,
                &c.class_by_id,
                &c.symbols,
                &mut c.keys,
                id,
                d.class,
                true,
            )
            .unwrap_or_default();
            let l = c.layouts.len() as u32;
            c.layouts.push(layout);
            c.classes[d.class as usize].layout = l;
            l
        };
        let layout = &c.layouts[l as usize];
        if !layout.complete {
            partial += 1;
        }
        let n = d.len as usize;
        let bytes = &c.deferred_bytes[d.start..d.start + n];
        if layout.complete && layout.bytes != n as u64 {
            c.layout_mismatches += 1;
        }
        for f in &layout.refs {
            let at = f.offset as usize;
            if at + id > n {
                break;
            }
            let target = id_at(bytes, at, id);
            if target != 0 {
                late.push(Late {
                    src: d.node,
                    kind: if f.weak {
                        EdgeKind::Weak
                    } else {
                        EdgeKind::Property
                    },
                    name: f.name,
                    target: encode_id(target, id),
                });
            }
        }
        if let Some(coder) = layout.coder {
            if (coder as usize) < n && bytes[coder as usize] == 1 {
                c.utf16.push(d.node);
            }
        }
        if let Some(counted) = collections::read_counted(layout, d.node, bytes) {
            c.counted.push(counted);
        }
    }
    c.deferred = deferred;
    c.deferred_bytes = Vec::new();
    if partial > 0 {
        warnings.push(format!(
            "{partial} instances have a superclass the dump never defines: only the fields \
             declared below it are read"
        ));
    }
}

/// What keeps class objects alive beyond the references the dump lists: in the JVM a class
/// loader's `ClassLoaderData` holds the mirror of every class it defined, and the bootstrap
/// loader never goes away. So each class object gets a retaining `<loaded class>` edge from
/// its loader object, and the bootstrap loader's classes join the `System class` roots
/// (HotSpot marks only some of them sticky; array classes never). Hidden classes
/// (`Name/0x...`: lambda forms, lambda proxies) are left to the references that hold them,
/// since their loader may not keep them.
fn hold_classes(c: &mut Collected, index: &IdIndex, late: &mut Vec<Late>) {
    let id = c.id_size;
    let sticky: std::collections::HashSet<u64> = c
        .roots
        .iter()
        .filter(|r| r.tag == ROOT_STICKY_CLASS)
        .map(|r| r.obj)
        .collect();
    let key = c.keys.key(NameKey::Text("<loaded class>".into()));
    for def in &c.classes {
        if def.node == NONE {
            continue;
        }
        let hidden = match def.name {
            ClassName::Symbol(sym) => c.symbols.get(sym).is_some_and(|name| {
                name.windows(3)
                    .any(|w| (w[0] == b'+' || w[0] == b'/') && &w[1..] == b"0x")
            }),
            _ => false,
        };
        if hidden {
            continue;
        }
        if def.loader == 0 {
            if !sticky.contains(&def.id) {
                c.roots.push(Root {
                    tag: ROOT_STICKY_CLASS,
                    obj: def.id,
                    thread: 0,
                    extra: NONE,
                });
            }
        } else if let Some(loader) = index.get(&c.nodes.ids, encode_id(def.loader, id)) {
            late.push(Late {
                src: loader,
                kind: EdgeKind::Internal,
                name: key,
                target: encode_id(def.id, id),
            });
        }
    }
}

/// A `ROOT_THREAD_OBJECT`: the thread, its node and its stack trace.
struct ThreadRoot {
    serial: u32,
    node: Option<u32>,
    trace: u32,
}

/// Finds the threads and turns their stack roots into late edges from the thread objects.
/// Roots whose thread is unknown stay in `c.roots` for the kind groups; the others are
/// removed from it.
fn thread_roots(c: &mut Collected, index: &IdIndex, late: &mut Vec<Late>) -> Vec<ThreadRoot> {
    let id = c.id_size;
    let mut threads: Vec<ThreadRoot> = Vec::new();
    let mut by_serial: HashMap<u32, usize> = HashMap::new();
    for r in c.roots.iter().filter(|r| r.tag == ROOT_THREAD_OBJECT) {
        if by_serial.contains_key(&r.thread) {
            continue;
        }
        by_serial.insert(r.thread, threads.len());
        threads.push(ThreadRoot {
            serial: r.thread,
            node: index.get(&c.nodes.ids, encode_id(r.obj, c.id_size)),
            trace: r.extra,
        });
    }
    threads.sort_by_key(|t| t.serial);
    by_serial = threads
        .iter()
        .enumerate()
        .map(|(i, t)| (t.serial, i))
        .collect();
    let mut keep: Vec<Root> = Vec::with_capacity(c.roots.len());
    let roots = std::mem::take(&mut c.roots);
    for r in roots {
        let bound = matches!(
            r.tag,
            ROOT_JAVA_FRAME
                | ROOT_JNI_LOCAL
                | ROOT_NATIVE_STACK
                | ROOT_THREAD_BLOCK
                | ROOT_JNI_MONITOR
        );
        let thread = by_serial
            .get(&r.thread)
            .and_then(|&t| threads[t].node.map(|node| (t, node)));
        match (bound, thread) {
            (true, Some((t, node))) => {
                let frame = if matches!(r.tag, ROOT_JAVA_FRAME | ROOT_JNI_LOCAL | ROOT_JNI_MONITOR)
                {
                    frame_label(c, threads[t].trace, r.extra)
                } else {
                    None
                };
                let what = match r.tag {
                    ROOT_JAVA_FRAME => "local",
                    ROOT_JNI_LOCAL => "JNI local",
                    ROOT_NATIVE_STACK => "native stack",
                    ROOT_THREAD_BLOCK => "thread block",
                    _ => "JNI monitor",
                };
                let label = match frame {
                    Some(f) => format!("<{what} in {f}>"),
                    None => format!("<{what}>"),
                };
                let name = c.keys.key(NameKey::Text(label.into()));
                if r.obj != 0 {
                    late.push(Late {
                        src: node,
                        kind: EdgeKind::Internal,
                        name,
                        target: encode_id(r.obj, id),
                    });
                }
            }
            _ => keep.push(r),
        }
    }
    c.roots = keep;
    threads
}

/// `Foo.bar(Foo.java:12)` for frame `index` of stack trace `trace`.
fn frame_label(c: &Collected, trace: u32, index: u32) -> Option<String> {
    let frame_id = *c.traces.get(&trace)?.frames.get(index as usize)?;
    frame_text(c, frame_id)
}

fn frame_text(c: &Collected, frame_id: u64) -> Option<String> {
    let f = c.frames.get(&frame_id)?;
    let text = |sym: u64| {
        let mut s = String::new();
        if let Some(bytes) = c.symbols.get(sym) {
            push_modified_utf8(bytes, &mut s);
        }
        s
    };
    let class = c
        .class_by_serial
        .get(&f.class_serial)
        .and_then(|cid| c.class_by_id.get(cid))
        .and_then(|&k| match &c.classes[k as usize].name {
            ClassName::Symbol(sym) => Some(java_class_name(&text(*sym))),
            ClassName::Text(t) => Some(t.clone()),
            ClassName::Unnamed => None,
        })
        .unwrap_or_else(|| "?".into());
    let source = text(f.source);
    let place = match f.line {
        -3 => "Native Method".to_string(),
        line if line > 0 && !source.is_empty() => format!("{source}:{line}"),
        _ if !source.is_empty() => source,
        _ => "Unknown Source".to_string(),
    };
    Some(format!("{class}.{}({place})", text(f.method)))
}

/// What [`resolve`] did to the edge list, for the name column packed before it: the old
/// positions dropped, and the late edges inserted (old position, kind, name key), by position.
struct EdgeEdits {
    dropped: Vec<u32>,
    inserted: Vec<(u32, EdgeKind, u32)>,
}

/// Turns raw target ids into nodes, in place, dropping references to ids no object has,
/// and inserts the late edges after their source's own. The lookups (a third of the build)
/// run on two threads and note the references to drop as they go; the compaction and the
/// insertion are one sequential pass.
fn resolve(
    c: &mut Collected,
    index: &IdIndex,
    mut late: Vec<Late>,
) -> (Vec<NodeId>, u64, EdgeEdits) {
    let ids = &c.nodes.ids;
    // Targets and the id column are both encoded: compared as they are.
    let lookup = |raw: u64| index.get(ids, raw).unwrap_or(MISSING);
    // Resolves `targets` in place, returning the positions (from `offset`) of those no
    // object has; the ids a few places on are asked for early (the index's window first,
    // then the ids column). Many references go to a few objects (shared Strings, enum
    // constants, cached boxes, the Class objects of `java.lang.Class` fields), some in short
    // runs the index keeps in a hash map after trying its long runs: a small table of
    // recent answers, by a few bits of the id, answers those (still about a third fewer
    // `IdIndex::get` samples at 2 GB since the `<class>` links, its first purpose, stopped
    // being references).
    let resolve_all = |targets: &mut [u32], offset: usize| -> Vec<u32> {
        const RECENT: usize = 1 << 12;
        let mut recent = vec![(0u32, MISSING); RECENT];
        let mut missing = Vec::new();
        for i in 0..targets.len() {
            if let Some(&far) = targets.get(i + 16) {
                index.prefetch(ids, far as u64, 0);
            }
            if let Some(&near) = targets.get(i + 8) {
                index.prefetch(ids, near as u64, 1);
            }
            let raw = targets[i];
            let slot = (raw ^ (raw >> 12)) as usize % RECENT;
            let node = match recent[slot] {
                (id, node) if id == raw => node,
                _ => {
                    let node = lookup(raw as u64);
                    recent[slot] = (raw, node);
                    node
                }
            };
            if node == MISSING {
                missing.push((offset + i) as u32);
            }
            targets[i] = node;
        }
        missing
    };
    let resolve_wide = |out: &mut [u32], raw: &[u64], offset: usize| -> Vec<u32> {
        let mut missing = Vec::new();
        for (i, (t, &raw)) in out.iter_mut().zip(raw).enumerate() {
            *t = lookup(raw);
            if *t == MISSING {
                missing.push((offset + i) as u32);
            }
        }
        missing
    };
    // Two halves side by side; the positions to drop, in order.
    let in_halves = |out: &mut [u32], resolve: &(dyn Fn(&mut [u32], usize) -> Vec<u32> + Sync)| {
        let half = out.len() / 2;
        let (first, second) = out.split_at_mut(half);
        let (mut dropped, later) = std::thread::scope(|scope| {
            let early = scope.spawn(|| resolve(first, 0));
            let later = resolve(second, half);
            (early.join().expect("lookups do not panic"), later)
        });
        dropped.extend(later);
        dropped
    };
    let (out, dropped): (Vec<u32>, Vec<u32>) = match std::mem::take(&mut c.edges.targets) {
        U64Column::Narrow(mut v) => {
            let dropped = in_halves(&mut v, &resolve_all);
            (v, dropped)
        }
        U64Column::Wide(v) => {
            let mut out = vec![0u32; v.len()];
            let dropped = in_halves(&mut out, &|chunk, offset| {
                resolve_wide(chunk, &v[offset..offset + chunk.len()], offset)
            });
            (out, dropped)
        }
    };
    // Stable: late edges keep their order within a source.
    late.sort_by_key(|l| l.src);
    let late: Vec<(u32, EdgeKind, u32, u32)> = late
        .iter()
        .map(|l| (l.src, l.kind, l.name, lookup(l.target)))
        .collect();
    let edits = edge_edits(&c.nodes.first_edge, dropped, &late);
    let (targets, kinds, dangling) = compact_edges(
        &mut c.nodes.first_edge,
        out,
        std::mem::take(&mut c.edges.kinds),
        &edits.dropped,
        &late,
    );
    c.edges.kinds = kinds;
    // Same size and alignment: collected in place.
    let targets: Vec<NodeId> = targets.into_iter().map(NodeId).collect();
    (targets, dangling, edits)
}

/// The nodes with a `<class>` link: every instance and object array whose class has an object
/// in the dump. Kept as a rule of the graph (a bit a node) rather than an edge each: over a
/// third of the references of a Java heap (see `ClassLinks`). Primitive arrays have none (their
/// records name no class), nor do class objects.
fn class_links(c: &Collected) -> BitSet {
    let is_primitive_array_class = |k: u32| c.prim_classes.contains(&k);
    let mut linked = BitSet::new(c.nodes.kinds.len());
    for (u, (&kind, k)) in c.nodes.kinds.iter().zip(c.nodes.classes.iter()).enumerate() {
        if k == NONE || !matches!(kind, NodeKind::Object | NodeKind::Array) {
            continue;
        }
        let object = c.classes[k as usize].node;
        if object != NONE && object as usize != u && !is_primitive_array_class(k) {
            linked.insert(u);
        }
    }
    linked
}

/// The edits [`compact_edges`] makes, in old positions: the edges whose target is
/// [`MISSING`] go (`dropped`, ascending), each late edge goes in after its source's own.
fn edge_edits(
    first_edge: &[u32],
    dropped: Vec<u32>,
    late: &[(u32, EdgeKind, u32, u32)],
) -> EdgeEdits {
    EdgeEdits {
        dropped,
        inserted: late
            .iter()
            .filter(|l| l.3 != MISSING)
            .map(|&(src, kind, name, _)| (first_edge[src as usize + 1], kind, name))
            .collect(),
    }
}

/// A target no object has: the edge is dropped.
const MISSING: u32 = u32::MAX;

/// Drops the edges at `dropped` (ascending positions, whose targets are [`MISSING`]) and
/// inserts `late` edges (`(source, kind, name, target)`, sorted by source) after their
/// source's own, in place. Both are rare (hundreds of each among 67 M edges at 2 GB), so
/// the columns move a run at a time between them, each edge once: the runs that move down
/// front to back, then those that move up back to front, so that no run is written over
/// before it is read (the runs keep their order, so a run's new place never reaches below
/// the new place of one before it). Returns the columns and how many references count as
/// dangling.
fn compact_edges(
    first_edge: &mut [u32],
    mut targets: Vec<u32>,
    mut kinds: Vec<EdgeKind>,
    dropped: &[u32],
    late: &[(u32, EdgeKind, u32, u32)],
) -> (Vec<u32>, Vec<EdgeKind>, u64) {
    let all_late = late.len();
    let late: Vec<(u32, EdgeKind, u32, u32)> = late
        .iter()
        .copied()
        .filter(|&(.., target)| target != MISSING)
        .collect();
    let dangling = (dropped.len() + all_late - late.len()) as u64;
    let old = targets.len();
    // Runs of kept edges (old start, old end, new start), and where each late edge goes.
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut placed: Vec<usize> = Vec::with_capacity(late.len());
    let (mut at, mut write, mut next_drop, mut next_late) = (0usize, 0usize, 0usize, 0usize);
    loop {
        let drop_at = dropped.get(next_drop).map_or(old, |&d| d as usize);
        // A late edge goes in before the first edge after its source's own.
        let late_at = late
            .get(next_late)
            .map_or(usize::MAX, |l| first_edge[l.0 as usize + 1] as usize);
        let stop = drop_at.min(late_at).min(old);
        if stop > at {
            runs.push((at, stop, write));
            write += stop - at;
            at = stop;
        }
        if late_at <= drop_at && late_at != usize::MAX {
            placed.push(write);
            write += 1;
            next_late += 1;
        } else if drop_at < old {
            at = drop_at + 1;
            next_drop += 1;
        } else {
            break;
        }
    }
    let total = write;
    if total > old {
        targets.resize(total, MISSING);
        kinds.resize(total, EdgeKind::Internal);
    }
    let mut move_run = |&(start, end, to): &(usize, usize, usize)| {
        targets.copy_within(start..end, to);
        kinds.copy_within(start..end, to);
    };
    runs.iter().filter(|r| r.2 < r.0).for_each(&mut move_run);
    runs.iter()
        .rev()
        .filter(|r| r.2 > r.0)
        .for_each(&mut move_run);
    for (&slot, &(_, kind, _, target)) in placed.iter().zip(&late) {
        targets[slot] = target;
        kinds[slot] = kind;
    }
    targets.truncate(total);
    kinds.truncate(total);
    // Each node's edges start earlier by the drops before them, and later by the late
    // edges of the sources before it.
    if !dropped.is_empty() || !late.is_empty() {
        let (mut drops_before, mut late_before) = (0, 0);
        for (node, f) in first_edge.iter_mut().enumerate() {
            while drops_before < dropped.len() && (dropped[drops_before] as usize) < *f as usize {
                drops_before += 1;
            }
            while late_before < late.len() && (late[late_before].0 as usize) < node {
                late_before += 1;
            }
            *f = *f - drops_before as u32 + late_before as u32;
        }
    }
    (targets, kinds, dangling)
}

/// MAT's unaligned instance size S(C) of every class: the header for a root class, then
/// `align(S(super) + own fields, refsize)`.
fn class_instance_sizes(c: &Collected, header: u64, refsize: u64) -> Vec<u64> {
    const UNKNOWN: u64 = u64::MAX;
    let id = c.id_size;
    let mut sizes = vec![UNKNOWN; c.classes.len()];
    let mut chain: Vec<usize> = Vec::new();
    for start in 0..c.classes.len() {
        chain.clear();
        let mut k = start;
        let mut base = header;
        loop {
            if sizes[k] != UNKNOWN {
                base = sizes[k];
                break;
            }
            chain.push(k);
            let def = &c.classes[k];
            if def.super_id == 0 {
                break;
            }
            match c.class_by_id.get(&def.super_id) {
                // A cycle of superclasses (corrupt input) ends the walk.
                Some(&s) if !chain.contains(&(s as usize)) => k = s as usize,
                _ => break,
            }
        }
        for &k in chain.iter().rev() {
            let own: u64 = c.classes[k]
                .fields
                .iter()
                .map(|&(_, t)| {
                    if t == T_OBJECT {
                        refsize
                    } else {
                        type_size(t, id).unwrap_or(0) as u64
                    }
                })
                .sum();
            base = align(base + own, refsize);
            sizes[k] = base;
        }
    }
    sizes
}

/// Names each thread from its `Thread.name` (a `String`, or a `char[]` on old JDKs).
fn name_threads(
    c: &Collected,
    strings: &StringTable,
    edges: &EdgeColumns,
    threads: &[ThreadRoot],
) -> Vec<JavaThread> {
    let find = |node: u32, name: &str| -> Option<NodeId> {
        edges
            .of(node as usize)
            .find(|&e| {
                edges.kinds[e] == EdgeKind::Property
                    && strings.get(StrId(edges.names.get(e))) == name
            })
            .map(|e| edges.targets[e])
    };
    let contents = |node: NodeId| c.short.contents(node.0);
    threads
        .iter()
        .map(|t| {
            let from_object = t.node.and_then(|node| {
                let name = find(node, "name")?;
                if c.nodes.kinds[name.index()] == NodeKind::Array {
                    let (bytes, elem) = contents(name)?;
                    return Some(decode_string_value(bytes, elem == T_CHAR, false));
                }
                let value = find(name.0, "value")?;
                let (bytes, elem) = contents(value)?;
                let wide = c.utf16.binary_search(&name.0).is_ok();
                Some(decode_string_value(bytes, elem == T_CHAR, wide))
            });
            let name = from_object.or_else(|| {
                let sym = *c.thread_names.get(&t.serial)?;
                let mut s = String::new();
                push_modified_utf8(c.symbols.get(sym)?, &mut s);
                Some(s)
            });
            let frames = c
                .traces
                .get(&t.trace)
                .map(|trace| {
                    trace
                        .frames
                        .iter()
                        .map(|&f| frame_text(c, f).unwrap_or_else(|| "?".into()))
                        .collect()
                })
                .unwrap_or_default();
            JavaThread {
                serial: t.serial,
                node: t.node.map(NodeId),
                name,
                group: NodeId(0),
                frames,
            }
        })
        .collect()
}

/// What MAT's shallow-size rules (formats.md 2.9) need to know about the dump.
struct SizeRules {
    pointer: u64,
    refsize: u64,
    header: u64,
    alignment: u64,
    class_instance_size: bool,
    java_lang_class: u32,
}

/// Shallow sizes by MAT's rules, and how many objects are of classes never dumped.
fn shallow_sizes(
    c: &Collected,
    raw: U64Column,
    node_classes: &ClassColumn,
    class_objects: &BitSet,
    rules: &SizeRules,
) -> (U64Column, u64) {
    let &SizeRules {
        pointer,
        refsize,
        header,
        alignment,
        class_instance_size,
        java_lang_class,
    } = rules;
    let id = c.id_size;
    let n = node_classes.len();
    let instance_sizes = class_instance_sizes(c, header, refsize);
    let mut elem_size: Vec<u8> = vec![0; c.classes.len()];
    for t in 4..=11u8 {
        let k = c.prim_classes[t as usize];
        if k != NONE {
            elem_size[k as usize] = type_size(t, id).unwrap_or(0) as u8;
        }
    }
    let class_instance = if class_instance_size {
        instance_sizes
            .get(java_lang_class as usize)
            .copied()
            .unwrap_or(header)
    } else {
        0
    };
    debug_assert_eq!(raw.len(), n);
    // In place: each size replaces the count it is made from.
    let mut self_sizes = raw;
    let mut undefined_instances = 0u64;
    for (v, k) in node_classes.iter().enumerate() {
        let k = k as usize;
        let raw = self_sizes.get(v);
        let size = match c.nodes.kinds[v] {
            // Class objects: their static fields, below.
            _ if class_objects.contains(v) => 0,
            NodeKind::Array => match elem_size.get(k).copied().unwrap_or(0) {
                0 => align(pointer + refsize + 4 + raw * refsize, alignment),
                e => align(
                    align(pointer + refsize + 4, refsize) + raw * e as u64,
                    alignment,
                ),
            },
            _ => match c.classes.get(k) {
                Some(def) if def.node != NONE => align(instance_sizes[k], alignment),
                _ => {
                    undefined_instances += 1;
                    align(header + raw, alignment)
                }
            },
        };
        self_sizes.set(v, size);
    }
    for def in &c.classes {
        if def.node != NONE {
            let statics = def.static_prim_bytes + def.static_refs as u64 * refsize;
            self_sizes.set(
                def.node as usize,
                align(class_instance + statics, alignment),
            );
        }
    }
    (self_sizes, undefined_instances)
}

/// Names each `java.lang.String` by its text, where the dump's `value` array is short enough
/// for its contents to have been kept; returns the nodes named and their names. They become
/// string nodes: reports, paths and the duplicate-string finder then see Java strings as they
/// see V8's.
fn name_strings(
    c: &Collected,
    strings: &mut StringTable,
    classes: &[ClassInfo],
    node_classes: &ClassColumn,
    edges: &EdgeColumns,
) -> Vec<(u32, StrId)> {
    let Some(string_class) = classes
        .iter()
        .position(|k| strings.get(k.name) == "java.lang.String")
    else {
        return Vec::new();
    };
    let value_key = (0..strings.len() as u32).find(|&s| strings.get(StrId(s)) == "value");
    let Some(value_key) = value_key else {
        return Vec::new();
    };
    // Interned by text in a table of ids that compares the text the string table already
    // holds: 9 bytes a distinct String instead of a key of its own (a map keyed by
    // byte slices took 100 MiB more at 2 GB). Latin-1 contents that are ASCII, nearly all
    // of them, are their own UTF-8 and need no copy.
    // Each entry keeps 32 bits of its text's hash, so growing the table and probing it
    // read no text but the one a probe matches.
    let hash = |text: &[u8]| FxBuildHasher.hash_one(text) as u32;
    let spread = |h: u32| (h as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut interned: HashTable<(u32, StrId)> = HashTable::new();
    let mut scratch = String::new();
    let mut named = Vec::new();
    for (v, class) in node_classes.iter().enumerate() {
        if class as usize != string_class || c.nodes.kinds[v] != NodeKind::Object {
            continue;
        }
        let value = edges
            .of(v)
            .find(|&e| edges.kinds[e] == EdgeKind::Property && edges.names.get(e) == value_key)
            .map(|e| edges.targets[e]);
        let Some((bytes, elem)) = value.and_then(|a| c.short.contents(a.0)) else {
            continue;
        };
        let wide = elem == T_CHAR || c.utf16.binary_search(&(v as u32)).is_ok();
        let text: &[u8] = if !wide && bytes.is_ascii() {
            bytes
        } else {
            scratch = if wide {
                decode_string_value(bytes, elem == T_CHAR, true)
            } else {
                let mut s = std::mem::take(&mut scratch);
                s.clear();
                push_latin1(bytes, &mut s);
                s
            };
            scratch.as_bytes()
        };
        let h = hash(text);
        let found = interned.find(spread(h), |&(other, id)| {
            other == h && strings.get(id).as_bytes() == text
        });
        let id = match found {
            Some(&(_, id)) => id,
            None => {
                let id = if std::ptr::eq(text, bytes) {
                    strings.push_with(|out| push_latin1(bytes, out))
                } else {
                    strings.push(&scratch)
                };
                interned.insert_unique(spread(h), (h, id), |&(h, _)| spread(h));
                id
            }
        };
        named.push((v as u32, id));
    }
    named
}

/// Appends the synthetic root, one group per thread and one per other root kind. Returns
/// how many roots named no object.
/// `root_nodes[i]`: the node `roots[i]` names, if the dump holds it.
fn add_roots(
    parts: &mut GraphParts,
    roots: &[Root],
    root_nodes: &[Option<u32>],
    threads: &mut [JavaThread],
    roots_class: ClassId,
) -> u64 {
    let n = parts.node_kinds.len();
    let mut dangling = 0u64;
    let mut groups: Vec<(String, Vec<NodeId>, EdgeKind)> = Vec::new();
    let mut thread_group_positions = Vec::new();
    for t in threads.iter() {
        let name = match &t.name {
            Some(name) => format!("Thread {name:?}"),
            None => format!("Thread #{}", t.serial),
        };
        thread_group_positions.push(groups.len());
        groups.push((name, t.node.into_iter().collect(), EdgeKind::Internal));
    }
    for tag in GROUP_ORDER {
        let mut members = Vec::new();
        for (r, node) in roots.iter().zip(root_nodes).filter(|(r, _)| r.tag == tag) {
            match *node {
                Some(node) => members.push(NodeId(node)),
                None if r.obj != 0 => dangling += 1,
                None => {}
            }
        }
        if !members.is_empty() {
            let kind = if tag == UNREACHABLE {
                EdgeKind::Weak
            } else {
                EdgeKind::Element
            };
            groups.push((root_group_name(tag).to_string(), members, kind));
        }
    }

    let thread_key = parts.strings.push("<thread>");
    let root = NodeId(n as u32);
    let root_name = parts.strings.push("");
    let push_node = |parts: &mut GraphParts, name: StrId| {
        parts.node_kinds.push(NodeKind::Synthetic);
        parts.node_names.push(name.0);
        parts.node_ids.push(0);
        parts.self_sizes.push(0);
        parts.node_classes.push(roots_class.0);
    };
    // The root: an edge to each group (groups are numbered after the root).
    push_node(parts, root_name);
    for g in 0..groups.len() {
        parts.edge_kinds.push(EdgeKind::Element);
        parts.edge_names.push(g as u32);
        parts.edge_targets.push(NodeId((n + 1 + g) as u32));
    }
    parts.first_edge.push(parts.edge_kinds.len() as u32);
    let mut user_roots = Vec::new();
    for (g, (name, members, kind)) in groups.iter().enumerate() {
        let name_id = parts.strings.push(name);
        push_node(parts, name_id);
        let is_thread = thread_group_positions.contains(&g);
        if is_thread {
            user_roots.push(NodeId((n + 1 + g) as u32));
        }
        if let Some(t) = thread_group_positions.iter().position(|&p| p == g) {
            threads[t].group = NodeId((n + 1 + g) as u32);
        }
        for (i, &m) in members.iter().enumerate() {
            parts.edge_kinds.push(*kind);
            parts
                .edge_names
                .push(if is_thread { thread_key.0 } else { i as u32 });
            parts.edge_targets.push(m);
        }
        parts.first_edge.push(parts.edge_kinds.len() as u32);
    }
    parts.root = root;
    parts.user_roots = user_roots;
    dangling
}

/// Releases spare capacity.
fn shrink(p: &mut GraphParts) {
    p.node_kinds.shrink_to_fit();
    p.node_names.shrink_to_fit();
    p.node_ids.shrink_to_fit();
    p.self_sizes.shrink_to_fit();
    p.node_classes.shrink_to_fit();
    p.first_edge.shrink_to_fit();
    p.edge_kinds.shrink_to_fit();
    p.edge_names.shrink_to_fit();
    p.edge_targets.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u32 = MISSING;

    /// The columns rebuilt edge by edge into new vectors: what the in-place pass must equal.
    fn copy_compacted(
        first_edge: &[u32],
        targets: &[u32],
        kinds: &[EdgeKind],
        names: &[u32],
        late: &[(u32, EdgeKind, u32, u32)],
    ) -> (Vec<u32>, Vec<u32>, Vec<EdgeKind>, Vec<u32>, u64) {
        let (mut f, mut t, mut k, mut nm, mut dangling) = (vec![0], vec![], vec![], vec![], 0);
        for node in 0..first_edge.len() - 1 {
            let own = (first_edge[node]..first_edge[node + 1])
                .map(|e| e as usize)
                .map(|e| (targets[e], kinds[e], names[e]));
            let extra = late
                .iter()
                .filter(|l| l.0 as usize == node)
                .map(|l| (l.3, l.1, l.2));
            for (target, kind, name) in own.chain(extra) {
                if target == M {
                    dangling += 1;
                } else {
                    t.push(target);
                    k.push(kind);
                    nm.push(name);
                }
            }
            f.push(t.len() as u32);
        }
        (f, t, k, nm, dangling)
    }

    /// `compact_edges` on targets and kinds, the same edits on the names packed.
    fn compact_all(
        first_edge: &mut [u32],
        targets: Vec<u32>,
        kinds: Vec<EdgeKind>,
        names: Vec<u32>,
        late: &[(u32, EdgeKind, u32, u32)],
    ) -> (Vec<u32>, Vec<EdgeKind>, Vec<u32>, u64) {
        let dropped = (0..targets.len() as u32)
            .filter(|&e| targets[e as usize] == MISSING)
            .collect();
        let edits = edge_edits(first_edge, dropped, late);
        let inserted: Vec<(u32, u32)> = edits.inserted.iter().map(|&(at, _, n)| (at, n)).collect();
        let names = NameColumn::from(names)
            .pack()
            .edited(&edits.dropped, &inserted);
        let (t, k, dangling) = compact_edges(first_edge, targets, kinds, &edits.dropped, late);
        let nm = (0..names.len()).map(|i| names.get(i)).collect();
        (t, k, nm, dangling)
    }

    #[test]
    fn compaction_drops_missing_and_inserts_late_edges_in_place() {
        let p = EdgeKind::Property;
        let i = EdgeKind::Internal;
        // Node 0: two edges, one missing; node 1: none; node 2: three; node 3: a missing
        // edge and one more.
        let first_edge = vec![0, 2, 2, 5, 7];
        let targets = vec![10, M, 11, 12, 13, M, 14];
        let kinds = vec![p, p, p, p, p, i, p];
        let names = vec![1, 2, 3, 4, 5, 7, 6];
        // More late edges early than dropped ones, so writes overtake reads.
        let cases: Vec<Vec<(u32, EdgeKind, u32, u32)>> = vec![
            vec![],
            vec![(0, i, 9, 20), (0, i, 9, 21), (0, i, 9, 22), (1, i, 9, 23)],
            vec![(1, i, 9, 23), (2, i, 9, M), (3, i, 9, 24)],
            vec![(3, i, 9, 25)],
        ];
        for late in cases {
            let expected = copy_compacted(&first_edge, &targets, &kinds, &names, &late);
            let mut f = first_edge.clone();
            let (t, k, nm, dangling) =
                compact_all(&mut f, targets.clone(), kinds.clone(), names.clone(), &late);
            assert_eq!((f, t, k, nm, dangling), expected, "late edges {late:?}");
        }
        // Nothing dropped, late edges on the last node: writes run past the old columns.
        let late = vec![(0, i, 9, 30), (1, i, 9, 31), (1, i, 9, 32)];
        let expected = copy_compacted(&[0, 1, 2], &[5, 6], &[p, p], &[1, 2], &late);
        let mut f = vec![0, 1, 2];
        let got = compact_all(&mut f, vec![5, 6], vec![p, p], vec![1, 2], &late);
        assert_eq!((f, got.0, got.1, got.2, got.3), expected);
    }

    #[test]
    fn compaction_equals_the_rebuilt_columns_on_random_graphs() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let (p, i) = (EdgeKind::Property, EdgeKind::Internal);
        for round in 0..500 {
            let n = 1 + next(12) as usize;
            let mut first_edge = vec![0u32];
            for _ in 0..n {
                let last = *first_edge.last().unwrap();
                first_edge.push(last + next(4) as u32);
            }
            let e = first_edge[n] as usize;
            let targets: Vec<u32> = (0..e)
                .map(|_| if next(4) == 0 { M } else { next(100) as u32 })
                .collect();
            let kinds: Vec<EdgeKind> = (0..e).map(|_| if next(3) == 0 { i } else { p }).collect();
            let names: Vec<u32> = (0..e).map(|_| next(3) as u32).collect();
            let mut late: Vec<(u32, EdgeKind, u32, u32)> = (0..next(6))
                .map(|_| {
                    let target = if next(5) == 0 {
                        M
                    } else {
                        200 + next(50) as u32
                    };
                    (next(n as u64) as u32, i, next(3) as u32, target)
                })
                .collect();
            late.sort_by_key(|l| l.0);
            let expected = copy_compacted(&first_edge, &targets, &kinds, &names, &late);
            let mut f = first_edge.clone();
            let (t, k, nm, dangling) = compact_all(&mut f, targets, kinds, names, &late);
            assert_eq!((f, t, k, nm, dangling), expected, "round {round}");
        }
    }
}
